"""U-Net building blocks and the deep-audio-prior networks of Narayanaswamy et al. (S2).

One definition, :class:`AudioPriorUNet`, covers the paper's four priors (Sec. 3, Tables 1-4; their dilations:
models/dilations.py):

* ``conv``      plain 3x3 convolutions,
* ``dilated``   every 3x3 convolution dilated by a constant factor (4),
* ``exp``       dilation schedule enc [1,2],[4,8], bottleneck [16,32], dec [32,16],[8,4] (Sec. 3.2),
* ``exp-dense`` the exponential schedule plus dense blocks with 1x1 transitions (Sec. 3.3);

and the paper's Figure 2 / Sec. 3.3 baseline, ``harmonic``: the same U-Net with every 3x3 convolution (block
and upsampling convolutions) replaced by a 3x3 harmonic convolution (models/harmonic.py), no dilation.

Facts the paper leaves out follow the authors' public code (vivsivaraman/designaudiopriors): widths
35/70/140, two max-pool levels, bilinear x2 upsampling followed by an undilated 3x3 convolution, encoder
blocks with InstanceNorm (no affine) + ReLU, decoder blocks with ReLU only, a linear 1x1 head. In a dense
block the second convolution sees [first output, block input] and the block returns [second output, first
output, block input]; a 1x1 transition maps it back to the level's width. Decoder skips take the encoder's
dense (pre-transition) features, as the public code does. At widths 35/70/140 the dense prior has
1,092,912 parameters (the "~1.09 M" of the public code), checked in tests/test_models.py.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .upsample import interpolate
from .dilations import prior_spec


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


def harmonic3x3(in_channels: int, out_channels: int, dilation: int = 1) -> nn.Module:
    """3x3 harmonic convolution (3 harmonics, 3 frames, anchor 3: models/harmonic.py) in place of
    :func:`conv3x3`; it has no dilation."""
    from .harmonic import HarmonicConv2d

    if dilation != 1:
        raise ValueError("a harmonic convolution has no dilation")
    return HarmonicConv2d(in_channels, out_channels, (3, 3), anchor=3)


class ConvBlock(nn.Module):
    """Two 3x3 convolutions, each followed by optional InstanceNorm and ReLU.

    Plain block: conv(in->out), conv(out->out); returns the second output (``out`` channels).
    Dense block: conv(in->out), conv(in+out->out) on [first, input]; returns [second, first, input]
    (``in + 2*out`` channels), so features are reused as in DenseNet.
    """

    def __init__(self, in_channels: int, out_channels: int, dilations: tuple[int, int],
                 dense: bool, norm: bool, norm_layer=None, conv=conv3x3):
        super().__init__()
        self.dense = dense
        norm_layer = norm_layer or InstanceNorm
        second_in = in_channels + out_channels if dense else out_channels
        self.conv1 = conv(in_channels, out_channels, dilations[0])
        self.conv2 = conv(second_in, out_channels, dilations[1])
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
                 norm: bool, norm_layer=None, conv=conv3x3):
        super().__init__()
        self.block = ConvBlock(in_channels, width, dilations, dense, norm, norm_layer, conv)
        self.transition = nn.Conv2d(self.block.out_channels, width, 1) if dense else nn.Identity()
        self.skip_channels = self.block.out_channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.block(x)
        return features, self.transition(features)


class UpStage(nn.Module):
    """Bilinear x2 upsampling, an undilated 3x3 convolution, concat with the skip, then a Stage."""

    def __init__(self, in_channels: int, width: int, skip_channels: int,
                 dilations: tuple[int, int], dense: bool, conv=conv3x3):
        super().__init__()
        self.up_conv = conv(in_channels, width)
        self.stage = Stage(width + skip_channels, width, dilations, dense, norm=False, conv=conv)

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
        conv = harmonic3x3 if spec.harmonic else conv3x3
        self.enc0 = Stage(in_channels, w0, d[0], spec.dense, norm=True, norm_layer=norm_layer, conv=conv)
        self.enc1 = Stage(w0, w1, d[1], spec.dense, norm=True, norm_layer=norm_layer, conv=conv)
        self.bottleneck = Stage(w1, w2, d[2], spec.dense, norm=True, norm_layer=norm_layer, conv=conv)
        self.dec1 = UpStage(w2, w1, self.enc1.skip_channels, d[3], spec.dense, conv=conv)
        self.dec0 = UpStage(w1, w0, self.enc0.skip_channels, d[4], spec.dense, conv=conv)
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
