"""S2, deep audio priors: corpus -> observations -> fits -> scores -> tables, figures, claims.

Audio is 16 kHz mono throughout; STFT sizes and hops are in samples at 16 kHz.
"""
from __future__ import annotations

from pathlib import Path

from . import common


def cmd_make_corpus(a):
    from ..files import save_npz
    from ..data.corpus import make_corpus

    corpus = make_corpus(a.dataset, a.n_clips, a.clip_samples, a.seed, a.peak)
    save_npz(a.output, clips=corpus.clips, descriptions=corpus.descriptions, meta_dataset=a.dataset,
             meta_role=a.role, meta_data_source="embedded", meta_seed=a.seed)


def cmd_ingest_audio(a):
    from ..files import save_npz
    from ..data.real import ingest_audio_folder

    clips, descriptions, source_clipping = ingest_audio_folder(
        Path(a.source), a.pattern or ["**/*.wav"], a.n_clips, a.clip_samples, a.seed,
        a.peak if not a.no_normalise else None)
    save_npz(a.output, clips=clips, descriptions=descriptions, source_clipping=source_clipping,
             meta_dataset=a.dataset, meta_role=a.role, meta_data_source="real", meta_seed=a.seed)


def cmd_corrupt(a):
    from ..experiments.audio_priors import Geometry, make_observations

    make_observations(a.task, Path(a.clean), Geometry(a.n_fft, a.hop, a.frames), a.seed, Path(a.output),
                      sigma=a.sigma, noise_paths=tuple(Path(p) for p in a.noise),
                      snr_range=(a.snr_min, a.snr_max), gap_seconds=(a.gap_min, a.gap_max),
                      n_gaps=a.n_gaps, second_path=Path(a.second) if a.second else None, peak=a.peak)


def cmd_fit_prior(a):
    from ..experiments.audio_priors import fit_observations
    from ..methods.dip import SeparationWeights

    common.threads(a.threads)
    fit_observations(Path(a.observations), a.prior, common.fit_config(a), Path(a.output),
                     separation_weights=SeparationWeights(a.exclusion_weight, a.mask_weight),
                     progress=not a.quiet, fits_per_batch=a.fits_per_batch)


def cmd_score_fits(a):
    from ..experiments.audio_priors import score_task

    score_task(Path(a.observations), [Path(p) for p in a.fit], Path(a.output), Path(a.trajectory_output))


def cmd_s2_tables(a):
    from ..experiments.audio_priors_report import write_tables

    write_tables(Path(a.metrics), Path(a.outdir), common.run_facts(a))


def cmd_s2_convergence(a):
    from ..experiments.audio_priors_report import convergence_figure

    convergence_figure(Path(a.trajectories), Path(a.metrics), Path(a.output))


def cmd_s2_example(a):
    from ..experiments.audio_priors_report import example_figure

    fits = dict(item.split("=", 1) for item in a.fit)
    example_figure(Path(a.observations), {k: Path(v) for k, v in fits.items()}, Path(a.output))


def cmd_s2_claims(a):
    from ..experiments.audio_priors_report import write_claims

    write_claims(Path(a.metrics), Path(a.trajectories), Path(a.outdir), common.run_facts(a), a.scale,
                 a.a4_iteration_ratio, a.a4_tolerance_db, common.stats(a),
                 a.unsupervised_rule, Path(a.geometry) if a.geometry else None)


def cmd_s2_geometry(a):
    from ..experiments.audio_priors_report import geometry_table, write_geometry
    from .. import registry

    priors = a.priors or registry.names("S2", "prior")
    shapes = {"speech": (a.bins, a.speech_frames or a.frames), "other datasets": (a.bins, a.frames)}
    if shapes["speech"] == shapes["other datasets"]:
        shapes = {"every dataset": shapes["speech"]}
    table = geometry_table(priors, shapes, a.dilation_divisor)
    write_geometry(table, Path(a.outdir), common.run_facts(a))
    print((Path(a.outdir) / "geometry.md").read_text())


