import numpy as np
import pytest

from restorebench.physics.sar import (C, MINISAR_LIKE, SENTINEL1_LIKE, band_limit, focus, get_sensor,
                                      impulse_response_metrics, simulate_echoes)

SENSORS = [MINISAR_LIKE, SENTINEL1_LIKE]


def point_target_echoes(sensor, shape, az0, rg0):
    """Independent time-domain simulation of one point target's raw echo (not the focusing chain's inverse).

    Line k sees the target at range R(eta) = sqrt(R0^2 + V^2 eta^2), eta = (k - az0) / PRF: a chirp
    delayed by 2 (R(eta) - R_ref) / c, times exp(-j 4 pi R(eta) / lambda), for Doppler frequencies inside
    the processed bandwidth. Range samples are delays modulo the grid (the chain's circular convention).
    """
    n_az, n_rg = shape
    r0 = sensor.slant_range_m + rg0 * C / (2 * sensor.sampling_hz)
    eta = (np.arange(n_az) - az0) / sensor.prf_hz
    r = np.sqrt(r0 ** 2 + (sensor.velocity_m_s * eta) ** 2)
    doppler = -2 * sensor.velocity_m_s ** 2 * eta / (sensor.wavelength_m * r0)
    lines = np.abs(doppler) <= sensor.doppler_fraction * sensor.prf_hz / 2
    tau = np.arange(n_rg) / sensor.sampling_hz
    delay = 2 * (r - sensor.slant_range_m) / C
    period = n_rg / sensor.sampling_hz
    t = (tau[None, :] - delay[:, None] + period / 2) % period - period / 2
    chirp = (np.abs(t) <= sensor.pulse_s / 2) * np.exp(1j * np.pi * sensor.chirp_rate * t ** 2)
    return (chirp * np.exp(-4j * np.pi * r / sensor.wavelength_m)[:, None] * lines[:, None]).astype(np.complex64)


@pytest.mark.parametrize("sensor", SENSORS, ids=lambda s: s.name)
def test_isolated_point_focuses_to_a_sinc(sensor):
    echoes = point_target_echoes(sensor, (512, 512), az0=256, rg0=200)
    image = np.abs(focus(echoes, sensor))
    az, rg = np.unravel_index(np.argmax(image), image.shape)
    assert abs(az - 256) <= 1 and abs(rg - 200) <= 1
    rng_profile = focus(echoes, sensor)[az]
    m = impulse_response_metrics(rng_profile, sensor.range_pixel_m)
    assert m["pslr_db"] == pytest.approx(-13.26, abs=0.5)
    assert m["width"] == pytest.approx(0.886 * C / (2 * sensor.bandwidth_hz), rel=0.10)
    # focused energy is concentrated: the 3x3 neighbourhood of the peak holds most of it
    peak_energy = (image[az - 1:az + 2, rg - 1:rg + 2] ** 2).sum()
    assert peak_energy > 0.6 * (image ** 2).sum()


@pytest.mark.parametrize("sensor", SENSORS, ids=lambda s: s.name)
def test_focusing_inverts_simulation(sensor):
    rng = np.random.default_rng(0)
    scene = band_limit((rng.standard_normal((256, 384)) + 1j * rng.standard_normal((256, 384))), sensor)
    echoes = simulate_echoes(scene, sensor)
    restored = focus(echoes, sensor)
    rel = np.linalg.norm(restored - scene) / np.linalg.norm(scene)
    assert rel < 1e-5
    # echoes are spread out: raw data does not look like the scene
    assert np.linalg.norm(echoes - scene) / np.linalg.norm(scene) > 0.5


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="NaN"):
        focus(np.full((4, 4), np.nan, dtype=np.complex64), MINISAR_LIKE)
    with pytest.raises(ValueError, match="2-D"):
        simulate_echoes(np.zeros(16, dtype=np.complex64), MINISAR_LIKE)
    with pytest.raises(ValueError, match="unknown sensor"):
        get_sensor("ers")
