"""Writing result files safely, for every study: arrays, tables, JSON, text and checkpoints.

:func:`atomic_output` writes to a temporary name in the target folder and renames on success, so an
interrupted or failed step never leaves a half-written file (a rerun then redoes the step). The readers
here give back plain dicts of arrays, so that nothing a job reads holds a file open.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or "".join(path.suffixes),
                               dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp creates 0600; results should be readable like any file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_npz(path, **arrays) -> None:
    """np.savez_compressed, atomically."""
    with atomic_output(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def load_npz(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def meta_arrays(**values) -> dict[str, np.ndarray]:
    """A step's facts (task, split, seed, ...) as ``meta_<name>`` arrays, to store beside its data in an .npz."""
    return {f"meta_{k}": np.asarray(v) for k, v in values.items()}


def read_meta(data: dict[str, np.ndarray]) -> dict:
    """The ``meta_<name>`` entries of a loaded .npz (:func:`meta_arrays`), scalars as Python values."""
    return {k[5:]: (v.item() if v.ndim == 0 else v) for k, v in data.items() if k.startswith("meta_")}


def write_json(path, obj) -> None:
    with atomic_output(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def write_text(path, text: str) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")
