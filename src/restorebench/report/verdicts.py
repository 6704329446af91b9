"""Verdicts on a paper's claims from paired statistics (SPEC, "Verdicts").

A claim is a list of comparison *cells*. A cell says that method ``better`` beats method ``worse`` on one
metric over a set of items (clips, scenes, seeds) selected from the tidy rows, optionally by at least a
``margin`` (the paper's "far more", "fewer iterations", as config keys). Each item is scored under both
methods, so the comparison is paired: per item,

    d_i = direction * (score_better_i - score_worse_i)

where ``direction`` is +1 for a higher-is-better metric and -1 for a lower-is-better one (the metric's
declared direction, :data:`LOWER_IS_BETTER`), so d_i > 0 always means "the paper's way". A cell can also be
an *interaction* ("PISNet degrades cross-sensor far more than DIFNet"): the paired differences of one group
of items (same-sensor scenes) against those of another group (cross-sensor scenes); its effect is the
difference of the two groups' mean paired differences.

Per cell we report the effect (mean of d, or difference of means), a 95 % interval and a p-value:

* **p-value: exact sign-flip permutation test** of mean(d) = margin (``scipy.stats.permutation_test``,
  one sample, ``permutation_type="samples"``: every one of the 2^n sign patterns when 2^n <= the resample
  budget, else a seeded Monte-Carlo sample). For an interaction, a two-sample permutation test of the group
  labels. Why this test: it assumes neither normality nor symmetric tails of the metric (PESQ, SDR and ME on
  a handful of items are neither), and being exact it cannot be more confident than the item count allows:
  with n paired items no two-sided p-value is below 2 / 2^n, so 2 clips can never decide a verdict (p >= 0.5)
  where a t-test on two nearly equal differences would.
* **interval: percentile bootstrap over items** (``scipy.stats.bootstrap``, fixed seed). It describes the
  spread of the effect; with very few items it cannot be wider than the range of the differences, which is
  why the verdict is decided by the exact test, not by the interval.
* **Holm correction** across the cells of one claim (step-down; written here because scipy offers only
  false-discovery-rate control and statsmodels would be a heavy dependency for five lines).

A cell is significant when its Holm-adjusted p < alpha; its sign says which way. **held**: every cell
significantly the paper's way. **contradicted**: at least one cell significantly the other way.
**inconclusive**: otherwise.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from math import comb

import numpy as np
import pandas as pd

HELD, CONTRADICTED, INCONCLUSIVE = "held", "contradicted", "inconclusive"
VERDICTS = (HELD, CONTRADICTED, INCONCLUSIVE)

#: metrics where a smaller value is better; every other metric is higher-is-better
LOWER_IS_BETTER = frozenset({"envelope_distance", "me", "rmse", "log_rmse", "rel", "rel_log",
                             "iterations_to_converge", "scatterer_masked"})


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


class UnpairedItemsError(ValueError):
    """The two methods of a comparison were not scored on the same items."""


@dataclass(frozen=True)
class Cell:
    """One comparison: ``better`` beats ``worse`` on ``metric`` over the rows matching ``where``.

    ``where`` maps column names to required values (e.g. ``{"split": "test-same"}``). With ``versus`` the
    cell is an interaction: the paired advantage over the rows matching ``where`` exceeds the paired
    advantage over the rows matching ``versus`` (by at least ``margin``).
    """

    label: str
    metric: str
    better: str
    worse: str
    where: dict = field(default_factory=dict)
    margin: float = 0.0
    versus: dict | None = None


@dataclass(frozen=True)
class Claim:
    """A paper's claim: an id, its statement, and the cells that must all go the paper's way."""

    id: str
    statement: str
    cells: tuple[Cell, ...]
    note: str = ""            # how the claim is measured, the paper's wording behind a margin


@dataclass
class CellResult:
    label: str
    metric: str
    better: str
    worse: str
    n: int                    # paired items (an interaction: both groups together)
    n_detail: str             # "8" or "8 + 8"
    effect: float             # mean advantage of `better`, positive = the paper's way (metric units)
    ci_low: float
    ci_high: float
    margin: float
    p: float
    p_holm: float = np.nan
    outcome: str = ""         # "paper's way" | "other way" | "not significant"
    min_p: float = np.nan     # the smallest two-sided p-value this many items can give


@dataclass
class ClaimVerdict:
    claim: Claim
    verdict: str
    cells: list[CellResult]

    @property
    def n_items(self) -> str:
        sizes = sorted({c.n_detail for c in self.cells})
        return ", ".join(sizes)


@dataclass(frozen=True)
class StatsConfig:
    alpha: float = 0.05
    resamples: int = 10_000   # permutation and bootstrap budget
    seed: int = 0
    pair_on: tuple[str, ...] = ("item",)   # columns that identify an item within a cell's rows


# --------------------------------------------------------------------------------------------- pairing

def _select(rows: pd.DataFrame, metric: str, where: dict) -> pd.DataFrame:
    mask = rows["metric"] == metric
    for column, value in where.items():
        if column not in rows.columns:
            raise KeyError(f"the score table has no column {column!r} (needed to select {where})")
        mask &= rows[column] == value
    return rows[mask]


def paired_differences(rows: pd.DataFrame, cell: Cell, where: dict, pair_on: tuple[str, ...]) -> np.ndarray:
    """d_i = direction * (better_i - worse_i) over the items both methods were scored on.

    Raises :class:`UnpairedItemsError` when the two methods were not scored on the same items, or an item
    has more than one row for a method (the cell's ``where`` does not pin it down).
    """
    chosen = _select(rows, cell.metric, where)
    per_method = {}
    for method in (cell.better, cell.worse):
        m = chosen[chosen["method"] == method]
        if m.empty:
            raise UnpairedItemsError(f"{cell.label}: no {cell.metric!r} rows for method {method!r} where {where}")
        keys = m[list(pair_on)].apply(tuple, axis=1)
        if keys.duplicated().any():
            dup = keys[keys.duplicated()].iloc[0]
            raise UnpairedItemsError(f"{cell.label}: method {method!r} has several {cell.metric!r} rows for item "
                                     f"{dup} where {where}; add the distinguishing column to the cell")
        per_method[method] = pd.Series(m["value"].to_numpy(dtype=float), index=pd.MultiIndex.from_tuples(keys))
    a, b = per_method[cell.better], per_method[cell.worse]
    only_a, only_b = a.index.difference(b.index), b.index.difference(a.index)
    if len(only_a) or len(only_b):
        raise UnpairedItemsError(
            f"{cell.label}: items are not paired: {cell.better!r} has {len(a)} items, {cell.worse!r} {len(b)}; "
            f"only {cell.better!r}: {list(only_a)[:5]}, only {cell.worse!r}: {list(only_b)[:5]}")
    b = b.reindex(a.index)
    direction = 1.0 if higher_is_better(cell.metric) else -1.0
    d = direction * (a.to_numpy() - b.to_numpy())
    if not np.all(np.isfinite(d)):
        raise ValueError(f"{cell.label}: non-finite scores for {cell.better!r} or {cell.worse!r}")
    return d


# ----------------------------------------------------------------------------------------------- tests

def _mean_statistic(x, axis=-1):
    return np.mean(x, axis=axis)


def _mean_difference(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def sign_flip_p(d: np.ndarray, margin: float, cfg: StatsConfig) -> float:
    """Two-sided p-value of mean(d) = margin by the sign-flip permutation test (exact when 2^n is small)."""
    from scipy.stats import permutation_test

    x = np.asarray(d, dtype=float) - margin
    if x.size == 0:
        raise ValueError("no paired items")
    if x.size == 1 or np.all(x == 0):     # one item: +x and -x are the only patterns, p = 1
        return 1.0
    return float(permutation_test((x,), _mean_statistic, permutation_type="samples", vectorized=True,
                                  n_resamples=cfg.resamples, alternative="two-sided", rng=cfg.seed).pvalue)


def two_group_p(x: np.ndarray, y: np.ndarray, margin: float, cfg: StatsConfig) -> float:
    """Two-sided p-value of mean(x) - mean(y) = margin by permuting group labels (exact when few)."""
    from scipy.stats import permutation_test

    x = np.asarray(x, dtype=float) - margin
    y = np.asarray(y, dtype=float)
    if x.size + y.size <= 2 or np.ptp(np.concatenate([x, y])) == 0:   # one labelling and its mirror: p = 1
        return 1.0
    return float(permutation_test((x, y), _mean_difference, permutation_type="independent", vectorized=True,
                                  n_resamples=cfg.resamples, alternative="two-sided", rng=cfg.seed).pvalue)


def bootstrap_interval(samples: tuple[np.ndarray, ...], cfg: StatsConfig, level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean (one sample) or the difference of means (two samples)."""
    from scipy.stats import bootstrap

    if any(len(s) < 2 for s in samples):
        return (np.nan, np.nan)
    if all(np.ptp(s) == 0 for s in samples):      # every resample gives the same value
        value = float(_mean_statistic(samples[0]) if len(samples) == 1 else _mean_difference(*samples))
        return (value, value)
    statistic = _mean_statistic if len(samples) == 1 else _mean_difference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap(samples, statistic, n_resamples=cfg.resamples, vectorized=True, method="percentile",
                        confidence_level=level, rng=cfg.seed)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def min_attainable_p(n: int, m: int | None = None) -> float:
    """Smallest two-sided p-value of the exact test with n paired items (or groups of n and m)."""
    patterns = 2 ** n if m is None else comb(n + m, n)
    return min(1.0, 2.0 / patterns)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (m - rank) * p[index])
        adjusted[index] = min(1.0, running)
    return adjusted.tolist()


