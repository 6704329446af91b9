"""End to end: the Snakemake workflow at `tiny` scale in a temporary copy of the repository."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow

from restorebench.report.verdicts import row_label

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _snakemake(cwd, *args, check=True):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1500)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    if not all(shutil.which(t) for t in ("espeak-ng", "text2wave", "fluidsynth")):
        pytest.skip("system tools missing (make setup)")
    work = tmp_path_factory.mktemp("workflow")
    copy_workflow(work)
    _snakemake(work, "--cores", "2", "--config", "scale=tiny", "-q")
    return work


def test_every_table_figure_and_page_exists_with_numbers(workdir):
    s2 = workdir / "results" / "s2"
    metrics = pd.read_csv(s2 / "metrics.csv")
    # 9 (task, dataset) pairs: input rows + 33 fits x 3 stopping rules
    assert set(metrics["task"]) == {"gaussian", "environmental", "inpainting", "separation"}
    assert set(metrics["dataset"]) >= {"tts-speech", "tts-digits", "sf-piano"}
    assert set(metrics["stopping"]) == {"none", "final", "es", "dp-known", "dp-blind", "oracle"}
    assert metrics["value"].notna().all()
    fits = metrics[metrics["stopping"] != "none"].drop_duplicates(["task", "dataset", "method", "item"])
    assert len(fits) == 39   # Tables 1-4: 15 + 9 + 10 + 5 fits (five priors, three in Table 2)
    for n in (1, 2, 3, 4):
        table = pd.read_csv(s2 / "tables" / f"table{n}.csv")
        ours = table[table["method"] != "input"]
        assert ours["mean"].notna().all(), f"table {n} has empty cells"
        assert ours["paper_mean"].notna().sum() > 0
        md = (s2 / "tables" / f"table{n}.md").read_text()
        assert "(paper, n=50)" in md and "oracle-stopped" in md and "tiny" in md and "(n=1)" in md
    for fig in ("figure2_convergence", "example_gaussian", "example_environmental", "example_inpainting",
                "example_separation"):
        png = s2 / "figures" / f"{fig}.png"
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    claims = (s2 / "claims.md").read_text()
    for claim in ("A1", "A2", "A3", "A4", "A1ᶠ", "A1ᵘ"):
        assert f"| {claim} |" in claims
    # one clip per cell at tiny scale: no exact test can be significant, every verdict says so
    verdicts = pd.read_csv(s2 / "verdicts.csv")
    assert set(verdicts["verdict"]) == {"inconclusive"} and set(verdicts["scale"]) == {"tiny"}
    a1 = verdicts[verdicts["claim"] == "A1"]
    assert len(a1) == 22 and set(a1["n"]) == {1} and (a1["p"] >= 0.5).all()    # one clip: p is 1/2 at best
    assert (a1["min_p"] == 0.5).all() and set(a1["unit"]) == {"item"}
    # A4 against the harmonic prior: iterations over one clip of each of 3 datasets, the gain per dataset
    assert sorted(verdicts[verdicts["claim"] == "A4"]["n"]) == [1, 1, 1, 3]
    # tiny's 128 x 64 spectrogram with the paper's dilations: the exponential schedule's bottleneck is a 1 x 1
    # convolution, so no claim comparing a dilated prior is a verdict; the geometry table says which layers
    geometry = pd.read_csv(s2 / "tables" / "geometry.csv")
    bottleneck = geometry[(geometry["prior"] == "exp") & (geometry["block"] == "bottleneck") & (geometry["conv"] == 2)]
    assert len(bottleneck) == 1 and bottleneck["share"].iloc[0] == pytest.approx(1 / 9)
    assert not geometry[geometry["prior"] == "conv"]["degenerate"].any()
    assert "1 of 10 layers" not in (s2 / "tables" / "geometry.md").read_text()
    flags = verdicts.drop_duplicates("claim").set_index("claim")["claim_training_flag"]
    assert all(flags[c].startswith("not a verdict: Dilated Conv. (exp)") for c in ("A1", "A3", "A2ᶠ"))
    assert "bottleneck conv 2, d 32 on 32×16: 11 % of its taps inside, against the paper's 56 %" in flags["A1"]
    assert "not a verdict: Dilated Conv. (exp) + Dense: 9 degenerate layers at this geometry" in claims
    # the public code's learning-rate schedule, scaled to tiny's 12 iterations; whether each prior peaked
    assert "×0.1 every 3 iterations as the public code" in (s2 / "tables" / "table1.md").read_text()
    peaks = pd.read_csv(s2 / "tables" / "peaks.csv")
    assert set(peaks["task"]) == {"gaussian", "environmental", "inpainting", "separation"}
    assert (peaks["budget"] == 12).all() and peaks["late"].le(peaks["fits"]).all()
    assert "too few units" in claims and "Population: " in claims
    html = (s2 / "claims.html").read_text()
    assert "inconclusive" in html and "A4" in html
    assert (s2 / "figures" / "claims_effects.png").read_bytes()[:4] == b"\x89PNG"
    readme = (workdir / "results" / "README.md").read_text()
    assert "claims" in readme and "table1.md" in readme


def test_sar_study_tables_figures_and_claims(workdir):
    s1 = workdir / "results" / "s1"
    metrics = pd.read_csv(s1 / "metrics.csv")
    assert set(metrics["split"]) == {"test-same", "test-cross"}
    assert set(metrics["method"]) == {"interfered", "notch", "pisnet", "difnet", "notch-untuned", "position-mask",
                                      "oracle-mask", "oracle-magnitude"}
    always = {"pa", "iou", "psnr", "me", "energy_ratio", "scatterer_kept", "pa_full_band", "iou_full_band"}
    # scatterer_masked is undefined (no row) on a scene without scatterer-dominated cells
    assert always <= set(metrics[metrics["method"] == "difnet"]["metric"]) <= always | {"scatterer_masked"}
    # the notch's P_fa was tuned on the training pulses, with the measured false-alarm rates beside it
    import json
    calibration = json.loads((s1 / "models" / "calibration" / "seed0.json").read_text())
    assert calibration["cfar"]["pfa"] in [float(k) for k in calibration["iou_by_pfa"]]
    assert calibration["iou_by_pfa"][f"{calibration['cfar']['pfa']:g}"] == max(calibration["iou_by_pfa"].values())
    assert 0 <= calibration["false_alarm_rate"] <= 1 and calibration["split"] == "train"
    # the shared pulse detector: tuned on the training pulses, its outcome recorded on every row, in the notes
    assert calibration["detector"]["detection_rate"] > 0.9 and calibration["detector"]["false_alarm_rate"] < 0.1
    rows = metrics[metrics["metric"] == "psnr"]
    assert (rows["pulses_detected"] <= rows["pulses_interfered"]).all()
    assert rows.groupby(["split", "replicate", "item"])["pulses_detected"].nunique().eq(1).all()   # shared
    table4 = (s1 / "tables" / "table4.md").read_text()
    assert "shared detector flags" in table4 and "## By interference kind" in table4
    assert "bins nearest 0 Hz hold" in table4 and "DIFNet − Position-only mask" in table4
    assert "pa" not in set(metrics[metrics["method"] == "pisnet"]["metric"])      # no mask: "/" as in the paper
    assert metrics["value"].notna().all()
    for n in (4, 5):
        md = (s1 / "tables" / f"table{n}.md").read_text()
        assert "(paper" in md and "DIFNet" in md
    for fig in ("figure6_spectrograms_same", "figure7_images_same", "figure8_spectrograms_cross",
                "figure9_images_cross", "per_sir"):
        assert (s1 / "figures" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
    # the figures' scenes: the same for every method, in band order, with each method's mask (none for PISNet)
    from restorebench.files import load_npz
    shown = {m: load_npz(s1 / "scores" / "test-same" / m / "seed0.examples.npz")
             for m in ("interfered", "position-mask", "difnet", "pisnet")}
    assert all(np.array_equal(e["scene"], shown["difnet"]["scene"]) for e in shown.values())
    assert len(shown["difnet"]["scene"]) == 2 and np.all(np.diff(shown["difnet"]["band_share"]) >= 0)
    assert shown["pisnet"]["mask"].size == 0
    assert shown["position-mask"]["mask"].shape == shown["difnet"]["label"].shape
    claims = (s1 / "claims.md").read_text()
    assert all(f"| C{k} |" in claims for k in range(1, 6))
    verdicts = pd.read_csv(s1 / "verdicts.csv")
    assert list(verdicts["claim"]) == ["C1", "C1", "C2", "C2", "C3", "C3", "C3", "C4", "C5", "C5", "C5", "C5"]
    # tiny has 2 replicates: the replicate is the unit (n = 2), and the population is stated
    assert set(verdicts["unit"]) == {"replicate"} and set(verdicts["n"]) == {2}
    assert set(verdicts["n_detail"]) == {"2 replicates × 2"} and set(verdicts["verdict"]) == {"inconclusive"}
    assert "2 replicates × 2 test scenes" in claims
    # every method is scored on each replicate's own scenes: a fresh draw, so even the interfered input differs
    assert set(metrics["replicate"]) == {0, 1}
    interfered = metrics[(metrics["method"] == "interfered") & (metrics["metric"] == "psnr")]
    by_replicate = interfered.pivot(index=["split", "item"], columns="replicate", values="value")
    assert (by_replicate[0] != by_replicate[1]).all()
    for replicate in (0, 1):             # each replicate tunes its own notch on its own training pulses
        assert json.loads((s1 / "models" / "calibration" / f"seed{replicate}.json").read_text())["split"] == "train"
    trained = metrics[metrics["method"].isin(["difnet", "pisnet"])]
    assert (trained["training_seed"] == trained["replicate"]).all()
    c4 = verdicts[verdicts["claim"] == "C4"].iloc[0]
    assert c4["margin"] == 1.0 and "difference-in-differences" in c4["test"]
    # C4's effect is PISNet's PSNR drop minus DIFNet's, recomputed here from the tidy rows
    psnr = metrics[metrics["metric"] == "psnr"].groupby(["split", "method"])["value"].mean()
    drop = lambda m: psnr["test-same", m] - psnr["test-cross", m]
    assert c4["effect"] == pytest.approx(drop("pisnet") - drop("difnet"))
    # one replicate: scene i of both test sets shares its RFI draw, so the C4 interaction pairs the
    # scenes (2 units, not 2 + 2)
    from restorebench.experiments.sar_rfi_report import s1_claims
    from restorebench.report.verdicts import StatsConfig, evaluate_claim
    one_seed = metrics[metrics["replicate"] == 0]
    c4_claim = next(c for c in s1_claims(1.0, one_seed) if c.id == "C4")
    one = evaluate_claim(one_seed, c4_claim, StatsConfig())
    assert [(r.n, r.n_detail, r.unit) for r in one.cells] == [(2, "2", "item")]
    import torch
    for seed in (0, 1):
        state = torch.load(s1 / "models" / "difnet" / f"seed{seed}.pt", weights_only=True)
        assert state["epoch"] == 2 and len(state["history"]) == 2 and state["seed"] == seed
    first = torch.load(s1 / "models" / "difnet" / "seed0.pt", weights_only=True)["model"]
    assert any(not torch.equal(t, first[k]) for k, t in state["model"].items())   # two different networks
    readme = (workdir / "results" / "README.md").read_text()
    assert "| C1 |" in readme and "| A1 |" in readme and "s1/tables/table4.md" in readme
    assert "s1/verdicts.csv" in readme and "(the statistics read inconclusive" in readme
    assert "## Job times of this run" in readme and "| s2_fit " in readme and "| s1_train " in readme


def test_merlin_study_figures_tables_and_claims(workdir):
    s3 = workdir / "results" / "s3"
    metrics = pd.read_csv(s3 / "metrics.csv")
    labels = metrics[metrics["experiment"] == "labels"]
    assert set(labels["labelled_pct"]) == {100, 10}                         # tiny: two fractions, one seed
    assert set(labels[labels["method"] == "unet"]["metric"]) == {"iou", "f1", "accuracy"}
    assert set(labels[labels["method"] == "im2height"]["metric"]) == {"rmse", "log_rmse", "rel", "rel_log"}
    assert {"psnr", "ssim", "enl"} <= set(labels[labels["method"] == "multitask"]["metric"])
    assert set(labels[labels["labelled_pct"] == 10]["method"]) >= {"mt-s", "mt-r", "mt-sr", "mt-sd", "mt-rd"}
    despeckling = metrics[metrics["experiment"] == "despeckling"]
    assert set(despeckling["method"]) >= {"noisy", "nlmeans", "merlin", "released-stripmap"}
    noisy_enl = despeckling[(despeckling["method"] == "noisy") & (despeckling["metric"] == "enl")]["value"].iloc[0]
    assert noisy_enl == pytest.approx(1.0, abs=0.1)                         # one-look speckle
    assert metrics["value"].notna().all()
    for fig in ("figure3", "figure2", "claims_effects"):
        assert (s3 / "figures" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
    table2 = (s3 / "tables" / "table2.md").read_text()
    assert "(paper 0.424)" in table2 and "(paper 0.838)" in table2 and "10 % labels" in table2
    # a Table 2 cell is the mean of its tidy rows
    t2 = pd.read_csv(s3 / "tables" / "table2.csv")
    cell = t2[(t2["method"] == "multitask") & (t2["metric"] == "f1")]["mean"].iloc[0]
    rows = labels[(labels["method"] == "multitask") & (labels["metric"] == "f1") & (labels["labelled_pct"] == 10)]
    assert cell == pytest.approx(rows["value"].mean())
    verdicts = pd.read_csv(s3 / "verdicts.csv")
    assert list(dict.fromkeys(verdicts["claim"])) == ["M1", "M2", "M3"]
    assert set(verdicts["verdict"]) == {"inconclusive"}                     # one seed cannot decide anything
    readme = (workdir / "results" / "README.md").read_text()
    assert "| M1 |" in readme and "s3/tables/table2.md" in readme and "| s3_train " in readme


def test_declipping_study_figure5(workdir):
    s4 = workdir / "results" / "s4"
    metrics = pd.read_csv(s4 / "metrics.csv")
    figure5 = metrics[metrics["experiment"] == "figure5"]
    assert set(figure5["method"]) == {"clipped", "spline", "aspade", "dct-ls", "supervised", "mc-eq"}
    assert set(figure5["d"]) == {4} and set(figure5["v"]) == {0.05, 0.2}
    assert len(figure5) == 6 * 1 * 2 * 8                                       # 8 test signals per cell
    # the model-aware ceiling recovers the sparse signals (float32's resolution), the spline floor beats clipping
    means = figure5.groupby("method")["value"].mean()
    assert means["dct-ls"] > 140 and means["spline"] > means["clipped"]
    assert (s4 / "figures" / "figure5.png").read_bytes()[:4] == b"\x89PNG"
    table = pd.read_csv(s4 / "tables" / "figure5.csv")
    rows = figure5[(figure5["method"] == "mc-eq") & (figure5["d"] == 4) & (figure5["v"] == 0.2)]
    assert table[(table["method"] == "Self-supervised (L_MC + L_EQ)") & (table["d"] == 4)
                 & (table["v"] == "v = 20 %")]["mean"].iloc[0] == pytest.approx(rows["value"].mean())
    # the clipped input's SDR falls as more samples saturate
    clipped = figure5[figure5["method"] == "clipped"].groupby("v")["value"].mean()
    assert clipped[0.05] > clipped[0.2]
    assert (workdir / "results" / "s4" / "models" / "figure5" / "mc-eq" / "d4" / "v0.2.pt").exists()
    # the Figure 3 toy: the same test signals at x1 and / 10 for the bias-free and the biased network
    toy = metrics[metrics["experiment"] == "toy"]
    assert set(toy["method"]) == {"mc-eq", "mc-eq+bias"} and set(toy["condition"]) == {"scale=1", "scale=0.1"}
    assert set(toy["replicate"]) == {0, 1}                                      # tiny: two replicates
    assert (toy["training_seed"] == toy["replicate"]).all()
    free = toy[toy["method"] == "mc-eq"].pivot(index=["replicate", "item"], columns="condition", values="value")
    assert (free["scale=1"] - free["scale=0.1"]).abs().max() < 1e-3          # homogeneous: SDR is scale-free
    assert (s4 / "figures" / "figure3_toy.png").read_bytes()[:4] == b"\x89PNG"
    # the music table: every declipper on every test recording at every fraction, SDR and Delta SDR
    music = metrics[metrics["experiment"] == "music"]
    assert set(music["method"]) == {"clipped", "spline", "aspade", "nmc-eq", "mc-eq", "supervised"}
    assert set(music["dataset"]) == {"sf-ensemble", "tts-speech"} and set(music["v"]) == {0.01, 0.05, 0.1, 0.2}
    # 6 declippers x 2 replicates (each its own recordings) x datasets x recordings x v x metrics
    assert len(music) == 6 * 2 * 2 * 2 * 4 * 3
    assert set(music["replicate"]) == {0, 1}
    assert set(music.loc[music["method"] == "mc-eq", "training_seed"]) == {0, 1}
    clipped_sdr = music[(music["method"] == "clipped") & (music["metric"] == "sdr")]
    by_replicate = clipped_sdr.pivot(index=["item", "v"], columns="replicate", values="value")
    assert (by_replicate[0] != by_replicate[1]).all()          # a fresh draw of recordings per replicate
    assert (music["source_clipping"] == 0).all()              # generated recordings are never clipped in the source
    clipped = music[(music["method"] == "clipped") & (music["metric"] == "delta_sdr")]
    assert (clipped["value"] == 0).all()
    # the clipped input is consistent already, so projecting it changes nothing; a network's raw output is not
    sdr = music[music["method"] == "clipped"].pivot(index=["replicate", "item", "v"], columns="metric", values="value")
    assert (sdr["sdr_raw"] - sdr["sdr"]).abs().max() < 1e-6
    mc = music[music["method"] == "mc-eq"].pivot(index=["replicate", "item", "v"], columns="metric", values="value")
    assert (mc["sdr_raw"] != mc["sdr"]).any()
    aspade = music[(music["method"] == "aspade") & (music["metric"] == "delta_sdr")]
    assert aspade["value"].mean() > 3                          # the classical declipper really declips
    assert "| 20 % | A-SPADE" in (s4 / "tables" / "music.md").read_text()
    assert (s4 / "figures" / "example.png").read_bytes()[:4] == b"\x89PNG"
    # optimiser steps in the run facts (tiny: 3 of 4 training recordings, 3 segments each, batch 4; Figure 5:
    # 32 signals, batch 8) and in the training table; every S4 network's validation curve is its held-out error
    training_md = (s4 / "tables" / "training.md").read_text()
    assert "1 epoch of 4 optimiser steps (4 steps)" in training_md and "1 epoch of 3 optimiser steps" in training_md
    assert "held-out recordings (music)" in training_md
    training = pd.read_csv(s4 / "tables" / "training.csv")
    assert set(training.loc[training["condition"] == "music", "steps"] % 3) == {0}
    assert (training["validation_loss"] > 0).all() and (training["validation_loss"] < 1).all()
    verdicts = pd.read_csv(s4 / "verdicts.csv")
    assert list(dict.fromkeys(verdicts["claim"])) == ["D1", "D2", "D3"]
    assert set(verdicts["verdict"]) == {"inconclusive"} and set(verdicts["unit"]) == {"replicate"}
    assert set(verdicts["n_detail"]) == {"2 replicates × 4", "2 replicates × 8"}
    readme = (workdir / "results" / "README.md").read_text()
    assert "s4/tables/figure5.md" in readme and "| D3 |" in readme and "| s4_music_train " in readme


def test_compare_runs_on_the_tiny_run_and_on_a_copy_whose_tidy_rows_were_altered(workdir, tmp_path, capsys):
    """compare-runs: the run against a copy of itself lists nothing (exit 0); against a run whose S4 rows were
    altered -- one replicate kept, the biased toy network 20 dB worse on the signals / 10, the
    self-supervised declipper 5 dB worse on music -- it lists the D3 verdict (inconclusive with 2 replicates -> held
    on 8 signals) and the moved music-table cells (exit 1)."""
    from restorebench.cli import main

    results = workdir / "results"
    same = shutil.copytree(results, tmp_path / "same", ignore=shutil.ignore_patterns("*.npz", "*.pt", "checkpoints"))
    assert main(["compare-runs", str(results), str(same)]) == 0
    out = capsys.readouterr().out
    for study in ("S1", "S2", "S3", "S4"):
        assert f"{study}: same verdicts; every table cell within the reference interval" in out

    rows = pd.read_csv(results / "s4" / "metrics.csv")
    rows = rows[rows["replicate"].fillna(0) == 0].copy()
    worse = (rows["method"] == "mc-eq+bias") & (rows["condition"] == "scale=0.1")
    rows.loc[worse, "value"] -= 20.0
    rows.loc[(rows["experiment"] == "music") & (rows["method"] == "mc-eq"), "value"] -= 5.0   # moves table cells
    altered = same / "s4" / "metrics.csv"
    rows.to_csv(altered, index=False)
    s4 = results / "s4"
    assert main(["s4-report", "--metrics", str(altered), "--toy-examples", str(s4 / "toy" / "seed0.examples.npz"),
                 "--music-example", str(s4 / "music" / "mc-eq" / "seed0.example.npz"), "--example-method", "mc-eq",
                 "--outdir", str(same / "s4"), "--run-facts", "altered"]) == 0
    assert main(["s4-claims", "--metrics", str(altered), "--outdir", str(same / "s4"), "--scale", "tiny",
                 "--training", str(s4 / "tables" / "training.csv"), "--run-facts", "altered"]) == 0
    capsys.readouterr()
    assert main(["compare-runs", str(results), str(same)]) == 1
    out = capsys.readouterr().out
    # tiny's networks have no established plateau: D3 is no verdict either way, but its statistics moved
    line = next(l for l in out.splitlines() if "verdict D3:" in l)
    assert "the statistics read inconclusive" in line and "the statistics read held" in line, out
    assert "verdicts differ in S4" in out
    assert "cell music.csv [" in out and "S1: same verdicts" in out


def test_plan_scale_sizes_a_scale_from_the_tiny_run(workdir, capsys):
    from restorebench.cli import main

    assert main(["plan-scale", str(workdir / "results"), "--config", str(workdir / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "# Sizing from the `tiny` run" in out
    assert "| S2 | clips | 1 |" in out and "| S1 | replicates | 2 |" in out and "| S3 | replicates | 1 |" in out
    assert "| A1 | 22 |" in out and "| D3 | 2 |" in out


def test_table_cell_equals_mean_of_tidy_rows(workdir):
    s2 = workdir / "results" / "s2"
    metrics = pd.read_csv(s2 / "metrics.csv")
    table = pd.read_csv(s2 / "tables" / "table1.csv")
    cell = table[(table["method"] == "exp-dense") & (table["stopping"] == "final") & (table["key"] == "speech")
                 & (table["metric"] == "snr")].iloc[0]
    rows = metrics[(metrics["task"] == "gaussian") & (metrics["role"] == "speech") & (metrics["method"] == "exp-dense")
                   & (metrics["stopping"] == "final") & (metrics["metric"] == "snr")]
    assert cell["mean"] == pytest.approx(rows["value"].mean())


def test_every_claims_page_shows_floors_and_the_inputs_difficulty(workdir):
    for study in ("s1", "s2", "s3", "s4"):
        page = (workdir / "results" / study / "claims.md").read_text()
        verdicts = pd.read_csv(workdir / "results" / study / "verdicts.csv")
        assert "## Input difficulty beside the paper's" in page, study
        assert {"floors", "floor_nearest", "floor_effect", "floor_p", "beats_floors", "claim_floor_flag",
                "origin", "construction"} <= set(verdicts.columns), study
        for claim, cells in verdicts.groupby("claim"):
            # every claim names its floors, or says why none applies
            assert f"## {claim}:" in page and (cells["floors"].notna().all() or "Floors: none apply:" in page)
        floored = verdicts[verdicts["floors"].notna()]
        assert floored["floor_nearest"].notna().all(), study
    s1 = (workdir / "results" / "s1" / "claims.md").read_text()
    assert "interfered image PSNR, same sensor (dB)" in s1 and "11.4" in s1      # beside Table 4's 11.36
    assert "position-mask" in s1
    # every trained network's plateau status, from its recorded curves; a claim on an unconverged network
    # is not a verdict (tiny trains one or two epochs: no plateau is established)
    for study in ("s1", "s3", "s4"):
        page = (workdir / "results" / study / "claims.md").read_text()
        training = pd.read_csv(workdir / "results" / study / "tables" / "training.csv")
        assert "## Trained networks" in page and len(training) > 0
        assert set(training["plateau"]) <= {"yes", "no", "unknown"} and training["steps"].gt(0).all()
        assert (workdir / "results" / study / "figures" / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
        verdicts = pd.read_csv(workdir / "results" / study / "verdicts.csv")
        assert verdicts["claim_training_flag"].fillna("").str.startswith("not a verdict").any(), study
    s1_training = pd.read_csv(workdir / "results" / "s1" / "tables" / "training.csv")
    assert s1_training["validation_loss"].notna().all()          # whole training scenes held out
    assert "No trained network enters these claims" in (workdir / "results" / "s2" / "claims.md").read_text()


def test_report_and_rerun_after_interruption(workdir):
    _snakemake(workdir, "--report", "results/report.html", "--config", "scale=tiny")
    html = (workdir / "results" / "report.html").read_text(errors="replace")
    assert "Table 1" in html and "figure2_convergence" in html
    # the landing page carries every study's verdict table, each claim with the verdict its claims page gives
    landing = (workdir / "results" / "report_landing.rst").read_text()
    assert "Which claims held" in html and landing.count(".. list-table::") == 4
    for study in ("s1", "s2", "s3", "s4"):
        verdicts = pd.read_csv(workdir / "results" / study / "verdicts.csv").drop_duplicates("claim")
        for _, row in verdicts.iterrows():
            assert f"   * - {row['claim']}\n" in landing
            # the report embeds its pages as JSON: non-ASCII (the verdict's dash) may come \u-escaped
            escaped = json.dumps(row_label(row))[1:-1]
            assert (f"<strong>{row_label(row)}</strong>" in html or f"<strong>{escaped}</strong>" in html), \
                (study, row["claim"])
    # an interrupted run never wrote a fit nor anything after it: the rerun must rebuild them identically
    s2 = workdir / "results" / "s2"
    fit = s2 / "fits" / "gaussian" / "speech" / "exp-dense.npz"
    metrics_before = pd.read_csv(s2 / "metrics.csv")
    claims_before = (s2 / "claims.md").read_text()
    before = fit.read_bytes()
    for path in [fit, s2 / "scores" / "gaussian" / "speech.tsv", s2 / "scores" / "gaussian" / "speech.trajectory.tsv",
                 s2 / "metrics.csv", s2 / "trajectories.csv", s2 / "claims.md", workdir / "results" / "README.md",
                 *(s2 / "tables").iterdir()]:
        path.unlink()
    _snakemake(workdir, "--cores", "2", "--config", "scale=tiny", "-q")
    assert (s2 / "claims.md").read_text() == claims_before
    import numpy as np
    from restorebench.files import load_npz
    assert np.array_equal(load_npz(fit)["final"], np.load(__import__("io").BytesIO(before))["final"])
    metrics_after = pd.read_csv(workdir / "results" / "s2" / "metrics.csv")
    pd.testing.assert_frame_equal(metrics_before.drop(columns="wall_seconds"),
                                  metrics_after.drop(columns="wall_seconds"))


def test_bad_config_key_is_named(workdir):
    proc = _snakemake(workdir, "-n", "--config", "scael=tiny", check=False)
    assert proc.returncode != 0
    assert "scael" in proc.stdout + proc.stderr


def test_lint_reports_nothing_serious(workdir):
    proc = _snakemake(workdir, "--lint", check=False)
    text = proc.stdout + proc.stderr
    assert "Mixed rules and functions" not in text
    assert "absolute path" not in text.lower()


def test_real_data_source_says_what_to_download_and_where(tmp_path):
    copy_workflow(tmp_path)
    proc = _snakemake(tmp_path, "--cores", "1", "--config", "data_source=real", "--",
                      "resources/wavegan/piano/.complete", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert not (tmp_path / "resources" / "wavegan" / "piano" / ".complete").exists()
    assert "WaveGAN-piano cannot be downloaded" in text and "resources/wavegan/piano/.complete" in text
    for folder in ("wavegan/piano", "wavegan/drums"):
        (tmp_path / "resources" / folder).mkdir(parents=True)
        (tmp_path / "resources" / folder / ".complete").touch()
    proc = _snakemake(tmp_path, "-n", "--config", "data_source=real")
    assert proc.stdout.count("rule fetch_archive:") == 5
    # S1's real scenes are placed by hand too: the plan includes their instructions, not a download
    assert "resources/sandia/.complete" in proc.stdout and "resources/sentinel1/.complete" in proc.stdout
    manual = _snakemake(tmp_path, "--cores", "1", "--config", "data_source=real", "--",
                        "resources/sandia/.complete", check=False)
    assert manual.returncode != 0 and "Sandia-MiniSAR cannot be downloaded" in manual.stdout + manual.stderr
    for archive in ("LJSpeech-1.1.tar.bz2", "speech_commands_v0.02.tar.gz", "DLIVING_16k.zip", "STRAFFIC_16k.zip",
                    "MUSDB18-7-STEMS.zip"):
        assert f"resources/downloads/{archive}" in proc.stdout


def test_musdb_archive_is_extracted_and_split_into_s4_training_and_test_recordings(tmp_path):
    """S4 with data_source real: a MUSDB18-7-STEMS-shaped zip (stem files in train/ and test/) goes through
    the workflow's extraction and ingestion; the test recordings come from test/ only, as mixtures."""
    import zipfile

    import numpy as np

    from conftest import write_stem_file
    from restorebench.files import load_npz

    copy_workflow(tmp_path)
    downloads = tmp_path / "resources" / "downloads"
    downloads.mkdir(parents=True)
    t = np.arange(2 * 44100) / 44100
    with zipfile.ZipFile(downloads / "MUSDB18-7-STEMS.zip", "w") as archive:
        for split, freqs in (("train", (300, 400, 500)), ("test", (700, 800))):
            for freq in freqs:
                stem = tmp_path / f"{freq}.stem.mp4"
                mixture = np.stack([0.5 * np.sin(2 * np.pi * freq * t)] * 2)
                write_stem_file(stem, [mixture, 0.5 * mixture])
                archive.write(stem, f"{split}/Artist - Tone {freq}.stem.mp4")
    targets = ["results/s4/data/seed0/musdb-train.npz", "results/s4/data/seed0/musdb-test.npz"]
    _snakemake(tmp_path, "--cores", "1", "--config", "data_source=real", "scale=tiny", "--", *targets)
    assert (tmp_path / "resources" / "musdb18-7s" / "test").is_dir()
    import yaml

    sizes = yaml.safe_load((ROOT / "config.yaml").read_text())["scales"]["tiny"]["s4"]["music"]
    for target, split, freqs in ((targets[0], "train", {300, 400, 500}), (targets[1], "test", {700, 800})):
        data = load_npz(tmp_path / target)
        assert str(data["meta_dataset"]) == "MUSDB18-7s" and str(data["meta_data_source"]) == "real"
        assert data["clips"].shape == (sizes[f"{split}_clips"], sizes["clip_samples"])
        assert all(str(name).startswith(f"{split}/") for name in data["descriptions"])
        for clip in data["clips"]:
            peak_hz = np.argmax(np.abs(np.fft.rfft(clip))) * 16000 / clip.size
            assert min(abs(peak_hz - f) for f in freqs) < 4


