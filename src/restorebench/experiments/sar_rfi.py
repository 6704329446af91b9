"""S1, SAR RFI suppression (DIFNet): the steps of the study, one function per workflow job.

scene sets (train / test-same on the MiniSAR-like sensor, test-cross on the Sentinel-1-like one) -> echoes
+ RFI (one kind and SIR per scene) -> training images (per-pulse spectrograms) -> trained DIFNet and PISNet
-> evaluation of interfered / notch / PISNet / DIFNet per scene -> tidy rows -> tables, figures, claims.

Mask metrics (PA, IoU) are computed over the spectrograms of the affected pulses only (ours: the
unaffected pulses are trivially all-negative and would inflate PA). Image metrics compare focused
magnitude images with the focused clean echoes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..audio_io import load_npz, save_npz
from ..tidy import write_rows
from ..data.scenes import SPLIT_SEEDS, make_scene
from ..dsp import STFTConfig
from ..metrics.sar import iou, me, pixel_accuracy, psnr_db, scatterer_energy_kept
from ..methods.notch import CFARConfig
from .. import registry
from ..methods.rfi_suppression import network_input, spectrograms
from ..physics.rfi import RFI_KINDS, add_rfi, realised_sir_db, rfi_label
from ..physics.sar import focus, get_sensor, simulate_echoes

STUDY = "S1"
EXPERIMENT_OF_SPLIT = {"test-same": "table4", "test-cross": "table5"}
SPLIT_SENSOR_ROLE = {"train": "train", "test-same": "same", "test-cross": "cross"}


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
               kinds: tuple[str, ...], seed: int, output: Path) -> None:
    """Simulated scenes, clean echoes and RFI of one split (see :func:`write_split`)."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_SEEDS)}")
    sensor = get_sensor(sensor_name)
    scenes = []
    for i in range(n_scenes):
        scene = make_scene((geometry.azimuth, geometry.range), sensor, seed=SPLIT_SEEDS[split] + 1000 * seed + i)
        scenes.append((scene.reflectivity, scene.scatterers))
    write_split(split, sensor_name, scenes, geometry, sir_range, kinds, seed, output, source="simulated")


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
                           output: Path, scatterers: int = 6) -> None:
    """A split whose scenes are tiles of real focused complex images (read with sarpy).

    Files under ``folder`` matching ``patterns`` are read in sorted order and cut into non-overlapping
    azimuth x range tiles; ``n_scenes`` tiles are drawn with a seeded generator (test splits draw from the
    other end of the shuffled list than the training split, so they do not share tiles), band-limited to the
    sensor, and their brightest isolated points are recorded as the strong scatterers.
    """
    from ..data.sar_real import read_complex_image
    from ..physics.sar import band_limit

    folder = Path(folder)
    files = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
    if not files:
        raise FileNotFoundError(f"{folder}: no complex SAR images match {patterns}; see the README's real-data "
                                f"section for what to place there")
    sensor = get_sensor(sensor_name)
    pool = []
    for path in files:
        image = read_complex_image(path)
        for a in range(0, image.shape[0] - geometry.azimuth + 1, geometry.azimuth):
            for r in range(0, image.shape[1] - geometry.range + 1, geometry.range):
                pool.append((path, a, r))
    if len(pool) < n_scenes:
        raise ValueError(f"{folder}: {len(pool)} tiles of {geometry.azimuth}x{geometry.range} in {len(files)} "
                         f"files, {n_scenes} needed")
    order = np.random.default_rng(seed).permutation(len(pool))
    picked = order[:n_scenes] if split == "train" else order[::-1][:n_scenes]
    scenes, cache = [], {}
    for index in picked:
        path, a, r = pool[index]
        image = cache.setdefault(path, read_complex_image(path))
        tile = band_limit(image[a:a + geometry.azimuth, r:r + geometry.range], sensor)
        scenes.append((tile, strongest_points(tile, scatterers)))
    write_split(split, sensor_name, scenes, geometry, sir_range, kinds, seed, output, source="real")


def write_split(split: str, sensor_name: str, scenes, geometry: Geometry, sir_range: tuple[float, float],
                kinds: tuple[str, ...], seed: int, output: Path, source: str) -> None:
    """Echoes of each (reflectivity, scatterers) scene plus RFI: scene i gets kind i mod len(kinds) and an SIR
    drawn uniformly in ``sir_range``."""
    lo, hi = sir_range
    if not -40.0 <= lo <= hi <= 40.0:
        raise ValueError(f"s1.sir_db {list(sir_range)} must be an increasing range inside -40...40 dB")
    sensor = get_sensor(sensor_name)
    rng = np.random.default_rng([seed, SPLIT_SEEDS[split]])
    echoes, rfis, scatterers, sirs, kind_list, realised = [], [], [], [], [], []
    for i, (reflectivity, points) in enumerate(scenes):
        clean = simulate_echoes(reflectivity, sensor)
        kind = kinds[i % len(kinds)]
        sir = float(rng.uniform(lo, hi))
        interference = add_rfi(clean, sensor, kind, sir, rng)
        echoes.append(clean)
        rfis.append(interference.rfi)
        scatterers.append(points)
        sirs.append(sir)
        realised.append(realised_sir_db(clean, interference))
        kind_list.append(kind)
    save_npz(output, echoes=np.stack(echoes), rfi=np.stack(rfis), scatterers=np.stack(scatterers),
             sir_db=np.asarray(sirs), realised_sir_db=np.asarray(realised), kind=np.asarray(kind_list),
             meta_split=split, meta_sensor=sensor_name, meta_n_fft=geometry.n_fft, meta_hop=geometry.hop,
             meta_seed=seed, meta_source=source)


