"""Hard clipping (saturation) as a forward operator, for the declipping study (S4).

Measurement (SPEC S4): y = eta(x) = clip(x, -mu, mu). A sample is *saturated* when |x| >= mu, i.e. when
|y| = mu; the saturated fraction v is the share of such samples. The threshold of a clip is chosen for a
target v (:func:`threshold_for_fraction`), so v, not mu, is the experiment's axis, and a measurement
carries its own threshold: mu = max |y| whenever anything is saturated (:func:`measurement_threshold`).

Every function works on numpy arrays and on torch tensors alike (the losses apply the same operator the
data were made with), along the last axis, one threshold per signal.
"""
from __future__ import annotations

import numpy as np

#: relative tolerance under which a sample counts as sitting on the threshold (float32 round-off)
SATURATION_RTOL = 1e-6


def _abs_max(x, keepdims: bool = True):
    if isinstance(x, np.ndarray):
        return np.max(np.abs(x), axis=-1, keepdims=keepdims)
    return x.abs().amax(dim=-1, keepdim=keepdims)


def clip(x, mu):
    """eta(x) = min(max(x, -mu), mu); ``mu`` a scalar or one value per signal (broadcast on the last axis)."""
    if isinstance(x, np.ndarray):
        return np.clip(x, -mu, mu).astype(x.dtype, copy=False)
    import torch

    return torch.minimum(torch.maximum(x, -mu), mu) if torch.is_tensor(mu) else x.clamp(-mu, mu)


def threshold_for_fraction(x: np.ndarray, v: float) -> np.ndarray:
    """The threshold mu (one per signal, shape (..., 1)) at which a fraction ``v`` of the samples saturate.

    mu is the (1 - v) quantile of |x|, taken between two order statistics so that exactly round(v n)
    samples have |x| >= mu (ties apart). ``v`` must lie in (0, 0.5]: at 0 nothing is measured about
    clipping, beyond 0.5 most of the signal is gone.
    """
    if not 0.0 < v <= 0.5:
        raise ValueError(f"saturated fraction v must be in (0, 0.5], got {v}")
    a = np.sort(np.abs(np.asarray(x, dtype=np.float64)), axis=-1)
    n = a.shape[-1]
    k = int(round(v * n))                      # samples to saturate
    if k < 1:
        raise ValueError(f"v = {v} saturates no sample of a {n}-sample signal")
    # midway between the largest unsaturated and the smallest saturated magnitude
    lower = a[..., n - k - 1] if k < n else np.zeros(a.shape[:-1])
    mu = 0.5 * (lower + a[..., n - k])
    if np.any(mu <= 0):
        raise ValueError("a signal is silent (or mostly zeros): no threshold reaches the requested v")
    return mu[..., None]


def saturated_fraction(y, mu) -> float:
    """Share of samples of ``y`` that sit on the threshold (|y| >= mu (1 - tol))."""
    return float(np.mean(np.asarray(saturation_mask(y, mu), dtype=np.float64)))


def saturation_mask(y, mu):
    """1 where |y| >= mu (1 - tol) (the sample is clipped), else 0; same type and shape as ``y``."""
    if isinstance(y, np.ndarray):
        return (np.abs(y) >= mu * (1 - SATURATION_RTOL)).astype(y.dtype)
    return (y.abs() >= mu * (1 - SATURATION_RTOL)).to(y.dtype)


def measurement_threshold(y):
    """mu read off a clipped measurement: its peak magnitude per signal (shape (..., 1))."""
    return _abs_max(y)


def clip_to_fraction(x: np.ndarray, v: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, mask, mu): ``x`` clipped so that a fraction ``v`` of each signal's samples saturate."""
    mu = threshold_for_fraction(x, v).astype(np.float32)
    y = clip(np.asarray(x, dtype=np.float32), mu)
    return y, saturation_mask(y, mu), mu


def project_consistent(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """P_Gamma(x): the point of the consistent set Gamma = {x : clip(x, -mu, mu) = y} nearest to x.

    Gamma is a box, so the projection is samplewise: y on reliable samples (mask 0); on saturated ones
    (mask 1) x pushed to at least the clip level y = +-mu, keeping the sign of y. A-SPADE clamps every
    iterate with it; the music table also scores each declipper's output after it.
    """
    beyond = np.where(y > 0, np.maximum(x, y), np.minimum(x, y))
    return np.where(mask > 0, beyond, y)


def longest_run(mask) -> int:
    """Length of the longest run of consecutive ones in a 1-D 0/1 array."""
    m = np.asarray(mask, dtype=np.int8).ravel()
    if not m.any():
        return 0
    edges = np.diff(np.concatenate(([0], m, [0])))
    return int(np.max(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)))


def detect_clipping(y: np.ndarray, min_run: int = 3, min_fraction: float = 1e-4) -> dict:
    """Is ``y`` (samples, or channels x samples) clipped? Its peak magnitude mu, the share of samples that
    sit on it (|y| >= mu (1 - tol)) and the longest run of consecutive such samples in any channel.

    ``clipped`` is True when at least ``min_fraction`` of the samples and a run of ``min_run`` sit on the
    peak: an unclipped recording touches its peak once or twice, a clipped one stays on it for whole runs.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    mu = float(np.max(np.abs(y)))
    mask = np.abs(y) >= mu * (1 - SATURATION_RTOL) if mu > 0 else np.zeros_like(y, dtype=bool)
    fraction = float(mask.mean())
    run = max(longest_run(row) for row in mask)
    return {"threshold": mu, "saturated_fraction": fraction, "longest_run": run,
            "clipped": bool(mu > 0 and fraction >= min_fraction and run >= min_run)}
