"""S2, deep audio priors: the steps of the study, one function per workflow job.

corpus (per data role) -> observations (per task and role) -> fit (per task, role, prior) -> score ->
collect -> tables / figures / claims. Each step reads and writes files given explicitly; the workflow's
rules only call these through the CLI.

Data roles are the paper's datasets: ``speech`` (LJSpeech; embedded: tts-speech), ``digits`` (SC09;
tts-digits), ``piano`` and ``drums`` (WaveGAN; sf-piano, sf-drums), ``living`` and ``traffic`` (DEMAND
DLIVING/STRAFFIC; synthetic noise).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import load_npz, meta_arrays, read_meta, save_npz
from .audio_priors_tasks import TASK_ROLES, TASKS  # noqa: F401 (re-exported)
from ..tidy import write_rows
from ..dsp import STFTConfig
from ..physics.audio import add_gaussian_noise, add_noise_at_snr, gap_frame_mask, mix_sources

SAMPLE_RATE = 16000
STUDY = "S2"
EXPERIMENT_OF_TASK = {"gaussian": "table1", "environmental": "table2", "inpainting": "table3",
                      "separation": "table4"}
SPEECH_ROLES = ("speech", "digits")
ROLES = ("speech", "digits", "piano", "drums", "living", "traffic")
EMBEDDED_NAME = {"speech": "tts-speech", "digits": "tts-digits", "piano": "sf-piano", "drums": "sf-drums",
                 "living": "living", "traffic": "traffic"}
REAL_NAME = {"speech": "LJSpeech-1.1", "digits": "SC09", "piano": "WaveGAN-piano", "drums": "WaveGAN-drums",
             "living": "DEMAND-DLIVING", "traffic": "DEMAND-STRAFFIC"}
#: one label per rule of methods.stopping.STOPPING_RULES, in its order (test_audio_priors checks)
STOPPING_LABEL = {"final": "final iterate", "es": "ES-WMV (unsupervised stop)",
                  "dp-known": "discrepancy, known noise level",
                  "dp-blind": "discrepancy, blind noise estimate (unsupervised)",
                  "oracle": "oracle-stopped (uses clean reference)"}


@dataclass(frozen=True)
class Geometry:
    """STFT and clip length of one data role at one scale."""

    n_fft: int
    hop: int
    frames: int

    @property
    def stft(self) -> STFTConfig:
        return STFTConfig(self.n_fft, self.hop)

    @property
    def samples(self) -> int:
        return self.stft.samples_for_frames(self.frames)


# ---------------------------------------------------------------------------------------------- corrupt

def make_observations(task: str, clean_path: Path, geometry: Geometry, seed: int, output: Path, *,
                      sigma: float = 0.1, noise_paths: tuple[Path, ...] = (), snr_range=(5.0, 9.0),
                      gap_seconds=(0.1, 0.25), n_gaps: int = 1, second_path: Path | None = None,
                      peak: float = 0.9) -> None:
    """Corrupt every clip of a corpus file for one task and write the observations file.

    gaussian: y = x + sigma n. environmental: noise clips alternate between the given noise corpora
    (living, traffic, ...) and are scaled to an SNR drawn uniformly in ``snr_range``. inpainting: a frame
    mask with ``n_gaps`` gaps of ``gap_seconds``. separation: clip i of ``clean_path`` (piano) mixed with
    clip i of ``second_path`` (drums) at 0 dB, peak-normalised.
    """
    corpus = load_npz(clean_path)
    clean = corpus["clips"].astype(np.float32)
    meta = read_meta(corpus)
    if clean.shape[-1] != geometry.samples:
        raise ValueError(f"{clean_path}: clips have {clean.shape[-1]} samples, the scale's geometry needs "
                         f"{geometry.samples}; rebuild the corpus")
    rng = np.random.default_rng([seed, TASKS.index(task)])
    n = clean.shape[0]
    out = {"clean": clean}
    conditions = []
    if task == "gaussian":
        out["observed"] = np.stack([add_gaussian_noise(x, sigma, rng) for x in clean])
        out["noise_std"] = np.full(n, sigma, dtype=np.float64)
        conditions = [f"sigma={sigma:g}"] * n
    elif task == "environmental":
        if not noise_paths:
            raise ValueError("environmental task needs at least one noise corpus")
        noises = [(Path(p).stem, load_npz(p)["clips"]) for p in noise_paths]
        observed = []
        for i, x in enumerate(clean):
            name, clips = noises[i % len(noises)]
            noise = clips[(i // len(noises)) % clips.shape[0]][: x.size]
            snr = float(rng.uniform(*snr_range))
            observed.append(add_noise_at_snr(x, noise, snr))
            conditions.append(f"{name} snr={snr:.2f}dB")
        out["observed"] = np.stack(observed)
        # the level the SNR implies (what a user told the SNR knows), not the noise realisation
        out["noise_std"] = np.sqrt(np.mean(np.square(out["observed"] - clean, dtype=np.float64), axis=-1))
    elif task == "inpainting":
        g = geometry.stft
        masks = np.stack([gap_frame_mask(geometry.frames, g.hop, SAMPLE_RATE, n_gaps, *gap_seconds, rng)
                          for _ in range(n)])
        out["frame_mask"] = masks
        out["observed"] = np.stack([apply_frame_mask(x, m, g) for x, m in zip(clean, masks)])
        out["noise_std"] = np.zeros(n)           # the observed frames carry no added noise
        conditions = [f"gaps={n_gaps} missing={(1 - m.mean()) * geometry.frames * g.hop / SAMPLE_RATE:.3f}s"
                      for m in masks]
    elif task == "separation":
        if second_path is None:
            raise ValueError("separation task needs a second source corpus")
        second_corpus = load_npz(second_path)
        second = second_corpus["clips"].astype(np.float32)
        meta["dataset"] = f"{meta.get('dataset', clean_path.stem)}+{read_meta(second_corpus).get('dataset', second_path.stem)}"
        k = min(n, second.shape[0])
        pairs = [mix_sources(np.stack([clean[i], second[i]]), peak) for i in range(k)]
        out["observed"] = np.stack([p[0] for p in pairs])
        out["clean"] = np.stack([p[1] for p in pairs])          # (n, 2, L): piano, drums
        conditions = ["piano+drums 0dB"] * k
    else:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    save_npz(output, **out, conditions=np.asarray(conditions),
             **meta_arrays(task=task, dataset=meta.get("dataset", clean_path.stem), role=meta.get("role", ""),
                     n_fft=geometry.n_fft, hop=geometry.hop, frames=geometry.frames, seed=seed,
                     data_source=meta.get("data_source", "embedded")))


def apply_frame_mask(x: np.ndarray, frame_mask: np.ndarray, cfg: STFTConfig) -> np.ndarray:
    """Waveform whose STFT is the clip's STFT with the masked frames zeroed (what the prior observes)."""
    from ..dsp import istft_np, stft_np

    spec = stft_np(x, cfg) * frame_mask[None, :]
    return istft_np(spec, cfg, x.size).astype(np.float32)


