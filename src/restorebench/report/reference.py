"""Publish a finished run as the suite's reference: its text results (and the claims figures) in one small
folder that ``restorebench compare-runs`` reads, with the facts a reader needs to trust it.

What is copied: ``README.md`` (the run's summary and job-time table), and per study ``claims.md``,
``verdicts.csv``, ``tables/*.md`` and ``tables/*.csv`` and ``figures/claims_effects.png``. Nothing else: no
weights, arrays or audio (the repository never carries data). ``RUN_FACTS.md`` records the commit, the date,
the machine, the threads and the wall time, summed over the run's segments when it was interrupted and
resumed (``wall_segments.tsv``, one ``start end`` pair of epoch seconds per segment, written by
``scripts/reference-run.sh``).
"""
from __future__ import annotations

import os
import platform
import shutil
from datetime import datetime, timezone
from pathlib import Path

STUDIES = ("s1", "s2", "s3", "s4")
PER_STUDY = ("claims.md", "verdicts.csv", "tables/*.md", "tables/*.csv", "figures/claims_effects.png")
MAX_BYTES = 2_000_000


def wall_seconds(segments: Path) -> tuple[float, int]:
    """(summed wall seconds, number of segments) of a ``start end`` per line file."""
    pairs = [line.split() for line in segments.read_text().splitlines() if line.strip()]
    return float(sum(float(end) - float(start) for start, end in pairs)), len(pairs)


def load_quotes() -> dict:
    """The papers' own statements per claim (``papers/claims.yaml``: claim -> {paper, quote, where, note})."""
    from importlib.resources import files

    import yaml

    source = files("restorebench") / "papers" / "claims.yaml"
    return yaml.safe_load(source.read_text()) if source.is_file() else {}


def publish_reference(results: Path, out: Path, *, commit: str, scale: str, cores: str,
                      segments: Path | None = None, readme: Path | None = None) -> list[Path]:
    """Copy the reference files of ``results`` to ``out`` (replacing what was there) and write RUN_FACTS.md.

    Raises FileNotFoundError when a study's claims or verdicts are missing (an unfinished run is not a
    reference) and ValueError when the copy would exceed 2 MB. Returns the files written."""
    results, out = Path(results), Path(out)
    missing = [f"{results / s / f}" for s in STUDIES for f in ("claims.md", "verdicts.csv")
               if not (results / s / f).is_file()]
    if missing or not (results / "README.md").is_file():
        raise FileNotFoundError(f"{results} is not a finished run: missing {', '.join(missing) or 'README.md'}")
    files = [results / "README.md"] + sorted(p for s in STUDIES for pattern in PER_STUDY
                                             for p in (results / s).glob(pattern))
    size = sum(p.stat().st_size for p in files)
    if size > MAX_BYTES:
        raise ValueError(f"{results}: the reference files come to {size / 1e6:.1f} MB, over the 2 MB a "
                         "published reference may take")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    written = []
    for source in files:
        target = staging / source.relative_to(results)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(out / source.relative_to(results))
    published = {str(f.relative_to(results)) for f in files}
    readme_copy = staging / "README.md"
    readme_copy.write_text(unlink_missing(readme_copy.read_text(), published))
    facts = ["# Run facts of this reference run", "",
             f"- scale: `{scale}`",
             f"- commit: `{commit}`",
             f"- published: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
             f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}, "
             f"Python {platform.python_version()}",
             f"- threads: Snakemake `--cores {cores}`; torch threads per job as each rule's `threads:` sets "
             "them (config `fit_threads` for S2 fits, 2 for S1 training, 1 elsewhere)"]
    if segments is not None and segments.is_file():
        seconds, n = wall_seconds(segments)
        facts.append(f"- wall time: {seconds / 60:.1f} minutes from a clean `results/`"
                     + (f", in {n} segments (interrupted and resumed)" if n > 1 else ""))
    facts += ["", "Regenerate with `make reference` (scripts/reference-run.sh); compare your own run with "
              "`restorebench compare-runs docs/results/standard results`."]
    (staging / "RUN_FACTS.md").write_text("\n".join(facts) + "\n")
    written.append(out / "RUN_FACTS.md")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    if readme is not None:
        link = os.path.relpath(out, Path(readme).parent)
        write_headline(Path(readme), headline_table(out, link, load_quotes()))
    return written


def unlink_missing(markdown: str, published: set[str]) -> str:
    """The run README's Markdown with every relative link to a file the reference does not carry (the run's
    other figures, its audio) turned into plain text naming it: a reader of the reference clicks nothing
    that is not there."""
    import re

    def keep(match):
        text, target = match.group(1), match.group(2)
        if "://" in target or target.startswith("#") or target.split("#")[0] in published:
            return match.group(0)
        return f"{text} (in the run's results, not published)"

    return re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)", keep, markdown)


HEADLINE_BEGIN = "<!-- headline: written by restorebench publish-reference; edits between the markers are lost -->"
HEADLINE_END = "<!-- /headline -->"


