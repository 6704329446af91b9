"""Which memory layout a prior fit runs in, decided per shape by measurement (S2 speed).

Channels-last is 1.4-1.6x faster than torch's default layout for the priors at the quick geometry and at
the paper's STFT up to 512 frames on the suite's own machine, but its backward pass stalls at others: on
that machine one exp+dense step at 512x1000 (a 4 s clip at the paper's STFT) did not finish in 100 s in
channels-last against 15 s in the default layout, and a user's host measured the same at 512x512. So no
layout is assumed: before a fit, :func:`measured_memory_format` times one forward + backward pass of a
throwaway copy of the prior in the default layout, then in channels-last in a child process that is
killed once it has taken twice as long (so a stall costs seconds, not hours), keeps the faster, and
caches the answer on disk (keyed by CPU, torch version, device, thread count, prior, widths and shape),
so one machine always makes the same choice and a rerun gives the same numbers. The cache lives in ``$RESTOREBENCH_CACHE`` (default
``~/.cache/restorebench``); ``FitConfig.memory_format`` / ``--memory-format`` force a layout.
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from ..devices import synchronize

CACHE_NAME = "memory_format.json"


def cache_path() -> Path:
    root = os.environ.get("RESTOREBENCH_CACHE") or Path.home() / ".cache" / "restorebench"
    return Path(root) / CACHE_NAME


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_key(prior: str, shape: Sequence[int], widths: Sequence[int], device: torch.device) -> str:
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return (f"{where}|torch {torch.__version__}|{device.type}|threads {torch.get_num_threads()}|{prior}|"
            f"widths {','.join(map(str, widths))}|shape {'x'.join(map(str, shape))}")


def time_step(prior: str, shape: Sequence[int], widths: Sequence[int], device: torch.device,
              memory_format: torch.memory_format, repeats: int = 1) -> float:
    """Seconds of one forward + backward pass of a fresh ``prior`` at ``shape`` in ``memory_format``
    (best of ``repeats`` after one untimed pass that pays for allocation and kernel selection)."""
    from .. import registry

    builder = registry.get("S2", "prior", prior).build
    net = builder(in_channels=shape[1], out_channels=shape[1], widths=tuple(widths),
                  out_activation="linear").to(device).to(memory_format=memory_format)
    code = torch.randn(tuple(shape), device=device).contiguous(memory_format=memory_format)
    best = float("inf")
    for k in range(repeats + 1):
        synchronize(device)
        start = time.perf_counter()
        net(code).square().mean().backward()
        synchronize(device)
        if k:
            best = min(best, time.perf_counter() - start)
    return best


def time_step_bounded(prior: str, shape: Sequence[int], widths: Sequence[int], device: torch.device,
                      layout: str, limit: float) -> float:
    """:func:`time_step` in a child process killed after its two passes have taken 2 x ``limit`` (plus the
    child's start-up); returns ``inf`` if it was killed or failed. The child uses this process's threads.

    On CUDA it runs here instead: a child would open a second CUDA context (refused on a GPU in exclusive-
    process mode) and spend the time limit on CUDA's start-up, and the pathologically slow layouts the child
    guards against are CPU ones."""
    if device.type == "cuda":
        return time_step(prior, shape, widths, device, torch.channels_last if layout == "channels-last"
                         else torch.contiguous_format)
    spec = json.dumps({"prior": prior, "shape": list(shape), "widths": list(widths), "device": str(device),
                       "layout": layout, "threads": torch.get_num_threads()})
    try:
        done = subprocess.run([sys.executable, "-m", "restorebench.methods.layout", spec], capture_output=True,
                              text=True, timeout=2 * limit + 20.0, check=True)
        return float(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError, ValueError, IndexError):
        return float("inf")


def _locked_cache(update: dict | None = None) -> dict:
    """Read the cache (and, given ``update``, add the keys it does not hold yet) under an exclusive lock,
    so concurrent jobs end up using the same, first-written choice."""
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            cache = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError):
            cache = {}                       # an unreadable cache is remeasured, never an error
        if update:
            new = {k: v for k, v in update.items() if k not in cache}
            if new:
                cache.update(new)
                tmp = path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
                os.replace(tmp, path)
        return cache


def measured_memory_format(prior: str, shape: Sequence[int], widths: Sequence[int], device: torch.device,
                           networks: int = 1) -> torch.memory_format:
    """The faster layout for fitting ``prior`` at ``shape`` on this machine (see the module docstring).

    ``networks`` is informational (a separation fits three networks of the same shape, so the same choice
    holds for each)."""
    key = cache_key(prior, shape, widths, device)
    cache = _locked_cache()
    if key not in cache:
        plain = time_step(prior, shape, widths, device, torch.contiguous_format)
        seconds = {"contiguous": plain,
                   "channels-last": time_step_bounded(prior, shape, widths, device, "channels-last",
                                                      limit=2 * plain)}
        choice = "channels-last" if seconds["channels-last"] < plain else "contiguous"
        cache = _locked_cache({key: {"choice": choice, "seconds": seconds,
                                     "measured": time.strftime("%Y-%m-%d %H:%M:%S")}})
    return torch.channels_last if cache[key]["choice"] == "channels-last" else torch.contiguous_format


if __name__ == "__main__":   # the bounded child of time_step_bounded: prints the seconds of one pass
    _spec = json.loads(sys.argv[1])
    torch.set_num_threads(_spec["threads"])
    from .. import registry

    registry.load_plugins()      # $RESTOREBENCH_PLUGINS, inherited from the parent
    print(time_step(_spec["prior"], _spec["shape"], _spec["widths"], torch.device(_spec["device"]),
                    torch.channels_last if _spec["layout"] == "channels-last" else torch.contiguous_format))
