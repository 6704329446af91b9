"""Metrics of the SAR RFI study (S1), DIFNet paper Eqs. 21-24, plus two measures of claim C5.

* :func:`pixel_accuracy` (Eq. 21) = (TP + TN) / total, over every time-frequency pixel;
* :func:`iou` (Eq. 22) = |A and B| / |A or B|, A predicted RFI pixels, B labelled RFI pixels (1.0 when both
  are empty);
* :func:`psnr_db` (Eq. 23) = 20 log10(max|X| / RMSE(|X_hat|, |X|)) on focused magnitude images, the peak
  being the clean image's maximum;
* :func:`me` (Eq. 24) = entropy x mean of the focused magnitude image divided by the clean image's maximum.
  Entropy rule (the paper gives none; ours): Shannon entropy in bits of a 256-bin histogram of the
  normalised magnitude over [0, 1], values above 1 counted in the last bin;
* claim C5, strong scatterers: :func:`scatterer_masked`, the share of scatterer-dominated time-frequency
  cells a mask removes (where notch filtering's failure happens), and :func:`scatterer_kept`, the bounded
  coherent share of each scatterer's clean response left in the focused image.
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


def scatterer_kept(clean_image, restored_image, positions, half: int = 1) -> np.ndarray:
    """Per strong scatterer, the share of its clean response the restored image keeps: the coherent
    projection |<x, c>| / ||c||^2 over the (2 half + 1)^2 window around it, clipped to [0, 1].

    1 = the target is intact (whatever is added uncorrelated with it), 0 = removed. Bounded, unlike the
    energy ratio |<x, c>|^2 / ||c||^4, which interference correlated with the window can push above 1.
    """
    kept = []
    for a, r in np.asarray(positions):
        window = (slice(max(a - half, 0), a + half + 1), slice(max(r - half, 0), r + half + 1))
        c, x = clean_image[window], restored_image[window]
        kept.append(min(1.0, float(np.abs(np.sum(x * np.conj(c))) / np.sum(np.abs(c) ** 2))))
    return np.asarray(kept)


def scatterer_masked(mask, point_tf, rest_tf, label) -> float:
    """Claim C5 where its mechanism lives: the share of the time-frequency cells dominated by the strong
    scatterers' echo (|STFT(points)| > |STFT(everything else but the RFI)|, and not RFI-dominated by the
    Eq. 13 label) that a mask removes. 0 = every scatterer cell kept; NaN when no cell is scatterer-dominated."""
    dominated = (np.abs(point_tf) > np.abs(rest_tf)) & ~np.asarray(label, dtype=bool)
    if not dominated.any():
        return float("nan")
    return float(np.mean(np.asarray(mask, dtype=bool)[dominated]))
