"""Claims pages: the verdict on each of a paper's claims, with the paired statistics behind it.

Reads :class:`~restorebench.report.verdicts.ClaimVerdict` objects and writes the same content three ways:
Markdown (``claims.md``), HTML (for the Snakemake report) and a compact figure (effect +- interval per cell,
one panel per claim). The tidy verdict rows (``verdicts.csv``) are written next to them, and are what the
results README reads.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_output, write_text
from .verdicts import (CONSTRUCTION_CHECK, CONTRADICTED, HELD, INCONCLUSIVE, NO_DIFFERENCE, NOT_SIGNIFICANT,
                       OTHER_WAY, PAPERS_WAY, Claim, ClaimVerdict, StatsConfig, evaluate_claim, floor_units,
                       nearest_floor, verdict_rows)

COLOURS = {HELD: "#1a7f37", CONTRADICTED: "#b42318"}
OUTCOME_COLOURS = {PAPERS_WAY: "#1a7f37", OTHER_WAY: "#b42318", NO_DIFFERENCE: "#9a6700",
                   NOT_SIGNIFICANT: "#6e7781", CONSTRUCTION_CHECK: "#6e7781"}


def method_text(note: str, cfg: StatsConfig) -> str:
    level = 100 * (1 - 2 * cfg.alpha)
    return (f"Each comparison is paired: the same units (clips, scenes, signals, or replicates — a fresh data "
            f"draw and training seed each — when the run has several) scored under both methods. Effect = "
            f"median advantage of the method the paper favours over the units (positive = the paper's way, in the metric's units; lower-is-better "
            f"metrics are flipped). Each cell has a threshold: the paper's worded margin where the claim has "
            f"one, else the metric's smallest meaningful difference δ (config "
            f"claims.smallest_meaningful_difference; a δ written as a percentage is relative to the compared "
            f"method's median). p: exact one-sided sign test of median > threshold (binomial; valid for any "
            f"distribution of the differences, skewed ones included; units at the threshold count against the "
            f"paper); **held** = every cell's p ≤ α = {cfg.alpha:g} (an intersection-union test: no multiplicity "
            f"correction is needed). **contradicted** = some cell significantly the other way (below −δ, or "
            f"short of the margin; a margin cell also below −δ reads *significantly the other way*), "
            f"Holm-corrected across the claim's cells, or — labelled apart — every cell shown within ±δ by two "
            f"one-sided tests (TOST p ≤ α): *no meaningful difference*. **inconclusive** = otherwise. "
            f"Interaction cells whose groups share their units test the per-unit difference-in-differences. "
            f"Interval: the {level:g} % interval for the median obtained by inverting the same test (its lower "
            f"end clears the threshold exactly when p ≤ α); unbounded when the units are too few for the test "
            f"to reject anything. A *construction check* holds by construction and takes no part in the "
            f"verdict. **Floors**: the trivial, data-free or classical methods a claim names; each cell's "
            f"favoured method is tested against each floor in the same way (beats it when p ≤ α), and a claim "
            f"whose favoured method does not beat a floor reads *a floor does as well: not evidence for the "
            f"method*. Units needed: how many units would give {100 * cfg.power:g} % power to decide the cell "
            f"(or claim) the way this run's effect points (the sign test's binomial power, planned from the "
            f"run's median and spread; never below the exact test's floor of {floor_units(cfg.alpha)} units). "
            f"{note}").strip()


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


UNIT_WORDS = {"item": "items", "replicate": "replicates"}


def population_text(v: ClaimVerdict, item_noun: str = "items") -> str:
    """What population the verdict covers: items of one data draw and trained network, or replicates x items."""
    texts = []
    for c in v.cells:
        if c.unit == "replicate":
            text = (f"{c.replicates} replicates × {c.items_per_unit} {item_noun} (the unit is the replicate, a "
                    f"fresh data draw and training seed: covers both)")
        elif c.replicates == 1:
            text = (f"{c.n} {item_noun} of one data draw and trained network: covers {item_noun}, not data draws "
                    f"or training randomness")
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
    unit_word = UNIT_WORDS.get(v.cells[0].unit, "units") if v.cells[0].unit == "replicate" else item_noun
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
    judged = v.verdict_cells
    counts = {k: sum(c.outcome == k for c in judged) for k in OUTCOME_COLOURS}
    parts = [f"{counts[k]} of {len(judged)} cells {k}" for k in OUTCOME_COLOURS if counts[k]]
    text = "; ".join(parts)
    if len(judged) == 1:
        c = judged[0]
        text = f"effect {effect_text(c)} ({threshold_text(c)}), p {_p(c.p)}"
    if len(judged) < len(v.cells):
        text += f" (and {len(v.cells) - len(judged)} construction check, not judged)"
    tied = [c for c in judged if c.tied == c.n and c.n > 0]
    if tied:
        text += (f" — every unit ties at the threshold in {', '.join(c.label for c in tied)}: the methods do "
                 f"not differ there, and no number of units would change that")
    elif any(c.min_p > cfg.alpha for c in judged):
        text += (f" — too few units: with n units no one-sided p is below 2^-n, so a cell needs at least "
                 f"{floor_units(cfg.alpha)} to reach p ≤ {cfg.alpha:g}")
    return f"{text}. {_sentence(decision_text(v, item_noun))}."


def floor_text(v: ClaimVerdict) -> str:
    """What the floors say about a claim, one line: which floor comes nearest its favoured method."""
    if not v.claim.floors:
        return f"no floor applies: {v.claim.floors_reason}" if v.claim.floors_reason else "no floor applies"
    near = nearest_floor(v)
    if near is None:
        return "no cell has a floor comparison (interaction cells only)"
    c = near.result
    said = (f"nearest floor {near.floor} in {near.cell}: {near.method} − {near.floor} {effect_text(c)} "
            f"(δ {_fmt(c.delta)}, p {_p(c.p)})")
    if v.floor_flag:
        return f"**{v.floor_flag}** — {said}"
    if all(t.beaten for t in v.floor_tests if t.role == "favoured"):
        return f"the favoured methods beat every floor ({', '.join(v.claim.floors)}); {said}"
    return said


FLOOR_HEADER = ("cell", "method", "role", "floor", "n", "method − floor [interval]", "δ", "p (beats it)", "beaten")


def _floor_fields(t) -> list[str]:
    c = t.result
    return [t.cell, t.method, t.role, t.floor, c.n_detail, effect_text(c), _fmt(c.delta), _p(c.p),
            "yes" if t.beaten else "no"]


def _floors_md(v: ClaimVerdict) -> list[str]:
    if not v.claim.floors:
        return [f"Floors: none apply{f': {v.claim.floors_reason}' if v.claim.floors_reason else ''}.", ""]
    lines = [f"Floors ({', '.join(v.claim.floors)}){f' — {v.claim.floors_reason}' if v.claim.floors_reason else ''}. "
             f"{_sentence(floor_text(v))}.", ""]
    if v.floor_tests:
        lines += ["| " + " | ".join(FLOOR_HEADER) + " |", "|" + "---|" * len(FLOOR_HEADER)]
        lines += ["| " + " | ".join(_floor_fields(t)) + " |" for t in v.floor_tests]
        lines += [""]
    return lines


def statement_text(v: ClaimVerdict) -> str:
    """The claim's statement, marked when it is the suite's question rather than the paper's."""
    return f"{v.claim.statement} (the suite's question, not the paper's)" if v.claim.origin == "suite" \
        else v.claim.statement


