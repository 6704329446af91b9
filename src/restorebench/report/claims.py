"""Claims pages: the verdict on each of a paper's claims, with the paired statistics behind it.

Reads :class:`~restorebench.report.verdicts.ClaimVerdict` objects and writes the same content three ways:
Markdown (``claims.md``), HTML (for the Snakemake report) and a compact figure (effect +- interval per cell,
one panel per claim). The tidy verdict rows (``verdicts.csv``) are written next to them, and are what the
results README reads.
"""
from __future__ import annotations

from dataclasses import replace
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_output, write_text
from .verdicts import (CONTRADICTED, HELD, INCONCLUSIVE, NO_DIFFERENCE, NOT_SIGNIFICANT, OTHER_WAY, PAPERS_WAY,
                       Claim, ClaimVerdict, StatsConfig, evaluate_claim, floor_units, verdict_rows)

COLOURS = {HELD: "#1a7f37", CONTRADICTED: "#b42318"}
OUTCOME_COLOURS = {PAPERS_WAY: "#1a7f37", OTHER_WAY: "#b42318", NO_DIFFERENCE: "#9a6700",
                   NOT_SIGNIFICANT: "#6e7781"}


def method_text(note: str, cfg: StatsConfig) -> str:
    level = 100 * (1 - 2 * cfg.alpha)
    return (f"Each comparison is paired: the same units (clips, scenes, signals, or training seeds when a method "
            f"was trained with several) scored under both methods. Effect = mean advantage of the method the "
            f"paper favours (positive = the paper's way, in the metric's units; lower-is-better metrics are "
            f"flipped). Each cell has a threshold: the paper's worded margin where the claim has one, else the "
            f"metric's smallest meaningful difference δ (config claims.smallest_meaningful_difference). "
            f"p: exact one-sided sign-flip test of effect > threshold (all 2^n sign patterns up to "
            f"{cfg.exact_max_units} units, else {cfg.resamples} seeded Monte-Carlo patterns), exact when each "
            f"difference is symmetric about the null value; **held** = every cell's p ≤ α = {cfg.alpha:g} "
            f"(an intersection-union test: no multiplicity correction is needed). **contradicted** = some cell "
            f"significantly the other way (below −δ, or short of the margin), Holm-corrected across the claim's "
            f"cells, or — labelled apart — every cell shown within ±δ by two one-sided tests (TOST p ≤ α): "
            f"*no meaningful difference*. **inconclusive** = otherwise. Interaction cells whose groups share "
            f"their units test the per-unit difference-in-differences. Interval: the {level:g} % interval "
            f"obtained by inverting the same test (its lower end clears the threshold exactly when p ≤ α); "
            f"unbounded when the units are too few for the test to reject anything. Units needed: how many "
            f"units would give {100 * cfg.power:g} % power to decide the cell (or claim) the way this run's "
            f"effect points, from its spread (one-sided t-test power, never below the exact test's floor of "
            f"{floor_units(cfg.alpha)} units). {note}").strip()


def _fmt(x: float) -> str:
    if x == np.inf:
        return "∞"
    if x == -np.inf:
        return "−∞"
    if not np.isfinite(x):
        return "–"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _p(x: float) -> str:
    return "–" if not np.isfinite(x) else (f"{x:.4f}" if x >= 1e-4 else f"{x:.1e}")


def _count(x: float) -> str:
    if x == np.inf:
        return "∞ (effect at the threshold)"
    return "–" if not np.isfinite(x) else f"{int(x)}"


def effect_text(c) -> str:
    return f"{_fmt(c.effect)} [{_fmt(c.ci_low)}, {_fmt(c.ci_high)}]"


def threshold_text(c) -> str:
    return f"margin {_fmt(c.margin)}" if c.has_margin else f"δ {_fmt(c.delta)}"


UNIT_WORDS = {"item": "items", "seed": "seeds"}


