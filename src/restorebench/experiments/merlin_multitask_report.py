"""S3 outputs: Figure 3 (metrics vs labelled fraction), Table 2 (heads at 1 % labels), a Figure 2-like panel,
the despeckling table (ours, not in the paper) and claims M1-M3.

Everything is drawn from the collected tidy rows (``results/s3/metrics.csv``) and the example crops; the
paper's numbers (papers/merlin_multitask.yaml) appear only beside ours, marked as the paper's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import registry
from ..files import atomic_output, load_npz, write_text
from ..papers import reference
from ..report.claims import write_study_claims
from ..report.plotting import pyplot, save_figure
from ..report.tables import mean_std, summarise
from ..report.verdicts import LOWER_IS_BETTER, Cell, Claim, StatsConfig
from ..studies import study
from ..tidy import REPLICATE
from .merlin_multitask import DESPECKLER_LABELS, FLOOR, INPUT

STUDY = study("S3")
CLAIMS_PREAMBLE = ("Units are replicates: each draws its own simulated scene (with real data, every replicate "
                   "shares the one scene), its own nested labelled subsets, and initialises every model alike, so "
                   "a comparison at one labelled fraction is paired by replicate (and thereby by scene and "
                   "labelled subset).")
SEGMENTATION = ("iou", "f1", "accuracy")
REGRESSION = ("rmse", "log_rmse", "rel", "rel_log")
METRIC_LABEL = {"iou": "IoU", "f1": "F1", "accuracy": "accuracy", "rmse": "RMSE (m)", "log_rmse": "logRMSE",
                "rel": "Rel", "rel_log": "Rel_log", "psnr": "PSNR (dB)", "ssim": "SSIM", "enl": "ENL (flat area)"}
TABLE2_ROWS = ("mt-r", "mt-s", "mt-sr", "mt-sd", "mt-rd", "multitask")   # the paper's row order
FIGURE3_MODELS = ("multitask", "unet", "im2height")                     # the paper's method and baselines
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


FLOOR_LABEL = "Threshold segmenter + constant height (floor)"


def _with_replicates(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with their replicate: rows written before the column take their seed (then the item was the seed)."""
    if REPLICATE in rows.columns:
        return rows
    if "training_seed" in rows.columns:
        return rows.assign(**{REPLICATE: rows["training_seed"]})
    return rows.assign(**{REPLICATE: rows["seed"], "item": "test-area"})


def label(method: str) -> str:
    """A model's label in tables and legends; the floor's own (it is not a registered network)."""
    return FLOOR_LABEL if method == FLOOR else STUDY.label(method)


def _fmt(mean: float, std: float, n: int) -> str:
    """A Figure 3 / Table 2 cell; "×" where the model has no such head."""
    return mean_std(mean, std, n, ".3f", missing="×")


def _tasks(model: str) -> str:
    return registry.get("S3", "model", model).params["tasks"] if model in registry.names("S3", "model") else ""


def figure3(metrics_csv: Path, output: Path, run_facts: str = "", models: tuple[str, ...] = FIGURE3_MODELS) -> None:
    """Six panels: IoU, F1, accuracy (multitask vs U-Net) and RMSE, logRMSE, Rel (multitask vs IM2HEIGHT)
    against the labelled percentage, mean ± std over replicates; any other of ``models`` (a user's) joins the
    panels of the heads it has."""
    rows = pd.read_csv(metrics_csv)
    rows = rows[rows["experiment"] == "labels"]
    rows = _with_replicates(rows)
    s = summarise(rows, ["method", "metric", "labelled_pct"])
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(11, 6.2))
    others = [m for m in models if m not in FIGURE3_MODELS]
    panels = ([(m, ("multitask", "unet", *[o for o in others if "S" in _tasks(o)], FLOOR)) for m in SEGMENTATION]
              + [(m, ("multitask", "im2height", *[o for o in others if "R" in _tasks(o)], FLOOR))
                 for m in REGRESSION[:3]])
    for ax, (metric, methods) in zip(axes.ravel(), panels):
        for method, marker in zip(methods, MARKERS):
            d = s[(s["method"] == method) & (s["metric"] == metric)].sort_values("labelled_pct")
            if d.empty:
                continue
            style = {"color": "0.35", "ls": "--"} if method == FLOOR else {}
            ax.errorbar(d["labelled_pct"], d["mean"], yerr=d["std"], marker=marker, capsize=3, label=label(method),
                        **style)
        ax.set_xscale("log")
        fractions = sorted(s["labelled_pct"].unique())
        ax.set_xticks(fractions, [f"{p:g}" for p in fractions])
        ax.minorticks_off()
        ax.set_xlabel("labelled training patches (%)")
        ax.set_title(METRIC_LABEL[metric] + (" (lower is better)" if metric in LOWER_IS_BETTER else ""), fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("Figure 3 (ours): segmentation (top) and height regression (bottom) vs labelled fraction; "
                 "mean ± std over replicates", fontsize=9)
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)


