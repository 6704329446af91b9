"""S4, equivariance-based self-supervised declipping: one job's work, written as tidy rows.

* :func:`synthetic_job` -- paper Figure 5: one declipper (a registered S4 method) at one model dimension d
  and one saturated fraction v on the sparse-DCT signal model: trains it (if it is a trained method) on
  clipped training signals and scores SDR on held-out test signals, one row per test signal.

SDR = 20 log10(||x|| / ||x - x_hat||) (SPEC S4): the same quantity as metrics.audio.snr_db.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import registry
from ..data.clipping import SYNTHETIC_DATASET, clipped_set, sparse_dct_signals
from ..metrics.audio import snr_db
from ..tidy import write_rows

STUDY = "S4"


@dataclass(frozen=True)
class SyntheticSizes:
    """The Figure 5 signal model and set sizes of one scale preset (config ``scales.<scale>.s4.synthetic``)."""
    length: int = 256
    band: float = 0.125
    train_signals: int = 1024
    test_signals: int = 64


def sdr_db(clean: np.ndarray, estimate: np.ndarray) -> float:
    """SDR = 20 log10(||x|| / ||x - x_hat||) in dB."""
    return snr_db(clean, estimate)


def _fraction_label(v: float) -> str:
    return f"v={100 * v:g}%"


def run_declipper(method: str, y: np.ndarray, mu: np.ndarray, model=None, device=None, context=None) -> np.ndarray:
    """x_hat for every row of ``y`` (n, T) at thresholds ``mu`` (n,) with a registered S4 declipper."""
    spec = registry.get(STUDY, "declipper", method)
    if spec.trained:
        from ..methods.declipping import declip

        return declip(model, y, mu, device=device)
    return np.stack([spec.run(row, float(m), context or {}) for row, m in zip(y, mu)]).astype(np.float32)


def synthetic_job(method: str, d: int, v: float, sizes: SyntheticSizes, net, optim, output: Path,
                  checkpoint_dir: Path, device, seed: int = 0, weights: Path | None = None,
                  progress: bool = True) -> None:
    """Figure 5 cell: train ``method`` (if trained) at (d, v) and score SDR on the test signals."""
    from dataclasses import replace

    spec = registry.get(STUDY, "declipper", method)
    test = clipped_set(sparse_dct_signals(sizes.test_signals, sizes.length, d, seed + 1, sizes.band), v)
    model = None
    start = time.perf_counter()
    if spec.trained:
        import tempfile

        from ..methods.declipping import load_trained, train, training_arrays

        cfg = replace(net, objective=spec.params["objective"])
        data = clipped_set(sparse_dct_signals(sizes.train_signals, sizes.length, d, seed, sizes.band), v)
        arrays = training_arrays(cfg, data["y"], data["mu"], data["clean"])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(weights) if weights else Path(tmp) / "weights.pt"
            train(cfg, optim, arrays, path, checkpoint_dir, device,
                  progress=f"{method} d={d} {_fraction_label(v)}" if progress else False)
            _, model = load_trained(path)
    estimate = run_declipper(method, test["y"], test["mu"], model, device)
    seconds = time.perf_counter() - start
    base = {"study": STUDY, "experiment": "figure5", "dataset": SYNTHETIC_DATASET, "domain": f"d={d}",
            "method": method, "task": "declipping", "condition": _fraction_label(v), "seed": seed,
            "metric": "sdr", "wall_seconds": round(seconds, 3), "device": str(device), "d": d, "v": v}
    write_rows([{**base, "item": f"signal{i}", "value": sdr_db(c, e)}
                for i, (c, e) in enumerate(zip(test["clean"], estimate))], output)