def _add_corpus_options(p, seed_help: str) -> None:
    common.defer_help(p.add_argument("--role", default="",
                                     help="data role recorded in the file and copied into every metric row "
                                          "(the workflow's roles: %(roles)s) (default: %(default)r)"),
                      roles=common.S2_ROLES)
    p.add_argument("--n-clips", type=int, required=True, help="number of clips to write")
    p.add_argument("--clip-samples", type=int, required=True,
                   help="length of each clip, samples at 16 kHz; a task's geometry needs (frames - 1) x hop")
    p.add_argument("--seed", type=int, default=0, help=f"{seed_help} (default: %(default)s)")
    p.add_argument("--peak", type=float, default=0.9,
                   help="peak amplitude clean clips are normalised to, full scale = 1 (default: %(default)s)")


def _add_make_corpus(sub) -> None:
    """``restorebench make-corpus``: generate an embedded dataset (npz)."""
    p = common.add_command(sub, "make-corpus", "generate an embedded dataset (npz)", cmd_make_corpus,
                           "Clean clips are cut to their loudest window and peak-normalised; noise clips are "
                           "left at unit RMS.")
    common.defer_help(p.add_argument("--dataset", required=True,
                                     help="embedded dataset to generate: one of %(datasets)s "
                                          "(restorebench.data.corpus)"),
                      datasets=common.EMBEDDED_DATASETS)
    _add_corpus_options(p, "seed of the generated content (sentences, voices, melodies, noise)")
    p.add_argument("--output", required=True, help="corpus file to write (.npz: clips, descriptions, metadata)")


def _add_ingest_audio(sub) -> None:
    """``restorebench ingest-audio``: cut clips from a folder of real audio files (npz)."""
    p = common.add_command(sub, "ingest-audio", "cut clips from a folder of real audio files (npz)",
                           cmd_ingest_audio,
                           "Files are read as 16 kHz mono (resampled when needed) and drawn without replacement; "
                           "a stem file (.stem.mp4, MUSDB18) gives its mixture stream (needs PyAV: the 'music' "
                           "extra). A file already clipped in the source is reported on stderr and recorded "
                           "(source_clipping).")
    p.add_argument("--dataset", required=True,
                   help="dataset name recorded in the file and in the metric rows (e.g. LJSpeech-1.1)")
    p.add_argument("--source", required=True, help="folder holding the dataset's audio files")
    p.add_argument("--pattern", action="append",
                   help="glob under --source, repeatable, e.g. '**/test/*.stem.mp4' (default: **/*.wav)")
    _add_corpus_options(p, "seed of the file order and, for noise, of the window drawn from each file")
    p.add_argument("--no-normalise", action="store_true",
                   help="noise recordings: take a random window at unit RMS instead of the loudest window "
                        "normalised to --peak")
    p.add_argument("--output", required=True, help="corpus file to write (.npz: clips, descriptions, metadata)")


def _add_corrupt(sub) -> None:
    """``restorebench corrupt``: make the observations of one S2 task."""
    p = common.add_command(sub, "corrupt", "make the observations of one S2 task", cmd_corrupt,
                           "Writes the clean clips, their corrupted observations and the per-clip conditions.")
    p.add_argument("--task", required=True, choices=("gaussian", "environmental", "inpainting", "separation"),
                   help="gaussian: white noise (Table 1); environmental: noise corpora at a drawn SNR (Table 2); "
                        "inpainting: STFT frames zeroed in gaps (Table 3); separation: 0 dB mixture of two "
                        "corpora (Table 4)")
    p.add_argument("--clean", required=True, help="corpus file (.npz) of the clean clips")
    p.add_argument("--second", help="separation: corpus of the second source, mixed clip by clip with --clean")
    p.add_argument("--noise", action="append", default=[],
                   help="environmental: noise corpus, repeatable; clips cycle through the corpora "
                        "(default: none)")
    p.add_argument("--n-fft", type=int, required=True, help="STFT size of the task's geometry, samples")
    p.add_argument("--hop", type=int, required=True, help="STFT hop, samples")
    p.add_argument("--frames", type=int, required=True,
                   help="STFT frames per clip; the corpus clips must have (frames - 1) x hop samples")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the corruption (noise, SNRs, gap positions) (default: %(default)s)")
    p.add_argument("--sigma", type=float, default=0.1,
                   help="gaussian: standard deviation of the added white noise, full scale = 1 "
                        "(default: %(default)s)")
    p.add_argument("--snr-min", type=float, default=5.0,
                   help="environmental: lowest SNR the noise is scaled to, dB (default: %(default)s)")
    p.add_argument("--snr-max", type=float, default=9.0,
                   help="environmental: highest SNR, dB; each clip's SNR is drawn uniformly in between "
                        "(default: %(default)s)")
    p.add_argument("--gap-min", type=float, default=0.1,
                   help="inpainting: shortest gap, seconds (default: %(default)s)")
    p.add_argument("--gap-max", type=float, default=0.25,
                   help="inpainting: longest gap, seconds; each gap's length is drawn uniformly in between "
                        "(default: %(default)s)")
    p.add_argument("--n-gaps", type=int, default=1, help="inpainting: gaps per clip (default: %(default)s)")
    p.add_argument("--peak", type=float, default=0.9,
                   help="separation: peak amplitude the mixture is normalised to, full scale = 1 "
                        "(default: %(default)s)")
    p.add_argument("--output", required=True, help="observations file to write (.npz)")


