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
from ..audio_io import atomic_output, write_text
from ..report.plotting import pyplot, save_figure

SELF_SUPERVISED, SUPERVISED = "mc-eq", "supervised"


def label(method: str) -> str:
    return registry.label("S4", "declipper", method)


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
    methods = [m for m in registry.names("S4", "declipper") if m in set(rows["method"])]
    panels = [(label(m), _grid(rows, m), "viridis", None) for m in methods]
    if SELF_SUPERVISED in methods and SUPERVISED in methods:
        panels.append((f"{label(SELF_SUPERVISED)} − {label(SUPERVISED)}",
                       _grid(rows, SELF_SUPERVISED) - _grid(rows, SUPERVISED), "RdBu", 0.0))
    vmin = min(float(np.nanmin(g.values)) for _, g, _, c in panels if c is None)
    vmax = max(float(np.nanmax(g.values)) for _, g, _, c in panels if c is None)
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
    display = summary.assign(SDR=[f"{m:.2f} ± {s:.2f}" for m, s in zip(summary["mean"], summary["std"])])
    display = display.pivot_table(index=["method", "d"], columns="v", values="SDR", aggfunc="first",
                                  sort=False).reset_index()
    with atomic_output(Path(table).with_suffix(".csv"), suffix=".csv") as tmp:
        summary.to_csv(tmp, index=False)
    write_text(Path(table), "# Figure 5 (ours): mean SDR (dB) ± std over test signals, per model dimension d and "
                            f"saturated fraction v\n\n{run_facts}\n\n{display.to_markdown(index=False)}\n\n"
                            f"Signals: exactly d-sparse in the DCT (sparse-dct), each clipped at its own threshold "
                            f"for the fraction v; n = {int(summary['count'].min())} test signals per cell.\n")
