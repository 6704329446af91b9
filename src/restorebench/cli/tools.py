"""User tools (score-audio, restore-audio: JSON on stdout) and the workflow's housekeeping steps (collect,
results-readme, fetch, extract)."""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from . import common


# ------------------------------------------------------------------------------------------ user tools

def cmd_score_audio(a):
    from ..audio_io import read_audio
    from ..metrics.audio import audio_quality, snr_db

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

    from ..audio_io import AudioInputError, read_audio, write_audio
    from ..dsp import STFTConfig
    from ..methods.dip import estimate_to_waves, fit_inpaint

    common.threads(a.threads)
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
    fit_cfg = common.fit_config(a)
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

    from ..audio_io import AudioInputError

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


# -------------------------------------------------------------------------------------- workflow steps

def cmd_collect(a):
    from ..tidy import collect

    collect([Path(p) for p in a.inputs], Path(a.output), a.schema)


def cmd_results_readme(a):
    from ..report.results_readme import write_results_readme

    write_results_readme(Path(a.output), Path(a.metrics), [Path(p) for p in a.claims], [Path(p) for p in a.verdicts],
                         [Path(p) for p in a.tables],
                         [Path(p) for p in a.figures], common.run_facts(a), [Path(p) for p in a.benchmarks])


def cmd_fetch(a):
    from ..data.real import fetch

    fetch(a.url, Path(a.output), a.sha256, a.size, a.manual_hint)


def cmd_extract(a):
    from ..data.real import safe_extract

    safe_extract(Path(a.archive), Path(a.dest), marker=Path(a.marker) if a.marker else None)


def register(sub) -> None:
    from .. import registry

    p = common.add_command(sub, "score-audio", "every S2 metric for one (reference, estimate) pair, JSON",
                           cmd_score_audio,
                           "Files are mixed to mono and resampled to 16 kHz (with a warning); when their lengths "
                           "differ, the first min(lengths) samples are scored.")
    p.add_argument("--reference", required=True, help="clean reference audio file (any format soundfile reads)")
    p.add_argument("--estimate", required=True, help="restored audio file to score against the reference")
    p.add_argument("--mixture", help="the corrupted input, to report input scores and the SNR gain (dB)")
    p.add_argument("--no-pesq", action="store_true", help="skip PESQ (non-speech audio)")

    p = common.add_command(sub, "restore-audio", "fit a deep audio prior to your own file", cmd_restore_audio,
                           "The fit is scored against the observation itself (no clean reference); the chosen "
                           "estimate is written as a 16 kHz float WAV and a JSON summary is printed.")
    p.add_argument("--task", required=True, choices=("denoise", "inpaint"),
                   help="denoise: fit the whole observation; inpaint: fit the observed STFT frames only "
                        "(needs --mask)")
    p.add_argument("--prior", default="exp-dense", choices=registry.names("S2", "prior"),
                   help="deep audio prior: one of %(choices)s (default: %(default)s, the paper's)")
    p.add_argument("--input", required=True, help="audio file to restore (mixed to mono, resampled to 16 kHz)")
    p.add_argument("--mask", help="inpaint: .npy with 1 = observed, 0 = missing, per sample or per STFT frame")
    p.add_argument("--output", required=True, help="restored audio, written as a 16 kHz float WAV")
    p.add_argument("--n-fft", type=int, default=1022,
                   help="STFT size, samples at 16 kHz (1022: the paper's 512 bins) (default: %(default)s)")
    p.add_argument("--hop", type=int, default=64, help="STFT hop, samples at 16 kHz (default: %(default)s)")
    p.add_argument("--select", choices=("es", "final"), default="es",
                   help="which estimate to write: the ES-WMV stop or the final iterate (default: %(default)s)")
    common.add_fit_options(p)

    p = common.add_command(sub, "collect", "check tidy TSVs against the result schema and concatenate them into "
                                           "one CSV", cmd_collect)
    p.add_argument("--output", required=True, help="collected CSV")
    p.add_argument("--schema", default="metrics", choices=("metrics", "trajectories"),
                   help="columns every input must have (restorebench.tidy) (default: %(default)s)")
    p.add_argument("inputs", nargs="+", help="tidy TSV files")

    p = common.add_command(sub, "results-readme", "results/README.md summarising the run", cmd_results_readme)
    p.add_argument("--output", required=True, help="page to write (results/README.md); links are relative to it")
    p.add_argument("--metrics", required=True, help="collected S2 metrics.csv (fit count and fitting time)")
    p.add_argument("--claims", nargs="+", required=True, help="claims pages (Markdown), one per study")
    p.add_argument("--verdicts", nargs="+", required=True, help="verdicts.csv of each study, in the same order")
    p.add_argument("--tables", nargs="+", required=True, help="table files; the Markdown (.md) ones are linked")
    p.add_argument("--figures", nargs="+", required=True, help="figure files to link")
    p.add_argument("--benchmarks", nargs="*", default=[],
                   help="Snakemake benchmark TSVs (results/benchmarks/<rule>/...) summarised as job times (default: none)")
    common.add_run_facts_option(p)

    p = common.add_command(sub, "fetch", "download a file and verify its size and sha256", cmd_fetch,
                           "Nothing is left at --output unless both checks pass.")
    p.add_argument("--url", required=True, help="address to download")
    p.add_argument("--sha256", default="",
                   help="expected sha256, hex; '' = none published: the download's is written to "
                        "OUTPUT.sha256 (default: %(default)r)")
    p.add_argument("--size", type=int, help="expected size, bytes (not checked when omitted)")
    p.add_argument("--output", required=True, help="where the verified file is placed")
    p.add_argument("--manual-hint", default="",
                   help="sentence added to the error when the download fails: how to obtain the file by hand "
                        "(default: %(default)r)")

    p = common.add_command(sub, "extract", "extract an archive, refusing members outside the target folder",
                           cmd_extract)
    p.add_argument("--archive", required=True, help="zip or tar archive (compressed tars too)")
    p.add_argument("--dest", required=True,
                   help="folder to extract into, replaced once extraction is complete; a single top-level folder "
                        "in the archive becomes this folder")
    p.add_argument("--marker", help="file to touch after a complete extraction")