# -------------------------------------------------------------------------------------------------- fit

def fit_observations(observations: Path, prior: str, fit_cfg, output: Path, *,
                     separation_weights=None, progress: bool = True, fits_per_batch: int = 0) -> None:
    """Fit one prior to every observation in the file; write estimates and trajectories.

    Every stopping rule that applies to the task is written (``final``, ``oracle``, ``es`` and, except
    for separation, ``dp-known`` with the task's noise level and ``dp-blind``), each with its stop
    iteration (``<rule>_stop_iteration``). Clip i is fitted with seed ``fit_cfg.seed + 1000 i``.
    ``fits_per_batch`` clips are fitted as one batch (:func:`restorebench.methods.dip.run_fits_batched`:
    the same trajectories to float rounding); 0 = auto (one at a time on a CPU, as many as fit in memory
    on a GPU: :func:`restorebench.methods.dip.fits_per_batch`).
    """
    from ..devices import resolve_device
    from ..methods.dip import (SeparationWeights, estimate_to_waves, fits_per_batch as batch_size,
                               run_fits_batched, setup_inpaint, setup_separation)

    data = load_npz(observations)
    meta = read_meta(data)
    cfg = STFTConfig(int(meta["n_fft"]), int(meta["hop"]))
    task = meta["task"]
    n = data["observed"].shape[0]
    rules = fit_rules(task)
    waves = {k: [] for k in rules}
    stops = {k: [] for k in rules}
    rows = {k: [] for k in ("es_selected_iteration", "wall_seconds")}
    levels = {k: [] for k in rules if k.startswith("dp-")}
    traj_snr, traj_wmv, traj_loss = [], [], []
    record_iterations, device, layout = None, "", ""

    def item_cfg(i):
        return replace(fit_cfg, seed=fit_cfg.seed + 1000 * i)

    def problem(i, memory_format=None):
        observed, clean = data["observed"][i], data["clean"][i]
        if task == "separation":
            return setup_separation(observed, clean, prior, cfg, item_cfg(i),
                                    separation_weights or SeparationWeights(), memory_format=memory_format)
        mask = data["frame_mask"][i] if task == "inpainting" else None
        noise_std = float(data["noise_std"][i]) if "noise_std" in data else None
        return setup_inpaint(observed, clean, mask, prior, cfg, item_cfg(i), noise_std,
                             memory_format=memory_format)

    import torch
    batch = batch_size(fits_per_batch, resolve_device(fit_cfg.device), n,
                       probe=lambda: problem(0, torch.contiguous_format))
    batched_fits = 1
    for first in range(0, n, batch):
        items = list(range(first, min(n, first + batch)))
        label = f"{task}/{meta['dataset']}/{prior} clip {first + 1}" + (f"-{items[-1] + 1}" if batch > 1 else "")
        desc = f"{label}/{n}" if progress else False
        if batch == 1:
            results = [problem(first).run(item_cfg(first), progress=desc)]
        else:
            # one seed per clip is in its problem; the batch's own config only sets the optimisation
            results = run_fits_batched([problem(i, torch.contiguous_format) for i in items], fit_cfg,
                                       progress=desc)
        for i, result in zip(items, results):
            length = data["observed"][i].shape[-1]
            for k in rules:
                waves[k].append(estimate_to_waves(result.estimates[k], cfg, length))
                stops[k].append(result.stop_iterations[k])
            for k in levels:
                levels[k].append(result.noise_levels[k])
            rows["es_selected_iteration"].append(result.es_selected_iteration)
            rows["wall_seconds"].append(result.wall_seconds)
            traj_snr.append(result.snr_trajectory)
            traj_wmv.append(result.wmv_trajectory)
            traj_loss.append(result.loss_trajectory)
            record_iterations, device = result.record_iterations, result.device
            layout = result.extras["memory_format"]
            batched_fits = max(batched_fits, result.extras["batched_fits"])
    save_npz(output, **{k: np.stack(v) for k, v in waves.items()},
             **{f"{k}_stop_iteration": np.asarray(v) for k, v in stops.items()},
             **{f"{k}_noise_level": np.asarray(v) for k, v in levels.items()},
             **{k: np.asarray(v) for k, v in rows.items()},
             record_iterations=record_iterations, snr_trajectory=np.stack(traj_snr),
             wmv_trajectory=np.stack(traj_wmv), loss_trajectory=np.stack(traj_loss),
             **meta_arrays(prior=prior, iterations=fit_cfg.iterations, device=device, memory_format=layout,
                     learning_rate=fit_cfg.learning_rate, widths=",".join(map(str, fit_cfg.widths)),
                     dilation_divisor=fit_cfg.dilation_divisor, discrepancy_tau=fit_cfg.discrepancy_tau, noise_quantile=fit_cfg.noise_quantile,
                     rules=",".join(rules), fits_per_batch=batched_fits))


