"""The benchmark commands run and report every figure they promise (speeds are printed, not asserted)."""
import json

import pytest
import torch

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


def test_bench_gpu_counts_flops_and_saved_activations_exactly_on_the_meta_device():
    """A linear layer y = W x + b on a 2 x 8 batch, loss mean(y^2): forward 2*2*8*4 = 128 FLOPs, backward only
    the weight's gradient (the input needs none) 128 more; autograd keeps x (2 x 8) and y (2 x 4), not W."""
    import torch

    from restorebench.bench_gpu import PaperStep, _mean_square, meta_estimate

    step = PaperStep("X", "linear", "2 x 8", lambda: torch.nn.Linear(8, 4),
                     lambda device, dtype: (torch.randn(2, 8, device=device, dtype=dtype),), _mean_square, 1, 1, "")
    assert meta_estimate(step, torch.float32) == {"parameters": 36, "flops": 256, "activation_bytes": (16 + 8) * 4}
    # bf16: x in 2 bytes, y cast to fp32 for the loss
    assert meta_estimate(step, torch.bfloat16)["activation_bytes"] == 16 * 2 + 8 * 4


def test_bench_gpu_costs_every_paper_network_and_says_when_it_did_not_time_them(tmp_path, capsys):
    import torch

    out = tmp_path / "gpu.json"
    assert main(["bench", "gpu", "--studies", "S1,S4", "--output", str(out), "--markdown", str(tmp_path / "gpu.md")]) == 0
    rows = json.loads(out.read_text())["gpu"]
    assert [r["network"] for r in rows] == ["difnet", "pisnet", "declipper, music (L_MC + L_EQ)",
                                            "declipper, Figure 5 (L_MC + L_EQ)"]
    difnet = rows[0]
    assert difnet["parameters_M"] * 1e6 == 3_336_767 and difnet["step"] == "4 x 1 x 128 x 512"
    assert difnet["steps_per_training"] == 100 * 200 * 32 // 4 and difnet["trainings"] == 8
    assert 0 < difnet["activations_bf16_gib"] < difnet["activations_fp32_gib"]
    printed = capsys.readouterr().out
    if not torch.cuda.is_available():
        assert "not timed: no CUDA device here" in printed and "step_s_fp32" not in difnet
    import re
    assert re.search(r"\| S1 +\| difnet +\| 4 x 1 x 128 x 512 +\| +3\.337 \|", (tmp_path / "gpu.md").read_text())


def test_the_batched_fit_benchmark_counts_every_fits_iterations():
    from restorebench.bench_gpu import batched_fit_rates

    r = batched_fit_rates("conv", 62, 16, 16, fits=2, iterations=6, device=torch.device("cpu"))
    assert r["fits"] == 2 and r["geometry"] == "32 x 16"
    assert r["fit_iterations_per_s_one_by_one"] > 0 and r["fit_iterations_per_s_batched"] > 0
    assert r["speedup"] == pytest.approx(r["fit_iterations_per_s_batched"] / r["fit_iterations_per_s_one_by_one"])
