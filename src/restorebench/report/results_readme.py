"""results/README.md: what this run was, what it produced, and which claims held."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..files import write_text
from .claims import smoke_text
from .verdicts import CONSTRUCTION_CHECK, OUTCOMES, row_label


def verdict_summary(verdicts: pd.DataFrame) -> list[str]:
    """Markdown table rows, one per claim, from a study's tidy verdict rows (``verdicts.csv``)."""
    lines = []
    for claim, cells in verdicts.groupby("claim", sort=False):
        first = cells.iloc[0]
        counts = cells["outcome"].value_counts()
        outcome = "; ".join(f"{counts[k]} of {len(cells)} cells {k}" for k in (*OUTCOMES, CONSTRUCTION_CHECK)
                            if k in counts)
        verdict = row_label(first)
        population = first.get("population", ", ".join(sorted(set(cells["n_detail"].astype(str)))))
        decision = first.get("decision", "")
        statement = first["statement"] + (" — *the suite's question, not the paper's*"
                                          if first.get("origin") == "suite" else "")
        lines.append(f"| {claim} | {statement} | **{verdict}** | {population} | {first['scale']} "
                     f"| {outcome}. {decision} |")
    return lines


def job_times(benchmarks: list[Path]) -> pd.DataFrame:
    """Wall time per rule from Snakemake's benchmark TSVs (``results/benchmarks/<rule>/...tsv``)."""
    rows = []
    for path in benchmarks:
        parts = Path(path).parts
        rule = parts[parts.index("benchmarks") + 1] if "benchmarks" in parts else Path(path).stem
        seconds = pd.read_csv(path, sep="\t")["s"]
        rows.append({"rule": rule, "seconds": float(seconds.iloc[-1])})
    frame = pd.DataFrame(rows, columns=["rule", "seconds"])
    return frame.groupby("rule")["seconds"].agg(jobs="count", total_s="sum", mean_s="mean", max_s="max").reset_index()


def write_results_readme(output: Path, s2_metrics_csv: Path, claims: list[Path], verdicts: list[Path],
                         tables: list[Path], figures: list[Path], run_facts: str,
                         benchmarks: list[Path] = ()) -> None:
    base = output.parent.resolve()

    def rel(p: Path) -> Path:
        p = Path(p).resolve()
        return p.relative_to(base) if p.is_relative_to(base) else p

    metrics = pd.read_csv(s2_metrics_csv)
    fits = metrics[metrics["stopping"] != "none"].drop_duplicates(["task", "dataset", "method", "item"])
    scales = {str(x) for table in verdicts for x in pd.read_csv(table)["scale"].dropna().unique()}
    smoke = next((smoke_text(x) for x in sorted(scales) if smoke_text(x)), "")
    lines = ["# Results of this run", "", *([smoke, ""] if smoke else []), run_facts, "",
             f"S2 fits: {len(fits)} (task × dataset × prior × clip), {fits['wall_seconds'].sum() / 60:.1f} "
             f"minutes of fitting (wall time summed over the fits) on "
             f"{', '.join(sorted(set(fits['device'].astype(str))))}.", ""]
    if len(claims) != len(verdicts):
        raise ValueError("give one verdicts.csv per claims page")
    for page, table in zip(claims, verdicts):
        title = Path(page).read_text().splitlines()[0].lstrip("# ").strip()
        lines += [f"## {title}", "", "| claim | statement | verdict | population | scale | cells |",
                  "|---|---|---|---|---|---|", *verdict_summary(pd.read_csv(table)), "",
                  f"Details: [{rel(page)}]({rel(page)}); every cell's effect, interval and p-value: "
                  f"[{rel(table)}]({rel(table)})", ""]
    lines += ["## Tables", ""] + [f"- [{rel(t)}]({rel(t)})" for t in tables if str(t).endswith(".md")]
    lines += ["", "## Figures", ""] + [f"- [{rel(f)}]({rel(f)})" for f in figures]
    if benchmarks:
        times = job_times(benchmarks)
        lines += ["", "## Job times of this run", "",
                  "Wall seconds per job from Snakemake's benchmark files (`benchmarks/`): what a larger scale "
                  "can be extrapolated from.", "", times.to_markdown(index=False, floatfmt=".1f")]
    lines += ["", "Every number above comes from the tidy rows of this run (`s{1,2,3,4}/metrics.csv`). "
              "Simulated and stand-in data carry their own names; oracle-stopped values are marked †.", ""]
    write_text(output, "\n".join(lines))


def _rst_text(value: object) -> str:
    """``value`` as plain reStructuredText: inline markup characters escaped, so a statement such as
    "|x|_1" or "*not* significant" reads as written."""
    text = str(value)
    for char in "\\*`_|":
        text = text.replace(char, "\\" + char)
    return text


def write_report_landing(output: Path, prose: Path, claims: list[Path], verdicts: list[Path]) -> None:
    """The HTML report's landing page (reStructuredText that ``snakemake --report`` renders, Jinja and all):
    the workflow's prose (``workflow/report/workflow.rst``) followed by one table per study of its claims,
    each with its verdict, population and the cell that decides it (:func:`reference.claim_summaries`), so a
    reader of the report sees which claims held without opening a results file."""
    from .reference import claim_summaries

    if len(claims) != len(verdicts):
        raise ValueError("give one verdicts.csv per claims page")
    lines = [Path(prose).read_text().rstrip(), "", "Which claims held", "-----------------", "",
             "Each study's claims at this run's scale. The claims pages (under each study's category) give every "
             "cell's effect, interval and p-value and how many items would decide an inconclusive claim.", ""]
    for page, table in zip(claims, verdicts):
        title = Path(page).read_text().splitlines()[0].lstrip("# ").strip()
        lines += [f".. list-table:: {_rst_text(title)}", "   :header-rows: 1", "   :widths: 6 34 20 15 25", "",
                  "   * - claim", "     - statement", "     - verdict", "     - population",
                  "     - the cell that decides it, or comes nearest"]
        for c in claim_summaries(table):
            lines += [f"   * - {_rst_text(c['claim'])}", f"     - {_rst_text(c['statement'])}",
                      f"     - **{_rst_text(c['label'])}**", f"     - {_rst_text(c['population'])}",
                      f"     - {_rst_text(c['deciding'])}"]
        lines.append("")
    write_text(output, "\n".join(lines))
