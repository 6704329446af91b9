"""Where the suite's networks run, and what a run there guarantees: one place for every study.

* :func:`resolve_device` turns ``--device`` (auto, cpu, cuda, cuda:N) into a torch device, with a one-line
  error a user can act on when the device does not exist here (a workflow job that reserved a GPU passes
  ``cuda``, so a node without one says so instead of training on its CPU for hours).
* :func:`synchronize` waits for the device's queued work (timings; a no-op off CUDA).
* :func:`make_deterministic` is the ``deterministic: true`` setting: repeatable CUDA runs. By default a CUDA
  run is *not* bit-repeatable: cuDNN picks kernels whose backward passes accumulate with atomics, bilinear and
  linear upsampling's backward do too, and convolutions use TF32 (a 10-bit mantissa) on Ampere and later. CPU
  runs are deterministic either way (same machine, same torch, same thread count).
* :func:`rng_state` / :func:`set_rng_state`: every generator a training draws from (the CPU one, and the
  device's, from which e.g. S4 draws its rescaling factors alpha), for checkpoints that resume exactly.
* :func:`mixed_precision`: the ``precision: bf16`` setting. The network's forward pass runs under bf16
  autocast (half the activation memory, tensor cores); its outputs are cast back to float32, so losses and
  statistics are computed in fp32, and weights and optimiser state stay fp32.
"""
from __future__ import annotations

import contextlib
import functools
import os

import torch

#: ``precision`` values: fp32 (default) or bf16 autocast of the networks' forward passes
PRECISIONS = ("fp32", "bf16")


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; otherwise the named device, checked to exist here (a clear
    ValueError naming --device, not a traceback from deep inside the first tensor moved to it)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"--device {name!r} is not a torch device: use auto, cpu, cuda or cuda:N") from err
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"--device {name}: torch sees no CUDA device here (torch {torch.__version__}"
                f"{', a CPU-only build' if torch.version.cuda is None else ''}"
                f"{f', CUDA_VISIBLE_DEVICES={visible!r}' if visible is not None else ''}); a workflow job that "
                f"reserved a GPU asks for cuda; elsewhere use --device auto or cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"--device {name}: only {count} CUDA device(s) are visible here (cuda:0 to cuda:{count - 1}"
                f"{f', CUDA_VISIBLE_DEVICES={visible!r}' if visible is not None else ''}); a job given one GPU by "
                f"its scheduler (--gpus=1) sees it as cuda:0: use --device cuda")
    elif device.type not in ("cpu", "mps"):
        raise ValueError(f"--device {name}: only auto, cpu, cuda and cuda:N are supported")
    return device


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (this device, not the current one: timing on cuda:1 with a
    bare ``torch.cuda.synchronize()`` would wait on cuda:0 and time only the launches)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_deterministic() -> None:
    """Repeatable CUDA runs (``deterministic: true``; call before the first CUDA operation).

    Sets torch's deterministic algorithms (an operation without a deterministic CUDA kernel raises instead of
    running; the suite's networks replace the two they use, see restorebench.models.upsample), cuDNN's
    deterministic, non-benchmarked kernels, cuBLAS's fixed workspace (``CUBLAS_WORKSPACE_CONFIG``, read when
    cuBLAS starts) and full-fp32 convolutions and matmuls (no TF32). Costs speed on a GPU, nothing on a CPU.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def numerics(device: torch.device, precision: str = "fp32") -> str:
    """What a run on ``device`` computes in, for run facts and job logs: the precision, and on CUDA whether
    TF32 and nondeterministic kernels are allowed (torch's defaults) or not (:func:`make_deterministic`)."""
    parts = [f"{precision} weights and losses" if precision == "fp32" else
             f"{precision} autocast forward passes, fp32 weights and losses"]
    if device.type == "cuda":
        parts.append("TF32 convolutions" if torch.backends.cudnn.allow_tf32 else "no TF32")
        parts.append("deterministic kernels" if torch.are_deterministic_algorithms_enabled()
                     else "nondeterministic kernels (not bit-repeatable)")
    return ", ".join(parts)


def rng_state(device: torch.device) -> dict:
    """The state of every generator a training on ``device`` draws from: the CPU's, and the CUDA device's."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state, device: torch.device) -> None:
    """Restore what :func:`rng_state` saved (a bare tensor: a checkpoint from before the device's was kept)."""
    if isinstance(state, torch.Tensor):
        torch.set_rng_state(state)
        return
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _to_float32(value):
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, dict):
        return {k: _to_float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float32(v) for v in value)
    return value


@contextlib.contextmanager
def mixed_precision(model: torch.nn.Module, precision: str, device: torch.device):
    """Within the block, ``model``'s forward pass runs under ``precision`` autocast and returns float32
    tensors (tensors, dicts, lists, tuples of them), so that the loss around it is computed in fp32. fp32:
    nothing changes."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        yield
        return
    forward = model.forward

    @functools.wraps(forward)
    def autocast_forward(*args, **kwargs):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            return _to_float32(forward(*args, **kwargs))

    model.forward = autocast_forward
    try:
        yield
    finally:
        del model.forward          # the class's forward again
