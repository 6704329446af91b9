"""Training and inference of the S3 networks: MERLIN, MERLIN-multitask (any subset of the S, R, D heads), the
U-Net segmentation baseline and IM2HEIGHT -- all through the suite's one trainer (methods/training.py).

Training step (MERLIN facts, SPEC S3; authors' ``merlin/training/model.py`` and ``train.py``):

1. one random geometric augmentation per batch, applied alike to the SLC and its labels (``augment``):
   ``dihedral`` = the 8 flips/rotations MERLIN was trained with; ``azimuth-flip`` = identity or an up-down
   flip only, the default for models with S or R heads, because a range flip or a rotation would turn
   layover (always toward near range) and shadows the wrong way for the label geometry;
2. one part of the SLC (real or imaginary, drawn per batch: the authors alternate them between batches) is
   log-normalised and fed to the network; the other part supervises the despeckling head (Eq. 3);
3. loss = lambda_S L_S + lambda_R L_R + lambda_D L_D (Eq. 7), L_S and L_R over the labelled images of the
   batch only; an unlabelled image contributes only L_D;
4. gradient clipping and the optimiser come from the trainer's config (MERLIN: norm 5.0, Adam).

All models see the same input (one log-normalised part) and average their predictions over the two parts
at inference (Eq. 4 for the despeckling head: R = (R^x + R^y) / 2), so that model comparisons differ only
by what is trained, not by how the image is presented.

Normalisation constants (M, m) are derived from the training SLCs (physics.speckle.constants_from_data) and
stored in the weights file's config, with the BCE positive weight (negative/positive labelled pixels).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..losses.merlin_multitask import height_mse, merlin_nll, weighted_bce
from ..models.merlin import BackboneSize, IM2Height, MerlinMultitask
from ..physics.speckle import LogConstants, log_normalise, log_reflectivity
from .configs import AUGMENTS, SIZE_FIELDS, S3NetConfig  # noqa: F401  (re-exported)
from .training import STUDY_NETWORKS, OptimConfig, load_weights, save_trained, train_model

def build_model(cfg: S3NetConfig) -> torch.nn.Module:
    """The network of ``cfg``: a declared architecture's ``build(params)`` (restorebench.registry, slot
    ``S3``/``model``), IM2HEIGHT, or the MERLIN backbone with the heads of ``cfg.tasks``. Every one maps the
    (B, 1, H, W) normalised log-amplitude to {task: (B, 1, H, W)} for its tasks."""
    if cfg.declared is not None:
        return cfg.declared.build(cfg.params)
    if cfg.architecture == "im2height":
        return IM2Height(cfg.im2height_width)
    model = MerlinMultitask(cfg.tasks, BackboneSize(cfg.encoder_width, cfg.decoder_width, cfg.levels),
                            cfg.head_widths, cfg.regression_width, cfg.regression_blocks)
    if "D" in cfg.tasks and cfg.M > cfg.m:
        # Start unbiased: the input log(a^2) of one speckled part has mean log R - (gamma + 2 log 2), so the
        # residual n is initialised to remove that offset. (The authors start from 0 and reach it with lr 1e-2
        # over ~100 steps per epoch; at small scales with few steps that offset alone took most of training.)
        with torch.no_grad():
            model.despeckle.dec1.bias.fill_(-(np.euler_gamma + 2 * np.log(2)) / (2 * (cfg.M - cfg.m)))
    return model


def _augment(tensors: list[torch.Tensor], mode: str) -> list[torch.Tensor]:
    """The same random flip/rotation of every (B, H, W) tensor of a batch (torch RNG: resumable)."""
    if mode == "none":
        return tensors
    if mode == "azimuth-flip":
        return [t.flip(-2) for t in tensors] if int(torch.randint(2, ())) else tensors
    k, flip = int(torch.randint(4, ())), int(torch.randint(2, ()))
    out = [torch.rot90(t, k, dims=(-2, -1)) for t in tensors]
    return [t.flip(-1) for t in out] if flip else out


def batch_loss(cfg: S3NetConfig, model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Eq. 7 on one batch (real, imag, mask, height, labelled)."""
    real, imag, mask, height, labelled = batch
    real, imag, mask, height = _augment([real, imag, mask, height], cfg.augment)
    if int(torch.randint(2, ())):
        real, imag = imag, real                   # role swap: the other part is the input this time
    x = log_normalise(real, cfg.constants)[:, None]
    out = model(x)
    lab = labelled.bool()
    loss = x.new_zeros(())
    if "D" in out:
        loss = loss + cfg.lambdas["D"] * merlin_nll(out["D"][:, 0], imag, cfg.constants, cfg.batch_factor)
    if lab.any():
        if "S" in out:
            loss = loss + cfg.lambdas["S"] * weighted_bce(out["S"][lab, 0], mask[lab], cfg.pos_weight)
        if "R" in out:
            loss = loss + cfg.lambdas["R"] * height_mse(out["R"][lab, 0], height[lab])
    return loss


