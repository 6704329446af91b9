"""The pieces every study's tables share: summaries over items and "mean ± std (n=...)" cells.

A study's report module says which rows make a table and in what order; these say how a cell is
computed and written, so that the same numbers read the same way in every study's tables.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def sample_std(values) -> float:
    """The sample standard deviation (ddof = 1); 0 for a single value (one item has no spread to show)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarise(rows: pd.DataFrame, keys: list[str], value: str = "value") -> pd.DataFrame:
    """mean, std (:func:`sample_std`) and n of ``value`` over the rows of each ``keys`` group."""
    return rows.groupby(keys)[value].agg(mean="mean", std=sample_std, n="count").reset_index()


def mean_std(mean: float, std: float, n: int | None = None, spec: str = ".2f", std_spec: str | None = None,
             missing: str = "–") -> str:
    """``"mean ± std (n=N)"`` in the format ``spec`` (``std_spec`` for the spread, if different), or the
    table's ``missing`` mark where there is no mean (each study's tables say what their mark means)."""
    if not np.isfinite(mean):
        return missing
    text = f"{mean:{spec}} ± {std:{std_spec or spec}}"
    return text if n is None else f"{text} (n={n})"
