"""S4 tables and figures, drawn from the collected tidy rows (results/s4/metrics.csv) only.

* :func:`figure5` -- heatmaps of mean SDR against the saturated fraction v (columns) and the model dimension
  d (rows), one per declipper, plus the self-supervised minus supervised difference; the same numbers as a
  table (mean ± std over the test signals).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import registry
from ..files import atomic_output, write_text
from ..report.plotting import pyplot, save_figure
from ..report.tables import mean_std
from ..studies import study
from ..tidy import REPLICATE

SELF_SUPERVISED, SUPERVISED, NAIVE = "mc-eq", "supervised", "nmc-eq"


STUDY = study("S4")
label = STUDY.label


def _grid(rows: pd.DataFrame, method: str) -> pd.DataFrame:
    """Mean SDR of ``method`` as a (d x v) frame, v in percent."""
    mine = rows[rows["method"] == method]
    table = mine.groupby(["d", "v"])["value"].mean().unstack("v")
    table.columns = [f"{100 * v:g}" for v in table.columns]
    return table.sort_index()


def figure5(metrics_csv: Path, output: Path, table: Path, run_facts: str = "") -> None:
    """Figure 5 (ours): mean SDR per (d, v) cell for each declipper of the run, and the difference
    self-supervised - supervised when both ran."""
    import seaborn as sns

    rows = pd.read_csv(metrics_csv)
    rows = rows[(rows["experiment"] == "figure5") & (rows["metric"] == "sdr")]
    if rows.empty:
        raise ValueError(f"{metrics_csv}: no Figure 5 rows (experiment 'figure5')")
    rows = rows.assign(d=rows["d"].astype(int))    # a float column in the csv: other experiments leave it empty
    methods = [m for m in registry.names("S4", "declipper") if m in set(rows["method"])]
    panels = [(label(m), _grid(rows, m), "viridis", None) for m in methods]
    if SELF_SUPERVISED in methods and SUPERVISED in methods:
        panels.append((f"{label(SELF_SUPERVISED)} − {label(SUPERVISED)}",
                       _grid(rows, SELF_SUPERVISED) - _grid(rows, SUPERVISED), "RdBu", 0.0))
    # one colour scale for the methods; the model-aware ceiling (exact recovery: 100+ dB) would crush it
    scaled = [g for (title, g, _, c), m in zip(panels, methods + [None]) if c is None
              and (m is None or registry.get("S4", "declipper", m).paper != "oracle")] or [panels[0][1]]
    vmin = min(float(np.nanmin(g.values)) for g in scaled)
    vmax = max(float(np.nanmax(g.values)) for g in scaled)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.2), squeeze=False)
    for ax, (title, grid, cmap, centre) in zip(axes[0], panels):
        limits = {"center": centre} if centre is not None else {"vmin": vmin, "vmax": vmax}
        sns.heatmap(grid, annot=True, fmt=".1f", cmap=cmap, ax=ax, cbar=True, annot_kws={"fontsize": 7}, **limits)
        ax.set_xlabel("saturated samples v (%)")
        ax.set_ylabel("model dimension d")
        ax.set_title(title, fontsize=8)
    fig.suptitle("Figure 5 (ours): mean SDR (dB) on sparse-DCT test signals", fontsize=9)
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)

    summary = (rows.groupby(["method", "d", "v"])["value"].agg(["mean", "std", "count"]).reset_index())
    summary["method"] = summary["method"].map(label)
    summary["v"] = (100 * summary.pop("v")).map(lambda v: f"v = {v:g} %")
    display = summary.assign(SDR=[mean_std(m, s) for m, s in zip(summary["mean"], summary["std"])])
    display = display.pivot_table(index=["method", "d"], columns="v", values="SDR", aggfunc="first",
                                  sort=False).reset_index()
    with atomic_output(Path(table).with_suffix(".csv"), suffix=".csv") as tmp:
        summary.to_csv(tmp, index=False)
    write_text(Path(table), "# Figure 5 (ours): mean SDR (dB) ± std over test signals, per model dimension d and "
                            f"saturated fraction v\n\n{run_facts}\n\n{display.to_markdown(index=False)}\n\n"
                            f"Signals: exactly d-sparse in the DCT (sparse-dct), each clipped at its own threshold "
                            f"for the fraction v; n = {int(summary['count'].min())} test signals per cell.\n")


# ------------------------------------------------------------------------------------ music table

def music_table(metrics_csv: Path, table: Path, run_facts: str = "") -> None:
    """SDR and Delta SDR (SDR(x_hat) - SDR(y)), mean ± std over recordings, per data role, fraction v and
    declipper; the long form (mean, std, n) goes to the .csv beside the .md."""
    rows = pd.read_csv(metrics_csv)
    rows = rows[rows["experiment"] == "music"]
    if rows.empty:
        raise ValueError(f"{metrics_csv}: no music rows (experiment 'music')")
    order = {m: k for k, m in enumerate(registry.names("S4", "declipper"))}
    summary = rows.groupby(["domain", "dataset", "v", "method", "metric"])["value"].agg(["mean", "std", "count"])
    summary = summary.reset_index()
    with atomic_output(Path(table).with_suffix(".csv"), suffix=".csv") as tmp:
        summary.to_csv(tmp, index=False)
    parts = []
    for (domain, dataset), part in summary.groupby(["domain", "dataset"], sort=False):
        cells = part.assign(text=[mean_std(m, s) for m, s in zip(part["mean"], part["std"].fillna(0))])
        wide = cells.pivot_table(index=["v", "method"], columns="metric", values="text", aggfunc="first").reset_index()
        wide["order"] = wide["method"].map(order)
        wide = wide.sort_values(["v", "order"])
        wide.insert(0, "v", (100 * wide.pop("v")).map(lambda v: f"{v:g} %"))
        wide["method"] = wide["method"].map(label)
        names = {"sdr": "SDR (dB)", "delta_sdr": "ΔSDR (dB)", "sdr_raw": "SDR of the raw output (dB)"}
        wide = wide.rename(columns=names)
        wide = wide[["v", "method", *[name for name in names.values() if name in wide]]]
        n = int(part["count"].min())
        chosen = rows[(rows["domain"] == domain) & (rows["dataset"] == dataset)]
        replicates = chosen[REPLICATE].nunique() if REPLICATE in chosen.columns else 0
        heading = dataset if domain == dataset else f"{domain}: {dataset}"
        count = (f"{n // replicates} recordings × {replicates} replicates" if replicates > 1 and n % replicates == 0
                 else f"{n} recordings")
        parts.append(f"## {heading} ({count})\n\n{wide.to_markdown(index=False)}\n")
    write_text(Path(table), "# Music table (ours): SDR and ΔSDR = SDR(x̂) − SDR(y) per saturated fraction v, "
                            "mean ± std over test recordings × replicates"
                            f"\n\n{run_facts}\n\n" + "\n".join(parts)
               + "\nEach recording is clipped at its own threshold for the fraction v. Every declipper's estimate "
                 "x̂ is consistent with the measurement, as the declip tool returns it: its raw output with the "
                 "reliable samples set back to y and the saturated ones pushed to at least the clip level (P_Γ); "
                 "SDR and ΔSDR score x̂ (so do the claims), and the SDR of the raw output shows how much a "
                 "network's own output strayed on the samples it should have kept. "
               + source_clipping_note(rows)
               + "The paper's numbers are not public (only its abstract and figure captions are).\n")


def source_clipping_note(rows: pd.DataFrame) -> str:
    """A sentence on test recordings already clipped in the source (their 'clean' reference is clipped too,
    which caps the SDR any declipper can reach), or '' when none is."""
    if "source_clipping" not in rows:
        return ""
    per_item = rows.groupby(["dataset", "item"])["source_clipping"].max()
    clipped = per_item[per_item > 0]
    if clipped.empty:
        return ""
    return (f"{len(clipped)} of {len(per_item)} test recordings are already clipped in the source "
            f"({100 * clipped.max():.2f} % of samples on the peak at most); their reference is scored as given. ")


def example_figure(example: Path, output: Path, method: str = SELF_SUPERVISED) -> None:
    """Clean / clipped / restored: a waveform close-up around the longest clipped run, and spectrograms."""
    import scipy.signal

    from ..files import load_npz
    from ..physics.clipping import saturation_mask

    kept = load_npz(example)
    clean, clipped, restored = kept["clean"], kept["clipped"], kept["restored"]
    mask = saturation_mask(clipped, float(np.max(np.abs(clipped)))) > 0
    centre = int(np.argmax(np.convolve(mask.astype(float), np.ones(64), mode="same")))
    lo = max(0, centre - 200)
    window = slice(lo, min(clean.size, lo + 400))
    plt = pyplot()
    fig = plt.figure(figsize=(10, 6))
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 1.1])
    ax = fig.add_subplot(grid[0, :])
    t = np.arange(clean.size)[window]
    ax.plot(t, clean[window], color="black", lw=1.1, label="clean")
    ax.plot(t, clipped[window], color="0.6", lw=1.0, label="clipped")
    ax.plot(t, restored[window], color="tab:blue", lw=1.0, ls="--", label=label(method))
    ax.set_xlabel("sample (16 kHz)")
    ax.legend(fontsize=7, ncol=3)
    ax.set_title(f"{kept['dataset']}: waveform around the longest clipped stretch, v = {100 * float(kept['v']):g} %",
                 fontsize=8)
    for k, (name, signal) in enumerate((("clean", clean), ("clipped", clipped), (label(method), restored))):
        ax = fig.add_subplot(grid[1, k])
        f, frames, spec = scipy.signal.spectrogram(signal, fs=16000, nperseg=512, noverlap=384)
        ax.pcolormesh(frames, f / 1000, 10 * np.log10(spec + 1e-10), vmin=-110, vmax=-20, shading="auto")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("kHz" if k == 0 else "")
    fig.suptitle("Example (ours): clean, clipped and restored", fontsize=9)
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)


# ------------------------------------------------------------------------------------ Figure 3 toy

def toy_figure(examples: Path, output: Path, objective: str = SELF_SUPERVISED) -> None:
    """Paper Figure 3 (ours): one test signal (top) and the same signal divided by 10 (bottom): clean,
    clipped, and the reconstructions of the bias-free and the biased network."""
    from ..files import load_npz

    kept = load_npz(examples)
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(8, 4.6), squeeze=False)
    for ax, scale in zip(axes[:, 0], ("1", "0.1")):
        ax.plot(kept[f"scale{scale}_clean"], color="black", lw=1.2, label="clean x")
        ax.plot(kept[f"scale{scale}_y"], color="0.6", lw=1.0, label="clipped y")
        ax.plot(kept[f"scale{scale}_free"], color="tab:blue", lw=1.0, ls="--", label="bias-free network")
        ax.plot(kept[f"scale{scale}_biased"], color="tab:orange", lw=1.0, ls=":", label="network with biases")
        ax.set_title(f"signal × {scale}", fontsize=8)
        ax.set_xlabel("sample")
        ax.legend(fontsize=6, ncol=4, loc="lower right")
    fig.suptitle(f"Figure 3 (ours): {label(objective)} trained on signals of peak 1, with and without biases",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)


# ------------------------------------------------------------------------------------ claims

CLAIMS_PREAMBLE = ("Items are test signals: every method of a comparison is scored on the same clipped signals "
                   "(paired by signal and, where several fractions are pooled, by v).")


#: the bias-free toy network's scores on the × 1 signals, set beside its ÷ 10 scores (the construction check)
AT_UNIT = " at ×1"


def with_unit_scale_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows plus, for every toy network, its scale=1 scores relabelled as method "<name> at ×1" under
    condition scale=0.1: so that a cell can pair a network on the ÷ 10 signals with itself on the same
    signals × 1 (D3's construction check)."""
    toy = rows[(rows["experiment"] == "toy") & (rows["condition"] == "scale=1")].copy()
    toy["method"] = toy["method"] + AT_UNIT
    toy["condition"] = "scale=0.1"
    return pd.concat([rows, toy], ignore_index=True)