def table2(metrics_csv: Path, outdir: Path, run_facts: str = "", models: tuple[str, ...] = TABLE2_ROWS) -> None:
    """Table 2: the head combinations ``models`` (the paper's six) at the run's smallest labelled fraction
    (the paper's 1 %), logRMSE and F1, paper's values beside."""
    paper = reference("merlin_multitask")["table2"]
    rows = pd.read_csv(metrics_csv)
    rows = rows[rows["experiment"] == "labels"]
    rows = _with_replicates(rows)
    pct = float(rows["labelled_pct"].min())          # the run's smallest fraction (the paper's: 1 %)
    rows = rows[np.isclose(rows["labelled_pct"], pct)]
    s = summarise(rows, ["method", "metric"])
    display, long_rows = [], []
    for method in [m for m in models if m in set(s["method"])]:
        tasks = _tasks(method)
        row = [("✓" if "S" in tasks else "×"), ("✓" if "R" in tasks else "×"), ("✓" if "D" in tasks else "×")]
        for metric in ("log_rmse", "f1"):
            hit = s[(s["method"] == method) & (s["metric"] == metric)]
            ours = _fmt(float(hit["mean"].iloc[0]), float(hit["std"].iloc[0]), int(hit["n"].iloc[0])) if len(hit) else "×"
            theirs = paper["values"][metric].get(method)
            row.append(ours + (f" (paper {theirs:g})" if theirs is not None else ""))
            long_rows.append({"method": method, "metric": metric, "labelled_pct": pct,
                              "mean": float(hit["mean"].iloc[0]) if len(hit) else np.nan,
                              "std": float(hit["std"].iloc[0]) if len(hit) else np.nan,
                              "n": int(hit["n"].iloc[0]) if len(hit) else 0,
                              "paper": theirs if theirs is not None else np.nan})
        display.append(row)
    floor = s[s["method"] == FLOOR]
    if not floor.empty:
        row = ["floor", "", ""]
        for metric in ("log_rmse", "f1"):
            hit = floor[floor["metric"] == metric]
            row.append(_fmt(float(hit["mean"].iloc[0]), float(hit["std"].iloc[0]), int(hit["n"].iloc[0])))
            long_rows.append({"method": FLOOR, "metric": metric, "labelled_pct": pct,
                              "mean": float(hit["mean"].iloc[0]), "std": float(hit["std"].iloc[0]),
                              "n": int(hit["n"].iloc[0]), "paper": np.nan})
        display.append(row)
    frame = pd.DataFrame(display, columns=["λS", "λR", "λD", "logRMSE (↓)", "F1 (↑)"])
    outdir = Path(outdir)
    with atomic_output(outdir / "table2.csv", suffix=".csv") as tmp:
        pd.DataFrame(long_rows).to_csv(tmp, index=False)
    notes = (f"MERLIN-multitask trained with the marked heads at {pct:g} % labelled patches; mean ± std over n replicates. "
             "The paper's numbers are on TerraSAR-X over Paris with BDtopo labels; ours on the simulated urban scene "
             "(sim-urban). Combinations without D train on the labelled patches only (nothing else carries a loss). "
             f"The last row, 'floor': {FLOOR_NOTE}")
    title = f"Table 2: combinations of tasks at {pct:g} % labels (the paper's: {paper['labelled_pct']:g} %)"
    write_text(outdir / "table2.md", f"# {title}\n\n{run_facts}\n\n{frame.to_markdown(index=False)}\n\n{notes}\n")
    write_text(outdir / "table2.html", f"<h3>{title}</h3><p>{run_facts}</p>{frame.to_html(index=False, border=0)}"
               f"<p>{notes}</p>\n")


