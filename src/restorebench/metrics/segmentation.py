"""Pixel-wise binary segmentation scores, shared by S1 (RFI masks, DIFNet Eqs. 21-22) and S3 (building masks).

With TP, FP, FN, TN counted over every pixel of the predicted and labelled masks:
accuracy = (TP + TN) / total; IoU = TP / (TP + FP + FN); F1 = 2 TP / (2 TP + FP + FN). IoU and F1 are 1.0
when both masks are empty (nothing to find, nothing found).
"""
from __future__ import annotations

import numpy as np


def _masks(predicted, label) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(predicted).astype(bool), np.asarray(label).astype(bool)
    if p.shape != t.shape:
        raise ValueError(f"predicted mask has shape {p.shape}, label {t.shape}")
    return p, t


def pixel_accuracy(predicted, label) -> float:
    p, t = _masks(predicted, label)
    return float(np.mean(p == t))


def iou(predicted, label) -> float:
    p, t = _masks(predicted, label)
    union = np.logical_or(p, t).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, t).sum() / union)


def f1(predicted, label) -> float:
    p, t = _masks(predicted, label)
    tp = np.logical_and(p, t).sum()
    wrong = np.logical_xor(p, t).sum()
    return 1.0 if tp + wrong == 0 else float(2 * tp / (2 * tp + wrong))
