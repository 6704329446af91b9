"""Supervised training of the S1 networks, through the suite's one training loop (:mod:`.training`).

Every trained S1 method declares in the registry (:mod:`restorebench.registry`, slot ``S1``/``rfi``) how its
network is built, what it learns (``target``: the Eq. 13 RFI mask or the clean normalised magnitude), its
loss and its parameters with their defaults: DIFNet learns the mask with binary cross-entropy, PISNet the
magnitude with MSE + nuclear-norm + L1 terms (their docstrings in the registry). This module trains any of
them. The paper's optimiser is AdamW (lr 2e-4, weight decay 0.02, batch 4); it comes from the workflow's
config as an :class:`~restorebench.methods.training.OptimConfig`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .training import History, OptimConfig, load_weights, save_trained, train_model

#: training targets a trained S1 method may declare, and the training-image array each one reads
TARGET_ARRAYS = {"mask": "labels", "magnitude": "clean_features"}


def trained_methods() -> tuple[str, ...]:
    """The registered S1 methods that train a network (built-in and plugins)."""
    from .. import registry

    return tuple(m.name for m in registry.methods("S1", "rfi") if m.trained)


@dataclass(frozen=True)
class RFINetConfig:
    """One trained S1 network: the registered method ``model`` and its parameters (architecture and loss
    weights), the declaration's defaults overridden by ``params``."""

    model: str
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        from .. import registry

        declared = registry.get("S1", "rfi", self.model)
        if not declared.trained:
            raise ValueError(f"S1 method {self.model!r} trains no network; trained: {', '.join(trained_methods())}")
        unknown = sorted(set(self.params) - set(declared.params))
        if unknown:
            raise ValueError(f"{self.model} has no parameter {', '.join(unknown)}; its parameters: "
                             f"{', '.join(f'{k} (default {v})' for k, v in declared.params.items())}")
        object.__setattr__(self, "params", {**declared.params, **self.params})

    @property
    def method(self):
        from .. import registry

        return registry.get("S1", "rfi", self.model)

    @property
    def target(self) -> str:
        return self.method.target


def build_model(cfg: RFINetConfig) -> torch.nn.Module:
    return cfg.method.build(cfg.params)


def size_multiple(cfg: RFINetConfig) -> int:
    """Input sides must be multiples of this (the declaration's ``input_multiple``; 1 without one)."""
    multiple = cfg.method.input_multiple
    return int(multiple(cfg.params)) if multiple else 1


def loss_fn(cfg: RFINetConfig, output: torch.Tensor, target: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """The training loss of one batch: the declaration's ``loss``."""
    return cfg.method.loss(cfg.params, output, target, inputs)


def _legacy_config(config: dict) -> dict:
    """Weights written before methods declared their parameters stored DIFNet's/PISNet's fields flat."""
    if "params" in config or config.get("model") not in ("difnet", "pisnet"):
        return config
    if config["model"] == "difnet":
        params = {"channels": config["width"], "window": config["window"], "levels": config["levels"]}
    else:
        params = {k: config[k] for k in ("width", "residual_blocks", "bases", "nuclear", "l1")}
    return {"model": config["model"], "params": params}


def train(net: RFINetConfig, optim: OptimConfig, inputs: np.ndarray, targets: np.ndarray, output: Path,
          checkpoint_dir: Path, device: torch.device = torch.device("cpu"),
          progress: bool = True, features: dict | None = None,
          validation: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[torch.nn.Module, History]:
    """Train on (N, H, W) inputs/targets; per-epoch checkpoints in ``checkpoint_dir``, final weights to ``output``
    (with ``features``: what the inputs were, :func:`~restorebench.methods.rfi_suppression.feature_meta``;
    ``validation``: held-out (inputs, targets) whose loss is recorded per epoch)."""
    if inputs.shape != targets.shape or inputs.ndim != 3:
        raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} must both be (N, H, W)")
    multiple = size_multiple(net)
    if inputs.shape[1] % multiple or inputs.shape[2] % multiple:
        raise ValueError(f"training images {inputs.shape[1:]} must be multiples of {multiple}")
    torch.manual_seed(optim.seed)
    model = build_model(net)
    x = np.asarray(inputs, dtype=np.float32)[:, None]
    y = np.asarray(targets, dtype=np.float32)[:, None]
    if hasattr(model, "start_output_at"):     # a network that regresses a bounded target (PISNet) starts at
        model.start_output_at(float(y.mean()))    # its mean, not where its output saturates (models/pisnet.py)
    held_out = None
    if validation is not None and len(validation[0]):
        held_out = tuple(np.asarray(a, dtype=np.float32)[:, None] for a in validation)
    history = train_model(model, lambda m, batch: loss_fn(net, m(batch[0]), batch[1], batch[0]), (x, y), optim,
                          asdict(net), checkpoint_dir, device, progress=f"train {net.model}" if progress else False,
                          validation=held_out)
    save_trained(output, model, asdict(net), history, optim.seed,
                 {"features": features} if features else None, study="S1")
    return model, history


def load_trained(path: Path, with_features: bool = False):
    """A trained S1 network from the weights written by :func:`train` (``weights_only`` loading): (model,
    config), and with ``with_features`` the recorded input features (None when the weights lack them)."""
    state = load_weights(path, study="S1")
    try:
        cfg = RFINetConfig(**_legacy_config(state["config"]))
        model = build_model(cfg)
        model.load_state_dict(state["model"])
    except Exception as err:
        raise ValueError(f"{path}: not a restorebench S1 network ({err})") from err
    model.eval()
    return (model, cfg, state.get("features")) if with_features else (model, cfg)
