"""S4, equivariance-based self-supervised declipping: Figure 5 cells on the synthetic signal model and the
report drawn from the collected rows.

Signals are 1-D float arrays; a clipped measurement carries its threshold mu (its peak magnitude).
"""
from __future__ import annotations

from pathlib import Path

from . import common


def _net_config(a):
    from ..methods.configs import DeclipConfig

    return DeclipConfig(widths=tuple(a.widths), kernel=a.kernel, eq_weight=a.eq_weight, alpha_max=a.alpha_max,
                        stop_gradient=not a.eq_gradient, residual=not a.no_residual, bias=a.bias)


def cmd_s4_synthetic(a):
    from ..experiments.declipping import SyntheticSizes, synthetic_job
    from ..devices import resolve_device

    common.threads(a.threads)
    sizes = SyntheticSizes(length=a.length, band=a.band, train_signals=a.train_signals, test_signals=a.test_signals)
    synthetic_job(a.method, a.d, a.v, sizes, _net_config(a), common.optim_config(a), Path(a.scores),
                  Path(a.checkpoint_dir), resolve_device(a.device), seed=a.data_seed,
                  weights=Path(a.output) if a.output else None)


def cmd_s4_toy(a):
    from dataclasses import replace

    from ..experiments.declipping import SyntheticSizes, toy_job
    from ..devices import resolve_device

    common.threads(a.threads)
    sizes = SyntheticSizes(length=a.length, band=a.band, train_signals=a.train_signals, test_signals=a.test_signals)
    toy_job(a.d, a.v, sizes, replace(_net_config(a), objective=a.objective), common.optim_config(a), Path(a.scores),
            Path(a.examples), Path(a.checkpoint_dir), resolve_device(a.device), seed=a.data_seed)


def cmd_s4_music_train(a):
    from ..experiments.declipping import MusicSizes, music_train_job
    from ..devices import resolve_device

    common.threads(a.threads)
    music_train_job(a.method, [Path(p) for p in a.train], a.fractions, MusicSizes(a.segment, a.hop), _net_config(a),
                    common.optim_config(a), Path(a.output), Path(a.checkpoint_dir), resolve_device(a.device),
                    validation_share=a.validation_share)


def cmd_s4_music_eval(a):
    from ..experiments.declipping import music_eval_job
    from ..devices import resolve_device

    common.threads(a.threads)
    music_eval_job(a.method, [Path(p) for p in a.test], a.fractions, Path(a.scores), resolve_device(a.device),
                   weights=Path(a.weights) if a.weights else None, example=Path(a.example) if a.example else None,
                   example_fraction=a.example_fraction, replicate=a.replicate)


def cmd_s4_report(a):
    from ..experiments.declipping_report import example_figure, figure5, music_table, toy_figure

    outdir = Path(a.outdir)
    figure5(Path(a.metrics), outdir / "figures" / "figure5.png", outdir / "tables" / "figure5.md", common.run_facts(a))
    if a.toy_examples:
        toy_figure(Path(a.toy_examples), outdir / "figures" / "figure3_toy.png")
    if a.music_example:
        music_table(Path(a.metrics), outdir / "tables" / "music.md", common.run_facts(a))
        example_figure(Path(a.music_example), outdir / "figures" / "example.png", a.example_method)


def cmd_s4_claims(a):
    from ..experiments.declipping_report import write_claims

    write_claims(Path(a.metrics), Path(a.outdir), a.run_facts, a.scale, common.stats(a), a.d1_margin_db,
                 training=Path(a.training) if a.training else None)


