"""results/README.md: what this run was, what it produced, and which claims held."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..audio_io import write_text


def write_results_readme(output: Path, metrics_csv: Path, claims_md: Path, tables: list[Path],
                         figures: list[Path], run_facts: str, benchmark: Path | None = None) -> None:
    metrics = pd.read_csv(metrics_csv)
    fits = metrics[metrics["method"] != "input"].drop_duplicates(
        ["task", "dataset", "method", "item"])
    wall = fits["wall_seconds"].sum()
    base = output.parent
    rel = lambda p: Path(p).resolve().relative_to(base.resolve()) if Path(p).resolve().is_relative_to(
        base.resolve()) else Path(p)
    claims = Path(claims_md).read_text()
    summary_rows = [line for line in claims.splitlines() if re.match(r"\| A\d ", line)]
    lines = ["# Results of this run", "", run_facts, "",
             f"Fits: {len(fits)} (task × dataset × prior × clip), {wall / 60:.1f} CPU-minutes of fitting "
             f"on {', '.join(sorted(set(fits['device'].astype(str))))}.", "",
             "## S2 deep audio priors — claims", "",
             "| claim | statement | verdict | summary |", "|---|---|---|---|", *summary_rows, "",
             f"Details: [{rel(claims_md)}]({rel(claims_md)})", "", "## Tables", ""]
    lines += [f"- [{rel(t)}]({rel(t)})" for t in tables if str(t).endswith(".md")]
    lines += ["", "## Figures", ""]
    lines += [f"- [{rel(f)}]({rel(f)})" for f in figures]
    lines += ["", "Every number above comes from `s2/metrics.csv` of this run (tidy rows, one per clip, "
              "stopping rule and metric). Stand-in datasets carry their own names; oracle-stopped values "
              "are marked †.", ""]
    write_text(output, "\n".join(lines))
