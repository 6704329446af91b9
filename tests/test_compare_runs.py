"""restorebench compare-runs on small results folders written here (the tiny workflow run is compared in
test_workflow.py)."""
import shutil

import pandas as pd
import pytest
from scipy import stats

from restorebench.cli import main
from restorebench.report.compare import compare_runs, reference_interval


def _folder(root, verdicts, cells):
    """A results folder with S1's verdicts (claim -> (verdict, reason)) and one table of cells."""
    (root / "s1" / "tables").mkdir(parents=True)
    pd.DataFrame([{"claim": c, "cell": k, "verdict": v, "verdict_reason": r}
                  for c, (v, r) in verdicts.items() for k in range(2)]).to_csv(root / "s1" / "verdicts.csv", index=False)
    pd.DataFrame(cells).to_csv(root / "s1" / "tables" / "table4.csv", index=False)
    return root


CELLS = [{"table": 4, "method": "difnet", "metric": "psnr", "mean": 30.0, "std": 2.0, "n": 8, "paper": 23.5},
         {"table": 4, "method": "notch", "metric": "psnr", "mean": 28.0, "std": 0.0, "n": 8, "paper": 21.5},
         {"table": 4, "method": "pisnet", "metric": "pa", "mean": None, "std": None, "n": 0, "paper": None}]
VERDICTS = {"C1": ("held", ""), "C4": ("contradicted", "short of the margin")}


def test_identical_folders_list_nothing_and_exit_0(tmp_path, capsys):
    ref = _folder(tmp_path / "ref", VERDICTS, CELLS)
    shutil.copytree(ref, tmp_path / "run")
    assert main(["compare-runs", str(ref), str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "S1: same verdicts; every table cell within the reference interval" in out
    assert "verdicts: all the same" in out


def test_a_changed_verdict_a_moved_cell_and_one_sided_cells_are_listed_and_exit_1(tmp_path, capsys):
    ref = _folder(tmp_path / "ref", VERDICTS, CELLS)
    half = stats.t.ppf(0.975, 7) * 2.0 / 8 ** 0.5             # 1.67 dB: the reference interval's half-width
    cells = [dict(CELLS[0], mean=30.0 + 0.9 * half),          # inside the interval: not listed
             dict(CELLS[1], mean=28.0 + 1e-3),                # no spread: any change beyond the tolerance
             {"table": 4, "method": "oracle", "metric": "psnr", "mean": 50.0, "std": 1.0, "n": 8, "paper": None}]
    run = _folder(tmp_path / "run", {"C1": ("inconclusive", ""), "C4": ("contradicted", "short of the margin"),
                                     "C5": ("held", "")}, cells)
    [s1] = compare_runs(ref, run)
    assert [(v.claim, v.reference, v.run) for v in s1.verdicts] == [("C1", "held", "inconclusive"),
                                                                     ("C5", "", "held")]
    moved = {c.key: c for c in s1.cells}
    assert set(moved) == {"table=4, method=notch, metric=psnr", "table=4, method=pisnet, metric=pa",
                          "table=4, method=oracle, metric=psnr"}
    assert moved["table=4, method=notch, metric=psnr"].run == pytest.approx(28.001)
    assert main(["compare-runs", str(ref), str(run)]) == 1
    out = capsys.readouterr().out
    assert "verdict C1: held -> inconclusive" in out and "verdict C5: absent -> held" in out
    assert "cell table4.csv [table=4, method=oracle, metric=psnr]: absent -> 50" in out
    assert "verdicts differ in S1" in out
    # a cell outside the t interval of the reference mean
    run2 = _folder(tmp_path / "run2", VERDICTS, [dict(CELLS[0], mean=30.0 + 1.1 * half), *CELLS[1:]])
    [s1] = compare_runs(ref, run2)
    assert [(c.key, round(c.low, 3), round(c.high, 3)) for c in s1.cells] == [
        ("table=4, method=difnet, metric=psnr", round(30 - half, 3), round(30 + half, 3))]
    assert not s1.verdicts_differ and main(["compare-runs", str(ref), str(run2)]) == 0


def test_the_interval_is_the_t_interval_of_the_mean():
    low, high = reference_interval(10.0, 3.0, 4, 1e-6)
    assert high - 10.0 == pytest.approx(stats.t.ppf(0.975, 3) * 3.0 / 2.0)
    assert reference_interval(10.0, float("nan"), 1, 1e-6) == pytest.approx((10.0 - 1e-5, 10.0 + 1e-5))


def test_a_study_in_one_folder_only_is_said_and_does_not_fail(tmp_path, capsys):
    ref = _folder(tmp_path / "ref", VERDICTS, CELLS)
    run = shutil.copytree(ref, tmp_path / "run")
    (ref / "s3").mkdir()
    pd.DataFrame([{"claim": "M1", "verdict": "held"}]).to_csv(ref / "s3" / "verdicts.csv", index=False)
    assert main(["compare-runs", str(ref), str(run)]) == 0
    assert "S3: only in the reference folder (not compared)" in capsys.readouterr().out


def test_folders_without_results_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    ref = _folder(tmp_path / "ref", VERDICTS, CELLS)
    assert main(["compare-runs", str(ref), str(tmp_path / "empty")]) == 2
    assert "empty: no study results" in capsys.readouterr().err
    assert main(["compare-runs", str(tmp_path / "nowhere"), str(ref)]) == 2
    assert "nowhere: no such results folder" in capsys.readouterr().err
