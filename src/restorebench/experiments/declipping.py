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
from ..tidy import REPLICATE, write_rows

STUDY = "S4"


@dataclass(frozen=True)
class SyntheticSizes:
    """The Figure 5 signal model and set sizes of one scale preset (config ``scales.<scale>.s4.synthetic``)."""
    length: int = 256
    band: float = 0.125
    train_signals: int = 1024
    test_signals: int = 64


#: the SDR of an exact reconstruction: float32 samples resolve 2^-24 of their scale, 20 log10(2^24) dB
SDR_RESOLUTION_DB = 20 * np.log10(2.0 ** 24)


def sdr_db(clean: np.ndarray, estimate: np.ndarray) -> float:
    """SDR = 20 log10(||x|| / ||x - x_hat||) in dB, at most :data:`SDR_RESOLUTION_DB` (144.5 dB): an exact
    reconstruction (Figure 5's model-aware ceiling) reads the resolution of float32 samples, not infinity."""
    return min(snr_db(clean, estimate), SDR_RESOLUTION_DB)


def _fraction_label(v: float) -> str:
    return f"v={100 * v:g}%"


def run_declipper(method: str | None, y: np.ndarray, mu: np.ndarray, model=None, device=None,
                  context=None, mask: np.ndarray | None = None) -> np.ndarray:
    """The raw output x_hat for every row of ``y`` (n, T) at thresholds ``mu`` (n,): with the trained network
    ``model`` when one is given (a trained declipper), else with the registered untrained S4 declipper
    ``method``. ``mask`` (n, T; 1 = saturated), when given, says which samples are clipped instead of
    |y| >= mu. :func:`declip_consistent` is what a declipper returns."""
    if model is not None:
        from ..methods.declipping import declip

        return declip(model, y, mu, device=device, mask=mask)
    spec = registry.get(STUDY, "declipper", method)
    if spec.trained:
        raise ValueError(f"S4 declipper {method!r} is a network: give its trained weights")
    rows = mask if mask is not None else [None] * len(y)
    return np.stack([spec.run(row, float(m), {**(context or {}), **({"mask": r} if r is not None else {})})
                     for row, m, r in zip(y, mu, rows)]).astype(np.float32)


def declip_consistent(method: str | None, y: np.ndarray, mu: np.ndarray, model=None, device=None,
                      context=None) -> tuple[np.ndarray, np.ndarray]:
    """(estimate, raw output) for every row of ``y``: the estimate is P_Gamma of the raw output -- the
    reliable samples kept, the saturated ones at or beyond the rail (physics.clipping.project_consistent) --
    what every declipper returns, the user tool included; the tables and claims score it, and the raw output
    beside it. A consistent method (the clipped input, A-SPADE, the spline) is unchanged by it."""
    from ..physics.clipping import project_consistent, saturation_mask

    raw = run_declipper(method, y, mu, model, device, context=context)
    mask = saturation_mask(np.asarray(y), np.asarray(mu, dtype=np.float32).reshape(-1, 1))
    return project_consistent(raw, y, mask).astype(np.float32), raw