# -------------------------------------------------------------------------------------------- verdicts

def evaluate_cell(rows: pd.DataFrame, cell: Cell, cfg: StatsConfig) -> CellResult:
    d = paired_differences(rows, cell, cell.where, cfg.pair_on)
    if cell.versus is None:
        effect = float(d.mean())
        p = sign_flip_p(d, cell.margin, cfg)
        low, high = bootstrap_interval((d,), cfg)
        n, detail, min_p = d.size, f"{d.size}", min_attainable_p(d.size)
    else:
        e = paired_differences(rows, cell, cell.versus, cfg.pair_on)
        effect = float(d.mean() - e.mean())
        p = two_group_p(d, e, cell.margin, cfg)
        low, high = bootstrap_interval((d, e), cfg)
        n, detail, min_p = d.size + e.size, f"{d.size} + {e.size}", min_attainable_p(d.size, e.size)
    return CellResult(cell.label, cell.metric, cell.better, cell.worse, n, detail, effect, low, high,
                      cell.margin, p, min_p=min_p)


def evaluate_claim(rows: pd.DataFrame, claim: Claim, cfg: StatsConfig = StatsConfig()) -> ClaimVerdict:
    """The verdict on one claim from the tidy score rows (columns method, metric, value, item, ...)."""
    if not claim.cells:
        raise ValueError(f"claim {claim.id} has no comparison cells")
    results = [evaluate_cell(rows, cell, cfg) for cell in claim.cells]
    for result, adjusted in zip(results, holm([r.p for r in results])):
        result.p_holm = adjusted
        if adjusted < cfg.alpha:
            result.outcome = "paper's way" if result.effect > result.margin else "other way"
        else:
            result.outcome = "not significant"
    if any(r.outcome == "other way" for r in results):
        verdict = CONTRADICTED
    elif all(r.outcome == "paper's way" for r in results):
        verdict = HELD
    else:
        verdict = INCONCLUSIVE
    return ClaimVerdict(claim, verdict, results)


def verdict_rows(verdicts: list[ClaimVerdict], study: str, scale: str) -> pd.DataFrame:
    """One tidy row per cell: what the claims pages, the results README and the figure read."""
    rows = []
    for v in verdicts:
        for c in v.cells:
            rows.append({"study": study, "scale": scale, "claim": v.claim.id, "statement": v.claim.statement,
                         "verdict": v.verdict, "note": v.claim.note, "cell": c.label, "metric": c.metric,
                         "better": c.better, "worse": c.worse,
                         "direction": "higher" if higher_is_better(c.metric) else "lower",
                         "n": c.n, "n_detail": c.n_detail, "effect": c.effect, "ci_low": c.ci_low,
                         "ci_high": c.ci_high, "margin": c.margin, "p": c.p, "p_holm": c.p_holm,
                         "min_p": c.min_p, "outcome": c.outcome})
    return pd.DataFrame(rows)
