"""The one training loop of the suite: every network it trains (S1's DIFNet and PISNet now, MERLIN and the
declipper next) goes through :func:`train_model`.

What it guarantees, so that a training survives Snakemake, a cluster time limit or Ctrl-C:

* **Checkpoints outside the job's outputs.** Snakemake deletes a job's declared outputs before the job starts
  and after it fails, so a per-epoch checkpoint declared as the output could never be resumed from inside
  the workflow. Here the per-epoch checkpoint lives in ``checkpoint_dir`` (not an output), is written
  atomically after every epoch, and the declared output (the final weights) is written once, at the end.
* **Exact resume.** The batch order of epoch e comes from a generator seeded by (seed, e); the optimiser,
  learning-rate schedule and torch RNG states are saved with the weights, so a resumed training gives the
  same weights as one that was never interrupted (tested on CPU). Every generator the training draws from
  is saved: the CPU's and, on CUDA, the device's (S4 draws its rescaling factors there).
* **No host round trip per step.** The training set is copied to the device once when it takes at most a
  quarter of the device's free memory (else each batch is copied through pinned memory without blocking); the
  epoch's loss is summed on the device and read, and checked to be finite, once per epoch. A non-finite loss
  stops the training before its epoch is checkpointed, so a rerun resumes from the last good epoch.
* **Safe loading.** Checkpoints load with ``torch.load(weights_only=True)``. A checkpoint that cannot be read,
  or was written for another model, configuration or training set (compared by fingerprint), is reported
  with a warning naming the file and training restarts from scratch.

**Trained means converged** (SPEC "Findings, not artefacts"). Given ``validation`` arrays -- a held-out
split drawn like the training data, chosen by the study (:func:`holdout`) -- the loop records after every
epoch the network's own training loss on them, or the study's validation loss when it gives one (S4: the
held-out declipping error against clean recordings, because a self-supervised loss whose target moves with
the network does not show convergence), in eval mode, with the random draws of the loss fixed and the
training's random state put back, so training is bit-identical with and without validation. :func:`plateau`
reads the curve.

The optimiser (Adam or AdamW), learning rate and weight decay, a step schedule (x ``lr_gamma`` every
``lr_step_epochs`` epochs, 0 = constant, or at the epochs ``lr_milestones``, as the MERLIN-multitask paper's Table 1), gradient-norm clipping (0 = off), batch size and epochs all come
from :class:`OptimConfig`, i.e. from the workflow's config.
"""
from __future__ import annotations

import hashlib
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..files import atomic_output
from ..devices import PRECISIONS, mixed_precision, rng_state, set_rng_state

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


@dataclass(frozen=True)
class OptimConfig:
    epochs: int = 100
    batch_size: int = 4
    optimizer: str = "adamw"         # adam | adamw
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    lr_step_epochs: int = 0          # multiply the learning rate by lr_gamma every this many epochs (0 = off)
    lr_gamma: float = 0.5
    grad_clip_norm: float = 0.0      # clip the global gradient norm to this (0 = off)
    seed: int = 0
    lr_milestones: tuple[int, ...] = ()   # or: multiply by lr_gamma at each of these epochs (MultiStepLR)
    precision: str = "fp32"          # fp32 | bf16 (autocast forward passes; fp32 losses, weights, optimiser)
    extend_to_plateau: int = 0       # up to this many epochs more, one at a time, until plateau() holds

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.epochs < 1 or self.batch_size < 1 or self.extend_to_plateau < 0:
            raise ValueError(f"epochs ({self.epochs}) and batch_size ({self.batch_size}) must be at least 1, "
                             f"extend_to_plateau ({self.extend_to_plateau}) at least 0")
        if self.lr_milestones and self.lr_step_epochs:
            raise ValueError("give either lr_milestones or lr_step_epochs, not both")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        object.__setattr__(self, "lr_milestones", tuple(int(e) for e in self.lr_milestones))