def _add_fit_prior(sub) -> None:
    """``restorebench fit-prior``: fit one prior to every observation of a file."""
    from .. import registry

    priors = registry.names("S2", "prior")

    p = common.add_command(sub, "fit-prior", "fit one prior to every observation of a file", cmd_fit_prior,
                           "Records the final, oracle-stopped and ES-WMV estimates and the SNR trajectory.")
    p.add_argument("--observations", required=True, help="observations file written by corrupt (.npz)")
    p.add_argument("--prior", required=True, choices=priors,
                   help="deep audio prior: one of %(choices)s (restorebench.registry, S2 priors)")
    p.add_argument("--output", required=True, help="fit file to write (.npz: estimates and trajectories)")
    p.add_argument("--exclusion-weight", type=float, default=0.1,
                   help="separation: loss weight of the gradient-exclusion term between the two sources "
                        "(default: %(default)s)")
    p.add_argument("--mask-weight", type=float, default=0.05,
                   help="separation: loss weight of mean m(1 - m), pushing the mask to 0/1 (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    common.add_fit_options(p)


def _add_score_fits(sub) -> None:
    """``restorebench score-fits``: metrics of the observations and of each fit, SNR trajectories (tidy TSVs)."""
    p = common.add_command(sub, "score-fits", "metrics of the observations and of each fit, SNR trajectories "
                                              "(tidy TSVs)", cmd_score_fits)
    p.add_argument("--observations", required=True, help="observations file written by corrupt (.npz)")
    p.add_argument("--fit", action="append", default=[],
                   help="fit file written by fit-prior for these observations, repeatable "
                        "(default: none: only the observations are scored)")
    p.add_argument("--output", required=True,
                   help="tidy metrics TSV: the input's and every fit's final, ES-WMV and oracle scores")
    p.add_argument("--trajectory-output", required=True,
                   help="tidy trajectories TSV: SNR and ES-WMV variance per recorded iteration")


def _add_s2_tables(sub) -> None:
    """``restorebench s2-tables``: Tables 1-4 (CSV + Markdown + HTML)."""
    p = common.add_command(sub, "s2-tables", "Tables 1-4 (CSV + Markdown + HTML)", cmd_s2_tables)
    p.add_argument("--metrics", required=True, help="collected S2 metrics.csv")
    common.add_run_facts_option(p)
    p.add_argument("--outdir", required=True, help="folder table1-4 .csv/.md/.html are written into")


def _add_s2_claims(sub) -> None:
    """``restorebench s2-claims``."""
    p = common.add_command(sub, "s2-claims", "claims A1-A4 from paired statistics: claims.md/.html, verdicts.csv, "
                                             "figures/claims_effects.png", cmd_s2_claims)
    p.add_argument("--metrics", required=True, help="collected S2 metrics.csv")
    p.add_argument("--trajectories", required=True, help="collected S2 trajectories.csv (A4)")
    p.add_argument("--geometry", default=None,
                   help="geometry.csv written by s2-geometry: a claim comparing a prior with a degenerate layer is "
                        "not a verdict (default: none: no geometry check)")
    p.add_argument("--outdir", required=True, help="study folder the pages are written into (results/s2)")
    p.add_argument("--a4-iteration-ratio", type=float, default=0.5,
                   help="A4: exp+dense converges in at most this share of the harmonic prior's iterations (the "
                        "paper: about 0.1) (default: %(default)s)")
    p.add_argument("--a4-tolerance-db", type=float, default=1.0,
                   help="A4: a fit has converged when within this many dB of its best SNR (default: %(default)s)")
    p.add_argument("--unsupervised-rule", choices=("es", "dp-blind"), default="dp-blind",
                   help="A1u-A3u: the stopping rule needing neither the clean reference nor the noise level "
                        "(default: %(default)s)")
    common.add_stats_options(p)


def _add_s2_geometry(sub) -> None:
    """``restorebench s2-geometry``: the share of each dilated layer's kernel taps inside its feature map."""
    p = common.add_command(sub, "s2-geometry", "per prior and layer, the share of its kernel taps inside its feature "
                                               "map here and at the paper's 512 x 256: geometry.csv/.md",
                           cmd_s2_geometry,
                           "A layer whose dilation reaches past its map where the paper's does not is degenerate "
                           "(a dilated 3x3 kernel with 1/9 of its taps inside is a 1x1 convolution); S2's claims "
                           "comparing such a prior are not a verdict.")
    p.add_argument("--bins", type=int, required=True, help="frequency bins of the spectrogram (n_fft / 2 + 1)")
    p.add_argument("--frames", type=int, required=True, help="STFT frames of the spectrogram")
    p.add_argument("--speech-frames", type=int, default=0,
                   help="STFT frames of the speech datasets' spectrogram, if they differ; 0 = --frames (default: %(default)s)")
    p.add_argument("--dilation-divisor", type=int, default=1,
                   help="the paper's dilations divided by this, each at least 1 (default: %(default)s)")
    p.add_argument("--priors", nargs="*", default=None,
                   help="priors to tabulate (default: every registered S2 prior; one without a dilation schedule "
                        "is skipped)")
    p.add_argument("--outdir", required=True, help="folder geometry.csv and geometry.md are written into")
    common.add_run_facts_option(p)


def _add_s2_figure_convergence(sub) -> None:
    """``restorebench s2-figure-convergence``: Figure 2: SNR vs iteration."""
    p = common.add_command(sub, "s2-figure-convergence", "Figure 2: SNR vs iteration", cmd_s2_convergence,
                           "Gaussian denoising, mean over clips, one panel per dataset.")
    p.add_argument("--trajectories", required=True, help="collected S2 trajectories.csv")
    p.add_argument("--metrics", required=True, help="collected S2 metrics.csv (marks the mean ES-WMV and blind-discrepancy stops)")
    p.add_argument("--output", required=True, help="figure file; the format follows its suffix (e.g. .png)")


def _add_s2_figure_example(sub) -> None:
    """``restorebench s2-figure-example``: example spectrograms of one task."""
    p = common.add_command(sub, "s2-figure-example", "example spectrograms of one task", cmd_s2_example,
                           "Clean, corrupted and each prior's final estimate of the first clip.")
    p.add_argument("--observations", required=True, help="observations file written by corrupt (.npz)")
    p.add_argument("--fit", action="append", required=True,
                   help="PRIOR=PATH: a prior's fit file for these observations, repeatable")
    p.add_argument("--output", required=True, help="figure file; the format follows its suffix (e.g. .png)")


def register(sub) -> None:
    """Add this module's subcommands to ``sub``, in the order ``restorebench --help`` lists them."""
    _add_make_corpus(sub)
    _add_ingest_audio(sub)
    _add_corrupt(sub)
    _add_fit_prior(sub)
    _add_score_fits(sub)
    _add_s2_tables(sub)
    _add_s2_geometry(sub)
    _add_s2_claims(sub)
    _add_s2_figure_convergence(sub)
    _add_s2_figure_example(sub)
