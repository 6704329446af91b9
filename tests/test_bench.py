"""The benchmark commands run and report every figure they promise (speeds are printed, not asserted)."""
import json

from restorebench.cli import main


def test_bench_dip_reports_both_loops(tmp_path, capsys):
    out = tmp_path / "dip.json"
    assert main(["bench", "dip", "--iterations", "1", "--priors", "conv,exp-dense", "--bins", "64",
                 "--frames", "32", "--layout-priors", "", "--output", str(out), "--markdown", str(tmp_path / "dip.md")]) == 0
    rows = json.loads(out.read_text())["speed"]
    assert [r["prior"] for r in rows] == ["conv", "exp-dense"]
    assert all(r["suite_it_per_s"] > 0 and r["reference_it_per_s"] > 0 for r in rows)
    assert rows[1]["speedup"] == rows[1]["suite_it_per_s"] / rows[1]["reference_it_per_s"]
    assert "target: exp-dense suite loop" in capsys.readouterr().out
    md = (tmp_path / "dip.md").read_text()
    assert "| exp-dense |" in md and f"{rows[1]['speedup']:.3f}" in md and "torch" in md


def test_bench_sar_reports_throughput_and_networks(tmp_path, capsys):
    out = tmp_path / "sar.json"
    assert main(["bench", "sar", "--sar-size", "512", "--net-size", "128", "--net-iterations", "1",
                 "--output", str(out)]) == 0
    rows = json.loads(out.read_text())["sar"]
    steps = [r["step"] for r in rows]
    assert steps[:3] == ["bare fft2+ifft2 pair (scipy.fft, all cores)", "focus (range-Doppler)",
                         "simulate echoes (inverse chain)"]
    assert {"difnet training", "difnet inference", "pisnet training", "pisnet inference"} <= set(steps)
    assert next(r for r in rows if r["step"] == "difnet training")["parameters"] == 3_336_767
    assert "target: focusing and simulation" in capsys.readouterr().out


def test_bench_merlin_times_the_reference_and_the_suite_step(tmp_path, capsys):
    out = tmp_path / "merlin.json"
    md = tmp_path / "merlin.md"
    assert main(["bench", "merlin", "--merlin-batch", "1", "--merlin-size", "32", "--net-iterations", "1",
                 "--output", str(out), "--markdown", str(md)]) == 0
    rows = json.loads(out.read_text())["merlin"]
    assert [r["step"] for r in rows] == ["reference (authors' step)", "suite: MERLIN", "suite: MERLIN-multitask (S+R+D)"]
    assert rows[0]["parameters"] == rows[1]["parameters"] == 988_609     # the same network on both sides
    assert rows[0]["relative_to_reference"] == 1.0 and all(r["steps_per_s"] > 0 for r in rows)
    assert "target: suite MERLIN step" in capsys.readouterr().out and "bench merlin" in md.read_text()


def test_bench_declip_reports_training_inference_and_aspade(tmp_path, capsys):
    out = tmp_path / "declip.json"
    assert main(["bench", "declip", "--declip-batch", "2", "--declip-segment", "1024", "--declip-seconds", "0.5",
                 "--net-iterations", "1", "--output", str(out)]) == 0
    rows = json.loads(out.read_text())["declip"]
    assert [r["what"] for r in rows] == ["training, mc-eq", "training, supervised", "inference"] * 2 + ["A-SPADE"]
    assert all(r.get("samples_per_s", 1) > 0 and r.get("seconds_per_minute_of_audio", 1) > 0 for r in rows)
    assert "A-SPADE" in capsys.readouterr().out


def test_layout_sweep_times_default_and_plain_paths_per_geometry(monkeypatch, tmp_path):
    import types

    import restorebench.bench as bench

    monkeypatch.setenv("RESTOREBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(bench, "LAYOUT_GEOMETRIES", (("small", 62, 16, 32, (4, 8, 16)),
                                                     ("smaller", 62, 16, 16, (4, 8, 16))))
    args = types.SimpleNamespace(layout_priors="conv", layout_iterations=1)
    rows = bench.layout_sweep(args, bench.resolve_device("cpu"))
    assert [r["geometry"] for r in rows] == ["small", "smaller"]
    for r in rows:
        assert r["default_s_per_it"] > 0 and r["plain_s_per_it"] > 0
        assert r["plain_over_default"] == r["plain_s_per_it"] / r["default_s_per_it"]
        assert r["layout"] in ("channels-last", "contiguous")
