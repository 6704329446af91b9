"""results/README.md: what this run was, what it produced, and which claims held."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..audio_io import write_text


def write_results_readme(output: Path, s2_metrics_csv: Path, claims: list[Path], tables: list[Path],
                         figures: list[Path], run_facts: str, benchmark: Path | None = None) -> None:
    base = output.parent.resolve()

    def rel(p: Path) -> Path:
        p = Path(p).resolve()
        return p.relative_to(base) if p.is_relative_to(base) else p

    metrics = pd.read_csv(s2_metrics_csv)
    fits = metrics[metrics["method"] != "input"].drop_duplicates(["task", "dataset", "method", "item"])
    lines = ["# Results of this run", "", run_facts, "",
             f"S2 fits: {len(fits)} (task × dataset × prior × clip), {fits['wall_seconds'].sum() / 60:.1f} "
             f"CPU-minutes of fitting on {', '.join(sorted(set(fits['device'].astype(str))))}.", ""]
    for page in claims:
        text = Path(page).read_text()
        title = text.splitlines()[0].lstrip("# ").strip()
        rows = [line for line in text.splitlines() if re.match(r"\| [A-Z]\d ", line)]
        lines += [f"## {title}", "", "| claim | statement | verdict | summary |", "|---|---|---|---|", *rows, "",
                  f"Details: [{rel(page)}]({rel(page)})", ""]
    lines += ["## Tables", ""] + [f"- [{rel(t)}]({rel(t)})" for t in tables if str(t).endswith(".md")]
    lines += ["", "## Figures", ""] + [f"- [{rel(f)}]({rel(f)})" for f in figures]
    lines += ["", "Every number above comes from the tidy rows of this run (`s1/metrics.csv`, `s2/metrics.csv`). "
              "Simulated and stand-in data carry their own names; oracle-stopped values are marked †.", ""]
    write_text(output, "\n".join(lines))
