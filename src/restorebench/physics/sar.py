"""SAR sensors and a range-Doppler focusing chain with its exact inverse (S1, DIFNet study).

Raw echoes ``echo[azimuth line, range sample]`` are focused by the classic range-Doppler algorithm
(Cumming & Wong, *Digital Processing of SAR Data*, ch. 6):

1. range compression: range FFT, multiply by the range matched filter exp(+j pi f_tau^2 / K_r);
2. azimuth FFT (to the range-Doppler domain);
3. range cell migration correction: shift every Doppler bin by dR(f_eta) = R_ref (1/D(f_eta) - 1),
   D = sqrt(1 - lambda^2 f_eta^2 / (4 V^2)), applied as the phase exp(+j 4 pi f_tau dR / c) in range
   frequency;
4. azimuth compression: multiply by exp(-j pi f_eta^2 / K_a), K_a = 2 V^2 / (lambda R_ref), inverse FFTs
   (a target's azimuth phase exp(-j 4 pi R(eta) / lambda) ~ exp(-j pi K_a eta^2) has the spectrum
   exp(+j pi f_eta^2 / K_a)).

Every step is a unit-modulus phase in the 2-D frequency domain, evaluated at the sensor's reference slant
range (range-invariant RCMC and azimuth filter: ours, the swath of a 512-sample scene is short), so the
chain is unitary and :func:`simulate_echoes` -- the same phases conjugated, in reverse order -- is its exact
inverse: ``focus(simulate_echoes(scene)) == scene`` to float precision. The echoes are what a sensor with
this bandwidth records: :func:`simulate_echoes` first limits the scene to the range bandwidth B and to the
processed Doppler bandwidth, so an isolated point focuses to a 2-D sinc (PSLR -13.26 dB, 3-dB range width
0.886 c / (2B)). Convolutions are circular on the scene's grid (ours: no zero padding, which keeps the
chain exactly invertible; scenes are generated periodic-safe by leaving a margin).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.fft

C = 299_792_458.0


@dataclass(frozen=True)
class Sensor:
    """A SAR sensor's parameters (SPEC S1, paper Table 2; values not in the paper are ours)."""

    name: str
    carrier_hz: float
    bandwidth_hz: float
    pulse_s: float
    sampling_hz: float
    prf_hz: float
    velocity_m_s: float
    slant_range_m: float
    look_angle_deg: float
    polarisation: str
    doppler_fraction: float = 0.8   # processed Doppler bandwidth as a fraction of the PRF

    @property
    def wavelength_m(self) -> float:
        return C / self.carrier_hz

    @property
    def chirp_rate(self) -> float:
        """Range chirp rate K_r = B / T_p (Hz/s)."""
        return self.bandwidth_hz / self.pulse_s

    @property
    def azimuth_fm_rate(self) -> float:
        """Azimuth FM rate K_a = 2 V^2 / (lambda R_ref) (Hz/s)."""
        return 2.0 * self.velocity_m_s ** 2 / (self.wavelength_m * self.slant_range_m)

    @property
    def range_resolution_m(self) -> float:
        """3-dB slant-range resolution of the unweighted chirp, 0.886 c / (2 B)."""
        return 0.886 * C / (2.0 * self.bandwidth_hz)

    @property
    def range_pixel_m(self) -> float:
        return C / (2.0 * self.sampling_hz)

    @property
    def azimuth_pixel_m(self) -> float:
        """Along-track spacing of the azimuth lines, V / PRF."""
        return self.velocity_m_s / self.prf_hz

    @property
    def doppler_bandwidth_hz(self) -> float:
        """Processed Doppler bandwidth: ``doppler_fraction`` of the PRF."""
        return self.doppler_fraction * self.prf_hz

    @property
    def azimuth_resolution_m(self) -> float:
        """3-dB azimuth resolution of the unweighted processed aperture, 0.886 V / B_doppler."""
        return 0.886 * self.velocity_m_s / self.doppler_bandwidth_hz

    @property
    def pulse_samples(self) -> float:
        """Length of the range chirp in range samples, T_p f_s."""
        return self.pulse_s * self.sampling_hz

    @property
    def aperture_lines(self) -> float:
        """Length of the azimuth chirp of the processed Doppler band in azimuth lines, B_doppler PRF / K_a."""
        return self.doppler_bandwidth_hz * self.prf_hz / self.azimuth_fm_rate


