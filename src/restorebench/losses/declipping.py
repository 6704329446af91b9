"""The training losses of the declipping study (S4), each a function of the network, the measurement and
the clipping operator (physics.clipping), never of a linear stand-in for it.

Notation (SPEC S4): y = eta(x) = clip(x, -mu, mu), m = 1 on saturated samples, f the network.

* :func:`supervised_loss` ||f(y) - x||^2 (needs the clean signal: the supervised baseline).
* :func:`naive_consistency_loss` L_NMC = ||y - eta(f(y))||^2. On a saturated sample where the estimate
  already exceeds the threshold, eta(f) = +-mu = y whatever f is: value and gradient are zero there, so the
  loss says nothing about the clipped samples (paper Fig. 2, left). A "measurement consistency" that
  applied only a linear operator (no clip) would instead pull f to y = +-mu on those samples, which is a
  different and wrong loss; :func:`naive_consistency_loss` applies the clipping.
* :func:`consistency_loss` L_MC: (f - y)^2 on reliable samples and the one-sided max(0, mu - sign(y) f)^2
  on saturated ones: an estimate below the threshold on a clipped sample is penalised, one beyond it is
  free (paper Fig. 2, right).
* :func:`equivariance_loss` L_EQ for the amplitude-scaling group: x1 = f(y); x2 = alpha x1 with alpha > 1
  drawn per signal; y2 = eta(x2) at the same mu; loss ||f(y2) - x2||^2. A signal set closed under scaling
  makes x2 a plausible signal whose clipped version is harder (more saturated) than y, with a known answer.
  ``stop_gradient`` stops the gradient through x1 (the target and the input of the second pass); the
  default lets it flow, as equivariant imaging does (Chen, Tachella & Davies 2021) -- the paper does not
  say which it does.

Each loss is the mean over samples and signals (the network's output is (B, T)).
"""
from __future__ import annotations

import torch

from ..physics.clipping import clip, saturation_mask


def supervised_loss(estimate: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    return torch.mean((estimate - clean) ** 2)


def naive_consistency_loss(estimate: torch.Tensor, y: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """L_NMC = mean (y - eta(f(y)))^2, with the clipping eta applied at each signal's threshold ``mu``."""
    return torch.mean((y - clip(estimate, mu)) ** 2)


def consistency_loss(estimate: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_MC: squared error to y on reliable samples, max(0, mu - sign(y) f)^2 on saturated ones (|y| = mu)."""
    reliable = (estimate - y) ** 2
    short_of_threshold = torch.relu(y.abs() - torch.sign(y) * estimate) ** 2
    return torch.mean(torch.where(mask > 0, short_of_threshold, reliable))


def equivariance_loss(network, estimate: torch.Tensor, mu: torch.Tensor, alpha_max: float,
                      generator: torch.Generator | None = None, stop_gradient: bool = False) -> torch.Tensor:
    """L_EQ = mean (f(eta(alpha x1)) - alpha x1)^2, x1 = ``estimate``, alpha ~ U(1, alpha_max) per signal.

    ``network(y, mask)`` is the declipper; ``mu`` the thresholds (B, 1) of the measurements x1 came from.
    """
    if alpha_max <= 1:
        raise ValueError(f"the equivariance loss needs alpha_max > 1 (scalings that add saturation), got {alpha_max}")
    x1 = estimate.detach() if stop_gradient else estimate
    alpha = 1 + (alpha_max - 1) * torch.rand(x1.shape[0], 1, generator=generator, device=x1.device, dtype=x1.dtype)
    x2 = alpha * x1
    y2 = clip(x2, mu)
    return torch.mean((network(y2, saturation_mask(y2, mu)) - x2) ** 2)

