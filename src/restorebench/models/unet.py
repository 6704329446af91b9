"""U-Net building blocks and the four deep-audio-prior networks of Narayanaswamy et al. (S2).

One definition, :class:`AudioPriorUNet`, covers the paper's four priors (Sec. 3, Tables 1-4):

* ``conv``      plain 3x3 convolutions,
* ``dilated``   every 3x3 convolution dilated by a constant factor (4),
* ``exp``       dilation schedule enc [1,2],[4,8], bottleneck [16,32], dec [32,16],[8,4] (Sec. 3.2),
* ``exp-dense`` the exponential schedule plus dense blocks with 1x1 transitions (Sec. 3.3).

Facts the paper leaves out follow the authors' public code (vivsivaraman/designaudiopriors): widths
35/70/140, two max-pool levels, bilinear x2 upsampling followed by an undilated 3x3 convolution, encoder
blocks with InstanceNorm (no affine) + ReLU, decoder blocks with ReLU only, a linear 1x1 head. In a dense
block the second convolution sees [first output, block input] and the block returns [second output, first
output, block input]; a 1x1 transition maps it back to the level's width. Decoder skips take the encoder's
dense (pre-transition) features, as the public code does. At widths 35/70/140 the dense prior has
1,092,912 parameters (the "~1.09 M" of the public code), checked in tests/test_models.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .upsample import interpolate

PRIOR_NAMES = ("conv", "dilated", "exp", "exp-dense")

#: Dilations of the two 3x3 convolutions of each block: enc0, enc1, bottleneck, dec1, dec0.
EXPONENTIAL_SCHEDULE = ((1, 2), (4, 8), (16, 32), (32, 16), (8, 4))
CONSTANT_DILATION = 4
#: the blocks in the order of the schedule, and how many times each one's map is pooled (x2 per level)
BLOCKS = ("enc0", "enc1", "bottleneck", "dec1", "dec0")
BLOCK_POOLING = (1, 2, 4, 2, 1)
#: the paper's spectrogram (frequency bins x frames: n_fft 1022, hop 64, 16384 samples)
PAPER_SHAPE = (512, 256)


@dataclass(frozen=True)
class PriorSpec:
    """Architecture options of one prior: dilation schedule and whether blocks are dense."""

    name: str
    dilations: tuple[tuple[int, int], ...]
    dense: bool


def prior_spec(name: str, dilation_divisor: int = 1) -> PriorSpec:
    """Return the architecture options of a named prior (one of :data:`PRIOR_NAMES`).

    ``dilation_divisor`` scales the paper's dilations to a smaller spectrogram: each becomes
    max(1, d // divisor). On a map ``divisor`` times smaller per axis than the paper's 512 x 256 every dilated
    layer then keeps the share of its kernel taps inside its feature map that it has at the paper's geometry
    (:func:`tap_share`); unscaled, the bottleneck's dilation 32 on a 32 x 16 map is a 1 x 1 convolution."""
    if dilation_divisor < 1:
        raise ValueError(f"dilation_divisor must be at least 1, got {dilation_divisor}")
    if name == "conv":
        schedule = ((1, 1),) * 5
    elif name == "dilated":
        schedule = ((CONSTANT_DILATION, CONSTANT_DILATION),) * 5
    elif name in ("exp", "exp-dense"):
        schedule = EXPONENTIAL_SCHEDULE
    else:
        raise ValueError(f"unknown prior {name!r}; choose one of {', '.join(PRIOR_NAMES)}")
    scaled = tuple(tuple(max(1, d // dilation_divisor) for d in pair) for pair in schedule)
    return PriorSpec(name, scaled, dense=name == "exp-dense")


def tap_share(dilation: int, shape: tuple[int, int]) -> float:
    """The share of a 3 x 3 kernel's taps, dilated by ``dilation``, that land inside an (H, W) feature map
    (the rest read zero padding), averaged over the map's positions. Per axis of length L a position sees
    its own tap and each of the two at +-d when it is inside: 1 + 2 max(0, L - d) / L of 3; the axes are
    independent, so the 2-D share is the product over 9. 1 for an undilated kernel on a map of 2 or more
    along each axis; 1/9 (the centre tap alone: a 1 x 1 convolution) once d reaches both sides' length."""
    share = 1.0
    for length in shape:
        share *= (1 + 2 * max(0, length - dilation) / length) / 3
    return share


def layer_tap_shares(name: str, shape: tuple[int, int], dilation_divisor: int = 1) -> list[dict]:
    """Per 3 x 3 convolution of a block of prior ``name`` on an (F, T) spectrogram, beside the same layer at
    the paper's geometry (:data:`PAPER_SHAPE`, unscaled dilations): its block, which of the block's two
    convolutions, its dilation and feature map, :func:`tap_share`, and ``context``: that share relative to an
    undilated kernel's on the same map (what the dilation itself loses; 1 for an undilated layer). A layer is
    ``degenerate`` when its context is below the paper's for the same layer: its dilation reaches past the
    map where the paper's does not (quick's bottleneck, dilation 32 on 32 x 16: 1/9 of the taps, a 1 x 1
    convolution, against 5/9 at the paper's 128 x 64). Smaller maps alone lose a few edge taps of every
    kernel; comparing contexts, not raw shares, keeps that from reading as degeneration."""
    spec, paper = prior_spec(name, dilation_divisor), prior_spec(name)
    rows = []
    for block, pooling, pair, paper_pair in zip(BLOCKS, BLOCK_POOLING, spec.dilations, paper.dilations):
        size = (shape[0] // pooling, shape[1] // pooling)
        paper_size = (PAPER_SHAPE[0] // pooling, PAPER_SHAPE[1] // pooling)
        for index, (dilation, paper_dilation) in enumerate(zip(pair, paper_pair), start=1):
            share, paper_share = tap_share(dilation, size), tap_share(paper_dilation, paper_size)
            context = share / tap_share(1, size)
            paper_context = paper_share / tap_share(1, paper_size)
            rows.append({"block": block, "conv": index, "dilation": dilation, "map": size, "share": share,
                         "context": context, "paper_dilation": paper_dilation, "paper_map": paper_size,
                         "paper_share": paper_share, "paper_context": paper_context,
                         "degenerate": context < paper_context - 1e-9})
    return rows


class InstanceNorm(nn.Module):
    """Instance normalisation without affine parameters (what ``nn.InstanceNorm2d`` computes).

    Computed as group normalisation with one group per channel: the same statistics, but the kernel keeps
    the channels-last memory layout. ``nn.InstanceNorm2d`` returns NCHW tensors, which made every following
    concatenation and convolution copy its input back to channels-last (about 45 % of the fitting time of the
    dense prior at 512x256 on CPU).
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.channels, self.eps = channels, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, self.channels, eps=self.eps)


def conv3x3(in_channels: int, out_channels: int, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with 'same' zero padding for the given dilation."""
    return nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation)


class ConvBlock(nn.Module):
    """Two 3x3 convolutions, each followed by optional InstanceNorm and ReLU.

    Plain block: conv(in->out), conv(out->out); returns the second output (``out`` channels).
    Dense block: conv(in->out), conv(in+out->out) on [first, input]; returns [second, first, input]
    (``in + 2*out`` channels), so features are reused as in DenseNet.
    """

    def __init__(self, in_channels: int, out_channels: int, dilations: tuple[int, int],
                 dense: bool, norm: bool, norm_layer=None):
        super().__init__()
        self.dense = dense
        norm_layer = norm_layer or InstanceNorm
        second_in = in_channels + out_channels if dense else out_channels
        self.conv1 = conv3x3(in_channels, out_channels, dilations[0])
        self.conv2 = conv3x3(second_in, out_channels, dilations[1])
        self.norm1 = norm_layer(out_channels) if norm else nn.Identity()
        self.norm2 = norm_layer(out_channels) if norm else nn.Identity()
        self.out_channels = in_channels + 2 * out_channels if dense else out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = F.relu(self.norm1(self.conv1(x)))
        if not self.dense:
            return F.relu(self.norm2(self.conv2(first)))
        stacked = torch.cat([first, x], dim=1)
        second = F.relu(self.norm2(self.conv2(stacked)))
        return torch.cat([second, stacked], dim=1)


class Stage(nn.Module):
    """A block plus, for dense blocks, the 1x1 transition back to ``width`` channels.

    ``features`` is what the decoder's skip connection sees; ``forward`` returns (features, output).
    """

    def __init__(self, in_channels: int, width: int, dilations: tuple[int, int], dense: bool,
                 norm: bool, norm_layer=None):
        super().__init__()
        self.block = ConvBlock(in_channels, width, dilations, dense, norm, norm_layer)
        self.transition = nn.Conv2d(self.block.out_channels, width, 1) if dense else nn.Identity()
        self.skip_channels = self.block.out_channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.block(x)
        return features, self.transition(features)


class UpStage(nn.Module):
    """Bilinear x2 upsampling, an undilated 3x3 convolution, concat with the skip, then a Stage."""

    def __init__(self, in_channels: int, width: int, skip_channels: int,
                 dilations: tuple[int, int], dense: bool):
        super().__init__()
        self.up_conv = conv3x3(in_channels, width)
        self.stage = Stage(width + skip_channels, width, dilations, dense, norm=False)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = interpolate(x, "bilinear", size=skip.shape[-2:])
        x = self.up_conv(x)
        return self.stage(torch.cat([x, skip], dim=1))[1]


class AudioPriorUNet(nn.Module):
    """Two-level U-Net mapping a fixed code z (B, C_in, F, T) to a (B, C_out, F, T) spectrogram.

    ``widths`` are the channel counts of the three levels (paper: 35, 70, 140). F and T must be
    divisible by 4 (two 2x2 max-pools). ``out_activation='sigmoid'`` gives the mask prior of the
    source-separation task; the default is linear. ``norm_layer`` builds the encoder's normalisation
    (default :class:`InstanceNorm`; the benchmark's reference loop passes ``nn.InstanceNorm2d``).
    ``dilation_divisor`` scales the dilations to a smaller spectrogram (:func:`prior_spec`).
    """

    def __init__(self, prior: str = "exp-dense", in_channels: int = 2, out_channels: int = 2,
                 widths: tuple[int, int, int] = (35, 70, 140), out_activation: str = "linear",
                 norm_layer=None, dilation_divisor: int = 1):
        super().__init__()
        spec = prior_spec(prior, dilation_divisor)
        self.spec = spec
        w0, w1, w2 = widths
        d = spec.dilations
        self.enc0 = Stage(in_channels, w0, d[0], spec.dense, norm=True, norm_layer=norm_layer)
        self.enc1 = Stage(w0, w1, d[1], spec.dense, norm=True, norm_layer=norm_layer)
        self.bottleneck = Stage(w1, w2, d[2], spec.dense, norm=True, norm_layer=norm_layer)
        self.dec1 = UpStage(w2, w1, self.enc1.skip_channels, d[3], spec.dense)
        self.dec0 = UpStage(w1, w0, self.enc0.skip_channels, d[4], spec.dense)
        self.head = nn.Conv2d(w0, out_channels, 1)
        if out_activation not in ("linear", "sigmoid"):
            raise ValueError(f"out_activation must be 'linear' or 'sigmoid', got {out_activation!r}")
        self.out_activation = out_activation

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] % 4 or z.shape[-2] % 4:
            raise ValueError(f"input height and width must be divisible by 4, got {tuple(z.shape[-2:])}")
        skip0, x = self.enc0(z)
        skip1, x = self.enc1(F.max_pool2d(x, 2))
        _, x = self.bottleneck(F.max_pool2d(x, 2))
        x = self.dec1(x, skip1)
        x = self.dec0(x, skip0)
        out = self.head(x)
        return torch.sigmoid(out) if self.out_activation == "sigmoid" else out


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
