"""The ``restorebench`` console script: one subcommand per workflow step, plus user-facing tools.

Workflow steps take every input, output and parameter explicitly, so each reruns alone without
Snakemake. User tools (``score-audio``, ``restore-audio``) print JSON on stdout. Known failures (bad
audio, missing tools, checksum mismatches) print one line naming the file or key and exit with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path


def _threads(n: int | None) -> None:
    if n:
        import torch
        torch.set_num_threads(n)


def _fit_config(a):
    from .methods.dip import FitConfig

    return FitConfig(iterations=a.iterations, learning_rate=a.lr, lr_decay_every=a.lr_decay_every,
                     record_every=a.record_every, es_window=a.es_window, es_patience=a.es_patience,
                     widths=tuple(int(w) for w in a.widths.split(",")), seed=a.seed, device=a.device,
                     channels_last=not a.no_channels_last)


def _add_fit_options(p, iterations=2000):
    p.add_argument("--iterations", type=int, default=iterations)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay-every", type=int, default=0, help="x0.1 every N iterations (0 = off)")
    p.add_argument("--record-every", type=int, default=1)
    p.add_argument("--es-window", type=int, default=100)
    p.add_argument("--es-patience", type=int, default=200)
    p.add_argument("--widths", default="35,70,140")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--no-channels-last", action="store_true")


# ---------------------------------------------------------------------------------------- step commands

def cmd_make_corpus(a):
    from .audio_io import save_npz
    from .data.corpus import make_corpus

    corpus = make_corpus(a.dataset, a.n_clips, a.clip_samples, a.seed, a.peak)
    save_npz(a.output, clips=corpus.clips, descriptions=corpus.descriptions, meta_dataset=a.dataset,
             meta_role=a.role, meta_data_source="embedded", meta_seed=a.seed)


def cmd_ingest_audio(a):
    from .audio_io import save_npz
    from .data.real import ingest_audio_folder

    clips, descriptions = ingest_audio_folder(Path(a.source), a.pattern or ["**/*.wav"], a.n_clips, a.clip_samples, a.seed,
                                              a.peak if not a.no_normalise else None)
    save_npz(a.output, clips=clips, descriptions=descriptions, meta_dataset=a.dataset, meta_role=a.role,
             meta_data_source="real", meta_seed=a.seed)


def cmd_corrupt(a):
    from .experiments.audio_priors import Geometry, make_observations

    make_observations(a.task, Path(a.clean), Geometry(a.n_fft, a.hop, a.frames), a.seed, Path(a.output),
                      sigma=a.sigma, noise_paths=tuple(Path(p) for p in a.noise),
                      snr_range=(a.snr_min, a.snr_max), gap_seconds=(a.gap_min, a.gap_max),
                      n_gaps=a.n_gaps, second_path=Path(a.second) if a.second else None, peak=a.peak)


def cmd_fit_prior(a):
    from .experiments.audio_priors import fit_observations
    from .methods.dip import SeparationWeights

    _threads(a.threads)
    fit_observations(Path(a.observations), a.prior, _fit_config(a), Path(a.output),
                     separation_weights=SeparationWeights(a.exclusion_weight, a.mask_weight),
                     progress=not a.quiet)


def cmd_score_fits(a):
    from .experiments.audio_priors import score_task

    score_task(Path(a.observations), [Path(p) for p in a.fit], Path(a.output), Path(a.trajectory_output))


def cmd_collect(a):
    from .experiments.audio_priors import collect

    collect([Path(p) for p in a.inputs], Path(a.output))


def _run_facts(a) -> str:
    return a.run_facts or ""


def cmd_s2_tables(a):
    from .experiments.audio_priors_report import write_tables

    write_tables(Path(a.metrics), Path(a.outdir), _run_facts(a))


def cmd_s2_convergence(a):
    from .experiments.audio_priors_report import convergence_figure

    convergence_figure(Path(a.trajectories), Path(a.metrics), Path(a.output))


def cmd_s2_example(a):
    from .experiments.audio_priors_report import example_figure

    fits = dict(item.split("=", 1) for item in a.fit)
    example_figure(Path(a.observations), {k: Path(v) for k, v in fits.items()}, Path(a.output))


def _stats(a):
    from .report.verdicts import StatsConfig

    return StatsConfig(alpha=a.alpha, resamples=a.resamples, seed=a.stats_seed)


def _add_stats_options(p):
    p.add_argument("--alpha", type=float, default=0.05,
                   help="significance level of a cell after Holm correction (default: %(default)s)")
    p.add_argument("--resamples", type=int, default=10000,
                   help="permutation / bootstrap resamples; the sign-flip test is exact when 2^items is at most "
                        "this (default: %(default)s)")
    p.add_argument("--stats-seed", type=int, default=0, help="seed of the bootstrap and Monte-Carlo permutations "
                                                             "(default: %(default)s)")
    p.add_argument("--scale", default="", help="scale preset the scores were obtained at, printed with each verdict")
    p.add_argument("--run-facts", default="", help="one paragraph describing the run, printed on the page")


def cmd_s2_claims(a):
    from .experiments.audio_priors_report import write_claims

    write_claims(Path(a.metrics), Path(a.trajectories), Path(a.outdir), _run_facts(a), a.scale,
                 a.a4_margin_iterations, a.a4_tolerance_db, _stats(a))


def cmd_results_readme(a):
    from .report.results_readme import write_results_readme

    write_results_readme(Path(a.output), Path(a.metrics), [Path(p) for p in a.claims], [Path(p) for p in a.verdicts],
                         [Path(p) for p in a.tables],
                         [Path(p) for p in a.figures], _run_facts(a), Path(a.benchmark) if a.benchmark else None)


def cmd_fetch(a):
    from .data.real import fetch

    fetch(a.url, Path(a.output), a.sha256, a.size, a.manual_hint)


def cmd_extract(a):
    from .data.real import safe_extract

    safe_extract(Path(a.archive), Path(a.dest), marker=Path(a.marker) if a.marker else None)


# ------------------------------------------------------------------------------------------ user tools

def cmd_score_audio(a):
    from .audio_io import read_audio
    from .metrics.audio import audio_quality, snr_db

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reference = read_audio(a.reference)
        estimate = read_audio(a.estimate)
        mixture = read_audio(a.mixture) if a.mixture else None
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    n = min(reference.size, estimate.size)
    if reference.size != estimate.size:
        print(f"warning: {a.reference} has {reference.size} samples and {a.estimate} {estimate.size}; "
              f"scoring the first {n}", file=sys.stderr)
    scores = audio_quality(reference[:n], estimate[:n], speech=not a.no_pesq)
    result = {"reference": a.reference, "estimate": a.estimate, "sample_rate": 16000, "samples": n,
              "metrics": scores,
              "notes": {"snr": "10*log10(sum x^2 / sum (x - x_hat)^2), printed as 'PSNR' in the deep-audio-"
                               "priors paper", "psnr_peak": "10*log10(max x^2 / MSE)"}}
    if mixture is not None:
        m = min(n, mixture.size)
        result["input_metrics"] = audio_quality(reference[:m], mixture[:m], speech=not a.no_pesq)
        result["snr_improvement"] = scores["snr"] - snr_db(reference[:m], mixture[:m])
    print(json.dumps(result, indent=2))


def cmd_restore_audio(a):
    import numpy as np

    from .audio_io import AudioInputError, read_audio, write_audio
    from .dsp import STFTConfig
    from .methods.dip import estimate_to_waves, fit_inpaint

    _threads(a.threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        observed = read_audio(a.input)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    cfg = STFTConfig(a.n_fft, a.hop)
    # pad to a frame count divisible by 4 (two pooling levels); the padding is cut off again
    frames = cfg.frames(observed.size)
    frames = int(np.ceil(frames / 4) * 4)
    length = cfg.samples_for_frames(frames)
    padded = np.zeros(length, dtype=np.float32)
    padded[: observed.size] = observed[:length]
    mask = None
    if a.task == "inpaint":
        if not a.mask:
            raise AudioInputError("--task inpaint needs --mask (a .npy of 0/1 per sample or per STFT frame)")
        mask = _load_frame_mask(Path(a.mask), observed.size, frames, cfg)
    fit_cfg = _fit_config(a)
    # the clean reference is unknown here: the trajectory is scored against the observation itself
    result = fit_inpaint(padded, padded, mask, a.prior, cfg, fit_cfg, progress=f"{a.task} {a.input}")
    chosen = {"final": result.final, "es": result.es}[a.select]
    restored = estimate_to_waves(chosen, cfg, length)[0][: observed.size]
    write_audio(a.output, restored)
    print(json.dumps({"input": a.input, "output": a.output, "task": a.task, "prior": a.prior,
                      "iterations": fit_cfg.iterations, "selected": a.select,
                      "es_stop_iteration": result.es_stop_iteration,
                      "es_selected_iteration": result.es_selected_iteration,
                      "wall_seconds": round(result.wall_seconds, 2), "device": result.device}, indent=2))


def _load_frame_mask(path: Path, n_samples: int, frames: int, cfg):
    import numpy as np

    from .audio_io import AudioInputError

    try:
        mask = np.load(path)
    except Exception as err:
        raise AudioInputError(f"{path}: cannot read mask ({err})") from err
    mask = np.asarray(mask, dtype=np.float32).ravel()
    if not np.all(np.isin(mask, (0.0, 1.0))):
        raise AudioInputError(f"{path}: mask must contain only 0 (missing) and 1 (observed)")
    if mask.size == n_samples:  # per-sample mask: a frame is observed when its centre sample is
        centres = np.minimum(np.arange(frames) * cfg.hop, n_samples - 1)
        return mask[centres]
    if mask.size == cfg.frames(n_samples):
        return np.concatenate([mask, np.ones(frames - mask.size, dtype=np.float32)])
    raise AudioInputError(f"{path}: mask has {mask.size} entries; expected {n_samples} (samples) or "
                          f"{cfg.frames(n_samples)} (STFT frames)")


# ------------------------------------------------------------------------------------------- S1 steps

def _cfar(a):
    from .methods.notch import CFARConfig

    return CFARConfig(a.cfar_guard, a.cfar_train, a.cfar_pfa, a.cfar_axes)


def cmd_s1_split(a):
    from .experiments.sar_rfi import Geometry, make_split, make_split_from_images

    geometry = Geometry(a.azimuth, a.range, a.n_fft, a.hop)
    kinds, sir = tuple(a.kinds.split(",")), (a.sir_min, a.sir_max)
    if a.images_folder:
        make_split_from_images(a.split, a.sensor, Path(a.images_folder), a.pattern or ["**/*"], a.scenes,
                               geometry, sir, kinds, a.seed, Path(a.output))
    else:
        make_split(a.split, a.sensor, a.scenes, geometry, sir, kinds, a.seed, Path(a.output))


def cmd_s1_training_images(a):
    from .experiments.sar_rfi import training_images

    training_images(Path(a.split_file), a.lines_per_scene, a.multiple, a.seed, Path(a.output))


def cmd_s1_train(a):
    from .audio_io import load_npz
    from .methods.dip import resolve_device
    from .methods.train_rfi import RFINetConfig, train

    _threads(a.threads)
    net = RFINetConfig(a.model, a.width, a.window, a.levels, a.residual_blocks, a.bases, a.nuclear, a.l1)
    images = load_npz(a.images)
    target = images["labels"] if a.model == "difnet" else images["clean_features"]
    train(net, _optim_config(a), images["features"], target, Path(a.output), Path(a.checkpoint_dir),
          resolve_device(a.device), progress=True)


def _optim_config(a):
    from .methods.training import OptimConfig

    return OptimConfig(epochs=a.epochs, batch_size=a.batch_size, optimizer=a.optimizer, learning_rate=a.lr,
                       weight_decay=a.weight_decay, lr_step_epochs=a.lr_step_epochs, lr_gamma=a.lr_gamma,
                       grad_clip_norm=a.grad_clip_norm, seed=a.seed)


def _add_training_options(p, epochs=100, batch_size=4, optimizer="adamw", lr=2e-4, weight_decay=0.02):
    """Options of the suite's one training loop (methods/training.py)."""
    p.add_argument("--output", required=True, help="final weights (.pt), written once training completes")
    p.add_argument("--checkpoint-dir", required=True,
                   help="folder of the per-epoch checkpoint (last.pt); a rerun resumes from it. Keep it out of "
                        "the job's declared outputs: Snakemake deletes those when a job fails")
    p.add_argument("--epochs", type=int, default=epochs, help="training epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=batch_size, help="images per batch (default: %(default)s)")
    p.add_argument("--optimizer", default=optimizer, choices=("adam", "adamw"), help="(default: %(default)s)")
    p.add_argument("--lr", type=float, default=lr, help="learning rate (default: %(default)s)")
    p.add_argument("--weight-decay", type=float, default=weight_decay, help="(default: %(default)s)")
    p.add_argument("--lr-step-epochs", type=int, default=0,
                   help="multiply the learning rate by --lr-gamma every this many epochs; 0 = constant "
                        "(default: %(default)s)")
    p.add_argument("--lr-gamma", type=float, default=0.5, help="step-schedule factor (default: %(default)s)")
    p.add_argument("--grad-clip-norm", type=float, default=0.0,
                   help="clip the global gradient norm to this; 0 = off (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and batch-order seed (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N "
                                                    "(default: %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 = torch's default "
                                                          "(default: %(default)s)")


def cmd_s1_evaluate(a):
    from .experiments.sar_rfi import evaluate

    _threads(a.threads)
    evaluate(Path(a.split_file), a.method, Path(a.output), checkpoint=Path(a.checkpoint) if a.checkpoint else None,
             cfar=_cfar(a), device=a.device, examples=Path(a.examples) if a.examples else None)


def cmd_s1_tables(a):
    from .experiments.sar_rfi_report import write_tables

    write_tables(Path(a.metrics), Path(a.outdir), a.run_facts)


def cmd_s1_figure(a):
    from .experiments import sar_rfi_report as r

    if a.kind == "sir":
        r.sir_figure(Path(a.metrics), Path(a.output))
        return
    examples = {k: Path(v) for k, v in (item.split("=", 1) for item in a.example)}
    draw = r.spectrogram_figure if a.kind == "spectrograms" else r.image_figure
    draw(examples, Path(a.output), a.title)


def cmd_s1_claims(a):
    from .experiments.sar_rfi_report import write_claims

    write_claims(Path(a.metrics), Path(a.outdir), a.run_facts, a.scale, a.c4_margin_db, _stats(a))


def _load_complex(path: str, what: str):
    import numpy as np

    try:
        array = np.load(path)
    except Exception as err:
        raise ValueError(f"{path}: cannot read {what} ({err})") from err
    if array.ndim != 2 or not np.iscomplexobj(array):
        raise ValueError(f"{path}: {what} must be a 2-D complex array (azimuth x range), got {array.dtype} "
                         f"{array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{path}: {what} contains NaN or Inf")
    return array


def _save_complex(path: str, array) -> None:
    import numpy as np

    from .audio_io import atomic_output

    with atomic_output(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)


def cmd_sar_simulate(a):
    from .physics.sar import get_sensor, simulate_echoes

    _save_complex(a.output, simulate_echoes(_load_complex(a.scene, "scene"), get_sensor(a.sensor)))


def cmd_sar_focus(a):
    from .physics.sar import focus, get_sensor

    _save_complex(a.output, focus(_load_complex(a.input, "echoes"), get_sensor(a.sensor)))


def cmd_suppress_rfi(a):
    from .dsp import STFTConfig
    from .methods.dip import resolve_device
    from .methods.rfi_suppression import suppress_difnet, suppress_notch, suppress_pisnet
    from .methods.train_rfi import load_trained
    from .physics.sar import get_sensor

    get_sensor(a.sensor)  # validates the name; the STFT geometry is given explicitly
    echoes = _load_complex(a.input, "echoes")
    cfg = STFTConfig(a.n_fft, a.hop, two_sided=True)
    if a.method == "notch":
        result = suppress_notch(echoes, cfg, _cfar(a))
    else:
        if not a.checkpoint:
            raise ValueError(f"--method {a.method} needs --checkpoint (e.g. results/s1/models/{a.method}.pt)")
        net, tcfg = load_trained(Path(a.checkpoint))
        if tcfg.model != a.method:
            raise ValueError(f"{a.checkpoint} holds a {tcfg.model} model, not {a.method}")
        run = suppress_difnet if a.method == "difnet" else suppress_pisnet
        result = run(echoes, cfg, net.to(resolve_device(a.device)), resolve_device(a.device))
    _save_complex(a.output, result.echoes)
    masked = None if result.mask is None else float(result.mask.mean())
    print(json.dumps({"input": a.input, "output": a.output, "method": a.method, "masked_fraction": masked}))


def _add_cfar_options(p):
    p.add_argument("--cfar-guard", type=int, default=2)
    p.add_argument("--cfar-train", type=int, default=8)
    p.add_argument("--cfar-pfa", type=float, default=1e-3)
    p.add_argument("--cfar-axes", default="frequency", choices=("frequency", "time-frequency"))


def cmd_bench(a):
    from .bench import run_bench

    run_bench(a)


# ----------------------------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="restorebench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("make-corpus", help="generate an embedded dataset (npz)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--role", default="")
    p.add_argument("--n-clips", type=int, required=True)
    p.add_argument("--clip-samples", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peak", type=float, default=0.9)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_make_corpus)

    p = sub.add_parser("ingest-audio", help="cut clips from a folder of real audio files (npz)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--role", default="")
    p.add_argument("--source", required=True)
    p.add_argument("--pattern", action="append", help="glob under --source, repeatable (default **/*.wav)")
    p.add_argument("--n-clips", type=int, required=True)
    p.add_argument("--clip-samples", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peak", type=float, default=0.9)
    p.add_argument("--no-normalise", action="store_true", help="keep levels (noise recordings)")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_ingest_audio)

    p = sub.add_parser("corrupt", help="make the observations of one S2 task")
    p.add_argument("--task", required=True, choices=("gaussian", "environmental", "inpainting", "separation"))
    p.add_argument("--clean", required=True)
    p.add_argument("--second", help="second source corpus (separation)")
    p.add_argument("--noise", action="append", default=[], help="noise corpus (environmental), repeatable")
    p.add_argument("--n-fft", type=int, required=True)
    p.add_argument("--hop", type=int, required=True)
    p.add_argument("--frames", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sigma", type=float, default=0.1)
    p.add_argument("--snr-min", type=float, default=5.0)
    p.add_argument("--snr-max", type=float, default=9.0)
    p.add_argument("--gap-min", type=float, default=0.1)
    p.add_argument("--gap-max", type=float, default=0.25)
    p.add_argument("--n-gaps", type=int, default=1)
    p.add_argument("--peak", type=float, default=0.9)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_corrupt)

    p = sub.add_parser("fit-prior", help="fit one prior to every observation of a file")
    p.add_argument("--observations", required=True)
    p.add_argument("--prior", required=True, choices=("conv", "dilated", "exp", "exp-dense"))
    p.add_argument("--output", required=True)
    p.add_argument("--exclusion-weight", type=float, default=0.1)
    p.add_argument("--mask-weight", type=float, default=0.05)
    p.add_argument("--quiet", action="store_true")
    _add_fit_options(p)
    p.set_defaults(func=cmd_fit_prior)

    p = sub.add_parser("score-fits", help="metrics of the observations and of each fit, SNR trajectories "
                                          "(tidy TSVs)")
    p.add_argument("--observations", required=True)
    p.add_argument("--fit", action="append", default=[], help="fit file, repeatable")
    p.add_argument("--output", required=True)
    p.add_argument("--trajectory-output", required=True)
    p.set_defaults(func=cmd_score_fits)

    p = sub.add_parser("collect", help="concatenate tidy TSVs into one CSV")
    p.add_argument("--output", required=True)
    p.add_argument("inputs", nargs="+")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("s2-tables", help="Tables 1-4 (CSV + Markdown + HTML)")
    p.add_argument("--metrics", required=True)
    p.add_argument("--run-facts", default="")
    p.add_argument("--outdir", required=True)
    p.set_defaults(func=cmd_s2_tables)

    p = sub.add_parser("s2-claims", help="claims A1-A4 from paired statistics: claims.md/.html, verdicts.csv, "
                                         "figures/claims_effects.png")
    p.add_argument("--metrics", required=True, help="collected S2 metrics.csv")
    p.add_argument("--trajectories", required=True, help="collected S2 trajectories.csv (A4)")
    p.add_argument("--outdir", required=True, help="study folder the pages are written into (results/s2)")
    p.add_argument("--a4-margin-iterations", type=float, default=0.0,
                   help='A4 "converges in fewer iterations": fewer by at least this many (default: %(default)s)')
    p.add_argument("--a4-tolerance-db", type=float, default=1.0,
                   help="A4: a fit has converged when within this many dB of its best SNR (default: %(default)s)")
    _add_stats_options(p)
    p.set_defaults(func=cmd_s2_claims)

    p = sub.add_parser("s2-figure-convergence", help="Figure 2: SNR vs iteration")
    p.add_argument("--trajectories", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_s2_convergence)

    p = sub.add_parser("s2-figure-example", help="example spectrograms of one task")
    p.add_argument("--observations", required=True)
    p.add_argument("--fit", action="append", required=True, help="PRIOR=PATH, repeatable")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_s2_example)

    p = sub.add_parser("results-readme", help="results/README.md summarising the run")
    p.add_argument("--output", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--claims", nargs="+", required=True, help="claims pages (Markdown), one per study")
    p.add_argument("--verdicts", nargs="+", required=True, help="verdicts.csv of each study, in the same order")
    p.add_argument("--tables", nargs="+", required=True)
    p.add_argument("--figures", nargs="+", required=True)
    p.add_argument("--benchmark")
    p.add_argument("--run-facts", default="")
    p.set_defaults(func=cmd_results_readme)

    p = sub.add_parser("fetch", help="download a file and verify its size and sha256")
    p.add_argument("--url", required=True)
    p.add_argument("--sha256", default="", help="expected sha256 ('' = none published: record it)")
    p.add_argument("--size", type=int)
    p.add_argument("--output", required=True)
    p.add_argument("--manual-hint", default="")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("extract", help="extract an archive, refusing members outside the target folder")
    p.add_argument("--archive", required=True)
    p.add_argument("--dest", required=True)
    p.add_argument("--marker", help="file to touch after a complete extraction")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("score-audio", help="every S2 metric for one (reference, estimate) pair, JSON")
    p.add_argument("--reference", required=True)
    p.add_argument("--estimate", required=True)
    p.add_argument("--mixture", help="the corrupted input, to report input scores and the SNR gain")
    p.add_argument("--no-pesq", action="store_true", help="skip PESQ (non-speech audio)")
    p.set_defaults(func=cmd_score_audio)

    p = sub.add_parser("restore-audio", help="fit a deep audio prior to your own file")
    p.add_argument("--task", required=True, choices=("denoise", "inpaint"))
    p.add_argument("--prior", default="exp-dense", choices=("conv", "dilated", "exp", "exp-dense"))
    p.add_argument("--input", required=True)
    p.add_argument("--mask", help="inpaint: .npy with 1 = observed, 0 = missing, per sample or per frame")
    p.add_argument("--output", required=True)
    p.add_argument("--n-fft", type=int, default=1022)
    p.add_argument("--hop", type=int, default=64)
    p.add_argument("--select", choices=("es", "final"), default="es",
                   help="which estimate to write: the ES-WMV stop (default) or the final iterate")
    _add_fit_options(p)
    p.set_defaults(func=cmd_restore_audio)

    p = sub.add_parser("s1-split", help="S1: scenes, clean echoes and RFI of one split (npz)")
    p.add_argument("--split", required=True, choices=("train", "test-same", "test-cross"))
    p.add_argument("--sensor", required=True)
    p.add_argument("--scenes", type=int, required=True)
    p.add_argument("--azimuth", type=int, required=True)
    p.add_argument("--range", type=int, required=True)
    p.add_argument("--n-fft", type=int, required=True)
    p.add_argument("--hop", type=int, required=True)
    p.add_argument("--sir-min", type=float, default=-15.0)
    p.add_argument("--sir-max", type=float, default=0.0)
    p.add_argument("--kinds", default="narrowband,chirp,sinusoidal")
    p.add_argument("--images-folder", help="tiles of real focused complex images (sarpy) instead of simulated scenes")
    p.add_argument("--pattern", action="append", help="glob under --images-folder, repeatable")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_s1_split)

    p = sub.add_parser("s1-training-images", help="S1: per-pulse training spectrograms and labels (npz)")
    p.add_argument("--split-file", required=True)
    p.add_argument("--lines-per-scene", type=int, required=True)
    p.add_argument("--multiple", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_s1_training_images)

    p = sub.add_parser("s1-train", help="S1: train DIFNet or PISNet (per-epoch checkpoints; a rerun resumes)")
    p.add_argument("--images", required=True, help="training images npz written by s1-training-images")
    p.add_argument("--model", required=True, choices=("difnet", "pisnet"), help="network to train")
    p.add_argument("--width", type=int, default=16,
                   help="DIFNet channels C / PISNet base width (default: %(default)s, the paper's DIFNet)")
    p.add_argument("--window", type=int, default=8, help="DIFNet attention window M, pixels (default: %(default)s)")
    p.add_argument("--levels", type=int, default=4, help="DIFNet encoder stages L (default: %(default)s)")
    p.add_argument("--residual-blocks", type=int, default=8, help="PISNet residual blocks (default: %(default)s)")
    p.add_argument("--bases", type=int, default=128, help="PISNet EM-attention bases (default: %(default)s)")
    p.add_argument("--nuclear", type=float, default=1e-3,
                   help="PISNet loss weight of the output's nuclear norm (default: %(default)s)")
    p.add_argument("--l1", type=float, default=1e-3, help="PISNet loss weight of mean |output| "
                                                          "(default: %(default)s)")
    _add_training_options(p)
    p.set_defaults(func=cmd_s1_train)

    p = sub.add_parser("s1-evaluate", help="S1: metrics of one method on one split (tidy TSV)")
    p.add_argument("--split-file", required=True)
    p.add_argument("--method", required=True, choices=("interfered", "notch", "pisnet", "difnet"))
    p.add_argument("--checkpoint")
    p.add_argument("--output", required=True)
    p.add_argument("--examples", help="also write the first scene's example arrays (npz)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    _add_cfar_options(p)
    p.set_defaults(func=cmd_s1_evaluate)

    p = sub.add_parser("s1-tables", help="S1: Tables 4 and 5 (md, csv, html)")
    p.add_argument("--metrics", required=True)
    p.add_argument("--outdir", required=True)
    p.add_argument("--run-facts", default="")
    p.set_defaults(func=cmd_s1_tables)

    p = sub.add_parser("s1-figure", help="S1: Figures 6-9 and the per-SIR figure")
    p.add_argument("kind", choices=("spectrograms", "images", "sir"))
    p.add_argument("--example", action="append", default=[], help="METHOD=examples.npz, repeatable")
    p.add_argument("--metrics")
    p.add_argument("--title", default="")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_s1_figure)

    p = sub.add_parser("s1-claims", help="S1: claims C1-C5 from paired statistics: claims.md/.html, verdicts.csv, "
                                         "figures/claims_effects.png")
    p.add_argument("--metrics", required=True, help="collected S1 metrics.csv")
    p.add_argument("--outdir", required=True, help="study folder the pages are written into (results/s1)")
    p.add_argument("--c4-margin-db", type=float, default=1.0,
                   help='C4 "degrades far more": PISNet\'s PSNR drop exceeds DIFNet\'s by at least this many dB '
                        "(default: %(default)s)")
    _add_stats_options(p)
    p.set_defaults(func=cmd_s1_claims)

    p = sub.add_parser("sar-simulate", help="raw echoes of a complex scene (.npy in, .npy out)")
    p.add_argument("--sensor", required=True)
    p.add_argument("--scene", required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_sar_simulate)

    p = sub.add_parser("sar-focus", help="range-Doppler focusing of raw echoes (.npy in, .npy out)")
    p.add_argument("--sensor", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_sar_focus)

    p = sub.add_parser("suppress-rfi", help="remove RFI from raw echoes (.npy in, .npy out)")
    p.add_argument("--method", required=True, choices=("notch", "pisnet", "difnet"))
    p.add_argument("--checkpoint")
    p.add_argument("--sensor", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--n-fft", type=int, default=64)
    p.add_argument("--hop", type=int, default=4)
    p.add_argument("--device", default="auto")
    _add_cfar_options(p)
    p.set_defaults(func=cmd_suppress_rfi)

    p = sub.add_parser("bench", help="speed and time-to-quality benchmarks (prints figures)")
    p.add_argument("what", choices=("dip", "sar"), nargs="?", default="dip")
    p.add_argument("--sar-size", type=int, default=4096, help="bench sar: scene side (pixels)")
    p.add_argument("--net-size", type=int, default=512, help="bench sar: network input side")
    p.add_argument("--net-batch", type=int, default=1)
    p.add_argument("--net-iterations", type=int, default=2)
    p.add_argument("--iterations", type=int, default=4, help="timed iterations per loop")
    p.add_argument("--priors", default="conv,dilated,exp,exp-dense")
    p.add_argument("--bins", type=int, default=512)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--metrics", help="metrics.csv of a run: print its time-to-quality figures")
    p.add_argument("--time-to-quality", action="store_true",
                   help="fit held-out clips and compare oracle, ES-WMV and final iterates")
    p.add_argument("--ttq-iterations", type=int, default=900)
    p.add_argument("--ttq-clips", type=int, default=2, help="clips per dataset")
    p.add_argument("--ttq-n-fft", type=int, default=254)
    p.add_argument("--ttq-hop", type=int, default=128)
    p.add_argument("--ttq-frames", type=int, default=64)
    p.add_argument("--ttq-widths", default="18,35,70")
    p.add_argument("--es-window", type=int, default=20)
    p.add_argument("--es-patience", type=int, default=40)
    p.add_argument("--output", help="also write the printed figures as JSON here")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .audio_io import AudioInputError
    from .data.tools import MissingToolError
    from .metrics.audio import MetricError

    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (AudioInputError, MetricError, MissingToolError, FileNotFoundError, ValueError) as err:
        print(f"restorebench {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
