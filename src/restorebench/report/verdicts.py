"""Verdicts on a paper's claims from paired statistics (SPEC, "Verdicts").

A claim is a list of comparison *cells*. A cell says that method ``better`` beats method ``worse`` on one
metric over a set of paired *units* selected from the tidy rows. Each unit is scored under both methods, so
the comparison is paired: per unit,

    d_u = direction * (score_better_u - score_worse_u)

where ``direction`` is +1 for a higher-is-better metric and -1 for a lower-is-better one (the metric's
declared direction, :data:`LOWER_IS_BETTER`), so d_u > 0 always means "the paper's way".

**Units.** A unit is a test item (clip, scene, signal) unless the rows come from several *replicates*
(:data:`restorebench.tidy.REPLICATE`): a replicate is a fresh draw of the study's data and a training seed,
every method of a replicate scored on the same test items. Then the unit is the replicate, d_r being the
mean of the item differences of replicate r: it covers what a new data draw and a new training give, and
treats the replicates as the independent draws they are (the items within a replicate share one trained
network and one data draw, so their spread is not independent evidence). Rows without a replicate (a
method scored once, on data every replicate shares) count the same in every replicate. With one replicate
the verdict covers the test items of that one draw and network. A non-finite score is an error naming the
cell, method, item and replicate: a mean that silently skipped it could turn a win on every item into a loss.

**Interaction cells** ("PISNet degrades cross-sensor far more than DIFNet") compare the paired advantage over
the rows matching ``where`` with the one over ``versus``. When the two groups share their units (scene i of
both test sets faces the same RFI draw; the same replicates at two labelled fractions; the same signals at two
amplitudes) the test is on the per-unit difference-in-differences d_u(where) - d_u(versus); only groups
that share nothing (``groups="independent"``) are compared by permuting group labels (a test of the
difference of means that assumes the groups differ by a shift; no built-in claim uses it).

**The quantity and the test.** A paired cell is about the *median* per-unit difference, tested by the sign
test (:class:`SignTest`): S = #{d > theta}, p = P(Binomial(n, 1/2) >= S). It is valid for any distribution
of d -- skewed, heavy-tailed, discrete -- because under "median <= theta" no unit exceeds theta with
probability above 1/2; units exactly at theta count against the alternative. The sign-flip test of the mean
used before is exact only for differences symmetric about the null value: with lognormal differences its
size reached 0.16-0.21 at alpha = 0.05 (SPEC, Verdicts), and SDR, IoU and F1 differences are often skewed.

**Thresholds.** Every cell has a threshold: the paper's worded margin where the claim has one (C4 "far more",
D1 "approaches", A4 "fewer iterations"), else the metric's smallest meaningful difference delta
(:data:`DEFAULT_SMALLEST_DIFFERENCE`, config ``claims.smallest_meaningful_difference``; "2%" makes it
relative to the compared method's median score, for metrics whose scale changes with the data). Per cell,
three one-sided questions:

* **paper's way**: median(d) > margin (or > +delta), tested at level alpha on its own;
* **other way**: median(d) < margin ("short of the margin"), or < -delta ("meaningfully the other way"); a
  margin cell whose median is also significantly below -delta (C4: PISNet degrades *less*) reads
  "significantly the other way", not "short of the margin";
* **no meaningful difference** (delta cells only): -delta < median(d) < +delta, by two one-sided tests
  (TOST, Schuirmann 1987), each at alpha.

**Verdicts.** *held*: every cell the paper's way. This is an intersection-union test (Berger 1982,
Technometrics 24:295-300; Casella & Berger, Statistical Inference, 2nd ed., Sec. 8.3.5): each cell tested at
alpha without correction gives the claim level alpha under any dependence between cells. *contradicted*:
some cell the other way, a union test, so its one-sided p-values are Holm-corrected across the claim's
cells (familywise error alpha); or -- labelled apart -- every cell shown within +-delta (an
intersection-union test again, so no correction): "no meaningful difference". *inconclusive*: otherwise.
Held and contradicted exclude each other: a cell can reject "<= its upper threshold" only when more than
half its units exceed it, and "other way" only when more than half lie below the lower threshold. A cell
marked ``construction`` (it holds by construction, as a bias-free network's exact homogeneity) is shown
and never judged.

**Floors** (:func:`floor_tests`): a claim names the floors -- trivial, data-free or classical methods -- its
favoured methods must beat. Each judged cell's favoured method is tested against each floor on the cell's
metric and rows (sign test, paper's way beyond delta, each at alpha: intersection-union again); so is the
method it is compared with. A claim whose favoured method does not beat a floor is flagged "a floor does as
well: not evidence for the method", whatever its verdict; a contradicted claim whose two methods both fail
to beat a floor in a cell that went the other way is flagged "both methods at or below a floor".

**p-values and intervals** are exact: binomial tails, and the (1 - 2 alpha) interval for the median between
two order statistics of d, the one that inverts the test (its lower end clears a threshold exactly when
the one-sided level-alpha test rejects; 90 % at alpha = 0.05, the interval TOST reads). With n units no
one-sided p is below 2^-n, so 4 units can never decide a verdict at alpha = 0.05; the interval is then
honestly unbounded.

**Units needed** (:func:`units_needed`): for each cell and claim, the number of units that would give 80 %
power to decide it: the sign test's exact binomial power at P(d beyond the threshold), which is planned
from this run's median and spread under a normal model (the test assumes no shape; only the plan does), and
never fewer than the exact test's floor. A claim predicted to hold needs every cell: the union bound
1 - sum(1 - power_c) >= 80 % holds under any dependence between cells.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil, comb, log2

import numpy as np
import pandas as pd

from ..tidy import REPLICATE

HELD, CONTRADICTED, INCONCLUSIVE = "held", "contradicted", "inconclusive"
VERDICTS = (HELD, CONTRADICTED, INCONCLUSIVE)
PAPERS_WAY, OTHER_WAY, NO_DIFFERENCE, NOT_SIGNIFICANT = ("paper's way", "other way", "no meaningful difference",
                                                         "not significant")
OUTCOMES = (PAPERS_WAY, OTHER_WAY, NO_DIFFERENCE, NOT_SIGNIFICANT)
#: the outcome column of a cell that holds by construction (shown, not judged)
CONSTRUCTION_CHECK = "construction check"

#: metrics where a smaller value is better; every other metric is higher-is-better
LOWER_IS_BETTER = frozenset({"envelope_distance", "me", "rmse", "log_rmse", "rel", "rel_log",
                             "iterations_to_converge", "log2_iterations_to_converge", "scatterer_masked"})

#: smallest meaningful difference per metric, in the metric's units, with the reason (config
#: ``claims.smallest_meaningful_difference`` overrides any of them). Effects inside +-delta are not wins. A
#: value "P%" is relative: P % of the median score of the method a cell compares against (its ``worse``),
#: over the cell's units -- for metrics whose scale changes with the data set.
DEFAULT_SMALLEST_DIFFERENCE: dict[str, float | str] = {
    # dB: 0.1 dB is a 2.3 % change of power, below what listening tests or a visual comparison resolve
    "snr": 0.1, "spectral_snr": 0.1, "sdr": 0.1, "sir": 0.1, "psnr": 0.1, "psnr_peak": 0.1,
    "delta_sdr": 0.1, "sdr_raw": 0.1,
    # PESQ (MOS-LQO): half the 0.1 MOS step usually taken as the smallest audible change
    "pesq_wb": 0.05, "pesq_nb": 0.05,
    # RMS envelope distance: half the 0.01 step of the paper's Tables 3-4
    "envelope_distance": 0.005,
    # masks and shares in [0, 1]: one percentage point, the resolution of the papers' tables (in %)
    "pa": 0.01, "iou": 0.01, "pa_full_band": 0.01, "iou_full_band": 0.01, "accuracy": 0.01,
    "scatterer_masked": 0.01, "scatterer_kept": 0.01, "energy_ratio": 0.01,
    # F1 and log-domain height errors: 0.01, the last digit of the paper's Table 2
    "f1": 0.01, "log_rmse": 0.01, "rel_log": 0.01,
    # height errors in metres: 0.1 m, far below a storey; relative error: one percentage point
    "rmse": 0.1, "rel": 0.01,
    # image entropy x mean (Eq. 24): relative, 2 % of the compared method's median ME in the cell. ME's scale
    # depends on the sensor and scene (5e-4 same-sensor, 0.03-0.11 cross-sensor at quick): an absolute delta
    # fitted to one sensor is a hundredth of the other's values
    "me": "2%",
    # despeckling: 0.01 SSIM; ENL 0.1 looks
    "ssim": 0.01, "enl": 0.1,
    # iterations of a fit; A4 compares log2 counts (0.1: a 7 % ratio) with its paper-worded margin
    "iterations_to_converge": 1.0, "log2_iterations_to_converge": 0.1,
}

def mark_replicates(rows: pd.DataFrame, trained: set[str]) -> pd.DataFrame:
    """Rows with the :data:`REPLICATE` of every trained method filled from its ``seed`` column where it is
    missing (a network trained once, with the run's seed: one replicate), so that a verdict knows it rests on
    trained networks -- and on how many. Rows written before the replicate column take their
    ``training_seed``."""
    rows = rows.copy()
    if REPLICATE not in rows.columns:
        rows[REPLICATE] = rows["training_seed"] if "training_seed" in rows.columns else np.nan
    fill = rows["method"].isin(trained) & rows[REPLICATE].isna()
    rows.loc[fill, REPLICATE] = pd.to_numeric(rows.loc[fill, "seed"], errors="coerce")
    return rows


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


class UnpairedItemsError(ValueError):
    """The two methods of a comparison were not scored on the same items."""


@dataclass(frozen=True)
class Cell:
    """One comparison: ``better`` beats ``worse`` on ``metric`` over the rows matching ``where``.

    ``where`` maps column names to required values (e.g. ``{"split": "test-same"}``). ``margin``: the paper's
    worded margin (None: the metric's smallest meaningful difference). With ``versus`` the cell is an
    interaction: the paired advantage over ``where`` exceeds the one over ``versus``; ``groups`` says whether
    the two groups share their units ("shared": tested on the per-unit difference-in-differences) or share
    nothing ("independent": two-sample label permutation).
    """

    label: str
    metric: str
    better: str
    worse: str
    where: dict = field(default_factory=dict)
    margin: float | None = None
    versus: dict | None = None
    groups: str = "shared"
    #: holds by construction (a bias-free network is exactly homogeneous): shown as a construction check,
    #: not part of the verdict
    construction: bool = False

    def __post_init__(self):
        if self.groups not in ("shared", "independent"):
            raise ValueError(f"{self.label}: groups must be 'shared' or 'independent', not {self.groups!r}")


@dataclass(frozen=True)
class Claim:
    """A paper's claim: an id, its statement, and the cells that must all go the paper's way."""

    id: str
    statement: str
    cells: tuple[Cell, ...]
    note: str = ""            # how the claim is measured, the paper's wording behind a margin
    #: what in this suite's setup (stand-in data, smaller networks, a listed deviation) could explain a
    #: verdict other than the paper's; the claims page prints it when the claim reads contradicted
    if_contradicted: str = ""
    #: "paper": the paper's words judged under its protocol; "suite": a question the suite adds (another
    #: stopping rule, a reading the paper does not make), labelled as ours on every page
    origin: str = "paper"
    #: floors (trivial, data-free or classical methods) the favoured method of every cell must beat, and why
    #: they apply -- or why none does (a claim about a side effect, or about iteration counts)
    floors: tuple[str, ...] = ()
    floors_reason: str = ""

    def __post_init__(self):
        if self.origin not in ("paper", "suite"):
            raise ValueError(f"claim {self.id}: origin must be 'paper' or 'suite', not {self.origin!r}")


@dataclass(frozen=True)
class StatsConfig:
    alpha: float = 0.05
    resamples: int = 10_000            # Monte-Carlo regroupings of the two-sample test above the exact range
    seed: int = 0                      # seed of the Monte-Carlo sample
    exact_max_units: int = 20          # the two-sample test enumerates regroupings while there are <= 2^this
    power: float = 0.8                 # the power "units needed" is computed for
    pair_on: tuple[str, ...] = ("item",)   # columns that identify an item within a cell's rows
    smallest_difference: dict = field(default_factory=lambda: dict(DEFAULT_SMALLEST_DIFFERENCE))
    in_place_of: dict = field(default_factory=dict)   # a claim's method -> the method judged in its place

    def delta(self, metric: str, reference: np.ndarray | None = None) -> float:
        """The metric's delta; a relative one ("2%") is that share of median(|reference|), the compared
        method's scores on the cell's units."""
        if metric not in self.smallest_difference:
            raise KeyError(f"no smallest meaningful difference for metric {metric!r}: add it under "
                           f"claims.smallest_meaningful_difference")
        share = relative_share(self.smallest_difference[metric])
        if share is None:
            return float(self.smallest_difference[metric])
        if reference is None or not np.size(reference):
            raise ValueError(f"the smallest meaningful difference of {metric!r} is relative "
                             f"({self.smallest_difference[metric]}): it needs the compared method's scores")
        return share * float(np.median(np.abs(reference)))

    def delta_text(self, metric: str) -> str:
        """How the metric's delta is set, for the pages: "0.1" or "2 % of the compared method's median"."""
        value = self.smallest_difference.get(metric)
        share = relative_share(value) if value is not None else None
        return f"{100 * share:g} % of the compared method's median" if share is not None else f"{value}"


def relative_share(value) -> float | None:
    """0.02 for a relative delta written "2%"; None for an absolute one (a number)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return float(value.strip()[:-1]) / 100
    return None


# --------------------------------------------------------------------------------------------- pairing

@dataclass
class Units:
    """Per-unit paired differences of one group of rows, and what the units are."""

    d: pd.Series              # indexed by unit key
    kind: str                 # "item" | "replicate"
    items_per_unit: int       # items averaged within a unit (1 for item units)
    replicates: tuple         # replicates seen (empty: every row is shared by all replicates)
    reference: np.ndarray = field(default_factory=lambda: np.zeros(0))   # the compared (worse) method's scores


def _select(rows: pd.DataFrame, metric: str, where: dict) -> pd.DataFrame:
    mask = rows["metric"] == metric
    for column, value in where.items():
        if column not in rows.columns:
            raise KeyError(f"the score table has no column {column!r} (needed to select {where})")
        mask &= rows[column] == value
    return rows[mask]


def _method_scores(rows: pd.DataFrame, cell: Cell, method: str, where: dict,
                   pair_on: tuple[str, ...]) -> tuple[pd.Series, tuple]:
    """``method``'s scores indexed by (replicate, *item) (replicate NaN for rows every replicate shares) and
    its replicates."""
    m = rows[rows["method"] == method]
    if m.empty:
        raise UnpairedItemsError(f"{cell.label}: no {cell.metric!r} rows for method {method!r} where {where}")
    replicates = m[REPLICATE] if REPLICATE in m.columns else pd.Series(np.nan, index=m.index)
    replicates = pd.to_numeric(replicates, errors="coerce")
    keys = pd.MultiIndex.from_arrays([replicates.to_numpy()] + [m[c].to_numpy() for c in pair_on],
                                     names=[REPLICATE, *pair_on])
    values = pd.Series(m["value"].to_numpy(dtype=float), index=keys)
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        key = values.index[np.argmax(bad)]
        replicate = "" if pd.isna(key[0]) else f", replicate {int(key[0])}"
        raise ValueError(f"{cell.label}: method {method!r} has a non-finite {cell.metric!r} score "
                         f"({values.iloc[int(np.argmax(bad))]}) for item {key[1:] if len(key) > 2 else key[1]}"
                         f"{replicate} where {where}: a score must be a number, not dropped")
    if values.index.duplicated().any():
        dup = values.index[values.index.duplicated()][0]
        raise UnpairedItemsError(f"{cell.label}: method {method!r} has several {cell.metric!r} rows for item "
                                 f"{dup[1:]} (replicate {dup[0]}) where {where}; add the distinguishing "
                                 f"column to the cell")
    return values, tuple(sorted(set(replicates.dropna().astype(int))))


def _items_by_replicate(values: pd.Series) -> dict:
    return {r: frozenset(v.index.droplevel(0)) for r, v in values.groupby(level=0, dropna=False)}


def paired_units(rows: pd.DataFrame, cell: Cell, where: dict, pair_on: tuple[str, ...]) -> Units:
    """Per-unit d = direction * (better - worse) over the units both methods were scored on (see the module
    docstring for what a unit is).

    Raises :class:`UnpairedItemsError` when the two methods were not scored on the same items (or
    replicates), or an item has more than one row for a method (the cell's ``where`` does not pin it down).
    """
    chosen = _select(rows, cell.metric, where)
    scores = {}
    for method in (cell.better, cell.worse):
        scores[method] = _method_scores(chosen, cell, method, where, pair_on)
    (a, reps_a), (b, reps_b) = scores[cell.better], scores[cell.worse]
    item_sets = {frozenset(x.index.droplevel(0)) for x in (a, b)}
    if len(item_sets) > 1 or any(len(set(_items_by_replicate(x).values())) > 1 for x in (a, b)):
        only_a = sorted(set(a.index.droplevel(0)) - set(b.index.droplevel(0)), key=str)
        only_b = sorted(set(b.index.droplevel(0)) - set(a.index.droplevel(0)), key=str)
        raise UnpairedItemsError(
            f"{cell.label}: items are not paired: {cell.better!r} has {len(a)} rows, {cell.worse!r} {len(b)}; "
            f"only {cell.better!r}: {only_a[:5]}, only {cell.worse!r}: {only_b[:5]} (or a replicate misses "
            f"items)")
    if reps_a and reps_b and reps_a != reps_b:
        raise UnpairedItemsError(f"{cell.label}: {cell.better!r} has replicates {list(reps_a)}, "
                                 f"{cell.worse!r} {list(reps_b)}: replicates are not paired")
    replicates = reps_a or reps_b
    direction = 1.0 if higher_is_better(cell.metric) else -1.0
    items = sorted(next(iter(item_sets)), key=str)
    if len(replicates) >= 2:
        # the unit is the replicate: a method's mean over the items of each replicate; rows every replicate
        # shares give the same mean in each
        def per_replicate(x, own):
            if own:
                return x.groupby(level=0).mean().reindex([float(r) for r in replicates])
            return pd.Series(x.mean(), index=[float(r) for r in replicates])
        d = direction * (per_replicate(a, reps_a) - per_replicate(b, reps_b))
        kind, per_unit = "replicate", len(items)
    else:
        a_items = a.droplevel(0).reindex(pd.Index(items) if len(pair_on) == 1 else pd.MultiIndex.from_tuples(items))
        b_items = b.droplevel(0).reindex(a_items.index)
        d = direction * (a_items - b_items)
        kind, per_unit = "item", 1
    if not np.all(np.isfinite(d.to_numpy())):
        raise ValueError(f"{cell.label}: non-finite scores for {cell.better!r} or {cell.worse!r}")
    return Units(d, kind, per_unit, replicates, b.to_numpy(dtype=float))


# ----------------------------------------------------------------------------------------------- tests

def _subset_sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums and sizes of all 2^n subsets of x (by doubling: O(2^n) memory, no 2^n x n pattern matrix)."""
    sums, sizes = np.zeros(1), np.zeros(1, dtype=np.int64)
    for value in x:
        sums = np.concatenate([sums, sums + value])
        sizes = np.concatenate([sizes, sizes + 1])
    return sums, sizes


@dataclass
class ShiftTest:
    """The permutation distribution of the shift between two independent groups, stored as its *pivots*.

    For each non-identity regrouping the pivot w is the shift theta at which that regrouping's statistic
    equals the observed one: for a regrouping that swaps A (from x) with B (from y), w = mean(x_A) -
    mean(y_B) (Hartigan 1969). The one-sided p-value of "shift <= theta" is then (1 + #{w <= theta}) / total, that of
    "shift >= theta" (1 + #{w >= theta}) / total, and inverting them gives the interval.
    """

    pivots: np.ndarray        # sorted
    total: int                # regroupings counted, the identity included (C(n+m, n), or 1 + resamples)
    exact: bool
    n_units: int
    tolerance: float          # ties within this count as equal (float sums of the same numbers)

    def p_greater(self, theta: float) -> float:
        """p-value of H0: shift <= theta against shift > theta."""
        count = np.searchsorted(self.pivots, theta + self.tolerance, side="right")
        return float((1 + count) / self.total)

    def p_less(self, theta: float) -> float:
        """p-value of H0: shift >= theta against shift < theta."""
        count = self.pivots.size - np.searchsorted(self.pivots, theta - self.tolerance, side="left")
        return float((1 + count) / self.total)

    def interval(self, alpha: float) -> tuple[float, float]:
        """The shifts neither one-sided level-``alpha`` test rejects: a (1 - 2 alpha) interval; (-inf, inf)
        when even the most extreme data could not be rejected (total * alpha < 1)."""
        k = int(np.floor(alpha * self.total + 1e-12))      # p > alpha  <=>  count >= k
        if k < 1 or self.pivots.size == 0:
            return (-np.inf, np.inf)
        return float(self.pivots[k - 1]), float(self.pivots[self.pivots.size - k])


@dataclass
class SignTest:
    """The sign test of the median of paired differences d (exact binomial; Conover, Practical Nonparametric
    Statistics, 3rd ed., Sec. 3.4), with the interval that inverts it.

    H0 "median(d) <= theta" against "median(d) > theta": count S = #{d > theta}; under H0 P(d > theta) <= 1/2,
    so p = P(Binomial(n, 1/2) >= S) is a valid p-value for any distribution of d -- no symmetry, no
    continuity. Differences equal to theta (within float noise) count against the alternative, never for it,
    so ties at a threshold cost power but never validity. The sign-flip test this replaces is exact only for
    differences symmetric about the null value; with skewed differences (SDR, IoU, F1 often are) its size
    reached 0.16-0.21 at alpha = 0.05.
    """

    d: np.ndarray             # sorted differences
    tolerance: float          # differences this close to theta count as equal to it
    exact: bool = True

    @property
    def n_units(self) -> int:
        return int(self.d.size)

    def _above(self, theta: float) -> int:
        return int(self.d.size - np.searchsorted(self.d, theta + self.tolerance, side="right"))

    def _below(self, theta: float) -> int:
        return int(np.searchsorted(self.d, theta - self.tolerance, side="left"))

    def p_greater(self, theta: float) -> float:
        """p-value of H0: median <= theta against median > theta."""
        return binomial_tail(self.d.size, self._above(theta))

    def p_less(self, theta: float) -> float:
        """p-value of H0: median >= theta against median < theta."""
        return binomial_tail(self.d.size, self._below(theta))

    def interval(self, alpha: float) -> tuple[float, float]:
        """The medians neither one-sided level-``alpha`` test rejects, a (1 - 2 alpha) interval between two
        order statistics: "median <= theta" is rejected exactly when c differences exceed theta (c the
        critical count), i.e. when theta lies below the (n - c + 1)-th smallest; (-inf, inf) when no count
        can reach alpha (2^-n > alpha)."""
        n = self.d.size
        c = critical_count(n, alpha)
        if c > n:
            return (-np.inf, np.inf)
        return float(self.d[n - c]), float(self.d[c - 1])


def binomial_tail(n: int, count: int) -> float:
    """P(Binomial(n, 1/2) >= count): the sign test's one-sided p-value."""
    from scipy.stats import binom

    return float(binom.sf(count - 1, n, 0.5)) if count > 0 else 1.0


def critical_count(n, level: float):
    """Smallest count c with P(Binomial(n, 1/2) >= c) <= level (n + 1 when none: the test cannot reject);
    n may be an array."""
    from scipy.stats import binom

    n = np.asarray(n)
    c = binom.ppf(1 - level, n, 0.5) + 1
    # ppf's float comparison can land one off at an exact tail probability: settle it on the tail itself
    c = np.where(binom.sf(c - 2, n, 0.5) <= level, c - 1, c)
    c = np.where(binom.sf(c - 1, n, 0.5) > level, c + 1, c)
    return c.astype(int) if c.ndim else int(c)


def sign_test(d: np.ndarray) -> SignTest:
    """The sign test of median(d) (:class:`SignTest`)."""
    d = np.sort(np.asarray(d, dtype=float))
    if d.size == 0:
        raise ValueError("no paired units")
    return SignTest(d, _tolerance(d))


def _tolerance(values: np.ndarray) -> float:
    return 1e-9 * max(1.0, float(np.max(np.abs(values)))) if values.size else 1e-9


def two_sample_test(x: np.ndarray, y: np.ndarray, cfg: StatsConfig = StatsConfig()) -> ShiftTest:
    """The label-permutation test of mean(x) - mean(y) for groups that share no unit: every regrouping while
    there are at most 2^cfg.exact_max_units, else a seeded Monte-Carlo sample."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n, m = x.size, y.size
    if n == 0 or m == 0:
        raise ValueError("a group has no units")
    both = np.concatenate([x, y])
    if comb(n + m, n) <= 2 ** cfg.exact_max_units:
        sx, kx = _subset_sums(x)
        sy, ky = _subset_sums(y)
        pivots = [((sx[kx == k][:, None] - sy[ky == k][None, :]) / k).ravel() for k in range(1, min(n, m) + 1)]
        pivots = np.sort(np.concatenate(pivots)) if pivots else np.zeros(0)
        return ShiftTest(pivots, comb(n + m, n), True, n + m, _tolerance(both))
    rng = np.random.default_rng(cfg.seed)
    in_x = np.argsort(rng.random((cfg.resamples, n + m)), axis=1) < n     # new x group, uniformly drawn
    moved_out = ~in_x[:, :n]                                             # A: x units now in y
    moved_in = in_x[:, n:]                                               # B: y units now in x
    k = moved_out.sum(axis=1)
    keep = k > 0
    pivots = (moved_out[keep].astype(float) @ x - moved_in[keep].astype(float) @ y) / k[keep]
    return ShiftTest(np.sort(pivots), 1 + int(keep.sum()), False, n + m, _tolerance(both))


def min_attainable_p(n: int, m: int | None = None, ties: int = 0, resamples: int | None = None) -> float:
    """Smallest one-sided p-value the exact test can give with n units (or groups of n and m units).

    ``ties``: differences exactly at the null value, which the sign test counts against the alternative (8
    units with 5 ties: at most 3 of 8 can exceed it, p >= P(Binomial(8, 1/2) >= 3) = 0.86); ``resamples``: a
    Monte-Carlo test cannot go below 1 / (1 + resamples).
    """
    floor = binomial_tail(n, n - ties) if m is None else 1.0 / comb(n + m, n)
    if resamples is not None:
        floor = max(floor, 1.0 / (1 + resamples))
    return min(1.0, floor)


def floor_units(level: float) -> int:
    """Fewest units whose exact sign test can reach ``level``: 2^-n <= level."""
    return max(1, ceil(log2(1.0 / level) - 1e-12))


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1). Written here because scipy offers
    only false-discovery-rate control and statsmodels would be a heavy dependency for five lines."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (m - rank) * p[index])
        adjusted[index] = min(1.0, running)
    return adjusted.tolist()


# ------------------------------------------------------------------------------------------- power

def exceedance(distance: float, sd: float) -> float:
    """P(d beyond the null value) for differences whose median lies ``distance`` beyond it with spread
    ``sd``, under a normal planning model (the test itself assumes no shape; only this plan does)."""
    from scipy.stats import norm

    if sd <= 1e-9 * max(1.0, abs(distance)):       # no spread (up to float noise): the sign decides
        return 1.0 if distance > 0 else 0.0
    return float(norm.cdf(distance / sd))


def sign_power(n: np.ndarray, distance: float, sd: float, level: float) -> np.ndarray:
    """Power of the one-sided sign test at ``level`` with n units when the median lies ``distance`` beyond
    the null value: P(Binomial(n, q) >= c_n), q = :func:`exceedance`, c_n = :func:`critical_count`."""
    from scipy.stats import binom

    n = np.asarray(n, dtype=int)
    q = exceedance(distance, sd)
    return binom.sf(critical_count(n, level) - 1, n, q)


def _power_curve(kind: str, effect: float, sd: float, lower: float, upper: float, level: float):
    """(power as a function of n, normal-approximation n) for one cell's predicted outcome
    (kind: paper / other / equivalence); None when the effect sits on the threshold."""
    from scipy.stats import norm

    if kind == "paper":
        distances = [effect - upper]
    elif kind == "other":
        distances = [lower - effect]
    else:
        distances = [upper - effect, effect - lower]
    if min(distances) <= 0:
        return None
    # the normal approximation of the sign test (a proportion q against 1/2) as the scan's starting point
    q = min(exceedance(min(distances), sd), 1 - 1e-12)
    guess = min(((norm.ppf(1 - level) * 0.5 + norm.ppf(0.8) * np.sqrt(q * (1 - q))) / (q - 0.5)) ** 2, 1e7)
    if kind == "equivalence":
        # TOST: both one-sided tests must reject; 1 - (miss_1 + miss_2) bounds their joint power from below
        return (lambda n: np.clip(sign_power(n, distances[0], sd, level)
                                  + sign_power(n, distances[1], sd, level) - 1, 0, 1)), guess
    return (lambda n: sign_power(n, distances[0], sd, level)), guess


def _smallest_n(curves, level_floor: int, target: float, cap: int = 1_000_000) -> float:
    """Smallest n >= level_floor with 1 - sum(1 - power_c(n)) >= target (inf beyond ``cap``, or when a
    curve is None: an effect on its threshold is never decided)."""
    if any(c is None for c in curves):
        return np.inf
    start = max([level_floor] + [int(0.9 * guess) for _, guess in curves])
    start = max(level_floor, min(start, cap))
    # the normal approximation's n is near the exact one: scan upward from just below it
    lo = start
    width = 64
    while lo <= cap:
        n = np.arange(lo, min(lo + width, cap + 1))
        joint = 1 - sum(1 - curve(n) for curve, _ in curves)
        hit = np.nonzero(joint >= target)[0]
        if hit.size:
            first = int(n[hit[0]])
            if first == start and start > level_floor:       # the guess overshot: step back down
                below = np.arange(max(level_floor, start // 2), start)
                joint = 1 - sum(1 - curve(below) for curve, _ in curves)
                ok = np.nonzero(joint >= target)[0]
                return float(below[ok[0]]) if ok.size else float(first)
            return float(first)
        lo += width
        width *= 2
    return np.inf


# -------------------------------------------------------------------------------------------- verdicts

@dataclass
class CellResult:
    label: str
    metric: str
    better: str
    worse: str
    n: int                    # independent units (replicates, or items of one replicate)
    n_detail: str             # "8 scenes" style: "8", or "8 replicates x 16 items"
    unit: str                 # "item" | "replicate"
    effect: float             # median advantage of `better` (mean for independent groups), positive = the paper's way
    ci_low: float             # (1 - 2 alpha) interval from inverting the test
    ci_high: float
    margin: float             # the paper's margin, or NaN when the threshold is delta
    delta: float              # the metric's smallest meaningful difference
    lower: float              # "other way" below this
    upper: float              # "paper's way" above this
    test: str                 # "sign test of the median over items" | "... over replicates" | "... difference-in-differences"
    exact: bool
    p: float                  # one-sided p, paper's way (mean > upper), no correction (intersection-union)
    p_other: float            # one-sided p, other way (mean < lower)
    p_other_holm: float = np.nan
    p_equivalence: float = np.nan   # TOST (delta cells only)
    outcome: str = ""
    min_p: float = np.nan     # the smallest one-sided p this many units can give
    sd: float = np.nan        # spread of the per-unit differences (the power plan's)
    units_needed: float = np.nan    # units for 80 % power to decide this cell (inf: the effect sits at a threshold)
    predicted: str = ""       # the outcome this run's point estimate points to
    replicates: int = 0       # replicates behind the units (0: rows shared by every replicate)
    items_per_unit: int = 1
    #: margin cells: one-sided p of "median < -delta" (Holm-adjusted across the claim in classify): a
    #: margin cell this far the other way reads "significantly the other way", not "short of the margin"
    p_beyond: float = np.nan
    p_beyond_holm: float = np.nan
    tied: int = 0             # units whose difference equals the upper threshold (no evidence either way)
    #: a check that holds by construction (e.g. a bias-free network's exact homogeneity): shown, never part
    #: of the verdict
    construction: bool = False

    @property
    def has_margin(self) -> bool:
        return bool(np.isfinite(self.margin))


def verdict_label(verdict: str, reason: object = "", floor_flag: object = "", training_flag: object = "") -> str:
    """A claim's verdict as every page writes it: "held", "contradicted — short of the margin", "held — a
    floor does as well: not evidence for the method", or, when a network it rests on is not trained (no
    plateau, or worse than the input), "not a verdict: DIFNet (seed 1): no plateau (the statistics read
    held)". The flags may be NaN (empty fields read back from verdicts.csv)."""
    parts = [x for x in (reason, floor_flag) if isinstance(x, str) and x]
    label = f"{verdict} — {'; '.join(parts)}" if parts else str(verdict)
    if isinstance(training_flag, str) and training_flag:
        return f"{training_flag} (the statistics read {label})"
    return label


def row_label(row) -> str:
    """:func:`verdict_label` of one row of a verdicts.csv (a claim's first cell row)."""
    return verdict_label(row["verdict"], row.get("verdict_reason", ""), row.get("claim_floor_flag", ""),
                         row.get("claim_training_flag", ""))


@dataclass
class ClaimVerdict:
    claim: Claim
    verdict: str
    cells: list[CellResult]
    reason: str = ""          # contradicted: "significantly the other way" | "short of the margin" | "no meaningful difference"
    units_needed: float = np.nan
    predicted: str = ""
    floor_tests: list = field(default_factory=list)    # FloorTest per (cell, method, floor)
    floor_flag: str = ""      # what the floors say about the verdict ("" when every floor is beaten or none applies)
    # "not a verdict: ..." when a network it rests on is not trained (report/training.py) or the study's setup
    # cannot test it (S2: a degenerate geometry); its name is older than the second use
    training_flag: str = ""

    @property
    def verdict_cells(self) -> list:
        """The cells the verdict rests on (construction checks are shown, never judged)."""
        return [c for c in self.cells if not c.construction]

    @property
    def label(self) -> str:
        return verdict_label(self.verdict, self.reason, self.floor_flag, self.training_flag)

    @property
    def n_items(self) -> str:
        sizes = sorted({c.n_detail for c in self.cells})
        return ", ".join(sizes)


def _thresholds(metric: str, margin: float | None, cfg: StatsConfig,
                reference: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """(lower, upper, margin, delta): the paper's margin for both, or -delta / +delta."""
    delta = cfg.delta(metric, reference)
    if margin is None:
        return -delta, delta, np.nan, delta
    return float(margin), float(margin), float(margin), delta


def result_from_differences(label: str, metric: str, d: np.ndarray, cfg: StatsConfig, *,
                            margin: float | None = None, y: np.ndarray | None = None, better: str = "",
                            worse: str = "", unit: str = "item", detail: str | None = None, test_name: str = "",
                            replicates: int = 0, items_per_unit: int = 1, reference: np.ndarray | None = None,
                            construction: bool = False) -> CellResult:
    """A cell's statistics from its per-unit differences ``d`` (or, with ``y``, from two independent groups
    of differences ``d`` and ``y``): effect, interval, the one-sided p-values, the floor, the spread.

    Paired cells: the sign test of the median difference (:class:`SignTest`), effect = median. Independent
    groups: the label-permutation test of the difference of means (assumes the groups' distributions differ
    only by a shift). ``reference``: the compared method's scores, for a relative delta. A non-finite
    difference is a ValueError naming the cell."""
    d = np.asarray(d, dtype=float)
    if not np.all(np.isfinite(d)) or (y is not None and not np.all(np.isfinite(np.asarray(y, dtype=float)))):
        raise ValueError(f"{label}: non-finite per-unit differences ({metric}, {better} vs {worse}): "
                         f"{d.tolist() if y is None else (d.tolist(), list(y))}")
    lower, upper, margin_value, delta = _thresholds(metric, margin, cfg, reference)
    if y is None:
        test = sign_test(d)
        effect = float(np.median(d))
        sd = float(d.std(ddof=1)) if d.size > 1 else np.nan
        ties = int(np.sum(np.abs(d - upper) <= test.tolerance))
        min_p = min_attainable_p(d.size, ties=ties)
        n = d.size
        detail = detail or f"{n}"
        test_name = test_name or f"sign test of the median over {unit}s"
    else:
        y = np.asarray(y, dtype=float)
        test = two_sample_test(d, y, cfg)
        effect = float(d.mean() - y.mean())
        if d.size > 1 and y.size > 1:
            pooled = np.sqrt(((d.size - 1) * d.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (d.size + y.size - 2))
            sd = float(pooled * np.sqrt(2))   # the spread of a difference, per pair of units (power below)
        else:
            sd = np.nan
        ties = 0
        min_p = min_attainable_p(d.size, y.size, resamples=None if test.exact else cfg.resamples)
        n = d.size + y.size
        detail = detail or f"{d.size} + {y.size}"
        test_name = test_name or f"label permutation of two independent groups of {unit}s (mean; shift model)"
    low, high = test.interval(cfg.alpha)
    p_equivalence = max(test.p_less(upper), test.p_greater(lower)) if margin is None else np.nan
    # a margin above -delta ("far more", C4): below -delta is the other way itself, not merely short of it
    p_beyond = test.p_less(-delta) if margin is not None and margin_value > -delta else np.nan
    return CellResult(label, metric, better, worse, n, detail, unit, effect, low, high, margin_value, delta,
                      lower, upper, test_name, test.exact, test.p_greater(upper), test.p_less(lower),
                      p_equivalence=p_equivalence, min_p=min_p, sd=sd, replicates=replicates, items_per_unit=items_per_unit,
                      p_beyond=p_beyond, tied=ties, construction=construction)


def evaluate_cell(rows: pd.DataFrame, cell: Cell, cfg: StatsConfig) -> CellResult:
    units = paired_units(rows, cell, cell.where, cfg.pair_on)
    common = dict(margin=cell.margin, better=cell.better, worse=cell.worse, unit=units.kind,
                  replicates=len(units.replicates), items_per_unit=units.items_per_unit, reference=units.reference,
                  construction=cell.construction)
    replicates_detail = ((lambda n: f"{n} replicates × {units.items_per_unit}") if units.kind == "replicate"
                         else (lambda n: None))
    if cell.versus is None:
        d = units.d.to_numpy(dtype=float)
        return result_from_differences(cell.label, cell.metric, d, cfg, detail=replicates_detail(d.size), **common)
    other = paired_units(rows, cell, cell.versus, cfg.pair_on)
    if other.kind != units.kind:
        raise UnpairedItemsError(f"{cell.label}: the two groups have different units ({units.kind}, {other.kind})")
    if cell.groups == "independent":
        return result_from_differences(cell.label, cell.metric, units.d.to_numpy(dtype=float), cfg,
                                       y=other.d.to_numpy(dtype=float), **common)
    if set(units.d.index) != set(other.d.index):
        raise UnpairedItemsError(
            f"{cell.label}: the groups are declared to share their units, but their {units.kind}s differ "
            f"({len(units.d)} vs {len(other.d)}); declare groups='independent' if they share nothing")
    d = (units.d - other.d.reindex(units.d.index)).to_numpy(dtype=float)
    return result_from_differences(cell.label, cell.metric, d, cfg, detail=replicates_detail(d.size),
                                   test_name=f"sign test of the median per-{units.kind} difference-in-differences",
                                   **common)


def _predict(c: CellResult) -> str:
    if c.effect > c.upper:
        return "paper"
    if c.effect < c.lower:
        return "other"
    if not c.has_margin:
        return "equivalence"
    return ""


def _cell_curve(c: CellResult, level: float):
    if not np.isfinite(c.sd) or not c.predicted:
        return None
    return _power_curve(c.predicted, c.effect, c.sd, c.lower, c.upper, level)


def units_needed(cells: list[CellResult], cfg: StatsConfig) -> tuple[float, str]:
    """Units for ``cfg.power`` to decide a claim the way this run's point estimates point, and that way.

    held (every cell's estimate beyond its upper threshold): every cell at alpha, by the union bound;
    contradicted (some cell beyond its lower threshold): the cheapest such cell at alpha / m (Holm's first
    step); no meaningful difference (every estimate within +-delta): every cell's TOST. NaN with "" when
    the estimates point no single way; NaN when a spread is unknown (one unit)."""
    m = len(cells)
    for c in cells:
        c.predicted = _predict(c)
        level = cfg.alpha / m if c.predicted == "other" else cfg.alpha
        c.units_needed = (_smallest_n([_cell_curve(c, level)], floor_units(level), cfg.power)
                          if c.predicted and np.isfinite(c.sd) else np.nan)
    kinds = [c.predicted for c in cells]
    spread_unknown = any(not np.isfinite(c.sd) for c in cells)
    if all(k == "paper" for k in kinds):
        return (np.nan if spread_unknown else
                _smallest_n([_cell_curve(c, cfg.alpha) for c in cells], floor_units(cfg.alpha), cfg.power)), HELD
    others = [c.units_needed for c in cells if c.predicted == "other" and not np.isnan(c.units_needed)]
    if any(k == "other" for k in kinds):
        return (min(others) if others else np.nan), CONTRADICTED
    if all(k == "equivalence" for k in kinds):
        return (np.nan if spread_unknown else
                _smallest_n([_cell_curve(c, cfg.alpha) for c in cells], floor_units(cfg.alpha), cfg.power)), \
            NO_DIFFERENCE
    return np.nan, ""


def classify(claim: Claim, results: list[CellResult], cfg: StatsConfig = StatsConfig(),
             with_units_needed: bool = True) -> ClaimVerdict:
    """Outcomes of a claim's cells and its verdict (module docstring): paper's way at alpha per cell
    (intersection-union), other way Holm-corrected across the cells, no meaningful difference by TOST;
    and, unless ``with_units_needed`` is False (simulations), the units that would decide it. Construction
    checks get an outcome but take no part in the verdict."""
    judged = [r for r in results if not r.construction]
    if not judged:
        raise ValueError(f"claim {claim.id}: every cell is a construction check; a verdict needs a cell that "
                         f"could fail")
    beyond = [r.p_beyond if np.isfinite(r.p_beyond) else r.p_other for r in judged]
    for result, adjusted, beyond_adjusted in zip(judged, holm([r.p_other for r in judged]), holm(beyond)):
        result.p_other_holm = adjusted
        result.p_beyond_holm = beyond_adjusted if np.isfinite(result.p_beyond) else np.nan
    for result in results:
        adjusted = result.p_other_holm if not result.construction else result.p_other
        if result.p <= cfg.alpha:
            result.outcome = PAPERS_WAY
        elif adjusted <= cfg.alpha:
            result.outcome = OTHER_WAY
        elif np.isfinite(result.p_equivalence) and result.p_equivalence <= cfg.alpha:
            result.outcome = NO_DIFFERENCE
        else:
            result.outcome = NOT_SIGNIFICANT
    reason = ""
    if all(r.outcome == PAPERS_WAY for r in judged):
        verdict = HELD
    elif any(r.outcome == OTHER_WAY for r in judged):
        verdict = CONTRADICTED
        short = [r for r in judged if r.outcome == OTHER_WAY]
        # a margin cell whose median is significantly below -delta goes the other way, not just short of it
        significantly = [r for r in short if not r.has_margin or r.p_beyond_holm <= cfg.alpha]
        reason = "significantly the other way" if significantly else "short of the margin"
    elif all(r.outcome == NO_DIFFERENCE for r in judged):
        verdict, reason = CONTRADICTED, "no meaningful difference"
    else:
        verdict = INCONCLUSIVE
    needed, predicted = units_needed(judged, cfg) if with_units_needed else (np.nan, "")
    return ClaimVerdict(claim, verdict, results, reason, needed, predicted)


# ---------------------------------------------------------------------------------------------- floors

@dataclass
class FloorTest:
    """One method of a claim's cell against one floor, on the cell's metric and rows: beaten when the
    method's median advantage over the floor exceeds delta at level alpha (sign test, one-sided)."""

    cell: str                 # the claim cell's label
    method: str
    role: str                 # "favoured" (the cell's better) or "compared" (its worse)
    floor: str
    result: CellResult
    alpha: float

    @property
    def beaten(self) -> bool:
        return self.result.p <= self.alpha

    @property
    def standing(self) -> float:
        """How far beyond its threshold the method is, in deltas (smaller: nearer the floor)."""
        c = self.result
        return (c.effect - c.upper) / c.delta if c.delta > 0 else c.effect - c.upper


def floor_tests(rows: pd.DataFrame, claim: Claim, cfg: StatsConfig) -> list[FloorTest]:
    """Every judged cell's two methods against every floor the claim names, on the cell's metric and rows.
    An intersection-union test again: the favoured method beats the floors when each of its floor cells is
    significant at alpha on its own. Interaction cells (a difference of differences) have no floor cells."""
    tests, used = [], set()
    for cell in claim.cells:
        if cell.construction or cell.versus is not None:
            continue
        chosen = _select(rows, cell.metric, cell.where)
        # a floor applies to the cells where it has scores (a Wiener filter to denoising cells)
        present = [f for f in claim.floors if (chosen["method"] == f).any()]
        used.update(present)
        for role, method in (("favoured", cell.better), ("compared", cell.worse)):
            for floor in present:
                if floor == method:
                    continue
                label = f"{cell.label}: {method} vs floor {floor}"
                result = evaluate_cell(rows, Cell(label, cell.metric, method, floor, cell.where), cfg)
                result.outcome = PAPERS_WAY if result.p <= cfg.alpha else NOT_SIGNIFICANT
                tests.append(FloorTest(cell.label, method, role, floor, result, cfg.alpha))
    unused = [f for f in claim.floors if f not in used]
    if unused and any(c.versus is None and not c.construction for c in claim.cells):
        raise ValueError(f"claim {claim.id} names the floor(s) {', '.join(unused)}, which have no scores in any of "
                         f"its cells: floors run at every scale (check the study's method list in the config)")
    return tests


FLOOR_DOES_AS_WELL = "a floor does as well: not evidence for the method"
BOTH_AT_A_FLOOR = "both methods at or below a floor: not evidence about either"


def floor_flag(v: ClaimVerdict) -> str:
    """What the floors say about a verdict, in the words every page uses: "" when the favoured methods beat
    every floor (or no floor applies); :data:`FLOOR_DOES_AS_WELL` when a favoured method does not beat one
    (held or not); :data:`BOTH_AT_A_FLOOR` when a contradicted claim's methods both fail to beat one in a
    cell that went the other way."""
    if not v.floor_tests:
        return ""
    favoured_short = [t for t in v.floor_tests if t.role == "favoured" and not t.beaten]
    if v.verdict == CONTRADICTED:
        other_cells = {c.label for c in v.verdict_cells if c.outcome in (OTHER_WAY, NO_DIFFERENCE)}
        for label in other_cells:
            at_floor = {t.role for t in v.floor_tests if t.cell == label and not t.beaten}
            if at_floor == {"favoured", "compared"}:
                return BOTH_AT_A_FLOOR
        return ""
    return FLOOR_DOES_AS_WELL if favoured_short else ""


def nearest_floor(v: ClaimVerdict, cell: str | None = None) -> FloorTest | None:
    """The favoured method's floor test with the smallest standing (of one cell, or of the whole claim)."""
    tests = [t for t in v.floor_tests if t.role == "favoured" and (cell is None or t.cell == cell)]
    return min(tests, key=lambda t: t.standing) if tests else None


def evaluate_claim(rows: pd.DataFrame, claim: Claim, cfg: StatsConfig = StatsConfig()) -> ClaimVerdict:
    """The verdict on one claim from the tidy score rows (columns method, metric, value, item, ...)."""
    if not claim.cells:
        raise ValueError(f"claim {claim.id} has no comparison cells")
    verdict = classify(claim, [evaluate_cell(rows, cell, cfg) for cell in claim.cells], cfg)
    if claim.floors:
        verdict.floor_tests = floor_tests(rows, claim, cfg)
        verdict.floor_flag = floor_flag(verdict)
    return verdict


def verdict_rows(verdicts: list[ClaimVerdict], study: str, scale: str) -> pd.DataFrame:
    """One tidy row per cell: what the claims pages, the results README and the figure read."""
    rows = []
    for v in verdicts:
        for c in v.cells:
            near = nearest_floor(v, c.label)
            floors = [t for t in v.floor_tests if t.cell == c.label and t.role == "favoured"]
            compared = [t for t in v.floor_tests if t.cell == c.label and t.role == "compared"]
            floor_columns = {
                "origin": v.claim.origin, "construction": c.construction, "claim_floor_flag": v.floor_flag,
                "claim_training_flag": v.training_flag,
                "floors": ";".join(v.claim.floors), "floor_nearest": near.floor if near else "",
                "floor_effect": near.result.effect if near else np.nan,
                "floor_ci_low": near.result.ci_low if near else np.nan,
                "floor_ci_high": near.result.ci_high if near else np.nan,
                "floor_p": near.result.p if near else np.nan,
                "floor_delta": near.result.delta if near else np.nan,
                "beats_floors": all(t.beaten for t in floors) if floors else np.nan,
                "compared_beats_floors": all(t.beaten for t in compared) if compared else np.nan,
                "p_beyond": c.p_beyond, "p_beyond_holm": c.p_beyond_holm, "tied": c.tied}
            rows.append({"study": study, "scale": scale, "claim": v.claim.id, "statement": v.claim.statement,
                         "verdict": v.verdict, "verdict_reason": v.reason, "note": v.claim.note,
                         "claim_units_needed": v.units_needed, "claim_predicted": v.predicted,
                         "cell": c.label, "metric": c.metric, "better": c.better, "worse": c.worse,
                         "direction": "higher" if higher_is_better(c.metric) else "lower",
                         "unit": c.unit, "n": c.n, "n_detail": c.n_detail, "replicates": c.replicates,
                         "items_per_unit": c.items_per_unit, "effect": c.effect, "ci_low": c.ci_low,
                         "ci_high": c.ci_high, "margin": c.margin, "delta": c.delta, "lower": c.lower,
                         "upper": c.upper, "test": c.test, "exact": c.exact, "p": c.p, "p_other": c.p_other,
                         "p_other_holm": c.p_other_holm, "p_equivalence": c.p_equivalence, "min_p": c.min_p,
                         "sd": c.sd, "units_needed": c.units_needed,
                         "outcome": CONSTRUCTION_CHECK if c.construction else c.outcome, **floor_columns})
    return pd.DataFrame(rows)