CELL_HEADER = ("cell", "metric", "n", "effect [interval]", "threshold", "p (paper's way)", "Holm p (other way)",
               "TOST p", "outcome", "units needed")


def _cell_fields(c) -> list[str]:
    outcome = f"{CONSTRUCTION_CHECK} (holds by construction; not judged)" if c.construction else c.outcome
    return [c.label, c.metric, c.n_detail, effect_text(c), threshold_text(c), _p(c.p), _p(c.p_other_holm),
            _p(c.p_equivalence), outcome, _count(c.units_needed)]


def _cells_table_md(v: ClaimVerdict) -> list[str]:
    lines = ["| " + " | ".join(CELL_HEADER) + " |", "|" + "---|" * len(CELL_HEADER)]
    lines += ["| " + " | ".join(_cell_fields(c)) + " |" for c in v.cells]
    tests = sorted({c.test for c in v.cells})
    lines += ["", f"Test: {'; '.join(tests)}."]
    return lines


@dataclass(frozen=True)
class Difficulty:
    """One headline score of the unprocessed input (interfered, noisy, clipped, speckled) on this run, beside
    the paper's own input row where it prints one (SPEC "Findings, not artefacts": difficulty beside the
    paper's). ``far``: the difference (in the metric's units; a factor when ``ratio``) beyond which this
    run's input is far easier or harder than the paper's."""

    what: str
    ours: float
    paper: float | None
    higher_is_easier: bool
    far: float
    ratio: bool = False

    @property
    def comparison(self) -> str:
        """"far easier" / "far harder" / "close" ("" without a paper value)."""
        if self.paper is None or not np.isfinite(self.ours):
            return ""
        if self.ratio:
            factor = self.ours / self.paper if self.paper else np.inf
            far = factor > self.far or factor < 1 / self.far
            ours_higher = factor > 1
        else:
            far = abs(self.ours - self.paper) > self.far
            ours_higher = self.ours > self.paper
        if not far:
            return "close"
        return "far easier" if ours_higher == self.higher_is_easier else "far harder"


