"""The declipping network of S4: a 1-D U-Net that can be made exactly bias-free.

The paper (Fig. 3, Fig. 4) needs a network that treats a signal set closed under amplitude scaling
consistently: f(alpha y) = alpha f(y) for alpha > 0. A network is positively homogeneous of degree 1 when
every layer is: convolutions without biases, (leaky) ReLU, max-pooling, linear upsampling and
concatenation are; biases and affine normalisation are not. So ``bias=False`` removes every bias and the
network uses no normalisation at all.

The saturation mask reaches the network as the paper's Fig. 4 says (mask and measurement both fed), but
not as a 0/1 channel, which would not scale with the input and would break homogeneity: the measurement is
split into its reliable samples y (1 - m) and its saturated samples y m (two channels). The network sees
the same information (where the clipping is and at which level) and stays homogeneous. The biased variant
(``bias=True``) gets the same two channels, so the two differ only by their biases.

Architecture (ours; the paper publishes none): ``len(widths)`` levels; each level two ``kernel``-wide
convolutions + LeakyReLU(0.1), then max-pooling by 2; a bottleneck of two convolutions at twice the last
width; the decoder upsamples linearly, concatenates the skip and applies two convolutions; a 1x1
convolution gives the estimate, or (``residual=True``) a correction added to the measurement
(x_hat = y + g(...)), so that an untrained network returns the clipped input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .upsample import interpolate


class _DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, bias: bool):
        super().__init__(nn.Conv1d(cin, cout, kernel, padding=kernel // 2, bias=bias), nn.LeakyReLU(0.1, inplace=True),
                         nn.Conv1d(cout, cout, kernel, padding=kernel // 2, bias=bias), nn.LeakyReLU(0.1, inplace=True))


class Declipper(nn.Module):
    """(y, mask) of shape (B, T) each -> x_hat (B, T). ``T`` must be a multiple of 2 ** len(widths)."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), kernel: int = 9, bias: bool = False,
                 residual: bool = True):
        super().__init__()
        if not widths:
            raise ValueError("the declipper needs at least one level (widths)")
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (same-length convolutions), got {kernel}")
        self.widths, self.kernel, self.bias, self.residual = tuple(widths), kernel, bias, residual
        cin = 2
        self.down = nn.ModuleList()
        for w in widths:
            self.down.append(_DoubleConv(cin, w, kernel, bias))
            cin = w
        self.bottleneck = _DoubleConv(cin, 2 * cin, kernel, bias)
        self.up = nn.ModuleList()
        cin = 2 * cin
        for w in reversed(widths):
            self.up.append(_DoubleConv(cin + w, w, kernel, bias))
            cin = w
        self.out = nn.Conv1d(cin, 1, 1, bias=bias)

    @property
    def multiple(self) -> int:
        return 2 ** len(self.widths)

    def forward(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if y.shape[-1] % self.multiple:
            raise ValueError(f"signal length {y.shape[-1]} is not a multiple of {self.multiple} "
                             f"({len(self.widths)} pooling levels)")
        n = torch.stack((y * (1 - mask), y * mask), dim=1)
        skips = []
        for block in self.down:
            n = block(n)
            skips.append(n)
            n = F.max_pool1d(n, 2)
        n = self.bottleneck(n)
        for block in self.up:
            n = interpolate(n, "linear", scale_factor=2)
            n = block(torch.cat((n, skips.pop()), dim=1))
        out = self.out(n)[:, 0]
        return y + out if self.residual else out