def population_text(v: ClaimVerdict, item_noun: str = "items") -> str:
    """What population the verdict covers: items of one trained network, or training seeds x items."""
    texts = []
    for c in v.cells:
        if c.unit == "seed":
            text = (f"{c.seeds} training seeds × {c.items_per_unit} {item_noun} (the unit is the seed: covers "
                    f"training randomness on the same {item_noun})")
        elif c.seeds == 1:
            text = f"{c.n} {item_noun} of one trained network: covers {item_noun}, not training randomness"
        else:
            text = f"{c.n} {item_noun}" if not c.n_detail.count("+") else f"{c.n_detail} {item_noun}"
        if text not in texts:
            texts.append(text)
    return "; ".join(texts)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def decision_text(v: ClaimVerdict, item_noun: str = "items") -> str:
    """'inconclusive with 2 clips; an effect this size needs about 9' (or what would decide it)."""
    units = sorted({c.n for c in v.cells})
    unit_word = UNIT_WORDS.get(v.cells[0].unit, "units") if v.cells[0].unit == "seed" else item_noun
    have = f"{'/'.join(str(n) for n in units)} {unit_word}"
    target = {HELD: "held", CONTRADICTED: "contradicted", NO_DIFFERENCE: "no meaningful difference"}.get(
        v.predicted, "")
    if not target:
        return (f"with {have} the cells' estimates point different ways (some beyond the threshold, some "
                f"within ±δ or short of it): no sample size is predicted to decide the claim as a whole")
    if v.units_needed == np.inf:
        return f"with {have} the estimate sits on a threshold: no sample size would decide it"
    if not np.isfinite(v.units_needed):
        return f"with {have} the spread is unknown (one unit): estimate the needed units from a larger run"
    need = int(v.units_needed)
    if v.verdict != INCONCLUSIVE:
        return f"decided with {have}; at this effect and spread about {need} give 80 % power to read {target}"
    return f"inconclusive with {have}; an effect this size needs about {need} {unit_word} to read {target}"


def summary_text(v: ClaimVerdict, cfg: StatsConfig = StatsConfig(), item_noun: str = "items") -> str:
    counts = {k: sum(c.outcome == k for c in v.cells) for k in OUTCOME_COLOURS}
    parts = [f"{counts[k]} of {len(v.cells)} cells {k}" for k in OUTCOME_COLOURS if counts[k]]
    text = "; ".join(parts)
    if len(v.cells) == 1:
        c = v.cells[0]
        text = f"effect {effect_text(c)} ({threshold_text(c)}), p {_p(c.p)}"
    if any(c.min_p > cfg.alpha for c in v.cells):
        text += (f" — too few units: with n units no one-sided p is below 2^-n, so a cell needs at least "
                 f"{floor_units(cfg.alpha)} to reach p ≤ {cfg.alpha:g}")
    return f"{text}. {_sentence(decision_text(v, item_noun))}."


CELL_HEADER = ("cell", "metric", "n", "effect [interval]", "threshold", "p (paper's way)", "Holm p (other way)",
               "TOST p", "outcome", "units needed")


def _cell_fields(c) -> list[str]:
    return [c.label, c.metric, c.n_detail, effect_text(c), threshold_text(c), _p(c.p), _p(c.p_other_holm),
            _p(c.p_equivalence), c.outcome, _count(c.units_needed)]


def _cells_table_md(v: ClaimVerdict) -> list[str]:
    lines = ["| " + " | ".join(CELL_HEADER) + " |", "|" + "---|" * len(CELL_HEADER)]
    lines += ["| " + " | ".join(_cell_fields(c)) + " |" for c in v.cells]
    tests = sorted({c.test for c in v.cells})
    lines += ["", f"Test: {'; '.join(tests)}."]
    return lines


def render_claims_markdown(verdicts: list[ClaimVerdict], run_facts: str, title: str, preamble: str,
                           cfg: StatsConfig, scale: str, item_noun: str = "items") -> str:
    parts = [f"# {title}\n", run_facts, "", preamble, "", method_text("", cfg), "",
             "| claim | statement | verdict | population | scale | summary |", "|---|---|---|---|---|---|"]
    parts += [f"| {v.claim.id} | {v.claim.statement} | **{v.label}** | {population_text(v, item_noun)} | {scale} "
              f"| {summary_text(v, cfg, item_noun)} |" for v in verdicts]
    for v in verdicts:
        parts += ["", f"## {v.claim.id}: {v.claim.statement} — {v.label}", "",
                  f"Population: {population_text(v, item_noun)}. {_sentence(decision_text(v, item_noun))}.", ""]
        if v.claim.note:
            parts += [v.claim.note, ""]
        if v.verdict == CONTRADICTED and v.claim.if_contradicted:
            parts += [f"*Why this run may differ from the paper:* {v.claim.if_contradicted}", ""]
        parts += _cells_table_md(v)
    return "\n".join(parts) + "\n"