def difficulty_lines(entries, scale: str) -> list[str]:
    """The claims page's "Input difficulty" section: a table and one sentence per far-off score."""
    if not entries:
        return []
    lines = ["## Input difficulty beside the paper's", "",
             f"| the unprocessed input | ours ({scale}) | the paper's | |", "|---|---|---|---|"]
    for e in entries:
        paper = _fmt(e.paper) if e.paper is not None else "not printed"
        lines.append(f"| {e.what} | {_fmt(e.ours)} | {paper} | {e.comparison} |")
    far = [e for e in entries if e.comparison.startswith("far")]
    lines.append("")
    for e in far:
        factor = e.ours / e.paper if e.ratio else np.nan
        how = (f"{max(factor, 1 / factor):.2g} times {'higher' if factor > 1 else 'lower'}" if e.ratio
               else f"{abs(e.ours - e.paper):.3g} apart")
        lines.append(f"*Our input is {e.comparison} than the paper's on {e.what} ({_fmt(e.ours)} against "
                     f"{_fmt(e.paper)}, {how}): a verdict here is about an easier or harder task than the "
                     f"paper's.*")
    if not any(e.paper is not None for e in entries):
        lines.append("The paper prints no input row for these metrics: only ours is shown.")
    return lines + [""]


def training_lines(table) -> list[str]:
    """The claims page's "Trained networks" section: each network's plateau and input check (from the
    study's training table, report/training.py); a study that trains none says so."""
    if table is None:
        return ["## Trained networks", "", "No trained network enters these claims (nothing to converge).", ""]
    lines = ["## Trained networks", "", "| network | seed | condition | steps | plateau | beats the input |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r.network} | {r.seed} | {r.condition if isinstance(r.condition, str) else ''} | {r.steps} | "
              f"{r.plateau} | {r.beats_input} |" for r in table.itertuples()]
    return lines + ["", "Plateau: the validation loss improved by less than 1 % over the last fifth of the epochs "
                        "(unknown: fewer than two epochs or no validation split); a claim whose cells use a network "
                        "without a plateau, or one that does not beat the unprocessed input, is not a verdict. "
                        "Curves: tables/training.md and figures/training_curves.png.", ""]


