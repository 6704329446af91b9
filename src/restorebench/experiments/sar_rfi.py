"""S1, SAR RFI suppression (DIFNet): the steps of the study, one function per workflow job.

scene sets (train / test-same on the MiniSAR-like sensor, test-cross on the Sentinel-1-like one) -> echoes
+ RFI (one kind and SIR per scene) -> training images (per-pulse spectrograms) -> trained DIFNet and PISNet
-> evaluation of interfered / notch / PISNet / DIFNet per scene -> tidy rows -> tables, figures, claims.

Mask metrics (PA, IoU) are computed over the spectrograms of the affected pulses only (ours: the
unaffected pulses are trivially all-negative and would inflate PA) and over the receiver's band
(``pa``, ``iou``; outside it the label is decided by window leakage); ``pa_full_band`` and
``iou_full_band`` count every bin. Image metrics compare focused magnitude images with the focused clean
echoes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import load_npz, meta_arrays, read_meta, save_npz
from ..tidy import REPLICATE, write_rows
from ..data.scenes import SPLIT_SEEDS, make_scene, scatterer_positions
from ..dsp import STFTConfig
from ..metrics.sar import iou, me, pixel_accuracy, psnr_db, scatterer_kept, scatterer_masked
from ..methods.notch import CFARConfig, load_calibration, load_position_bins
from .. import registry
from ..methods.rfi_suppression import check_features, feature_meta, network_input, normalised_magnitude, spectrograms
from ..physics.rfi import RFI_KINDS, add_rfi, add_thermal_noise, in_band_bins, realised_sir_db, rfi_label
from ..physics.sar import focus, get_sensor, simulate_echoes

STUDY = "S1"
EXPERIMENT_OF_SPLIT = {"test-same": "table4", "test-cross": "table5"}
SPLIT_SENSOR_ROLE = {"train": "train", "test-same": "same", "test-cross": "cross"}
#: the bins nearest 0 Hz whose share of the training labels says whether position gives interference away
#: (issue 36: 82 % of the positives sat in these 5 when every carrier was within +-50 MHz of the centre)
CENTRAL_BINS = 5


@dataclass(frozen=True)
class Geometry:
    azimuth: int
    range: int
    n_fft: int
    hop: int

    @property
    def stft(self) -> STFTConfig:
        return STFTConfig(self.n_fft, self.hop, two_sided=True)


def make_split(split: str, sensor_name: str, n_scenes: int, geometry: Geometry, sir_range: tuple[float, float],
               kinds: tuple[str, ...], seed: int, output: Path, snr_db: float = 10.0,
               band_share: float = 1.0) -> None:
    """Simulated scenes, clean echoes and RFI of one split (see :func:`write_split`)."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_SEEDS)}")
    sensor = get_sensor(sensor_name)
    scenes = []
    for i in range(n_scenes):
        scene = make_scene((geometry.azimuth, geometry.range), sensor, seed=SPLIT_SEEDS[split] + 1000 * seed + i)
        scenes.append((scene.reflectivity, scene.scatterers, scene.points))
    write_split(split, sensor_name, scenes, geometry, sir_range, kinds, seed, output, source="simulated",
                snr_db=snr_db, band_share=band_share)


def strongest_points(reflectivity: np.ndarray, count: int, margin: int = 8, spacing: int = 8) -> np.ndarray:
    """Positions of the ``count`` brightest pixels at least ``spacing`` apart, away from the border.

    Real scenes carry no list of strong scatterers; their brightest isolated points stand in for it
    (claim C5).
    """
    power = np.abs(reflectivity) ** 2
    power[:margin], power[-margin:], power[:, :margin], power[:, -margin:] = 0, 0, 0, 0
    chosen = []
    for flat in np.argsort(power, axis=None)[::-1]:
        a, r = np.unravel_index(flat, power.shape)
        if all(abs(a - a0) >= spacing or abs(r - r0) >= spacing for a0, r0 in chosen):
            chosen.append((int(a), int(r)))
        if len(chosen) == count:
            break
    return np.asarray(chosen, dtype=int)


