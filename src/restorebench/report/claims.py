"""Claims pages: the verdict on each of a paper's claims, with the paired statistics behind it.

Reads :class:`~restorebench.report.verdicts.ClaimVerdict` objects and writes the same content three ways:
Markdown (``claims.md``), HTML (for the Snakemake report) and a compact figure (effect +- interval per cell,
one panel per claim). The tidy verdict rows (``verdicts.csv``) are written next to them, and are what the
results README reads.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from ..audio_io import atomic_output, write_text
from .verdicts import CONTRADICTED, HELD, ClaimVerdict, StatsConfig, verdict_rows

COLOURS = {HELD: "#1a7f37", CONTRADICTED: "#b42318"}
OUTCOME_COLOURS = {"paper's way": "#1a7f37", "other way": "#b42318", "not significant": "#6e7781"}


def method_text(note: str, cfg: StatsConfig) -> str:
    return (f"Each comparison is paired: the same items (clips, scenes) scored under both methods. Effect = mean "
            f"advantage of the method the paper favours (positive = the paper's way, in the metric's units; "
            f"lower-is-better metrics are flipped). p: exact two-sided sign-flip permutation test (Monte-Carlo "
            f"with {cfg.resamples} resamples when the items allow more sign patterns), Holm-corrected across a "
            f"claim's cells; interval: 95 % percentile bootstrap over items ({cfg.resamples} resamples, seed "
            f"{cfg.seed}), descriptive only. **held** = every cell significantly (Holm p < {cfg.alpha:g}) the "
            f"paper's way; **contradicted** = some cell significantly the other way; **inconclusive** = "
            f"otherwise. {note}").strip()


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "–"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _p(x: float) -> str:
    return "–" if not np.isfinite(x) else (f"{x:.4f}" if x >= 1e-4 else f"{x:.1e}")


def effect_text(c) -> str:
    margin = f", margin {_fmt(c.margin)}" if c.margin else ""
    return f"{_fmt(c.effect)} [{_fmt(c.ci_low)}, {_fmt(c.ci_high)}]{margin}"


def summary_text(v: ClaimVerdict) -> str:
    counts = {k: sum(c.outcome == k for c in v.cells) for k in OUTCOME_COLOURS}
    parts = [f"{counts[k]} of {len(v.cells)} cells {k}" for k in OUTCOME_COLOURS if counts[k]]
    text = "; ".join(parts)
    if len(v.cells) == 1:
        text = f"effect {effect_text(v.cells[0])}, Holm p {_p(v.cells[0].p_holm)}"
    if all(c.min_p * len(v.cells) >= 0.05 for c in v.cells):
        text += " — too few items for any cell to reach significance"
    return text


def _cells_table_md(v: ClaimVerdict) -> list[str]:
    lines = ["| cell | metric | n | effect [95 % CI] | p | Holm p | outcome |", "|---|---|---|---|---|---|---|"]
    for c in v.cells:
        lines.append(f"| {c.label} | {c.metric} | {c.n_detail} | {effect_text(c)} | {_p(c.p)} | {_p(c.p_holm)} "
                     f"| {c.outcome} |")
    return lines


def render_claims_markdown(verdicts: list[ClaimVerdict], run_facts: str, title: str, preamble: str,
                           cfg: StatsConfig, scale: str) -> str:
    parts = [f"# {title}\n", run_facts, "", preamble, "", method_text("", cfg), "",
             "| claim | statement | verdict | paired items | scale | summary |", "|---|---|---|---|---|---|"]
    parts += [f"| {v.claim.id} | {v.claim.statement} | **{v.verdict}** | {v.n_items} | {scale} | {summary_text(v)} |"
              for v in verdicts]
    for v in verdicts:
        parts += ["", f"## {v.claim.id}: {v.claim.statement} — {v.verdict}", ""]
        if v.claim.note:
            parts += [v.claim.note, ""]
        parts += _cells_table_md(v)
    return "\n".join(parts) + "\n"


def render_claims_html(verdicts: list[ClaimVerdict], run_facts: str, title: str, preamble: str,
                       cfg: StatsConfig, scale: str) -> str:
    import re

    def md_bold(text):
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(text))

    rows = "".join(
        f"<tr><td>{v.claim.id}</td><td>{escape(v.claim.statement)}</td>"
        f"<td style='color:{COLOURS.get(v.verdict, '#6e7781')}'><b>{v.verdict}</b></td>"
        f"<td>{escape(v.n_items)}</td><td>{escape(scale)}</td><td>{escape(summary_text(v))}</td></tr>"
        for v in verdicts)
    details = ""
    for v in verdicts:
        cells = "".join(
            f"<tr><td>{escape(c.label)}</td><td>{escape(c.metric)}</td><td>{escape(c.n_detail)}</td>"
            f"<td>{escape(effect_text(c))}</td><td>{_p(c.p)}</td><td>{_p(c.p_holm)}</td>"
            f"<td style='color:{OUTCOME_COLOURS[c.outcome]}'>{escape(c.outcome)}</td></tr>" for c in v.cells)
        details += (f"<h4>{v.claim.id}: {escape(v.claim.statement)} — {v.verdict}</h4>"
                    + (f"<p>{escape(v.claim.note)}</p>" if v.claim.note else "")
                    + "<table border='1' cellpadding='3' style='border-collapse:collapse'><tr><th>cell</th>"
                      "<th>metric</th><th>n</th><th>effect [95 % CI]</th><th>p</th><th>Holm p</th><th>outcome</th>"
                      f"</tr>{cells}</table>")
    return (f"<h3>{escape(title)}</h3><p>{escape(run_facts)}</p><p>{md_bold(preamble)}</p>"
            f"<p>{md_bold(method_text('', cfg))}</p>"
            "<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>claim</th>"
            "<th>statement</th><th>verdict</th><th>paired items</th><th>scale</th><th>summary</th></tr>"
            f"{rows}</table>{details}\n")


def effects_figure(verdicts: list[ClaimVerdict], output: Path, title: str) -> None:
    """Effect +- 95 % interval per cell, one panel per claim.

    Cells of one claim can be in different units (PA, dB, ME), so each row is divided by its own largest
    absolute value (effect, interval ends, margin); the printed numbers carry the units. Right of zero is
    the paper's way; the dashed tick is the margin; colour is the Holm-corrected outcome.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import textwrap

    # the verdict first, the statement wrapped: a long statement must not push the verdict off the figure
    titles = [textwrap.fill(f"{v.claim.id} — {v.verdict}: {v.claim.statement}", 95) for v in verdicts]
    heights = [max(1.0, 0.32 * len(v.cells) + 0.7 + 0.16 * t.count("\n")) for v, t in zip(verdicts, titles)]
    total_height = sum(heights) + 0.4
    fig, axes = plt.subplots(len(verdicts), 1, figsize=(8.5, total_height), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, v, title_text in zip(axes[:, 0], verdicts, titles):
        for row, c in enumerate(v.cells):
            values = [c.effect, c.ci_low, c.ci_high, c.margin]
            scale = max((abs(x) for x in values if np.isfinite(x)), default=1.0) or 1.0
            y = len(v.cells) - 1 - row
            colour = OUTCOME_COLOURS[c.outcome]
            if np.isfinite(c.ci_low):
                ax.plot([c.ci_low / scale, c.ci_high / scale], [y, y], color=colour, lw=2)
            ax.plot([c.effect / scale], [y], "o", color=colour, ms=5)
            if c.margin:
                ax.plot([c.margin / scale], [y], "|", color="black", ms=10)
            ax.text(1.08, y, f"{effect_text(c)}  n={c.n_detail}", fontsize=6.5, va="center",
                    transform=ax.get_yaxis_transform())
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(v.cells)))
        ax.set_yticklabels([c.label for c in reversed(v.cells)], fontsize=6.5)
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-0.7, len(v.cells) - 0.3)
        ax.set_title(title_text, fontsize=8, loc="left", color=COLOURS.get(v.verdict, "#444444"))
        ax.tick_params(axis="x", labelsize=6)
    axes[-1, 0].set_xlabel("effect / largest |value| of its row  (right of 0 = the paper's way; | = margin)",
                           fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / total_height))      # room for the title
    fig.subplots_adjust(right=0.62)                                 # room for the numbers
    with atomic_output(output, suffix=output.suffix) as tmp:
        fig.savefig(tmp, dpi=120, format=output.suffix.lstrip("."))
    plt.close(fig)