def validation_signals(sizes: SyntheticSizes, d: int, v: float, seed: int) -> tuple:
    """The trainer's validation arrays for a synthetic training: fresh signals of the same d-sparse model,
    clipped alike (the seed's validation stream), a tenth as many as the training ones (at least 8), with
    their clean signals for the held-out error (methods.declipping.validation_arrays)."""
    from ..methods.declipping import validation_arrays

    count = max(8, sizes.train_signals // 10)
    held = clipped_set(sparse_dct_signals(count, sizes.length, d, seed, sizes.band, role="validation"), v)
    return validation_arrays(held["y"], held["mu"], held["clean"])


def synthetic_job(method: str, d: int, v: float, sizes: SyntheticSizes, net, optim, output: Path,
                  checkpoint_dir: Path, device, seed: int = 0, weights: Path | None = None,
                  progress: bool = True) -> None:
    """Figure 5 cell: train ``method`` (if trained) at (d, v) and score SDR on the test signals."""
    from dataclasses import replace

    spec = registry.get(STUDY, "declipper", method)
    test = clipped_set(sparse_dct_signals(sizes.test_signals, sizes.length, d, seed, sizes.band, role="test"), v)
    model = None
    start = time.perf_counter()
    if spec.trained:
        import tempfile

        from ..methods.declipping import load_trained, train, training_arrays

        cfg = replace(net, objective=spec.params["objective"])
        data = clipped_set(sparse_dct_signals(sizes.train_signals, sizes.length, d, seed, sizes.band), v)
        arrays = training_arrays(cfg, data["y"], data["mu"], data["clean"])
        held = validation_signals(sizes, d, v, seed)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(weights) if weights else Path(tmp) / "weights.pt"
            train(cfg, optim, arrays, path, checkpoint_dir, device,
                  progress=f"{method} d={d} {_fraction_label(v)}" if progress else False, validation=held)
            _, model = load_trained(path)
    # the data model's band, which only the model-aware ceiling (dct-ls) reads; A-SPADE's frame fitted to the
    # short synthetic signals (a power-of-two window of at most half the signal, hop a quarter of it)
    from ..methods.aspade import ASpadeConfig

    window = min(ASpadeConfig().window, 2 ** int(np.log2(max(sizes.length // 2, 4))))
    context = {"band": sizes.band, "aspade": ASpadeConfig(window=window, hop=window // 4)}
    estimate, _ = declip_consistent(method, test["y"], test["mu"], model, device, context=context)
    seconds = time.perf_counter() - start
    base = {"study": STUDY, "experiment": "figure5", "dataset": SYNTHETIC_DATASET, "domain": f"d={d}",
            "method": method, "task": "declipping", "condition": _fraction_label(v), "seed": seed,
            "metric": "sdr", "wall_seconds": round(seconds, 3), "device": str(device), "d": d, "v": v}
    write_rows([{**base, "item": f"signal{i}", "value": sdr_db(c, e)}
                for i, (c, e) in enumerate(zip(test["clean"], estimate))], output)


# ------------------------------------------------------------------------------------ Figure 3 toy (D3)

BIASED_SUFFIX = "+bias"
TOY_SCALES = (1.0, 0.1)         # the paper's Fig. 3: a signal and the same signal divided by 10


def toy_job(d: int, v: float, sizes: SyntheticSizes, net, optim, output: Path, examples: Path,
            checkpoint_dir: Path, device, seed: int = 0, progress: bool = True) -> None:
    """Paper Figure 3 / claim D3: the same declipper (``net.objective``) trained bias-free and with biases on
    signals of peak 1, both scored on test signals of peak 1 and on the same signals divided by 10 (clipped
    at their own thresholds, so v is the same). Rows: method ``<objective>`` (bias-free) and
    ``<objective>+bias``, condition ``scale=1`` / ``scale=0.1``. ``examples`` keeps test signal 0 for the figure.
    ``seed`` draws the signals; ``optim.seed`` initialises both networks (the rows' training seed).
    """
    import tempfile
    from dataclasses import replace

    from ..files import save_npz
    from ..methods.declipping import load_trained, train, training_arrays
    from ..methods.training import load_weights

    data = clipped_set(sparse_dct_signals(sizes.train_signals, sizes.length, d, seed, sizes.band), v)
    clean = sparse_dct_signals(sizes.test_signals, sizes.length, d, seed, sizes.band, role="test")
    rows, kept = [], {}
    for bias in (False, True):
        cfg = replace(net, bias=bias)
        name = cfg.objective + (BIASED_SUFFIX if bias else "")
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            train(cfg, optim, training_arrays(cfg, data["y"], data["mu"], data["clean"]), Path(tmp) / "w.pt",
                  Path(checkpoint_dir) / name, device, progress=f"toy {name}" if progress else False,
                  validation=validation_signals(sizes, d, v, seed))
            # the weights are temporary: their curves go with the examples, for the training table
            trained, side = load_weights(Path(tmp) / "w.pt"), "biased" if bias else "free"
            kept[f"history_{side}"] = np.asarray(trained["history"], dtype=np.float64)
            kept[f"validation_{side}"] = np.asarray(trained.get("validation", []), dtype=np.float64)
            kept[f"steps_{side}"] = np.asarray(int(trained.get("steps", 0)))
            kept["objective"] = np.asarray(net.objective)
            _, model = load_trained(Path(tmp) / "w.pt")
            seconds = time.perf_counter() - start
        for scale in TOY_SCALES:
            test = clipped_set(scale * clean, v)
            estimate, _ = declip_consistent(None, test["y"], test["mu"], model, device)
            base = {"study": STUDY, "experiment": "toy", "dataset": SYNTHETIC_DATASET, "domain": f"d={d}",
                    "method": name, "task": "declipping", "condition": f"scale={scale:g}", "seed": seed,
                    REPLICATE: seed, "training_seed": optim.seed, "metric": "sdr", "wall_seconds": round(seconds, 3), "device": str(device), "d": d, "v": v,
                    "scale": scale}
            rows += [{**base, "item": f"signal{i}", "value": sdr_db(c, e)}
                     for i, (c, e) in enumerate(zip(test["clean"], estimate))]
            kept[f"scale{scale:g}_clean"], kept[f"scale{scale:g}_y"] = test["clean"][0], test["y"][0]
            kept[f"scale{scale:g}_{'biased' if bias else 'free'}"] = estimate[0]
    write_rows(rows, output)
    save_npz(examples, **kept)


# ------------------------------------------------------------------------------------ music table (D1, D2)

@dataclass(frozen=True)
class MusicSizes:
    """Training segments of the music experiment (config ``scales.<scale>.s4.music``)."""
    segment: int = 16384
    hop: int = 8192


def _load_clips(paths: list[Path]) -> list[tuple[str, str, np.ndarray, np.ndarray, int]]:
    """(dataset, role, clips, source clipping, seed) of each corpus file (written by make-corpus or
    ingest-audio); source clipping is each clip's saturated fraction when its recording was already clipped
    in the source, else 0 (embedded clips are generated unclipped); seed is the file's draw seed."""
    from ..files import load_npz

    out = []
    for path in paths:
        data = load_npz(path)
        dataset = str(data.get("meta_dataset", Path(path).stem))
        clips = np.asarray(data["clips"], dtype=np.float32)
        source = np.asarray(data.get("source_clipping", np.zeros(len(clips))), dtype=np.float64)
        out.append((dataset, str(data.get("meta_role", "")) or dataset, clips, source, int(data.get("meta_seed", 0))))
    return out


def music_training_set(paths: list[Path], fractions: list[float], sizes: MusicSizes) -> dict[str, np.ndarray]:
    """Segments of the training clips: clip k of each corpus clipped at fraction ``fractions[k % len]`` (one
    threshold per recording, as a real clipped recording has), then cut into segments that keep it."""
    from ..data.clipping import segments as cut
    from ..physics.clipping import clip_to_fraction

    ys, mus, cleans, recordings = [], [], [], []
    for _, _, clips, _, _ in _load_clips(paths):
        for k, clip in enumerate(clips):
            y, _, mu = clip_to_fraction(clip[None], fractions[k % len(fractions)])
            pieces = cut(y, sizes.segment, sizes.hop)
            ys.append(pieces)
            cleans.append(cut(clip[None], sizes.segment, sizes.hop))
            mus.append(np.full(len(pieces), float(mu[0, 0]), dtype=np.float32))
            recordings.append(np.full(len(pieces), len(recordings)))
    return {"y": np.concatenate(ys), "mu": np.concatenate(mus), "clean": np.concatenate(cleans),
            "recording": np.concatenate(recordings)}


def music_train_job(method: str, train_paths: list[Path], fractions: list[float], sizes: MusicSizes, net, optim,
                    output: Path, checkpoint_dir: Path, device, progress: bool = True,
                    validation_share: float = 0.1) -> None:
    """Train one registered S4 declipper on the clipped training recordings (the self-supervised objectives
    never see the clean segments: methods.declipping.training_arrays); ``validation_share`` of the
    recordings (whole recordings: their segments overlap) are held out for the held-out error."""
    from dataclasses import replace

    from ..methods.declipping import train, training_arrays, validation_arrays

    spec = registry.get(STUDY, "declipper", method)
    if not spec.trained:
        raise ValueError(f"S4 declipper {method!r} is not trained")
    cfg = replace(net, objective=spec.params["objective"])
    from ..methods.training import holdout

    data = music_training_set(train_paths, fractions, sizes)
    held = holdout(data.pop("recording"), validation_share, optim.seed)
    kept = {k: v[~held] for k, v in data.items()}
    validation = validation_arrays(data["y"][held], data["mu"][held], data["clean"][held]) if held.any() else None
    train(cfg, optim, training_arrays(cfg, kept["y"], kept["mu"], kept["clean"]), output, checkpoint_dir, device,
          progress=f"{method} (music)" if progress else False, validation=validation)


def music_eval_job(method: str, test_paths: list[Path], fractions: list[float], output: Path, device,
                   weights: Path | None = None, example: Path | None = None, example_fraction: float = 0.1,
                   replicate: int | None = None) -> None:
    """Rows of one declipper on every test recording clipped at every fraction: SDR of its estimate (consistent
    with the measurement: :func:`declip_consistent`), Delta SDR = SDR(x_hat) - SDR(y), and the SDR of its raw
    output before the reliable samples were put back (``sdr_raw``). ``example`` keeps the first
    recording at ``example_fraction``. ``replicate``: the replicate whose recordings (and network) these are,
    written on every row (None: the recordings every replicate shares)."""
    from ..files import save_npz
    from ..methods.declipping import load_trained
    from ..physics.clipping import clip_to_fraction

    from ..methods.training import training_seed

    model = load_trained(weights)[1] if weights else None
    trained_with = training_seed(weights) if weights else None     # the unit of pairing over several networks
    rows, kept = [], {}
    for dataset, role, clips, source_clipping, seed in _load_clips(test_paths):
        for v in fractions:
            y, _, mu = clip_to_fraction(clips, v)
            start = time.perf_counter()
            estimate, raw = declip_consistent(method, y, mu[:, 0], model, device)
            seconds = (time.perf_counter() - start) / len(clips)
            for i, (clean, measured, restored, unprojected) in enumerate(zip(clips, y, estimate, raw)):
                base = {"study": STUDY, "experiment": "music", "dataset": dataset, "domain": role, "method": method,
                        "task": "declipping", "condition": _fraction_label(v), "item": f"{dataset}/clip{i}",
                        "seed": seed, REPLICATE: replicate, "training_seed": trained_with,
                        "wall_seconds": round(seconds, 3), "device": str(device), "v": v,
                        "source_clipping": float(source_clipping[i])}
                sdr = sdr_db(clean, restored)
                rows += [{**base, "metric": "sdr", "value": sdr},
                         {**base, "metric": "delta_sdr", "value": sdr - sdr_db(clean, measured)},
                         {**base, "metric": "sdr_raw", "value": sdr_db(clean, unprojected)}]
            if example is not None and not kept and abs(v - example_fraction) < 1e-9:
                kept = {"clean": clips[0], "clipped": y[0], "restored": estimate[0], "v": np.float32(v),
                        "dataset": np.array(dataset)}
    write_rows(rows, output)
    if example is not None:
        if not kept:
            raise ValueError(f"the example fraction {example_fraction} is not among the fractions {fractions}")
        save_npz(example, **kept)
