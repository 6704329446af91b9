"""The one long-format result schema every study writes (DESIGN, "Tidy results").

Every evaluation job writes one row per (item, method, metric) with the columns of :data:`METRIC_COLUMNS`;
a study may add its own columns after them (S1: split, sensor, kind, sir_db; S2: role, stopping,
iterations, stop_iteration, source...). Collect rules concatenate the rows of a study and every table,
figure and verdict is drawn from that one file. :func:`check_rows` rejects rows that lack a column or hold
a non-finite value, so a job cannot silently write something the tables would misread.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .files import atomic_output

#: study, experiment (paper table/figure), dataset (named for what it is), domain (sensor or data role),
#: method, task, condition (SIR, noise, gaps, labelled fraction...), item, seed, metric, value + run facts
METRIC_COLUMNS = ("study", "experiment", "dataset", "domain", "method", "task", "condition", "item", "seed",
                  "metric", "value", "wall_seconds", "device")
#: the optional column naming a row's *replicate*: a fresh draw of the study's data and a training seed (the
#: replicate's seed draws both), every method of a replicate scored on the same test items. Verdicts take the
#: replicate as their unit when there are several (report/verdicts.py); empty for rows every replicate shares.
REPLICATE = "replicate"
TRAJECTORY_COLUMNS = ("task", "dataset", "method", "item", "iteration")
SCHEMAS = {"metrics": METRIC_COLUMNS, "trajectories": TRAJECTORY_COLUMNS}


class SchemaError(ValueError):
    """Rows that lack a column of the schema."""


def check_rows(frame: pd.DataFrame, where: str, schema: str = "metrics") -> pd.DataFrame:
    """``frame`` if it has every column of ``schema`` and no empty study/method/metric; else a SchemaError."""
    columns = SCHEMAS[schema]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(f"{where}: rows lack the column(s) {', '.join(missing)} of the {schema} schema "
                          f"({', '.join(columns)})")
    if schema == "metrics":
        for column in ("study", "method", "metric"):
            if frame[column].isna().any():
                raise SchemaError(f"{where}: empty {column!r} in {int(frame[column].isna().sum())} row(s)")
        values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = frame[bad].iloc[0]
            raise SchemaError(f"{where}: {int(bad.sum())} non-finite value(s), e.g. {row['metric']} = {row['value']} "
                              f"of {row['method']} on item {row['item']}: a score must be a number (a verdict "
                              f"would otherwise skip it)")
    return frame


def write_rows(rows: list[dict], output: Path, schema: str = "metrics") -> None:
    """Check and write tidy rows as a TSV (atomically: no half-written file survives an error)."""
    frame = check_rows(pd.DataFrame(rows), str(output), schema)
    ordered = [c for c in SCHEMAS[schema] if c in frame.columns] + [c for c in frame.columns
                                                                    if c not in SCHEMAS[schema]]
    with atomic_output(output, suffix=".tsv") as tmp:
        frame[ordered].to_csv(tmp, sep="\t", index=False)


def collect(inputs: list[Path], output: Path, schema: str = "metrics") -> None:
    """Concatenate tidy TSVs into one CSV, checking each (the only input of tables, figures and claims)."""
    frames = [check_rows(pd.read_csv(p, sep="\t"), str(p), schema) for p in inputs]
    with atomic_output(output, suffix=".csv") as tmp:
        pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)
