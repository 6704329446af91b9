"""Despeckling quality against a known reflectivity (simulated data; ours, not in the MERLIN-multitask paper).

* PSNR and SSIM are computed on the reflectivity in dB, 10 log10(R), with the data range of the true
  reflectivity's dB image (scikit-image's ``peak_signal_noise_ratio`` and ``structural_similarity``). The dB
  domain is the usual one for SAR: it spans the scene's 40 dB dynamic range evenly, so that a few bright
  double-bounce lines do not decide the score as they would in amplitude.
* ENL (equivalent number of looks) of an estimate on a homogeneous area: mean^2 / variance of its intensity;
  a one-look SLC has ENL 1, a perfect despeckler infinity.
"""
from __future__ import annotations

import numpy as np

DB_FLOOR = 1e-6


def _db(reflectivity) -> np.ndarray:
    return 10 * np.log10(np.maximum(np.asarray(reflectivity, dtype=np.float64), DB_FLOOR))


def _pair(truth, estimate) -> tuple[np.ndarray, np.ndarray]:
    t, e = _db(truth), _db(estimate)
    if t.shape != e.shape:
        raise ValueError(f"estimate has shape {e.shape}, reflectivity {t.shape}")
    return t, e


def psnr_db(truth, estimate) -> float:
    from skimage.metrics import peak_signal_noise_ratio
    t, e = _pair(truth, estimate)
    return float(peak_signal_noise_ratio(t, e, data_range=float(t.max() - t.min())))


def ssim(truth, estimate) -> float:
    from skimage.metrics import structural_similarity
    t, e = _pair(truth, estimate)
    return float(structural_similarity(t, e, data_range=float(t.max() - t.min())))


def enl(intensity) -> float:
    x = np.asarray(intensity, dtype=np.float64)
    var = x.var()
    return float("inf") if var == 0 else float(x.mean() ** 2 / var)