def render_claims_html(verdicts: list[ClaimVerdict], run_facts: str, title: str, preamble: str,
                       cfg: StatsConfig, scale: str, item_noun: str = "items") -> str:
    import re

    def md(text):
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(text))
        return re.sub(r"\*(.+?)\*", r"<i>\1</i>", text)

    rows = "".join(
        f"<tr><td>{v.claim.id}</td><td>{escape(v.claim.statement)}</td>"
        f"<td style='color:{COLOURS.get(v.verdict, '#6e7781')}'><b>{escape(v.label)}</b></td>"
        f"<td>{escape(population_text(v, item_noun))}</td><td>{escape(scale)}</td>"
        f"<td>{escape(summary_text(v, cfg, item_noun))}</td></tr>" for v in verdicts)
    header = "".join(f"<th>{escape(h)}</th>" for h in CELL_HEADER)
    details = ""
    for v in verdicts:
        cells = "".join(
            "<tr>" + "".join(f"<td>{escape(x)}</td>" for x in _cell_fields(c)[:-2])
            + f"<td style='color:{OUTCOME_COLOURS[c.outcome]}'>{escape(c.outcome)}</td>"
            + f"<td>{escape(_count(c.units_needed))}</td></tr>" for c in v.cells)
        details += (f"<h4>{v.claim.id}: {escape(v.claim.statement)} — {escape(v.label)}</h4>"
                    f"<p>Population: {escape(population_text(v, item_noun))}. "
                    f"{escape(_sentence(decision_text(v, item_noun)))}.</p>"
                    + (f"<p>{escape(v.claim.note)}</p>" if v.claim.note else "")
                    + (f"<p><i>Why this run may differ from the paper:</i> {escape(v.claim.if_contradicted)}</p>"
                       if v.verdict == CONTRADICTED and v.claim.if_contradicted else "")
                    + "<table border='1' cellpadding='3' style='border-collapse:collapse'>"
                      f"<tr>{header}</tr>{cells}</table>"
                    + f"<p>Test: {escape('; '.join(sorted({c.test for c in v.cells})))}.</p>")
    return (f"<h3>{escape(title)}</h3><p>{escape(run_facts)}</p><p>{md(preamble)}</p>"
            f"<p>{md(method_text('', cfg))}</p>"
            "<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>claim</th>"
            "<th>statement</th><th>verdict</th><th>population</th><th>scale</th><th>summary</th></tr>"
            f"{rows}</table>{details}\n")


