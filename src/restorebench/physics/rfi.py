"""Radio-frequency interference on raw SAR echoes and its time-frequency label (S1, DIFNet Eqs. 1-5, 13).

Each source is Eq. (4) of the paper, s(t) = D rect(t / T) exp(j 2 pi f_c t + j pi k t^2) for the narrowband
(Eq. 1: k = 0 up to a small drift) and chirp (Eq. 2) kinds, and Eq. (3) for sinusoidal FM,
s(t) = C exp(j 2 pi f_c t + j beta sin(2 pi f_m t)), where t is fast time within a pulse, f_c the offset from
the radar's centre frequency (baseband), and the on-time a random run of azimuth lines.

Table 3 of the paper (MiniSAR): narrowband < 30 MHz, 2 sources; broadband 30-150 MHz, 3-5 sources; SIR
-15...0 dB. Rule for narrower sensors (ours): bandwidths scale by min(1, B_sensor / 150 MHz), so a 100 MHz
sensor sees narrowband < 20 MHz and broadband 20-100 MHz; carriers are drawn inside the sensor's band.
The SIR is echo power over RFI power on the affected lines; all sources share one scale set to hit it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dsp import STFTConfig, stft_np
from .sar import Sensor

RFI_KINDS = ("narrowband", "chirp", "sinusoidal")
BROADBAND_HZ = (30e6, 150e6)
NARROWBAND_MAX_HZ = 30e6


@dataclass
class RFISource:
    kind: str
    carrier_hz: float
    bandwidth_hz: float
    amplitude: float
    lines: tuple[int, int]             # first and last (exclusive) affected azimuth line
    extra: dict = field(default_factory=dict)


@dataclass
class Interference:
    rfi: np.ndarray                    # complex64 (azimuth, range), same shape as the echoes
    sources: list[RFISource]
    sir_db: float
    lines: np.ndarray                  # bool per azimuth line: affected by any source


def bandwidth_scale(sensor: Sensor) -> float:
    return min(1.0, sensor.bandwidth_hz / BROADBAND_HZ[1])


def source_waveform(src: RFISource, n_samples: int, sampling_hz: float, rng: np.random.Generator) -> np.ndarray:
    """One pulse's worth (``n_samples`` of fast time) of a source, random start phase, unit amplitude."""
    t = np.arange(n_samples) / sampling_hz
    duration = n_samples / sampling_hz
    phase0 = 2 * np.pi * rng.random()
    if src.kind == "sinusoidal":
        # Carson's rule: bandwidth = 2 (beta + 1) f_m
        f_m, beta = src.extra["f_m"], src.extra["beta"]
        phase = 2 * np.pi * src.carrier_hz * t + beta * np.sin(2 * np.pi * f_m * t + src.extra["phi"])
    else:
        # sweep the bandwidth once over the pulse: tuning rate k = B / duration, centred on the carrier
        k = src.bandwidth_hz / duration
        tc = t - duration / 2
        phase = 2 * np.pi * src.carrier_hz * tc + np.pi * k * tc ** 2
    return np.exp(1j * (phase + phase0))


def draw_sources(kind: str, sensor: Sensor, n_lines: int, rng: np.random.Generator,
                 on_lines: tuple[float, float] = (100 / 512, 400 / 512)) -> list[RFISource]:
    """Random sources of one kind following Table 3 (see module docstring)."""
    scale = bandwidth_scale(sensor)
    count = 2 if kind == "narrowband" else int(rng.integers(3, 6))
    start = int(rng.uniform(on_lines[0] * 0.5, on_lines[0] * 1.5) * n_lines)
    stop = int(rng.uniform(on_lines[1] * 0.9, min(1.0, on_lines[1] * 1.1)) * n_lines)
    sources = []
    for _ in range(count):
        if kind == "narrowband":
            bw = rng.uniform(0.5e6, NARROWBAND_MAX_HZ) * scale
        else:
            bw = rng.uniform(*BROADBAND_HZ) * scale
        carrier = rng.uniform(-(sensor.bandwidth_hz - bw) / 2, (sensor.bandwidth_hz - bw) / 2)
        extra = {}
        if kind == "sinusoidal":
            beta = rng.uniform(3.0, 10.0)          # modulation index; Carson: B = 2 (beta + 1) f_m
            extra = {"f_m": bw / (2 * (beta + 1)), "beta": beta, "phi": 2 * np.pi * rng.random()}
        lo = max(0, start + int(rng.integers(-8, 9)))
        hi = min(n_lines, stop + int(rng.integers(-8, 9)))
        sources.append(RFISource(kind, carrier, bw, rng.uniform(0.5, 1.0), (lo, hi), extra))
    return sources


def add_rfi(echoes: np.ndarray, sensor: Sensor, kind: str, sir_db: float, rng: np.random.Generator) -> Interference:
    """Interference of one kind on ``echoes`` at the given SIR over the affected lines."""
    if kind not in RFI_KINDS:
        raise ValueError(f"unknown RFI kind {kind!r}; choose one of {', '.join(RFI_KINDS)}")
    if not -40.0 <= sir_db <= 40.0:
        raise ValueError(f"SIR {sir_db} dB is outside -40...40 dB")
    n_az, n_rg = echoes.shape
    sources = draw_sources(kind, sensor, n_az, rng)
    rfi = np.zeros(echoes.shape, dtype=np.complex128)
    for src in sources:
        for line in range(*src.lines):
            rfi[line] += src.amplitude * source_waveform(src, n_rg, sensor.sampling_hz, rng)
    affected = np.any(rfi != 0, axis=1)
    echo_power = np.mean(np.abs(echoes[affected]) ** 2)
    rfi_power = np.mean(np.abs(rfi[affected]) ** 2)
    rfi *= np.sqrt(echo_power / (rfi_power * 10 ** (sir_db / 10)))
    return Interference(rfi.astype(np.complex64), sources, sir_db, affected)


def realised_sir_db(echoes: np.ndarray, interference: Interference) -> float:
    lines = interference.lines
    return float(10 * np.log10(np.mean(np.abs(echoes[lines]) ** 2) / np.mean(np.abs(interference.rfi[lines]) ** 2)))


def rfi_label(echoes: np.ndarray, rfi: np.ndarray, cfg: STFTConfig) -> np.ndarray:
    """Eq. (13): per pulse, 1 where |STFT(rfi)| > |STFT(echo)|, else 0 -> (lines, bins, frames) uint8."""
    return (np.abs(stft_np(rfi, cfg)) > np.abs(stft_np(echoes, cfg))).astype(np.uint8)