def add_net_options(p) -> None:
    """Options of the declipping network and of the self-supervised loss (methods.declipping.DeclipConfig)."""
    from ..methods.configs import DeclipConfig

    d = DeclipConfig()
    p.add_argument("--widths", type=int, nargs="+", default=list(d.widths),
                   help="channels per U-Net level; the signal length must be a multiple of 2^levels "
                        "(default: %(default)s)")
    p.add_argument("--kernel", type=int, default=d.kernel, help="convolution width, samples (odd; default: %(default)s)")
    p.add_argument("--eq-weight", type=float, default=d.eq_weight,
                   help="lambda of L_MC + lambda L_EQ (default: %(default)s)")
    p.add_argument("--alpha-max", type=float, default=d.alpha_max,
                   help="equivariance scalings alpha ~ U(1, alpha_max) (default: %(default)s)")
    p.add_argument("--eq-gradient", action="store_true",
                   help="let the gradient flow through x1 = f(y) in L_EQ (default: stopped; see "
                        "restorebench.methods.declipping)")
    p.add_argument("--no-residual", action="store_true",
                   help="the network outputs the estimate itself instead of a correction added to y")
    p.add_argument("--bias", action="store_true", help="give every convolution a bias (paper Fig. 3's biased network)")


# ------------------------------------------------------------------------------------------ user tools

def _read_channels(path: str):
    """(channels x samples float32, sample rate) of an audio file; errors name the file."""
    from ..audio_io import read_audio_channels

    x, rate = read_audio_channels(path)
    return x.astype("float32"), rate


def cmd_clip(a):
    import json
    import sys

    import numpy as np

    from ..audio_io import write_audio
    from ..physics.clipping import clip, detect_clipping, saturated_fraction, threshold_for_fraction

    if not 0 < a.saturated_fraction <= 0.5:
        raise ValueError(f"--saturated-fraction must be in (0, 0.5], got {a.saturated_fraction}")
    x, rate = _read_channels(a.input)
    source = detect_clipping(x)
    if source["clipped"]:
        print(f"warning: {a.input} is already clipped in the source: {100 * source['saturated_fraction']:.2f} % of "
              f"its samples sit on its peak (runs up to {source['longest_run']} samples); the new threshold "
              f"adds to that", file=sys.stderr)
    # one threshold for every channel, as one converter clips them all at the same level
    mu = float(threshold_for_fraction(x.reshape(1, -1), a.saturated_fraction)[0, 0])
    y = clip(x, np.float32(mu))
    write_audio(a.output, y.T if y.shape[0] > 1 else y[0], rate)
    print(json.dumps({"input": a.input, "output": a.output, "sample_rate": rate, "channels": int(x.shape[0]),
                      "threshold": mu, "saturated_fraction": saturated_fraction(y, mu),
                      "source_already_clipped": source["clipped"]}, indent=2))


