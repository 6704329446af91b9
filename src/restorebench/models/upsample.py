"""Linear and bilinear upsampling that stays available under torch's deterministic mode on CUDA.

``F.interpolate``'s linear and bilinear backward passes on CUDA accumulate with atomics, so with
``torch.use_deterministic_algorithms(True)`` (the suite's ``deterministic: true``) they raise. For the one
case the suite's networks use, x2 with ``align_corners=False``, the interpolation is a fixed two-tap filter
per output sample:

    out[2i]     = 0.75 x[i] + 0.25 x[max(i - 1, 0)]
    out[2i + 1] = 0.75 x[i] + 0.25 x[min(i + 1, n - 1)]

(the border sample repeated: torch clamps the source coordinate), applied along each upsampled axis in
turn; written with slices, concatenations and a stack, whose backward passes are deterministic. Everywhere
else :func:`interpolate` is ``F.interpolate`` itself, so CPU results are unchanged bit for bit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

_MODES = {"linear": 1, "bilinear": 2}


def _twice_along(x: torch.Tensor, dim: int) -> torch.Tensor:
    n = x.shape[dim]
    before = torch.cat((x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)), dim=dim)
    after = torch.cat((x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)), dim=dim)
    even, odd = 0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after
    return torch.stack((even, odd), dim=dim + 1).flatten(dim, dim + 1)


def upsample_twice(x: torch.Tensor, mode: str) -> torch.Tensor:
    """x2 ``mode`` (linear: last axis; bilinear: last two) upsampling, align_corners=False, by slices."""
    for dim in range(x.ndim - _MODES[mode], x.ndim):
        x = _twice_along(x, dim)
    return x


def interpolate(x: torch.Tensor, mode: str, size=None, scale_factor=None) -> torch.Tensor:
    """``F.interpolate(x, size, scale_factor, mode, align_corners=False)``; on CUDA in deterministic mode, an
    x2 upsampling goes through :func:`upsample_twice` instead (any other factor raises torch's own error)."""
    if x.is_cuda and torch.are_deterministic_algorithms_enabled() and x.requires_grad:
        target = tuple(size) if size is not None else tuple(int(s * scale_factor) for s in x.shape[2:])
        if target == tuple(2 * s for s in x.shape[2:]):
            return upsample_twice(x, mode)
    return F.interpolate(x, size=size, scale_factor=scale_factor, mode=mode, align_corners=False)
