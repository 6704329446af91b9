"""Metrics of the SAR RFI study (S1), DIFNet paper Eqs. 21-24, plus the kept energy at known scatterers.

* :func:`pixel_accuracy` (Eq. 21) = (TP + TN) / total, over every time-frequency pixel;
* :func:`iou` (Eq. 22) = |A and B| / |A or B|, A predicted RFI pixels, B labelled RFI pixels (1.0 when both
  are empty);
* :func:`psnr_db` (Eq. 23) = 20 log10(max|X| / RMSE(|X_hat|, |X|)) on focused magnitude images, the peak
  being the clean image's maximum;
* :func:`me` (Eq. 24) = entropy x mean of the focused magnitude image divided by the clean image's maximum.
  Entropy rule (the paper gives none; ours): Shannon entropy in bits of a 256-bin histogram of the
  normalised magnitude over [0, 1], values above 1 counted in the last bin;
* :func:`scatterer_energy_kept` (claim C5) = coherent energy kept in a 3x3 window around each known strong
  scatterer: |sum(r c*)|^2 / (sum |c|^2)^2 with c the clean and r the restored complex image. It is 1 for an
  intact scatterer, 0 for a removed one, and interference left in the window (uncorrelated with c) does not
  count as kept energy.
"""
from __future__ import annotations

import numpy as np

from .segmentation import iou, pixel_accuracy  # noqa: F401  (Eqs. 21-22, shared with S3)

HISTOGRAM_BINS = 256


def psnr_db(clean_image, restored_image) -> float:
    x, y = np.abs(clean_image), np.abs(restored_image)
    rmse = np.sqrt(np.mean((x - y) ** 2))
    return float("inf") if rmse == 0 else float(20 * np.log10(x.max() / rmse))


def entropy_bits(normalised: np.ndarray) -> float:
    hist, _ = np.histogram(np.clip(normalised, 0.0, 1.0), bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    p = hist[hist > 0] / hist.sum()
    return float(-(p * np.log2(p)).sum())


def me(image, clean_image) -> float:
    normalised = np.abs(image) / np.abs(clean_image).max()
    return entropy_bits(normalised) * float(normalised.mean())


def scatterer_energy_kept(clean_image, restored_image, positions, half: int = 1) -> np.ndarray:
    kept = []
    for a, r in np.asarray(positions):
        window = (slice(max(a - half, 0), a + half + 1), slice(max(r - half, 0), r + half + 1))
        c, x = clean_image[window], restored_image[window]
        energy = np.sum(np.abs(c) ** 2)
        kept.append(np.abs(np.sum(x * np.conj(c))) ** 2 / energy ** 2)
    return np.asarray(kept)
