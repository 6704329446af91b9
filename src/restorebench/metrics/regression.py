"""Height-regression errors of the MERLIN-multitask paper, Eqs. 8-11, over N pixels (heights h in metres):

* RMSE = sqrt(mean (h - h~)^2)                                                            (Eq. 8)
* logRMSE = sqrt(mean |log10(h + 1) - log10(h~ + 1)|^2)                                   (Eq. 9)
* Rel = mean |h - h~| / (|h| + 1)                                                         (Eq. 10)
* Rel_log = mean |log10(h + 1) - log10(h~ + 1)| / (log10(h + 1) + 1)                      (Eq. 11)

Heights are non-negative, so predictions are clipped at 0 before the logarithms (a negative prediction
below -1 would make Eq. 9 undefined); the clipping is applied to every metric alike.
"""
from __future__ import annotations

import numpy as np


def _pair(height, predicted) -> tuple[np.ndarray, np.ndarray]:
    h, p = np.asarray(height, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    if h.shape != p.shape:
        raise ValueError(f"predicted heights have shape {p.shape}, labels {h.shape}")
    if np.any(h < 0):
        raise ValueError("label heights must be non-negative")
    return h, np.maximum(p, 0.0)


def rmse(height, predicted) -> float:
    h, p = _pair(height, predicted)
    return float(np.sqrt(np.mean((h - p) ** 2)))


def log_rmse(height, predicted) -> float:
    h, p = _pair(height, predicted)
    return float(np.sqrt(np.mean((np.log10(h + 1) - np.log10(p + 1)) ** 2)))


def rel(height, predicted) -> float:
    h, p = _pair(height, predicted)
    return float(np.mean(np.abs(h - p) / (np.abs(h) + 1)))


def rel_log(height, predicted) -> float:
    h, p = _pair(height, predicted)
    lh = np.log10(h + 1)
    return float(np.mean(np.abs(lh - np.log10(p + 1)) / (lh + 1)))


REGRESSION_METRICS = {"rmse": rmse, "log_rmse": log_rmse, "rel": rel, "rel_log": rel_log}
