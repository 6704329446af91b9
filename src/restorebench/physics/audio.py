"""Forward models of the audio restoration tasks (deep audio priors, S2): what turns a clean clip into
the single corrupted observation a prior is fitted to.

Every function is deterministic given its ``rng`` and returns the observation together with what a
scorer needs (the noise that was added, the mask that was applied).
"""
from __future__ import annotations

import numpy as np


def energy(x: np.ndarray) -> float:
    return float(np.sum(np.asarray(x, dtype=np.float64) ** 2))


def add_gaussian_noise(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Observation x + sigma * n with n ~ N(0, 1) i.i.d. (paper Sec. 4.1, sigma = 0.1)."""
    return (clean + sigma * rng.standard_normal(clean.shape)).astype(np.float32)


def add_noise_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Observation x + a*n with a chosen so that 10 log10(sum x^2 / sum (a n)^2) = snr_db."""
    if noise.shape != clean.shape:
        raise ValueError(f"noise shape {noise.shape} differs from the clip's {clean.shape}")
    noise_energy = energy(noise)
    if noise_energy == 0.0:
        raise ValueError("noise segment is silent; cannot scale it to a target SNR")
    scale = np.sqrt(energy(clean) / (noise_energy * 10.0 ** (snr_db / 10.0)))
    return (clean + scale * noise).astype(np.float32)


def gap_frame_mask(n_frames: int, hop: int, sample_rate: int, n_gaps: int,
                   min_seconds: float, max_seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Inpainting mask over STFT frames: 1 = observed, 0 = every frequency of the frame zeroed.

    Places ``n_gaps`` non-overlapping gaps, each of a duration drawn uniformly in
    [min_seconds, max_seconds] (paper Sec. 4.2: 0.1-0.25 s), away from the clip's first and last frame.
    """
    mask = np.ones(n_frames, dtype=np.float32)
    frames_per_second = sample_rate / hop
    for _ in range(n_gaps):
        for _attempt in range(100):
            width = int(round(rng.uniform(min_seconds, max_seconds) * frames_per_second))
            width = max(1, min(width, n_frames - 2))
            start = int(rng.integers(1, n_frames - width))
            # leave one observed frame on each side so gaps never merge
            lo, hi = max(0, start - 1), min(n_frames, start + width + 1)
            if mask[lo:hi].all():
                mask[start:start + width] = 0.0
                break
        else:
            raise ValueError(f"cannot place {n_gaps} gaps of {min_seconds}-{max_seconds} s in "
                             f"{n_frames} frames; lower s2.inpainting.n_gaps")
    return mask


def mix_sources(sources: np.ndarray, peak: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-source mixture at 0 dB source ratio: each source scaled to the same energy, the sum then
    scaled to the given peak. Returns (mixture, scaled sources) with mixture == sources.sum(0)."""
    sources = np.asarray(sources, dtype=np.float64)
    energies = np.array([energy(s) for s in sources])
    if np.any(energies == 0.0):
        raise ValueError("a source of the mixture is silent")
    sources = sources / np.sqrt(energies)[:, None]
    mixture = sources.sum(axis=0)
    gain = peak / np.max(np.abs(mixture))
    return (mixture * gain).astype(np.float32), (sources * gain).astype(np.float32)