def test_training_killed_inside_the_workflow_resumes_and_matches_an_uninterrupted_run(tmp_path):
    """Start the workflow, kill Snakemake's process group after the first checkpoints, rerun: the job
    resumes from the last checkpoint and its final weights equal those of a training never interrupted."""
    import signal
    import time

    import torch
    import yaml

    copy_workflow(tmp_path)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    tiny = config["scales"]["tiny"]["s1"]
    tiny.update(epochs=16, train_scenes=4, lines_per_scene=16)          # long enough to be caught mid-way
    (tmp_path / "resume.yaml").write_text(yaml.safe_dump({"scale": "tiny", "scales": config["scales"]}))
    target = ["--configfile", "resume.yaml", "--", "results/s1/models/difnet/seed0.pt"]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    snakemake = str(Path(sys.executable).parent / "snakemake")
    checkpoint = tmp_path / "results" / "s1" / "checkpoints" / "difnet" / "seed0" / "last.pt"
    proc = subprocess.Popen([snakemake, "--cores", "2", *target], cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_at, deadline = None, time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists():
            try:
                epoch = torch.load(checkpoint, weights_only=True)["epoch"]
            except Exception:      # caught between the atomic rename and a read: try again
                epoch = 0
            if epoch >= 2:
                os.killpg(proc.pid, signal.SIGTERM)
                killed_at = epoch
                break
        time.sleep(0.05)
    proc.wait(timeout=120)
    assert killed_at is not None, "training finished before it could be interrupted; make it longer"
    weights = tmp_path / "results" / "s1" / "models" / "difnet" / "seed0.pt"
    assert not weights.exists() and checkpoint.exists()
    interrupted_epoch = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 2 <= interrupted_epoch < 16

    _snakemake(tmp_path, "--cores", "2", *target)
    log = (tmp_path / "results" / "logs" / "s1_train" / "difnet" / "seed0.log").read_text()
    assert f"resumed from epoch {interrupted_epoch} of 16" in log
    resumed = torch.load(weights, weights_only=True)
    assert resumed["epoch"] == 16

    # the same job, never interrupted
    shutil.rmtree(checkpoint.parent)
    weights.unlink()
    _snakemake(tmp_path, "--cores", "2", "--forcerun", "s1_train", *target)
    assert "resumed" not in (tmp_path / "results" / "logs" / "s1_train" / "difnet" / "seed0.log").read_text()
    fresh = torch.load(weights, weights_only=True)
    assert resumed["history"] == fresh["history"]
    for name, tensor in fresh["model"].items():
        assert torch.equal(resumed["model"][name], tensor), name


PLUGIN = '''
"""A throw-away prior, registered from its own module: nothing else in the repository is edited."""
import torch
from torch import nn

from restorebench.registry import Method, register


class Shallow(nn.Module):
    def __init__(self, in_channels, out_channels, widths, out_activation="linear"):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(widths[0], out_channels, 3, padding=1))
        self.sigmoid = out_activation == "sigmoid"

    def forward(self, z):
        out = self.body(z)
        return torch.sigmoid(out) if self.sigmoid else out


register(Method("shallow", "Shallow test prior", "S2", "prior", build=Shallow, params={"widths": (4, 8, 16)}))
'''


def test_a_method_registered_in_a_plugin_module_reaches_the_tables(workdir):
    (workdir / "shallow_prior.py").write_text(PLUGIN)
    (workdir / "plugin.yaml").write_text("plugins: [shallow_prior]\n"
                                         "s2: {priors: [conv, dilated, exp, exp-dense, shallow]}\n")
    _snakemake(workdir, "--cores", "2", "--configfile", "plugin.yaml", "--config", "scale=tiny", "-q", "--",
               "results/s2/tables/table1.md", "results/s2/figures/figure2_convergence.png")
    s2 = workdir / "results" / "s2"
    assert (s2 / "fits" / "gaussian" / "speech" / "shallow.npz").exists()
    table = pd.read_csv(s2 / "tables" / "table1.csv")
    ours = table[(table["method"] == "shallow") & (table["stopping"] == "final")]
    assert len(ours) == 10 and ours["mean"].notna().all() and ours["paper_mean"].isna().all()
    metrics = pd.read_csv(s2 / "metrics.csv")
    rows = metrics[(metrics["method"] == "shallow") & (metrics["task"] == "gaussian") & (metrics["role"] == "speech")
                   & (metrics["stopping"] == "final") & (metrics["metric"] == "snr")]
    cell = ours[(ours["key"] == "speech") & (ours["metric"] == "snr")].iloc[0]
    assert cell["mean"] == pytest.approx(rows["value"].mean())
    md = (s2 / "tables" / "table1.md").read_text()
    assert "Shallow test prior — ours, final iterate" in md and "Shallow test prior — paper" not in md
    # an unregistered name in the config is an error that names the key
    proc = _snakemake(workdir, "-n", "--config", "scale=tiny", "s2={'priors': ['nonesuch']}", check=False)
    assert proc.returncode != 0 and "s2.priors" in proc.stdout + proc.stderr and "nonesuch" in proc.stdout + proc.stderr


def _assert_training_resumes(workdir, plugin, scratch, command):
    """A plugin's training job resumes like the built-in ones: one epoch, then the same job with two, gives
    the weights and history of two epochs at once."""
    import torch

    env = dict(os.environ, RESTOREBENCH_PLUGINS=plugin, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")

    def train(out, checkpoints, epochs):
        return subprocess.run(["restorebench", *command, "--epochs", str(epochs), "--output", str(out),
                               "--checkpoint-dir", str(checkpoints)],
                              cwd=workdir, env=env, check=True, capture_output=True, text=True).stderr

    train(scratch / "part.pt", scratch / "part", 1)
    assert "resumed from epoch 1 of 2" in train(scratch / "resumed.pt", scratch / "part", 2)
    train(scratch / "full.pt", scratch / "full", 2)
    resumed, full = (torch.load(scratch / f"{n}.pt", weights_only=True) for n in ("resumed", "full"))
    assert resumed["history"] == full["history"] and len(full["history"]) == 2
    for name, tensor in full["model"].items():
        assert torch.equal(resumed["model"][name], tensor), name


RFI_PLUGIN = '''
"""A throw-away trained S1 network, declared in its own module: nothing else in the repository is edited."""
import torch.nn.functional as F
from torch import nn

from restorebench.registry import Method, register


def build(p):
    return nn.Sequential(nn.Conv2d(1, p["width"], 3, padding=1), nn.ReLU(), nn.Conv2d(p["width"], 1, 3, padding=1))


def loss(p, output, target, inputs):
    return F.binary_cross_entropy_with_logits(output, target)


register(Method("tinyconv", "Two-layer CNN mask", "S1", "rfi", trained=True, build=build, loss=loss,
                target="mask", params={"width": 4}))
'''


def test_a_trained_s1_network_declared_in_a_plugin_is_trained_resumed_and_tabled(workdir):
    import torch

    (workdir / "tiny_rfi.py").write_text(RFI_PLUGIN)
    (workdir / "rfi.yaml").write_text(
        "plugins: [tiny_rfi]\n"
        "s1: {methods: [interfered, notch, pisnet, difnet, notch-untuned, oracle-mask, oracle-magnitude, tinyconv],"
        " params: {tinyconv: {width: 3}}}\n"
        "claims: {in_place_of: {s1: {difnet: tinyconv}}}\n")
    _snakemake(workdir, "--cores", "2", "--configfile", "rfi.yaml", "--config", "scale=tiny", "-q", "--",
               "results/s1/tables/table4.csv", "results/s1/tables/table5.md", "results/s1/verdicts.csv")
    s1 = workdir / "results" / "s1"
    weights = torch.load(s1 / "models" / "tinyconv" / "seed0.pt", weights_only=True)
    assert weights["config"] == {"model": "tinyconv", "params": {"width": 3}}      # the config's width
    table = pd.read_csv(s1 / "tables" / "table4.csv")
    ours = table[table["method"] == "tinyconv"].set_index("metric")
    assert ours.loc["pa", "n"] > 0 and 0 < ours.loc["pa", "mean"] <= 1 and pd.isna(ours.loc["pa", "paper"])
    metrics = pd.read_csv(s1 / "metrics.csv")
    pa = metrics[(metrics["method"] == "tinyconv") & (metrics["split"] == "test-same") & (metrics["metric"] == "pa")]
    assert ours.loc["pa", "mean"] == pytest.approx(pa["value"].mean())
    assert "Two-layer CNN mask" in (s1 / "tables" / "table5.md").read_text()
    # and it enters the claims in DIFNet's place (claims.in_place_of): C1 compares it with the notch
    verdicts = pd.read_csv(s1 / "verdicts.csv")
    c1 = verdicts[verdicts["claim"] == "C1"]
    assert set(c1["better"]) == {"tinyconv"} and set(c1["worse"]) == {"notch"}
    assert "Two-layer CNN mask is judged in the place of DIFNet" in (s1 / "claims.md").read_text()
    # its training resumes like the built-in ones
    _assert_training_resumes(workdir, "tiny_rfi", workdir / "resume",
                             ["s1-train", "--images", "results/s1/data/seed0/train_images.npz", "--model", "tinyconv",
                              "--param", "width=3", "--batch-size", "4"])


S3_PLUGIN = '''
"""A throw-away S3 network of its own architecture (segmentation + height heads), declared in its own module."""
import torch
from torch import nn

from restorebench.registry import Method, register


class TwoConv(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 2, 3, padding=1))

    def forward(self, x):
        out = self.body(x)
        return {"S": out[:, :1], "R": 10 * out[:, 1:]}


register(Method("twoconv", "Two-conv S+R", "S3", "model", trained=True, build=lambda p: TwoConv(p["width"]),
                params={"tasks": "SR", "width": 4}))
'''


def test_an_s3_network_declared_in_a_plugin_is_trained_resumed_and_tabled(workdir):
    import torch

    (workdir / "twoconv.py").write_text(S3_PLUGIN)
    (workdir / "twoconv.yaml").write_text(
        "plugins: [twoconv]\ns3: {models: [multitask, unet, im2height, twoconv], params: {twoconv: {width: 3}}}\n")
    _snakemake(workdir, "--cores", "2", "--configfile", "twoconv.yaml", "--config", "scale=tiny", "-q", "--",
               "results/s3/tables/figure3.md")
    s3 = workdir / "results" / "s3"
    weights = sorted((s3 / "models" / "twoconv").glob("*pct/seed*.pt"))
    assert weights
    config = torch.load(weights[0], weights_only=True)["config"]
    assert config["architecture"] == "twoconv" and config["params"] == {"tasks": "SR", "width": 3}
    table = pd.read_csv(s3 / "tables" / "figure3.csv")
    ours = table[(table["method"] == "twoconv")]
    assert set(ours["metric"]) >= {"f1", "iou", "log_rmse", "rmse"} and ours["n"].gt(0).all()
    metrics = pd.read_csv(s3 / "metrics.csv")
    cell = ours[ours["metric"] == "f1"].iloc[0]
    rows = metrics[(metrics["method"] == "twoconv") & (metrics["metric"] == "f1")
                   & (metrics["labelled_pct"] == cell["labelled_pct"]) & (metrics["experiment"] == "labels")]
    assert cell["mean"] == pytest.approx(rows["value"].mean()) and cell["n"] == len(rows)
    assert "Two-conv S+R" in (s3 / "tables" / "figure3.md").read_text()
    # its training resumes like the built-in ones
    _assert_training_resumes(workdir, "twoconv", workdir / "resume-s3",
                             ["s3-train", "--scene", "results/s3/data/seed0/scene.npz", "--model", "twoconv", "--param",
                              "width=3", "--labelled-pct", "50", "--patch", "32", "--stride", "32", "--batch-size", "4"])


DECLIP_PLUGIN = '''
"""A throw-away S4 training objective, declared in its own module: L_MC + half of L_EQ."""
from restorebench.losses.declipping import consistency_loss, equivariance_loss
from restorebench.registry import Method, register


def loss(cfg, model, y, mu, mask, estimate, clean):
    return consistency_loss(estimate, y, mask) + 0.5 * equivariance_loss(model, estimate, mu, cfg.alpha_max)


register(Method("mc-halfeq", "L_MC + L_EQ / 2", "S4", "declipper", trained=True, loss=loss,
                params={"objective": "mc-halfeq"}))
'''


def test_an_s4_training_objective_declared_in_a_plugin_trains_and_reaches_the_music_table(workdir):
    import torch

    (workdir / "halfeq.py").write_text(DECLIP_PLUGIN)
    (workdir / "halfeq.yaml").write_text(
        "plugins: [halfeq]\ns4: {music: {methods: [clipped, aspade, nmc-eq, mc-eq, supervised, mc-halfeq]}}\n")
    _snakemake(workdir, "--cores", "2", "--configfile", "halfeq.yaml", "--config", "scale=tiny", "-q", "--",
               "results/s4/tables/music.md")
    s4 = workdir / "results" / "s4"
    weights = torch.load(s4 / "models" / "music" / "mc-halfeq" / "seed0.pt", weights_only=True)
    assert weights["config"]["s4"]["objective"] == "mc-halfeq"
    table = pd.read_csv(s4 / "tables" / "music.csv")
    ours = table[(table["method"] == "mc-halfeq") & (table["metric"] == "sdr")]
    assert len(ours) > 0 and ours["mean"].notna().all()
    metrics = pd.read_csv(s4 / "metrics.csv")
    cell = ours.iloc[0]
    rows = metrics[(metrics["method"] == "mc-halfeq") & (metrics["metric"] == "sdr") & (metrics["v"] == cell["v"])
                   & (metrics["dataset"] == cell["dataset"])]
    assert cell["mean"] == pytest.approx(rows["value"].mean())
    assert "L_MC + L_EQ / 2" in (s4 / "tables" / "music.md").read_text()
    # its training resumes like the built-in ones
    _assert_training_resumes(workdir, "halfeq", workdir / "resume-s4",
                             ["s4-music-train", "--method", "mc-halfeq", "--train",
                              *sorted(str(f) for f in (s4 / "data" / "seed0").glob("*-train.npz")), "--segment", "4096",
                              "--hop", "2048", "--fractions", "0.05", "0.1", "--widths", "4", "8", "--kernel", "5",
                              "--batch-size", "4"])
