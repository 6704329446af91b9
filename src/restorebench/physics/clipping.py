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


def threshold_mask(y: np.ndarray, mu: float, tolerance: float = 0.0) -> np.ndarray:
    """1 where y >= mu - tol or y <= -mu + tol, tol = max(``tolerance``, mu * SATURATION_RTOL): a clip level
    given by the user; ``tolerance`` one step of an integer PCM grid, whose positive rail is one step short."""
    tol = max(float(tolerance), mu * SATURATION_RTOL)
    y = np.asarray(y)
    return ((y >= mu - tol) | (y <= -mu + tol)).astype(np.float32)


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
    iterate with it; the music table also scores each declipper's output after it. NumPy arrays or torch
    tensors alike.
    """
    if not isinstance(x, np.ndarray):          # torch tensors: the trainer's held-out error (methods/declipping.py)
        import torch

        beyond = torch.where(y > 0, torch.maximum(x, y), torch.minimum(x, y))
        return torch.where(mask > 0, beyond, y)
    beyond = np.where(y > 0, np.maximum(x, y), np.minimum(x, y))
    return np.where(mask > 0, beyond, y)


def longest_run(mask) -> int:
    """Length of the longest run of consecutive ones in a 1-D 0/1 array."""
    m = np.asarray(mask, dtype=np.int8).ravel()
    if not m.any():
        return 0
    edges = np.diff(np.concatenate(([0], m, [0])))
    return int(np.max(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)))


def _rail_plateau(samples: np.ndarray, rail: float, sign: int) -> np.ndarray:
    """Where a channel sits on one rail: y >= rail (1 - tol) for the positive rail (sign +1), y <= rail (1 - tol)
    for the negative one (sign -1); nothing when the channel never reaches that side of zero."""
    if sign * rail <= 0:
        return np.zeros(samples.shape, dtype=bool)
    return sign * samples >= sign * rail * (1 - SATURATION_RTOL)


def detect_clipping(y: np.ndarray, min_run: int = 3, min_fraction: float = 1e-4) -> dict:
    """Is ``y`` (samples, or channels x samples) clipped, and where? Each channel's two rails on their own.

    A converter clips at its rails, which are not symmetric in integer PCM: 16-bit audio saturates at
    +32767/32768 = +0.99997 and -32768/32768 = -1.0 after reading (and likewise for 8, 24 and 32 bits), and a
    signal with a DC offset may hit one rail only. So the positive rail of a channel is its maximum, the
    negative one its minimum, and a rail is *clipped* when at least ``min_fraction`` of the channel's samples
    and a run of ``min_run`` consecutive ones sit on it (an unclipped recording touches its peak once or
    twice, a clipped one stays on it for whole runs). On a coarse grid (8-bit PCM, steps of 1/128) a smooth
    peak stays on one value for several samples and reads as a plateau too: there the clip level is better
    given (the declip tool's --threshold).

    Returns ``mask`` (channels x samples bool: the samples on a clipped rail), per channel ``channels``
    (``upper``/``lower`` rail, whether each is clipped, the channel's saturated fraction), and over the whole
    file ``threshold`` (the largest clipped rail magnitude; the peak when none is), ``saturated_fraction``,
    ``longest_run`` (on any rail, clipped or not) and ``clipped``.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    mask = np.zeros(y.shape, dtype=bool)
    channels, longest, rails = [], 0, []
    for c, row in enumerate(y):
        report = {"upper": float(row.max()), "lower": float(row.min())}
        for name, sign in (("upper", 1), ("lower", -1)):
            on_rail = _rail_plateau(row, report[name], sign)
            run = longest_run(on_rail)
            longest = max(longest, run)
            clipped = bool(on_rail.mean() >= min_fraction and run >= min_run)
            report[f"{name}_clipped"] = clipped
            if clipped:
                mask[c] |= on_rail
                rails.append(abs(report[name]))
        report["saturated_fraction"] = float(mask[c].mean())
        channels.append(report)
    return {"threshold": max(rails) if rails else float(np.max(np.abs(y))),
            "saturated_fraction": float(mask.mean()), "longest_run": longest, "clipped": bool(rails),
            "channels": channels, "mask": mask}