def fingerprint(*arrays: np.ndarray) -> str:
    """A digest of the training data (shapes, dtypes and bytes), so a checkpoint is never resumed on other data."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _identity(model_config: dict, optim: OptimConfig, data_digest: str) -> dict:
    # everything but the epoch budget (its extension included): a longer run may continue a shorter one's
    # checkpoint. fp32 is left out so that checkpoints written before the precision setting existed still resume
    optim_identity = {k: v for k, v in asdict(optim).items()
                      if k not in ("epochs", "extend_to_plateau") and not (k == "precision" and v == "fp32")}
    return {"model": model_config, "optim": optim_identity, "data": data_digest}


def load_checkpoint(path: Path, identity: dict) -> dict | None:
    """The checkpoint at ``path`` when it is readable and was written for ``identity``; else None (warned)."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        for key in ("model", "optimizer", "scheduler", "epoch", "history", "identity", "rng"):
            if key not in state:
                raise ValueError(f"it lacks {key!r}")
        if state["identity"] != identity:
            raise ValueError("it was written for a different model, configuration or training set")
        return state
    except Exception as err:  # a truncated or foreign file is never fatal: training restarts
        warnings.warn(f"{path}: unusable checkpoint ({err}); training restarts from scratch", stacklevel=3)
        return None


#: the plateau rule (docs/verdicts.md): over the last PLATEAU_TAIL of the epochs the validation loss's median
#: improved on its median over as many epochs just before them by less than PLATEAU_TOLERANCE, or by less than
#: the curve's own epoch-to-epoch scatter there when that is larger (at most PLATEAU_SCATTER_CAP) and measured
#: on PLATEAU_NOISE_MIN_STEPS or more epoch-to-epoch changes
PLATEAU_TAIL, PLATEAU_TOLERANCE, PLATEAU_NOISE_MIN_STEPS, PLATEAU_SCATTER_CAP = 0.2, 0.01, 5, 0.02


def _tail_length(n: int, tail: float) -> int:
    return min(max(1, int(np.ceil(tail * n))), n - 1)


def validation_scatter(validation: list[float], tail: float = PLATEAU_TAIL) -> float:
    """The validation loss's epoch-to-epoch scatter over the last ``tail`` of the epochs: the median of
    |v_e - v_(e-1)| / v_(e-1) over the changes into and within that stretch. On a steadily falling curve it
    is one epoch's fall (so k epochs' improvement exceeds it); on a flat curve that jitters it is the jitter.
    NaN with fewer than :data:`PLATEAU_NOISE_MIN_STEPS` changes to measure it on (or non-finite values)."""
    values = np.asarray([float(v) for v in validation], dtype=np.float64)
    if len(values) < 2 or not np.all(np.isfinite(values)):
        return float("nan")
    k = _tail_length(len(values), tail)
    if k < PLATEAU_NOISE_MIN_STEPS:
        return float("nan")
    stretch = values[-k - 1:]
    changes = np.abs(np.diff(stretch)) / np.maximum(np.abs(stretch[:-1]), 1e-12)
    return float(np.median(changes))


