"""Audio metrics of the deep-audio-priors study (S2), each a function of numpy arrays.

Definitions (SPEC S2, "Metrics"):

* :func:`snr_db` -- what the paper prints as "PSNR": the authors' code computes 10 log10(sum x^2 / sum
  (x - x_hat)^2), a plain SNR. Reported under the paper's name with a footnote.
* :func:`peak_psnr_db` -- peak-based PSNR 10 log10(max(x^2) / MSE), an extra labelled column.
* :func:`spectral_snr_db` -- 10 log10(sum |S|^2 / sum (|S| - |S_hat|)^2) on STFT magnitudes (n_fft 256,
  hop 128).
* :func:`envelope_distance` -- sqrt(mean((|H(x)| - |H(x_hat)|)^2)), H the analytic signal.
* :func:`pesq_score` -- ITU-T P.862.2 wide band (headline) or P.862 narrow band, via the ``pesq`` package.
* :func:`separation_scores` -- SDR and SIR from ``mir_eval.separation.bss_eval_sources`` with the best
  source permutation.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.signal

from ..dsp import STFTConfig, stft_np

SAMPLE_RATE = 16000
SPECTRAL_SNR_STFT = STFTConfig(n_fft=256, hop=128)


class MetricError(ValueError):
    """A metric cannot be computed for this input (silent clip, NaN, PESQ found no utterance)."""


def _pair(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(reference, dtype=np.float64).ravel()
    y = np.asarray(estimate, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise MetricError(f"reference has {x.size} samples, estimate {y.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise MetricError("signal contains NaN or Inf")
    return x, y


def _ratio_db(num: float, den: float) -> float:
    if den == 0.0:
        return float("inf")
    if num == 0.0:
        raise MetricError("reference is silent")
    return float(10.0 * np.log10(num / den))


def snr_db(reference, estimate) -> float:
    """10 log10(sum x^2 / sum (x - x_hat)^2): the paper's "PSNR" (authors' compute_SNR)."""
    x, y = _pair(reference, estimate)
    return _ratio_db(np.sum(x ** 2), np.sum((x - y) ** 2))


def peak_psnr_db(reference, estimate) -> float:
    """Peak-based PSNR 10 log10(max(x^2) / mean((x - x_hat)^2))."""
    x, y = _pair(reference, estimate)
    return _ratio_db(np.max(x ** 2), np.mean((x - y) ** 2))


def spectral_snr_db(reference, estimate, cfg: STFTConfig = SPECTRAL_SNR_STFT) -> float:
    """Spectral SNR on STFT magnitudes (Spiertz & Gnann 2009), n_fft 256, hop 128, Hann window."""
    x, y = _pair(reference, estimate)
    s, s_hat = np.abs(stft_np(x, cfg)), np.abs(stft_np(y, cfg))
    return _ratio_db(np.sum(s ** 2), np.sum((s - s_hat) ** 2))


def envelope_distance(reference, estimate) -> float:
    """RMS distance between the Hilbert envelopes (Morgado et al. 2018)."""
    x, y = _pair(reference, estimate)
    ex, ey = np.abs(scipy.signal.hilbert(x)), np.abs(scipy.signal.hilbert(y))
    return float(np.sqrt(np.mean((ex - ey) ** 2)))


def pesq_score(reference, estimate, mode: str = "wb", sample_rate: int = SAMPLE_RATE) -> float:
    """PESQ (wb: P.862.2, nb: P.862) at 16 kHz. Raises MetricError when PESQ finds no utterance."""
    from pesq import pesq, NoUtterancesError, PesqError

    x, y = _pair(reference, estimate)
    try:
        return float(pesq(sample_rate, x.astype(np.float32), y.astype(np.float32), mode))
    except NoUtterancesError as err:
        raise MetricError("PESQ found no utterance in the reference (silent or too short clip)") from err
    except PesqError as err:
        raise MetricError(f"PESQ failed: {err}") from err


def separation_scores(references, estimates) -> dict[str, np.ndarray]:
    """SDR, SIR (dB) per reference source and the permutation that maximises mean SIR (BSS Eval v3).

    ``references`` and ``estimates`` are (n_sources, n_samples); returned arrays follow the references'
    order, ``perm[j]`` being the estimate matched to reference j.
    """
    import mir_eval.separation

    refs = np.asarray(references, dtype=np.float64)
    ests = np.array(estimates, dtype=np.float64)
    if not (np.all(np.isfinite(refs)) and np.all(np.isfinite(ests))):
        raise MetricError("signal contains NaN or Inf")
    # A separation that collapsed (one estimate all zeros) is a failure to score, not an error: BSS Eval
    # is undefined for a silent estimate, so it gets white noise 120 dB below the references' RMS, which
    # scores it as (very) badly as it deserves.
    silent = np.max(np.abs(ests), axis=1) <= 1e-12 * max(np.max(np.abs(refs)), 1e-30)
    if np.any(silent):
        level = 1e-6 * np.sqrt(np.mean(refs ** 2))
        ests[silent] = level * np.random.default_rng(0).standard_normal((int(silent.sum()), ests.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # mir_eval 0.8 deprecates separation
        warnings.simplefilter("ignore", DeprecationWarning)
        sdr, sir, _sar, perm = mir_eval.separation.bss_eval_sources(refs, ests, compute_permutation=True)
    return {"sdr": sdr, "sir": sir, "perm": perm, "silent_estimates": int(silent.sum())}


def audio_quality(reference, estimate, speech: bool) -> dict[str, float]:
    """Every single-source S2 metric of one (reference, estimate) pair; PESQ only for speech."""
    scores = {
        "snr": snr_db(reference, estimate),
        "psnr_peak": peak_psnr_db(reference, estimate),
        "spectral_snr": spectral_snr_db(reference, estimate),
        "envelope_distance": envelope_distance(reference, estimate),
    }
    if speech:
        scores["pesq_wb"] = pesq_score(reference, estimate, "wb")
        scores["pesq_nb"] = pesq_score(reference, estimate, "nb")
    return scores
