"""The method registry: one declaration drives CLI choices, lookups and labels; plugins register from outside."""
import subprocess
import sys
from pathlib import Path

import pytest

from restorebench import registry
from restorebench.cli import build_parser
from restorebench.registry import Method


def test_built_in_methods_and_their_parameters():
    assert registry.names("S2", "prior")[:4] == ("conv", "dilated", "exp", "exp-dense")
    assert registry.names("S1", "rfi")[:4] == ("interfered", "notch", "pisnet", "difnet")
    assert registry.get("S1", "rfi", "difnet").params == {"channels": 16, "window": 8, "levels": 4}
    assert registry.get("S1", "rfi", "difnet").trained and not registry.get("S1", "rfi", "notch").trained
    assert registry.label("S2", "prior", "exp-dense") == "Dilated Conv. (exp) + Dense"
    assert registry.label("S2", "prior", "unknown-old-row") == "unknown-old-row"
    net = registry.get("S2", "prior", "exp-dense").build(in_channels=2, out_channels=2, widths=(35, 70, 140))
    assert sum(p.numel() for p in net.parameters()) == 1_092_912        # the public code's dense prior


def test_cli_defaults_and_choices_come_from_the_registry():
    parser = build_parser()
    args = parser.parse_args(["s1-evaluate", "--split-file", "x", "--method", "notch", "--output", "y"])
    notch = registry.get("S1", "rfi", "notch").params
    assert (args.cfar_guard, args.cfar_train, args.cfar_pfa, args.cfar_axes) == (
        notch["guard"], notch["train"], notch["pfa"], notch["axes"])
    with pytest.raises(SystemExit):
        parser.parse_args(["fit-prior", "--observations", "o", "--prior", "nonesuch", "--output", "f"])


def test_register_lookup_and_errors():
    method = Method("unit-test-prior", "Unit test", "S2", "prior", build=lambda **kw: None)
    registry.register(method)
    try:
        assert registry.get("S2", "prior", "unit-test-prior") is method
        assert "unit-test-prior" in build_parser().parse_args(
            ["fit-prior", "--observations", "o", "--prior", "unit-test-prior", "--output", "f"]).prior
        with pytest.raises(ValueError, match="already registered"):
            registry.register(Method("unit-test-prior", "Other", "S2", "prior"))
    finally:
        del registry._REGISTRY[("S2", "prior")]["unit-test-prior"]
    with pytest.raises(ValueError, match="unknown S2 prior 'unit-test-prior'; registered: conv"):
        registry.get("S2", "prior", "unit-test-prior")
    with pytest.raises(ValueError, match="lower-case"):
        Method("Bad Name", "x", "S2", "prior")


def test_plugin_named_in_the_environment_reaches_the_cli(tmp_path):
    (tmp_path / "my_plugin.py").write_text(
        "from restorebench.registry import Method, register\n"
        "register(Method('from-plugin', 'From a plugin', 'S2', 'prior', build=lambda **kw: None))\n")
    exe = Path(sys.executable).parent / "restorebench"
    env = {"RESTOREBENCH_PLUGINS": "my_plugin", "PATH": str(Path(sys.executable).parent)}
    out = subprocess.run([str(exe), "fit-prior", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "from-plugin" in out.stdout
    env["RESTOREBENCH_PLUGINS"] = "no_such_module"
    out = subprocess.run([str(exe), "fit-prior", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "plugin module 'no_such_module'" in out.stderr