def plateau(validation: list[float], tail: float = PLATEAU_TAIL,
            tolerance: float = PLATEAU_TOLERANCE) -> tuple[bool | None, float]:
    """(at a plateau, relative improvement over the last ``tail`` of the epochs): the median validation loss
    of the last k = ceil(tail x epochs) epochs against its median over the k epochs before them (all of the
    earlier ones when fewer), relative to the latter; at a plateau when that improvement is below
    ``tolerance``, or below :func:`validation_scatter` when that is measured and larger, up to
    :data:`PLATEAU_SCATTER_CAP` (2 %): a curve that jitters by 10 % an epoch (S4's Figure 5 networks at
    `quick`) cannot show that it stopped falling, and would otherwise pass with any improvement smaller
    than its jitter.

    Medians of two adjacent stretches, not single epochs or bests: a validation loss on a few held-out
    scenes jitters from epoch to epoch by more than the tolerance (S1 at `standard`: 1-5 %), so one high
    epoch before the stretch read as improvement when the stretch was compared with that epoch, and one
    lucky low epoch anywhere before it hid a curve still falling when the stretch's best was compared
    with the best before it (S4, a Figure 5 network at d = 16, jittering ~3 % an epoch: its median fell 4 %
    over its last 60 of 300 epochs, and it read "plateau" because of one dip to 0.0031 at epoch 213). The
    scatter bound because an improvement smaller than the curve's own epoch-to-epoch change is jitter, not
    learning, while a curve still falling by a steady amount per epoch improves over the stretch by about k
    times its scatter and is not at a plateau.
    None (and NaN) when there are too few epochs to tell (fewer than two) or no validation loss."""
    values = np.asarray([float(v) for v in validation], dtype=np.float64)
    if len(values) < 2 or not np.all(np.isfinite(values)):
        return None, float("nan")
    k = _tail_length(len(values), tail)
    before = float(np.median(values[max(0, len(values) - 2 * k):-k]))
    last = float(np.median(values[-k:]))
    improvement = (before - last) / max(abs(before), 1e-12)
    scatter = validation_scatter(list(values), tail)
    bound = max(tolerance, min(scatter, PLATEAU_SCATTER_CAP)) if np.isfinite(scatter) else tolerance
    return bool(improvement < bound), float(improvement)


