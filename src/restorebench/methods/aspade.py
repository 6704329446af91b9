"""A-SPADE, the classical declipper of the declipping study (S4): analysis-sparsity declipping by ADMM.

Kitić, Bertin & Gribonval (LVA/ICA 2015) and the reference implementation described by Záviška, Rajmic,
Ozerov & Rencker (ICASSP 2019, "A survey and an extensive evaluation of popular audio declipping methods";
MATLAB in rajmic/declipping2020_codes). No maintained Python package implements a declipper, hence this
module; it is written on scipy's ``ShortTimeFFT`` as the analysis operator A of the whole signal.

The estimate must be *consistent* with the measurement y at threshold mu (set Gamma): x = y on reliable
samples, x >= mu where y = +mu, x <= -mu where y = -mu. A-SPADE looks for the x in Gamma whose analysis
coefficients A x are sparsest, increasing the allowed number k of coefficients until the split variable
z (k-sparse) and A x agree:

    z   <- H_k(A x + u)                       (keep the k largest magnitudes of each STFT frame)
    x   <- P_Gamma(A^+ (z - u))               (synthesis, then clamp to the consistent set)
    stop when ||A x - z|| <= eps ||A y||      (relative, so the rule does not depend on the level)
    u   <- u + A x - z
    every ``r`` iterations: k <- k + s

Differences from the block-wise reference: the frame is the STFT of the whole signal (the same windows
and overlaps the blocks would have, but one k for all frames and one stopping test), the stopping
tolerance is relative (the reference uses eps = 0.1 on signals peaking at 1), no zero-padding of the DFT
(the reference doubles its length) and k grows by s = 4 per iteration (the reference: 1 per block). Measured
on two 1 s embedded music clips and one speech clip at v = 1, 10, 20 %: within ±0.5 dB of SDR of
(2 x window, s = 4) except the speech clip at v = 1 % (33.7 vs 35.6 dB), in about half the time; with
s = 1 the global test hit the 500-iteration cap at 3-4 x the time for no better SDR. A^+ is scipy's synthesis
with the canonical dual window, i.e. A^H / c for the tight frames used here (periodic Hann, hop N/4).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal

from ..physics.clipping import project_consistent, saturation_mask


@dataclass(frozen=True)
class ASpadeConfig:
    window: int = 1024          # frame length, samples (64 ms at 16 kHz, the survey's 1024 at 44.1 kHz is ~23 ms)
    hop: int = 256              # window / 4: periodic Hann is then a tight frame
    mfft: int = 1024            # DFT length (= window: the frame's redundancy 4 comes from the overlap)
    s: int = 4                  # sparsity increment (coefficients per frame)
    r: int = 1                  # iterations between increments
    eps: float = 0.01           # relative stopping tolerance on ||A x - z||
    max_iterations: int = 500

    def __post_init__(self):
        if self.mfft < self.window or self.hop < 1 or self.hop > self.window:
            raise ValueError(f"A-SPADE needs mfft >= window >= hop >= 1, got window {self.window}, hop {self.hop}, "
                             f"mfft {self.mfft}")


def frame(cfg: ASpadeConfig) -> scipy.signal.ShortTimeFFT:
    """The analysis operator A: periodic-Hann STFT (a tight frame at hop = window / 4)."""
    window = scipy.signal.windows.hann(cfg.window, sym=False)
    return scipy.signal.ShortTimeFFT(window, cfg.hop, fs=1.0, mfft=cfg.mfft, fft_mode="onesided")


def _keep_largest(z: np.ndarray, k: int) -> np.ndarray:
    """Hard thresholding H_k along the frequency axis: the k largest-magnitude coefficients of every frame."""
    if k >= z.shape[0]:
        return z
    magnitude = np.abs(z)
    kth = np.partition(magnitude, z.shape[0] - k, axis=0)[z.shape[0] - k]
    return np.where(magnitude >= kth[None, :], z, 0)


def aspade(y: np.ndarray, mu: float | None = None, cfg: ASpadeConfig = ASpadeConfig(),
           mask: np.ndarray | None = None) -> np.ndarray:
    """Declip the 1-D measurement ``y`` (threshold ``mu``; default: its peak magnitude). Returns x_hat.

    ``mask`` (1 = saturated) overrides the samples read off ``mu``: a file clipped at asymmetric rails
    (integer PCM: +32767 and -32768) has no single threshold (physics.clipping.detect_clipping)."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"A-SPADE declips one signal at a time, got shape {y.shape}")
    mu = float(np.max(np.abs(y))) if mu is None else float(mu)
    if mu <= 0:
        raise ValueError("the measurement is silent")
    y = y / mu                                              # the tolerance is relative; the output is rescaled
    mask = saturation_mask(y, 1.0) if mask is None else np.asarray(mask, dtype=y.dtype).reshape(y.shape)
    if not mask.any():
        return y * mu
    stft = frame(cfg)
    x = y.copy()
    ax = stft.stft(x)
    u = np.zeros_like(ax)
    tolerance = cfg.eps * np.linalg.norm(ax)
    k = cfg.s
    for iteration in range(1, cfg.max_iterations + 1):
        z = _keep_largest(ax + u, k)
        x = project_consistent(stft.istft(z - u, k1=y.size), y, mask)
        ax = stft.stft(x)
        if np.linalg.norm(ax - z) <= tolerance:
            break
        u = u + ax - z
        if iteration % cfg.r == 0:
            k += cfg.s
    return x * mu
