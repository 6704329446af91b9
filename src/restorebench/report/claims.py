"""Claims pages: a verdict per claim of a paper, with the numbers behind it, as Markdown and HTML."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass
class Verdict:
    claim: str
    statement: str
    held: bool
    evidence: list[str]
    summary: str


def _word(v: Verdict) -> str:
    return "held" if v.held else "not held"


def render_claims_markdown(verdicts: list[Verdict], run_facts: str, title: str, preamble: str) -> str:
    parts = [f"# {title}\n", run_facts, "", preamble + "\n",
             "| claim | statement | verdict | summary |", "|---|---|---|---|"]
    parts += [f"| {v.claim} | {v.statement} | **{_word(v)}** | {v.summary} |" for v in verdicts]
    for v in verdicts:
        parts += ["", f"## {v.claim}: {v.statement} — {_word(v)}", ""]
        parts += [f"- {line}" for line in v.evidence]
    return "\n".join(parts) + "\n"


def render_claims_html(verdicts: list[Verdict], run_facts: str, title: str, preamble: str) -> str:
    import re

    preamble_html = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(preamble))
    rows = "".join(
        f"<tr><td>{v.claim}</td><td>{escape(v.statement)}</td>"
        f"<td style='color:{'#1a7f37' if v.held else '#b42318'}'><b>{_word(v)}</b></td>"
        f"<td>{escape(v.summary)}</td></tr>" for v in verdicts)
    details = "".join(
        f"<h4>{v.claim}: {escape(v.statement)} — {_word(v)}</h4><ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in v.evidence) + "</ul>" for v in verdicts)
    return (f"<h3>{escape(title)}</h3><p>{escape(run_facts)}</p><p>{preamble_html}</p>"
            "<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>claim</th>"
            f"<th>statement</th><th>verdict</th><th>summary</th></tr>{rows}</table>{details}\n")