def epoch_length(n_patches: int, n_labelled: int, labelled_share: float) -> int:
    """Samples per epoch of a model with the D head and S/R heads: every patch once, plus the labelled ones
    repeated so that they make up ``labelled_share`` of the epoch (never less than their own count)."""
    if n_labelled == 0 or labelled_share <= 0:
        return n_patches
    # r repeats with (n_labelled + r) = share * (n_patches + r)
    repeats = int(np.ceil((labelled_share * n_patches - n_labelled) / (1 - labelled_share)))
    return n_patches + max(0, repeats)


def training_arrays(patches: dict, labelled: np.ndarray, tasks: str, labelled_share: float = 0.0,
                    equal_steps: bool = True) -> tuple[np.ndarray, ...]:
    """(real, imag, mask, height, labelled) float32 arrays for the trainer: the samples of one epoch.

    Models with the despeckling head train on every patch; if they also have S or R heads, the labelled
    patches are repeated so that they make up ``labelled_share`` of each epoch (DenoiSeg-style; 0 = each
    patch once, the paper's). Models without the D head (the baselines and the S/R/S+R ablations) see only
    the labelled patches, repeated (``equal_steps``) to the epoch length a multitask model has at the same
    labelled fraction, so that every model takes the same number of optimiser steps.
    """
    slc = patches["slc"]
    n, lab_idx = len(slc), np.flatnonzero(labelled)
    length = epoch_length(n, lab_idx.size, labelled_share)
    if "D" in tasks:
        idx = np.arange(n)
        if tasks != "D" and lab_idx.size and length > n:
            idx = np.concatenate([idx, np.resize(lab_idx, length - n)])
    else:
        if lab_idx.size == 0:
            raise ValueError("a model without the despeckling head needs at least one labelled patch")
        idx = np.resize(lab_idx, max(length, lab_idx.size)) if equal_steps else lab_idx
    return (np.ascontiguousarray(slc.real[idx], dtype=np.float32), np.ascontiguousarray(slc.imag[idx], dtype=np.float32),
            patches["mask"][idx].astype(np.float32), patches["height"][idx].astype(np.float32),
            labelled[idx].astype(np.float32))


def positive_weight(masks: np.ndarray) -> float:
    """w of Eq. 5: negative / positive pixels of the labelled masks (1 when either is absent)."""
    pos = float(np.sum(masks > 0))
    neg = float(masks.size - pos)
    return neg / pos if pos and neg else 1.0


