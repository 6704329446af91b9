"""Paired-statistics verdicts: the decision rule (intersection-union held, Holm-corrected contradicted, TOST),
exact tests and intervals, paired interactions, seeds as units, units needed -- on hand-made score tables and
by seeded simulation (each simulation runs in about a second)."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import permutation_test

from restorebench.report.verdicts import (CONTRADICTED, HELD, INCONCLUSIVE, NO_DIFFERENCE, OTHER_WAY, PAPERS_WAY,
                                          Cell, Claim, StatsConfig, UnpairedItemsError, classify, evaluate_claim,
                                          floor_units, holm, min_attainable_p, result_from_differences,
                                          sign_flip_p, sign_flip_test, t_power, two_sample_test, verdict_rows)

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
    assert c.effect == pytest.approx(np.mean(1 + NOISE))
    assert c.p == pytest.approx(1 / 2 ** 10)                # one-sided, exact: only the observed signs
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
    assert v.verdict == HELD and v.cells[0].effect == pytest.approx(np.mean(0.5 - NOISE))
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

def test_sign_flip_p_values_agree_with_scipy_and_are_exact_up_to_20_units():
    rng = np.random.default_rng(3)
    d = rng.normal(0.4, 1, 9)
    ours = sign_flip_test(d)
    ref = permutation_test((d,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                           vectorized=True, n_resamples=np.inf, alternative="greater").pvalue
    assert ours.exact and ours.p_greater(0.0) == pytest.approx(ref)
    shifted = permutation_test((d - 0.3,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                               vectorized=True, n_resamples=np.inf, alternative="less").pvalue
    assert ours.p_less(0.3) == pytest.approx(shifted)
    assert sign_flip_p(np.ones(8), 0.0) == pytest.approx(1 / 256)
    big = sign_flip_test(rng.normal(size=20))
    assert big.exact and big.total == 2 ** 20
    mc = sign_flip_test(rng.normal(1.0, 1, 21), StatsConfig(resamples=999))
    assert not mc.exact and mc.total <= 1000 and mc.p_greater(10.0) == pytest.approx(1.0)


def test_two_sample_test_agrees_with_scipy():
    rng = np.random.default_rng(4)
    x, y = rng.normal(0.5, 1, 6), rng.normal(0, 1, 7)
    ours = two_sample_test(x, y)
    ref = permutation_test((x, y), lambda a, b, axis: np.mean(a, axis=axis) - np.mean(b, axis=axis),
                           permutation_type="independent", vectorized=True, n_resamples=np.inf,
                           alternative="greater").pvalue
    assert ours.exact and ours.total == 1716 and ours.p_greater(0.0) == pytest.approx(ref)


def test_min_attainable_p_counts_ties_and_monte_carlo():
    assert min_attainable_p(8, ties=5) == pytest.approx(2 ** 5 / 2 ** 8)     # 0.25 two-sided
    d = np.array([0, 0, 0, 0, 0, 1.0, 2.0, 3.0])
    assert sign_flip_test(d).p_greater(0.0) == pytest.approx(2 ** 5 / 2 ** 8)
    assert min_attainable_p(30, resamples=9999) == pytest.approx(1e-4)
    assert min_attainable_p(3, 3) == pytest.approx(1 / 20)


def test_inverted_interval_covers_at_its_level_with_few_units():
    rng = np.random.default_rng(5)
    level = 1 - 2 * CFG.alpha
    for n in (6, 8, 10):
        reps = 600
        covered = 0
        for _ in range(reps):
            low, high = sign_flip_test(rng.normal(1.3, 2.0, n)).interval(CFG.alpha)
            covered += low <= 1.3 <= high
        assert covered / reps >= level - 3 * np.sqrt(level * (1 - level) / reps), n


def test_interval_agrees_with_the_test():
    rng = np.random.default_rng(6)
    d = rng.normal(0.5, 1, 9)
    t = sign_flip_test(d)
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
        u, p = two_sample_test(x, y), sign_flip_test(x - y)
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
    assert c.n == 10 and c.n_detail == "10" and "differences-in-differences" in c.test
    assert c.effect == pytest.approx(3 + NOISE.mean() - NOISE.mean())
    assert v.verdict == HELD and c.p == pytest.approx(1 / 2 ** 10)
    independent = Cell("drop", "snr", "a", "b", where={"split": "same"}, versus={"split": "cross"}, margin=1.0,
                       groups="independent")
    c = evaluate_claim(rows, claim_of(independent)).cells[0]
    assert c.n_detail == "10 + 10" and c.min_p == pytest.approx(1 / 184756) and "independent" in c.test
    with pytest.raises(UnpairedItemsError, match="share their units"):
        evaluate_claim(pd.concat([same, cross[cross["item"] < 8]]), claim_of(cell))


# --------------------------------------------------------------------------------------- seeds

def test_training_seeds_are_the_units_when_there_are_several():
    rows = []
    for seed in range(6):
        for item in range(4):
            rows.append({"method": "net", "metric": "snr", "item": item, "training_seed": seed,
                         "value": 10 + item + 0.5 + 0.1 * seed})
    rows += [{"method": "baseline", "metric": "snr", "item": item, "value": 10.0 + item} for item in range(4)]
    v = evaluate_claim(pd.DataFrame(rows), claim_of(Cell("snr", "snr", "net", "baseline")))
    c = v.cells[0]
    assert c.unit == "seed" and c.n == 6 and c.seeds == 6 and c.items_per_unit == 4
    assert c.n_detail == "6 seeds × 4"
    assert c.effect == pytest.approx(0.5 + 0.1 * np.mean(range(6)))
    assert c.p == pytest.approx(1 / 64) and v.verdict == HELD
    one = pd.DataFrame([r for r in rows if r.get("training_seed", 0) == 0])
    c = evaluate_claim(one, claim_of(Cell("snr", "snr", "net", "baseline"))).cells[0]
    assert c.unit == "item" and c.n == 4 and c.seeds == 1
    missing = pd.DataFrame([r for r in rows if not (r.get("training_seed") == 3 and r["item"] == 0)])
    with pytest.raises(UnpairedItemsError, match="not paired"):
        evaluate_claim(missing, claim_of(Cell("snr", "snr", "net", "baseline")))


# ---------------------------------------------------------------------------------- units needed

def test_units_needed_gives_the_power_it_promises():
    # effect 1 SD beyond delta: the t-approximation's n should give the exact sign-flip test ~80 % power
    cfg = StatsConfig()
    rng = np.random.default_rng(12)
    pilot = result_from_differences("c", "snr", np.array([1.1 - 1, 1.1 + 1, 1.1 - 0.5, 1.1 + 0.5, 1.1]) * 1.0, cfg)
    v = classify(claim_of(), [pilot], cfg)
    sd = pilot.sd
    n = int(v.units_needed)
    assert v.predicted == HELD and n == int(pilot.units_needed)
    assert t_power(np.array([n]), 1.0, sd, 0.05)[0] >= 0.8 > t_power(np.array([n - 1]), 1.0, sd, 0.05)[0]
    reps = 800
    hits = sum(sign_flip_test(rng.normal(1.1, sd, n)).p_greater(0.1) <= 0.05 for _ in range(reps))
    assert 0.72 <= hits / reps <= 0.9
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
    from restorebench.report.verdicts import mark_trained

    rows = scores({"net": [5.0, 6.1], "old": [1.0, 2.0]}, seed=0)        # a 4 dB win on 2 clips: undecidable
    rows = mark_trained(rows, {"net"})
    v = evaluate_claim(rows, claim_of(Cell("snr", "snr", "net", "old"), cid="X15"))
    assert population_text(v, "clips") == "2 clips of one trained network: covers clips, not training randomness"
    text = summary_text(v, CFG, "clips")
    assert "too few units" in text and "at least 5 to reach p ≤ 0.05" in text
    assert "Inconclusive with 2 clips; an effect this size needs about 5 clips to read held" in text
    page = render_claims_markdown([v], "facts", "T", "pre", CFG, "tiny", "clips")
    assert "| X15 | s | **inconclusive** | 2 clips of one trained network" in page
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
