"""S1 simulation audit: can the simulation show the effects the DIFNet paper's claims are about?

Before any claim is evaluated, :func:`audit` measures on freshly simulated scenes (no trained network) the
facts an expert review found to decide verdicts by construction in an earlier simulation (issue 11):

* ``clean_tf``: the clean echoes' time-frequency statistics per sensor (occupied share of the bins, power
  kurtosis) -- a cross-sensor test must change the sensor;
* ``rfi_pulse_correlation``: correlation of consecutive pulses' in-band |STFT| of the RFI alone -- 0.85-1.0
  meant the interference was synchronised to the pulse;
* ``cfar_false_alarms``: the notch's measured false-alarm rate on clean echoes at its nominal P_fa;
* ``scatterer_cells``: share of in-band cells dominated by the strong scatterers, and the share of those a
  notch at the nominal P_fa masks (claim C5's mechanism; the true mask masks none);
* ``all_zero_pa``: PA of a predictor that flags nothing, in-band and over all bins;
* ``me_of_zeroing``: ME and kept energy of an image whose affected pulses are all zeroed, beside the clean
  and the interfered image's (ME rewards discarding energy);
* ``oracles``: PSNR of true-mask zeroing and of the true magnitude with the interfered phase;
* ``geometry``: azimuth aperture and range chirp against the scene, STFT window against the record.

``restorebench s1-audit`` prints them; the README quotes them before and after the rebuild.
"""
from __future__ import annotations

import numpy as np

from ..data.scenes import make_scene
from ..dsp import STFTConfig
from ..methods.notch import CFARConfig, cfar_mask
from ..methods.rfi_suppression import spectrograms, suppress_oracle_magnitude, suppress_oracle_mask
from ..metrics.sar import me, pixel_accuracy, psnr_db
from ..physics.rfi import RFI_KINDS, add_rfi, add_thermal_noise, in_band_bins, rfi_label
from ..physics.sar import SENSORS, focus, simulate_echoes


def _scene_case(sensor, shape, seed, kind, cfg, snr_db, sir_db=-5.0):
    scene = make_scene(shape, sensor, seed=seed)
    rng = np.random.default_rng([seed, 1])
    points = simulate_echoes(scene.points, sensor)
    clean = add_thermal_noise(simulate_echoes(scene.reflectivity, sensor), sensor, snr_db, rng)
    interference = add_rfi(clean, sensor, kind, sir_db, rng)
    return scene, clean, points, interference


