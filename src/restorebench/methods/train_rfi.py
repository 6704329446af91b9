"""Supervised training of the S1 networks with per-epoch checkpoints that resume exactly.

* DIFNet: binary cross-entropy (with logits) on the Eq. 13 mask (our choice of loss, SPEC S1).
* PISNet: MSE to the clean normalised magnitude + ``nuclear`` x mean nuclear norm of the output (low rank,
  as the interference-free spectrogram of a pulse is) + ``l1`` x mean |output| (SPEC S1; weights ours).

AdamW (lr 2e-4, weight decay 0.02, batch 4 at paper scale). Every epoch ends with an atomic checkpoint
(model, optimiser, epoch, loss history, config) that loads with ``torch.load(weights_only=True)``. The
batch order of epoch e is drawn from a generator seeded by (seed, e), so training resumed from a checkpoint
is identical to training that was never interrupted. A checkpoint that cannot be read, or was written for
another configuration, is reported with a warning and training restarts from scratch.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..audio_io import atomic_output
from ..models.difnet import DIFNet
from ..models.pisnet import PISNet


@dataclass(frozen=True)
class TrainConfig:
    model: str                      # "difnet" | "pisnet"
    epochs: int = 100
    batch_size: int = 4
    learning_rate: float = 2e-4
    weight_decay: float = 0.02
    seed: int = 0
    width: int = 16                 # DIFNet C / PISNet w
    window: int = 8                 # DIFNet M
    levels: int = 4                 # DIFNet L
    residual_blocks: int = 8        # PISNet
    bases: int = 128                # PISNet EM bases
    nuclear: float = 1e-3           # PISNet loss weights
    l1: float = 1e-3


def build_model(cfg: TrainConfig) -> torch.nn.Module:
    if cfg.model == "difnet":
        return DIFNet(1, cfg.width, cfg.window, cfg.levels)
    if cfg.model == "pisnet":
        return PISNet(cfg.width, cfg.residual_blocks, cfg.bases)
    raise ValueError(f"unknown model {cfg.model!r}; choose difnet or pisnet")


def size_multiple(cfg: TrainConfig) -> int:
    return cfg.window * 2 ** cfg.levels if cfg.model == "difnet" else 4


def loss_fn(cfg: TrainConfig, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if cfg.model == "difnet":
        return F.binary_cross_entropy_with_logits(output, target)
    nuclear = torch.linalg.matrix_norm(output[:, 0], ord="nuc").mean() / output.shape[-1]
    return F.mse_loss(output, target) + cfg.nuclear * nuclear + cfg.l1 * output.abs().mean()


def load_checkpoint(path: Path, cfg: TrainConfig) -> dict | None:
    """The checkpoint at ``path`` if it is readable and matches ``cfg``; else None (with a warning)."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("config") != asdict(cfg):
            raise ValueError("it was written for a different training configuration")
        for key in ("model", "optimizer", "epoch", "history"):
            if key not in state:
                raise ValueError(f"it lacks {key!r}")
        return state
    except Exception as err:  # a truncated or foreign file: never fatal, training restarts
        warnings.warn(f"{path}: unusable checkpoint ({err}); training restarts from scratch", stacklevel=2)
        return None


def train(cfg: TrainConfig, inputs: np.ndarray, targets: np.ndarray, checkpoint: Path,
          device: torch.device = torch.device("cpu"), progress: bool = True) -> tuple[torch.nn.Module, list[float]]:
    """Train on (N, H, W) inputs/targets (H, W multiples of the model's size multiple); returns (model, losses)."""
    if inputs.shape != targets.shape or inputs.ndim != 3:
        raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} must both be (N, H, W)")
    multiple = size_multiple(cfg)
    if inputs.shape[1] % multiple or inputs.shape[2] % multiple:
        raise ValueError(f"training images {inputs.shape[1:]} must be multiples of {multiple}")
    checkpoint = Path(checkpoint)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    start, history = 0, []
    state = load_checkpoint(checkpoint, cfg)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history = int(state["epoch"]), list(state["history"])
    x_all = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))[:, None]
    y_all = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))[:, None]
    n = x_all.shape[0]
    bar = None
    if progress and start < cfg.epochs:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.epochs, initial=start, desc=f"train {cfg.model}", unit="epoch")
    for epoch in range(start, cfg.epochs):
        model.train()
        order = np.random.default_rng([cfg.seed, epoch]).permutation(n)
        total = 0.0
        for first in range(0, n, cfg.batch_size):
            idx = torch.from_numpy(order[first:first + cfg.batch_size])
            x, y = x_all[idx].to(device), y_all[idx].to(device)
            loss = loss_fn(cfg, model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / n)
        with atomic_output(checkpoint, suffix=".pt") as tmp:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                        "history": history, "config": asdict(cfg)}, tmp)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{history[-1]:.4f}")
    if bar is not None:
        bar.close()
    return model, history


def load_trained(path: Path) -> tuple[torch.nn.Module, TrainConfig]:
    """A trained model from a checkpoint written by :func:`train` (weights only)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: checkpoint not found; train it with the workflow first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        cfg = TrainConfig(**state["config"])
        model = build_model(cfg)
        model.load_state_dict(state["model"])
    except Exception as err:
        raise ValueError(f"{path}: not a restorebench checkpoint ({err})") from err
    model.eval()
    return model, cfg

