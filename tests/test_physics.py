import numpy as np
import pytest

from restorebench.metrics.audio import snr_db
from restorebench.physics.audio import add_gaussian_noise, add_noise_at_snr, gap_frame_mask, mix_sources


def test_gaussian_noise_level():
    clean = np.zeros(200_000, dtype=np.float32)
    noisy = add_gaussian_noise(clean, 0.1, np.random.default_rng(0))
    assert np.std(noisy) == pytest.approx(0.1, rel=0.01)


@pytest.mark.parametrize("target", [5.0, 6.37, 9.0])
def test_environmental_noise_hits_target_snr(target):
    rng = np.random.default_rng(1)
    clean = rng.standard_normal(8000).astype(np.float32)
    noise = rng.standard_normal(8000).astype(np.float32) * 3
    assert snr_db(clean, add_noise_at_snr(clean, noise, target)) == pytest.approx(target, abs=1e-4)


def test_gap_mask_durations():
    hop, rate = 128, 16000
    for seed in range(20):
        mask = gap_frame_mask(250, hop, rate, 2, 0.1, 0.25, np.random.default_rng(seed))
        edges = np.diff(np.concatenate([[1], mask, [1]]))
        starts, ends = np.where(edges == -1)[0], np.where(edges == 1)[0]
        assert len(starts) == 2
        seconds = (ends - starts) * hop / rate
        # widths are rounded to whole frames (8 ms here)
        assert np.all(seconds >= 0.1 - hop / rate / 2) and np.all(seconds <= 0.25 + hop / rate / 2)
        assert mask[0] == 1 and mask[-1] == 1


def test_gap_mask_impossible_request_is_a_clear_error():
    with pytest.raises(ValueError, match="n_gaps"):
        gap_frame_mask(20, 128, 16000, 5, 0.1, 0.25, np.random.default_rng(0))


def test_mixture_is_sum_of_equal_energy_sources():
    rng = np.random.default_rng(2)
    sources = np.stack([rng.standard_normal(1000), 5 * rng.standard_normal(1000)])
    mixture, scaled = mix_sources(sources, 0.9)
    assert np.allclose(mixture, scaled.sum(axis=0), atol=1e-6)
    assert np.max(np.abs(mixture)) == pytest.approx(0.9, abs=1e-6)
    assert np.sum(scaled[0] ** 2) == pytest.approx(np.sum(scaled[1] ** 2), rel=1e-5)
