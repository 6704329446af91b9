"""Interference detection, step 1 of the DIFNet paper's Algorithm 1 (S1): which pulses of a record carry RFI.

One detector is shared by every S1 method (SPEC S1, "Methods"): a pulse it passes is left untouched by all of
them -- the notch, the networks, the floors and the oracles alike -- and an interfered pulse it misses is
scored as it is, unprocessed. Before it, every method processed every pulse, and the data-free position mask
cut its bins out of clean pulses too.

**The statistic** is a pulse's power over the record's reference power, in dB: P_n / P_ref with P_n the mean
|x|^2 of pulse n's range samples and P_ref the lower decile of the record's pulse powers. An echo's power
varies little from pulse to pulse (each raw pulse sums the whole illuminated swath), while an emitter adds
its own power to the pulses it is on for; the reference is a quantile, not the median, because interference
may be on for most of a record (the paper's covers azimuth lines ~100-400 of 512; ours at most about 80 %),
and the lower decile is then still a clean pulse's level. Written by hand: it is a few lines of numpy, and
no maintained library offers a pulse-level RFI detector for raw SAR echoes.

**The threshold** is tuned on the training pulses, whose truth the simulation knows (a pulse is interfered
when its RFI is non-zero): the threshold that maximises the detection rate minus the false-alarm rate
(Youden's J) over the training records' statistics, midway between the two training values it separates.
The tables report its detection and false-alarm rates on the training pulses and on every test split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: quantile of a record's pulse powers taken as its clean reference level
REFERENCE_QUANTILE = 0.1


def pulse_statistic(echoes: np.ndarray) -> np.ndarray:
    """Per pulse (row) of a record's raw echoes: its power over the record's lower-decile pulse power, dB."""
    power = np.mean(np.abs(np.asarray(echoes)) ** 2, axis=-1).astype(np.float64)
    reference = max(float(np.quantile(power, REFERENCE_QUANTILE)), np.finfo(np.float64).tiny)
    return 10.0 * np.log10(np.maximum(power, np.finfo(np.float64).tiny) / reference)


@dataclass(frozen=True)
class PulseDetector:
    """Declares a pulse interfered when its :func:`pulse_statistic` exceeds ``threshold_db``."""

    threshold_db: float

    def detect(self, echoes: np.ndarray) -> np.ndarray:
        """Bool per pulse (row) of ``echoes``: detected as interfered."""
        return self.flags(pulse_statistic(echoes))

    def flags(self, statistic: np.ndarray) -> np.ndarray:
        """Bool per pulse of already computed :func:`pulse_statistic` values: detected as interfered."""
        return np.asarray(statistic) > self.threshold_db


def calibrate(statistics: list[np.ndarray], interfered: list[np.ndarray]) -> PulseDetector:
    """The detector whose threshold maximises detection rate minus false-alarm rate over the training
    records' pulse statistics (``statistics``, one array per record) and their truth (``interfered``)."""
    s = np.concatenate([np.asarray(x, dtype=np.float64) for x in statistics])
    y = np.concatenate([np.asarray(x, dtype=bool) for x in interfered])
    if y.all() or not y.any():
        raise ValueError("calibrating the pulse detector needs interfered and clean training pulses "
                         f"({int(y.sum())} interfered of {y.size})")
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order]
    # a threshold between s[i - 1] and s[i] declares pulses i... interfered
    detected = np.concatenate([np.cumsum(y[::-1])[::-1], [0]]) / y.sum()
    false_alarms = np.concatenate([np.cumsum(~y[::-1])[::-1], [0]]) / (~y).sum()
    cuts = [i for i in range(s.size + 1) if i in (0, s.size) or s[i] > s[i - 1]]
    best = max(cuts, key=lambda i: detected[i] - false_alarms[i])
    if best == 0:
        return PulseDetector(float(s[0] - 1.0))
    if best == s.size:
        return PulseDetector(float(s[-1]))
    return PulseDetector(float((s[best - 1] + s[best]) / 2))


def rates(detected: np.ndarray, interfered: np.ndarray) -> dict[str, float]:
    """Detection rate (interfered pulses detected) and false-alarm rate (clean pulses detected); NaN when a
    record has no pulse of that kind."""
    detected, interfered = np.asarray(detected, dtype=bool), np.asarray(interfered, dtype=bool)
    return {"detection_rate": float(detected[interfered].mean()) if interfered.any() else float("nan"),
            "false_alarm_rate": float(detected[~interfered].mean()) if (~interfered).any() else float("nan")}


def load_detector(path) -> PulseDetector | None:
    """The detector of a calibration JSON written by ``s1-calibrate-notch`` (None when the file predates it)."""
    import json
    from pathlib import Path

    try:
        facts = json.loads(Path(path).read_text()).get("detector")
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a calibration written by s1-calibrate-notch ({err})") from err
    return None if facts is None else PulseDetector(float(facts["threshold_db"]))
