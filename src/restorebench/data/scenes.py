"""Deterministic complex SAR scenes for the RFI study (S1): clutter with texture and speckle, plus strong
point scatterers at recorded positions.

Recipe (ours; SPEC S1 "echo simulation"):

* a mean-reflectivity map of a few smooth regions (fields, a road, a built-up block) on a log-normal
  texture field with a 4-16 pixel correlation length;
* fully developed speckle: each pixel is sqrt(texture x region mean) times a circular complex Gaussian;
* ``n_scatterers`` bright points (20-30 dB above the local clutter mean) at positions away from the scene
  border, recorded so that claim C5 (notch filters remove strong scatterers) can be measured;
* the scene is band-limited to what the sensor images (:func:`restorebench.physics.sar.band_limit`).

Scene sets are separated by seed: see :data:`SPLIT_SEEDS`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from ..physics.sar import Sensor, band_limit

SPLIT_SEEDS = {"train": 10_000, "test-same": 20_000, "test-cross": 30_000}


@dataclass
class Scene:
    reflectivity: np.ndarray           # complex64 (azimuth, range), band-limited
    scatterers: np.ndarray             # (n, 2) int: azimuth, range indices of the bright points
    clutter_mean: float                # mean |reflectivity|^2 of the clutter before the points


def make_scene(shape: tuple[int, int], sensor: Sensor, seed: int, n_scatterers: int = 6,
               margin: int = 16) -> Scene:
    """One scene from its seed (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_az, n_rg = shape
    # texture: smoothed log-normal field
    correlation = rng.uniform(4, 16)
    log_texture = scipy.ndimage.gaussian_filter(rng.standard_normal(shape), correlation, mode="wrap")
    log_texture *= 0.6 / max(log_texture.std(), 1e-12)
    texture = np.exp(log_texture)
    # regions: up to three rectangles with their own mean, and a dark road
    means = np.ones(shape)
    for _ in range(int(rng.integers(1, 4))):
        a0, r0 = int(rng.integers(0, n_az // 2)), int(rng.integers(0, n_rg // 2))
        a1, r1 = a0 + int(rng.integers(n_az // 8, n_az // 2)), r0 + int(rng.integers(n_rg // 8, n_rg // 2))
        means[a0:a1, r0:r1] = 10 ** rng.uniform(-0.8, 0.8)
    road = int(rng.integers(margin, n_rg - margin))
    means[:, road:road + max(2, n_rg // 64)] = 0.05
    power = texture * means
    speckle = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
    clutter = np.sqrt(power) * speckle
    clutter_mean = float(np.mean(np.abs(clutter) ** 2))
    positions = np.stack([rng.integers(margin, n_az - margin, n_scatterers),
                          rng.integers(margin, n_rg - margin, n_scatterers)], axis=1)
    scene = clutter.copy()
    for a, r in positions:
        gain_db = rng.uniform(20, 30)
        scene[a, r] += np.sqrt(clutter_mean * 10 ** (gain_db / 10)) * np.exp(2j * np.pi * rng.random())
    return Scene(band_limit(scene.astype(np.complex64), sensor), positions.astype(int), clutter_mean)