def holdout(groups: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Which items (boolean, by item) form the validation split: whole groups (scenes, recordings, patches)
    drawn by a seeded permutation, max(1, round(share x groups)) of them when there are at least two groups
    and ``share`` > 0, else none. Holding out whole groups keeps pulses of one scene or segments of one
    recording from sitting on both sides."""
    groups = np.asarray(groups)
    unique = np.unique(groups)
    if share <= 0 or unique.size < 2:
        return np.zeros(groups.shape, dtype=bool)
    count = min(unique.size - 1, max(1, int(round(share * unique.size))))
    chosen = np.random.default_rng([seed, 7919]).permutation(unique)[:count]
    return np.isin(groups, chosen)


def _scheduler(optimizer, cfg: OptimConfig):
    if cfg.lr_milestones:
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, list(cfg.lr_milestones), cfg.lr_gamma)
    if cfg.lr_step_epochs:
        return torch.optim.lr_scheduler.StepLR(optimizer, cfg.lr_step_epochs, cfg.lr_gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def _training_tensors(data: tuple[np.ndarray, ...], device: torch.device) -> list[torch.Tensor]:
    """The training arrays as tensors: on a CUDA ``device`` when they take at most a quarter of its free
    memory (no copy per step), else on the CPU (each batch then goes through pinned memory: see _batch)."""
    tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in data]
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if sum(t.numel() * t.element_size() for t in tensors) > free // 4:
            return tensors
    return [t.to(device) for t in tensors]


def _batch(tensor: torch.Tensor, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Rows ``idx`` of ``tensor`` on ``device``; from the CPU to CUDA through pinned memory, without blocking."""
    if tensor.device.type == device.type:
        return tensor[idx.to(tensor.device)]
    rows = tensor[idx]
    return (rows.pin_memory() if device.type == "cuda" else rows).to(device, non_blocking=True)


class History(list):
    """What a training recorded: the per-epoch mean training losses (the list itself, as before validation
    existed), ``validation`` the per-epoch loss on the validation split (empty without one) and ``steps``
    the optimiser steps taken."""

    def __init__(self, train=(), validation=(), steps: int = 0):
        super().__init__(float(v) for v in train)
        self.validation = [float(v) for v in validation]
        self.steps = int(steps)

    @property
    def train(self) -> list[float]:
        return list(self)


def _validation_loss(model, loss_fn, tensors, cfg: OptimConfig, device) -> float:
    """The mean ``loss_fn`` (the training's loss, or the study's validation loss) over the validation
    tensors, in eval mode without gradients; the loss's random draws come from one fixed seed (the same every epoch, so the curve moves only with the network) and the
    training's random state is put back afterwards."""
    state = rng_state(device)
    torch.manual_seed(cfg.seed + 104_729)
    model.eval()
    n = len(tensors[0])
    total = 0.0
    with torch.no_grad():
        for first in range(0, n, cfg.batch_size):
            idx = torch.arange(first, min(first + cfg.batch_size, n))
            batch = tuple(_batch(t, idx, device) for t in tensors)
            with mixed_precision(model, cfg.precision, device):
                total += float(loss_fn(model, batch)) * len(idx)
    set_rng_state(state, device)
    model.train()
    return total / n


def train_model(model: torch.nn.Module, loss_fn: Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
                data: tuple[np.ndarray, ...], cfg: OptimConfig, model_config: dict, checkpoint_dir: Path,
                device: torch.device = torch.device("cpu"), progress: str | bool = True,
                validation: tuple[np.ndarray, ...] | None = None,
                validation_loss: Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], torch.Tensor] | None = None,
                ) -> History:
    """Train ``model`` in place on ``data`` (arrays sharing their first axis); returns its :class:`History`.

    ``loss_fn(model, batch)`` returns the mean loss of one batch (tensors on ``device``). ``model_config``
    identifies the architecture (saved with every checkpoint). ``validation``: arrays like ``data`` held out
    from it, scored after every epoch with ``validation_loss(model, batch)`` when given (its batches are the
    validation arrays, which may hold more than ``data``: S4 scores every declipper against the clean held-out
    recordings its training arrays lack), else with ``loss_fn`` (module docstring). The per-epoch checkpoint is
    ``checkpoint_dir/last.pt``; resuming from it is logged ("resumed from epoch k of n").

    ``cfg.extend_to_plateau`` > 0 with a validation split: after ``cfg.epochs`` the training goes on one epoch
    at a time, the schedule continuing (after its last milestone: at its last rate), until :func:`plateau`
    reads the validation curve as flat or that many more epochs have run. Every network of a run follows the
    same rule, so one whose loss still falls at the scheduled end trains until it stops falling instead of
    being reported untrained; the epochs it took are in its history (the training tables). Deterministic: a
    resumed training stops where an uninterrupted one does.
    """
    n = len(data[0])
    if any(len(a) != n for a in data):
        raise ValueError(f"training arrays have different lengths: {[len(a) for a in data]}")
    checkpoint = Path(checkpoint_dir) / "last.pt"
    held_out = tuple(validation) if validation is not None and len(validation[0]) else ()
    identity = _identity(model_config, cfg, fingerprint(*data, *held_out))
    torch.manual_seed(cfg.seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = OPTIMIZERS[cfg.optimizer](params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = _scheduler(optimizer, cfg)
    start, history, val_history = 0, [], []
    state = load_checkpoint(checkpoint, identity)
    most = cfg.epochs + (cfg.extend_to_plateau if held_out else 0)
    if state is not None and int(state["epoch"]) > most:
        warnings.warn(f"{checkpoint}: has {state['epoch']} epochs, more than the {most} asked for; "
                      f"training restarts from scratch", stacklevel=2)
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"], device)
        start, history = int(state["epoch"]), list(state["history"])
        val_history = list(state.get("validation", []))
        print(f"{checkpoint}: resumed from epoch {start} of {cfg.epochs}", file=sys.stderr, flush=True)
    tensors = _training_tensors(data, device)
    val_tensors = _training_tensors(held_out, device) if held_out else ()
    bar = None
    if progress and start < cfg.epochs:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.epochs, initial=start, desc=progress if isinstance(progress, str) else "train",
                   unit="epoch")
    for epoch in range(start, most):
        if epoch >= cfg.epochs and plateau(val_history)[0] is not False:
            break                              # the extension: only while the validation loss still falls
        model.train()
        order = np.random.default_rng([cfg.seed, epoch]).permutation(n)
        # summed on the device in float64: the same sum, in the same order, as Python floats would give
        total = torch.zeros((), dtype=torch.float64 if device.type != "mps" else torch.float32, device=device)
        for first in range(0, n, cfg.batch_size):
            idx = torch.from_numpy(order[first:first + cfg.batch_size])
            batch = tuple(_batch(t, idx, device) for t in tensors)
            with mixed_precision(model, cfg.precision, device):
                loss = loss_fn(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip_norm:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip_norm)
            optimizer.step()
            total += loss.detach().to(total.dtype) * len(idx)
        mean_loss = float(total) / n           # the epoch's one read from the device
        if not np.isfinite(mean_loss):
            raise FloatingPointError(f"training loss became {mean_loss} in epoch {epoch + 1}; lower the learning "
                                     f"rate or enable gradient clipping (the checkpoint keeps epoch {epoch})")
        scheduler.step()
        history.append(mean_loss)
        if val_tensors:
            val_history.append(_validation_loss(model, validation_loss or loss_fn, val_tensors, cfg, device))
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(checkpoint, suffix=".pt") as tmp:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "history": history,
                        "validation": val_history, "identity": identity, "rng": rng_state(device)}, tmp)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{history[-1]:.4g}")
    if bar is not None:
        bar.close()
    model.eval()
    return History(history, val_history, len(history) * int(np.ceil(n / cfg.batch_size)))