#: scales whose verdicts exercise every code path at small size and decide nothing about the papers
SMOKE_SCALES = ("tiny", "quick")


def smoke_text(scale: str) -> str:
    """The sentence a smoke-scale page opens with ("" at standard and paper scale)."""
    if scale not in SMOKE_SCALES:
        return ""
    return (f"**At `{scale}`, a smoke scale, these verdicts are a smoke test**: every code path runs at small "
            f"size; what the suite reports about the papers' claims is the `standard` reference "
            f"(docs/results/standard) and runs at `standard` or `paper` scale.")


def render_claims_markdown(verdicts: list[ClaimVerdict], run_facts: str, title: str, preamble: str,
                           cfg: StatsConfig, scale: str, item_noun: str = "items", difficulty=(),
                           training=None) -> str:
    smoke = smoke_text(scale)
    parts = [f"# {title}\n", *([smoke, ""] if smoke else []), run_facts, "", preamble, "",
             *difficulty_lines(difficulty, scale),
             *training_lines(training),
             method_text("", cfg), "",
             "| claim | statement | verdict | floors | population | scale | summary |",
             "|---|---|---|---|---|---|---|"]
    parts += [f"| {v.claim.id} | {statement_text(v)} | **{v.label}** | {floor_text(v)} | "
              f"{population_text(v, item_noun)} | {scale} | {summary_text(v, cfg, item_noun)} |" for v in verdicts]
    for v in verdicts:
        parts += ["", f"## {v.claim.id}: {v.claim.statement} — {v.label}", ""]
        if v.claim.origin == "suite":
            parts += ["*The suite's question, not the paper's claim as the paper states it.*", ""]
        parts += [f"Population: {population_text(v, item_noun)}. {_sentence(decision_text(v, item_noun))}.", ""]
        if v.claim.note:
            parts += [v.claim.note, ""]
        if v.verdict == CONTRADICTED and v.claim.if_contradicted:
            parts += [f"*Why this run may differ from the paper:* {v.claim.if_contradicted}", ""]
        parts += _cells_table_md(v)
        parts += [""] + _floors_md(v)
    return "\n".join(parts) + "\n"


