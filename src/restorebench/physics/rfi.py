"""Radio-frequency interference on raw SAR echoes, thermal noise, and the time-frequency label (S1, DIFNet
Eqs. 1-4, 13).

**Emitters are physical and free-running.** An :class:`Emitter` is defined in absolute units, whatever the
sensor: its carrier as an offset from the receiver's centre frequency, its bandwidth and its sweep (or
modulation) period in seconds. It transmits continuously; pulse n's range window samples it at absolute
times t = n / PRF + k / f_s, so each pulse catches a different part of the waveform (a real emitter is not
synchronised to the radar). Kinds (paper Eqs. 1-4, Table 3):

* ``narrowband`` (Eq. 1): 2 emitters of 0.5-30 MHz, a carrier drifting in a slow sawtooth sweep (period
  1-50 us);
* ``chirp`` (Eq. 2): 3-5 emitters of 30-150 MHz, sawtooth linear FM sweeps of period 0.1-10 us
  (radar-like), phase 2 pi f_c t + pi (B / T) tau^2 with tau the time since the sweep's centre;
* ``sinusoidal`` (Eq. 3): 3-5 emitters of 30-150 MHz, exp(j (2 pi f_c t + beta sin(2 pi f_m t + phi))),
  beta in 3-10, f_m = B / (2 (beta + 1)) (Carson's rule).

**The same RFI environment seen by two receivers.** The environment (:func:`draw_emitters`) is drawn
without the sensor: each carrier is a share of the receiver's band (uniform over ``band_share`` of it,
centred: 1 = anywhere in the band), placed in Hz by the receiver that records it. Position in the band
therefore tells nothing about interference on any sensor; what carries across sensors is the interference's
time-frequency shape (bandwidths and sweeps in physical units) -- the paper's premise that interference has
sensor-invariant features. With every carrier within +-50 MHz of the centre (the suite before issue 36), a
1.5 GHz receiver saw all interference in its few central STFT bins, and a data-free mask of those bins
matched the trained network. Each receiver sees it through its own band (:func:`receive`: an ideal band-pass of width B, the emitter
computed at a sampling rate high enough not to alias first): a 150 MHz emitter fills a 100 MHz receiver
and is a tenth of a 1.5 GHz one; its sweep looks steep in a short record and shallow in a long one.

**Levels.** Thermal noise (:func:`add_thermal_noise`): complex white Gaussian noise through the same
receiver band at ``snr_db`` below the echo's in-band power; the clean echo is echo + noise (what a receiver
records without interference). SIR (paper Table 3): clean-echo power over RFI power on the affected lines;
all emitters of a scene share one scale set to hit it. On-time: each emitter is on for a run of azimuth
lines around ``on_lines`` (fractions of the aperture; the paper's interference covers lines ~100-400 of
512).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..dsp import STFTConfig, stft_np
from .sar import Sensor

RFI_KINDS = ("narrowband", "chirp", "sinusoidal")
BROADBAND_HZ = (30e6, 150e6)
NARROWBAND_HZ = (0.5e6, 30e6)
#: sweep periods (s) drawn log-uniformly: a drifting narrowband carrier, radar-like broadband sweeps
SWEEP_PERIOD_S = {"narrowband": (1e-6, 50e-6), "chirp": (0.1e-6, 10e-6)}


@dataclass(frozen=True)
class Emitter:
    """One free-running interference source (physical units; see the module docstring)."""

    kind: str
    offset_hz: float                  # carrier minus the receiver's centre frequency (when offset_share is None)
    bandwidth_hz: float
    period_s: float                   # sawtooth sweep period, or 1 / f_m for sinusoidal FM
    amplitude: float
    on_lines: tuple[float, float]     # on from/to these fractions of the aperture's lines
    phase: float = 0.0                # start phase (rad)
    delay_s: float = 0.0              # where in its sweep the emitter is at t = 0
    beta: float = 0.0                 # sinusoidal FM modulation index
    offset_share: float | None = None  # carrier as a share of the receiver's band (-1/2...1/2), set by the receiver

    def placed(self, sensor: Sensor) -> "Emitter":
        """This emitter with its carrier in Hz for ``sensor``'s receiver (``offset_share`` x its bandwidth)."""
        if self.offset_share is None:
            return self
        return replace(self, offset_hz=self.offset_share * sensor.bandwidth_hz)