def _meta(data: dict) -> dict:
    return {k[5:]: (v.item() if v.ndim == 0 else v) for k, v in data.items() if k.startswith("meta_")}


def affected_lines(rfi: np.ndarray) -> np.ndarray:
    return np.any(rfi != 0, axis=-1)


def training_images(split_file: Path, lines_per_scene: int, multiple: int, seed: int, output: Path) -> None:
    """Per-pulse training images of a split: features, Eq. 13 labels and clean features.

    From each scene, ``lines_per_scene`` affected pulses are drawn; images are cropped to multiples of
    ``multiple`` (the networks' size unit).
    """
    data = load_npz(split_file)
    meta = _meta(data)
    cfg = STFTConfig(int(meta["n_fft"]), int(meta["hop"]), two_sided=True)
    rng = np.random.default_rng(seed)
    features, labels, clean_features = [], [], []
    for clean, rfi in zip(data["echoes"], data["rfi"]):
        lines = np.where(affected_lines(rfi))[0]
        chosen = rng.choice(lines, size=min(lines_per_scene, lines.size), replace=False)
        interfered_spec = spectrograms(clean[chosen] + rfi[chosen], cfg)
        clean_spec = spectrograms(clean[chosen], cfg)
        x = network_input(interfered_spec)
        # the clean target uses the interfered set's normalisation, so PISNet's output can be inverted
        mag = np.abs(clean_spec)
        scale = max(float(np.median(np.abs(interfered_spec))), 1e-12)
        top = max(float(np.log1p(np.abs(interfered_spec) / scale).max()), 1e-12)
        target = np.clip(np.log1p(mag / scale) / top, 0, 1).astype(np.float32)
        label = rfi_label(clean[chosen], rfi[chosen], cfg)
        h = (x.shape[1] // multiple) * multiple
        w = (x.shape[2] // multiple) * multiple
        features.append(x[:, :h, :w])
        labels.append(label[:, :h, :w].astype(np.float32))
        clean_features.append(target[:, :h, :w])
    save_npz(output, features=np.concatenate(features), labels=np.concatenate(labels),
             clean_features=np.concatenate(clean_features))


def evaluate(split_file: Path, method: str, output: Path, *, checkpoint: Path | None = None,
             cfar: CFARConfig = CFARConfig(), device: str = "auto", examples: Path | None = None) -> None:
    """Tidy metric rows of one method on every scene of a split (and, optionally, example arrays)."""
    from ..methods.dip import resolve_device
    from ..methods.train_rfi import load_trained

    declared = registry.get("S1", "rfi", method)
    data = load_npz(split_file)
    meta = _meta(data)
    sensor = get_sensor(meta["sensor"])
    cfg = STFTConfig(int(meta["n_fft"]), int(meta["hop"]), two_sided=True)
    dev = resolve_device(device)
    context = {"cfar": cfar, "device": dev, "net": None}
    if declared.trained:
        if checkpoint is None:
            raise ValueError(f"method {method} is trained: give its weights (--checkpoint)")
        net, _ = load_trained(checkpoint)
        context["net"] = net.to(dev)
    rows, example = [], {}
    for i, (clean, rfi) in enumerate(zip(data["echoes"], data["rfi"])):
        interfered = clean + rfi
        start = time.perf_counter()
        result = declared.run(interfered, cfg, context)
        restored, mask = result.echoes, result.mask
        seconds = time.perf_counter() - start
        clean_image = focus(clean, sensor)
        image = focus(restored, sensor)
        kind, sir = str(data["kind"][i]), float(data["sir_db"][i])
        base = {"study": STUDY, "experiment": EXPERIMENT_OF_SPLIT[meta["split"]],
                "dataset": f"{meta['source']}-{meta['sensor']}", "domain": meta["sensor"], "method": method,
                "task": "rfi-suppression", "condition": f"{kind} SIR {sir:.1f} dB", "item": i,
                "seed": int(meta["seed"]), "split": meta["split"], "sensor": meta["sensor"], "kind": kind,
                "sir_db": sir, "wall_seconds": seconds, "device": str(dev)}
        values = {"psnr": psnr_db(clean_image, image), "me": me(image, clean_image),
                  "scatterer_energy_kept": float(np.mean(scatterer_energy_kept(clean_image, image,
                                                                               data["scatterers"][i])))}
        if mask is not None:
            lines = affected_lines(rfi)
            label = rfi_label(clean[lines], rfi[lines], cfg)
            values["pa"] = pixel_accuracy(mask[lines], label)
            values["iou"] = iou(mask[lines], label)
        rows += [{**base, "metric": k, "value": float(v)} for k, v in values.items()]
        if examples is not None and i == 0:
            affected = np.where(affected_lines(rfi))[0]
            line = int(affected[len(affected) // 2])     # a pulse from the middle of the interference
            spec = spectrograms(restored[line:line + 1], cfg)[0]
            example = {"spectrogram": np.abs(spec).astype(np.float32), "image": np.abs(image).astype(np.float32),
                       "clean_image": np.abs(clean_image).astype(np.float32), "line": np.asarray(line),
                       "interfered_spectrogram": np.abs(spectrograms(interfered[line:line + 1], cfg)[0]).astype(np.float32)}
    write_rows(rows, output)
    if examples is not None:
        save_npz(examples, **example)


__all__ = ["Geometry", "make_split", "training_images", "evaluate", "RFI_KINDS"]