# The two sensors differ as an airborne MiniSAR-class and a spaceborne Sentinel-1-class sensor do: sampling
# ratio f_s / B (1.2 vs 1.5), pulse length in samples (270 vs 450) and chirp slope in a pulse's
# time-frequency picture (B / f_s over the pulse: 1 / 324 vs 1 / 675 of the band per sample, 2.1x), PRF /
# Doppler bandwidth (2.0 vs 1.18) and resolution (0.09 x 0.74 m vs 1.3 x 23 m, range x azimuth). Carrier,
# bandwidth, platform speed and slant range are the real ones (the paper's Table 2 for bandwidths and bands).
# Scaled down so that a range chirp and an azimuth chirp fit a 128 x 1024 scene: the pulse duration (0.15 and
# 3 us instead of several and ~50 us), hence time-bandwidth products of 225 and 300 where real ones reach
# thousands, and the PRF (hence the synthetic aperture: 27 and 40 lines). A scene stands for a crop of a real
# sensor's echoes. With a 32-sample STFT window a strong scatterer's chirp is a sloping line a few bins wide.

#: Airborne X-band sensor with the paper's MiniSAR bandwidth (1.5 GHz, HH), 50 m/s at 600 m slant range.
MINISAR_LIKE = Sensor("minisar-like", carrier_hz=9.6e9, bandwidth_hz=1.5e9, pulse_s=0.15e-6,
                      sampling_hz=1.8e9, prf_hz=120.0, velocity_m_s=50.0, slant_range_m=600.0,
                      look_angle_deg=35.0, polarisation="HH", doppler_fraction=0.5)
#: Spaceborne C-band sensor with Sentinel-1's 5.405 GHz carrier, 7.6 km/s and 850 km slant range, and the
#: paper's 100 MHz bandwidth (VV).
SENTINEL1_LIKE = Sensor("sentinel1-like", carrier_hz=5.405e9, bandwidth_hz=100e6, pulse_s=3e-6,
                        sampling_hz=150e6, prf_hz=340.0, velocity_m_s=7_600.0, slant_range_m=850_000.0,
                        look_angle_deg=33.0, polarisation="VV", doppler_fraction=0.85)
SENSORS = {s.name: s for s in (MINISAR_LIKE, SENTINEL1_LIKE)}


def get_sensor(name: str) -> Sensor:
    try:
        return SENSORS[name]
    except KeyError:
        raise ValueError(f"unknown sensor {name!r}; choose one of {', '.join(SENSORS)}") from None


def _frequencies(shape: tuple[int, int], sensor: Sensor) -> tuple[np.ndarray, np.ndarray]:
    n_az, n_rg = shape
    f_tau = scipy.fft.fftfreq(n_rg, 1.0 / sensor.sampling_hz)[None, :]
    f_eta = scipy.fft.fftfreq(n_az, 1.0 / sensor.prf_hz)[:, None]
    return f_tau, f_eta


@functools.lru_cache(maxsize=4)
def focusing_phase(shape: tuple[int, int], sensor: Sensor) -> np.ndarray:
    """exp(j phi(f_tau, f_eta)): range matched filter x RCMC x azimuth matched filter (complex64).

    Cached per (shape, sensor): building it (a complex exponential per pixel) costs more than the FFTs,
    and a study focuses many scenes of one shape. The returned array is read-only.
    """
    f_tau, f_eta = _frequencies(shape, sensor)
    lam, v = sensor.wavelength_m, sensor.velocity_m_s
    migration_factor = np.sqrt(np.maximum(1.0 - (lam * f_eta) ** 2 / (4.0 * v ** 2), 1e-12))
    delta_r = sensor.slant_range_m * (1.0 / migration_factor - 1.0)
    phase = (np.pi * f_tau ** 2 / sensor.chirp_rate
             + 4.0 * np.pi * f_tau * delta_r / C
             - np.pi * f_eta ** 2 / sensor.azimuth_fm_rate)
    filt = np.exp(1j * phase.astype(np.float32)).astype(np.complex64)
    filt.setflags(write=False)
    return filt


