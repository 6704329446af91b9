"""Paired-statistics verdicts on hand-made score tables: every outcome, directions, margins, Holm, pairing."""
import numpy as np
import pandas as pd
import pytest

from restorebench.report.verdicts import (CONTRADICTED, HELD, INCONCLUSIVE, Cell, Claim, StatsConfig,
                                          UnpairedItemsError, evaluate_claim, holm, min_attainable_p,
                                          sign_flip_p, verdict_rows)


def scores(method_values: dict[str, list[float]], metric="snr", **columns) -> pd.DataFrame:
    rows = []
    for method, values in method_values.items():
        rows += [{"method": method, "metric": metric, "item": i, "value": v, **columns} for i, v in enumerate(values)]
    return pd.DataFrame(rows)


RNG = np.random.default_rng(1)
BASE = RNG.normal(10, 3, size=10)          # items differ a lot; the paired difference is what matters
NOISE = RNG.normal(0, 0.1, size=10)


def test_held_when_every_item_goes_the_papers_way():
    rows = scores({"new": BASE + 1 + NOISE, "old": BASE})
    v = evaluate_claim(rows, Claim("X1", "new beats old", (Cell("snr", "snr", "new", "old"),)))
    assert v.verdict == HELD
    c = v.cells[0]
    assert c.n == 10 and c.outcome == "paper's way"
    assert c.effect == pytest.approx(np.mean(1 + NOISE))
    assert c.p == pytest.approx(2 / 2 ** 10)                # exact: only the observed signs and their mirror
    assert c.ci_low < c.effect < c.ci_high and c.ci_low > 0.8 and c.ci_high < 1.2


def test_contradicted_when_one_cell_goes_significantly_the_other_way():
    rows = pd.concat([scores({"new": BASE + 1 + NOISE, "old": BASE}, metric="snr"),
                      scores({"new": BASE - 2 + NOISE, "old": BASE}, metric="sdr")])
    claim = Claim("X2", "new beats old on both", (Cell("snr", "snr", "new", "old"), Cell("sdr", "sdr", "new", "old")))
    v = evaluate_claim(rows, claim)
    assert v.verdict == CONTRADICTED
    assert [c.outcome for c in v.cells] == ["paper's way", "other way"]
    assert v.cells[1].effect == pytest.approx(np.mean(-2 + NOISE))


def test_inconclusive_when_signs_are_mixed_or_items_are_too_few():
    mixed = scores({"new": BASE + np.where(np.arange(10) % 2, 1.0, -1.0), "old": BASE})
    assert evaluate_claim(mixed, Claim("X3", "s", (Cell("snr", "snr", "new", "old"),))).verdict == INCONCLUSIVE
    two = scores({"new": [5.0, 6.0], "old": [1.0, 2.0]})        # a 4 dB win on both clips, but only 2 clips
    v = evaluate_claim(two, Claim("X4", "s", (Cell("snr", "snr", "new", "old"),)))
    assert v.verdict == INCONCLUSIVE and v.cells[0].p == pytest.approx(0.5) and v.cells[0].min_p == 0.5


def test_lower_is_better_metric_uses_its_declared_direction():
    rows = scores({"new": BASE - 0.5 + NOISE, "old": BASE}, metric="envelope_distance")
    v = evaluate_claim(rows, Claim("X5", "new has a smaller envelope distance",
                                   (Cell("env", "envelope_distance", "new", "old"),)))
    assert v.verdict == HELD and v.cells[0].effect == pytest.approx(np.mean(0.5 - NOISE))
    worse = scores({"new": BASE + 0.5 + NOISE, "old": BASE}, metric="me")
    assert evaluate_claim(worse, Claim("X6", "s", (Cell("me", "me", "new", "old"),))).verdict == CONTRADICTED


