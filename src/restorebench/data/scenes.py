"""Deterministic complex SAR scenes for the RFI study (S1), in physical units, so that what a scene holds
follows the sensor's resolution: clutter regions and texture with sizes in metres, strong scatterers with
radar cross-sections in m^2, and a scatterer count from an areal density.

Recipe (ours; SPEC S1 "echo simulation" and "simulation requirements"):

* a pixel is ``range_pixel_m x azimuth_pixel_m`` of the sensor; its mean reflectivity |s|^2 is
  sigma0 x pixel area (m^2), so every value is a radar cross-section;
* fields: a background sigma0 and up to three rectangular parcels of ``parcel_m`` metres with their own
  sigma0 (``sigma0_db``), one road (``road_sigma0_db``, ``road_m`` wide) -- at MiniSAR-class resolution a
  128 x 256 scene (53 x 21 m) sees one or two boundaries, at Sentinel-1-class resolution (2.9 x 0.26 km)
  several parcels;
* texture: a log-normal field whose correlation length is drawn in metres (``texture_m``), hence many
  pixels at fine and about one pixel at coarse resolution;
* fully developed speckle: each pixel is sqrt(mean) times a circular complex Gaussian;
* strong scatterers -- building corners and corner reflectors, ``rcs_dbsm`` = 20-40 dBsm (a 1 m trihedral
  is about 36 dBsm at X band; building dihedrals 20-40 dBsm in the literature) -- ``min_scatterers`` per
  scene plus a Poisson number at ``scatterers_per_km2``, capped at ``max_scatterers`` (the position array
  is padded with -1 to that length). Against a -15 dB clutter they stand 50-70 dB above the clutter of a
  MiniSAR-class pixel (0.03 m^2) and 20-40 dB above a Sentinel-1-class one (30 m^2): bright enough in the
  former to draw their chirp as a line in the time-frequency picture of a pulse (claim C5's mechanism);
* the scene is band-limited to what the sensor images (:func:`restorebench.physics.sar.band_limit`).

Scene sets are separated by seed: see :data:`SPLIT_SEEDS`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from ..physics.sar import Sensor, band_limit

SPLIT_SEEDS = {"train": 10_000, "test-same": 20_000, "test-cross": 30_000}


@dataclass(frozen=True)
class SceneConfig:
    """Physical make-up of a simulated scene (see the module docstring); sizes in metres."""

    sigma0_db: tuple[float, float] = (-20.0, -8.0)       # fields, parcels
    road_sigma0_db: float = -25.0
    road_m: float = 6.0
    parcel_m: tuple[float, float] = (10.0, 300.0)
    texture_m: tuple[float, float] = (2.0, 20.0)
    texture_db: float = 2.6                              # std of the log-texture (0.6 in natural log)
    rcs_dbsm: tuple[float, float] = (20.0, 40.0)
    min_scatterers: int = 4
    scatterers_per_km2: float = 50.0
    max_scatterers: int = 24
    margin: int = 16                                     # pixels kept free of scatterers at the border


@dataclass
class Scene:
    reflectivity: np.ndarray           # complex64 (azimuth, range), band-limited, |s|^2 in m^2
    scatterers: np.ndarray             # (max_scatterers, 2) int: azimuth, range of the points; -1 rows = none
    clutter_mean: float                # mean |reflectivity|^2 of the clutter before the points (m^2)
    rcs: np.ndarray                    # (max_scatterers,) radar cross-section of each point (m^2), 0 = none
    points: np.ndarray                 # complex64: the strong scatterers alone, band-limited (part of reflectivity)


def scatterer_positions(scatterers: np.ndarray) -> np.ndarray:
    """The rows of a padded (n, 2) position array that hold a scatterer."""
    scatterers = np.asarray(scatterers)
    return scatterers[scatterers[:, 0] >= 0]


def make_scene(shape: tuple[int, int], sensor: Sensor, seed: int, cfg: SceneConfig = SceneConfig()) -> Scene:
    """One scene from its seed (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_az, n_rg = shape
    pixel = np.array([sensor.azimuth_pixel_m, sensor.range_pixel_m])      # metres per pixel, per axis
    area_m2 = float(pixel.prod())

    def metres_to_pixels(metres):
        return np.maximum(np.asarray(metres, dtype=float) / pixel, 0.0)

    sigma0 = np.full(shape, 10 ** (rng.uniform(*cfg.sigma0_db) / 10))
    for _ in range(int(rng.integers(1, 4))):
        size = np.ceil(metres_to_pixels(rng.uniform(*cfg.parcel_m, size=2))).astype(int)
        start = [int(rng.integers(-size[k] // 2, shape[k])) for k in range(2)]
        sigma0[max(start[0], 0):start[0] + size[0], max(start[1], 0):start[1] + size[1]] = \
            10 ** (rng.uniform(*cfg.sigma0_db) / 10)
    road_width = max(1, int(round(cfg.road_m / sensor.range_pixel_m)))
    if road_width < n_rg // 2:
        road = int(rng.integers(0, n_rg - road_width))
        sigma0[:, road:road + road_width] = 10 ** (cfg.road_sigma0_db / 10)
    log_texture = scipy.ndimage.gaussian_filter(rng.standard_normal(shape),
                                                metres_to_pixels(rng.uniform(*cfg.texture_m)), mode="wrap")
    # a correlation longer than the scene leaves a nearly flat field: centre it before scaling its spread
    log_texture = (log_texture - log_texture.mean()) * (cfg.texture_db * np.log(10) / 10) / max(log_texture.std(), 1e-12)
    texture = np.exp(log_texture)
    power = sigma0 * (texture / texture.mean()) * area_m2
    speckle = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
    scene = np.sqrt(power) * speckle
    clutter_mean = float(np.mean(np.abs(scene) ** 2))

    scene_km2 = n_az * n_rg * area_m2 / 1e6
    count = min(cfg.max_scatterers, cfg.min_scatterers + int(rng.poisson(cfg.scatterers_per_km2 * scene_km2)))
    positions = np.full((cfg.max_scatterers, 2), -1, dtype=int)
    rcs = np.zeros(cfg.max_scatterers)
    positions[:count] = np.stack([rng.integers(cfg.margin, n_az - cfg.margin, count),
                                  rng.integers(cfg.margin, n_rg - cfg.margin, count)], axis=1)
    rcs[:count] = 10 ** (rng.uniform(*cfg.rcs_dbsm, size=count) / 10)
    points = np.zeros(shape, dtype=np.complex128)
    for (a, r), sigma in zip(positions[:count], rcs[:count]):
        points[a, r] += np.sqrt(sigma) * np.exp(2j * np.pi * rng.random())
    return Scene(band_limit((scene + points).astype(np.complex64), sensor), positions, clutter_mean, rcs,
                 band_limit(points.astype(np.complex64), sensor))