@dataclass
class Interference:
    rfi: np.ndarray                    # complex64 (azimuth, range), same shape as the echoes
    emitters: list[Emitter]
    sir_db: float
    lines: np.ndarray                  # bool per azimuth line: affected by any emitter
    extra: dict = field(default_factory=dict)


def emitter_signal(emitter: Emitter, t: np.ndarray) -> np.ndarray:
    """The emitter's complex baseband waveform (relative to the receiver's centre) at absolute times ``t`` (s)."""
    t = np.asarray(t, dtype=np.float64)
    # carrier phase reduced modulo 2 pi per term: t reaches ~1 s and f_c ~1e8 Hz
    carrier = 2 * np.pi * np.mod(emitter.offset_hz * t, 1.0)
    if emitter.kind == "sinusoidal":
        f_m = 1.0 / emitter.period_s
        phase = carrier + emitter.beta * np.sin(2 * np.pi * np.mod(f_m * (t - emitter.delay_s), 1.0))
    elif emitter.kind in ("chirp", "narrowband"):
        tau = np.mod(t - emitter.delay_s, emitter.period_s) - emitter.period_s / 2
        phase = carrier + np.pi * (emitter.bandwidth_hz / emitter.period_s) * tau ** 2
    else:
        raise ValueError(f"unknown RFI kind {emitter.kind!r}; choose one of {', '.join(RFI_KINDS)}")
    return emitter.amplitude * np.exp(1j * (phase + emitter.phase))


def draw_emitters(kind: str, rng: np.random.Generator, band_share: float = 1.0,
                  on_lines: tuple[float, float] = (100 / 512, 400 / 512)) -> list[Emitter]:
    """A random RFI environment of one kind (Table 3 counts and bandwidths); independent of the sensor: each
    carrier uniform over ``band_share`` of the receiver's band, centred (see the module docstring)."""
    if kind not in RFI_KINDS:
        raise ValueError(f"unknown RFI kind {kind!r}; choose one of {', '.join(RFI_KINDS)}")
    if not 0.0 <= band_share <= 1.0:
        raise ValueError(f"the carriers' share of the receiver band must be in [0, 1], got {band_share}")
    count = 2 if kind == "narrowband" else int(rng.integers(3, 6))
    start = rng.uniform(on_lines[0] * 0.5, on_lines[0] * 1.5)
    stop = rng.uniform(on_lines[1] * 0.9, min(1.0, on_lines[1] * 1.1))
    emitters = []
    for _ in range(count):
        bandwidth = rng.uniform(*(NARROWBAND_HZ if kind == "narrowband" else BROADBAND_HZ))
        share = rng.uniform(-band_share / 2, band_share / 2)
        beta = 0.0
        if kind == "sinusoidal":
            beta = rng.uniform(3.0, 10.0)
            period = 2 * (beta + 1) / bandwidth
        else:
            lo, hi = SWEEP_PERIOD_S[kind]
            period = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        jitter = rng.uniform(-0.015, 0.015, size=2)
        emitters.append(Emitter(kind, 0.0, bandwidth, period, rng.uniform(0.5, 1.0),
                                (max(0.0, start + jitter[0]), min(1.0, stop + jitter[1])),
                                phase=2 * np.pi * rng.random(), delay_s=period * rng.random(), beta=beta,
                                offset_share=share))
    return emitters


def _band_pass(x: np.ndarray, rate_hz: float, bandwidth_hz: float, decimate: int = 1) -> np.ndarray:
    """Ideal band-pass |f| <= B/2 along the last axis (FFT), keeping every ``decimate``-th sample: the
    frequencies kept lie below the output Nyquist, so the decimation does not alias."""
    n_out = x.shape[-1] // decimate
    spectrum = np.fft.fft(x, axis=-1)
    freqs = np.fft.fftfreq(x.shape[-1], 1.0 / rate_hz)
    out_freqs = np.fft.fftfreq(n_out, decimate / rate_hz)
    keep = np.abs(out_freqs) <= bandwidth_hz / 2
    # the output grid's bins are a subset of the input's (same spacing rate / n)
    index = np.round(out_freqs / (rate_hz / x.shape[-1])).astype(int) % x.shape[-1]
    assert np.allclose(freqs[index], out_freqs)
    out = np.zeros(x.shape[:-1] + (n_out,), dtype=np.complex128)
    out[..., keep] = spectrum[..., index[keep]]
    return np.fft.ifft(out, axis=-1) / decimate