def fit_rules(task: str) -> tuple[str, ...]:
    """The stopping rules reported for a task: the discrepancy rule needs a noise level to reach, which a
    separation does not have (methods/stopping.py)."""
    from ..methods.stopping import STOPPING_RULES

    return tuple(r for r in STOPPING_RULES if task != "separation" or not r.startswith("dp-"))


# ------------------------------------------------------------------------------------------------ score

def _base_row(meta: dict, item: int, condition: str) -> dict:
    return {"study": STUDY, "experiment": EXPERIMENT_OF_TASK[meta["task"]], "task": meta["task"],
            "dataset": meta["dataset"], "domain": meta["role"], "role": meta["role"],
            "data_source": meta["data_source"], "condition": condition, "item": item, "seed": int(meta["seed"])}


def _quality_rows(base: dict, reference: np.ndarray, estimate: np.ndarray, speech: bool,
                  where: str) -> list[dict]:
    # imported here: the metrics pull in scipy.signal, which the fit jobs (same module) do not need
    from ..metrics.audio import MetricError, audio_quality

    try:
        scores = audio_quality(reference, estimate, speech)
    except MetricError as err:
        raise MetricError(f"{where}: {err}") from err
    return [{**base, "metric": k, "value": v} for k, v in scores.items()]


def input_rows(observations: Path) -> list[dict]:
    """Metrics of the corrupted observations themselves (method 'input')."""
    data = load_npz(observations)
    meta = read_meta(data)
    rows = []
    for i in range(data["observed"].shape[0]):
        base = {**_base_row(meta, i, str(data["conditions"][i])), "method": "input", "stopping": "none",
                "iterations": 0, "stop_iteration": 0, "wall_seconds": 0.0, "device": ""}
        where = f"{observations} clip {i}"
        if meta["task"] == "separation":
            mixture = data["observed"][i]
            rows += _separation_rows(base, data["clean"][i], np.stack([mixture / 2, mixture / 2]), where)
        else:
            rows += _quality_rows(base, data["clean"][i], data["observed"][i],
                                  meta["role"] in SPEECH_ROLES, where)
    return rows