def cmd_declip(a):
    import json
    import sys
    import time

    import numpy as np

    from ..audio_io import AudioInputError, quantisation_step, write_audio
    from ..experiments.declipping import run_declipper
    from ..devices import resolve_device
    from ..physics.clipping import detect_clipping, project_consistent, threshold_mask

    if a.threshold < 0:
        raise ValueError(f"--threshold must be 0 (detect the rails) or a clip level > 0, got {a.threshold}")
    common.threads(a.threads)
    y, rate = _read_channels(a.input)
    peak = float(np.max(np.abs(y)))
    if a.threshold:
        # a level within one step of the file's grid of its peak is the level it was clipped at: an integer
        # PCM step, or the float32 spacing the samples are read at (a float file clipped at T holds T
        # rounded to float32, often a hair below T)
        step = max(quantisation_step(a.input), float(np.spacing(np.float32(peak))))
        if a.threshold > peak + step:
            raise ValueError(f"--threshold {a.threshold} is above the peak of {a.input} ({peak:.6g}): no sample "
                             f"would be declipped")
        # samples within one step of the integer PCM grid count as on the rail: 16-bit's +32767 is 1 - 2^-15
        mask = threshold_mask(y, a.threshold, tolerance=step)
        rails = {"threshold": a.threshold}
    else:
        found = detect_clipping(y)
        mask = found["mask"]
        rails = {"rails": [{k: c[k] for k in ("upper", "lower", "upper_clipped", "lower_clipped")}
                           for c in found["channels"]]}
        if not found["clipped"]:
            print(f"warning: {a.input} shows no clipping plateau on either rail (longest run "
                  f"{found['longest_run']} samples at a channel's maximum or minimum); nothing is declipped. "
                  f"Give --threshold if the clip level is known", file=sys.stderr)
    model, device = None, resolve_device(a.device)
    if a.method == "network":
        if not a.checkpoint:
            raise ValueError("--method network needs --checkpoint (weights written by s4-music-train)")
        from ..methods.declipping import load_trained

        cfg, model = load_trained(a.checkpoint)
        if rate != cfg.sample_rate:
            raise AudioInputError(f"{a.input}: {rate} Hz, but the network was trained at {cfg.sample_rate} Hz; "
                                  f"resampling a clipped file smears its plateaus, so resample the audio before it "
                                  f"is clipped, or train at {rate} Hz")
    start = time.perf_counter()
    mu = np.maximum(np.max(np.abs(y), axis=1), 1e-12)       # scale only: the mask says what is clipped
    raw = run_declipper(None if model is not None else a.method, y, mu, model, device, mask=mask)
    consistent = project_consistent(raw, y, mask).astype(np.float32)
    reliable = mask == 0
    change = np.abs(raw - y)[reliable]
    below = (np.abs(raw) < np.abs(y) * (1 - 1e-6))[~reliable]
    x = raw if a.raw else consistent
    write_audio(a.output, x.T if x.shape[0] > 1 else x[0], rate)
    print(json.dumps({"input": a.input, "output": a.output, "method": a.method, "sample_rate": rate,
                      "channels": int(y.shape[0]), **rails, "saturated_fraction": float(mask.mean()),
                      "output_is": "raw" if a.raw else "consistent",
                      # how far the declipper's own output strayed from the measurement, which --raw keeps
                      "raw_output": {"reliable_max_abs_change": float(change.max()) if change.size else 0.0,
                                     "reliable_rms_change": float(np.sqrt(np.mean(change ** 2)))
                                     if change.size else 0.0,
                                     "saturated_below_rail_fraction": float(below.mean()) if below.size else 0.0},
                      "seconds": round(time.perf_counter() - start, 2), "device": str(device)}, indent=2))


def _add_signal_options(p) -> None:
    p.add_argument("--d", type=int, required=True, help="model dimension: non-zero DCT coefficients per signal")
    p.add_argument("--v", type=float, required=True, help="saturated fraction of each signal's samples, in (0, 0.5]")
    p.add_argument("--length", type=int, default=256, help="samples per signal (default: %(default)s)")
    p.add_argument("--band", type=float, default=0.125,
                   help="share of the DCT frequencies (lowest first) the d coefficients are drawn from "
                        "(default: %(default)s)")
    p.add_argument("--train-signals", type=int, default=1024, help="training signals (default: %(default)s)")
    p.add_argument("--test-signals", type=int, default=64, help="test signals (default: %(default)s)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the signal sets (default: %(default)s)")
    p.add_argument("--scores", required=True, help="tidy TSV of SDR per test signal")


def _add_s4_synthetic(sub) -> None:
    """``restorebench s4-synthetic``."""
    from .. import registry

    declippers = registry.names("S4", "declipper")

    p = common.add_command(sub, "s4-synthetic", "S4: one Figure 5 cell -- train (if needed) and score a declipper "
                           "at model dimension d and saturated fraction v", cmd_s4_synthetic,
                           "Signals exactly d-sparse in the DCT (restorebench.data.clipping), each clipped at its own "
                           "threshold for the fraction v; SDR per test signal as tidy rows.")
    p.add_argument("--method", required=True, choices=declippers, help="registered S4 declipper")
    _add_signal_options(p)
    # weights are optional here: the untrained declippers write none
    common.add_training_options(p, epochs=20, batch_size=16, optimizer="adam", lr=2e-3, weight_decay=0.0,
                                weights="optional")
    add_net_options(p)