def figure3_table(metrics_csv: Path, outdir: Path, run_facts: str = "", models: tuple[str, ...] = FIGURE3_MODELS) -> None:
    """Figure 3's numbers as a table (CSV with Rel_log too, and Markdown): model x metric per fraction."""
    models = tuple(models) + (FLOOR,)
    rows = pd.read_csv(metrics_csv)
    rows = rows[(rows["experiment"] == "labels") & rows["method"].isin(list(models))]
    s = summarise(rows, ["labelled_pct", "method", "metric"])
    outdir = Path(outdir)
    with atomic_output(outdir / "figure3.csv", suffix=".csv") as tmp:
        s.to_csv(tmp, index=False)
    display = []
    for pct in sorted(s["labelled_pct"].unique(), reverse=True):
        for method in models:
            d = s[(s["labelled_pct"] == pct) & (s["method"] == method)]
            if d.empty:
                continue
            cells = {r.metric: _fmt(r.mean, r.std, r.n) for r in d.itertuples()}
            display.append([f"{pct:g} %", label(method)] + [cells.get(m, "×") for m in SEGMENTATION + REGRESSION])
    frame = pd.DataFrame(display, columns=["labelled", "model"] + [METRIC_LABEL[m] for m in SEGMENTATION + REGRESSION])
    write_text(outdir / "figure3.md", f"# Figure 3 (numbers): metrics vs labelled fraction\n\n{run_facts}\n\n"
               f"{frame.to_markdown(index=False)}\n\nMean ± std over n replicates, on the test area. × = the model has no "
               f"such head. {FLOOR_NOTE}\n")


FLOOR_NOTE = ("The floor needs no network: a threshold on box-filtered log-intensity (box size, side and threshold "
              "tuned for F1 on the same labelled patches each seed's networks train on) and, inside its mask, one "
              "height, the labelled footprints' median (restorebench.methods.threshold_segmenter); every model a "
              "claim favours must beat it (claims.md).")


def despeckling_table(metrics_csv: Path, outdir: Path, run_facts: str = "") -> None:
    """PSNR, SSIM (dB reflectivity) on the test area and ENL on a flat patch, per despeckler (ours, not the paper's)."""
    rows = pd.read_csv(metrics_csv)
    rows = rows[rows["experiment"] == "despeckling"]
    display = []
    for method in [m for m in DESPECKLER_LABELS if m in set(rows["method"])]:
        d = rows[rows["method"] == method].set_index("metric")["value"]
        scale = rows[rows["method"] == method].get("amplitude_scale")
        note = f"× {float(scale.iloc[0]):.3g}" if scale is not None and scale.notna().any() else ""
        display.append([DESPECKLER_LABELS[method], f"{d.get('psnr', np.nan):.2f}", f"{d.get('ssim', np.nan):.3f}",
                        f"{d.get('enl', np.nan):.1f}", note])
    frame = pd.DataFrame(display, columns=["despeckler", "PSNR dB", "SSIM", "ENL", "input amplitude scale"])
    notes = ("Not in the paper (ours). PSNR and SSIM on 10 log10(reflectivity) of the test area against the true "
             "reflectivity (data range: that of the truth); ENL = mean² / variance on a 128 × 128 patch of constant "
             "reflectivity with its own speckle (one look: ENL 1), 8-pixel border excluded. The authors' released "
             "models expect TerraSAR-X / Sentinel-1 amplitudes: the simulated SLC is multiplied by the factor in the "
             "last column, chosen among 10^(k/4), k = −4…16, for the best PSNR on a training-area crop (never on the "
             "test area), and their estimate divided by its square; their own normalisation constants are kept.")
    title = "Despeckling on the simulated urban scene"
    outdir = Path(outdir)
    write_text(outdir / "despeckling.md", f"# {title}\n\n{run_facts}\n\n{frame.to_markdown(index=False)}\n\n{notes}\n")
    write_text(outdir / "despeckling.html", f"<h3>{title}</h3><p>{run_facts}</p>{frame.to_html(index=False, border=0)}"
               f"<p>{notes}</p>\n")


