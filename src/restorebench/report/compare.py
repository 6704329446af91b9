"""Did a run reproduce the reference? Verdicts and table cells of two results folders, study by study.

A results folder is what the workflow writes under ``results/`` (or a published copy of its text, such as
``docs/results/standard``): ``s<k>/verdicts.csv`` and ``s<k>/tables/*.csv`` per study. For every study
present in both folders :func:`compare_runs` lists

* the claims whose verdict differs (the verdict with its reason, e.g. "contradicted — short of the margin"),
  and claims present in one folder only;
* the table cells whose mean left the reference's interval, and cells present in one folder only.

A table cell is one row of a table CSV: its key is every column but the values (``mean``, ``std``, ``n`` or
``count``, and the paper's numbers). The reference interval of a cell is the two-sided 95 % Student-t
interval of its mean, ``mean ± t(0.975, n − 1) · std / √n``, from the reference's own spread: a cell outside
it moved by more than the reference's sampling error of that mean. A cell of one item (or zero spread) has
no spread to judge by, so it counts as moved when it differs by more than ``tolerance`` relative to its
value (runs of the same code on the same machine are bit-identical; other hardware moves floats a little).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .verdicts import row_label

#: columns of a table CSV that hold numbers, not the cell's identity
VALUE_COLUMNS = frozenset({"mean", "std", "n", "count", "paper", "paper_mean", "paper_std"})


@dataclass
class VerdictChange:
    claim: str
    reference: str            # "" when the claim is absent from the reference
    run: str                  # "" when the claim is absent from the run


@dataclass
class CellChange:
    table: str
    key: str                  # "column=value, ..." of the cell
    reference: float          # NaN when absent (or empty) in the reference
    low: float
    high: float
    run: float                # NaN when absent (or empty) in the run


@dataclass
class StudyComparison:
    study: str
    present: str = "both"     # "both" | "reference" | "run": where the study's results exist
    verdicts: list[VerdictChange] = field(default_factory=list)
    cells: list[CellChange] = field(default_factory=list)

    @property
    def verdicts_differ(self) -> bool:
        return bool(self.verdicts)


#: tables that hold checks behind the verdicts, not result cells with a mean and an interval
CHECK_TABLES = frozenset({"training.csv", "geometry.csv", "peaks.csv"})


def _studies(folder: Path) -> set[str]:
    return {p.parent.name for p in folder.glob("*/verdicts.csv")} | {p.parent.parent.name
                                                                       for p in folder.glob("*/tables/*.csv")}


def claim_verdicts(path: Path) -> dict[str, str]:
    """Claim id -> its verdict as the claims page reads it ("held", "contradicted — short of the margin")."""
    rows = pd.read_csv(path)
    missing = {"claim", "verdict"} - set(rows.columns)
    if missing:
        raise ValueError(f"{path}: not a verdicts.csv (it lacks {', '.join(sorted(missing))})")
    out = {}
    for claim, group in rows.groupby("claim", sort=False):
        out[str(claim)] = row_label(group.iloc[0])
    return out


def table_cells(path: Path) -> pd.DataFrame:
    """The cells of one table CSV, indexed by their key text, with columns mean, std, n."""
    rows = pd.read_csv(path)
    if "mean" not in rows.columns:
        raise ValueError(f"{path}: a table CSV needs a 'mean' column")
    keys = [c for c in rows.columns if c not in VALUE_COLUMNS]
    count = "n" if "n" in rows.columns else "count" if "count" in rows.columns else None
    text = rows[keys].astype(str).apply(lambda r: ", ".join(f"{k}={v}" for k, v in r.items()), axis=1)
    cells = pd.DataFrame({"mean": pd.to_numeric(rows["mean"], errors="coerce"),
                          "std": pd.to_numeric(rows["std"], errors="coerce") if "std" in rows.columns else np.nan,
                          "n": pd.to_numeric(rows[count], errors="coerce") if count else np.nan})
    cells.index = text
    if cells.index.duplicated().any():
        raise ValueError(f"{path}: two rows share the key {cells.index[cells.index.duplicated()][0]!r}")
    return cells


def reference_interval(mean: float, std: float, n: float, tolerance: float) -> tuple[float, float]:
    """The 95 % t interval of a reference cell's mean; ± ``tolerance`` × max(1, |mean|) without a spread."""
    from scipy import stats

    if n >= 2 and np.isfinite(std) and std > 0:
        half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    else:
        half = tolerance * max(1.0, abs(mean))
    return mean - half, mean + half


