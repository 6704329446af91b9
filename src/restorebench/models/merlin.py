"""MERLIN's U-Net backbone, the MERLIN-multitask heads, the U-Net segmentation baseline and IM2HEIGHT.

Backbone (Dalsasso et al., MERLIN, TGRS 2021; the authors' ``deepdespeckling/model.py``): ``levels`` max-pool
stages of 3x3 convolutions with ``encoder_width`` channels (enc0 ... enc{levels+1}), a decoder of 3x3
convolution pairs with ``decoder_width`` channels (dec{levels}/dec{levels}b ... dec2/dec2b) fed by nearest
upsampling and skip concatenation, LeakyReLU(0.1) everywhere, and a last upsampling that concatenates the
input itself: the shared representation has ``decoder_width + 1`` channels at full resolution (97 in the
authors' network). With the defaults (48, 96, 5 levels) the module names, shapes and parameter count are the
authors' exactly, so their released weights load into it (:func:`load_released`).

Heads on the shared representation (MERLIN-multitask paper, Sec. 3.1 and Fig. 1):

* despeckling (D): dec1a (3x3, 64) -> dec1b (3x3, 32) -> dec1 (3x3, 1), output ``x - n``: the authors' last
  three layers, so backbone + D head = MERLIN;
* segmentation (S): 3x3 conv (64) -> 3x3 conv (32), LeakyReLU, -> 1x1 conv: building logits (sigmoid in the
  loss and at inference);
* regression (R): a 3x3 conv to ``regression_width`` channels, three IM2HEIGHT-like residual blocks
  (conv-BN-ReLU-conv-BN + identity), a 1x1 conv to the height in metres.

The U-Net segmentation baseline is the backbone + an S head (~1 M parameters at paper size, as the paper
says). IM2HEIGHT (Mou & Zhu 2018, as the paper's baseline): a fully residual convolution-deconvolution network,
residual blocks with max-pooling down and nearest upsampling up, one long skip from the first to the last
block. The paper gives only its size (~11.2 M parameters, Table 1); ``width=62`` gives 11.44 M (tested within
5 %), 64 would give 12.2 M. Each residual block has
its own convolutions and batch norms (the dettmar/im2height re-implementation shares one across a block's
repeated layers; we do not).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..methods.configs import IM2HEIGHT_MULTIPLE, TASKS  # noqa: F401  (one definition)

# Nearest 2x upsampling followed by a 3x3 "same" convolution equals a stride-2 transposed convolution (padding 1)
# whose 4x4 kernel is A W A^T: output row 2i+a sees input rows i-1+a and i+a, with the 3x3 rows summed in pairs
# (phase 0: W0 | W1+W2, phase 1: W0+W1 | W2).
_UPSAMPLE_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


class SkipFeatures(NamedTuple):
    """``cat(nearest_upsample_2x(low), skip)`` kept as its two parts; :meth:`dense` builds the tensor."""

    low: torch.Tensor
    skip: torch.Tensor

    def dense(self) -> torch.Tensor:
        return torch.cat((F.interpolate(self.low, scale_factor=2, mode="nearest"), self.skip), dim=1)


def upsample_concat_conv(conv: nn.Conv2d, features: SkipFeatures) -> torch.Tensor:
    """``conv(cat(upsample_2x(low), skip))`` for a 3x3 "same" convolution, exactly (to float rounding).

    The upsampled part is a transposed convolution on ``low`` with the 4x4 kernel derived from the conv's
    weights (see ``_UPSAMPLE_TAPS``): 4 instead of 9 multiply-adds per output pixel and channel, and neither
    the upsampled nor the concatenated tensor is built. In MERLIN's decoder this takes a training step from
    ~1.08x to ~1.3x the authors' plain formulation on CPU (``restorebench bench merlin``); the parameters are
    the conv's own, so checkpoints and the authors' released weights are unaffected.
    """
    c = features.low.shape[1]
    weight = conv.weight
    taps = _UPSAMPLE_TAPS.to(weight)
    kernel = torch.einsum("ka,oiab,lb->iokl", taps, weight[:, :c], taps)
    out = F.conv_transpose2d(features.low, kernel, stride=2, padding=1)
    return out + F.conv2d(features.skip, weight[:, c:], conv.bias, padding=1)


@dataclass(frozen=True)
class BackboneSize:
    encoder_width: int = 48
    decoder_width: int = 96
    levels: int = 5

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (one halving per level)."""
        return 2 ** self.levels

    @property
    def features(self) -> int:
        return self.decoder_width + 1