@functools.lru_cache(maxsize=4)
def simulation_filter(shape: tuple[int, int], sensor: Sensor) -> np.ndarray:
    """band_mask x conj(focusing_phase): the inverse chain as one cached, read-only complex64 array."""
    filt = (band_mask(shape, sensor) * np.conj(focusing_phase(shape, sensor))).astype(np.complex64)
    filt.setflags(write=False)
    return filt


def band_mask(shape: tuple[int, int], sensor: Sensor) -> np.ndarray:
    """1 inside the range bandwidth and the processed Doppler bandwidth, else 0 (2-D frequency domain)."""
    f_tau, f_eta = _frequencies(shape, sensor)
    inside = (np.abs(f_tau) <= sensor.bandwidth_hz / 2) & (np.abs(f_eta) <= sensor.doppler_fraction * sensor.prf_hz / 2)
    return inside.astype(np.float32)


def _check(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D complex array (azimuth lines x range samples), got shape "
                         f"{array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or Inf")
    return array.astype(np.complex64, copy=False)


def focus(echoes: np.ndarray, sensor: Sensor, workers: int = -1) -> np.ndarray:
    """Range-Doppler focusing of raw echoes (azimuth x range) -> complex image (see module docstring)."""
    echoes = _check(echoes, "echoes")
    spectrum = scipy.fft.fft2(echoes, workers=workers)
    spectrum *= focusing_phase(echoes.shape, sensor)
    return scipy.fft.ifft2(spectrum, workers=workers).astype(np.complex64, copy=False)


def simulate_echoes(scene: np.ndarray, sensor: Sensor, workers: int = -1) -> np.ndarray:
    """Raw echoes of a complex reflectivity scene: band-limit, then the focusing chain's inverse."""
    scene = _check(scene, "scene")
    spectrum = scipy.fft.fft2(scene, workers=workers)
    spectrum *= simulation_filter(scene.shape, sensor)
    return scipy.fft.ifft2(spectrum, workers=workers).astype(np.complex64, copy=False)


def band_limit(scene: np.ndarray, sensor: Sensor, workers: int = -1) -> np.ndarray:
    """The scene as this sensor can image it: its 2-D spectrum restricted to :func:`band_mask`."""
    scene = _check(scene, "scene")
    spectrum = scipy.fft.fft2(scene, workers=workers) * band_mask(scene.shape, sensor)
    return scipy.fft.ifft2(spectrum, workers=workers).astype(np.complex64, copy=False)


def impulse_response_metrics(profile: np.ndarray, pixel: float, upsample: int = 16) -> dict[str, float]:
    """PSLR (dB) and 3-dB width (in ``pixel`` units' length) of a 1-D complex impulse response.

    The profile is upsampled by zero-padding its spectrum, so the true main lobe and first side lobes are
    measured between samples.
    """
    n = profile.size
    spectrum = np.fft.fftshift(np.fft.fft(profile))
    pad = (upsample - 1) * n
    fine = np.fft.ifft(np.fft.ifftshift(np.pad(spectrum, (pad // 2, pad - pad // 2)))) * upsample
    power = np.abs(fine) ** 2
    peak = int(np.argmax(power))
    power = np.roll(power, power.size // 2 - peak)
    centre = power.size // 2
    # main lobe: walk out to the first minima on both sides
    left = centre
    while left > 0 and power[left - 1] < power[left]:
        left -= 1
    right = centre
    while right < power.size - 1 and power[right + 1] < power[right]:
        right += 1
    side = max(power[:left].max(initial=0.0), power[right + 1:].max(initial=0.0))
    half = power[centre] / 2.0
    lo = centre
    while power[lo - 1] >= half:
        lo -= 1
    hi = centre
    while power[hi + 1] >= half:
        hi += 1
    # interpolate the half-power crossings linearly between samples
    lo_edge = lo - (power[lo] - half) / (power[lo] - power[lo - 1])
    hi_edge = hi + (power[hi] - half) / (power[hi] - power[hi + 1])
    width_samples = (hi_edge - lo_edge) / upsample
    return {"pslr_db": float(10 * np.log10(side / power[centre])), "width": float(width_samples * pixel)}
