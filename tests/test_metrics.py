import numpy as np
import pytest

from restorebench.metrics.audio import (MetricError, envelope_distance, peak_psnr_db, pesq_score,
                                        separation_scores, snr_db, spectral_snr_db)

RNG = np.random.default_rng(0)


def test_snr_known_value():
    x = RNG.standard_normal(16000)
    e = RNG.standard_normal(16000)
    e *= np.sqrt(np.sum(x ** 2) / np.sum(e ** 2)) / 10.0   # error energy = signal energy / 100
    assert snr_db(x, x + e) == pytest.approx(20.0, abs=1e-9)
    assert snr_db(x, x) == float("inf")
    # a scaled estimate 0.5x leaves error 0.5x: 10 log10(1/0.25) = 6.0206 dB
    assert snr_db(x, 0.5 * x) == pytest.approx(10 * np.log10(4.0), abs=1e-9)


def test_peak_psnr_known_value():
    x = np.zeros(1000)
    x[10] = 0.9
    y = x + 0.01
    assert peak_psnr_db(x, y) == pytest.approx(10 * np.log10(0.81 / 1e-4), abs=1e-9)


def test_spectral_snr_against_independent_framing():
    x = RNG.standard_normal(4096)
    y = x + 0.3 * RNG.standard_normal(4096)
    # independent: reflect-pad by n_fft/2, periodic Hann, rfft of every hop-th frame
    def mags(s):
        p = np.pad(s, 128, mode="reflect")
        w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(256) / 256)
        return np.abs(np.stack([np.fft.rfft(p[i:i + 256] * w) for i in range(0, s.size + 1, 128)], axis=1))
    S, Sh = mags(x), mags(y)
    expected = 10 * np.log10(np.sum(S ** 2) / np.sum((S - Sh) ** 2))
    assert spectral_snr_db(x, y) == pytest.approx(expected, abs=1e-9)
    # magnitudes only: a sign flip does not change the spectral SNR
    assert spectral_snr_db(x, -x) == float("inf")


def test_envelope_distance_of_a_scaled_tone():
    t = np.arange(16000) / 16000
    x = np.sin(2 * np.pi * 440 * t)             # envelope 1 everywhere (integer cycles)
    assert envelope_distance(x, 0.5 * x) == pytest.approx(0.5, abs=1e-6)
    assert envelope_distance(x, x) == pytest.approx(0.0, abs=1e-12)


def test_metric_errors():
    with pytest.raises(MetricError, match="NaN"):
        snr_db(np.array([1.0, np.nan]), np.array([1.0, 1.0]))
    with pytest.raises(MetricError, match="samples"):
        snr_db(np.ones(3), np.ones(4))
    with pytest.raises(MetricError, match="silent"):
        snr_db(np.zeros(10), np.ones(10))


def _speechlike(seconds=1.0):
    t = np.arange(int(16000 * seconds)) / 16000
    f0 = 120 + 20 * np.sin(2 * np.pi * 3 * t)
    x = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 16000) / k for k in range(1, 20))
    return (0.5 * x * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) / np.max(np.abs(x))).astype(np.float64)


def test_pesq_identical_is_maximal_and_noise_lowers_it():
    x = _speechlike()
    clean = pesq_score(x, x, "wb")
    assert clean > 4.5                                     # P.862.2 maximum is 4.64
    noisy = pesq_score(x, x + 0.1 * RNG.standard_normal(x.size), "wb")
    assert noisy < clean - 1.0
    assert pesq_score(x, x, "nb") > 4.4


def test_pesq_no_utterance_is_a_clear_error():
    with pytest.raises(MetricError, match="no utterance"):
        pesq_score(np.zeros(16000), 0.1 * RNG.standard_normal(16000), "wb")


def test_separation_scores_agree_with_fast_bss_eval():
    import fast_bss_eval

    refs = RNG.standard_normal((2, 8000))
    ests = np.stack([refs[1] + 0.3 * RNG.standard_normal(8000), refs[0] + 0.2 * refs[1]
                     + 0.1 * RNG.standard_normal(8000)])
    ours = separation_scores(refs, ests)
    assert list(ours["perm"]) == [1, 0]
    sdr, sir, _sar, perm = fast_bss_eval.bss_eval_sources(refs, ests, compute_permutation=True)
    matched_sdr = np.asarray(sdr)
    assert np.allclose(ours["sdr"], matched_sdr, atol=0.05)
    assert np.allclose(ours["sir"], np.asarray(sir), atol=0.05)


def test_collapsed_separation_is_scored_as_a_failure_not_an_error():
    refs = RNG.standard_normal((2, 8000))
    ests = np.stack([refs.sum(axis=0), np.zeros(8000)])      # mask collapsed: everything in source 1
    scores = separation_scores(refs, ests)
    assert scores["silent_estimates"] == 1
    # BSS Eval is scale-invariant: a noise estimate keeps only its projection on the 512-tap reference
    # subspace, about 10 log10(512 / 8000) = -11.9 dB
    assert np.min(scores["sdr"]) < -10
    assert np.max(scores["sdr"]) < 3