#: the classical floor of each task (methods/audio_floors.py): its method name in the rows and its label
FLOORS = {"gaussian": ("wiener", "STFT Wiener filter, blind noise level"),
          "environmental": ("wiener", "STFT Wiener filter, blind noise level"),
          "inpainting": ("ar-interpolation", "AR interpolation across each gap"),
          "separation": ("hpss", "harmonic-percussive split (median filtering)")}


def missing_samples(frame_mask: np.ndarray, cfg: STFTConfig, samples: int) -> np.ndarray:
    """The samples an inpainting mask touches: where the waveform of a constant one, with the masked frames
    zeroed, differs from the one with every frame kept (the gap and its window-length edges)."""
    ones = np.ones(samples, dtype=np.float32)
    kept = apply_frame_mask(ones, np.ones_like(frame_mask), cfg)
    return np.abs(apply_frame_mask(ones, frame_mask, cfg) - kept) > 1e-6


def floor_rows(observations: Path) -> list[dict]:
    """Metrics of the task's classical floor (:data:`FLOORS`) on every observation, scored as a fit is:
    Wiener denoising, AR interpolation of the gaps (the mask is known, as the prior's loss knows it), or the
    harmonic-percussive split."""
    from ..methods.audio_floors import ar_interpolate, hpss_separate, wiener_denoise

    data = load_npz(observations)
    meta = read_meta(data)
    task = meta["task"]
    name = FLOORS[task][0]
    cfg = STFTConfig(int(meta["n_fft"]), int(meta["hop"]))
    rows = []
    for i in range(data["observed"].shape[0]):
        observed = data["observed"][i]
        start = time.perf_counter()
        if task == "separation":
            estimate = hpss_separate(observed)
        elif task == "inpainting":
            estimate = ar_interpolate(observed, missing_samples(data["frame_mask"][i], cfg, observed.size))
        else:
            estimate = wiener_denoise(observed)
        base = {**_base_row(meta, i, str(data["conditions"][i])), "method": name, "stopping": "none",
                "iterations": 0, "stop_iteration": 0, "wall_seconds": round(time.perf_counter() - start, 4),
                "device": "cpu"}
        where = f"{observations} clip {i} ({name})"
        if task == "separation":
            rows += _separation_rows(base, data["clean"][i], estimate, where)
        else:
            rows += _quality_rows(base, data["clean"][i], estimate, meta["role"] in SPEECH_ROLES, where)
    return rows


