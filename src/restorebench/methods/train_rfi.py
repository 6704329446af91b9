"""Supervised training of the S1 networks, through the suite's one training loop (:mod:`.training`).

* DIFNet: binary cross-entropy (with logits) on the Eq. 13 mask (our choice of loss, SPEC S1).
* PISNet: MSE to the clean normalised magnitude + ``nuclear`` x nuclear norm of the output / width (low
  rank, as the interference-free spectrogram of a pulse is) + ``l1`` x mean |input - output|. The public
  code's loss is 1000 MSE + 0.1 nuc(first item) / 256 + 0.01 ||input - output||_1 / 256^2 on 256 x 256
  images; divided by 1000, the defaults nuclear = 1e-4 and l1 = 1e-5 (we average the nuclear norm over
  the batch instead of taking the first item's).

The paper's optimiser is AdamW (lr 2e-4, weight decay 0.02, batch 4); it comes from the workflow's config as
an :class:`~restorebench.methods.training.OptimConfig`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..models.difnet import DIFNet
from ..models.pisnet import PISNet
from .training import OptimConfig, load_weights, save_trained, train_model

MODELS = ("difnet", "pisnet")


@dataclass(frozen=True)
class RFINetConfig:
    """Architecture and loss weights of one S1 network."""

    model: str                      # "difnet" | "pisnet"
    width: int = 16                 # DIFNet C / PISNet w
    window: int = 8                 # DIFNet M
    levels: int = 4                 # DIFNet L
    residual_blocks: int = 8        # PISNet
    bases: int = 128                # PISNet EM bases
    nuclear: float = 1e-4           # PISNet loss weights (the public code's, relative to the MSE)
    l1: float = 1e-5

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")


def build_model(cfg: RFINetConfig) -> torch.nn.Module:
    if cfg.model == "difnet":
        return DIFNet(1, cfg.width, cfg.window, cfg.levels)
    return PISNet(cfg.width, cfg.residual_blocks, cfg.bases)


def size_multiple(cfg: RFINetConfig) -> int:
    """Input sides must be multiples of this (DIFNet: window x 2^levels; PISNet: two stride-2 convs)."""
    from .. import registry

    return registry.get("S1", "rfi", cfg.model).input_multiple(asdict(cfg))


def loss_fn(cfg: RFINetConfig, output: torch.Tensor, target: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """The training loss of one batch (see the module docstring)."""
    if cfg.model == "difnet":
        return F.binary_cross_entropy_with_logits(output, target)
    nuclear = torch.linalg.matrix_norm(output[:, 0], ord="nuc").mean() / output.shape[-1]
    return F.mse_loss(output, target) + cfg.nuclear * nuclear + cfg.l1 * (inputs - output).abs().mean()


def train(net: RFINetConfig, optim: OptimConfig, inputs: np.ndarray, targets: np.ndarray, output: Path,
          checkpoint_dir: Path, device: torch.device = torch.device("cpu"),
          progress: bool = True, features: dict | None = None) -> tuple[torch.nn.Module, list[float]]:
    """Train on (N, H, W) inputs/targets; per-epoch checkpoints in ``checkpoint_dir``, final weights to ``output``
    (with ``features``: what the inputs were, :func:`~restorebench.methods.rfi_suppression.feature_meta`)."""
    if inputs.shape != targets.shape or inputs.ndim != 3:
        raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} must both be (N, H, W)")
    multiple = size_multiple(net)
    if inputs.shape[1] % multiple or inputs.shape[2] % multiple:
        raise ValueError(f"training images {inputs.shape[1:]} must be multiples of {multiple}")
    torch.manual_seed(optim.seed)
    model = build_model(net)
    x = np.asarray(inputs, dtype=np.float32)[:, None]
    y = np.asarray(targets, dtype=np.float32)[:, None]
    history = train_model(model, lambda m, batch: loss_fn(net, m(batch[0]), batch[1], batch[0]), (x, y), optim,
                          asdict(net), checkpoint_dir, device, progress=f"train {net.model}" if progress else False)
    save_trained(output, model, asdict(net), history, optim.seed,
                 {"features": features} if features else None, study="S1")
    return model, history


def load_trained(path: Path, with_features: bool = False):
    """A trained S1 network from the weights written by :func:`train` (``weights_only`` loading): (model,
    config), and with ``with_features`` the recorded input features (None when the weights lack them)."""
    state = load_weights(path, study="S1")
    try:
        cfg = RFINetConfig(**state["config"])
        model = build_model(cfg)
        model.load_state_dict(state["model"])
    except Exception as err:
        raise ValueError(f"{path}: not a restorebench S1 network ({err})") from err
    model.eval()
    return (model, cfg, state.get("features")) if with_features else (model, cfg)
