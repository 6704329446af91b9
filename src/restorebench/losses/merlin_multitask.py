"""Losses of the MERLIN-multitask study (S3): MERLIN's speckle likelihood and the supervised head losses.

* :func:`merlin_nll` (paper Eq. 3, authors' ``loss_function``): with o the network's normalised output from
  one part of the SLC and b the *other* part, log R = 2(o(M - m) + m) and the loss is
  mean(0.5 log R + b^2 / R) -- the negative log-likelihood of b ~ N(0, R/2) up to a constant, minimised
  by R = 2 b^2 whose expectation is the reflectivity. The authors multiply the mean by an extra 1/batch
  (``batch_factor``); it only rescales the learning rate with the batch size, so we leave it off by default
  and keep it as an option.
* :func:`weighted_bce` (Eq. 5): binary cross-entropy on logits, positives weighted by ``pos_weight`` (the
  negative/positive pixel ratio of the labelled training masks); torch's implementation, which is stable
  for large logits.
* :func:`height_mse` (Eq. 6): mean squared height error in metres.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..physics.speckle import LogConstants, log_reflectivity


def merlin_nll(output: torch.Tensor, other_part: torch.Tensor, constants: LogConstants,
               batch_factor: bool = False) -> torch.Tensor:
    log_r = log_reflectivity(output, constants)
    # the authors add 1e-6 to R "must be nonzero"; exp(-log R) is finite wherever R is, so we do without
    loss = torch.mean(0.5 * log_r + other_part ** 2 * torch.exp(-log_r))
    return loss / output.shape[0] if batch_factor else loss


def weighted_bce(logits: torch.Tensor, mask: torch.Tensor, pos_weight: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, mask, pos_weight=torch.tensor(pos_weight, device=logits.device))


def height_mse(predicted: torch.Tensor, height: torch.Tensor) -> torch.Tensor:
    return torch.mean((predicted - height) ** 2)