def receive(emitters: list[Emitter], sensor: Sensor, n_lines: int, n_samples: int) -> np.ndarray:
    """What ``sensor`` records of the emitters: (lines, samples) complex128 after its receiver band."""
    rfi = np.zeros((n_lines, n_samples), dtype=np.complex128)
    slow = np.arange(n_lines) / sensor.prf_hz
    for emitter in (e.placed(sensor) for e in emitters):
        first, last = int(round(emitter.on_lines[0] * n_lines)), int(round(emitter.on_lines[1] * n_lines))
        if last <= first:
            continue
        highest = abs(emitter.offset_hz) + emitter.bandwidth_hz   # Carson's band plus margin
        oversample = int(np.ceil(2 * highest / sensor.sampling_hz)) + 1
        fast = np.arange(n_samples * oversample) / (sensor.sampling_hz * oversample)
        wave = emitter_signal(emitter, slow[first:last, None] + fast[None, :])
        rfi[first:last] += _band_pass(wave, sensor.sampling_hz * oversample, sensor.bandwidth_hz, oversample)
    return rfi


def add_thermal_noise(echoes: np.ndarray, sensor: Sensor, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """echoes + complex white Gaussian noise through the receiver band, ``snr_db`` below the echo's power."""
    if not np.isfinite(snr_db):
        return echoes.astype(np.complex64)
    noise = rng.standard_normal(echoes.shape) + 1j * rng.standard_normal(echoes.shape)
    noise = _band_pass(noise, sensor.sampling_hz, sensor.bandwidth_hz)
    echo_power = float(np.mean(np.abs(echoes) ** 2))
    noise *= np.sqrt(echo_power / (np.mean(np.abs(noise) ** 2) * 10 ** (snr_db / 10)))
    return (echoes + noise).astype(np.complex64)


def add_rfi(echoes: np.ndarray, sensor: Sensor, kind: str, sir_db: float, rng: np.random.Generator,
            emitters: list[Emitter] | None = None, band_share: float = 1.0) -> Interference:
    """Interference of one kind on ``echoes`` at the given SIR over the affected lines (``emitters``: a given
    environment, else one drawn from ``rng``)."""
    if kind not in RFI_KINDS:
        raise ValueError(f"unknown RFI kind {kind!r}; choose one of {', '.join(RFI_KINDS)}")
    if not -40.0 <= sir_db <= 40.0:
        raise ValueError(f"SIR {sir_db} dB is outside -40...40 dB")
    if emitters is None:
        emitters = draw_emitters(kind, rng, band_share)
    rfi = receive(emitters, sensor, *echoes.shape)
    affected = np.any(np.abs(rfi) > 0, axis=1)
    if not affected.any():
        raise ValueError(f"no emitter of this {kind} environment falls in the {sensor.name} receiver's band")
    echo_power = np.mean(np.abs(echoes[affected]) ** 2)
    rfi_power = np.mean(np.abs(rfi[affected]) ** 2)
    rfi *= np.sqrt(echo_power / (rfi_power * 10 ** (sir_db / 10)))
    rfi[~affected] = 0
    return Interference(rfi.astype(np.complex64), emitters, sir_db, affected)


def realised_sir_db(echoes: np.ndarray, interference: Interference) -> float:
    lines = interference.lines
    return float(10 * np.log10(np.mean(np.abs(echoes[lines]) ** 2) / np.mean(np.abs(interference.rfi[lines]) ** 2)))


def in_band_bins(sensor: Sensor, n_fft: int) -> np.ndarray:
    """Bool per frequency bin of a two-sided STFT (FFT order): inside the receiver band |f| <= B / 2.

    Bins outside hold no echo, RFI or noise, only window leakage; the Eq. 13 label there is decided by
    leakage and costs nothing in the image, so mask metrics count in-band bins (the full-band figure is
    kept as a labelled extra).
    """
    return np.abs(np.fft.fftfreq(n_fft, 1.0 / sensor.sampling_hz)) <= sensor.bandwidth_hz / 2


def rfi_label(echoes: np.ndarray, rfi: np.ndarray, cfg: STFTConfig) -> np.ndarray:
    """Eq. (13): per pulse, 1 where |STFT(rfi)| > |STFT(echo)|, else 0 -> (lines, bins, frames) uint8."""
    return (np.abs(stft_np(rfi, cfg)) > np.abs(stft_np(echoes, cfg))).astype(np.uint8)
