"""Harmonic convolution (Zhang et al., ICLR 2020, "Deep audio priors emerge from harmonic convolutional
networks"), computed by harmonic lowering (Takeuchi et al., Interspeech 2020): the S2 paper's Figure 2 /
Section 3.3 baseline prior.

A harmonic convolution's kernel is supported on a harmonic series in frequency instead of a local
neighbourhood: with K_f frequency taps, K_t time taps and anchor n, the output at frequency bin w and frame t
is

    y(w, t) = sum_{k=1..K_f} sum_{tau} W[k, tau] x(k w / n, t + tau),

i.e. w is treated as the n-th harmonic of a fundamental w / n and the kernel reads that fundamental's first
K_f harmonics. A fractional bin k w / n is read by linear interpolation between its two neighbours; a bin past
the spectrogram's top reads zero. Harmonic lowering computes it as an ordinary convolution: the input is
resampled along frequency once per k (bin w reads bin k w / n: a "zoom" by k / n), the K_f zoomed copies are
stacked as channels, and a 1 x K_t convolution over the stacked channels mixes them (time padded, frequency
not). The zoom is written here with an index gather and fixed interpolation weights, so autograd gives its
gradient; the public lowering code (taketakeseijin/HarmonicLowering) uses a CUDA kernel for the same
interpolation. The deep-audio-prior network built on it (i17oonaka-h/HarmonicLowering_DAP) uses K_f = K_t = 3
and anchor 3 (taps at w/3, 2w/3, w), which :class:`HarmonicConv2d` takes as its defaults.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


def harmonic_taps(bins: int, harmonics: int, anchor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each of the ``harmonics`` zooms reads: for k = 1..K_f and output bin w, the lower neighbour
    floor(k w / n) and its linear-interpolation weight (the upper neighbour gets 1 - weight). Indices past the
    top bin point at an extra zero bin (index ``bins``). Shapes (K_f, bins)."""
    k = torch.arange(1, harmonics + 1, dtype=torch.float64)[:, None]
    position = k * torch.arange(bins, dtype=torch.float64)[None, :] / anchor
    lower = torch.floor(position)
    weight = 1.0 - (position - lower)
    lower = lower.long().clamp(max=bins)
    return lower, weight.float()


class HarmonicConv2d(nn.Module):
    """A harmonic convolution on (B, C, F, T) spectrogram features (module docstring): ``kernel`` =
    (K_f harmonics, K_t frames), ``anchor`` n; output (B, out_channels, F, T). The weight is that of the
    lowered 1 x K_t convolution over the K_f stacked zooms, (out, K_f * C, 1, K_t), initialised as
    ``nn.Conv2d`` initialises a kernel with the same fan-in (C K_f K_t)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int] = (3, 3), anchor: int = 3,
                 bias: bool = True):
        super().__init__()
        harmonics, frames = kernel
        if harmonics < 1 or frames < 1 or frames % 2 == 0:
            raise ValueError(f"kernel must be (K_f >= 1, odd K_t), got {kernel}")
        if anchor < 1:
            raise ValueError(f"anchor must be at least 1, got {anchor}")
        self.in_channels, self.out_channels, self.kernel, self.anchor = in_channels, out_channels, kernel, anchor
        self.weight = nn.Parameter(torch.empty(out_channels, harmonics * in_channels, 1, frames))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        # nn.Conv2d's default initialisation (kaiming-uniform with a = sqrt(5), bias uniform in +-1/sqrt(fan_in))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(harmonics * in_channels * frames)
            nn.init.uniform_(self.bias, -bound, bound)
        self._taps: dict[tuple[int, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}

    def _lookup(self, bins: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = (bins, device)
        if key not in self._taps:
            lower, weight = harmonic_taps(bins, self.kernel[0], self.anchor)
            self._taps[key] = (lower.to(device), weight.to(device))
        return self._taps[key]

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        """The harmonic lowering of ``x``: (B, C, F, T) -> (B, K_f C, F, T), zoom k's C channels in block k."""
        batch, channels, bins, frames = x.shape
        harmonics = self.kernel[0]
        lower, weight = self._lookup(bins, x.device)
        # one zero bin on top: taps past the spectrogram read zero; all K_f zooms in one gather per neighbour
        padded = F.pad(x, (0, 0, 0, 2))
        below = padded.index_select(2, lower.flatten()).unflatten(2, (harmonics, bins))
        above = padded.index_select(2, (lower + 1).clamp(max=bins + 1).flatten()).unflatten(2, (harmonics, bins))
        w = weight.to(x.dtype)[None, None, :, :, None]
        zooms = w * below + (1 - w) * above                             # (B, C, K_f, F, T)
        return zooms.transpose(1, 2).reshape(batch, harmonics * channels, bins, frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(self.lower(x), self.weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype),
                        padding=(0, self.kernel[1] // 2))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel={self.kernel}, anchor={self.anchor}, "
                f"bias={self.bias is not None}")