def train(cfg: S3NetConfig, optim: OptimConfig, arrays: tuple[np.ndarray, ...], output: Path, checkpoint_dir: Path,
          device: torch.device = torch.device("cpu"), progress: str | bool = True,
          validation: tuple[np.ndarray, ...] | None = None) -> torch.nn.Module:
    """Train one S3 network on ``arrays`` (see :func:`training_arrays`) and write its weights to ``output``;
    ``validation``: held-out arrays of the same kind, whose Eq. 7 loss is recorded per epoch."""
    torch.manual_seed(optim.seed)          # the initial weights too come from the seed: reruns are identical
    model = build_model(cfg)
    size = arrays[0].shape[-1]
    if size % cfg.multiple or arrays[0].shape[-2] % cfg.multiple:
        raise ValueError(f"training patches of {arrays[0].shape[-2:]} pixels are not multiples of {cfg.multiple}, "
                         f"which this architecture needs")
    config = cfg.to_dict()
    history = train_model(model, lambda net, batch: batch_loss(cfg, net, batch), arrays, optim, config,
                          checkpoint_dir, device, progress, validation=validation)
    save_trained(output, model, config, history, optim.seed, {"patch": int(size)}, study="S3")
    return model


def load_trained(path: Path) -> tuple[torch.nn.Module, S3NetConfig]:
    """A trained S3 network and its config (normalisation constants M, m included); another study's weights
    are a ValueError naming the file."""
    state = load_weights(path, study="S3")
    try:
        cfg = S3NetConfig(**state["config"])
        model = build_model(cfg)
        model.load_state_dict(state["model"])
    except (TypeError, ValueError, KeyError, RuntimeError) as err:
        raise ValueError(f"{path}: not {STUDY_NETWORKS['S3']} ({err})") from err
    model.eval()
    return model, cfg


def check_input_range(slc: np.ndarray, cfg: S3NetConfig, name: str, max_above: float = 0.01) -> None:
    """Refuse an SLC whose amplitudes lie outside what the network was trained on.

    The network sees log(a^2 + 1e-3) normalised by the training data's constants (M, m) and its output is
    clipped to [0, 1]: a product calibrated differently (amplitudes 1000 times larger, say) gives a silently
    saturated estimate. So more than ``max_above`` of the pixels above the training range (normalised input
    > 1), or a median outside [0, 1], is a ValueError naming the file and the range.
    """
    parts = np.concatenate([np.ravel(slc.real), np.ravel(slc.imag)])
    normalised = log_normalise(parts.astype(np.float64), cfg.constants)
    above, median = float(np.mean(normalised > 1)), float(np.median(normalised))
    if above > max_above or not 0 <= median <= 1:
        low, high = np.exp(cfg.m), np.exp(cfg.M)
        raise ValueError(f"{name}: its amplitudes lie outside the range the network was trained on (|Re|, |Im| "
                         f"up to about {high:.3g}, typically above {low:.3g}): {100 * above:.1f} % of the parts "
                         f"are brighter, the median normalised input is {median:.2f} (0-1 expected). Scale the "
                         f"product like the training data")


# ---------------------------------------------------------------------------------------------- inference

#: tiles per forward pass of :func:`predict` on a GPU (inference keeps no activations for a backward pass, so
#: a batch costs only the feature maps alive at once)
GPU_TILES_PER_BATCH = 16

def _weight(tile: int, overlap: int) -> np.ndarray:
    """Blending weight of one tile: 1 inside, a cosine taper over the overlap, never 0 (a lone tile is kept)."""
    ramp = np.ones(tile)
    if overlap > 0:
        t = (np.arange(overlap) + 0.5) / overlap
        ramp[:overlap] = 0.5 - 0.5 * np.cos(np.pi * t)
        ramp[-overlap:] = ramp[:overlap][::-1]
    ramp = np.maximum(ramp, 1e-3)
    return np.outer(ramp, ramp)


