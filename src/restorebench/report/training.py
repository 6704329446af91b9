"""Trained means converged (SPEC "Findings, not artefacts"): each study's training table and curves, and the
claims cells that rest on a network not trained.

Every trained network's weights record its per-epoch training loss and, on a held-out validation split
drawn like its training data, the same loss or the study's validation loss (S4: the held-out declipping
error; methods/training.py). A network is **at a plateau** when its
validation loss's median over the last fifth of its epochs improved by less than 1 % on its median over
the fifth before (:func:`..methods.training.plateau`;
unknown with fewer than two epochs or no validation split), and it **beats the unprocessed input** when its
scores on the test set beat the input's, as each study defines it (S1: the image PSNR of the interfered
echoes; S3: an all-background mask and zero height; S4: the clipped input's SDR). A claim cell that uses a
network that is not at a plateau (or whose plateau is unknown) or that does not beat the input is not a
verdict: its claims page says which network and why (:func:`training_flag`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..files import atomic_output, write_text
from ..methods.training import PLATEAU_SCATTER_CAP, PLATEAU_TAIL, PLATEAU_TOLERANCE, load_weights, plateau, validation_scatter

#: the columns of tables/training.csv
COLUMNS = ("network", "seed", "condition", "applies_to", "epochs", "steps", "train_loss", "validation_loss",
           "validation_improvement", "validation_scatter", "plateau", "beats_input", "input_note")


def entry(network: str, seed: int, condition: str, applies_to: dict, history, validation, steps) -> dict:
    """One row of a training table from a network's recorded curves (plateau read off ``validation``)."""
    at_plateau, improvement = plateau(list(validation))
    return {"network": network, "seed": int(seed), "condition": condition,
            "applies_to": dict(applies_to), "epochs": len(history), "steps": int(steps),
            "train_loss": float(history[-1]) if len(history) else np.nan,
            "validation_loss": float(validation[-1]) if len(validation) else np.nan,
            "validation_improvement": improvement, "validation_scatter": validation_scatter(list(validation)),
            "plateau": {True: "yes", False: "no", None: "unknown"}[at_plateau],
            "history": [float(v) for v in history], "validation": [float(v) for v in validation]}


def weights_entry(path: Path, network: str, seed: int, condition: str = "", applies_to: dict | None = None) -> dict:
    """:func:`entry` of the weights file at ``path`` (written by methods.training.save_trained)."""
    state = load_weights(path)
    history = list(state.get("history", []))
    steps = state.get("steps", 0)
    return entry(network, seed, condition, applies_to or {}, history, list(state.get("validation", [])), steps)


def with_input_check(entries: list[dict], beats_input: Callable[[dict], tuple[bool | None, str]]) -> pd.DataFrame:
    """The training table: each entry with whether the network beats the unprocessed input (``beats_input``,
    the study's own rule: (yes / no / None for not applicable, and how it was measured))."""
    rows = []
    for e in entries:
        beats, note = beats_input(e)
        rows.append({**e, "beats_input": {True: "yes", False: "no", None: "n/a"}[beats], "input_note": note})
    return pd.DataFrame(rows, columns=list(COLUMNS) + ["history", "validation"])


#: what a validation loss is, unless the study says otherwise (``write_training``'s ``validation_words``)
OWN_LOSS_WORDS = ("the network's own loss on a held-out split drawn like its training data; a self-supervised "
                  "network never sees a clean reference there")