def compare_tables(reference: Path, run: Path, table: str, tolerance: float) -> list[CellChange]:
    ref, new = table_cells(reference), table_cells(run)
    changes = []
    for key in ref.index.union(new.index, sort=False):
        if key not in new.index or key not in ref.index:
            r = ref.loc[key] if key in ref.index else None
            m = float(r["mean"]) if r is not None else np.nan
            changes.append(CellChange(table, key, m, np.nan, np.nan,
                                      float(new.loc[key, "mean"]) if key in new.index else np.nan))
            continue
        r, value = ref.loc[key], float(new.loc[key, "mean"])
        m = float(r["mean"])
        if np.isnan(m) and np.isnan(value):
            continue                        # an empty cell in both ("/" in the paper's tables)
        if np.isnan(m) or np.isnan(value):
            changes.append(CellChange(table, key, m, np.nan, np.nan, value))
            continue
        low, high = reference_interval(m, float(r["std"]), float(r["n"]), tolerance)
        if not low <= value <= high:
            changes.append(CellChange(table, key, m, low, high, value))
    return changes


def compare_runs(reference: Path, run: Path, tolerance: float = 1e-6) -> list[StudyComparison]:
    """What differs between the results folders ``reference`` and ``run`` (see the module docstring)."""
    reference, run = Path(reference), Path(run)
    for folder in (reference, run):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such results folder")
    ref_studies, run_studies = _studies(reference), _studies(run)
    if not ref_studies:
        raise ValueError(f"{reference}: no study results (expected s1/verdicts.csv, s1/tables/*.csv, ...)")
    if not run_studies:
        raise ValueError(f"{run}: no study results (expected s1/verdicts.csv, s1/tables/*.csv, ...)")
    out = []
    for study in sorted(ref_studies | run_studies):
        if study not in run_studies or study not in ref_studies:
            out.append(StudyComparison(study, present="reference" if study in ref_studies else "run"))
            continue
        result = StudyComparison(study)
        ref_v, run_v = reference / study / "verdicts.csv", run / study / "verdicts.csv"
        a = claim_verdicts(ref_v) if ref_v.exists() else {}
        b = claim_verdicts(run_v) if run_v.exists() else {}
        for claim in dict.fromkeys([*a, *b]):
            if a.get(claim, "") != b.get(claim, ""):
                result.verdicts.append(VerdictChange(claim, a.get(claim, ""), b.get(claim, "")))
        # the check tables list each network's curves (training.csv) or the setup S2's claims are judged on
        # (geometry.csv, peaks.csv), not result cells: what they decide shows in the verdicts' labels
        # ("not a verdict: ..."), compared above
        tables = sorted(({p.name for p in (reference / study / "tables").glob("*.csv")}
                         | {p.name for p in (run / study / "tables").glob("*.csv")}) - CHECK_TABLES)
        for name in tables:
            ref_t, run_t = reference / study / "tables" / name, run / study / "tables" / name
            if not ref_t.exists() or not run_t.exists():
                result.cells.append(CellChange(name, "(the whole table)", np.nan, np.nan, np.nan, np.nan))
                continue
            result.cells += compare_tables(ref_t, run_t, name, tolerance)
        out.append(result)
    return out


def _number(x: float) -> str:
    return "absent" if np.isnan(x) else f"{x:.4g}"


def format_comparison(comparisons: list[StudyComparison], reference: Path, run: Path) -> str:
    """The listing the ``compare-runs`` command prints."""
    lines = [f"reference: {reference}", f"run:       {run}", ""]
    for c in comparisons:
        if c.present != "both":
            lines.append(f"{c.study.upper()}: only in the {c.present} folder (not compared)")
            continue
        if not c.verdicts and not c.cells:
            lines.append(f"{c.study.upper()}: same verdicts; every table cell within the reference interval")
            continue
        lines.append(f"{c.study.upper()}:")
        for v in c.verdicts:
            lines.append(f"  verdict {v.claim}: {v.reference or 'absent'} -> {v.run or 'absent'}")
        for cell in c.cells:
            if cell.key == "(the whole table)":
                lines.append(f"  table {cell.table}: in one folder only")
            elif np.isnan(cell.low):
                lines.append(f"  cell {cell.table} [{cell.key}]: {_number(cell.reference)} -> {_number(cell.run)}")
            else:
                lines.append(f"  cell {cell.table} [{cell.key}]: {_number(cell.reference)} -> {_number(cell.run)} "
                             f"(reference interval {cell.low:.4g} to {cell.high:.4g})")
    differ = [c.study.upper() for c in comparisons if c.verdicts_differ]
    lines += ["", f"verdicts differ in {', '.join(differ)}" if differ else "verdicts: all the same"]
    return "\n".join(lines) + "\n"


__all__ = ["compare_runs", "format_comparison", "claim_verdicts", "table_cells", "reference_interval",
           "StudyComparison", "VerdictChange", "CellChange"]
