"""The position-only RFI mask, S1's floor (ours, SPEC S1 "Methods"): the fixed set of frequency bins most
often interfered on the training pulses, zeroed on every pulse at test time. It sees no test data: a learned
mask that does not beat it by a clear margin has learned where interference sits, not what it looks like.

Its one tuned constant is how many bins it zeroes: the k that maximises the pooled IoU (in-band, as the
evaluation counts) on the training pulses, over the bins ranked by how often the Eq. 13 label marks them.
Like every S1 method it processes only the pulses the shared detector flags (methods/pulse_detector.py,
Algorithm 1 step 1); the others pass untouched.
"""
from __future__ import annotations

import numpy as np


def calibrate_position_bins(labels: list[np.ndarray], band: np.ndarray) -> tuple[list[int], dict[int, float]]:
    """(bins to zero, {k: pooled IoU of the top-k bins}) from the Eq. 13 labels of training pulses, each a
    (pulses, bins, frames) array; only the ``band`` bins (a boolean over the bins) are candidates.

    A mask that zeroes whole bins has, for the top-k bins, intersection = the labelled cells of those bins
    and union = all labelled cells + the k bins' cells - that intersection: every k is scored in one pass."""
    labelled = sum(label[:, band].astype(bool).sum(axis=(0, 2)) for label in labels)    # per in-band bin
    cells_per_bin = sum(label.shape[0] * label.shape[2] for label in labels)
    order = np.argsort(-labelled, kind="stable")
    inter = np.concatenate([[0], np.cumsum(labelled[order])])
    k = np.arange(inter.size)
    union = labelled.sum() + k * cells_per_bin - inter
    scores = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    best = int(np.argmax(scores))                      # the smallest k among equals: argmax takes the first
    in_band = np.flatnonzero(band)
    return sorted(int(b) for b in in_band[order[:best]]), {int(i): float(s) for i, s in zip(k, scores)}


def position_mask(shape: tuple[int, int, int], bins: list[int]) -> np.ndarray:
    """A (pulses, bins, frames) boolean mask zeroing ``bins`` on every pulse and frame."""
    mask = np.zeros(shape, dtype=bool)
    mask[:, np.asarray(bins, dtype=int), :] = True
    return mask
