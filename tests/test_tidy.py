"""The one result schema: rows lacking a column are rejected with the file named; collect concatenates."""
import pandas as pd
import pytest

from restorebench.tidy import METRIC_COLUMNS, SchemaError, collect, write_rows


def _row(**over):
    row = {"study": "S9", "experiment": "table1", "dataset": "toy", "domain": "speech", "method": "a",
           "task": "denoise", "condition": "sigma=0.1", "item": 0, "seed": 0, "metric": "snr", "value": 1.5,
           "wall_seconds": 0.1, "device": "cpu", "extra": "kept"}
    row.update(over)
    return row


def test_write_and_collect_keep_schema_order_and_extra_columns(tmp_path):
    write_rows([_row(), _row(item=1, value=2.5)], tmp_path / "a.tsv")
    write_rows([_row(method="b")], tmp_path / "b.tsv")
    collect([tmp_path / "a.tsv", tmp_path / "b.tsv"], tmp_path / "all.csv")
    frame = pd.read_csv(tmp_path / "all.csv")
    assert tuple(frame.columns[:len(METRIC_COLUMNS)]) == METRIC_COLUMNS and frame.columns[-1] == "extra"
    assert frame["value"].tolist() == [1.5, 2.5, 1.5] and frame["method"].tolist() == ["a", "a", "b"]


def test_a_row_without_a_schema_column_is_rejected_and_nothing_is_written(tmp_path):
    row = _row()
    del row["domain"]
    with pytest.raises(SchemaError, match=r"bad.tsv: rows lack the column\(s\) domain"):
        write_rows([row], tmp_path / "bad.tsv")
    assert not (tmp_path / "bad.tsv").exists()
    pd.DataFrame([row]).to_csv(tmp_path / "old.tsv", sep="\t", index=False)
    with pytest.raises(SchemaError, match="old.tsv"):
        collect([tmp_path / "old.tsv"], tmp_path / "all.csv")
    assert not (tmp_path / "all.csv").exists()
    with pytest.raises(SchemaError, match="empty 'method'"):
        write_rows([_row(method=None)], tmp_path / "x.tsv")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_score_is_rejected_naming_the_metric_and_nothing_is_written(tmp_path, value):
    with pytest.raises(SchemaError, match=r"bad.tsv: 1 non-finite value\(s\), e.g. snr = .* of a on item 1"):
        write_rows([_row(), _row(item=1, value=value)], tmp_path / "bad.tsv")
    assert not (tmp_path / "bad.tsv").exists()
