"""How many units each claim needs, and what a scale that decides them costs: the design of ``standard``.

The criterion (issue 22): a scale should decide, with at least 80 % power, every claim whose cells show an
effect of at least one standard deviation of their paired differences beyond the cell's threshold. Under
the verdict rules of :mod:`.verdicts` that is a function of the number of cells k alone:

* *held* needs every cell's one-sided test at alpha: by the union bound, k cells at 1 SD each need
  n units with 1 - k (1 - power(n)) >= 0.8;
* *contradicted* needs one cell at alpha / k (Holm's first step): power(n) >= 0.8 at that level;

with power the sign test's exact binomial power (:func:`.verdicts.sign_power`, P(d beyond the threshold)
planned under a normal model: 0.84 at 1 SD), and never fewer than the exact test's floor (2^-n <= level).
The binomial power is a saw-tooth in n; the smallest n that reaches the target is given. A claim is *covered* by the criterion when the run's own
estimate (``claim_units_needed`` of verdicts.csv) is at most this n -- its effect is at least 1 SD -- and
its study then needs n units; claims with smaller effects are listed with the units their estimate needs.

Costs come from the run's job times (``benchmarks/``): the jobs whose count grows with the study's unit
(for S2 a clip's generation, corruption, fits and scores; for S1, S3 and S4 a replicate's data, trainings and
every method's evaluation on it) divided by the run's units, and the rest of the study as a fixed cost. A job holds its rule's ``threads`` cores for its wall time, so
wall time on ``cores`` cores is the sum of job-seconds x threads over cores, which holds when the jobs keep
every core busy (they do at these scales: dozens of independent jobs per study).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .verdicts import CONTRADICTED, HELD, StatsConfig, _power_curve, _smallest_n, floor_units

#: per study: the unit a larger scale adds, the config key that counts it, and the benchmark folders
#: (results/benchmarks/<rule>/) whose jobs multiply with it -- the data a unit draws included (a replicate's
#: scenes, recordings or signals, its notch tuning and every method's evaluation on it; a clip's generation
#: and corruption). Every other timed job is a fixed cost.
STUDY_UNITS = {
    "S1": ("replicates", "replicates", ("s1_split", "s1_training_images", "s1_calibrate_notch", "s1_train",
                                        "s1_evaluate", "s1_evaluate_trained")),
    "S2": ("clips", "clips", ("s2_corpus", "s2_ingest", "s2_observations", "s2_fit", "s2_score")),
    "S3": ("replicates", "replicates", ("s3_scene", "s3_train", "s3_evaluate", "s3_floor")),
    "S4": ("replicates", "replicates", ("s4_corpus", "s4_ingest", "s4_music_train", "s4_music_eval",
                                        "s4_music_eval_trained", "s4_toy")),
}


def units_at_one_sd(cells: int, kind: str, cfg: StatsConfig = StatsConfig(), sds: float = 1.0) -> int:
    """Units that decide a claim of ``cells`` cells with ``cfg.power`` when every cell's effect lies ``sds``
    standard deviations beyond its threshold, read ``kind`` (held: all cells at alpha; contradicted: one
    cell at alpha / cells)."""
    if kind == CONTRADICTED:
        level = cfg.alpha / cells
        curves = [_power_curve("other", -sds, 1.0, 0.0, 0.0, level)]
    else:
        level = cfg.alpha
        curves = [_power_curve("paper", sds, 1.0, 0.0, 0.0, level)] * cells
    return int(_smallest_n(curves, floor_units(level), cfg.power))


def claim_requirements(verdicts: pd.DataFrame, cfg: StatsConfig = StatsConfig()) -> pd.DataFrame:
    """One row per claim of a verdicts.csv: cells, the way this run points, the units its own estimate
    needs, the units a 1-SD effect needs, and whether the claim is covered (estimate <= 1-SD units)."""
    rows = []
    for (study, claim), cells in verdicts.groupby(["study", "claim"], sort=False):
        first = cells.iloc[0]
        kind = first["claim_predicted"] if isinstance(first["claim_predicted"], str) else HELD
        one_sd = units_at_one_sd(len(cells), kind, cfg)
        estimate = float(first["claim_units_needed"])
        rows.append({"study": study, "claim": claim, "verdict": first["verdict"], "cells": len(cells),
                     "unit": first["unit"], "n": int(first["n"]), "reads": kind, "units_estimate": estimate,
                     "units_one_sd": one_sd, "covered": bool(np.isfinite(estimate) and estimate <= one_sd)})
    return pd.DataFrame(rows)


#: cores a job of these rules holds (their ``threads:`` in workflow/rules; a test checks); s2_fit's come from
#: the config's ``fit_threads``, every other rule holds one
RULE_THREADS = {"s1_train": 2}


def _job_seconds(benchmarks: Path, rule: str, threads: int = 1) -> float:
    """Core-seconds the rule's jobs held: wall seconds of each benchmark file times the rule's threads."""
    files = list((benchmarks / rule).rglob("*.tsv")) if (benchmarks / rule).is_dir() else []
    return float(sum(pd.read_csv(f, sep="\t")["s"].iloc[-1] for f in files)) * threads


@dataclass(frozen=True)
class StudyCost:
    study: str
    unit: str
    units: int                  # units of the measured run
    per_unit_s: float           # job-seconds per unit
    fixed_s: float              # job-seconds of the study's other timed jobs

    def seconds(self, units: int) -> float:
        return self.fixed_s + self.per_unit_s * units


def study_costs(results: Path, scale_config: dict, fit_threads: int = 1) -> dict[str, StudyCost]:
    """Core-seconds per unit and fixed, per study, from ``results/benchmarks`` of a run at ``scale_config``
    (the ``scales.<scale>`` block it ran with; ``fit_threads`` the config's threads per S2 fit)."""
    threads = {**RULE_THREADS, "s2_fit": fit_threads}
    benchmarks = Path(results) / "benchmarks"
    timed = {p.name for p in benchmarks.iterdir() if p.is_dir()} if benchmarks.is_dir() else set()
    costs = {}
    for study, (unit, key, rules) in STUDY_UNITS.items():
        block = scale_config[study.lower()]
        units = int(block[key] if key in block else block["seeds"])     # a run from before replicates: seeds
        scaling = sum(_job_seconds(benchmarks, r, threads.get(r, 1)) for r in rules)
        fixed = sum(_job_seconds(benchmarks, r, threads.get(r, 1)) for r in timed
                    if r.startswith(study.lower() + "_") and r not in rules)
        costs[study] = StudyCost(study, unit, units, scaling / units, fixed)
    return costs


def _floor(cells: int, kind: str, cfg: StatsConfig) -> int:
    """Fewest units with which the exact test can decide a claim at all (any effect size)."""
    return floor_units(cfg.alpha / cells if kind == CONTRADICTED else cfg.alpha)


def plan(verdicts: pd.DataFrame, costs: dict[str, StudyCost], cfg: StatsConfig = StatsConfig(),
         cores: int = 2, budget_min: float = np.inf) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-claim requirements, per-study design).

    ``needed``: the units each study needs for its covered claims (the measured run's when none is covered).
    ``planned``: what fits ``budget_min`` minutes on ``cores`` cores, every study starting at the measured
    run's units: studies take their ``needed`` units in order of minutes per covered claim (cheapest first);
    one that cannot take them all takes what the remaining budget affords if that reaches the exact test's
    floor for its covered claims (more units than the floor still decide large effects), else stays."""
    claims = claim_requirements(verdicts, cfg)
    rows = []
    for study, cost in costs.items():
        covered = claims[(claims["study"] == study) & claims["covered"]]
        needed = int(max(covered["units_one_sd"].max(), cost.units)) if len(covered) else cost.units
        floor = max([_floor(r.cells, r.reads, cfg) for r in covered.itertuples()], default=cost.units)
        rows.append({"study": study, "unit": cost.unit, "measured_units": cost.units, "needed": needed,
                     "floor": floor, "covered_claims": ", ".join(covered["claim"]) or "none",
                     "n_covered": len(covered), "per_unit_min": cost.per_unit_s / 60 / cores,
                     "needed_min": cost.seconds(needed) / 60 / cores, "planned": cost.units})
    studies = pd.DataFrame(rows)
    spent = float(sum(costs[s].seconds(costs[s].units) for s in costs)) / 60 / cores
    extra = studies["needed_min"] - [costs[s].seconds(costs[s].units) / 60 / cores for s in studies["study"]]
    order = sorted((i for i in studies.index if studies.at[i, "n_covered"]),
                   key=lambda i: extra[i] / studies.at[i, "n_covered"])
    for i in order:
        per_unit = studies.at[i, "per_unit_min"]
        base = studies.at[i, "measured_units"]
        room = budget_min - spent
        affordable = (base + int(room // per_unit) if per_unit > 0 and np.isfinite(room)
                      else studies.at[i, "needed"])
        units = min(studies.at[i, "needed"], affordable)
        if units >= max(studies.at[i, "floor"], base + 1):
            studies.at[i, "planned"] = units
            spent += (units - base) * per_unit
    studies["planned_min"] = [costs[s].seconds(int(u)) / 60 / cores for s, u in zip(studies["study"],
                                                                                    studies["planned"])]
    return claims, studies


def format_plan(claims: pd.DataFrame, studies: pd.DataFrame, *, run: str, scale: str, cores: int,
                budget_min: float) -> str:
    """The design as Markdown: per study the units the criterion needs and what fits the budget, with
    their minutes; per claim what a 1-SD effect needs and what this run's estimate needs."""
    lines = [f"# Sizing from the `{scale}` run in `{run}`", "",
             "Criterion: decide with 80 % power every claim whose cells show an effect of at least one standard "
             "deviation of their paired differences (`restorebench.report.sizing`). Minutes are wall minutes on "
             f"{cores} cores from the run's benchmark files; they count the timed jobs only (corpus, report and "
             "start-up steps come on top).", "",
             "| study | unit | in the run | needed | claims covered | minutes per unit | minutes if needed | "
             f"planned within {budget_min:.0f} min | minutes planned |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in studies.itertuples():
        lines.append(f"| {r.study} | {r.unit} | {r.measured_units} | {r.needed} | {r.covered_claims} | "
                     f"{r.per_unit_min:.1f} | {r.needed_min:.0f} | {r.planned} | {r.planned_min:.0f} |")
    lines += ["", f"Total: {studies['needed_min'].sum():.0f} minutes for every covered claim; "
              f"{studies['planned_min'].sum():.0f} minutes planned.", "",
              "| claim | cells | reads | verdict in the run | units in the run | units its estimate needs | "
              "units a 1-SD effect needs | covered |", "|---|---|---|---|---|---|---|---|"]
    for r in claims.itertuples():
        estimate = f"{r.units_estimate:.0f}" if np.isfinite(r.units_estimate) else "–"
        units = f"{r.n} {r.unit}" + ("" if r.n == 1 else "s")
        lines.append(f"| {r.claim} | {r.cells} | {r.reads} | {r.verdict} | {units} | {estimate} | "
                     f"{r.units_one_sd} | {'yes' if r.covered else 'no'} |")
    return "\n".join(lines) + "\n"