#: what each study's weights are, for the error a tool prints when it is given another study's
STUDY_NETWORKS = {"S1": "an S1 RFI-suppression network (s1-train)", "S3": "an S3 MERLIN/IM2HEIGHT network (s3-train)",
                  "S4": "an S4 declipper (s4-music-train, s4-synthetic)"}


def save_trained(path: Path, model: torch.nn.Module, model_config: dict, history: History,
                 seed: int, extra: dict | None = None, study: str | None = None) -> None:
    """The final weights (the job's output): state dict, the architecture's config, the loss history (training,
    validation, optimiser steps), the training ``seed`` (evaluation rows carry it: a verdict over several
    trained networks pairs by seed), the ``study`` they belong to (a tool given another study's weights says
    so) and ``extra`` entries (what the inputs were: S1's feature normalisation and STFT, S3's patch size)."""
    history = history if isinstance(history, History) else History(history)     # a plain list of losses
    with atomic_output(path, suffix=".pt") as tmp:
        torch.save({"model": model.state_dict(), "config": model_config, "epoch": len(history.train),
                    "history": history.train, "validation": history.validation, "steps": int(history.steps),
                    "seed": int(seed), **({"study": study} if study else {}), **(extra or {})}, tmp)


def training_seed(path: Path) -> int | None:
    """The seed the weights at ``path`` were trained with (None for files written before it was stored)."""
    seed = load_weights(path).get("seed")
    return None if seed is None else int(seed)


def load_weights(path: Path, study: str | None = None) -> dict:
    """A file written by :func:`save_trained`, loaded with ``weights_only=True``; errors name the file. With
    ``study``, weights another study wrote are refused (files written before the study was stored pass here;
    their loaders check the config)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: trained weights not found; train them with the workflow first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        for key in ("model", "config"):
            if key not in state:
                raise ValueError(f"it lacks {key!r}")
    except Exception as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "Weights only load failed" in reason:
            # torch's own text advises weights_only=False, which would run whatever the file contains
            reason = "torch.load cannot read it as a file of tensors"
        raise ValueError(f"{path}: not a restorebench weights file ({reason})") from err
    if study and state.get("study", study) != study:
        raise ValueError(f"{path}: these are the weights of {STUDY_NETWORKS.get(state['study'], state['study'])}, "
                         f"not {STUDY_NETWORKS[study]}")
    return state
