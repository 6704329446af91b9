"""The workflow's config schema and environment files, checked without running Snakemake."""
import copy
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _validate(config):
    from snakemake.utils import validate

    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def _default():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_config_is_valid_and_defaults_fill_in():
    config = _default()
    del config["s2"]["sigma"]
    assert _validate(config)["s2"]["sigma"] == 0.1


def test_unknown_key_is_named():
    from snakemake.exceptions import WorkflowError

    config = _default()
    config["s2"]["sigmaa"] = 0.2
    with pytest.raises(WorkflowError, match="sigmaa"):
        _validate(config)


def test_wrong_type_is_named():
    from snakemake.exceptions import WorkflowError

    config = _default()
    config["scales"]["quick"]["s2"]["iterations"] = "many"
    with pytest.raises(WorkflowError, match="iterations|many"):
        _validate(config)
    config = _default()
    config["scale"] = "huge"
    with pytest.raises(WorkflowError, match="huge"):
        _validate(config)


@pytest.mark.parametrize("v", [0.0, -0.1, 0.6])
def test_saturated_fractions_outside_zero_to_one_half_are_rejected(v):
    from snakemake.exceptions import WorkflowError

    for where in ("music", "figure5", "toy"):
        config = _default()
        if where == "music":
            config["s4"]["music"]["fractions"] = [0.05, v]
        elif where == "figure5":
            config["scales"]["quick"]["s4"]["saturated_fractions"] = [v]
        else:
            config["s4"]["toy"]["v"] = v
        with pytest.raises(WorkflowError, match=str(v)):
            _validate(config)


def test_paper_scale_matches_the_paper():
    paper = _default()["scales"]["paper"]["s2"]
    assert paper["iterations"] == 2000 and paper["clips"] == 50
    assert (paper["n_fft"] // 2 + 1, paper["frames"]) == (512, 256)
    assert (paper["speech_frames"] - 1) * paper["hop"] / 16000 == pytest.approx(2.0, abs=0.05)  # 511 hops of 64 = 2.04 s
    assert paper["widths"] == [35, 70, 140]


def _pyproject_deps():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # the workflow reads real SAR scenes (sar) and MUSDB18 stems (music) too
    deps = project["dependencies"] + project["optional-dependencies"]["sar"] + project["optional-dependencies"]["music"]
    return {re.split(r"[<>=!~ \[]", d)[0].lower().replace("_", "-") for d in deps}


@pytest.mark.parametrize("env_file", [ROOT / "environment.yml", *sorted((ROOT / "workflow" / "envs").glob("*.yaml"))])
def test_conda_env_files_cover_the_package(env_file):
    env = yaml.safe_load(env_file.read_text())
    assert "conda-forge" in env["channels"]
    names = set()
    pip_lines = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines += dep["pip"]
        else:
            names.add(re.split(r"[<>=!~ ]", dep)[0].lower())
    names |= {re.split(r"[<>=!~ ]", p)[0].lower().replace("_", "-") for p in pip_lines if not p.startswith("-")}
    aliases = {"pysoundfile": "soundfile", "matplotlib-base": "matplotlib"}
    names = {aliases.get(n, n) for n in names}
    missing = _pyproject_deps() - names
    assert not missing, f"{env_file.name} lacks {missing}"
    # the package itself is installed from the checkout, so `restorebench` exists inside the env
    editable = [p for p in pip_lines if p.startswith("-e ")]
    assert editable, f"{env_file.name} does not install the package"
    target = (env_file.parent / editable[0][3:]).resolve()
    assert (target / "pyproject.toml").exists()