def _conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


class MerlinBackbone(nn.Module):
    """Input (B, 1, H, W) -> shared representation (B, decoder_width + 1, H, W) as :class:`SkipFeatures`
    (the last decoder output at half resolution and the input), which every head consumes through
    :func:`upsample_concat_conv`; ``.dense()`` gives the tensor itself."""

    def __init__(self, size: BackboneSize = BackboneSize()):
        super().__init__()
        e, d, L = size.encoder_width, size.decoder_width, size.levels
        if L < 1:
            raise ValueError(f"the backbone needs at least one level, got {L}")
        self.size = size
        self.enc0 = _conv(1, e)
        for k in range(1, L + 2):
            setattr(self, f"enc{k}", _conv(e, e))
        for k in range(L, 1, -1):
            setattr(self, f"dec{k}", _conv((e if k == L else d) + e, d))
            setattr(self, f"dec{k}b", _conv(d, d))
        self._last_in = (e if L == 1 else d)
        self.pool = nn.MaxPool2d(2)
        self.act = nn.LeakyReLU(0.1, inplace=True)   # the conv output it overwrites is not needed by autograd

    @property
    def out_channels(self) -> int:
        return self._last_in + 1

    def forward(self, x: torch.Tensor) -> SkipFeatures:
        L = self.size.levels
        if x.shape[-1] % self.size.multiple or x.shape[-2] % self.size.multiple:
            raise ValueError(f"input {tuple(x.shape[-2:])} is not a multiple of {self.size.multiple} "
                             f"({L} pooling levels)")
        skips = [x]
        n = self.act(self.enc0(x))
        n = self.pool(self.act(self.enc1(n)))
        if L > 1:
            skips.append(n)
        for k in range(2, L + 1):
            n = self.pool(self.act(getattr(self, f"enc{k}")(n)))
            if k < L:
                skips.append(n)
        n = self.act(getattr(self, f"enc{L + 1}")(n))
        for k in range(L, 1, -1):
            n = self.act(upsample_concat_conv(getattr(self, f"dec{k}"), SkipFeatures(n, skips.pop())))
            n = self.act(getattr(self, f"dec{k}b")(n))
        return SkipFeatures(n, skips.pop())


class DespeckleHead(nn.Module):
    """The authors' last three layers; returns the normalised log-amplitude estimate x - n."""

    def __init__(self, features: int, widths: tuple[int, int] = (64, 32)):
        super().__init__()
        self.dec1a = _conv(features, widths[0])
        self.dec1b = _conv(widths[0], widths[1])
        self.dec1 = _conv(widths[1], 1)
        self.act = nn.LeakyReLU(0.1, inplace=True)   # the conv output it overwrites is not needed by autograd

    def forward(self, features: SkipFeatures, x: torch.Tensor) -> torch.Tensor:
        n = self.act(upsample_concat_conv(self.dec1a, features))
        return x - self.dec1(self.act(self.dec1b(n)))