def write_claims_outputs(verdicts: list[ClaimVerdict], *, study: str, scale: str, run_facts: str, title: str,
                         preamble: str, cfg: StatsConfig, markdown: Path, html: Path, table: Path,
                         figure: Path) -> None:
    """claims.md, claims.html, verdicts.csv and the effects figure of one study."""
    with atomic_output(table, suffix=".csv") as tmp:
        verdict_rows(verdicts, study, scale).to_csv(tmp, index=False)
    effects_figure(verdicts, Path(figure), title)
    write_text(markdown, render_claims_markdown(verdicts, run_facts, title, preamble, cfg, scale))
    write_text(html, render_claims_html(verdicts, run_facts, title, preamble, cfg, scale))


def write_claims_folder(verdicts: list[ClaimVerdict], outdir: Path, *, study: str, scale: str, run_facts: str,
                        title: str, preamble: str, cfg: StatsConfig) -> None:
    """:func:`write_claims_outputs` into a study's folder: claims.md, claims.html, verdicts.csv and
    figures/claims_effects.png (the paths every study's workflow rule declares)."""
    outdir = Path(outdir)
    write_claims_outputs(verdicts, study=study, scale=scale, run_facts=run_facts, title=title, preamble=preamble,
                         cfg=cfg, markdown=outdir / "claims.md", html=outdir / "claims.html",
                         table=outdir / "verdicts.csv", figure=outdir / "figures" / "claims_effects.png")
