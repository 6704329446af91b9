"""Data of the declipping study (S4): the synthetic d-dimensional signal model of the paper's Figure 5 and
the clipped segments the networks train on.

Synthetic model (``sparse-dct``; the paper says only "model dimension d"): signals of T samples that are
exactly d-sparse in the orthonormal DCT-II, the d active coefficients at positions drawn uniformly without
replacement and their values i.i.d. N(0, 1), every signal then scaled to peak 1. The set is a union of
d-dimensional subspaces, closed under amplitude scaling (what the equivariance loss assumes), and it looks
like audio: a few sinusoids. Drawing the positions over all T frequencies (not a fixed subspace) keeps a
network from memorising one basis.
"""
from __future__ import annotations

import numpy as np
import scipy.fft

from ..physics.clipping import clip_to_fraction

SYNTHETIC_DATASET = "sparse-dct"


#: the draws a seed makes: a replicate's training, test and validation signals are separate streams of its
#: seed (an offset seed would make one replicate's test signals the next replicate's training signals)
SIGNAL_ROLES = ("train", "test", "validation")


def sparse_dct_signals(n: int, length: int, d: int, seed: int, band: float = 1.0, role: str = "train") -> np.ndarray:
    """(n, length) float32 signals, each exactly ``d``-sparse in the orthonormal DCT-II, peak 1; the active
    coefficients are drawn among the lowest ``band`` fraction of the DCT frequencies. ``role`` picks the
    stream of ``seed`` (:data:`SIGNAL_ROLES`)."""
    active = int(round(band * length))
    if not 1 <= d <= active:
        raise ValueError(f"model dimension d must be in [1, {active}] (band {band} of {length}), got {d}")
    if role not in SIGNAL_ROLES:
        raise ValueError(f"signal role must be one of {SIGNAL_ROLES}, got {role!r}")
    stream = SIGNAL_ROLES.index(role)
    rng = np.random.default_rng([seed, d, length] + ([stream] if stream else []))
    coefficients = np.zeros((n, length))
    for row in coefficients:
        row[rng.choice(active, size=d, replace=False)] = rng.standard_normal(d)
    x = scipy.fft.idct(coefficients, type=2, norm="ortho", axis=-1)
    return (x / np.max(np.abs(x), axis=-1, keepdims=True)).astype(np.float32)


def clipped_set(x: np.ndarray, v: float) -> dict[str, np.ndarray]:
    """{clean, y, mu}: every signal clipped at its own threshold for the saturated fraction ``v``."""
    y, _, mu = clip_to_fraction(x, v)
    return {"clean": np.asarray(x, dtype=np.float32), "y": y, "mu": mu[:, 0]}


def segments(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    """(n_segments, length) windows of the last axis of ``x`` (n_clips, T) with the given hop, clip by clip."""
    x = np.atleast_2d(x)
    if x.shape[-1] < length:
        raise ValueError(f"clips of {x.shape[-1]} samples are shorter than a {length}-sample segment")
    starts = range(0, x.shape[-1] - length + 1, hop)
    return np.stack([clip[s:s + length] for clip in x for s in starts])
