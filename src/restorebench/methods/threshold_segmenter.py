"""S3's floors (SPEC S3, "Scarce, not absurd"): a threshold segmenter and a constant-height regressor, tuned
on the labelled patches of one labelled fraction and nothing else.

* Segmenter: buildings are where the box-filtered log-intensity log(|z|^2 + eps) lies on one side of a
  threshold. Three constants -- the box size, the side (brighter or darker than the threshold) and the
  threshold -- are chosen to maximise the pooled F1 over the labelled patches (thresholds tried: the
  filtered values' quantiles). A network that does not beat it has learned how bright buildings are, not
  what they look like.
* Regressor: one height, the median true height over the labelled patches' building footprints, placed
  wherever the segmenter marks a building (0 m elsewhere): logRMSE over a whole area is then mostly a
  segmentation score, which this floor makes visible.

scipy.ndimage.uniform_filter is the box filter; the search is a grid, written here because it is three
nested loops over a few values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from ..metrics.segmentation import f1

BOX_SIZES = (1, 3, 5, 9, 15, 25)       # pixels
QUANTILES = np.linspace(0.02, 0.98, 49)


@dataclass(frozen=True)
class ThresholdFloor:
    box: int
    brighter: bool          # buildings brighter than the threshold (else darker)
    threshold: float        # on the filtered log-intensity
    height: float           # metres, the constant height inside the predicted footprints
    train_f1: float         # pooled F1 on the labelled patches it was tuned on


def filtered_log_intensity(slc: np.ndarray, box: int) -> np.ndarray:
    """Box-filtered log(|z|^2 + 1e-12) of a complex image (or a stack of them, filtered image by image)."""
    log_intensity = np.log(np.abs(slc) ** 2 + 1e-12)
    size = (1, box, box) if log_intensity.ndim == 3 else box
    return scipy.ndimage.uniform_filter(log_intensity, size=size, mode="reflect")


def tune(slc: np.ndarray, mask: np.ndarray, height: np.ndarray) -> ThresholdFloor:
    """The floor's constants from labelled patches: ``slc`` (n, h, w) complex, ``mask`` (n, h, w) building
    footprints, ``height`` (n, h, w) metres. Ties go to the smaller box and the first threshold tried."""
    if slc.shape[0] == 0:
        raise ValueError("the threshold floor needs at least one labelled patch")
    label = mask.astype(bool)
    best = None
    for box in BOX_SIZES:
        values = filtered_log_intensity(slc, box)
        for threshold in np.quantile(values, QUANTILES):
            for brighter in (True, False):
                predicted = values >= threshold if brighter else values < threshold
                score = f1(predicted, label)          # pooled over every labelled patch's pixels
                if best is None or score > best[0]:
                    best = (score, box, brighter, float(threshold))
    score, box, brighter, threshold = best
    footprint = height[label]
    level = float(np.median(footprint)) if footprint.size else 0.0
    return ThresholdFloor(box, brighter, threshold, level, score)


def predict(floor: ThresholdFloor, slc: np.ndarray) -> dict[str, np.ndarray]:
    """{"mask": buildings (bool), "height": the constant height inside them, 0 m outside} for an image."""
    values = filtered_log_intensity(slc, floor.box)
    mask = values >= floor.threshold if floor.brighter else values < floor.threshold
    return {"mask": mask, "height": np.where(mask, floor.height, 0.0).astype(np.float32)}
