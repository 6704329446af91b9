"""The S2 priors' dilation schedules and what they see at a given spectrogram size, without torch (the
tables and claims steps read them; models/unet.py builds the networks).

Dilations of the paper's four priors (Sec. 3): plain convolution, a constant dilation of 4, the exponential
schedule enc [1,2],[4,8], bottleneck [16,32], dec [32,16],[8,4], and that schedule with dense blocks; and the
harmonic-convolution baseline (no dilation). :func:`tap_share` and :func:`layer_tap_shares` measure how much of
each dilated kernel lands inside its feature map, against the paper's 512 x 256 spectrogram.
"""
from __future__ import annotations

from dataclasses import dataclass

PRIOR_NAMES = ("conv", "dilated", "exp", "exp-dense")
#: the harmonic-convolution U-Net (no dilation schedule: not one of PRIOR_NAMES' geometry-checked priors)
HARMONIC = "harmonic"

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
    harmonic: bool = False


def prior_spec(name: str, dilation_divisor: int = 1) -> PriorSpec:
    """Return the architecture options of a named prior (one of :data:`PRIOR_NAMES`).

    ``dilation_divisor`` scales the paper's dilations to a smaller spectrogram: each becomes
    max(1, d // divisor). On a map ``divisor`` times smaller per axis than the paper's 512 x 256 every dilated
    layer then keeps the share of its kernel taps inside its feature map that it has at the paper's geometry
    (:func:`tap_share`); unscaled, the bottleneck's dilation 32 on a 32 x 16 map is a 1 x 1 convolution."""
    if dilation_divisor < 1:
        raise ValueError(f"dilation_divisor must be at least 1, got {dilation_divisor}")
    if name == HARMONIC:
        return PriorSpec(name, ((1, 1),) * 5, dense=False, harmonic=True)
    if name == "conv":
        schedule = ((1, 1),) * 5
    elif name == "dilated":
        schedule = ((CONSTANT_DILATION, CONSTANT_DILATION),) * 5
    elif name in ("exp", "exp-dense"):
        schedule = EXPONENTIAL_SCHEDULE
    else:
        raise ValueError(f"unknown prior {name!r}; choose one of {', '.join(PRIOR_NAMES + (HARMONIC,))}")
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