def figure2(truth: dict, examples: dict[str, Path], output: Path, title: str) -> None:
    """Rows: SLC amplitude / despeckled / true reflectivity; building masks; heights -- truth, baselines, multitask.

    ``examples`` maps "<model>@<pct>" to that model's example crop (npz with probability / height / reflectivity).
    """
    plt = pyplot()
    data = {k: load_npz(p) for k, p in examples.items()}
    ref_db = 10 * np.log10(np.percentile(truth["reflectivity"], 99))
    def db(x):
        return 10 * np.log10(np.maximum(x, 1e-6))
    despeckled = [(k, v["reflectivity"]) for k, v in data.items() if "reflectivity" in v]
    masks = [(k, v["probability"] >= 0.5) for k, v in data.items() if "probability" in v]
    heights = [(k, v["height"]) for k, v in data.items() if "height" in v]
    rows = [[("SLC amplitude² (dB)", db(truth["amplitude"] ** 2), "db"), ("true reflectivity (dB)", db(truth["reflectivity"]), "db")]
            + [(f"{_name(k)} despeckled", db(v), "db") for k, v in despeckled],
            [("building mask (truth)", truth["mask"], "mask")] + [(_name(k), v, "mask") for k, v in masks],
            [("height (truth, m)", truth["height"], "height")] + [(_name(k), v, "height") for k, v in heights]]
    ncol = max(len(r) for r in rows)
    fig, axes = plt.subplots(3, ncol, figsize=(2.3 * ncol, 7.2), squeeze=False)
    hmax = max(1.0, float(truth["height"].max()))
    for r, panels in enumerate(rows):
        for c in range(ncol):
            ax = axes[r, c]
            ax.axis("off")
            if c >= len(panels):
                continue
            name, image, kind = panels[c]
            if kind == "db":
                ax.imshow(image, cmap="gray", vmin=ref_db - 25, vmax=ref_db)
            elif kind == "mask":
                ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(image, cmap="viridis", vmin=0, vmax=hmax)
            ax.set_title(name, fontsize=7)
    fig.suptitle(f"{title} (rows: azimuth, columns: range, near range left)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)


def _name(key: str) -> str:
    model, _, pct = key.partition("@")
    return f"{label(model)}, {pct} % labels" if pct else label(model)


def s3_claims(fractions: list[float]) -> list[Claim]:
    """M1-M3 of SPEC S3 as paired cells (units = replicates, each scored on its own test area)."""
    low, high = min(fractions), max(fractions)
    differs = ("One simulated urban scene (flat-roofed buildings, one incidence angle) stands in for TerraSAR-X "
               "over Paris, and every model gets the same optimiser steps with labelled patches repeated to a "
               "share of each epoch (s3.labelled_share; docs/deviations.md): both favour the baselines against "
               "the paper's protocol, "
               "which gave them 100 epochs of their few labelled patches.")
    at_low = {"condition": f"{low:g}%"}
    at_high = {"condition": f"{high:g}%"}
    return [
        Claim("M1", f"at {low:g} % labels MERLIN-multitask beats both baselines on F1 and logRMSE",
              (Cell(f"F1 vs U-Net at {low:g} %", "f1", "multitask", "unet", at_low),
               Cell(f"logRMSE vs IM2HEIGHT at {low:g} %", "log_rmse", "multitask", "im2height", at_low)),
              note="The paper's claim is at 1 % labels; a run whose smallest fraction is larger uses that one.",
              if_contradicted=differs),
        Claim("M2", "the gap to the baselines grows as labels shrink",
              (Cell(f"F1 gap to U-Net, {low:g} % minus {high:g} %", "f1", "multitask", "unet", at_low, versus=at_high),
               Cell(f"logRMSE gap to IM2HEIGHT, {low:g} % minus {high:g} %", "log_rmse", "multitask", "im2height",
                    at_low, versus=at_high)),
              note=f"Effect = (multitask's paired advantage at {low:g} %) − (its paired advantage at {high:g} %); "
                   "the same replicates are run at both fractions, so the test is a sign test of the per-replicate "
                   "differences-in-differences.", if_contradicted=differs),
        Claim("M3", "adding the despeckling task improves segmentation and regression (Table 2 rows 4-6 vs 1-3)",
              (Cell("F1: S+D vs S", "f1", "mt-sd", "mt-s", at_low),
               Cell("logRMSE: R+D vs R", "log_rmse", "mt-rd", "mt-r", at_low),
               Cell("F1: S+R+D vs S+R", "f1", "multitask", "mt-sr", at_low),
               Cell("logRMSE: S+R+D vs S+R", "log_rmse", "multitask", "mt-sr", at_low)),
              note=f"At {low:g} % labels, as the paper's Table 2.", if_contradicted=differs),
    ]


def input_difficulty(rows: pd.DataFrame) -> list:
    """The unprocessed input's scores on the test area (no building, zero height): the paper prints none."""
    from ..report.claims import Difficulty

    unprocessed = rows[rows["method"] == INPUT]
    return [Difficulty(f"no building, zero height: {METRIC_LABEL[metric]}", float(values.mean()), None, True, 0.0)
            for metric, values in unprocessed.groupby("metric", sort=False)["value"]
            if metric in ("f1", "accuracy", "log_rmse", "rmse")]


def write_claims(metrics_csv: Path, outdir: Path, run_facts: str, scale: str, stats: StatsConfig = StatsConfig(),
                 training: Path | None = None) -> None:
    rows = pd.read_csv(metrics_csv)
    rows = rows[rows["experiment"] == "labels"]
    rows = _with_replicates(rows)
    fractions = sorted(rows["labelled_pct"].unique())
    write_study_claims(STUDY, rows, s3_claims(fractions), outdir, run_facts=run_facts, scale=scale, stats=stats,
                       preamble=CLAIMS_PREAMBLE, difficulty=input_difficulty(rows), training=training)


def training_table(weights: list[Path], metrics_csv: Path) -> pd.DataFrame:
    """S3's training table (report/training.py) from the weights results/s3/models/<model>/<pct>pct/seed<k>.pt;
    a network beats the unprocessed input when its F1 is above an all-background mask's (S head) and its
    logRMSE below zero height's (R head), on the test area at its fraction and seed (n/a for D alone)."""
    from ..report.training import weights_entry, with_input_check

    rows = pd.read_csv(metrics_csv)
    rows = rows[rows["experiment"] == "labels"]
    entries = []
    for p in weights:
        p = Path(p)
        pct = float(p.parent.name.removesuffix("pct"))
        entries.append(weights_entry(p, p.parent.parent.name, int(p.stem.removeprefix("seed")), f"{pct:g}%",
                                     {"condition": f"{pct:g}%"}))

    def beats(e):
        tasks = _tasks(e["network"])
        pct = float(e["condition"].rstrip("%"))
        at = rows[np.isclose(rows["labelled_pct"], pct) & (rows[REPLICATE] == e["seed"])]

        def score(method, metric):
            hit = at[(at["method"] == method) & (at["metric"] == metric)]["value"]
            return float(hit.mean()) if len(hit) else np.nan

        checks = []
        if "S" in tasks:
            checks.append((score(e["network"], "f1") > score(INPUT, "f1"), f"F1 {score(e['network'], 'f1'):.3f} vs "
                                                                          f"{score(INPUT, 'f1'):.3f} (all background)"))
        if "R" in tasks:
            checks.append((score(e["network"], "log_rmse") < score(INPUT, "log_rmse"),
                           f"logRMSE {score(e['network'], 'log_rmse'):.3f} vs {score(INPUT, 'log_rmse'):.3f} (zero height)"))
        if not checks or any(np.isnan(score(INPUT, "f1")) for _ in checks):
            return None, "no segmentation or regression head, or no input rows at this fraction"
        return all(ok for ok, _ in checks), "; ".join(note for _, note in checks)

    return with_input_check(entries, beats)