def render_claims_html(verdicts: list[ClaimVerdict], run_facts: str, title: str, preamble: str,
                       cfg: StatsConfig, scale: str, item_noun: str = "items", difficulty=(),
                       training=None) -> str:
    import re

    def md(text):
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(text))
        return re.sub(r"\*(.+?)\*", r"<i>\1</i>", text)

    rows = "".join(
        f"<tr><td>{v.claim.id}</td><td>{escape(statement_text(v))}</td>"
        f"<td style='color:{COLOURS.get(v.verdict, '#6e7781')}'><b>{escape(v.label)}</b></td>"
        f"<td>{md(floor_text(v))}</td>"
        f"<td>{escape(population_text(v, item_noun))}</td><td>{escape(scale)}</td>"
        f"<td>{escape(summary_text(v, cfg, item_noun))}</td></tr>" for v in verdicts)
    header = "".join(f"<th>{escape(h)}</th>" for h in CELL_HEADER)
    details = ""
    for v in verdicts:
        cells = "".join(
            "<tr>" + "".join(f"<td>{escape(x)}</td>" for x in _cell_fields(c)[:-2])
            + f"<td style='color:{OUTCOME_COLOURS[c.outcome]}'>{escape(_cell_fields(c)[-2])}</td>"
            + f"<td>{escape(_count(c.units_needed))}</td></tr>" for c in v.cells)
        floor_header = "".join(f"<th>{escape(h)}</th>" for h in FLOOR_HEADER)
        floor_rows = "".join("<tr>" + "".join(f"<td>{escape(x)}</td>" for x in _floor_fields(t)) + "</tr>"
                             for t in v.floor_tests)
        details += (f"<h4>{v.claim.id}: {escape(statement_text(v))} — {escape(v.label)}</h4>"
                    f"<p>Population: {escape(population_text(v, item_noun))}. "
                    f"{escape(_sentence(decision_text(v, item_noun)))}.</p>"
                    + (f"<p>{escape(v.claim.note)}</p>" if v.claim.note else "")
                    + (f"<p><i>Why this run may differ from the paper:</i> {escape(v.claim.if_contradicted)}</p>"
                       if v.verdict == CONTRADICTED and v.claim.if_contradicted else "")
                    + "<table border='1' cellpadding='3' style='border-collapse:collapse'>"
                      f"<tr>{header}</tr>{cells}</table>"
                    + f"<p>Test: {escape('; '.join(sorted({c.test for c in v.cells})))}.</p>"
                    + f"<p>{md(_floors_md(v)[0])}</p>"
                    + (f"<table border='1' cellpadding='3' style='border-collapse:collapse'><tr>{floor_header}</tr>"
                       f"{floor_rows}</table>" if floor_rows else ""))
    hard = difficulty_lines(difficulty, scale)
    hard_html = ""
    if hard:
        rows_ = "".join(f"<tr><td>{escape(e.what)}</td><td>{_fmt(e.ours)}</td>"
                        f"<td>{_fmt(e.paper) if e.paper is not None else 'not printed'}</td>"
                        f"<td>{escape(e.comparison)}</td></tr>" for e in difficulty)
        sentences = "".join(f"<p>{md(line)}</p>" for line in hard[hard.index("") + 1:] if line.strip()
                            and not line.startswith("|"))
        hard_html = (f"<h4>Input difficulty beside the paper's</h4><table border='1' cellpadding='3' "
                     f"style='border-collapse:collapse'><tr><th>the unprocessed input</th><th>ours ({escape(scale)})"
                     f"</th><th>the paper's</th><th></th></tr>{rows_}</table>{sentences}")
    trained_html = "<h4>Trained networks</h4>" + (
        "<p>No trained network enters these claims.</p>" if training is None else
        "<table border='1' cellpadding='3' style='border-collapse:collapse'><tr><th>network</th><th>seed</th>"
        "<th>condition</th><th>steps</th><th>plateau</th><th>beats the input</th></tr>"
        + "".join(f"<tr><td>{escape(str(r.network))}</td><td>{r.seed}</td>"
                  f"<td>{escape(r.condition if isinstance(r.condition, str) else '')}</td><td>{r.steps}</td>"
                  f"<td>{escape(str(r.plateau))}</td><td>{escape(str(r.beats_input))}</td></tr>"
                  for r in training.itertuples()) + "</table>")
    smoke = f"<p>{md(smoke_text(scale))}</p>" if smoke_text(scale) else ""
    return (f"<h3>{escape(title)}</h3>{smoke}<p>{escape(run_facts)}</p><p>{md(preamble)}</p>{hard_html}{trained_html}"
            f"<p>{md(method_text('', cfg))}</p>"
            "<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>claim</th>"
            "<th>statement</th><th>verdict</th><th>floors</th><th>population</th><th>scale</th><th>summary</th></tr>"
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
                         figure: Path, item_noun: str = "items", difficulty=(), training=None) -> None:
    """claims.md, claims.html, verdicts.csv and the effects figure of one study."""
    with atomic_output(table, suffix=".csv") as tmp:
        table_rows = verdict_rows(verdicts, study, scale)
        table_rows["population"] = table_rows["claim"].map({v.claim.id: population_text(v, item_noun) for v in verdicts})
        table_rows["decision"] = table_rows["claim"].map({v.claim.id: decision_text(v, item_noun) for v in verdicts})
        table_rows.to_csv(tmp, index=False)
    effects_figure(verdicts, Path(figure), title)
    write_text(markdown, render_claims_markdown(verdicts, run_facts, title, preamble, cfg, scale, item_noun,
                                                difficulty, training))
    write_text(html, render_claims_html(verdicts, run_facts, title, preamble, cfg, scale, item_noun, difficulty,
                                        training))


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


