"""Training and inference of the S4 declippers through the suite's one trainer (methods/training.py).

Objectives (``DeclipConfig.objective``; losses/declipping.py):

* ``supervised``: ||f(y) - x||^2 on pairs (clipped, clean) -- the baseline that sees the truth;
* ``mc-eq``: L_MC + lambda L_EQ -- the paper's self-supervised declipper, clipped measurements only;
* ``nmc-eq``: L_NMC + lambda L_EQ -- the naive consistency with the same equivariance term, so that the
  comparison with ``mc-eq`` isolates the consistency term (the paper's Fig. 2 argument);
* ``mc``: L_MC alone (no equivariance; an ablation a user can list).

The training arrays of the self-supervised objectives hold no clean signal at all (:func:`training_arrays`),
so they cannot use it by mistake. Every declipper's validation curve is the same quantity,
:func:`held_out_error` on held-out clean recordings (:func:`validation_arrays`): a self-supervised loss does
not show convergence (L_EQ's target alpha f(y) moves with the network: on music its held-out value was
lowest after the first of 20 epochs of a training that ended 1.5-4 dB above the clipped input; docs/s4.md).
The curve only says when training has stopped improving (the plateau rule, and how long
``extend_to_plateau`` trains on): the weights kept are the last epoch's, never the best one's. Each training
segment carries its own threshold mu (the clip level of the recording it was cut from), because a segment
may hold no saturated sample and then max |y| < mu.

``stop_gradient`` defaults to True, measured: on 8-sparse band-limited synthetic signals at v = 20 % (input
SDR 13.8 dB, supervised 25.0 dB after 10 epochs), L_MC + L_EQ reached 19.2 dB with the gradient stopped
through x1 and 14.1 dB with it flowing (10.5 dB with alpha_max = 3): letting it flow lets the network lower
L_EQ by making f(y) look like its own output on a more clipped input, i.e. by restoring less.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..models.declipper import Declipper
from ..physics.clipping import project_consistent, saturation_mask
from .configs import DeclipConfig, objective_method, objectives  # noqa: F401  (re-exported)
from .training import History, OptimConfig, load_weights, save_trained, train_model

def build_model(cfg: DeclipConfig) -> Declipper:
    return Declipper(cfg.widths, cfg.kernel, cfg.bias, cfg.residual)


def batch_loss(cfg: DeclipConfig, model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The objective on one batch: (y, mu) for the self-supervised objectives, (y, mu, clean) supervised.
    The objective's declaration (restorebench.registry, slot S4/declipper) computes it from the network's
    estimate x_hat = f(y)."""
    y, mu = batch[0], batch[1][:, None]
    mask = saturation_mask(y, mu)
    estimate = model(y, mask)
    clean = batch[2] if len(batch) > 2 else None
    return objective_method(cfg.objective).loss(cfg, model, y, mu, mask, estimate, clean)


def training_arrays(cfg: DeclipConfig, y: np.ndarray, mu: np.ndarray, clean: np.ndarray | None = None) -> tuple:
    """The trainer's arrays: segments (n, T) of measurements, their thresholds (n,), and the clean segments
    only for the supervised objective."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    mu = np.ascontiguousarray(np.asarray(mu, dtype=np.float32).reshape(len(y)))
    if y.shape[-1] % cfg.multiple:
        raise ValueError(f"segments of {y.shape[-1]} samples are not a multiple of {cfg.multiple} "
                         f"({len(cfg.widths)} levels)")
    if not cfg.self_supervised:
        if clean is None:
            raise ValueError("the supervised declipper needs the clean segments")
        return y, mu, np.ascontiguousarray(clean, dtype=np.float32)
    return y, mu


def validation_arrays(y: np.ndarray, mu: np.ndarray, clean: np.ndarray) -> tuple:
    """The trainer's validation arrays for every objective alike: held-out measurements (n, T), their
    thresholds (n,) and clean segments, scored by :func:`held_out_error` only (never by the objective)."""
    return (np.ascontiguousarray(y, dtype=np.float32),
            np.ascontiguousarray(np.asarray(mu, dtype=np.float32).reshape(len(y))),
            np.ascontiguousarray(clean, dtype=np.float32))


def held_out_error(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The mean over held-out segments of ||P(f(y)) - x||^2 / ||x||^2, P the consistent projection (what a
    declipper returns; physics.clipping.project_consistent): 10^(-SDR/10) of the estimate the tables score.
    A segment without a saturated sample is restored exactly by P and adds 0 (silence included)."""
    y, mu, clean = batch[0], batch[1][:, None], batch[2]
    mask = saturation_mask(y, mu)
    error = project_consistent(model(y, mask), y, mask) - clean
    return torch.mean(torch.sum(error ** 2, -1) / torch.sum(clean ** 2, -1).clamp_min(1e-12))


