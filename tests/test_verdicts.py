"""Paired-statistics verdicts: the decision rule (intersection-union held, Holm-corrected contradicted, TOST),
exact tests and intervals valid without symmetry, paired interactions, seeds as units, units needed, floors,
construction checks -- on hand-made score tables and by seeded simulation (each simulation runs in about a
second)."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, permutation_test

from restorebench.report.verdicts import (CONTRADICTED, HELD, INCONCLUSIVE, NO_DIFFERENCE, OTHER_WAY, PAPERS_WAY,
                                          Cell, Claim, StatsConfig, UnpairedItemsError, classify, evaluate_claim,
                                          floor_units, holm, min_attainable_p, result_from_differences,
                                          sign_power, sign_test, two_sample_test, verdict_rows)

CFG = StatsConfig()


def scores(method_values: dict[str, list[float]], metric="snr", **columns) -> pd.DataFrame:
    rows = []
    for method, values in method_values.items():
        rows += [{"method": method, "metric": metric, "item": i, "value": v, **columns} for i, v in enumerate(values)]
    return pd.DataFrame(rows)


RNG = np.random.default_rng(1)
BASE = RNG.normal(10, 3, size=10)          # items differ a lot; the paired difference is what matters
NOISE = RNG.normal(0, 0.1, size=10)


def claim_of(*cells, cid="X"):
    return Claim(cid, "s", tuple(cells))


# ------------------------------------------------------------------------------------- decision rule

def test_held_when_every_item_goes_the_papers_way():
    rows = scores({"new": BASE + 1 + NOISE, "old": BASE})
    v = evaluate_claim(rows, claim_of(Cell("snr", "snr", "new", "old")))
    assert v.verdict == HELD
    c = v.cells[0]
    assert c.n == 10 and c.outcome == PAPERS_WAY and c.upper == 0.1      # "beats" means by more than delta
    assert c.effect == pytest.approx(np.median(1 + NOISE))   # the sign test's quantity: the median difference
    assert c.p == pytest.approx(1 / 2 ** 10)                # one-sided, exact: every unit beyond delta
    assert 0.8 < c.ci_low < c.effect < c.ci_high < 1.2


def test_three_cells_of_six_items_all_the_papers_way_are_held():
    # Holm over 3 cells made this inconclusive (3 x 2/64 = 0.094); the intersection-union test needs no correction
    frames = [scores({"new": BASE[:6] + 2 + NOISE[:6], "old": BASE[:6]}, metric=m) for m in ("snr", "sdr", "psnr")]
    v = evaluate_claim(pd.concat(frames), claim_of(*(Cell(m, m, "new", "old") for m in ("snr", "sdr", "psnr"))))
    assert v.verdict == HELD
    assert all(c.p == pytest.approx(1 / 64) for c in v.cells)


def test_contradicted_when_one_cell_goes_significantly_the_other_way():
    rows = pd.concat([scores({"new": BASE + 1 + NOISE, "old": BASE}, metric="snr"),
                      scores({"new": BASE - 2 + NOISE, "old": BASE}, metric="sdr")])
    v = evaluate_claim(rows, claim_of(Cell("snr", "snr", "new", "old"), Cell("sdr", "sdr", "new", "old")))
    assert v.verdict == CONTRADICTED and v.reason == "significantly the other way"
    assert [c.outcome for c in v.cells] == [PAPERS_WAY, OTHER_WAY]
    assert v.cells[1].p_other_holm == pytest.approx(2 / 2 ** 10)        # Holm over the two cells


def test_negligible_effects_are_no_win_and_read_no_meaningful_difference():
    # D2 at tiny: effects of about 1e-6 dB sat at the p floor and counted as wins under a margin of 0
    rows = pd.concat([scores({"new": BASE + 1e-6, "old": BASE}, metric=m) for m in ("snr", "sdr")])
    v = evaluate_claim(rows, claim_of(Cell("snr", "snr", "new", "old"), Cell("sdr", "sdr", "new", "old")))
    assert v.verdict == CONTRADICTED and v.reason == "no meaningful difference" and v.label.endswith("difference")
    assert all(c.outcome == NO_DIFFERENCE and c.p == 1.0 for c in v.cells)
    # one cell within +-delta, one a clear win: neither held nor shown equivalent as a whole
    mixed = pd.concat([scores({"new": BASE + 1e-6, "old": BASE}, metric="snr"),
                       scores({"new": BASE + 1 + NOISE, "old": BASE}, metric="sdr")])
    v = evaluate_claim(mixed, claim_of(Cell("snr", "snr", "new", "old"), Cell("sdr", "sdr", "new", "old")))
    assert v.verdict == INCONCLUSIVE and [c.outcome for c in v.cells] == [NO_DIFFERENCE, PAPERS_WAY]


def test_inconclusive_when_signs_are_mixed_or_units_are_too_few():
    mixed = scores({"new": BASE + np.where(np.arange(10) % 2, 1.0, -1.0), "old": BASE})
    assert evaluate_claim(mixed, claim_of(Cell("snr", "snr", "new", "old"))).verdict == INCONCLUSIVE
    four = scores({"new": [5.0, 6.0, 7.0, 8.0], "old": [1.0, 2.0, 3.0, 4.0]})    # a 4 dB win, but only 4 clips
    v = evaluate_claim(four, claim_of(Cell("snr", "snr", "new", "old")))
    c = v.cells[0]
    assert v.verdict == INCONCLUSIVE and c.p == pytest.approx(1 / 16) and c.min_p == pytest.approx(1 / 16)
    assert (c.ci_low, c.ci_high) == (-np.inf, np.inf)         # too few units to reject any shift
    assert floor_units(0.05) == 5 and v.units_needed == 5       # zero spread: the exact floor decides


def test_lower_is_better_metric_uses_its_declared_direction():
    rows = scores({"new": BASE - 0.5 + NOISE, "old": BASE}, metric="envelope_distance")
    v = evaluate_claim(rows, claim_of(Cell("env", "envelope_distance", "new", "old")))
    assert v.verdict == HELD and v.cells[0].effect == pytest.approx(np.median(0.5 - NOISE))
    worse = scores({"new": BASE + 0.5 + NOISE, "old": BASE}, metric="me")
    assert evaluate_claim(worse, claim_of(Cell("me", "me", "new", "old"))).verdict == CONTRADICTED


def test_margin_is_part_of_the_hypothesis():
    rows = scores({"new": BASE + 0.5 + NOISE, "old": BASE})
    far = claim_of(Cell("snr", "snr", "new", "old", margin=1.0))
    v = evaluate_claim(rows, far)
    assert v.verdict == CONTRADICTED and v.reason == "short of the margin"    # it wins, but surely by less than 1
    assert np.isnan(v.cells[0].p_equivalence)                                  # margin cells have no TOST
    assert evaluate_claim(scores({"new": BASE + 2 + NOISE, "old": BASE}), far).verdict == HELD
    # a negative margin reads "not more than 1 below" (D1): -0.5 on every item holds it
    near = claim_of(Cell("snr", "snr", "new", "old", margin=-1.0))
    assert evaluate_claim(scores({"new": BASE - 0.5 + NOISE, "old": BASE}), near).verdict == HELD


def test_holm_adjustment():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]


def _cells(effects, n, rng, cfg=CFG, sd=1.0):
    return [result_from_differences(f"c{k}", "snr", rng.normal(mu, sd, n), cfg) for k, mu in enumerate(effects)]


def test_false_held_rate_with_one_null_cell_stays_at_alpha():
    # one cell exactly at its threshold (mean = delta), two strong ones: "held" is a false positive
    rng = np.random.default_rng(7)
    reps, delta = 2000, CFG.delta("snr")
    held = sum(classify(claim_of(), _cells([delta, 3.0, 3.0], 8, rng), CFG, False).verdict == HELD for _ in range(reps))
    assert held / reps <= CFG.alpha + 3 * np.sqrt(CFG.alpha * (1 - CFG.alpha) / reps)


def test_false_contradicted_rate_under_the_global_null_stays_at_alpha():
    # every cell exactly at the other-way threshold (-delta): "significantly the other way" is a false positive
    rng = np.random.default_rng(8)
    reps, delta = 2000, CFG.delta("snr")
    verdicts = [classify(claim_of(), _cells([-delta] * 3, 8, rng), CFG, False) for _ in range(reps)]
    rate = np.mean([v.reason == "significantly the other way" for v in verdicts])
    assert rate <= CFG.alpha + 3 * np.sqrt(CFG.alpha * (1 - CFG.alpha) / reps)
    # the per-cell rate without Holm would be about alpha per cell, nearly 3 alpha for the claim
    assert rate < 0.8 * CFG.alpha * 3
    # and "no meaningful difference" when one cell truly sits at +delta: also at most alpha
    rng = np.random.default_rng(9)
    verdicts = [classify(claim_of(), _cells([delta, 0.0, 0.0], 8, rng, sd=0.05), CFG, False) for _ in range(reps)]
    rate = np.mean([v.reason == "no meaningful difference" for v in verdicts])
    assert rate <= CFG.alpha + 3 * np.sqrt(CFG.alpha * (1 - CFG.alpha) / reps)


# ------------------------------------------------------------------------------ exact tests, intervals

def test_sign_test_p_values_agree_with_scipy_and_count_ties_against_the_alternative():
    rng = np.random.default_rng(3)
    d = rng.normal(0.4, 1, 9)
    ours = sign_test(d)
    above = int(np.sum(d > 0.1))
    assert ours.p_greater(0.1) == pytest.approx(binomtest(above, 9, 0.5, alternative="greater").pvalue)
    assert ours.p_less(0.1) == pytest.approx(binomtest(9 - above, 9, 0.5, alternative="greater").pvalue)
    assert sign_test(np.ones(8)).p_greater(0.0) == pytest.approx(1 / 256)
    # 5 of 8 exactly at the threshold: they cannot count for "median > 0", so 3 of 8 above: P(B >= 3)
    tied = sign_test(np.array([0, 0, 0, 0, 0, 1.0, 2.0, 3.0]))
    assert tied.p_greater(0.0) == pytest.approx(binomtest(3, 8, 0.5, alternative="greater").pvalue)


def test_two_sample_test_agrees_with_scipy():
    rng = np.random.default_rng(4)
    x, y = rng.normal(0.5, 1, 6), rng.normal(0, 1, 7)
    ours = two_sample_test(x, y)
    ref = permutation_test((x, y), lambda a, b, axis: np.mean(a, axis=axis) - np.mean(b, axis=axis),
                           permutation_type="independent", vectorized=True, n_resamples=np.inf,
                           alternative="greater").pvalue
    assert ours.exact and ours.total == 1716 and ours.p_greater(0.0) == pytest.approx(ref)


def test_min_attainable_p_counts_ties_and_monte_carlo():
    assert min_attainable_p(8, ties=5) == pytest.approx(binomtest(3, 8, 0.5, alternative="greater").pvalue)
    assert min_attainable_p(8) == pytest.approx(1 / 256)
    assert min_attainable_p(30, m=30, resamples=9999) == pytest.approx(1e-4)
    assert min_attainable_p(3, 3) == pytest.approx(1 / 20)


def test_inverted_interval_covers_at_its_level_with_few_units():
    rng = np.random.default_rng(5)
    level = 1 - 2 * CFG.alpha
    for n in (6, 8, 10):
        reps = 600
        covered = 0
        for _ in range(reps):
            low, high = sign_test(rng.normal(1.3, 2.0, n)).interval(CFG.alpha)
            covered += low <= 1.3 <= high
        assert covered / reps >= level - 3 * np.sqrt(level * (1 - level) / reps), n


def test_interval_agrees_with_the_test():
    rng = np.random.default_rng(6)
    d = rng.normal(0.5, 1, 9)
    t = sign_test(d)
    low, high = t.interval(0.05)
    assert t.p_greater(low - 1e-6) <= 0.05 < t.p_greater(low + 1e-6)
    assert t.p_less(high + 1e-6) <= 0.05 < t.p_less(high - 1e-6)


# ----------------------------------------------------------------------------------- interactions

def _correlated_groups(rng, n=8, rho=-0.6, sds=(1.0, 0.3)):
    cov = np.array([[sds[0] ** 2, rho * sds[0] * sds[1]], [rho * sds[0] * sds[1], sds[1] ** 2]])
    return rng.multivariate_normal([0, 0], cov, size=n).T


def test_shared_units_need_the_paired_interaction_test():
    # the unpaired label permutation over-rejects a true null with correlated groups; the paired one does not
    rng = np.random.default_rng(11)
    reps, unpaired, paired = 1500, 0, 0
    for _ in range(reps):
        x, y = _correlated_groups(rng)
        u, p = two_sample_test(x, y), sign_test(x - y)
        unpaired += min(u.p_greater(0), u.p_less(0)) <= 0.025
        paired += min(p.p_greater(0), p.p_less(0)) <= 0.025
    assert unpaired / reps > 0.08
    assert paired / reps <= 0.07


def test_interaction_cell_pairs_shared_units_and_reports_them_once():
    same = scores({"a": BASE + 3 + NOISE, "b": BASE}, split="same")
    cross = scores({"a": BASE + 0.0 + NOISE[::-1], "b": BASE}, split="cross")
    rows = pd.concat([same, cross])
    cell = Cell("drop", "snr", "a", "b", where={"split": "same"}, versus={"split": "cross"}, margin=1.0)
    v = evaluate_claim(rows, claim_of(cell))
    c = v.cells[0]
    assert c.n == 10 and c.n_detail == "10" and "difference-in-differences" in c.test
    assert c.effect == pytest.approx(np.median(3 + NOISE - NOISE[::-1]))
    assert v.verdict == HELD and c.p == pytest.approx(1 / 2 ** 10)
    independent = Cell("drop", "snr", "a", "b", where={"split": "same"}, versus={"split": "cross"}, margin=1.0,
                       groups="independent")
    c = evaluate_claim(rows, claim_of(independent)).cells[0]
    assert c.n_detail == "10 + 10" and c.min_p == pytest.approx(1 / 184756) and "independent" in c.test
    with pytest.raises(UnpairedItemsError, match="share their units"):
        evaluate_claim(pd.concat([same, cross[cross["item"] < 8]]), claim_of(cell))


# ---------------------------------------------------------------------------------- replicates

def test_replicates_are_the_units_when_there_are_several():
    rows = []
    for replicate in range(6):
        for item in range(4):
            rows.append({"method": "net", "metric": "snr", "item": item, "replicate": replicate,
                         "value": 10 + item + 0.5 + 0.1 * replicate})
    rows += [{"method": "baseline", "metric": "snr", "item": item, "value": 10.0 + item} for item in range(4)]
    v = evaluate_claim(pd.DataFrame(rows), claim_of(Cell("snr", "snr", "net", "baseline")))
    c = v.cells[0]
    assert c.unit == "replicate" and c.n == 6 and c.replicates == 6 and c.items_per_unit == 4
    assert c.n_detail == "6 replicates × 4"
    assert c.effect == pytest.approx(0.5 + 0.1 * np.mean(range(6)))
    assert c.p == pytest.approx(1 / 64) and v.verdict == HELD
    one = pd.DataFrame([r for r in rows if r.get("replicate", 0) == 0])
    c = evaluate_claim(one, claim_of(Cell("snr", "snr", "net", "baseline"))).cells[0]
    assert c.unit == "item" and c.n == 4 and c.replicates == 1
    missing = pd.DataFrame([r for r in rows if not (r.get("replicate") == 3 and r["item"] == 0)])
    with pytest.raises(UnpairedItemsError, match="not paired"):
        evaluate_claim(missing, claim_of(Cell("snr", "snr", "net", "baseline")))


def test_a_replicate_pairs_every_method_on_its_own_data():
    # each replicate draws its own items: the baseline's scores differ by replicate too, and a network that
    # beats the baseline by 0.5 dB within every replicate must read so, however far apart the draws lie
    rows = []
    for replicate in range(6):
        level = 20.0 * replicate            # a fresh draw: every replicate's items far from the others'
        for item in range(4):
            rows.append({"method": "baseline", "metric": "snr", "item": item, "replicate": replicate,
                         "value": level + item})
            rows.append({"method": "net", "metric": "snr", "item": item, "replicate": replicate,
                         "value": level + item + 0.5})
    c = evaluate_claim(pd.DataFrame(rows), claim_of(Cell("snr", "snr", "net", "baseline"))).cells[0]
    assert c.unit == "replicate" and c.n == 6 and c.effect == pytest.approx(0.5) and c.outcome == PAPERS_WAY
    # a method scored once on data every replicate shares is compared with each replicate's mean
    shared = [r for r in rows if r["method"] == "net"] + [
        {"method": "fixed", "metric": "snr", "item": item, "value": 50.0} for item in range(4)]
    c = evaluate_claim(pd.DataFrame(shared), claim_of(Cell("snr", "snr", "net", "fixed"))).cells[0]
    means = np.array([20.0 * r + 1.5 + 0.5 for r in range(6)])
    assert c.effect == pytest.approx(np.median(means - 50.0))
    # replicates that do not match are not paired
    fewer = pd.DataFrame([r for r in rows if not (r["method"] == "baseline" and r["replicate"] == 5)])
    with pytest.raises(UnpairedItemsError, match="replicates are not paired"):
        evaluate_claim(fewer, claim_of(Cell("snr", "snr", "net", "baseline")))


def test_rows_written_before_the_replicate_column_take_their_training_seed():
    from restorebench.report.verdicts import mark_replicates

    old = pd.DataFrame([{"method": "net", "metric": "snr", "item": 0, "seed": 0, "training_seed": 3, "value": 1.0},
                        {"method": "net", "metric": "snr", "item": 1, "seed": 7, "training_seed": np.nan, "value": 1.0},
                        {"method": "notch", "metric": "snr", "item": 0, "seed": 0, "training_seed": np.nan, "value": 1.0}])
    marked = mark_replicates(old, {"net"})
    assert marked["replicate"].iloc[0] == 3 and marked["replicate"].iloc[1] == 7 and np.isnan(marked["replicate"].iloc[2])


# ---------------------------------------------------------------------------------- units needed

def test_units_needed_gives_the_power_it_promises():
    # median 1 SD beyond delta: the planned n should give the exact sign test ~80 % power on such data
    cfg = StatsConfig()
    rng = np.random.default_rng(12)
    pilot = result_from_differences("c", "snr", np.array([1.1 - 1, 1.1 + 1, 1.1 - 0.5, 1.1 + 0.5, 1.1]) * 1.0, cfg)
    v = classify(claim_of(), [pilot], cfg)
    sd = pilot.sd
    n = int(v.units_needed)
    assert v.predicted == HELD and n == int(pilot.units_needed)
    assert sign_power(np.array([n]), 1.0, sd, 0.05)[0] >= 0.8
    assert all(sign_power(np.arange(5, n), 1.0, sd, 0.05) < 0.8)
    reps = 800
    hits = sum(sign_test(rng.normal(1.1, sd, n)).p_greater(0.1) <= 0.05 for _ in range(reps))
    assert 0.72 <= hits / reps <= 0.95
    # a claim of two such cells needs more units than either (the union bound)
    two = classify(claim_of(), [pilot, result_from_differences("d", "snr", pilot.effect + np.array(
        [-1, 1, -0.5, 0.5, 0]), cfg)], cfg)
    assert two.units_needed > n


def test_verdict_rows_carry_the_decision():
    rows = scores({"new": BASE + 1 + NOISE, "old": BASE})
    v = evaluate_claim(rows, claim_of(Cell("snr", "snr", "new", "old"), cid="X14"))
    table = verdict_rows([v], "SX", "tiny")
    first = table.iloc[0]
    assert list(first[["claim", "verdict", "n", "direction", "unit"]]) == ["X14", "held", 10, "higher", "item"]
    assert first["delta"] == 0.1 and first["upper"] == 0.1 and first["claim_predicted"] == HELD


def test_unpaired_items_are_rejected_with_the_cell_named():
    rows = scores({"new": [1.0, 2.0, 3.0], "old": [1.0, 2.0]})
    with pytest.raises(UnpairedItemsError, match="snr cell.*not paired"):
        evaluate_claim(rows, claim_of(Cell("snr cell", "snr", "new", "old")))
    duplicated = pd.concat([scores({"new": [1.0], "old": [0.0]}), scores({"new": [2.0]})])
    with pytest.raises(UnpairedItemsError, match="several"):
        evaluate_claim(duplicated, claim_of(Cell("snr", "snr", "new", "old")))
    with pytest.raises(UnpairedItemsError, match="no 'snr' rows for method 'other'"):
        evaluate_claim(rows, claim_of(Cell("snr", "snr", "new", "other")))
    with pytest.raises(KeyError, match="smallest meaningful difference"):
        evaluate_claim(scores({"new": [1.0], "old": [0.0]}, metric="unknown"),
                       claim_of(Cell("u", "unknown", "new", "old")))


def test_claims_page_states_population_and_what_would_decide_it():
    from restorebench.report.claims import population_text, render_claims_markdown, summary_text
    from restorebench.report.verdicts import mark_replicates

    rows = scores({"net": [5.0, 6.1], "old": [1.0, 2.0]}, seed=0)        # a 4 dB win on 2 clips: undecidable
    rows = mark_replicates(rows, {"net"})
    v = evaluate_claim(rows, claim_of(Cell("snr", "snr", "net", "old"), cid="X15"))
    assert population_text(v, "clips") == ("2 clips of one data draw and trained network: covers clips, not data "
                                           "draws or training randomness")
    text = summary_text(v, CFG, "clips")
    assert "too few units" in text and "at least 5 to reach p ≤ 0.05" in text
    assert "Inconclusive with 2 clips; an effect this size needs about 5 clips to read held" in text
    page = render_claims_markdown([v], "facts", "T", "pre", CFG, "tiny", "clips")
    assert "| X15 | s | **inconclusive** | no floor applies | 2 clips of one data draw and trained network" in page
    untrained = evaluate_claim(scores({"a": [5.0, 6.1], "b": [1.0, 2.0]}), claim_of(Cell("snr", "snr", "a", "b")))
    assert population_text(untrained, "clips") == "2 clips"


def test_a_contradicted_claim_says_what_in_the_setup_could_explain_it_and_only_then():
    from restorebench.report.claims import render_claims_markdown

    why = "the data are simulated"
    worse = scores({"new": [1.0 - k for k in range(6)], "old": [3.0 + k for k in range(6)]})   # every clip worse
    v = evaluate_claim(worse, Claim("X", "new beats old", (Cell("snr", "snr", "new", "old"),), if_contradicted=why))
    assert v.verdict == "contradicted"
    assert f"*Why this run may differ from the paper:* {why}" in render_claims_markdown([v], "", "T", "", CFG, "t")
    better = scores({"new": [3.0 + k for k in range(6)], "old": [1.0 - k for k in range(6)]})
    held = evaluate_claim(better, Claim("X", "new beats old", (Cell("snr", "snr", "new", "old"),), if_contradicted=why))
    assert held.verdict == "held" and why not in render_claims_markdown([held], "", "T", "", CFG, "t")


def test_a_method_judged_in_the_place_of_the_one_a_claim_names():
    import pandas as pd

    from restorebench.experiments.sar_rfi_report import s1_claims
    from restorebench.report.claims import in_place_of
    from restorebench.studies import study

    rows = pd.DataFrame({"method": ["notch", "pisnet", "mine"], "metric": "pa", "value": 0.5})
    claims = in_place_of(s1_claims(), {"difnet": "mine"}, study("S1"), rows)
    c1, c2 = claims[0], claims[1]
    assert [(c.better, c.worse) for c in c1.cells] == [("mine", "notch"), ("mine", "notch")]
    assert [(c.better, c.worse) for c in c2.cells] == [("pisnet", "notch"), ("pisnet", "mine")]
    assert c2.note.endswith("Here mine is judged in the place of DIFNet (config claims.in_place_of.s1).")
    assert in_place_of(s1_claims(), {}, study("S1"), rows) == s1_claims()
    with pytest.raises(ValueError, match="claims.in_place_of.s1: no rows of absent"):
        in_place_of(s1_claims(), {"difnet": "absent"}, study("S1"), rows)


# ------------------------------------------------------------------- validity without symmetry

def _skewed(name, rng, size):
    """Differences with median 0 from a symmetric, a skewed and a heavily skewed law."""
    if name == "normal":
        return rng.normal(0, 1, size)
    if name == "exponential":
        return rng.exponential(1.0, size) - np.log(2)          # median of Exp(1) is log 2
    return rng.lognormal(0, 1, size) - 1.0                      # median of LN(0, 1) is 1


@pytest.mark.parametrize("law", ["normal", "exponential", "lognormal"])
def test_cell_tests_keep_their_level_and_intervals_their_coverage_when_differences_are_skewed(law):
    # at the boundary (median = +delta, or -delta, or the margin) each decision may be wrong at most alpha of
    # the time, whatever the shape: the sign-flip test of the mean read "paper's way" 16-21 % of the time here
    rng = np.random.default_rng({"normal": 21, "exponential": 22, "lognormal": 23}[law])
    delta, reps = CFG.delta("snr"), 300
    mc = 3 * np.sqrt(CFG.alpha * (1 - CFG.alpha) / reps)
    held = other = equivalent = covered = 0
    for k in range(reps):
        n = 5 + k % 8                                            # n = 5 ... 12
        held += classify(claim_of(), [result_from_differences("c", "snr", delta + _skewed(law, rng, n), CFG)],
                         CFG, False).verdict == HELD
        cells = [result_from_differences(f"c{j}", "snr", -delta + _skewed(law, rng, n), CFG) for j in range(3)]
        other += classify(claim_of(), cells, CFG, False).reason == "significantly the other way"
        tost = result_from_differences("t", "snr", delta + 0.05 * _skewed(law, rng, n), CFG)
        equivalent += classify(claim_of(), [tost], CFG, False).reason == "no meaningful difference"
        low, high = sign_test(1.3 + _skewed(law, rng, n)).interval(CFG.alpha)
        covered += low <= 1.3 <= high
    assert held / reps <= CFG.alpha + mc
    assert other / reps <= CFG.alpha + mc
    assert equivalent / reps <= CFG.alpha + mc
    assert covered / reps >= 1 - 2 * CFG.alpha - 3 * np.sqrt(0.09 / reps)


def test_a_non_finite_score_is_an_error_naming_the_cell_and_unit():
    rows = scores({"new": [1.0, np.nan, 3.0, 4.0, 5.0], "old": [0.0] * 5})
    with pytest.raises(ValueError, match=r"snr cell: method 'new' has a non-finite 'snr' score \(nan\) for item 1"):
        evaluate_claim(rows, claim_of(Cell("snr cell", "snr", "new", "old")))
    with pytest.raises(ValueError, match="non-finite per-unit differences"):
        result_from_differences("c", "snr", np.array([1.0, np.inf, 2.0]), CFG)
    # replicates as units: a NaN item of one replicate was dropped by the per-replicate mean, turning a +0.5
    # win on every item into "significantly the other way"; now it stops the verdict, naming the replicate
    seeded = []
    for seed in range(6):
        for item in range(4):
            value = np.nan if (seed, item) == (2, 3) else 10.0 * item + 0.5
            seeded.append({"method": "net", "metric": "snr", "item": item, "replicate": seed, "value": value})
    seeded += [{"method": "old", "metric": "snr", "item": item, "value": 10.0 * item} for item in range(4)]
    with pytest.raises(ValueError, match="item 3, replicate 2"):
        evaluate_claim(pd.DataFrame(seeded), claim_of(Cell("snr", "snr", "net", "old")))


def test_a_relative_delta_follows_the_scale_of_the_compared_values():
    cfg = StatsConfig()
    assert cfg.delta_text("me") == "2 % of the compared method's median"
    small = scores({"new": [5e-4] * 6, "old": [5.2e-4] * 6}, metric="me")          # 4 % lower ME
    big = scores({"new": [0.10] * 6, "old": [0.104] * 6}, metric="me")            # 4 % lower ME
    for rows, old in ((small, 5.2e-4), (big, 0.104)):
        c = evaluate_claim(rows, claim_of(Cell("me", "me", "new", "old"))).cells[0]
        assert c.delta == pytest.approx(0.02 * old) and c.outcome == PAPERS_WAY
    # an absolute 1e-5 would have called the 0.004 cross-sensor change 400 deltas and a 1e-5 one a win
    tiny = scores({"new": [0.10] * 6, "old": [0.10002] * 6}, metric="me")
    assert evaluate_claim(tiny, claim_of(Cell("me", "me", "new", "old"))).cells[0].outcome == NO_DIFFERENCE


def test_a_margin_cell_far_below_minus_delta_reads_significantly_the_other_way():
    # C4: "PISNet degrades far more" (margin +1 dB) with PISNet degrading 6 dB *less*
    far = evaluate_claim(scores({"new": BASE - 6 + NOISE, "old": BASE}),
                         claim_of(Cell("drop", "snr", "new", "old", margin=1.0)))
    assert far.verdict == CONTRADICTED and far.reason == "significantly the other way"
    assert far.cells[0].p_beyond_holm == pytest.approx(1 / 2 ** 10)
    short = evaluate_claim(scores({"new": BASE + 0.5 + NOISE, "old": BASE}),
                           claim_of(Cell("drop", "snr", "new", "old", margin=1.0)))
    assert short.reason == "short of the margin"


def test_a_construction_check_is_shown_but_never_decides_the_claim():
    rows = pd.concat([scores({"bias-free": BASE, "x": BASE}, metric="sdr"),
                      scores({"biased": BASE + np.where(np.arange(10) % 2, 1.0, -1.0), "x": BASE}, metric="snr")])
    claim = claim_of(Cell("bias-free keeps its SDR", "sdr", "bias-free", "x", margin=-1.0, construction=True),
                     Cell("biased drops", "snr", "biased", "x"))
    v = evaluate_claim(rows, claim)
    assert v.cells[0].construction and v.cells[0].outcome == PAPERS_WAY      # holds, as it must
    assert v.verdict == INCONCLUSIVE                                          # decided by the biased cell alone
    table = verdict_rows([v], "SX", "tiny")
    assert list(table["outcome"]) == ["construction check", "not significant"]
    with pytest.raises(ValueError, match="every cell is a construction check"):
        evaluate_claim(rows, claim_of(Cell("only", "sdr", "bias-free", "x", margin=-1.0, construction=True)))


def test_a_claim_whose_favoured_method_equals_a_floor_is_flagged_whatever_its_verdict():
    from restorebench.report.claims import render_claims_markdown
    from restorebench.report.verdicts import FLOOR_DOES_AS_WELL, nearest_floor, row_label

    rows = scores({"net": BASE + 1 + NOISE, "old": BASE, "rule": BASE + 1 + NOISE[::-1], "input": BASE - 2})
    claim = Claim("X", "net beats old", (Cell("snr", "snr", "net", "old"),), floors=("rule", "input"),
                  floors_reason="a fixed rule needs no learning")
    v = evaluate_claim(rows, claim)
    assert v.verdict == HELD and v.floor_flag == FLOOR_DOES_AS_WELL
    assert v.label == f"held — {FLOOR_DOES_AS_WELL}"
    near = nearest_floor(v)
    assert near.floor == "rule" and not near.beaten
    assert abs(near.result.effect) < 0.2
    table = verdict_rows([v], "SX", "tiny")
    first = table.iloc[0]
    assert first["floor_nearest"] == "rule" and not first["beats_floors"] and first["floors"] == "rule;input"
    assert row_label(first) == f"held — {FLOOR_DOES_AS_WELL}"
    page = render_claims_markdown([v], "", "T", "", CFG, "tiny")
    assert FLOOR_DOES_AS_WELL in page and "rule" in page
    # beating every floor: no flag
    clear = evaluate_claim(scores({"net": BASE + 1 + NOISE, "old": BASE, "rule": BASE, "input": BASE - 2}), claim)
    assert clear.verdict == HELD and clear.floor_flag == "" and nearest_floor(clear).beaten


def test_a_contradicted_claim_with_both_methods_at_a_floor_says_so():
    from restorebench.report.verdicts import BOTH_AT_A_FLOOR

    rows = scores({"net": BASE - 1 + NOISE, "old": BASE, "rule": BASE + 2})
    v = evaluate_claim(rows, Claim("X", "net beats old", (Cell("snr", "snr", "net", "old"),), floors=("rule",)))
    assert v.verdict == CONTRADICTED and v.floor_flag == BOTH_AT_A_FLOOR
    assert v.label == f"contradicted — significantly the other way; {BOTH_AT_A_FLOOR}"


def test_the_claims_page_sets_the_inputs_difficulty_beside_the_papers():
    import pandas as pd

    from restorebench.experiments.sar_rfi_report import input_difficulty
    from restorebench.report.claims import Difficulty, render_claims_markdown

    rows = pd.DataFrame([{"method": "interfered", "split": split, "metric": metric, "value": value}
                         for split, metric, value in (("test-same", "psnr", 39.3), ("test-same", "me", 0.045),
                                                      ("test-cross", "me", 2.9))])
    entries = input_difficulty(rows)
    assert [(e.what, e.paper, e.comparison) for e in entries] == [
        ("interfered image PSNR, same sensor (dB)", 11.36, "far easier"),
        ("interfered image ME, same sensor", 0.24, "far easier"),          # 5.3 times lower entropy
        ("interfered image ME, cross sensor", 3.40, "close")]
    assert Difficulty("x", 5.0, 12.0, True, 6.0).comparison == "far harder"
    assert Difficulty("x", 5.0, None, True, 6.0).comparison == ""
    v = evaluate_claim(scores({"new": BASE + 1 + NOISE, "old": BASE}), claim_of(Cell("snr", "snr", "new", "old")))
    page = render_claims_markdown([v], "", "T", "", CFG, "quick", difficulty=entries)
    assert "## Input difficulty beside the paper's" in page
    assert ("*Our input is far easier than the paper's on interfered image PSNR, same sensor (dB) (39.3 against "
            "11.4, 27.9 apart)") in page
    assert "interfered image ME, same sensor (0.045 against 0.24, 5.3 times lower)" in page
    none = render_claims_markdown([v], "", "T", "", CFG, "quick", difficulty=[Difficulty("input SNR", 3.0, None,
                                                                                          True, 0.0)])
    assert "The paper prints no input row" in none


def test_a_cell_using_a_network_without_a_plateau_or_worse_than_the_input_is_not_a_verdict():
    from restorebench.report.training import entry, training_flag, with_input_check

    entries = [entry("net", 0, "", {}, [1.0, 0.5, 0.3], [0.9, 0.5, 0.2], 30),       # still falling
               entry("net", 1, "", {}, [1.0, 0.5, 0.5], [0.9, 0.5, 0.499], 30),     # at a plateau
               entry("old", 0, "10%", {"condition": "10%"}, [1.0, 0.9], [0.5, 0.5], 20)]
    table = with_input_check(entries, lambda e: (e["network"] != "old", "test"))
    assert list(table["plateau"]) == ["no", "yes", "yes"]
    v = evaluate_claim(scores({"net": BASE + 1 + NOISE, "old": BASE}, condition="10%"),
                       claim_of(Cell("snr", "snr", "net", "old", {"condition": "10%"})))
    flag = training_flag(table, v.claim.cells)
    assert flag == "not a verdict: net: no plateau (seed 0); old: worse than the unprocessed input (seed 0)"
    v.training_flag = flag
    assert v.label == f"{flag} (the statistics read held)"
    assert verdict_rows([v], "SX", "t").iloc[0]["claim_training_flag"] == flag
    # a network trained for another condition is not this cell's
    other = evaluate_claim(scores({"net": BASE + 1 + NOISE, "old": BASE}, condition="100%"),
                           claim_of(Cell("snr", "snr", "net", "old", {"condition": "100%"})))
    assert training_flag(table, other.claim.cells) == "not a verdict: net: no plateau (seed 0)"
    assert training_flag(table[table["seed"] == 1], other.claim.cells) == ""


def test_a_smoke_scale_page_says_its_verdicts_are_a_smoke_test():
    from restorebench.report.claims import render_claims_html, render_claims_markdown

    v = evaluate_claim(scores({"new": BASE + 1 + NOISE, "old": BASE}), claim_of(Cell("snr", "snr", "new", "old")))
    for scale in ("tiny", "quick"):
        assert f"At `{scale}`, a smoke scale, these verdicts are a smoke test" in render_claims_markdown(
            [v], "", "T", "", CFG, scale)
    assert "smoke test" not in render_claims_markdown([v], "", "T", "", CFG, "standard")
    assert "a smoke scale, these verdicts are a smoke test" in render_claims_html([v], "", "T", "", CFG, "quick")
