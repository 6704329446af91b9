"""Classical references of the declipping study (S4) beside A-SPADE (methods/aspade.py): a floor and a ceiling.

* :func:`spline_declip`, the floor: a cubic spline through the reliable samples, evaluated across each
  clipped run and projected onto the consistent set (SPEC S4: "a consistent cubic spline across each
  clipped run"). It needs no learning; a trained declipper that does not beat it has learned nothing an
  interpolation does not know. scipy's CubicSpline (not-a-knot) is used rather than PCHIP: a monotone
  interpolant never rises above its neighbours, so across a clipped peak it would return the clip level
  itself; the cubic overshoots, which is what a clipped peak needs.
* :func:`dct_least_squares`, Figure 5's model-aware ceiling: the synthetic signals are exactly sparse among
  the lowest ``band`` share of the orthonormal DCT-II frequencies (data/clipping.sparse_dct_signals), so the
  least-squares fit of those coefficients to the reliable samples recovers the signal whenever the reliable
  samples determine it. It reads the data model, not the signal: a ceiling for methods that do not know it.
"""
from __future__ import annotations

import numpy as np
import scipy.fft
from scipy.interpolate import CubicSpline

from ..physics.clipping import project_consistent, saturation_mask


def _reliable(y: np.ndarray, mu: float, mask: np.ndarray | None) -> np.ndarray:
    saturated = saturation_mask(y, mu) if mask is None else np.asarray(mask)
    return np.asarray(saturated) == 0


def spline_declip(y: np.ndarray, mu: float, mask: np.ndarray | None = None) -> np.ndarray:
    """The consistent cubic-spline declipping of one signal ``y`` clipped at ``mu`` (``mask``: 1 where a
    sample is clipped, else |y| >= mu decides): clipped samples between two reliable ones take the spline
    through every reliable sample, pushed to at least the clip level with the sign of y; clipped samples
    before the first or after the last reliable one keep the clip level (a spline extrapolates wildly)."""
    y = np.asarray(y, dtype=np.float64)
    reliable = _reliable(y, mu, mask)
    if reliable.all() or reliable.sum() < 2:
        return y.astype(np.float32)
    t = np.arange(y.size)
    known = t[reliable]
    inside = ~reliable & (t > known[0]) & (t < known[-1])
    x = y.copy()
    x[inside] = CubicSpline(known, y[reliable])(t[inside])
    return project_consistent(x, y, (~reliable).astype(np.float64)).astype(np.float32)


def dct_least_squares(y: np.ndarray, mu: float, band: float, mask: np.ndarray | None = None) -> np.ndarray:
    """Figure 5's ceiling for one signal: the coefficients of the lowest ``band`` share of the orthonormal
    DCT-II fitted to the reliable samples by least squares (numpy lstsq: the minimum-norm solution when the
    reliable samples do not determine them), synthesised and projected onto the consistent set."""
    y = np.asarray(y, dtype=np.float64)
    reliable = _reliable(y, mu, mask)
    active = int(round(band * y.size))
    basis = scipy.fft.idct(np.eye(y.size)[:active], type=2, norm="ortho", axis=-1).T     # (T, active)
    coefficients, *_ = np.linalg.lstsq(basis[reliable], y[reliable], rcond=None)
    return project_consistent(basis @ coefficients, y, (~reliable).astype(np.float64)).astype(np.float32)
