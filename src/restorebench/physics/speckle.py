"""Speckle: how a single-look complex (SLC) SAR image is formed from a reflectivity, and the log normalisation
MERLIN feeds its network with.

* :func:`speckle_slc` draws z = sqrt(R) * (u + j v) / sqrt(2), u, v ~ N(0, 1) independent (Goodman's fully
  developed speckle, MERLIN-multitask paper Eqs. 1-2): |z|^2 / R is exponential with mean 1 (one look, ENL 1)
  and Re z, Im z are independent N(0, R/2). With ``correlation > 0`` the complex image is filtered by a
  separable raised-cosine (Hamming-like) spectral taper, as a sensor's apodisation does, which correlates
  neighbouring pixels; the mean intensity is kept.
* :func:`decorrelate` is the whitening / spectrum-symmetrisation step that precedes MERLIN on real data
  (Dalsasso et al., MERLIN, TGRS 2021, Sec. IV-A): along each axis the mean power spectrum is estimated, its
  centroid moved to zero frequency (zero-Doppler centring), and the spectrum divided by the estimated
  window's amplitude, so that neighbouring pixels are decorrelated again.
* :func:`log_normalise` / :func:`reflectivity_from_output` are MERLIN's input and output maps with the
  constants (M, m) of the training data (authors' ``merlin/training/model.py``): the network sees
  (log(a^2 + 1e-3) - 2m) / (2(M - m)) of one part a, and predicts o with log R = 2(o(M - m) + m).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR = 1e-3   # MERLIN's floor inside the log: zero-valued pixels are floored, not fatal


@dataclass(frozen=True)
class LogConstants:
    """MERLIN's normalisation constants: M and m bound the log-amplitude of the training data."""
    M: float
    m: float

    def __post_init__(self):
        if not self.M > self.m:
            raise ValueError(f"normalisation constants need M > m (got M={self.M}, m={self.m})")


# the authors' constants (deepdespeckling.utils.constants), for their released models
TERRASAR_X = LogConstants(M=10.089038980848645, m=-1.429329123112601)
SENTINEL1_TOPS = LogConstants(M=12.385, m=float(-np.log(0.001)))


def _spectral_window(n: int, strength: float) -> np.ndarray:
    """A raised-cosine amplitude taper over the whole FFT axis: 1 at zero frequency, 1 - 2 strength at the band
    edges (strength 0.46 is a Hamming window)."""
    return 1.0 - strength + strength * np.cos(2 * np.pi * np.fft.fftfreq(n))


def speckle_slc(reflectivity: np.ndarray, rng: np.random.Generator, correlation: float = 0.0) -> np.ndarray:
    """A complex64 SLC with reflectivity E|z|^2 = ``reflectivity`` and fully developed one-look speckle.

    ``correlation`` in [0, 0.5): 0 = white speckle; otherwise the spectrum of each axis is tapered by
    1 - c + c cos(2 pi f) (c = 0.46: a Hamming window, as SAR processors apodise), which correlates neighbours.
    """
    r = np.asarray(reflectivity, dtype=np.float64)
    if r.ndim != 2 or np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ValueError("reflectivity must be a finite, non-negative 2-D array")
    if not 0.0 <= correlation < 0.5:
        raise ValueError(f"correlation must be in [0, 0.5), got {correlation}")
    noise = (rng.standard_normal(r.shape) + 1j * rng.standard_normal(r.shape)) / np.sqrt(2.0)
    z = np.sqrt(r) * noise
    if correlation > 0:
        window = np.outer(_spectral_window(r.shape[0], correlation), _spectral_window(r.shape[1], correlation))
        window /= np.sqrt(np.mean(window ** 2))    # unit mean power gain: E|z|^2 kept
        z = np.fft.ifft2(np.fft.fft2(z) * window)
    return z.astype(np.complex64)


def decorrelate(slc: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Whiten an SLC's spectrum along both axes (zero-Doppler centring + division by the estimated window).

    Along each axis: the mean power spectrum over the other axis is smoothed, circularly shifted so that its
    centroid is at zero frequency, and the spectrum divided by its square root where it exceeds ``floor``
    times its peak (bins outside the occupied band are zeroed, they hold no signal). The mean intensity of
    the image is kept.
    """
    z = np.asarray(slc)
    if not np.iscomplexobj(z) or z.ndim != 2:
        raise ValueError("decorrelate needs a 2-D complex SLC")
    spectrum = np.fft.fft2(z.astype(np.complex128))
    power_in = np.mean(np.abs(z) ** 2)
    for axis in (0, 1):
        n = z.shape[axis]
        profile = np.mean(np.abs(spectrum) ** 2, axis=1 - axis)
        kernel = np.ones(max(1, n // 32)) / max(1, n // 32)
        profile = np.convolve(np.concatenate([profile[-len(kernel):], profile, profile[:len(kernel)]]), kernel,
                              "same")[len(kernel):-len(kernel)]
        # circular centroid of the occupied band -> zero frequency
        phase = np.angle(np.sum(profile * np.exp(2j * np.pi * np.arange(n) / n)))
        shift = -int(round(phase * n / (2 * np.pi)))
        spectrum = np.roll(spectrum, shift, axis=axis)
        profile = np.roll(profile, shift)
        gain = np.where(profile > floor * profile.max(), 1.0 / np.sqrt(np.maximum(profile, 1e-30)), 0.0)
        shape = [1, 1]
        shape[axis] = n
        spectrum = spectrum * gain.reshape(shape)
    out = np.fft.ifft2(spectrum)
    out *= np.sqrt(power_in / max(np.mean(np.abs(out) ** 2), 1e-30))
    return out.astype(np.complex64)


def log_normalise(part, constants: LogConstants):
    """MERLIN's network input from one real part a of the SLC: (log(a^2 + 1e-3) - 2m) / (2(M - m)).

    Works on numpy arrays and torch tensors alike.
    """
    lib = _lib(part)
    return (lib.log(part * part + FLOOR) - 2 * constants.m) / (2 * (constants.M - constants.m))


def log_reflectivity(output, constants: LogConstants):
    """log R from the network's normalised output o: 2(o(M - m) + m) (the authors' loss)."""
    return 2 * (output * (constants.M - constants.m) + constants.m)


def reflectivity_from_output(output, constants: LogConstants, clip: bool = True):
    """R = exp(log R); at inference the authors clip o to [0, 1] before denormalising (``clip``)."""
    lib = _lib(output)
    if clip:
        output = lib.clip(output, 0.0, 1.0)
    return lib.exp(log_reflectivity(output, constants))


def constants_from_data(slcs: list[np.ndarray] | np.ndarray, margin: float = 0.5) -> LogConstants:
    """The suite's own (M, m) from training SLCs: the extreme log-amplitudes of their real and imaginary parts.

    The authors' M and m are "global maximum and minimum values obtained empirically" on their training
    data (log-amplitude, with the 1e-3 floor). We take the 0.01 and 99.99 percentiles of 0.5 log(a^2 + 1e-3)
    over both parts, widened by ``margin`` (in log units) so that test images rarely leave [0, 1].
    """
    values = []
    for z in (slcs if isinstance(slcs, list) else [slcs]):
        z = np.asarray(z)
        for part in (z.real, z.imag):
            values.append(0.5 * np.log(part.astype(np.float64).ravel() ** 2 + FLOOR))
    values = np.concatenate(values)
    lo, hi = np.percentile(values, [0.01, 99.99])
    return LogConstants(M=float(hi + margin), m=float(lo - margin))


def _lib(x):
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np
    import torch
    return torch