def audit(shape: tuple[int, int] = (128, 1024), n_fft: int = 32, hop: int = 8, scenes: int = 3,
          snr_db: float = 10.0, nominal_pfa: float = 1e-3) -> dict:
    """The audit figures (see the module docstring), averaged over ``scenes`` seeds and the RFI kinds."""
    cfg = STFTConfig(n_fft, hop, two_sided=True)
    cfar = CFARConfig(pfa=nominal_pfa)
    out = {"geometry": {}, "clean_tf": {}, "rfi_pulse_correlation": {}, "cfar_false_alarms": {},
           "scatterer_cells": {}, "all_zero_pa": {}, "me_of_zeroing": {}, "oracles": {}}
    for name, sensor in SENSORS.items():
        band = in_band_bins(sensor, n_fft)
        out["geometry"][name] = {"aperture_lines": round(sensor.aperture_lines, 1), "scene_lines": shape[0],
                                 "chirp_samples": round(sensor.pulse_samples, 1), "record_samples": shape[1],
                                 "window_share_of_record": n_fft / shape[1]}
        occupied, kurtosis, correlations, false_alarms = [], [], {k: [] for k in RFI_KINDS}, []
        dominated, masked, zero_in, zero_all = [], [], [], []
        me_rows, psnr_rows = [], []
        for seed in range(scenes):
            for kind in RFI_KINDS:
                scene, clean, points, interference = _scene_case(sensor, shape, seed, kind, cfg, snr_db)
                lines, rfi = interference.lines, interference.rfi
                if kind == RFI_KINDS[0]:
                    power = np.abs(spectrograms(clean, cfg)) ** 2
                    profile = power.mean(axis=(0, 2))
                    occupied.append(np.mean(profile > 0.1 * profile.max()))
                    kurtosis.append(np.mean(power ** 2) / np.mean(power) ** 2)
                    false_alarms.append(float(cfar_mask(power, cfar)[:, band].mean()))
                tf = np.abs(spectrograms(rfi[lines], cfg))[:, band]
                correlations[kind] += [np.corrcoef(tf[i].ravel(), tf[i + 1].ravel())[0, 1]
                                       for i in range(len(tf) - 1)]
                label = rfi_label(clean[lines], rfi[lines], cfg)
                interfered = clean + rfi
                point_tf = np.abs(spectrograms(points[lines], cfg))
                rest_tf = np.abs(spectrograms(clean[lines] - points[lines], cfg))
                cells = ((point_tf > rest_tf) & (label == 0))[:, band]
                dominated.append(cells.mean())
                notch_mask = cfar_mask(np.abs(spectrograms(interfered[lines], cfg)) ** 2, cfar)[:, band]
                if cells.any():
                    masked.append(notch_mask[cells].mean())
                nothing = np.zeros(label.shape, dtype=bool)
                zero_in.append(pixel_accuracy(nothing[:, band], label[:, band]))
                zero_all.append(pixel_accuracy(nothing, label))
                clean_image = focus(clean, sensor)
                zeroed = interfered.copy()
                zeroed[lines] = 0
                images = {"clean": clean_image, "interfered": focus(interfered, sensor),
                          "affected pulses zeroed": focus(zeroed, sensor)}
                energy = float(np.sum(np.abs(clean_image) ** 2))
                me_rows.append({k: (me(v, clean_image), float(np.sum(np.abs(v) ** 2)) / energy)
                                for k, v in images.items()})
                psnr_rows.append({
                    "interfered": psnr_db(clean_image, images["interfered"]),
                    "true mask zeroed": psnr_db(clean_image, focus(
                        suppress_oracle_mask(interfered, cfg, clean, rfi).echoes, sensor)),
                    "true magnitude, interfered phase": psnr_db(clean_image, focus(
                        suppress_oracle_magnitude(interfered, cfg, clean).echoes, sensor))})
        out["clean_tf"][name] = {"occupied_share": float(np.mean(occupied)), "power_kurtosis": float(np.mean(kurtosis))}
        out["rfi_pulse_correlation"][name] = {k: float(np.mean(v)) for k, v in correlations.items()}
        out["cfar_false_alarms"][name] = {"nominal_pfa": nominal_pfa, "measured": float(np.mean(false_alarms))}
        out["scatterer_cells"][name] = {"dominated_share": float(np.mean(dominated)),
                                        "masked_by_notch": float(np.mean(masked)) if masked else float("nan")}
        out["all_zero_pa"][name] = {"in_band": float(np.mean(zero_in)), "all_bins": float(np.mean(zero_all))}
        out["me_of_zeroing"][name] = {k: {"me": float(np.mean([r[k][0] for r in me_rows])),
                                          "energy": float(np.mean([r[k][1] for r in me_rows]))}
                                      for k in me_rows[0]}
        out["oracles"][name] = {k: float(np.mean([r[k] for r in psnr_rows])) for k in psnr_rows[0]}
    return out


def format_audit(result: dict) -> str:
    """The audit as readable lines, one block per figure."""
    lines = []
    for block, per_sensor in result.items():
        lines.append(f"# {block}")
        for sensor, values in per_sensor.items():
            cells = []
            for key, value in values.items():
                if isinstance(value, dict):
                    value = ", ".join(f"{k} {v:.3g}" for k, v in value.items())
                    cells.append(f"{key}: ({value})")
                else:
                    cells.append(f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}")
            lines.append(f"{sensor:<16} " + "; ".join(cells))
    return "\n".join(lines)
