"""S2 losses beyond the data fit: the gradient exclusion of the separation fit (methods/dip.py)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def exclusion_loss(a: torch.Tensor, b: torch.Tensor, scales: int) -> torch.Tensor:
    """Gradient exclusion of Double-DIP (Gandelsman et al. 2019, Eq. 4) between two magnitude maps.

    At each of ``scales`` dyadic scales: mean(tanh(l_a |grad a|) * tanh(l_b |grad b|)) along frequency and
    time, with l_a, l_b normalising the two gradient magnitudes to each other. Small when the sources'
    time-frequency edges do not coincide.
    """
    total = a.new_zeros(())
    for level in range(scales):
        for dim in (-1, -2):
            ga, gb = torch.diff(a, dim=dim).abs(), torch.diff(b, dim=dim).abs()
            la = torch.sqrt(gb.mean() / (ga.mean() + 1e-8) + 1e-8)
            lb = torch.sqrt(ga.mean() / (gb.mean() + 1e-8) + 1e-8)
            total = total + (torch.tanh(la * ga) * torch.tanh(lb * gb)).mean()
        if level + 1 < scales:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return total / scales