def _starts(length: int, tile: int, stride: int) -> list[int]:
    starts = list(range(0, max(length - tile, 0) + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def tiled(fn, image: np.ndarray, tile: int, overlap: int, multiple: int,
          tiles_per_batch: int = 1) -> dict[str, np.ndarray]:
    """Apply ``fn`` (an (N, t, t) float array -> {name: (N, t, t)}) over overlapping tiles of a 2-D image,
    ``tiles_per_batch`` tiles per call (the blend is summed in the same order whatever the batch).

    Tiles of ``tile`` pixels (rounded down to a multiple of ``multiple``) overlap by ``overlap`` pixels and are
    blended with a cosine-tapered weight, so tile borders (where a convolutional network sees zero padding)
    count little and leave no seam. The image itself is first extended by reflection by a margin of
    max(overlap, tile / 8) pixels on every side (and to at least one tile), so that its own outermost rows and
    columns lie inside a tile too: without it they are seen only at a tile's zero-padded border, which gave a
    MERLIN network's estimate there a factor of about 2.5 off.
    """
    h, w = image.shape
    tile = max(multiple, (min(tile, max(h, w) + multiple - 1) // multiple) * multiple)
    margin = max(overlap, tile // 8)
    pad_h, pad_w = max(0, tile - h - 2 * margin), max(0, tile - w - 2 * margin)
    mode = "reflect" if min(h, w) > 1 else "edge"
    padded = np.pad(image, ((margin, margin + pad_h), (margin, margin + pad_w)), mode=mode)
    H, W = padded.shape
    overlap = min(overlap, tile // 2)
    stride = tile - overlap
    weight = _weight(tile, overlap)
    sums: dict[str, np.ndarray] = {}
    total = np.zeros((H, W))
    positions = [(r, c) for r in _starts(H, tile, stride) for c in _starts(W, tile, stride)]
    for first in range(0, len(positions), max(1, tiles_per_batch)):
        chunk = positions[first:first + max(1, tiles_per_batch)]
        out = fn(np.stack([padded[r:r + tile, c:c + tile] for r, c in chunk]))
        for i, (r, c) in enumerate(chunk):
            for name, value in out.items():
                sums.setdefault(name, np.zeros((H, W)))[r:r + tile, c:c + tile] += value[i] * weight
            total[r:r + tile, c:c + tile] += weight
    return {name: (value / total)[margin:margin + h, margin:margin + w] for name, value in sums.items()}


@torch.no_grad()
def predict(model: torch.nn.Module, cfg: S3NetConfig, slc: np.ndarray, tile: int = 256, overlap: int = 32,
            device: torch.device = torch.device("cpu"), tiles_per_batch: int = 0) -> dict[str, np.ndarray]:
    """Reflectivity, building probability and height of a complex SLC, averaged over its two parts.

    The image is processed in overlapping tiles (:func:`tiled`), ``tiles_per_batch`` per forward pass; 0 =
    auto: one at a time on a CPU (the tables stay as they were to the bit)
    and :data:`GPU_TILES_PER_BATCH` on a GPU, where one tile per pass would leave it mostly idle.

    Returns the outputs of the model's heads: "reflectivity" (D: (R^x + R^y) / 2 with R = exp(log R) of
    each part's clipped normalised estimate, as the authors), "probability" (S: mean of the two sigmoids),
    "height" (R: mean of the two estimates, metres, clipped at 0).
    """
    model.eval().to(device)
    constants = cfg.constants

    def run(part: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32)).to(device)
        out = model(log_normalise(x, constants)[:, None])
        heads = {}
        if "D" in out:
            heads["reflectivity"] = torch.exp(log_reflectivity(out["D"][:, 0].clamp(0, 1), constants))
        if "S" in out:
            heads["probability"] = torch.sigmoid(out["S"][:, 0])
        if "R" in out:
            heads["height"] = out["R"][:, 0].clamp_min(0)
        # one device-to-host copy per batch for all heads
        return dict(zip(heads, torch.stack(list(heads.values())).cpu().numpy()))

    z = np.asarray(slc)
    per_batch = tiles_per_batch or (GPU_TILES_PER_BATCH if torch.device(device).type == "cuda" else 1)
    parts = [tiled(run, part, tile, overlap, cfg.multiple, per_batch) for part in (z.real, z.imag)]
    return {name: 0.5 * (parts[0][name] + parts[1][name]) for name in parts[0]}