def write_training(table: pd.DataFrame, outdir: Path, title: str, run_facts: str = "",
                   validation_words: str = OWN_LOSS_WORDS) -> None:
    """tables/training.csv and .md, figures/training_curves.png of one study (``outdir``: results/sN);
    ``validation_words`` say what its validation loss is."""
    outdir = Path(outdir)
    with atomic_output(outdir / "tables" / "training.csv", suffix=".csv") as tmp:
        table[list(COLUMNS)].assign(applies_to=[json.dumps(a, sort_keys=True) for a in table["applies_to"]]).to_csv(
            tmp, index=False)
    shown = table[["network", "seed", "condition", "epochs", "steps", "train_loss", "validation_loss",
                   "validation_improvement", "validation_scatter", "plateau", "beats_input"]].copy()
    for column in ("validation_improvement", "validation_scatter"):
        shown[column] = [f"{100 * v:.2f} %" if np.isfinite(v) else "–" for v in shown[column]]
    notes = (f"Per trained network: optimiser steps, the last epoch's training loss and validation loss "
             f"({validation_words}), and how much the validation loss improved over the last "
             f"{100 * PLATEAU_TAIL:g} % of the epochs (its median there against its median over as many epochs before), and the "
             f"curve's epoch-to-epoch scatter over that stretch (median relative change; – with fewer than five "
             f"changes). **plateau** = improved by less than {100 * PLATEAU_TOLERANCE:g} % there, or by less "
             f"than the scatter when that is larger (up to {100 * PLATEAU_SCATTER_CAP:g} %): an improvement smaller "
             f"than one epoch's own jitter is not learning (unknown: fewer than two epochs, or no validation split). "
             f"**beats input** = its test scores beat the unprocessed input's (the note column of training.csv "
             f"says how). A claim cell that uses a network without a plateau or that does not beat the input is "
             f"not a verdict (claims.md).")
    write_text(outdir / "tables" / "training.md",
               f"# {title}: training\n\n{run_facts}\n\n{shown.to_markdown(index=False, floatfmt='.4g')}\n\n{notes}\n")
    _curves_figure(table, outdir / "figures" / "training_curves.png", title)


def _curves_figure(table: pd.DataFrame, output: Path, title: str) -> None:
    from .plotting import pyplot, save_figure

    plt = pyplot()
    groups = list(table.groupby(["network", "condition"], sort=False))
    cols = min(4, max(1, len(groups)))
    rows = int(np.ceil(len(groups) / cols)) if groups else 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    for ax, ((network, condition), runs) in zip(axes.flat, groups):
        for _, run in runs.iterrows():
            epochs = np.arange(1, len(run["history"]) + 1)
            line, = ax.plot(epochs, run["history"], lw=1, label=f"seed {run['seed']} train")
            if len(run["validation"]):
                ax.plot(epochs[:len(run["validation"])], run["validation"], lw=1, ls="--", color=line.get_color(),
                        label=f"seed {run['seed']} validation ({run['plateau']})")
        ax.set_title(f"{network} {condition}".strip(), fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=5)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle(f"{title}: training (solid) and validation (dashed) loss per epoch", fontsize=9)
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)


def read_training(path: Path | None) -> pd.DataFrame | None:
    """A study's tables/training.csv (None without one)."""
    if path is None:
        return None
    table = pd.read_csv(path)
    table["applies_to"] = table["applies_to"].map(json.loads)
    return table


def training_flag(table: pd.DataFrame | None, cells, label: Callable[[str], str] = str) -> str:
    """Why a claim's judged ``cells`` are not a verdict, from the training table: each network a cell uses
    (its better or worse method, in rows the cell selects) that is not at a plateau, or does not beat the
    unprocessed input; "" when none."""
    if table is None or table.empty:
        return ""
    problems: dict[tuple[str, str], list[int]] = {}
    for cell in cells:
        if cell.construction:
            continue
        for method in (cell.better, cell.worse):
            runs = table[table["network"] == method]
            for _, run in runs.iterrows():
                groups = [cell.where] + ([cell.versus] if cell.versus else [])
                if not any(all(str(g.get(k)) == str(v) for k, v in run["applies_to"].items()) for g in groups):
                    continue
                if run["plateau"] != "yes":
                    reason = "no plateau" if run["plateau"] == "no" else "plateau unknown"
                    problems.setdefault((method, reason), []).append(int(run["seed"]))
                if run["beats_input"] == "no":
                    problems.setdefault((method, "worse than the unprocessed input"), []).append(int(run["seed"]))
    if not problems:
        return ""
    by_method: dict[str, list[str]] = {}
    for (method, reason), seeds in problems.items():
        seeds = sorted(set(seeds))
        by_method.setdefault(method, []).append(
            f"{reason} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))})")
    return "not a verdict: " + "; ".join(f"{label(m)}: {', '.join(r)}" for m, r in by_method.items())
