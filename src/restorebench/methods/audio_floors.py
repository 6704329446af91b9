"""Classical floors of the deep-audio-prior study (S2, SPEC "Classical floors"): what any prior worth a claim
must beat on its task, with nothing learned and nothing tuned on the test clips.

* :func:`wiener_denoise` (denoising): a short-time spectral Wiener gain, max(1 - N / |Y|^2, 0) per STFT
  bin (power spectral subtraction with alpha = 1), with a blind white-noise level sigma read off the
  observation by the median absolute deviation of its first differences (for white noise of variance
  sigma^2 a difference has variance 2 sigma^2, while the audio in a first difference is small: music and
  speech are low-pass). Environmental noise is not white: the floor does not know that, as a user of it
  would not.
* :func:`ar_interpolate` (inpainting): each gap filled by autoregressive extrapolation from both sides
  (Yule-Walker fits on the samples before and after the gap, the two extrapolations cross-faded with a
  raised cosine; the weighted forward-backward predictor of Etter 1996).
* :func:`hpss_separate` (separation of piano and drums): a harmonic-percussive split by median filtering
  of the magnitude spectrogram along time and along frequency with soft (Wiener) masks (Fitzgerald,
  DAFx 2010).

Written on scipy (signal.ShortTimeFFT, linalg.solve_toeplitz, ndimage.median_filter) rather than librosa,
which would add numba for three short functions. The STFT is fixed (512-sample Hann windows, hop 128 at
16 kHz, 32 ms) for every clip: "untuned" means no constant is chosen on the data.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.ndimage
import scipy.signal

WINDOW, HOP = 512, 128          # samples at 16 kHz: 32 ms frames, 75 % overlap (a tight Hann frame)
AR_ORDER = 32                   # Yule-Walker order of the inpainting floor (2 ms at 16 kHz)
HPSS_KERNEL = 17                # median filter length, frames (harmonic) and bins (percussive)


def _stft(n: int) -> scipy.signal.ShortTimeFFT:
    window = scipy.signal.windows.hann(min(WINDOW, n), sym=False)
    return scipy.signal.ShortTimeFFT(window, hop=max(1, window.size // 4), fs=16000, scale_to=None)


def blind_noise_std(y: np.ndarray) -> float:
    """sigma of white noise in ``y`` from the median absolute deviation of its first differences:
    1.4826 * MAD(diff y) / sqrt(2)."""
    d = np.diff(np.asarray(y, dtype=np.float64))
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def wiener_denoise(y: np.ndarray) -> np.ndarray:
    """The denoising floor (module docstring): spectral Wiener gain with a blind white-noise level."""
    y = np.asarray(y, dtype=np.float64)
    stft = _stft(y.size)
    spec = stft.stft(y)
    # white noise of variance sigma^2 gives E|Y|^2 = sigma^2 * sum(w^2) in every bin of an unscaled STFT
    noise_power = blind_noise_std(y) ** 2 * np.sum(stft.win ** 2)
    gain = np.maximum(1.0 - noise_power / np.maximum(np.abs(spec) ** 2, 1e-20), 0.0)
    return stft.istft(gain * spec, k1=y.size).astype(np.float32)


def _ar_coefficients(x: np.ndarray, order: int) -> np.ndarray:
    """Yule-Walker AR coefficients a (x_t ~ sum_k a_k x_{t-k}) of a segment (biased autocorrelation)."""
    x = x - x.mean()
    r = np.correlate(x, x, "full")[x.size - 1: x.size + order] / x.size
    if r[0] <= 0:
        return np.zeros(order)
    r = r.copy()
    r[0] *= 1.0 + 1e-9                         # a touch of diagonal loading keeps the system well posed
    return scipy.linalg.solve_toeplitz(r[:order], r[1:order + 1])


def _extrapolate(context: np.ndarray, length: int, order: int) -> np.ndarray:
    """``length`` samples predicted forward from the end of ``context`` by its own AR model."""
    order = min(order, max(1, context.size // 4))
    a = _ar_coefficients(context, order)
    history = list(context[-order:])
    out = np.empty(length)
    for t in range(length):
        out[t] = np.dot(a, history[::-1][:order])
        history.append(out[t])
    return out


def gap_runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def ar_interpolate(y: np.ndarray, missing: np.ndarray, order: int = AR_ORDER) -> np.ndarray:
    """The inpainting floor (module docstring): every run of ``missing`` samples replaced by the raised-
    cosine cross-fade of the AR extrapolation forward from the left context and backward from the right one
    (each context up to 8 gap lengths, at least 4 model orders); a gap at an edge uses its one side."""
    x = np.asarray(y, dtype=np.float64).copy()
    for start, stop in gap_runs(np.asarray(missing, dtype=bool)):
        length = stop - start
        span = max(8 * length, 4 * order)
        left, right = x[max(0, start - span): start], x[stop: stop + span]
        forward = _extrapolate(left, length, order) if left.size > 8 else None
        backward = _extrapolate(right[::-1], length, order)[::-1] if right.size > 8 else None
        if forward is None and backward is None:
            continue
        if forward is None or backward is None:
            x[start:stop] = forward if backward is None else backward
            continue
        fade = 0.5 * (1 + np.cos(np.pi * (np.arange(length) + 0.5) / length))      # 1 -> 0
        x[start:stop] = fade * forward + (1 - fade) * backward
    return x.astype(np.float32)


def hpss_separate(mixture: np.ndarray, kernel: int = HPSS_KERNEL) -> np.ndarray:
    """The separation floor (module docstring): (harmonic, percussive) waveforms of ``mixture``, shape
    (2, samples): soft masks H^2 / (H^2 + P^2) from the magnitude median-filtered along time (H) and along
    frequency (P)."""
    y = np.asarray(mixture, dtype=np.float64)
    stft = _stft(y.size)
    spec = stft.stft(y)
    magnitude = np.abs(spec)
    harmonic = scipy.ndimage.median_filter(magnitude, size=(1, kernel), mode="reflect")
    percussive = scipy.ndimage.median_filter(magnitude, size=(kernel, 1), mode="reflect")
    total = np.maximum(harmonic ** 2 + percussive ** 2, 1e-20)
    parts = [stft.istft(spec * (part ** 2 / total), k1=y.size) for part in (harmonic, percussive)]
    return np.stack(parts).astype(np.float32)