def s4_claims(rows: pd.DataFrame, margin_db: float = 1.0) -> list:
    from ..report.verdicts import Cell, Claim

    from .declipping import BIASED_SUFFIX

    claims = []
    differs = ("Only the paper's abstract and figure captions are public, so its network, training and data are "
               "our reading (docs/deviations.md); the music set is the embedded stand-in (soundfont ensemble, "
               "synthetic speech at 16 kHz) and below paper scale the clips are shorter and the U-Net narrower "
               "and trained for fewer epochs (this run's: the run facts above).")
    music = rows[rows["experiment"] == "music"]
    methods = set(music["method"])
    fractions = sorted(music["v"].unique()) if not music.empty else []
    if {SELF_SUPERVISED, SUPERVISED} <= methods:
        claims.append(Claim(
            "D1", f"self-supervised declipping approaches the supervised network (within {margin_db:g} dB of SDR)",
            tuple(Cell(f"SDR at v = {100 * v:g} %: self-supervised − supervised > −{margin_db:g} dB", "sdr",
                       SELF_SUPERVISED, SUPERVISED, {"experiment": "music", "v": v}, margin=-margin_db)
                  for v in fractions),
            note="'Approaches' is read as: not more than the margin (config s4.d1_margin_db) below the supervised "
                 "network; the effect is the mean paired SDR difference (negative = the supervised network is "
                 "better).", if_contradicted=differs))
    if {SELF_SUPERVISED, NAIVE} <= methods:
        claims.append(Claim(
            "D2", "the self-supervised loss (L_MC + L_EQ) beats the naive L_NMC training",
            tuple(Cell(f"SDR at v = {100 * v:g} %: L_MC + L_EQ vs L_NMC + L_EQ", "sdr", SELF_SUPERVISED, NAIVE,
                       {"experiment": "music", "v": v}) for v in fractions),
            note="Both trained alike, with the same equivariance term; only the consistency term differs.",
            if_contradicted=differs))
    toy = rows[rows["experiment"] == "toy"]
    if not toy.empty:
        free = sorted(m for m in set(toy["method"]) if not m.endswith(BIASED_SUFFIX) and not m.endswith(AT_UNIT))[0]
        biased = free + BIASED_SUFFIX
        claims.append(Claim(
            "D3", "a network with biases fails under amplitude rescaling where a bias-free one does not (Fig. 3 toy)",
            (Cell("SDR drop from × 1 to ÷ 10: biased drops more", "sdr", free, biased,
                  {"experiment": "toy", "condition": "scale=0.1"},
                  versus={"experiment": "toy", "condition": "scale=1"}),
             Cell("bias-free network: SDR on signals ÷ 10 vs the same signals × 1", "sdr", free, free + AT_UNIT,
                  {"experiment": "toy", "condition": "scale=0.1"}, margin=-0.1, construction=True)),
            note="Both networks trained alike on signals of peak 1. The verdict rests on the first cell: the "
                 "bias-free network's advantage on the ÷ 10 signals minus its advantage on the × 1 signals, on the "
                 "same signals (per-signal, or per-seed, differences-in-differences) — since the bias-free network "
                 "keeps its SDR exactly, this is the biased network's drop. The second cell holds by "
                 "construction: a bias-free network with a scale-invariant saturation threshold is exactly "
                 "homogeneous (f(y/10) = f(y)/10 up to float rounding, with any weights), so it is shown as a "
                 "construction check, not evidence.",
            if_contradicted=differs))
    return claims