def train(cfg: DeclipConfig, optim: OptimConfig, arrays: tuple, output: Path, checkpoint_dir: Path,
          device: torch.device, progress: str | bool = True, validation: tuple | None = None) -> History:
    """Train one declipper on :func:`training_arrays`; ``validation``: :func:`validation_arrays` of held-out
    segments, whose :func:`held_out_error` is recorded per epoch (the training itself never sees them)."""
    if validation is not None and len(validation) != 3:
        raise ValueError("the validation arrays are (y, mu, clean): methods.declipping.validation_arrays")
    torch.manual_seed(optim.seed)            # the initial weights too: a rerun gives the same network
    model = build_model(cfg)
    history = train_model(model, lambda net, batch: batch_loss(cfg, net, batch), arrays, optim,
                          {"s4": cfg.to_dict()}, checkpoint_dir, device, progress, validation=validation,
                          validation_loss=held_out_error)
    save_trained(output, model.cpu(), {"s4": cfg.to_dict()}, history, optim.seed, study="S4")
    return history


def load_trained(path: Path) -> tuple[DeclipConfig, Declipper]:
    """A trained declipper and its config (sample rate, bias-free or not: what the declip tool checks)."""
    state = load_weights(path, study="S4")
    if "s4" not in state["config"]:
        raise ValueError(f"{path}: not a declipper weights file (it was written for another study)")
    cfg = DeclipConfig.from_dict(state["config"]["s4"])
    model = build_model(cfg)
    model.load_state_dict(state["model"])
    return cfg, model.eval()


@torch.no_grad()
def declip(model: Declipper, y: np.ndarray, mu: float | np.ndarray, device: torch.device = torch.device("cpu"),
           chunk: int = 1 << 16, margin: int = 4096, mask: np.ndarray | None = None) -> np.ndarray:
    """x_hat for one or more measurements ``y`` (..., T) at thresholds ``mu`` (scalar or one per signal).

    ``mask`` (same shape as ``y``, 1 = saturated) overrides |y| >= mu: a file clipped at asymmetric rails
    (integer PCM) has no single threshold.

    Long signals run in chunks of ``chunk`` samples with ``margin`` samples of context on each side, of which
    only the centre is kept (the network's receptive field is far shorter than the margin, so chunking does
    not change the result beyond float rounding; tested).
    """
    y = np.asarray(y, dtype=np.float32)
    flat = y.reshape(-1, y.shape[-1])
    flat_mask = None if mask is None else np.asarray(mask, dtype=np.float32).reshape(flat.shape)
    mu = np.array(np.broadcast_to(np.asarray(mu, dtype=np.float32).reshape(-1, 1), (flat.shape[0], 1)))
    mult = model.multiple
    n = flat.shape[-1]
    out = np.empty_like(flat)
    model.to(device)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        lo, hi = max(0, start - margin), min(n, stop + margin)
        piece = flat[:, lo:hi]
        pad = (-piece.shape[-1]) % mult
        piece = np.pad(piece, ((0, 0), (0, pad)))
        yt = torch.from_numpy(piece).to(device)
        if flat_mask is None:
            mt = saturation_mask(yt, torch.from_numpy(mu).to(device))
        else:
            mt = torch.from_numpy(np.pad(flat_mask[:, lo:hi], ((0, 0), (0, pad)))).to(device)
        estimate = model(yt, mt).cpu().numpy()
        out[:, start:stop] = estimate[:, start - lo:stop - lo]
    return out.reshape(y.shape)
