"""DIFNet (Lyu et al.): a U-shaped Transformer that predicts the RFI mask of a pulse's spectrogram (S1).

Structure (paper Sec. 1.3, SPEC S1): an input projection (three 3x3 conv + ReLU to C channels); L encoder
stages of [Transformer block, downsample to half size and twice the channels]; a bottleneck block; a
mirrored decoder of [upsample, concatenate the skip, 1x1 fusion, Transformer block]; a 3x3 output conv to
one logit per time-frequency pixel (sigmoid = RFI probability; trained with binary cross-entropy on the
Eq. 13 label -- our choice of loss, see the README).

Transformer block: X = LocalMHA(LN(X)) + X; X = CNN(LN(X)) + X, where LocalMHA is multi-head self-attention
inside non-overlapping M x M windows with a learned relative-position bias B (as in Swin/Uformer), and CNN
is 3x3 conv -> GELU -> 3x3 conv (the paper's "CNNs"; the exact layers are ours). Paper setting: 512 x 512
input, C = 16, M = 8, L = 4.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def window_partition(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, C, H, W) -> (B * H/m * W/m, m*m, C) non-overlapping windows."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // m, m, w // m, m).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(-1, m * m, c)


def window_reverse(windows: torch.Tensor, m: int, b: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`."""
    c = windows.shape[-1]
    x = windows.view(b, h // m, w // m, m, m, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, h, w)


def relative_position_index(m: int) -> torch.Tensor:
    """(m*m, m*m) index into a (2m-1)^2 bias table: entry (i, j) depends only on pos_i - pos_j."""
    coords = torch.stack(torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :] + (m - 1)
    return rel[0] * (2 * m - 1) + rel[1]


class WindowAttention(nn.Module):
    """Multi-head self-attention within M x M windows plus a learned relative-position bias."""

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by {heads} heads")
        self.window, self.heads = window, heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", relative_position_index(window), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        m = self.window
        if h % m or w % m:
            raise ValueError(f"feature map {h}x{w} is not divisible by the window size {m}")
        tokens = window_partition(x, m)                                   # (nW*B, m*m, C)
        qkv = self.qkv(tokens).view(tokens.shape[0], m * m, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                               # each (nW*B, heads, m*m, d)
        bias = self.bias_table[self.bias_index].permute(2, 0, 1)           # (heads, m*m, m*m)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        out = self.proj(out.transpose(1, 2).reshape(tokens.shape[0], m * m, c))
        return window_reverse(out, m, b, h, w)


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of a (B, C, H, W) tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = ChannelLayerNorm(dim), ChannelLayerNorm(dim)
        self.attention = WindowAttention(dim, window, heads)
        self.cnn = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1), nn.GELU(), nn.Conv2d(dim, dim, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.cnn(self.norm2(x))


def _heads(dim: int) -> int:
    return max(1, dim // 16)


class DIFNet(nn.Module):
    """U-shaped window Transformer: (B, in_channels, H, W) spectrogram features -> (B, 1, H, W) RFI logits.

    H and W must be divisible by window * 2**levels.
    """

    def __init__(self, in_channels: int = 1, channels: int = 16, window: int = 8, levels: int = 4):
        super().__init__()
        c = channels
        self.window, self.levels = window, levels
        self.project = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(c, c, 3, padding=1), nn.ReLU())
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        for i in range(levels):
            dim = c * 2 ** i
            self.encoders.append(TransformerBlock(dim, window, _heads(dim)))
            self.downs.append(nn.Conv2d(dim, 2 * dim, 4, stride=2, padding=1))
        bottom = c * 2 ** levels
        self.bottleneck = TransformerBlock(bottom, window, _heads(bottom))
        self.ups, self.fuse, self.decoders = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(levels)):
            dim = c * 2 ** i
            self.ups.append(nn.ConvTranspose2d(2 * dim, dim, 2, stride=2))
            self.fuse.append(nn.Conv2d(2 * dim, dim, 1))
            self.decoders.append(TransformerBlock(dim, window, _heads(dim)))
        self.out = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        multiple = self.window * 2 ** self.levels
        if x.shape[-1] % multiple or x.shape[-2] % multiple:
            raise ValueError(f"input {tuple(x.shape[-2:])} must be divisible by window x 2^levels = {multiple}")
        x = self.project(x)
        skips = []
        for block, down in zip(self.encoders, self.downs):
            x = block(x)
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        for up, fuse, block, skip in zip(self.ups, self.fuse, self.decoders, reversed(skips)):
            x = block(fuse(torch.cat([up(x), skip], dim=1)))
        return self.out(x)