def input_difficulty(rows: pd.DataFrame) -> list:
    """The clipped input's SDR per dataset and saturated fraction of the music table on this run (the paper
    publishes no table)."""
    from ..report.claims import Difficulty

    clipped = rows[(rows["experiment"] == "music") & (rows["method"] == "clipped") & (rows["metric"] == "sdr")]
    return [Difficulty(f"clipped {dataset} at v = {100 * v:g} %, SDR (dB)", float(values.mean()), None, True, 0.0)
            for (dataset, v), values in clipped.groupby(["dataset", "v"])["value"]]


def write_claims(metrics_csv: Path, outdir: Path, run_facts: str, scale: str, stats=None,
                 margin_db: float = 1.0, training: Path | None = None) -> None:
    from ..report.claims import write_study_claims
    from ..report.verdicts import StatsConfig, mark_replicates
    from .declipping import BIASED_SUFFIX

    stats = stats or StatsConfig()

    rows = pd.read_csv(metrics_csv)
    trained = {m.name for m in registry.methods("S4", "declipper") if m.trained}
    # the toy's networks are trained too, with and without biases
    trained |= {m for m in set(rows.loc[rows["experiment"] == "toy", "method"])}
    rows = with_unit_scale_rows(mark_replicates(rows, trained | {m + BIASED_SUFFIX for m in trained}))
    write_study_claims(STUDY, rows, s4_claims(rows, margin_db), outdir, run_facts=run_facts, scale=scale,
                       stats=stats, preamble=CLAIMS_PREAMBLE, difficulty=input_difficulty(rows), training=training)


