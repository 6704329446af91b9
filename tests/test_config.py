"""The workflow's config schema and environment files, checked without running Snakemake."""
import copy
import re
from pathlib import Path

import pytest
import yaml
from conftest import workflow_rules

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


def _requirement(text, conda=False):
    """(normalised name, SpecifierSet) of a pip requirement or a conda match spec ("python=3.11")."""
    from packaging.specifiers import SpecifierSet

    text = text.split("#")[0].strip()
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", text).groups()
    spec = spec.replace(" ", "")
    if conda and re.fullmatch(r"=[^=<>!].*", spec):          # conda's "=1.2" means 1.2.*
        spec = "=" + spec + ("" if spec.endswith("*") else ".*")
    aliases = {"pysoundfile": "soundfile", "matplotlib-base": "matplotlib", "snakemake-minimal": "snakemake"}
    name = name.lower().replace("_", "-")
    return aliases.get(name, name), SpecifierSet(spec)


def _pyproject_deps(*extras):
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for e in extras for d in project["optional-dependencies"][e]]
    return dict(_requirement(d) for d in deps)


def _env_deps(env):
    deps, pip_lines = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines += dep["pip"]
        else:
            name, spec = _requirement(dep, conda=True)
            deps[name] = spec
    for line in pip_lines:
        if not line.startswith("-"):
            name, spec = _requirement(line)
            deps[name] = spec
    return deps, pip_lines


def _lowest(spec):
    """The lowest version a specifier set names (its >=, == or ~= bound)."""
    from packaging.version import Version

    bounds = [Version(s.version.rstrip(".*")) for s in spec if s.operator in (">=", "==", "~=")]
    return max(bounds) if bounds else None


def _compatible(env_spec, package_spec):
    """The env's version range lies inside the package's: its lowest version is allowed by the package,
    and an upper bound of the package's is matched by one of the env's (or an exact pin)."""
    low = _lowest(env_spec)
    if low is None:
        return not str(package_spec)
    if not package_spec.contains(low, prereleases=True):
        return False
    package_upper = [s for s in package_spec if s.operator == "<"]
    env_exact = any(s.operator == "==" for s in env_spec)
    return env_exact or all(any(e.operator == "<" and e.version <= p.version for e in env_spec) for p in package_upper)


# the workflow reads real SAR scenes (sar) and MUSDB18 stems (music) too
ENV_EXTRAS = ("sar", "music")


@pytest.mark.parametrize("env_file", [ROOT / "environment.yml", *sorted((ROOT / "workflow" / "envs").glob("*.yaml"))])
def test_conda_env_files_name_every_package_dependency_with_a_compatible_version(env_file):
    env = yaml.safe_load(env_file.read_text())
    assert "conda-forge" in env["channels"]
    deps, pip_lines = _env_deps(env)
    for name, spec in _pyproject_deps(*ENV_EXTRAS).items():
        assert name in deps, f"{env_file.name} lacks {name}"
        assert _compatible(deps[name], spec), f"{env_file.name}: {name}{deps[name]} does not fit the package's {name}{spec}"
    if env_file.name == "environment.yml":
        # for people: the package from this checkout (conda runs pip from the env file's folder) and Snakemake
        assert "-e ." in pip_lines
        assert {"snakemake", "snakemake-executor-plugin-slurm"} <= set(deps)
    else:
        # for Snakemake's --use-conda: no relative path (the file is copied before use); the post-deploy
        # script next to it installs the checkout
        assert not [p for p in pip_lines if p.startswith("-e")], env_file.name
        deploy = env_file.with_suffix(".post-deploy.sh").read_text()
        assert "pip install --no-deps -e ." in deploy


def test_the_compatibility_check_rejects_a_wrong_range():
    package = _pyproject_deps()
    assert _compatible(_requirement("numpy>=1.26")[1], package["numpy"])
    assert not _compatible(_requirement("numpy>=1.20")[1], package["numpy"])
    assert not _compatible(_requirement("torch>=2.3")[1], package["torch"])          # no <3 bound
    assert _compatible(_requirement("torch>=2.4,<3")[1], package["torch"])
    assert not _compatible(_requirement("pesq=0.0.3", conda=True)[1], package["pesq"])


def test_every_rule_that_runs_package_code_has_the_conda_env():
    """Snakemake clears PYTHONPATH for conda jobs: a rule calling `restorebench` needs the env that has it."""
    calling = [(name, body) for name, body in workflow_rules().items() if re.search(r"[\"']restorebench ", body)]
    assert len(calling) >= 30
    for name, body in calling:
        assert 'conda:\n' in body and '"../envs/restorebench.yaml"' in body, name


def test_the_readme_without_make_path_installs_what_make_setup_installs():
    """The pip path of the README must give the workflow everything make setup gives it (the released
    MERLIN weights came only with the Makefile once, and the pip path failed at S3's released rows)."""
    import re

    root = Path(__file__).resolve().parents[1]
    makefile = (root / "Makefile").read_text()
    installed = re.findall(r'pip install --quiet (?:--no-deps |-e |--upgrade )?"?([^"\s]+)"?', makefile)
    assert {"$(TORCH_SPEC)", ".[test]", "deepdespeckling==0.8"} <= set(installed), installed
    readme = (root / "README.md").read_text()
    line = next(l for l in readme.splitlines() if l.startswith("Without make:"))
    for spec in installed:
        spec = spec.replace("$(TORCH_SPEC)", "torch==2.13.0")
        if spec == "pip":                 # pip upgrading itself
            continue
        assert spec in line, f"README's 'Without make' line lacks {spec} (make setup installs it)"
    assert "license-files" in (root / "pyproject.toml").read_text() and (root / "LICENSE").is_file()


def test_every_package_data_pattern_names_files_that_exist_and_every_data_file_is_listed():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["restorebench"]
    package = root / "src" / "restorebench"
    listed = set()
    for pattern in patterns:
        found = set(package.glob(pattern))
        assert found, f"package-data pattern {pattern!r} matches no file"
        listed |= found
    data_files = {p for p in package.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
                  and "__pycache__" not in p.parts}
    assert data_files <= listed, sorted(str(p.relative_to(package)) for p in data_files - listed)
