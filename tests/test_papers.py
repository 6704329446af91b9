"""The papers' reference numbers (src/restorebench/papers/*.yaml) line up with the tables they are drawn into."""
import numpy as np
import pandas as pd
import pytest

from restorebench import registry
from restorebench.experiments import audio_priors_report as s2
from restorebench.experiments import sar_rfi_report as s1
from restorebench.papers import reference


def test_audio_priors_numbers_match_table_rows_and_columns(tmp_path):
    ref = reference("audio_priors")
    assert sorted(ref["tables"]) == [1, 2, 3, 4]
    for number, table in ref["tables"].items():
        for prior, values in table["rows"].items():
            assert prior in registry.names("S2", "prior")
            assert len(values) == len(table["columns"]), f"Table {number} {prior}"
            assert all(len(v) == 2 and v[1] >= 0 for v in values)
        for key, metric in table["columns"]:
            assert metric in s2.METRIC_LABEL
    # drawn into a table: each paper number lands in its (prior, key, metric) cell
    spec = next(t for t in s2.TABLES if t.number == 1)
    rows = []
    for prior in ("conv", "exp-dense"):
        for stopping in ("final", "es", "oracle"):
            for key, metric in spec.columns + spec.extra_columns:
                rows.append({"task": "gaussian", "role": key, "dataset": f"data-{key}", "method": prior,
                             "stopping": stopping, "metric": metric, "item": 0, "value": 1.0})
    long, display = s2.build_table(spec, s2.summarise(pd.DataFrame(rows)))
    cell = long[(long["method"] == "exp-dense") & (long["key"] == "speech") & (long["metric"] == "snr")
                & (long["stopping"] == "final")].iloc[0]
    assert (cell["paper_mean"], cell["paper_std"]) == (8.15, 1.94)
    cell = long[(long["method"] == "conv") & (long["key"] == "piano") & (long["metric"] == "snr")].iloc[0]
    assert (cell["paper_mean"], cell["paper_std"]) == (9.17, 1.34)
    assert long[long["metric"] == "psnr_peak"]["paper_mean"].isna().all()       # extra columns: ours only
    assert "Dilated Conv. (exp) + Dense — paper (LJSpeech/SC09/WaveGAN, oracle-stopped)" in list(display.iloc[:, 0])


def test_difnet_numbers_match_tables_4_and_5(tmp_path):
    ref = reference("sar_rfi")
    assert {t["split"] for t in ref["tables"].values()} == {"test-same", "test-cross"}
    for table in ref["tables"].values():
        for metric, per_method in table["values"].items():
            assert metric in s1.METRIC_LABEL
            assert set(per_method) <= set(registry.names("S1", "rfi"))
    rows = [{"split": split, "method": m, "metric": metric, "item": i, "value": 0.5}
            for split in ("test-same", "test-cross") for m in ("interfered", "notch", "pisnet", "difnet")
            for metric in ("pa", "iou", "psnr", "me", "scatterer_kept") for i in range(2)]
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    s1.write_tables(tmp_path / "m.csv", tmp_path)
    t4 = pd.read_csv(tmp_path / "table4.csv")
    assert t4[(t4["method"] == "pisnet") & (t4["metric"] == "psnr")]["paper"].item() == 25.05
    assert np.isnan(t4[(t4["method"] == "pisnet") & (t4["metric"] == "pa")]["paper"].item())   # "/" in the paper
    t5 = pd.read_csv(tmp_path / "table5.csv")
    assert t5[(t5["method"] == "difnet") & (t5["metric"] == "me")]["paper"].item() == 2.19
    assert "50.00 ± 0.00 (n=2) (paper 96.55)" in (tmp_path / "table4.md").read_text()


def test_unknown_paper_is_named():
    with pytest.raises(ValueError, match="no reference numbers for paper 'merlin'"):
        reference("merlin")


def test_me_energy_check_says_whether_a_lower_me_comes_with_discarded_energy():
    rows = pd.DataFrame([
        {"split": "test-cross", "method": m, "metric": k, "item": i, "value": v}
        for i in range(2) for m, k, v in (("difnet", "me", 0.1), ("notch", "me", 0.2),
                                          ("difnet", "energy_ratio", 0.5), ("notch", "energy_ratio", 0.9))])
    assert "may come from removing more signal" in s1.me_energy_check(rows)
    rows.loc[(rows["method"] == "difnet") & (rows["metric"] == "energy_ratio"), "value"] = 1.0
    assert "not bought by removing more signal" in s1.me_energy_check(rows)
    rows.loc[(rows["method"] == "difnet") & (rows["metric"] == "me"), "value"] = 0.3
    assert "no gain to explain" in s1.me_energy_check(rows)
    assert "0.84" not in s1.me_energy_check(None) and "ME rewards discarding energy" in s1.me_energy_check(None)


def test_every_claim_names_its_floors_or_why_none_applies_and_each_floor_exists():
    from restorebench import registry
    from restorebench.experiments.audio_priors import FLOORS as S2_FLOORS
    from restorebench.experiments.merlin_multitask import FLOOR as S3_FLOOR
    from restorebench.report.reference import load_quotes

    known = {"C": {m.name for m in registry.methods("S1", "rfi") if m.floor},
             "A": {"input"} | {name for name, _ in S2_FLOORS.values()},
             "M": {S3_FLOOR},
             "D": {m.name for m in registry.methods("S4", "declipper") if m.floor}}
    for claim, entry in load_quotes().items():
        assert entry.get("floors") or entry.get("floors_reason"), f"{claim} says nothing about floors"
        assert entry.get("floors_reason"), f"{claim}: give the reason its floors apply"
        unknown = set(entry.get("floors") or ()) - known[claim[0]]
        assert not unknown, f"{claim} names {unknown}, which are not floors of its study"