def effects_figure(verdicts: list[ClaimVerdict], output: Path, title: str) -> None:
    """Effect +- interval (inverted test, 1 - 2 alpha) per cell, one panel per claim.

    Cells of one claim can be in different units (PA, dB, ME), so each row is divided by its own largest
    absolute finite value (effect, interval ends, threshold); the printed numbers carry the units. Right of
    zero is the paper's way; the tick is the cell's threshold (margin, or +delta); colour is the outcome; an
    unbounded interval end is drawn to the panel's edge.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import textwrap

    # the verdict first, the statement wrapped: a long statement must not push the verdict off the figure
    titles = [textwrap.fill(f"{v.claim.id} — {v.label}: {v.claim.statement}", 95) for v in verdicts]
    heights = [max(1.0, 0.32 * len(v.cells) + 0.7 + 0.16 * t.count("\n")) for v, t in zip(verdicts, titles)]
    total_height = sum(heights) + 0.4
    fig, axes = plt.subplots(len(verdicts), 1, figsize=(8.5, total_height), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, v, title_text in zip(axes[:, 0], verdicts, titles):
        for row, c in enumerate(v.cells):
            values = [c.effect, c.ci_low, c.ci_high, c.upper]
            scale = max((abs(x) for x in values if np.isfinite(x)), default=1.0) or 1.0
            y = len(v.cells) - 1 - row
            colour = OUTCOME_COLOURS[c.outcome]
            low, high = (float(np.clip(x / scale, -1.1, 1.1)) for x in (c.ci_low, c.ci_high))
            ax.plot([low, high], [y, y], color=colour, lw=2)
            ax.plot([c.effect / scale], [y], "o", color=colour, ms=5)
            ax.plot([c.upper / scale], [y], "|", color="black", ms=10)
            ax.text(1.08, y, f"{effect_text(c)}  n={c.n_detail}", fontsize=6.5, va="center",
                    transform=ax.get_yaxis_transform())
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(v.cells)))
        ax.set_yticklabels([c.label for c in reversed(v.cells)], fontsize=6.5)
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-0.7, len(v.cells) - 0.3)
        ax.set_title(title_text, fontsize=8, loc="left", color=COLOURS.get(v.verdict, "#444444"))
        ax.tick_params(axis="x", labelsize=6)
    axes[-1, 0].set_xlabel("effect / largest |value| of its row  (right of 0 = the paper's way; | = threshold)",
                           fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / total_height))      # room for the title
    fig.subplots_adjust(right=0.62)                                 # room for the numbers
    with atomic_output(output, suffix=output.suffix) as tmp:
        fig.savefig(tmp, dpi=120, format=output.suffix.lstrip("."))
    plt.close(fig)


def write_claims_outputs(verdicts: list[ClaimVerdict], *, study: str, scale: str, run_facts: str, title: str,
                         preamble: str, cfg: StatsConfig, markdown: Path, html: Path, table: Path,
                         figure: Path, item_noun: str = "items") -> None:
    """claims.md, claims.html, verdicts.csv and the effects figure of one study."""
    with atomic_output(table, suffix=".csv") as tmp:
        table_rows = verdict_rows(verdicts, study, scale)
        table_rows["population"] = table_rows["claim"].map({v.claim.id: population_text(v, item_noun) for v in verdicts})
        table_rows["decision"] = table_rows["claim"].map({v.claim.id: decision_text(v, item_noun) for v in verdicts})
        table_rows.to_csv(tmp, index=False)
    effects_figure(verdicts, Path(figure), title)
    write_text(markdown, render_claims_markdown(verdicts, run_facts, title, preamble, cfg, scale, item_noun))
    write_text(html, render_claims_html(verdicts, run_facts, title, preamble, cfg, scale, item_noun))


def in_place_of(claims: list[Claim], swaps: dict[str, str], study, rows: pd.DataFrame) -> list[Claim]:
    """The claims with each method named in ``swaps`` replaced by the method judged in its place (a user's
    variant of the paper's method, say), in every cell; each changed claim's note says which. A method to
    judge that has no rows in ``rows`` is a ValueError naming the config key."""
    if not swaps:
        return claims
    present = set(rows["method"])
    missing = sorted(m for m in swaps.values() if m not in present)
    if missing:
        raise ValueError(f"claims.in_place_of.{study.key}: no rows of {', '.join(missing)} in this run (list it "
                         f"among {study.key}'s methods)")
    out = []
    for claim in claims:
        cells = tuple(replace(c, better=swaps.get(c.better, c.better), worse=swaps.get(c.worse, c.worse))
                      for c in claim.cells)
        named = sorted({m for c in claim.cells for m in (c.better, c.worse) if m in swaps})
        if named:
            said = "; ".join(f"{study.label(swaps[m])} is judged in the place of {study.label(m)}" for m in named)
            note = f"{claim.note} " if claim.note else ""
            claim = replace(claim, cells=cells, note=f"{note}Here {said} (config claims.in_place_of.{study.key}).")
        out.append(claim)
    return out


def write_study_claims(study, rows: pd.DataFrame, claims: list[Claim], outdir: Path, *, run_facts: str, scale: str,
                       stats: StatsConfig, preamble: str) -> list[ClaimVerdict]:
    """Judge ``claims`` on a study's tidy ``rows`` and write its claims folder (:func:`write_claims_folder`),
    headed and worded by its declaration (restorebench.studies: title, what its items are)."""
    claims = in_place_of(claims, stats.in_place_of, study, rows)
    verdicts = [evaluate_claim(rows, claim, stats) for claim in claims]
    write_claims_folder(verdicts, outdir, study=study.id, scale=scale, run_facts=run_facts, title=study.claims_title,
                        preamble=preamble, cfg=stats, item_noun=study.item_noun)
    return verdicts


def write_claims_folder(verdicts: list[ClaimVerdict], outdir: Path, *, study: str, scale: str, run_facts: str,
                        title: str, preamble: str, cfg: StatsConfig, item_noun: str = "items") -> None:
    """:func:`write_claims_outputs` into a study's folder: claims.md, claims.html, verdicts.csv and
    figures/claims_effects.png (the paths every study's workflow rule declares)."""
    outdir = Path(outdir)
    write_claims_outputs(verdicts, study=study, scale=scale, run_facts=run_facts, title=title, preamble=preamble,
                         cfg=cfg, markdown=outdir / "claims.md", html=outdir / "claims.html",
                         table=outdir / "verdicts.csv", figure=outdir / "figures" / "claims_effects.png",
                         item_noun=item_noun)
