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
    from ..audio_io import AudioInputError, read_audio_source, white_noise_std_after_reading, write_audio
    from ..dsp import STFTConfig
    from ..methods.dip import restore_recording
    from ..methods.stopping import DEFAULT_UNSUPERVISED_RULE

    common.threads(a.threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        observed, file_rate, file_channels = read_audio_source(a.input)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    cfg = STFTConfig(a.n_fft, a.hop)
    if observed.size < a.n_fft:
        raise AudioInputError(f"{a.input}: {observed.size} samples at 16 kHz ({observed.size / 16000:.3f} s) is "
                              f"shorter than one STFT frame (--n-fft {a.n_fft}); nothing to fit")
    if a.noise_std is not None and not a.noise_std > 0:
        raise AudioInputError(f"--noise-std must be positive, got {a.noise_std}")
    # --noise-std is the user's file's; the fit sees the 16 kHz mono mix
    noise_std = (None if a.noise_std is None
                 else white_noise_std_after_reading(a.noise_std, file_rate, file_channels))
    rule = a.select
    if rule == "auto":
        rule = "dp-known" if a.noise_std is not None else DEFAULT_UNSUPERVISED_RULE
    if rule == "dp-known" and a.noise_std is None:
        raise AudioInputError("--select dp-known needs --noise-std (the noise's standard deviation per sample)")
    mask = None
    if a.task == "inpaint":
        if not a.mask:
            raise AudioInputError("--task inpaint needs --mask (a .npy of 0/1 per sample or per STFT frame)")
        mask = _load_sample_mask(Path(a.mask), observed.size, cfg)
    segment = int(round(a.segment_seconds * 16000))
    overlap = int(round(a.overlap_seconds * 16000))
    if not 0 <= overlap < segment:
        raise AudioInputError(f"--overlap-seconds must be at least 0 and below --segment-seconds "
                              f"({a.overlap_seconds} vs {a.segment_seconds})")
    fit_cfg = common.fit_config(a)
    result = restore_recording(observed, a.prior, cfg, fit_cfg, rule=rule, noise_std=noise_std,
                               sample_mask=mask, segment_samples=segment, overlap_samples=overlap,
                               log=lambda msg: print(msg, file=sys.stderr, flush=True),
                               segments_per_batch=a.fits_per_batch)
    write_audio(a.output, result.restored)
    print(json.dumps({"input": a.input, "output": a.output, "task": a.task, "prior": a.prior,
                      "iterations": fit_cfg.iterations, "stopping_rule": rule,
                      "noise_std": a.noise_std, "noise_std_at_16k_mono": noise_std,
                      "segments": result.segments,
                      "estimated_seconds": round(result.estimated_seconds, 1),
                      "wall_seconds": round(result.wall_seconds, 2), "device": result.device}, indent=2))


def _load_sample_mask(path: Path, n_samples: int, cfg):
    """A 0/1 mask per sample from a .npy of one entry per sample or per STFT frame of the whole file (a
    sample takes the value of the frame whose centre is nearest)."""
    import numpy as np

    from ..audio_io import AudioInputError

    try:
        mask = np.load(path)
    except Exception as err:
        raise AudioInputError(f"{path}: cannot read mask ({err})") from err
    mask = np.asarray(mask, dtype=np.float32).ravel()
    if not np.all(np.isin(mask, (0.0, 1.0))):
        raise AudioInputError(f"{path}: mask must contain only 0 (missing) and 1 (observed)")
    if mask.size == n_samples:
        return mask
    if mask.size == cfg.frames(n_samples):
        nearest = np.minimum(np.rint(np.arange(n_samples) / cfg.hop).astype(int), mask.size - 1)
        return mask[nearest]
    raise AudioInputError(f"{path}: mask has {mask.size} entries; expected {n_samples} (samples) or "
                          f"{cfg.frames(n_samples)} (STFT frames)")


# -------------------------------------------------------------------------------------- workflow steps

def cmd_collect(a):
    from ..tidy import collect

    collect([Path(p) for p in a.inputs], Path(a.output), a.schema)


def cmd_results_readme(a):
    from ..report.results_readme import write_report_landing, write_results_readme

    claims, verdicts = [Path(p) for p in a.claims], [Path(p) for p in a.verdicts]
    write_results_readme(Path(a.output), Path(a.metrics), claims, verdicts, [Path(p) for p in a.tables],
                         [Path(p) for p in a.figures], common.run_facts(a), [Path(p) for p in a.benchmarks])
    if a.report_landing:
        write_report_landing(Path(a.report_landing), Path(a.report_prose), claims, verdicts)


def cmd_compare_runs(a):
    from ..report.compare import compare_runs, format_comparison

    comparisons = compare_runs(Path(a.reference), Path(a.run), tolerance=a.tolerance)
    sys.stdout.write(format_comparison(comparisons, Path(a.reference), Path(a.run)))
    return 1 if any(c.verdicts_differ for c in comparisons) else 0


def cmd_plan_scale(a):
    import pandas as pd
    import yaml

    from ..report.sizing import format_plan, plan, study_costs

    results = Path(a.results)
    files = [results / s / "verdicts.csv" for s in ("s1", "s2", "s3", "s4")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"plan-scale needs every study's verdicts: missing {', '.join(missing)}")
    verdicts = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    scale = str(verdicts["scale"].iloc[0])
    config = yaml.safe_load(Path(a.config).read_text())
    if scale not in config.get("scales", {}):
        raise ValueError(f"{a.config}: scales.{scale} (the scale of {results}) is not defined")
    costs = study_costs(results, config["scales"][scale], fit_threads=int(config.get("fit_threads", 1)))
    claims, studies = plan(verdicts, costs, cores=a.cores,
                           budget_min=a.budget_minutes)
    text = format_plan(claims, studies, run=str(results), scale=scale, cores=a.cores, budget_min=a.budget_minutes)
    sys.stdout.write(text)
    if a.markdown:
        from ..files import write_text

        write_text(Path(a.markdown), text)


def cmd_publish_reference(a):
    from ..report.reference import publish_reference

    written = publish_reference(Path(a.results), Path(a.output), commit=a.commit, scale=a.scale, cores=a.cores,
                                segments=Path(a.wall_segments) if a.wall_segments else None,
                                readme=Path(a.readme) if a.readme else None)
    print(f"{len(written)} files in {a.output}")


def cmd_headline(a):
    from ..report.reference import rewrite_headline

    if not rewrite_headline(Path(a.readme), Path(a.reference), Path(a.checks) if a.checks else None,
                            a.checks_name, a.note):
        raise ValueError(f"{a.readme}: no headline markers to write between")
    print(f"{a.readme}: headline rewritten from {a.reference}" + (f" with the checks of {a.checks}" if a.checks else ""))


def cmd_training_report(a):
    from ..report.training import write_training
    from ..studies import study

    declared = study(a.study)
    weights = [Path(p) for p in a.weights]
    words = {}
    if a.study == "S1":
        from ..experiments.sar_rfi_report import training_table
        table = training_table(weights, Path(a.metrics))
    elif a.study == "S3":
        from ..experiments.merlin_multitask_report import training_table
        table = training_table(weights, Path(a.metrics))
    else:
        from ..experiments.declipping_report import VALIDATION_WORDS, training_table
        table = training_table(weights, [Path(p) for p in a.toy_examples], Path(a.metrics))
        words = {"validation_words": VALIDATION_WORDS}
    write_training(table, Path(a.outdir), f"{declared.id} {declared.title}", a.run_facts, **words)


def cmd_fetch(a):
    from ..data.real import fetch

    fetch(a.url, Path(a.output), a.sha256, a.size, a.manual_hint)


def cmd_extract(a):
    from ..data.real import safe_extract

    safe_extract(Path(a.archive), Path(a.dest), marker=Path(a.marker) if a.marker else None)


def _add_score_audio(sub) -> None:
    """``restorebench score-audio``: every S2 metric for one (reference, estimate) pair, JSON."""
    p = common.add_command(sub, "score-audio", "every S2 metric for one (reference, estimate) pair, JSON",
                           cmd_score_audio,
                           "Files are mixed to mono and resampled to 16 kHz (with a warning); when their lengths "
                           "differ, the first min(lengths) samples are scored.")
    p.add_argument("--reference", required=True, help="clean reference audio file (any format soundfile reads)")
    p.add_argument("--estimate", required=True, help="restored audio file to score against the reference")
    p.add_argument("--mixture", help="the corrupted input, to report input scores and the SNR gain (dB)")
    p.add_argument("--no-pesq", action="store_true", help="skip PESQ (non-speech audio)")
    common.declare_user_tool("score-audio", {"--reference": "audio", "--estimate": "audio"}, example=("--no-pesq",))


def _add_restore_audio(sub) -> None:
    """``restorebench restore-audio``: fit a deep audio prior to your own file."""
    from .. import registry

    p = common.add_command(sub, "restore-audio", "fit a deep audio prior to your own file", cmd_restore_audio,
                           "The recording is fitted in overlapping segments (--segment-seconds, each fitted on its own "
                           "and stopped by the chosen rule, joined with a raised-cosine crossfade) and written as a "
                           "16 kHz float WAV; the JSON summary says where the rule stopped in each segment. Before "
                           "fitting, a short timed warm-up prints the estimated time on stderr.")
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
    p.add_argument("--select", choices=("auto", "dp-blind", "dp-known", "es", "final"), default="auto",
                   help="stopping rule whose estimate is written: dp-blind = discrepancy principle with a blind noise "
                        "estimate, dp-known = with --noise-std, es = ES-WMV, final = the last iterate; auto = "
                        "dp-known when --noise-std is given, else the best rule that needs no noise level "
                        "(dp-blind; docs/performance.md, 'Benchmarks') (default: %(default)s)")
    p.add_argument("--noise-std", type=float,
                   help="the standard deviation of white noise per sample in your file (each channel, full scale "
                        "= 1, at the file's own rate), if you know it (e.g. 0.1); enables the dp-known rule. It is "
                        "converted to what the fit sees: x sqrt(16000 / rate) for a file above 16 kHz (the band "
                        "resampling keeps), / sqrt(channels) for the mono mix (noise independent per channel)")
    p.add_argument("--segment-seconds", type=float, default=2.048,
                   help="length of the segments fitted one by one (2.048 s = 512 frames at hop 64, the paper's "
                        "speech geometry) (default: %(default)s)")
    p.add_argument("--overlap-seconds", type=float, default=0.256,
                   help="overlap of consecutive segments, crossfaded (default: %(default)s)")
    common.add_fit_options(p)
    common.declare_user_tool("restore-audio", {"--input": "audio"}, ("--output",),
                             example=("--task", "denoise", "--iterations", "2", "--widths", "4,4,4"))


def _add_collect(sub) -> None:
    """``restorebench collect``: check tidy TSVs against the result schema and concatenate them into one CSV."""
    p = common.add_command(sub, "collect", "check tidy TSVs against the result schema and concatenate them into "
                                           "one CSV", cmd_collect)
    p.add_argument("--output", required=True, help="collected CSV")
    p.add_argument("--schema", default="metrics", choices=("metrics", "trajectories"),
                   help="columns every input must have (restorebench.tidy) (default: %(default)s)")
    p.add_argument("inputs", nargs="+", help="tidy TSV files")


def _add_results_readme(sub) -> None:
    """``restorebench results-readme``: results/README.md summarising the run."""
    p = common.add_command(sub, "results-readme", "results/README.md summarising the run", cmd_results_readme)
    p.add_argument("--output", required=True, help="page to write (results/README.md); links are relative to it")
    p.add_argument("--metrics", required=True, help="collected S2 metrics.csv (fit count and fitting time)")
    p.add_argument("--claims", nargs="+", required=True, help="claims pages (Markdown), one per study")
    p.add_argument("--verdicts", nargs="+", required=True, help="verdicts.csv of each study, in the same order")
    p.add_argument("--tables", nargs="+", required=True, help="table files; the Markdown (.md) ones are linked")
    p.add_argument("--figures", nargs="+", required=True, help="figure files to link")
    p.add_argument("--benchmarks", nargs="*", default=[],
                   help="Snakemake benchmark TSVs (results/benchmarks/<rule>/...) summarised as job times (default: none)")
    p.add_argument("--report-landing", help="also write the HTML report's landing page (reStructuredText): "
                   "--report-prose followed by every study's verdict table (default: not written)")
    p.add_argument("--report-prose", default="workflow/report/workflow.rst",
                   help="the report's prose, put above the verdict tables (default: %(default)s)")
    common.add_run_facts_option(p)


def _add_compare_runs(sub) -> None:
    """``restorebench compare-runs``."""
    p = common.add_command(sub, "compare-runs", "did a run reproduce the reference? the verdicts that differ and the "
                           "table cells that moved, study by study", cmd_compare_runs,
                           "Compares the verdicts.csv and tables/*.csv of every study present in both folders; a "
                           "cell moved when its mean left the reference's 95 %% t interval of the mean (one-item "
                           "cells: when it differs by more than --tolerance). Exit status 1 when a verdict differs "
                           "(or a claim is in one folder only), 0 otherwise, 2 on unreadable folders.")
    p.add_argument("reference", help="reference results folder (e.g. docs/results/standard)")
    p.add_argument("run", help="results folder of the run to check (e.g. results)")
    p.add_argument("--tolerance", type=float, default=1e-6,
                   help="relative change that counts as moved for a cell without a spread (default: %(default)s)")


def _add_plan_scale(sub) -> None:
    """``restorebench plan-scale``: how many units a scale needs to decide the claims, and its minutes."""
    p = common.add_command(sub, "plan-scale", "how many units a scale needs to decide the claims, and its minutes",
                           cmd_plan_scale,
                           "Reads a finished run's verdicts.csv and benchmark files and prints, per study, the units "
                           "(clips, replicates) that decide with 80 %% power every claim whose effect is at "
                           "least one standard deviation, and the wall minutes that takes; per claim, what its "
                           "own estimate needs. This is how scales.standard was sized (docs/standard.md).")
    p.add_argument("results", help="results folder of a finished run (e.g. results, at the quick scale)")
    p.add_argument("--config", default="config.yaml", help="the config the run used (default: %(default)s)")
    p.add_argument("--cores", type=int, default=2, help="cores the planned run will have (default: %(default)s)")
    p.add_argument("--budget-minutes", type=float, default=90.0,
                   help="wall-time budget the plan is checked against (default: %(default)s)")
    p.add_argument("--markdown", help="also write the plan to this Markdown file (default: stdout only)")


def _add_publish_reference(sub) -> None:
    """``restorebench publish-reference``: copy a finished run's text results to a reference folder."""
    p = common.add_command(sub, "publish-reference", "copy a finished run's text results to a reference folder",
                           cmd_publish_reference,
                           "Copies README.md and every study's claims.md, verdicts.csv, tables (.md, .csv) and "
                           "claims figure, and writes RUN_FACTS.md (commit, date, machine, threads, wall time); "
                           "refuses an unfinished run and more than 2 MB. make reference runs it.")
    p.add_argument("results", help="results folder of a finished run")
    p.add_argument("output", help="reference folder to (re)write, e.g. docs/results/standard")
    p.add_argument("--commit", required=True, help="commit the run was made from")
    p.add_argument("--scale", default="standard", help="scale of the run (default: %(default)s)")
    p.add_argument("--cores", default="all", help="Snakemake --cores the run had (default: %(default)s)")
    p.add_argument("--wall-segments", help="file of 'start end' epoch seconds per run segment (default: none)")
    p.add_argument("--readme", help="README whose headline table (between its headline markers) is rewritten "
                                    "from the published verdicts (default: none)")


def _add_headline(sub) -> None:
    """``restorebench headline``: rewrite the README's headline table from a published reference."""
    p = common.add_command(sub, "headline", "rewrite the README's headline table from a published reference "
                                            "(and what a newer run's floors and training checks say)", cmd_headline,
                           "publish-reference --readme writes the same table when it publishes; this rewrites it "
                           "without republishing, e.g. to show beside each published verdict what a newer run's "
                           "floors and training checks say (--checks).")
    p.add_argument("reference", help="the published reference folder, e.g. docs/results/standard")
    p.add_argument("--readme", default="README.md", help="README with the headline markers (default: %(default)s)")
    p.add_argument("--checks", help="a newer run's results folder: its verdicts add a column (default: none)")
    p.add_argument("--checks-name", default="newer run", help="the column's name, e.g. 'quick at abc1234' "
                                                                "(default: %(default)r)")
    p.add_argument("--note", default="", help="a paragraph above the table (default: none)")


def _add_training_report(sub) -> None:
    """``restorebench training-report``: a study's training table and curves (plateau, beats the input)."""
    p = common.add_command(sub, "training-report", "a study's training table (tables/training.csv, .md) and curves "
                                                   "(figures/training_curves.png): plateau and input check per network",
                           cmd_training_report,
                           "Reads each network's recorded training and validation loss from its weights (the S4 "
                           "toy's from its examples file) and the study's collected metrics, for whether each "
                           "network beats the unprocessed input. A claim cell using a network without a plateau, "
                           "or one worse than the input, is then not a verdict (the claims commands' --training).")
    p.add_argument("--study", required=True, choices=("S1", "S3", "S4"), help="the study (S2 trains no network)")
    p.add_argument("--metrics", required=True, help="the study's collected metrics.csv")
    p.add_argument("--weights", nargs="*", default=[], help="the trained networks' weights files (default: none)")
    p.add_argument("--toy-examples", nargs="*", default=[],
                   help="S4: the toy's examples files (seed<k>.examples.npz) (default: none)")
    p.add_argument("--outdir", required=True, help="study folder (results/sN): tables/ and figures/ are written in it")
    common.add_run_facts_option(p)


def _add_fetch(sub) -> None:
    """``restorebench fetch``: download a file and verify its size and sha256."""
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


def _add_extract(sub) -> None:
    """``restorebench extract``: extract an archive, refusing members outside the target folder."""
    p = common.add_command(sub, "extract", "extract an archive, refusing members outside the target folder",
                           cmd_extract)
    p.add_argument("--archive", required=True, help="zip or tar archive (compressed tars too)")
    p.add_argument("--dest", required=True,
                   help="folder to extract into, replaced once extraction is complete; a single top-level folder "
                        "in the archive becomes this folder")
    p.add_argument("--marker", help="file to touch after a complete extraction")


def register(sub) -> None:
    """Add this module's subcommands to ``sub``, in the order ``restorebench --help`` lists them."""
    _add_score_audio(sub)
    _add_restore_audio(sub)
    _add_collect(sub)
    _add_results_readme(sub)
    _add_compare_runs(sub)
    _add_plan_scale(sub)
    _add_publish_reference(sub)
    _add_training_report(sub)
    _add_headline(sub)
    _add_fetch(sub)
    _add_extract(sub)