def _anchor(claim: str, statement: str, label: str) -> str:
    """GitHub's anchor of a claims page heading '## {claim}: {statement} — {label}'."""
    import re

    text = f"{claim}: {statement} — {label}".lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def claim_summaries(verdicts_csv: Path) -> list[dict]:
    """One dict per claim of a study's ``verdicts.csv``: claim, statement, label (verdict — reason),
    population, and the cell that decides it or comes nearest, as "cell: effect [interval] metric, n = ...".

    The deciding cell: for held the weakest cell (smallest effect beyond its threshold), for contradicted the
    one furthest the other way, otherwise the cell nearest to deciding (fewest units needed)."""
    import numpy as np
    import pandas as pd

    from .verdicts import row_label

    summaries = []
    for claim, cells in pd.read_csv(verdicts_csv).groupby("claim", sort=False):
        first = cells.iloc[0]
        label = row_label(first)
        reason = first["verdict_reason"] if isinstance(first.get("verdict_reason"), str) else ""
        if first["verdict"] == "held":
            cell = cells.loc[(cells["effect"] - cells["upper"]).idxmin()]
        elif reason in ("significantly the other way", "short of the margin"):
            cell = cells.loc[(cells["effect"] - cells["lower"]).idxmin()]
        elif cells["units_needed"].notna().any():
            cell = cells.loc[cells["units_needed"].fillna(np.inf).idxmin()]
        else:
            cell = cells.iloc[0]
        origin = first.get("origin", "paper")
        summaries.append({
            "claim": str(claim), "statement": first["statement"], "label": label,
            "origin": origin if isinstance(origin, str) else "paper",
            "population": first["population"],
            "deciding": f"{cell['cell']}: {cell['effect']:.3g} [{cell['ci_low']:.3g}, {cell['ci_high']:.3g}] "
                        f"{cell['metric']}, n = {cell['n_detail']}"})
    return summaries


#: claims whose id changed when the paper's protocol became the judged one (issue 35): S2's A1-A3 are now
#: judged oracle-stopped (the old A1†-A3†); the old final-iterate A1-A3 are now A1ᶠ-A3ᶠ
RENAMED = {"A1†": "A1", "A2†": "A2", "A3†": "A3", "A1": "A1ᶠ", "A2": "A2ᶠ", "A3": "A3ᶠ"}


def checks_summaries(checks: Path) -> dict[str, dict]:
    """Per claim id of a newer run (``checks``: its results folder), what the floors and training checks
    say: its label and the floor nearest the favoured method."""
    import numpy as np
    import pandas as pd

    from .verdicts import row_label

    out = {}
    for study in STUDIES:
        table = pd.read_csv(Path(checks) / study / "verdicts.csv")
        for claim, cells in table.groupby("claim", sort=False):
            first = cells.iloc[0]
            near = ""
            if "floor_nearest" in cells.columns and cells["floor_nearest"].notna().any():
                floored = cells[cells["floor_nearest"].notna()]
                weakest = floored.loc[((floored["floor_effect"] - floored["floor_delta"]) /
                                       floored["floor_delta"].replace(0, np.nan)).idxmin()]
                near = (f"; nearest floor {weakest['floor_nearest']}: {weakest['floor_effect']:.3g} "
                        f"[{weakest['floor_ci_low']:.3g}, {weakest['floor_ci_high']:.3g}] {weakest['metric']}")
            out[str(claim)] = {"label": row_label(first), "near": near}
    return out


def headline_table(reference: Path, link_base: str, quotes: dict | None = None, checks: Path | None = None,
                   checks_name: str = "") -> str:
    """Markdown table of every claim of a reference run: our verdict with its population, the deciding cell's
    effect and interval (:func:`claim_summaries`), and the paper's own words (``quotes``: claim -> {quote,
    where}), linking each claim to its section of the reference's claims page (``link_base``: the reference
    folder as the README links it). With ``checks`` (a newer run's results folder, named ``checks_name``), a
    column says what its floors and training checks say of each claim (:func:`checks_summaries`)."""
    newer = checks_summaries(checks) if checks else None
    head = "| claim | our verdict (population) | the cell that decides it, or comes nearest: effect [interval] | "
    head += f"{checks_name}: verdict, floors and training checks | " if newer is not None else ""
    rows = [head + "the paper |", "|---|---|---|" + ("---|" if newer is not None else "") + "---|"]
    for study in STUDIES:
        for c in claim_summaries(Path(reference) / study / "verdicts.csv"):
            quote = (quotes or {}).get(c["claim"]) or {}
            paper = f"“{quote['quote']}” ({quote['where']})" if quote.get("quote") else "–"
            if "suite" in (c["origin"], quote.get("origin")):     # a reference older than the origin column
                paper = f"*the suite's question, not the paper's claim*{f' — the paper: {paper}' if paper != '–' else ''}"
            link = f"{link_base}/{study}/claims.md#{_anchor(c['claim'], c['statement'], c['label'])}"
            check = ""
            if newer is not None:
                now = RENAMED.get(c["claim"], c["claim"])
                found = newer.get(now)
                check = (f"{'' if now == c['claim'] else f'(now {now}) '}**{found['label']}**{found['near']} | "
                         if found else "– | ")
            rows.append(f"| [{c['claim']}]({link}) {c['statement']} | **{c['label']}** ({c['population']}) | "
                        f"{c['deciding']} | {check}{paper} |")
    return "\n".join(rows) + "\n"


def write_headline(readme: Path, table: str) -> bool:
    """Replace the text between the headline markers of ``readme`` with ``table``; False when it has none."""
    text = Path(readme).read_text()
    if HEADLINE_BEGIN not in text or HEADLINE_END not in text:
        return False
    head, rest = text.split(HEADLINE_BEGIN, 1)
    _, tail = rest.split(HEADLINE_END, 1)
    Path(readme).write_text(f"{head}{HEADLINE_BEGIN}\n{table}{HEADLINE_END}{tail}")
    return True


def rewrite_headline(readme: Path, reference: Path, checks: Path | None = None, checks_name: str = "",
                     note: str = "") -> bool:
    """Rewrite the README's headline (between its markers) from the published ``reference``, with ``note``
    above the table and, given ``checks``, the column of what a newer run's floors and training checks say
    (:func:`headline_table`); False when the README has no markers."""
    import os

    link = os.path.relpath(reference, Path(readme).parent)
    table = headline_table(Path(reference), link, load_quotes(), checks, checks_name)
    return write_headline(Path(readme), (f"{note}\n\n" if note else "") + table)