def make_split_from_images(split: str, sensor_name: str, folder: Path, patterns: list[str], n_scenes: int,
                           geometry: Geometry, sir_range: tuple[float, float], kinds: tuple[str, ...], seed: int,
                           output: Path, scatterers: int = 6, band_share: float = 1.0,
                           other_split_scenes: int = 0) -> None:
    """A split whose scenes are tiles of real focused complex images (read with sarpy).

    Files under ``folder`` matching ``patterns`` are read in sorted order and cut into non-overlapping
    azimuth x range tiles, shuffled by a seeded generator; band-limited to the sensor, their brightest
    isolated points are recorded as the strong scatterers. ``other_split_scenes`` is the number of tiles the
    other split of the same folder takes (train and test-same share the same-sensor folder): the training
    split takes the first ``n_scenes`` tiles of the shuffled list and test-same the ``n_scenes`` after the
    training split's, so the two never share a tile; a folder with too few tiles for both is an error.
    """
    from ..data.sar_real import read_complex_image
    from ..physics.sar import band_limit

    from ..data.real import matching_files

    folder = Path(folder)
    files = matching_files(folder, patterns, "complex SAR images")
    sensor = get_sensor(sensor_name)
    pool = []
    for path in files:
        image = read_complex_image(path)
        for a in range(0, image.shape[0] - geometry.azimuth + 1, geometry.azimuth):
            for r in range(0, image.shape[1] - geometry.range + 1, geometry.range):
                pool.append((path, a, r))
    if len(pool) < n_scenes + other_split_scenes:
        raise ValueError(f"{folder}: {len(pool)} tiles of {geometry.azimuth}x{geometry.range} in {len(files)} "
                         f"files, {n_scenes + other_split_scenes} needed ({n_scenes} for {split} and "
                         f"{other_split_scenes} for the other split of this folder, without sharing a tile)")
    order = np.random.default_rng(seed).permutation(len(pool))
    first = other_split_scenes if split == "test-same" else 0
    picked = order[first:first + n_scenes]
    scenes, cache = [], {}
    for index in picked:
        path, a, r = pool[index]
        image = cache.setdefault(path, read_complex_image(path))
        tile = band_limit(image[a:a + geometry.azimuth, r:r + geometry.range], sensor)
        points = strongest_points(tile, scatterers)
        # a real tile's scatterers alone: its pixels in a 3 x 3 window around each of its brightest points
        alone = np.zeros_like(tile)
        for pa, pr in points:
            alone[pa - 1:pa + 2, pr - 1:pr + 2] = tile[pa - 1:pa + 2, pr - 1:pr + 2]
        scenes.append((tile, points, alone))
    # a real image carries its own receiver noise: none is added
    write_split(split, sensor_name, scenes, geometry, sir_range, kinds, seed, output, source="real",
                snr_db=np.inf, band_share=band_share)