def _separation_rows(base: dict, references: np.ndarray, estimates: np.ndarray, where: str) -> list[dict]:
    from ..metrics.audio import MetricError, audio_quality, separation_scores

    try:
        sep = separation_scores(references, estimates)
    except MetricError as err:
        raise MetricError(f"{where}: {err}") from err
    rows = []
    for j, source in enumerate(("piano", "drums")):
        matched = estimates[sep["perm"][j]]
        q = audio_quality(references[j], matched, speech=False)
        for metric, value in (("sdr", sep["sdr"][j]), ("sir", sep["sir"][j]),
                              ("spectral_snr", q["spectral_snr"]),
                              ("envelope_distance", q["envelope_distance"]), ("snr", q["snr"])):
            rows.append({**base, "condition": f"{base['condition']} source={source}", "source": source,
                         "metric": metric, "value": float(value)})
    rows.append({**base, "metric": "silent_estimates", "value": float(sep["silent_estimates"])})
    return rows


def fit_rows(observations: Path, fit: Path) -> tuple[list[dict], list[dict]]:
    """Tidy metric rows for every stopping rule's estimate of one fit file, and its trajectory rows."""
    data, fitted = load_npz(observations), load_npz(fit)
    meta, fmeta = read_meta(data), read_meta(fitted)
    prior = fmeta["prior"]
    rows, traj = [], []
    rules = str(fmeta["rules"]).split(",")
    for i in range(data["observed"].shape[0]):
        for stopping in rules:
            base = {**_base_row(meta, i, str(data["conditions"][i])), "method": prior,
                    "stopping": stopping, "iterations": int(fmeta["iterations"]),
                    "stop_iteration": int(fitted[f"{stopping}_stop_iteration"][i]),
                    "wall_seconds": float(fitted["wall_seconds"][i]), "device": fmeta["device"]}
            estimate = fitted[stopping][i]
            where = f"{fit} clip {i} ({stopping})"
            if meta["task"] == "separation":
                rows += _separation_rows(base, data["clean"][i], estimate, where)
            else:
                rows += _quality_rows(base, data["clean"][i], estimate[0], meta["role"] in SPEECH_ROLES,
                                      where)
        for it, snr, wmv, loss in zip(fitted["record_iterations"], fitted["snr_trajectory"][i],
                                      fitted["wmv_trajectory"][i], fitted["loss_trajectory"][i]):
            traj.append({"task": meta["task"], "dataset": meta["dataset"], "role": meta["role"],
                         "method": prior, "item": i, "iteration": int(it), "snr": float(snr),
                         "wmv": float(wmv), "loss": float(loss)})
    return rows, traj


def score_task(observations: Path, fits: list[Path], output: Path, trajectory_output: Path) -> None:
    """One tidy metrics TSV (input, the task's floor and every fit of one task and dataset) and one
    trajectory TSV."""
    rows, traj = input_rows(observations) + floor_rows(observations), []
    for fit in fits:
        fit_metric_rows, fit_traj_rows = fit_rows(observations, fit)
        rows += fit_metric_rows
        traj += fit_traj_rows
    _write_tsv(rows, output)
    _write_tsv(traj, trajectory_output, "trajectories")


def _write_tsv(rows: list[dict], output: Path, schema: str = "metrics") -> None:
    write_rows(rows, output, schema)