#: marks a claim id carries when it is a variant of the paper's claim (final iterate, unsupervised stopping)
VARIANT_MARKS = "ᶠᵘ†"


def with_paper_facts(claims: list[Claim], declared: dict | None = None) -> list[Claim]:
    """The claims with what ``papers/claims.yaml`` declares for each (its floors and their reason, whether
    it is the suite's question): looked up by the claim's id, or by the paper's claim it is a variant of
    (A1ᵘ -> A1). Floors a claim sets in code are kept; a suite origin set in code is kept."""
    if declared is None:
        from .reference import load_quotes

        declared = load_quotes()
    out = []
    for claim in claims:
        entry = declared.get(claim.id) or declared.get(claim.id.rstrip(VARIANT_MARKS)) or {}
        floors = claim.floors or tuple(entry.get("floors") or ())
        origin = "suite" if "suite" in (claim.origin, entry.get("origin")) else "paper"
        out.append(replace(claim, floors=floors, floors_reason=claim.floors_reason or entry.get("floors_reason", ""),
                           origin=origin))
    return out


def write_study_claims(study, rows: pd.DataFrame, claims: list[Claim], outdir: Path, *, run_facts: str, scale: str,
                       stats: StatsConfig, preamble: str, difficulty=(), training: Path | None = None,
                       setup_flag=None) -> list[ClaimVerdict]:
    """Judge ``claims`` on a study's tidy ``rows`` and write its claims folder (:func:`write_claims_folder`),
    headed and worded by its declaration (restorebench.studies: title, what its items are); each claim's
    floors and origin come from ``papers/claims.yaml`` (:func:`with_paper_facts`); ``training``: the study's
    tables/training.csv, whose networks without a plateau (or worse than the input) make a claim "not a
    verdict" (report/training.py); ``setup_flag(cells)``: the study's own reason why a claim's cells cannot
    be judged on this run's setup ("not a verdict: ..." or "": S2's degenerate geometry)."""
    from .training import read_training, training_flag

    claims = with_paper_facts(in_place_of(claims, stats.in_place_of, study, rows))
    verdicts = [evaluate_claim(rows, claim, stats) for claim in claims]
    table = read_training(training)
    prefix = "not a verdict: "
    for v in verdicts:
        flags = [f for f in (setup_flag(v.claim.cells) if setup_flag else "",
                             training_flag(table, v.claim.cells, study.label)) if f]
        v.training_flag = prefix + "; ".join(f.removeprefix(prefix) for f in flags) if flags else ""
    write_claims_folder(verdicts, outdir, study=study.id, scale=scale, run_facts=run_facts, title=study.claims_title,
                        preamble=preamble, cfg=stats, item_noun=study.item_noun, difficulty=difficulty,
                        training=table)
    return verdicts


def write_claims_folder(verdicts: list[ClaimVerdict], outdir: Path, *, study: str, scale: str, run_facts: str,
                        title: str, preamble: str, cfg: StatsConfig, item_noun: str = "items",
                        difficulty=(), training=None) -> None:
    """:func:`write_claims_outputs` into a study's folder: claims.md, claims.html, verdicts.csv and
    figures/claims_effects.png (the paths every study's workflow rule declares)."""
    outdir = Path(outdir)
    write_claims_outputs(verdicts, study=study, scale=scale, run_facts=run_facts, title=title, preamble=preamble,
                         cfg=cfg, markdown=outdir / "claims.md", html=outdir / "claims.html",
                         table=outdir / "verdicts.csv", figure=outdir / "figures" / "claims_effects.png",
                         item_noun=item_noun, difficulty=difficulty, training=training)