class SegmentationHead(nn.Sequential):
    """3x3 conv (64) -> 3x3 conv (32), LeakyReLU, -> 1x1 conv: building logits."""

    def __init__(self, features: int, widths: tuple[int, int] = (64, 32)):
        super().__init__(_conv(features, widths[0]), nn.LeakyReLU(0.1, inplace=True), _conv(widths[0], widths[1]),
                         nn.LeakyReLU(0.1, inplace=True), _conv(widths[1], 1, k=1))

    def forward(self, features: SkipFeatures) -> torch.Tensor:
        n = upsample_concat_conv(self[0], features)
        for layer in list(self)[1:]:
            n = layer(n)
        return n


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the input (a 1x1 conv + BN projection when the widths differ), ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                  nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(cout))
        self.shortcut = (nn.Identity() if cin == cout else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class RegressionHead(nn.Module):
    """3x3 conv to ``width`` channels, ``blocks`` residual blocks, 1x1 conv: height in metres."""

    def __init__(self, features: int, width: int = 128, blocks: int = 3):
        super().__init__()
        self.stem = nn.Sequential(_conv(features, width), nn.LeakyReLU(0.1, inplace=True))
        self.blocks = nn.Sequential(*[ResidualBlock(width, width) for _ in range(blocks)])
        self.out = _conv(width, 1, k=1)

    def forward(self, features: SkipFeatures) -> torch.Tensor:
        return self.out(self.blocks(self.stem[1](upsample_concat_conv(self.stem[0], features))))


class MerlinMultitask(nn.Module):
    """Shared backbone + the heads of ``tasks`` (a subset of S, R, D). forward -> {task: output}.

    Outputs: "D" normalised log-amplitude (B, 1, H, W); "S" building logits; "R" height in metres.
    ``tasks="D"`` is MERLIN; ``tasks="S"`` is the U-Net segmentation baseline.
    """

    def __init__(self, tasks: str = "SRD", size: BackboneSize = BackboneSize(),
                 head_widths: tuple[int, int] = (64, 32), regression_width: int = 128, regression_blocks: int = 3):
        super().__init__()
        tasks = "".join(t for t in TASKS if t in tasks.upper())
        if not tasks:
            raise ValueError("a model needs at least one of the tasks S, R, D")
        self.tasks = tasks
        self.backbone = MerlinBackbone(size)
        features = self.backbone.out_channels
        if "D" in tasks:
            self.despeckle = DespeckleHead(features, head_widths)
        if "S" in tasks:
            self.segment = SegmentationHead(features, head_widths)
        if "R" in tasks:
            self.regress = RegressionHead(features, regression_width, regression_blocks)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.backbone(x)
        out = {}
        if "D" in self.tasks:
            out["D"] = self.despeckle(features, x)
        if "S" in self.tasks:
            out["S"] = self.segment(features)
        if "R" in self.tasks:
            out["R"] = self.regress(features)
        return out


class IM2Height(nn.Module):
    """IM2HEIGHT-like fully residual conv-deconv regression network. forward -> {"R": height}.

    Encoder: a 3x3 stem, residual blocks of width w, 2w, 4w, 8w each followed by 2x2 max-pooling, one 8w
    bottleneck block; decoder: nearest upsampling + residual blocks 8w->4w, 4w->2w, 2w->w, w->w; the stem's
    features are added to the last block's output (the network's one long skip); a 3x3 conv gives the height.
    """

    def __init__(self, width: int = 62):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(1, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        widths = [w, w, 2 * w, 4 * w, 8 * w]
        self.down = nn.ModuleList([ResidualBlock(widths[i], widths[i + 1]) for i in range(4)])
        self.bottleneck = ResidualBlock(8 * w, 8 * w)
        self.upblocks = nn.ModuleList([ResidualBlock(widths[i + 1], widths[i] if i else w) for i in range(3, -1, -1)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.out = nn.Conv2d(w, 1, 3, padding=1)
        self.tasks = "R"

    multiple = IM2HEIGHT_MULTIPLE

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
            raise ValueError(f"input {tuple(x.shape[-2:])} is not a multiple of {self.multiple}")
        stem = self.stem(x)
        n = stem
        for block in self.down:
            n = self.pool(block(n))
        n = self.bottleneck(n)
        for block in self.upblocks:
            n = block(self.up(n))
        return {"R": self.out(n + stem)}


def load_released(model: MerlinMultitask, state: dict[str, torch.Tensor]) -> None:
    """Load the authors' released MERLIN weights (keys enc0 ... dec1) into backbone + despeckling head.

    Every key of the file must map to a parameter of the same shape and every backbone/D-head parameter
    must be filled; anything else is an error naming the mismatch.
    """
    if "D" not in model.tasks:
        raise ValueError("released MERLIN weights need a model with the despeckling head (task D)")
    targets = {}
    for key, value in state.items():
        name = key.split(".")[0]
        prefix = "despeckle." if name in ("dec1a", "dec1b", "dec1") else "backbone."
        targets[prefix + key] = value
    own = {k: v for k, v in model.state_dict().items() if k.startswith(("backbone.", "despeckle."))}
    missing = sorted(set(own) - set(targets))
    extra = sorted(set(targets) - set(own))
    wrong = sorted(k for k in set(own) & set(targets) if own[k].shape != targets[k].shape)
    if missing or extra or wrong:
        raise ValueError(f"released weights do not match the backbone: missing {missing[:4]}, unexpected "
                         f"{extra[:4]}, wrong shapes {[(k, tuple(targets[k].shape), tuple(own[k].shape)) for k in wrong[:4]]}")
    model.load_state_dict(targets, strict=False)
