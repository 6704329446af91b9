import numpy as np
import pytest

from restorebench.data.scenes import make_scene
from restorebench.dsp import STFTConfig
from restorebench.physics.rfi import (RFISource, add_rfi, bandwidth_scale, draw_sources, realised_sir_db,
                                      rfi_label, source_waveform)
from restorebench.physics.sar import MINISAR_LIKE, SENTINEL1_LIKE, simulate_echoes


def occupied_bandwidth(x, sampling_hz, fraction=0.98):
    """Width of the smallest centred-on-the-power band holding ``fraction`` of the power (independent FFT)."""
    power = np.abs(np.fft.fftshift(np.fft.fft(x))) ** 2
    freqs = np.fft.fftshift(np.fft.fftfreq(x.size, 1 / sampling_hz))
    cumulative = np.cumsum(power) / power.sum()
    lo = freqs[np.searchsorted(cumulative, (1 - fraction) / 2)]
    hi = freqs[np.searchsorted(cumulative, 1 - (1 - fraction) / 2)]
    return hi - lo


@pytest.mark.parametrize("kind,bandwidth", [("narrowband", 20e6), ("chirp", 100e6), ("sinusoidal", 120e6)])
def test_each_kind_realises_its_bandwidth(kind, bandwidth):
    rng = np.random.default_rng(0)
    extra = {"beta": 6.0, "f_m": bandwidth / 14.0, "phi": 0.3} if kind == "sinusoidal" else {}
    src = RFISource(kind, carrier_hz=50e6, bandwidth_hz=bandwidth, amplitude=1.0, lines=(0, 1), extra=extra)
    wave = source_waveform(src, 8192, MINISAR_LIKE.sampling_hz, rng)
    assert occupied_bandwidth(wave, MINISAR_LIKE.sampling_hz) == pytest.approx(bandwidth, rel=0.15)
    centre = np.sum(np.fft.fftfreq(8192, 1 / MINISAR_LIKE.sampling_hz) * np.abs(np.fft.fft(wave)) ** 2) \
        / np.sum(np.abs(np.fft.fft(wave)) ** 2)
    assert centre == pytest.approx(50e6, abs=0.1 * bandwidth)


@pytest.mark.parametrize("kind", ["narrowband", "chirp", "sinusoidal"])
def test_drawn_sources_follow_table_3(kind):
    rng = np.random.default_rng(1)
    for _ in range(20):
        sources = draw_sources(kind, MINISAR_LIKE, 512, rng)
        if kind == "narrowband":
            assert len(sources) == 2 and all(s.bandwidth_hz < 30e6 for s in sources)
        else:
            assert 3 <= len(sources) <= 5 and all(30e6 <= s.bandwidth_hz <= 150e6 for s in sources)
        for s in sources:
            assert abs(s.carrier_hz) + s.bandwidth_hz / 2 <= MINISAR_LIKE.bandwidth_hz / 2 + 1
            assert 0 <= s.lines[0] < s.lines[1] <= 512
    # the 100 MHz sensor sees scaled bandwidths (rule documented in physics.rfi)
    assert bandwidth_scale(SENTINEL1_LIKE) == pytest.approx(100 / 150)
    narrow = draw_sources("chirp", SENTINEL1_LIKE, 512, rng)
    assert all(20e6 <= s.bandwidth_hz <= 100e6 for s in narrow)


@pytest.mark.parametrize("sir", [-15.0, -7.3, 0.0])
def test_rfi_hits_the_requested_sir(sir):
    scene = make_scene((128, 256), MINISAR_LIKE, seed=3)
    echoes = simulate_echoes(scene.reflectivity, MINISAR_LIKE)
    interference = add_rfi(echoes, MINISAR_LIKE, "chirp", sir, np.random.default_rng(4))
    assert realised_sir_db(echoes, interference) == pytest.approx(sir, abs=1e-3)
    assert 0 < interference.lines.sum() < 128
    assert not np.any(interference.rfi[~interference.lines])


def test_label_marks_where_rfi_dominates():
    cfg = STFTConfig(32, 4, two_sided=True)
    rng = np.random.default_rng(5)
    echoes = 0.1 * (rng.standard_normal((2, 256)) + 1j * rng.standard_normal((2, 256)))
    rfi = np.zeros_like(echoes)
    rfi[0] = np.exp(2j * np.pi * 4 / 32 * np.arange(256))     # strong tone in bin 4 on line 0
    label = rfi_label(echoes, rfi, cfg)
    assert label.shape == (2, 32, 65)
    assert label[0, 4].mean() == 1.0          # the tone's bin, every frame
    assert label[0, 16].mean() < 0.1          # far from the tone the echo dominates
    assert label[1].sum() == 0                # no RFI on line 1


def test_scene_is_deterministic_with_bright_recorded_scatterers():
    a = make_scene((128, 128), MINISAR_LIKE, seed=7)
    b = make_scene((128, 128), MINISAR_LIKE, seed=7)
    assert np.array_equal(a.reflectivity, b.reflectivity)
    power = np.abs(a.reflectivity) ** 2
    for az, rg in a.scatterers:
        assert power[az, rg] > 30 * a.clutter_mean       # >= ~15 dB above clutter after band-limiting
    assert not np.array_equal(make_scene((128, 128), MINISAR_LIKE, seed=8).reflectivity, a.reflectivity)


def test_bad_rfi_arguments():
    echoes = np.ones((8, 64), dtype=np.complex64)
    with pytest.raises(ValueError, match="unknown RFI kind"):
        add_rfi(echoes, MINISAR_LIKE, "pulsed", -5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="outside"):
        add_rfi(echoes, MINISAR_LIKE, "chirp", -60, np.random.default_rng(0))