def test_holm_correction_across_many_cells():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    # 6 items all the paper's way give p = 2/64 = 0.031 per cell: significant alone, not across 5 cells
    frames = [scores({"new": BASE[:6] + 1 + NOISE[:6], "old": BASE[:6]}, metric=f"m{k}") for k in range(5)]
    rows = pd.concat(frames)
    one = evaluate_claim(frames[0].assign(metric="m0"), Claim("X7", "s", (Cell("m0", "m0", "new", "old"),)))
    many = evaluate_claim(rows, Claim("X8", "s", tuple(Cell(f"m{k}", f"m{k}", "new", "old") for k in range(5))))
    assert one.verdict == HELD and one.cells[0].p == pytest.approx(2 / 64)
    assert many.verdict == INCONCLUSIVE and all(c.p_holm == pytest.approx(5 * 2 / 64) for c in many.cells)


def test_margin_is_part_of_the_hypothesis():
    rows = scores({"new": BASE + 0.5 + NOISE, "old": BASE})
    far = Claim("X9", "new beats old by at least 1", (Cell("snr", "snr", "new", "old", margin=1.0),))
    assert evaluate_claim(rows, far).verdict == CONTRADICTED      # it wins, but surely by less than 1
    rows = scores({"new": BASE + 2 + NOISE, "old": BASE})
    assert evaluate_claim(rows, far).verdict == HELD


def test_interaction_cell_compares_two_groups_of_paired_differences():
    same = scores({"a": BASE + 3 + NOISE, "b": BASE}, split="same")
    cross = scores({"a": BASE + 0.0 + NOISE[::-1], "b": BASE}, split="cross")
    rows = pd.concat([same, cross])
    cell = Cell("drop", "snr", "a", "b", where={"split": "same"}, versus={"split": "cross"}, margin=1.0)
    v = evaluate_claim(rows, Claim("X10", "a loses its advantage across groups", (cell,)))
    c = v.cells[0]
    assert c.n == 20 and c.n_detail == "10 + 10"
    assert c.effect == pytest.approx(3 + NOISE.mean() - NOISE.mean())
    assert v.verdict == HELD
    assert c.min_p == pytest.approx(2 / 184756)                   # C(20, 10) group labellings


def test_unpaired_items_are_rejected_with_the_cell_named():
    rows = scores({"new": [1.0, 2.0, 3.0], "old": [1.0, 2.0]})
    with pytest.raises(UnpairedItemsError, match="snr cell.*not paired"):
        evaluate_claim(rows, Claim("X11", "s", (Cell("snr cell", "snr", "new", "old"),)))
    duplicated = pd.concat([scores({"new": [1.0], "old": [0.0]}), scores({"new": [2.0]})])
    with pytest.raises(UnpairedItemsError, match="several"):
        evaluate_claim(duplicated, Claim("X12", "s", (Cell("snr", "snr", "new", "old"),)))
    with pytest.raises(UnpairedItemsError, match="no 'snr' rows for method 'other'"):
        evaluate_claim(rows, Claim("X13", "s", (Cell("snr", "snr", "new", "other"),)))


def test_exact_test_values_and_verdict_rows():
    assert sign_flip_p(np.ones(8), 0.0, StatsConfig()) == pytest.approx(2 / 256)
    assert sign_flip_p(np.array([1.0, -1.0]), 0.0, StatsConfig()) == pytest.approx(1.0)
    one = evaluate_claim(scores({"new": [3.0], "old": [1.0]}), Claim("X0", "s", (Cell("snr", "snr", "new", "old"),)))
    assert one.verdict == INCONCLUSIVE and one.cells[0].p == 1.0 and one.cells[0].effect == 2.0
    assert min_attainable_p(2) == 0.5 and min_attainable_p(3, 3) == pytest.approx(0.1)
    rows = scores({"new": BASE + 1 + NOISE, "old": BASE})
    v = evaluate_claim(rows, Claim("X14", "s", (Cell("snr", "snr", "new", "old"),)))
    table = verdict_rows([v], "SX", "tiny")
    assert list(table[["claim", "verdict", "n", "direction"]].iloc[0]) == ["X14", "held", 10, "higher"]