#: what an S4 network's validation loss is (methods.declipping.held_out_error), for the training table
VALIDATION_WORDS = ("every S4 network alike, self-supervised ones included: the mean ||x_hat - x||^2 / ||x||^2 of "
                    "its consistent estimate on held-out recordings (music) or fresh signals of the same model "
                    "(Figure 5, toy) against their clean references, which its training never sees; it says only "
                    "when training stopped improving: the weights kept are the last epoch's")


def training_table(weights: list[Path], toy_examples: list[Path], metrics_csv: Path) -> pd.DataFrame:
    """S4's training table (report/training.py): the music networks (results/s4/models/music/<method>/seed<k>.pt),
    Figure 5's (results/s4/models/figure5/<method>/d<d>/v<v>.pt) and the toy's two networks (their curves kept
    in results/s4/toy/seed<k>.examples.npz). A network beats the unprocessed input when its median SDR gain
    over the clipped input, signal by signal, is positive at every dataset and saturated fraction (the toy's
    rows have no clipped input: n/a)."""
    from ..files import load_npz
    from ..report.training import entry, weights_entry, with_input_check
    from .declipping import BIASED_SUFFIX

    rows = pd.read_csv(metrics_csv)
    sdr = rows[rows["metric"] == "sdr"]
    entries = []
    for p in map(Path, weights):
        if p.stem.startswith("v"):                     # figure5/<method>/d<d>/v<v>.pt
            d, v = int(p.parent.name[1:]), float(p.stem[1:])
            entries.append(weights_entry(p, p.parent.parent.name, load_seed(p), f"Figure 5 d={d} v={v:g}",
                                         {"experiment": "figure5", "d": d, "v": v}))
        else:                                          # music/<method>/seed<k>.pt
            entries.append(weights_entry(p, p.parent.name, int(p.stem.removeprefix("seed")), "music",
                                         {"experiment": "music"}))
    for p in map(Path, toy_examples):
        kept = load_npz(p)
        seed = int(p.name.split(".")[0].removeprefix("seed"))
        objective = str(kept["objective"]) if "objective" in kept else "toy"
        for side, suffix in (("free", ""), ("biased", BIASED_SUFFIX)):
            if f"history_{side}" in kept:
                entries.append(entry(objective + suffix, seed, "toy", {"experiment": "toy"}, kept[f"history_{side}"],
                                     kept[f"validation_{side}"], int(kept.get(f"steps_{side}", 0))))

    def beats(e):
        where = e["applies_to"]
        if where.get("experiment") == "toy":
            return None, "the toy scores no clipped input"
        chosen = sdr[sdr["experiment"] == where["experiment"]]
        for key in ("d", "v"):
            if key in where:
                chosen = chosen[np.isclose(chosen[key].astype(float), float(where[key]))]
        if REPLICATE in chosen.columns and where["experiment"] == "music":
            # the network's replicate: its recordings, and the clipped input of those recordings
            chosen = chosen[chosen[REPLICATE] == e["seed"]]
        net = chosen[chosen["method"] == e["network"]]
        keys = [k for k in ("dataset", "item", "v") if k in chosen.columns]
        gain = (net.set_index(keys)["value"] - chosen[chosen["method"] == "clipped"].set_index(keys)["value"]).dropna()
        if gain.empty:
            return None, "no clipped-input rows to compare with"
        # at every dataset and saturated fraction on its own: a pooled gain hid a network below its input at
        # low v on music (the cells of D1 and D2 are per v)
        by_group = gain.groupby(level=[k for k in ("dataset", "v") if k in keys]).median()
        worst = by_group.idxmin() if isinstance(by_group.idxmin(), tuple) else (by_group.idxmin(),)
        worst = ", ".join(f"v = {100 * float(x):g} %" if not isinstance(x, str) else x for x in worst)
        return bool((by_group > 0).all()), (f"median SDR gain over the clipped input, worst at {worst}: "
                                            f"{float(by_group.min()):+.2f} dB ({int((by_group <= 0).sum())} of "
                                            f"{len(by_group)} dataset/fraction groups at or below it)")

    return with_input_check(entries, beats)


def load_seed(path: Path) -> int:
    """The training seed a weights file records (0 when it predates the record)."""
    from ..methods.training import load_weights

    return int(load_weights(path).get("seed", 0))