def write_split(split: str, sensor_name: str, scenes, geometry: Geometry, sir_range: tuple[float, float],
                kinds: tuple[str, ...], seed: int, output: Path, source: str, snr_db: float = 10.0,
                band_share: float = 1.0) -> None:
    """Echoes of each (reflectivity, scatterers, points) scene with thermal noise at ``snr_db``, plus RFI:
    scene i gets kind i mod len(kinds), an SIR in ``sir_range`` (uniform, stratified over the scenes) and a
    drawn RFI environment.
    ``points`` is the part of the reflectivity made of the strong scatterers; its echoes are stored too
    (``point_echoes``), for claim C5's time-frequency measure.

    Both test splits draw kind, SIR and environment from one generator: test scene i of the same sensor and
    of the other sensor face the same emitters (physics/rfi.py), so a same- versus cross-sensor difference
    is the sensor's, not the interference's.
    """
    lo, hi = sir_range
    if not -40.0 <= lo <= hi <= 40.0:
        raise ValueError(f"s1.sir_db {list(sir_range)} must be an increasing range inside -40...40 dB")
    sensor = get_sensor(sensor_name)
    environment = np.random.default_rng([seed, 0 if split == "train" else 1])
    noise_rng = np.random.default_rng([seed, SPLIT_SEEDS[split], 2])
    # stratified SIRs: scene i draws inside its own 1/n-th of the range (in a shuffled order, so kind and SIR
    # are not tied), so a few scenes still cover the whole range -- the per-SIR figure has no empty bin
    strata = environment.permutation(len(scenes))
    echoes, rfis, scatterers, sirs, kind_list, realised, point_echoes = [], [], [], [], [], [], []
    for i, (reflectivity, points, alone) in enumerate(scenes):
        clean = add_thermal_noise(simulate_echoes(reflectivity, sensor), sensor, snr_db, noise_rng)
        point_echoes.append(simulate_echoes(alone, sensor))
        kind = kinds[i % len(kinds)]
        sir = float(lo + (hi - lo) * (strata[i] + environment.random()) / len(scenes))
        interference = add_rfi(clean, sensor, kind, sir, environment, band_share=band_share)
        echoes.append(clean)
        rfis.append(interference.rfi)
        scatterers.append(points)
        sirs.append(sir)
        realised.append(realised_sir_db(clean, interference))
        kind_list.append(kind)
    save_npz(output, echoes=np.stack(echoes), rfi=np.stack(rfis), scatterers=np.stack(scatterers),
             point_echoes=np.stack(point_echoes),
             sir_db=np.asarray(sirs), realised_sir_db=np.asarray(realised), kind=np.asarray(kind_list),
             **meta_arrays(split=split, sensor=sensor_name, n_fft=geometry.n_fft, hop=geometry.hop, seed=seed,
                          source=source, snr_db=snr_db, band_share=band_share))


def affected_lines(rfi: np.ndarray) -> np.ndarray:
    return np.any(rfi != 0, axis=-1)


#: how many test scenes Figures 6-9 show, spread over where their interference sits in the band
EXAMPLE_SCENES = 3