def _add_s4_toy(sub) -> None:
    """``restorebench s4-toy``."""
    from .. import registry

    objectives = [m.params["objective"] for m in registry.methods("S4", "declipper") if m.trained]

    p = common.add_command(sub, "s4-toy", "S4: the Figure 3 toy -- one declipper trained bias-free and with biases "
                           "on signals of peak 1, scored on those signals and on the same signals divided by 10",
                           cmd_s4_toy)
    _add_signal_options(p)
    p.add_argument("--objective", default="mc-eq", choices=objectives,
                   help="training objective of both networks: a trained S4 declipper of the registry "
                        "(default: %(default)s, the paper's)")
    p.add_argument("--examples", required=True, help="npz keeping test signal 0 for the figure")
    common.add_training_options(p, epochs=20, batch_size=16, optimizer="adam", lr=2e-3, weight_decay=0.0,
                                weights="none")
    add_net_options(p)


def _add_s4_music_train(sub) -> None:
    """``restorebench s4-music-train``: S4: train one declipper on clipped music/speech recordings."""
    from .. import registry

    # only the networks train: an untrained declipper given here is refused by the parser, not by the job
    declippers = [m for m in registry.names("S4", "declipper") if registry.get("S4", "declipper", m).trained]

    p = common.add_command(sub, "s4-music-train", "S4: train one declipper on clipped music/speech recordings",
                           cmd_s4_music_train, "Recording k of each corpus is clipped at fraction k mod len(fractions) "
                           "(one threshold per recording) and cut into segments that keep that threshold.")
    p.add_argument("--method", required=True, choices=declippers, metavar="METHOD",
                   help="registered trained S4 declipper: %(choices)s")
    p.add_argument("--train", nargs="+", required=True, help="training corpus files (.npz of make-corpus / ingest-audio)")
    p.add_argument("--fractions", type=float, nargs="+", required=True, help="saturated fractions v in (0, 0.5]")
    p.add_argument("--segment", type=int, default=16384, help="training segment, samples (default: %(default)s)")
    p.add_argument("--hop", type=int, default=8192, help="hop between segments, samples (default: %(default)s)")
    common.add_training_options(p, epochs=20, batch_size=8, optimizer="adam", lr=2e-3, weight_decay=0.0)
    add_net_options(p)


def _add_s4_music_eval(sub) -> None:
    """``restorebench s4-music-eval``."""
    from .. import registry

    declippers = registry.names("S4", "declipper")

    p = common.add_command(sub, "s4-music-eval", "S4: score one declipper on every test recording at every fraction "
                           "(SDR and Delta SDR rows)", cmd_s4_music_eval)
    p.add_argument("--method", required=True, choices=declippers, metavar="METHOD",
                   help="registered S4 declipper: %(choices)s")
    p.add_argument("--test", nargs="+", required=True, help="test corpus files (.npz)")
    p.add_argument("--fractions", type=float, nargs="+", required=True, help="saturated fractions v in (0, 0.5]")
    p.add_argument("--weights", default="", help="trained weights of a trained declipper (default: none)")
    p.add_argument("--scores", required=True, help="tidy TSV of the rows")
    p.add_argument("--example", default="", help="npz keeping the first recording at --example-fraction (default: none)")
    p.add_argument("--example-fraction", type=float, default=0.1,
                   help="fraction of the kept example (default: %(default)s)")
    p.add_argument("--replicate", type=int, default=None,
                   help="the replicate these recordings (and the network) belong to, written on every row: the "
                        "verdicts' unit when a run has several (default: none, recordings shared by all)")
    common.add_device_option(p)
    common.add_threads_option(p)


def _add_s4_report(sub) -> None:
    """``restorebench s4-report``."""
    p = common.add_command(sub, "s4-report", "S4: Figure 5 heatmaps and table, the Figure 3 toy, the music table "
                           "and the example figure, from the collected rows", cmd_s4_report)
    p.add_argument("--metrics", required=True, help="collected S4 rows (results/s4/metrics.csv)")
    p.add_argument("--outdir", required=True, help="folder receiving figures/ and tables/")
    p.add_argument("--toy-examples", default="",
                   help="examples npz of s4-toy: also draw figures/figure3_toy.png (default: none)")
    p.add_argument("--music-example", default="",
                   help="example npz of s4-music-eval: also write tables/music.md and figures/example.png "
                        "(default: none)")
    p.add_argument("--example-method", default="mc-eq", help="declipper that wrote --music-example (default: %(default)s)")
    common.add_run_facts_option(p)


