"""Sizing a scale from a run: units for a 1-SD effect, which claims that covers, and what fits a budget."""
import numpy as np
import pandas as pd
import pytest

from restorebench.report.sizing import StudyCost, claim_requirements, plan, study_costs, units_at_one_sd
from restorebench.report.verdicts import StatsConfig, sign_power, sign_test


def test_units_for_a_one_sd_effect_grow_with_the_cells_a_claim_must_pass():
    assert units_at_one_sd(1, "held") == 13
    assert units_at_one_sd(2, "held") == 16            # both cells at alpha: 1 - 2 (1 - power) >= 0.8
    assert units_at_one_sd(22, "contradicted") == 25   # one cell at 0.05 / 22
    assert units_at_one_sd(1, "held", sds=3.0) == 5     # a large effect needs only the exact test's floor


def test_thirteen_units_give_the_exact_sign_test_its_planned_power_at_one_sd():
    rng = np.random.default_rng(0)
    cfg = StatsConfig()
    planned = float(sign_power([13], 1.0, 1.0, cfg.alpha)[0])       # P(Bin(13, 0.841) >= 10) = 0.86
    hits = [sign_test(rng.normal(1.0, 1.0, 13)).p_greater(0.0) <= cfg.alpha for _ in range(400)]
    assert planned >= 0.8 and abs(np.mean(hits) - planned) <= 3 * np.sqrt(planned * (1 - planned) / 400)


def _verdicts():
    rows = []
    for claim, cells, predicted, needed in (("X1", 2, "held", 5.0), ("X2", 2, "held", 40.0),
                                            ("Y1", 3, "contradicted", 9.0)):
        for c in range(cells):
            rows.append({"study": "S1" if claim.startswith("X") else "S2", "claim": claim, "verdict": "inconclusive",
                         "unit": "item", "n": 2, "claim_predicted": predicted, "claim_units_needed": needed,
                         "cell": f"c{c}"})
    return pd.DataFrame(rows)


def test_a_claim_is_covered_when_its_estimate_needs_no_more_than_a_one_sd_effect():
    claims = claim_requirements(_verdicts()).set_index("claim")
    assert claims.loc["X1", "covered"] and not claims.loc["X2", "covered"] and claims.loc["Y1", "covered"]
    assert claims.loc["Y1", "units_one_sd"] == units_at_one_sd(3, "contradicted")


def test_the_plan_gives_each_study_its_units_while_the_budget_lasts():
    costs = {"S1": StudyCost("S1", "replicates", 1, per_unit_s=120.0, fixed_s=0.0),     # 1 min per unit on 2 cores
             "S2": StudyCost("S2", "clips", 2, per_unit_s=1200.0, fixed_s=0.0)}    # 10 min per unit
    _, studies = plan(_verdicts(), costs, budget_min=np.inf)
    studies = studies.set_index("study")
    assert studies.loc["S1", "planned"] == 16 and studies.loc["S2", "planned"] == 18
    _, tight = plan(_verdicts(), costs, budget_min=40.0)   # base 1 + 20 min; S1 first (cheaper per claim)
    tight = tight.set_index("study")
    assert tight.loc["S1", "planned"] == 16 and tight.loc["S2", "planned"] == 2     # 16 more clips would not fit
    assert tight["planned_min"].sum() == pytest.approx(16 + 20)


def test_costs_divide_the_scaling_jobs_by_the_run_units(tmp_path):
    timings = (("s2_fit", "a", 30.0), ("s2_fit", "b", 50.0), ("s2_corpus", "c", 10.0), ("s2_claims", "d", 4.0),
               # S1: a replicate's data, tuning and evaluations count with its trainings (issue 35, 3b)
               ("s1_split", "r0", 6.0), ("s1_split", "r1", 6.0), ("s1_training_images", "r0", 1.0),
               ("s1_training_images", "r1", 1.0), ("s1_calibrate_notch", "r0", 2.0), ("s1_calibrate_notch", "r1", 2.0),
               ("s1_train", "r0", 20.0), ("s1_train", "r1", 20.0), ("s1_evaluate", "r0", 3.0),
               ("s1_evaluate", "r1", 3.0), ("s1_evaluate_trained", "r0", 4.0), ("s1_evaluate_trained", "r1", 4.0))
    for rule, name, seconds in timings:
        folder = tmp_path / "benchmarks" / rule
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.tsv").write_text(f"s\th:m:s\n{seconds}\t0:00:{int(seconds)}\n")
    scale = {"s1": {"replicates": 2}, "s2": {"clips": 2}, "s3": {"replicates": 2}, "s4": {"replicates": 1}}
    costs = study_costs(tmp_path, scale)
    cost = costs["S2"]
    # the corpus a clip is drawn from scales with the clips; the claims page does not
    assert cost.per_unit_s == pytest.approx(45.0) and cost.fixed_s == pytest.approx(4.0)
    assert cost.seconds(5) == pytest.approx(229.0)
    # s1_train holds 2 cores: 6 + 1 + 2 + 2 x 20 + 3 + 4 core-seconds per replicate
    assert costs["S1"].per_unit_s == pytest.approx(56.0) and costs["S1"].fixed_s == 0.0
    # a run from before replicates counted its units as seeds
    old = {"s1": {"seeds": 2}, "s2": {"clips": 2}, "s3": {"seeds": 2}, "s4": {"seeds": 1}}
    assert study_costs(tmp_path, old)["S1"].per_unit_s == pytest.approx(56.0)


def test_the_threads_the_sizing_charges_are_the_rules_threads():
    import re
    from pathlib import Path

    from restorebench.report.sizing import RULE_THREADS

    rules = "".join(p.read_text() for p in (Path(__file__).resolve().parents[1] / "workflow" / "rules").glob("*.smk"))
    for rule, threads in RULE_THREADS.items():
        block = re.search(rf"^rule {rule}:\n(.*?)(?=^rule |\Z)", rules, re.M | re.S).group(1)
        assert re.search(rf"^\s+threads: {threads}$", block, re.M), rule
    fit = re.search(r"^rule s2_fit:\n(.*?)(?=^rule |\Z)", rules, re.M | re.S).group(1)
    assert 'threads: config["fit_threads"]' in fit
    # and every other rule holds one thread
    others = re.findall(r"^rule (\w+):\n(?:(?!^rule ).)*?^\s+threads: (\d+)$", rules, re.M | re.S)
    assert all(int(n) == 1 for rule, n in others if rule not in RULE_THREADS), others