def example_scenes(rfi: np.ndarray, sensor, count: int = EXAMPLE_SCENES) -> dict[int, tuple[int, float]]:
    """The scenes Figures 6-9 show: ``count`` scenes spread over the receiver band (the lowest, middle and
    highest by where their interference is strongest), each with the pulse shown -- the middle affected
    pulse -- and that pulse's interference peak as a share of the band (-1/2 ... 1/2), read from the
    interference alone so that every method's figure shows the same scenes.

    ``rfi``: (scenes, lines, samples) of a split."""
    peaks = {}
    for scene, interference in enumerate(rfi):
        affected = np.where(affected_lines(interference))[0]
        line = int(affected[len(affected) // 2])
        power = np.abs(np.fft.fft(interference[line])) ** 2
        freqs = np.fft.fftfreq(power.size, 1.0 / sensor.sampling_hz)
        peaks[scene] = (line, float(freqs[np.argmax(power)] / sensor.bandwidth_hz))
    ordered = sorted(peaks, key=lambda scene: (peaks[scene][1], scene))
    if len(ordered) <= count:
        picked = ordered
    else:      # evenly spaced ranks, first and last included
        picked = [ordered[int(round(k * (len(ordered) - 1) / (count - 1)))] for k in range(count)]
    return {scene: peaks[scene] for scene in sorted(picked, key=lambda scene: peaks[scene][1])}


def training_lines(rfi: np.ndarray, lines_per_scene: int, rng: np.random.Generator) -> np.ndarray:
    """The affected pulses of one training scene that enter training (drawn without replacement)."""
    lines = np.where(affected_lines(rfi))[0]
    return rng.choice(lines, size=min(lines_per_scene, lines.size), replace=False)


def calibrate_notch(split_file: Path, lines_per_scene: int, seed: int, nominal: CFARConfig, output: Path) -> dict:
    """Tune the fixed rules on the training data: the pulse detector every method shares
    (methods/pulse_detector.py) on all training pulses, and on the pulses the networks train on the CFAR
    notch's P_fa (methods/notch.py) and the position-only mask's bins (methods/position_mask.py, the floor);
    write the detector's threshold and rates, the chosen CFAR configuration, the IoU of every P_fa tried, the
    measured false-alarm rates on the same pulses without interference (at the nominal and at the chosen
    P_fa) and the position mask's bins as JSON."""
    import json
    from dataclasses import asdict, replace

    from ..files import atomic_output
    from ..methods.notch import calibrate_pfa, false_alarm_rate
    from ..methods.position_mask import calibrate_position_bins
    from ..methods.pulse_detector import calibrate as calibrate_detector, pulse_statistic, rates

    data = load_npz(split_file)
    meta = read_meta(data)
    sensor = get_sensor(meta["sensor"])
    cfg = STFTConfig(int(meta["n_fft"]), int(meta["hop"]), two_sided=True)
    band = in_band_bins(sensor, cfg.n_fft)
    rng = np.random.default_rng(seed)
    powers, labels, clean_powers = [], [], []
    for clean, rfi in zip(data["echoes"], data["rfi"]):
        chosen = training_lines(rfi, lines_per_scene, rng)
        powers.append(np.abs(spectrograms(clean[chosen] + rfi[chosen], cfg)) ** 2)
        clean_powers.append(np.abs(spectrograms(clean[chosen], cfg)) ** 2)
        labels.append(rfi_label(clean[chosen], rfi[chosen], cfg))
    statistics = [pulse_statistic(clean + rfi) for clean, rfi in zip(data["echoes"], data["rfi"])]
    truth = [affected_lines(rfi) for rfi in data["rfi"]]
    detector = calibrate_detector(statistics, truth)
    detected = np.concatenate([detector.flags(s) for s in statistics])
    best, scores = calibrate_pfa(powers, labels, band, nominal)
    chosen_cfg = replace(nominal, pfa=best)
    bins, bin_scores = calibrate_position_bins(labels, band)
    # where the interference sits: the label positives' share in the bins nearest 0 Hz, against chance
    per_bin = sum(label[:, band].astype(bool).sum(axis=(0, 2)) for label in labels)
    nearest = np.argsort(np.abs(np.fft.fftfreq(cfg.n_fft, 1.0 / sensor.sampling_hz)[band]), kind="stable")
    central = nearest[:CENTRAL_BINS]
    result = {"detector": {"threshold_db": detector.threshold_db, "pulses": int(detected.size),
                           **rates(detected, np.concatenate(truth))},
              "cfar": asdict(chosen_cfg), "nominal_pfa": nominal.pfa,
              "position_mask": {"bins": bins, "iou": bin_scores[len(bins)], "n_fft": cfg.n_fft},
              "central_bins": {"bins": int(central.size), "label_share": float(per_bin[central].sum() / max(per_bin.sum(), 1)),
                               "chance_share": float(central.size / band.sum())},
              "iou_by_pfa": {f"{k:g}": round(v, 5) for k, v in scores.items()},
              "false_alarm_rate": false_alarm_rate(clean_powers, band, chosen_cfg),
              "nominal_false_alarm_rate": false_alarm_rate(clean_powers, band, nominal),
              "pulses": int(sum(len(p) for p in powers)), "split": meta["split"], "sensor": meta["sensor"]}
    with atomic_output(output, suffix=".json") as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    return result


def training_images(split_file: Path, lines_per_scene: int, multiple: int, seed: int, output: Path) -> None:
    """Per-pulse training images of a split: features, Eq. 13 labels and clean features.

    From each scene, ``lines_per_scene`` affected pulses are drawn; images are cropped to multiples of
    ``multiple`` (the networks' size unit). ``scene`` says which scene each image comes from (validation
    holds out whole scenes).
    """
    data = load_npz(split_file)
    meta = read_meta(data)
    cfg = STFTConfig(int(meta["n_fft"]), int(meta["hop"]), two_sided=True)
    rng = np.random.default_rng(seed)
    features, labels, clean_features, scenes = [], [], [], []
    for scene, (clean, rfi) in enumerate(zip(data["echoes"], data["rfi"])):
        chosen = training_lines(rfi, lines_per_scene, rng)
        scenes.append(np.full(len(chosen), scene))
        interfered_spec = spectrograms(clean[chosen] + rfi[chosen], cfg)
        clean_spec = spectrograms(clean[chosen], cfg)
        # per pulse, as evaluation and suppress-rfi compute them on whole records (methods/rfi_suppression.py)
        x = network_input(interfered_spec)
        # the clean target on the interfered pulse's feature scale, so PISNet's output can be inverted
        target = normalised_magnitude(np.abs(clean_spec), interfered_spec)
        label = rfi_label(clean[chosen], rfi[chosen], cfg)
        h = (x.shape[1] // multiple) * multiple
        w = (x.shape[2] // multiple) * multiple
        features.append(x[:, :h, :w])
        labels.append(label[:, :h, :w].astype(np.float32))
        clean_features.append(target[:, :h, :w])
    meta_features = feature_meta(cfg.n_fft, cfg.hop)
    save_npz(output, features=np.concatenate(features), labels=np.concatenate(labels),
             clean_features=np.concatenate(clean_features), scene=np.concatenate(scenes),
             feature_n_fft=np.asarray(meta_features["n_fft"]),
             feature_hop=np.asarray(meta_features["hop"]), feature_normalisation=np.asarray(meta_features["normalisation"]))


def evaluate(split_file: Path, method: str, output: Path, *, checkpoint: Path | None = None,
             cfar: CFARConfig = CFARConfig(), device: str = "auto", examples: Path | None = None,
             calibration: Path | None = None) -> None:
    """Tidy metric rows of one method on every scene of a split (and, optionally, example arrays).

    ``calibration``: the JSON of :func:`calibrate_notch` (the replicate's training data): its pulse detector
    picks the pulses every method processes -- the others pass untouched, and an interfered pulse it misses
    is scored unprocessed (Algorithm 1, step 1); a calibrated method (registry ``params["calibrated"]``)
    also takes its tuned CFAR configuration in place of ``cfar`` and the position mask's bins. Without it,
    every pulse is processed. Every row records the detector's outcome on its scene."""
    from ..methods.pulse_detector import load_detector

    from ..devices import resolve_device
    from ..methods.train_rfi import load_trained, size_multiple
    from ..methods.training import training_seed

    declared = registry.get("S1", "rfi", method)
    data = load_npz(split_file)
    meta = read_meta(data)
    sensor = get_sensor(meta["sensor"])
    cfg = STFTConfig(int(meta["n_fft"]), int(meta["hop"]), two_sided=True)
    dev = resolve_device(device)
    context = {"cfar": cfar, "device": dev, "net": None}
    detector = None
    if calibration is not None:
        detector = load_detector(calibration)
        if declared.params.get("calibrated"):
            context["cfar"] = load_calibration(calibration)
            context["position_bins"] = load_position_bins(calibration, cfg.n_fft)
    trained_with = None         # the network's training seed: the unit of pairing when a run trains several
    if declared.trained:
        if checkpoint is None:
            raise ValueError(f"method {method} is trained: give its weights (--checkpoint)")
        net, trained_cfg, features = load_trained(checkpoint, with_features=True)
        check_features(features, cfg, str(checkpoint))
        context.update(net=net.to(dev), multiple=size_multiple(trained_cfg))
        trained_with = training_seed(checkpoint)
    band = in_band_bins(sensor, cfg.n_fft)      # the receiver's bins: the mask metrics count these
    shown = example_scenes(data["rfi"], sensor) if examples is not None else {}
    rows, example = [], []
    for i, (clean, rfi) in enumerate(zip(data["echoes"], data["rfi"])):
        interfered = clean + rfi
        start = time.perf_counter()
        # step 1 of Algorithm 1, shared: only the detected pulses are processed
        detected = detector.detect(interfered) if detector is not None else np.ones(len(interfered), bool)
        # only oracle rows read the truth (registry: paper="oracle")
        result = declared.run(interfered, cfg, {**context, "clean": clean, "rfi": rfi})
        restored = np.where(detected[:, None], result.echoes, interfered).astype(np.complex64)
        mask = None if result.mask is None else result.mask & detected[:, None, None]
        seconds = time.perf_counter() - start
        truth = affected_lines(rfi)
        clean_image = focus(clean, sensor)
        image = focus(restored, sensor)
        kind, sir = str(data["kind"][i]), float(data["sir_db"][i])
        base = {"study": STUDY, "experiment": EXPERIMENT_OF_SPLIT[meta["split"]],
                "dataset": f"{meta['source']}-{meta['sensor']}", "domain": meta["sensor"], "method": method,
                "task": "rfi-suppression", "condition": f"{kind} SIR {sir:.1f} dB", "item": i,
                "seed": int(meta["seed"]), REPLICATE: int(meta["seed"]), "training_seed": trained_with, "split": meta["split"], "sensor": meta["sensor"], "kind": kind,
                "sir_db": sir, "wall_seconds": seconds, "device": str(dev),
                "pulses_interfered": int(truth.sum()), "pulses_detected": int((detected & truth).sum()),
                "pulses_false_alarm": int((detected & ~truth).sum()), "pulses_clean": int((~truth).sum())}
        values = {"psnr": psnr_db(clean_image, image), "me": me(image, clean_image),
                  # ME falls when energy is thrown away: this ratio shows whether a lower ME was bought so
                  "energy_ratio": float(np.sum(np.abs(image) ** 2) / np.sum(np.abs(clean_image) ** 2)),
                  "scatterer_kept": float(np.mean(scatterer_kept(
                      clean_image, image, scatterer_positions(data["scatterers"][i]))))}
        if mask is not None:
            lines = affected_lines(rfi)
            label = rfi_label(clean[lines], rfi[lines], cfg)
            values["pa"] = pixel_accuracy(mask[lines][:, band], label[:, band])
            values["iou"] = iou(mask[lines][:, band], label[:, band])
            values["pa_full_band"] = pixel_accuracy(mask[lines], label)
            values["iou_full_band"] = iou(mask[lines], label)
            points = data["point_echoes"][i][lines]
            masked = scatterer_masked(mask[lines][:, band], spectrograms(points, cfg)[:, band],
                                      spectrograms(clean[lines] - points, cfg)[:, band], label[:, band])
            if np.isfinite(masked):      # undefined where no cell is scatterer-dominated: no row, for any method
                values["scatterer_masked"] = masked
        rows += [{**base, "metric": k, "value": float(v)} for k, v in values.items()]
        if i in shown:
            line, share = shown[i]
            example.append({
                "scene": i, "line": line, "band_share": share, "kind": kind, "sir_db": sir,
                "spectrogram": np.abs(spectrograms(restored[line:line + 1], cfg)[0]),
                "interfered_spectrogram": np.abs(spectrograms(interfered[line:line + 1], cfg)[0]),
                "label": rfi_label(clean[line:line + 1], rfi[line:line + 1], cfg)[0],
                "mask": (mask[line] if mask is not None else np.zeros((0, 0), bool)),
                "image": np.abs(image), "clean_image": np.abs(clean_image)})
    write_rows(rows, output)
    if examples is not None:
        save_examples(examples, example, sensor, cfg)


def save_examples(path: Path, examples: list[dict], sensor, cfg: STFTConfig) -> None:
    """Figures 6-9's arrays of one method: per shown scene (stacked, in band order) its pulse's spectrogram
    after the method and before it, its Eq. 13 label and the method's mask (empty for a method without
    one), and the focused images; the frequency axis (MHz, FFT order) and the receiver band's half-width."""
    examples = sorted(examples, key=lambda e: e["band_share"])
    stacked = {key: np.stack([e[key] for e in examples]) for key in examples[0]}
    floats = ("spectrogram", "interfered_spectrogram", "image", "clean_image")
    save_npz(path, **{k: (v.astype(np.float32) if k in floats else v) for k, v in stacked.items()},
             freq_mhz=np.fft.fftfreq(cfg.n_fft, 1.0 / sensor.sampling_hz) / 1e6,
             half_band_mhz=np.asarray(sensor.bandwidth_hz / 2e6))


__all__ = ["Geometry", "make_split", "training_images", "calibrate_notch", "evaluate", "RFI_KINDS"]