def _add_clip(sub) -> None:
    """``restorebench clip``: clip an audio file so that a given fraction of its samples saturate."""
    p = common.add_command(sub, "clip", "clip an audio file so that a given fraction of its samples saturate",
                           cmd_clip, "One threshold for all channels; the file keeps its sample rate and channels. "
                           "Prints the threshold and the realised fraction as JSON.")
    p.add_argument("--input", required=True, help="audio file (any format soundfile reads)")
    p.add_argument("--saturated-fraction", type=float, required=True,
                   help="fraction v of the samples that end up on the threshold, in (0, 0.5]")
    p.add_argument("--output", required=True, help="clipped audio (float WAV)")
    common.declare_user_tool("clip", {"--input": "audio"}, ("--output",), example=("--saturated-fraction", "0.05"))


def _add_declip(sub) -> None:
    """``restorebench declip``: restore a clipped audio file with a trained declipper or A-SPADE."""
    p = common.add_command(sub, "declip", "restore a clipped audio file with a trained declipper or A-SPADE",
                           cmd_declip, "The clipped samples are read off the file: each channel's maximum and "
                           "minimum on their own (integer PCM saturates at +32767 and -32768), a rail counting as "
                           "clipped when the channel sits on it for whole runs of samples (on 8-bit audio's coarse "
                           "grid a smooth peak does too: give the level there); --threshold gives the level instead. Each channel is declipped on its own, and the output is made "
                           "consistent with the file: unclipped samples kept as they are, clipped ones at least "
                           "at their rail (--raw: the declipper's output as it is). Prints what was done as JSON, "
                           "with how far the raw output strayed from the unclipped samples.")
    p.add_argument("--input", required=True, help="clipped audio file")
    p.add_argument("--output", required=True, help="restored audio (float WAV, same rate and channels)")
    p.add_argument("--method", default="network", choices=("network", "aspade"),
                   help="network: the weights of --checkpoint; aspade: the classical declipper (default: %(default)s)")
    p.add_argument("--checkpoint", default="", help="declipper weights (.pt from s4-music-train) (default: none)")
    p.add_argument("--threshold", type=float, default=0.0,
                   help="clip level mu, full scale 1: samples with |y| >= mu (within one step of the file's grid: "
                        "an integer PCM step, or float32 rounding) are clipped, so the exact level a file was "
                        "clipped at is accepted; 0 = detect each channel's rails (default: %(default)s)")
    p.add_argument("--raw", action="store_true",
                   help="write the declipper's output as it is, without putting the unclipped samples back")
    common.declare_user_tool("declip", {"--input": "audio", "--checkpoint": "weights:S4"}, ("--output",))
    common.add_device_option(p)
    common.add_threads_option(p)


def _add_s4_claims(sub) -> None:
    """``restorebench s4-claims``: S4: verdicts on the paper's claims from paired statistics."""
    p = common.add_command(sub, "s4-claims", "S4: verdicts on the paper's claims from paired statistics",
                           cmd_s4_claims)
    p.add_argument("--metrics", required=True, help="collected S4 rows (results/s4/metrics.csv)")
    p.add_argument("--outdir", required=True, help="folder receiving claims.md/.html, verdicts.csv, figures/")
    p.add_argument("--d1-margin-db", type=float, default=1.0,
                   help="D1: how far (dB of SDR) below the supervised network still counts as approaching it "
                        "(default: %(default)s)")
    common.add_stats_options(p)


def register(sub) -> None:
    """Add this module's subcommands to ``sub``, in the order ``restorebench --help`` lists them."""
    _add_s4_synthetic(sub)
    _add_s4_toy(sub)
    _add_s4_music_train(sub)
    _add_s4_music_eval(sub)
    _add_s4_report(sub)
    _add_clip(sub)
    _add_declip(sub)
    _add_s4_claims(sub)
