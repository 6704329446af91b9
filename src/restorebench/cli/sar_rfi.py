"""S1, SAR RFI suppression (DIFNet): splits -> training images -> trained networks -> evaluation -> tables,
figures, claims; plus the SAR tools (sar-simulate, sar-focus, suppress-rfi).

Raw echoes and images are 2-D complex arrays ``[azimuth line, range sample]``. Spectrograms are two-sided STFTs
of each pulse (azimuth line) along range: ``--n-fft`` and ``--hop`` are in range samples, and a time-frequency
pixel is one (frequency bin, frame) cell of such a spectrogram.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import common


def cmd_s1_split(a):
    from ..experiments.sar_rfi import Geometry, make_split, make_split_from_images

    geometry = Geometry(a.azimuth, a.range, a.n_fft, a.hop)
    kinds, sir = tuple(a.kinds.split(",")), (a.sir_min, a.sir_max)
    if a.images_folder:
        make_split_from_images(a.split, a.sensor, Path(a.images_folder), a.pattern or ["**/*"], a.scenes,
                               geometry, sir, kinds, a.seed, Path(a.output), band_share=a.rfi_band_share,
                               other_split_scenes=a.other_split_scenes)
    else:
        make_split(a.split, a.sensor, a.scenes, geometry, sir, kinds, a.seed, Path(a.output), snr_db=a.snr_db,
                   band_share=a.rfi_band_share)


def cmd_s1_training_images(a):
    from ..experiments.sar_rfi import training_images

    training_images(Path(a.split_file), a.lines_per_scene, a.multiple, a.seed, Path(a.output))


def cmd_s1_train(a):
    from ..files import load_npz
    from ..devices import resolve_device
    from ..methods.rfi_suppression import feature_meta
    import numpy as np

    from ..methods.train_rfi import TARGET_ARRAYS, RFINetConfig, train
    from ..methods.training import holdout

    common.threads(a.threads)
    net = RFINetConfig(a.model, common.key_values(a.param, "--param"))
    images = load_npz(a.images)
    if "feature_n_fft" not in images:
        raise ValueError(f"{a.images}: training images without their STFT geometry; regenerate them with "
                         f"s1-training-images")
    features = feature_meta(int(images["feature_n_fft"]), int(images["feature_hop"]))
    features["normalisation"] = str(images["feature_normalisation"])
    x, y = images["features"], images[TARGET_ARRAYS[net.target]]
    # whole training scenes held out for the plateau check (images written before the scene index: none)
    held = holdout(images["scene"], a.validation_share, a.seed) if "scene" in images else np.zeros(len(x), bool)
    train(net, common.optim_config(a), x[~held], y[~held], Path(a.output), Path(a.checkpoint_dir),
          resolve_device(a.device), progress=True, features=features, validation=(x[held], y[held]))


def cmd_s1_evaluate(a):
    from ..experiments.sar_rfi import evaluate

    common.threads(a.threads)
    evaluate(Path(a.split_file), a.method, Path(a.output), checkpoint=Path(a.checkpoint) if a.checkpoint else None,
             cfar=common.cfar(a), device=a.device, examples=Path(a.examples) if a.examples else None,
             calibration=Path(a.calibration) if a.calibration else None)


def cmd_s1_calibrate_notch(a):
    from ..experiments.sar_rfi import calibrate_notch

    result = calibrate_notch(Path(a.split_file), a.lines_per_scene, a.seed, common.cfar(a), Path(a.output))
    print(json.dumps({k: result[k] for k in ("detector", "cfar", "false_alarm_rate", "nominal_false_alarm_rate")}))


def cmd_s1_tables(a):
    from ..experiments.sar_rfi_report import write_tables

    write_tables(Path(a.metrics), Path(a.outdir), a.run_facts,
                 Path(a.cfar_calibration) if a.cfar_calibration else None)


def cmd_s1_figure(a):
    from ..experiments import sar_rfi_report as r

    if a.kind == "sir":
        r.sir_figure(Path(a.metrics), Path(a.output))
        return
    examples = {k: Path(v) for k, v in (item.split("=", 1) for item in a.example)}
    draw = r.spectrogram_figure if a.kind == "spectrograms" else r.image_figure
    draw(examples, Path(a.output), a.title)


def cmd_s1_claims(a):
    from ..experiments.sar_rfi_report import write_claims

    write_claims(Path(a.metrics), Path(a.outdir), a.run_facts, a.scale, a.c4_margin_db, common.stats(a),
                 calibration=Path(a.notch_calibration) if a.notch_calibration else None,
                 training=Path(a.training) if a.training else None)


def cmd_s1_audit(a):
    from ..experiments.sar_rfi_audit import audit, format_audit

    result = audit((a.azimuth, a.range), a.n_fft, a.hop, a.scenes, a.snr_db, a.pfa)
    print(json.dumps(result, indent=1) if a.json else format_audit(result))


_load_complex = common.load_complex
_save_complex = common.save_npy


def cmd_sar_simulate(a):
    from ..physics.sar import get_sensor, simulate_echoes

    _save_complex(a.output, simulate_echoes(_load_complex(a.scene, "scene"), get_sensor(a.sensor)))


def cmd_sar_focus(a):
    from ..physics.sar import focus, get_sensor

    _save_complex(a.output, focus(_load_complex(a.input, "echoes"), get_sensor(a.sensor)))


def cmd_suppress_rfi(a):
    import numpy as np

    from .. import registry
    from ..dsp import STFTConfig
    from ..devices import resolve_device
    from ..methods.train_rfi import load_trained

    from ..methods.rfi_suppression import check_features

    echoes = _load_complex(a.input, "echoes")
    method = registry.get("S1", "rfi", a.method)
    features = None
    if method.trained:
        if not a.checkpoint:
            raise ValueError(f"--method {a.method} needs --checkpoint (e.g. results/s1/models/{a.method}/seed0.pt)")
        net, tcfg, features = load_trained(Path(a.checkpoint), with_features=True)
        if tcfg.model != a.method:
            raise ValueError(f"{a.checkpoint} holds a {tcfg.model} model, not {a.method}")
        if not features:
            raise ValueError(f"{a.checkpoint}: the weights do not record their STFT and normalisation (trained "
                             f"before they were stored); retrain them")
    # a trained network's STFT is the one it was trained with; --n-fft/--hop may only repeat it
    n_fft = a.n_fft if a.n_fft is not None else (features["n_fft"] if features else 64)
    hop = a.hop if a.hop is not None else (features["hop"] if features else 16)
    cfg = STFTConfig(int(n_fft), int(hop), two_sided=True)
    if features:
        check_features(features, cfg, str(a.checkpoint))
    device = resolve_device(a.device)
    cfar = common.cfar(a)
    detected = np.ones(len(echoes), dtype=bool)
    context = {"cfar": cfar, "device": device, "net": None}
    if a.calibration:
        from ..methods.notch import load_calibration, load_position_bins
        from ..methods.pulse_detector import load_detector

        context["cfar"] = load_calibration(a.calibration)
        context["position_bins"] = load_position_bins(a.calibration, cfg.n_fft)
        detector = load_detector(a.calibration)
        if detector is not None:          # Algorithm 1, step 1: only the detected pulses are processed
            detected = detector.detect(echoes)
    if method.trained:
        from ..methods.train_rfi import size_multiple

        context.update(net=net.to(device), multiple=size_multiple(tcfg))
    result = method.run(echoes, cfg, context)
    _save_complex(a.output, np.where(detected[:, None], result.echoes, echoes))
    masked = None if result.mask is None else float((result.mask & detected[:, None, None]).mean())
    print(json.dumps({"input": a.input, "output": a.output, "method": a.method, "masked_fraction": masked,
                      "pulses": int(detected.size), "pulses_processed": int(detected.sum())}))


def _add_s1_split(sub) -> None:
    """``restorebench s1-split``: S1: scenes, clean echoes and RFI of one split (npz)."""
    p = common.add_command(sub, "s1-split", "S1: scenes, clean echoes and RFI of one split (npz)", cmd_s1_split,
                           "Scene i gets RFI kind i mod (number of kinds) and an SIR drawn uniformly in "
                           "[--sir-min, --sir-max]. The STFT geometry is stored for the later steps.")
    p.add_argument("--split", required=True, choices=("train", "test-same", "test-cross"),
                   help="split name, stored in the file: train, test-same (Table 4) or test-cross (Table 5); "
                        "each split draws its own scenes")
    common.add_sensor_option(p, "sensor whose echoes are simulated")
    p.add_argument("--scenes", type=int, required=True, help="number of scenes")
    p.add_argument("--azimuth", type=int, required=True, help="scene size along azimuth, lines (pulses)")
    p.add_argument("--range", type=int, required=True, help="scene size along range, samples")
    p.add_argument("--n-fft", type=int, required=True,
                   help="STFT size of each pulse's spectrogram, range samples (two-sided: n-fft frequency bins)")
    p.add_argument("--hop", type=int, required=True, help="STFT hop, range samples")
    p.add_argument("--sir-min", type=float, default=-40.0,
                   help="lowest signal-to-interference ratio (echo over RFI power on the affected lines), dB "
                        "(default: %(default)s)")
    p.add_argument("--sir-max", type=float, default=-25.0,
                   help="highest signal-to-interference ratio, dB (default: %(default)s)")
    common.defer_help(p.add_argument("--kinds", default="narrowband,chirp,sinusoidal",
                                     help="RFI kinds, comma-separated, cycled over the scenes; any of %(rfi_kinds)s "
                                          "(restorebench.physics.rfi.RFI_KINDS) (default: %(default)s)"),
                      rfi_kinds=common.RFI_KINDS)
    p.add_argument("--snr-db", type=float, default=10.0,
                   help="thermal noise: echo power over in-band noise power of simulated echoes, dB; real images "
                        "carry their own (default: %(default)s)")
    p.add_argument("--rfi-band-share", type=float, default=1.0,
                   help="RFI emitters' carriers lie uniformly over this share of each receiver's band, centred "
                        "(1 = anywhere in the band; restorebench.physics.rfi) (default: %(default)s)")
    p.add_argument("--images-folder", help="tiles of real focused complex images (sarpy) instead of simulated scenes")
    p.add_argument("--pattern", action="append", help="glob under --images-folder, repeatable (default: **/*)")
    p.add_argument("--other-split-scenes", type=int, default=0,
                   help="with --images-folder: tiles the other split of the same folder takes (train and "
                        "test-same share one); the two never share a tile (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the scenes (or the tile draw) and of the RFI (default: %(default)s)")
    p.add_argument("--output", required=True, help="split file to write (.npz)")


def _add_s1_training_images(sub) -> None:
    """``restorebench s1-training-images``: S1: per-pulse training spectrograms and labels (npz)."""
    p = common.add_command(sub, "s1-training-images", "S1: per-pulse training spectrograms and labels (npz)",
                           cmd_s1_training_images,
                           "Features (normalised log-magnitude), DIFNet's Eq. 13 RFI labels and PISNet's clean "
                           "targets of affected pulses.")
    p.add_argument("--split-file", required=True, help="training split written by s1-split (.npz)")
    p.add_argument("--lines-per-scene", type=int, required=True,
                   help="RFI-affected pulses (azimuth lines) drawn from each scene")
    p.add_argument("--multiple", type=int, required=True,
                   help="crop each spectrogram to a multiple of this many pixels per side (DIFNet: window x "
                        "2^levels)")
    p.add_argument("--seed", type=int, default=0, help="seed of the pulse draw (default: %(default)s)")
    p.add_argument("--output", required=True, help="training images file to write (.npz)")


def _add_s1_train(sub) -> None:
    """``restorebench s1-train``."""
    from .. import registry

    trained_names = [m.name for m in registry.methods("S1", "rfi") if m.trained]
    param_help = [f"{m.name}: " + " ".join(f"{k}={v}" for k, v in m.params.items())
                  for m in registry.methods("S1", "rfi") if m.trained]

    p = common.add_command(sub, "s1-train", "S1: train a network (DIFNet, PISNet or a plugin's; per-epoch "
                           "checkpoints; a rerun resumes)",
                           cmd_s1_train)
    p.add_argument("--images", required=True, help="training images npz written by s1-training-images")
    p.add_argument("--model", required=True, choices=trained_names,
                   help=f"trained S1 method whose network to train (registry: {common.listed(trained_names)})")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of the method's network or loss, repeatable; the others keep the "
                        f"declaration's defaults: {common.listed(param_help)}")
    common.add_training_options(p)


def _add_s1_evaluate(sub) -> None:
    """``restorebench s1-evaluate``: S1: metrics of one method on one split (tidy TSV)."""
    from .. import registry

    methods = registry.names("S1", "rfi")
    trained = common.listed([m.name for m in registry.methods("S1", "rfi") if m.trained])
    checkpoint_help = f"trained methods ({trained}): weights written by s1-train (results/s1/models/<method>/seed<N>.pt)"

    p = common.add_command(sub, "s1-evaluate", "S1: metrics of one method on one split (tidy TSV)", cmd_s1_evaluate,
                           "PSNR, ME and scatterer energy kept of the focused image per scene; PA and IoU of the "
                           "RFI mask (affected pulses only) for methods that predict one.")
    p.add_argument("--split-file", required=True, help="test split written by s1-split (.npz)")
    p.add_argument("--method", required=True, choices=methods,
                   help="RFI suppression method: one of %(choices)s (restorebench.registry, S1)")
    p.add_argument("--checkpoint", help=checkpoint_help)
    p.add_argument("--output", required=True, help="tidy metrics TSV to write")
    p.add_argument("--examples", help="also write the first scene's example arrays (npz)")
    p.add_argument("--calibration",
                   help="JSON written by s1-calibrate-notch on the training split: its pulse detector picks the "
                        "pulses every method processes (the others pass untouched; Algorithm 1, step 1), and a "
                        "calibrated method (the tuned notch, the position mask) takes its tuned configuration in "
                        "place of the --cfar-* options (default: none, every pulse processed)")
    common.add_device_option(p)
    common.add_threads_option(p)
    common.add_cfar_options(p)


def _add_s1_calibrate_notch(sub) -> None:
    """``restorebench s1-calibrate-notch``: S1: tune the CFAR notch's P_fa on the training pulses (JSON)."""
    p = common.add_command(sub, "s1-calibrate-notch", "S1: tune the fixed rules on the training split (JSON): "
                           "the pulse detector, the CFAR notch's P_fa, the position mask's bins",
                           cmd_s1_calibrate_notch,
                           "Tunes the pulse detector every method shares on all training pulses (the threshold "
                           "with the best detection minus false-alarm rate); tries a grid of P_fa on the affected "
                           "training pulses s1-training-images draws (same seed), keeps the one with the highest "
                           "IoU against the Eq. 13 labels in the receiver band, and reports the measured "
                           "false-alarm rate on the same pulses without RFI; ranks the bins for the position mask. "
                           "Prints the detector and the chosen CFAR configuration as JSON.")
    p.add_argument("--split-file", required=True, help="training split written by s1-split (.npz)")
    p.add_argument("--lines-per-scene", type=int, required=True,
                   help="RFI-affected pulses drawn from each scene (as for s1-training-images)")
    p.add_argument("--seed", type=int, default=0, help="seed of the pulse draw (default: %(default)s)")
    p.add_argument("--output", required=True, help="calibration JSON to write")
    common.add_cfar_options(p)


def _add_s1_tables(sub) -> None:
    """``restorebench s1-tables``: S1: Tables 4 and 5 (md, csv, html)."""
    p = common.add_command(sub, "s1-tables", "S1: Tables 4 and 5 (md, csv, html)", cmd_s1_tables)
    p.add_argument("--metrics", required=True, help="collected S1 metrics.csv")
    p.add_argument("--outdir", required=True, help="folder table4/5 .md/.csv/.html are written into")
    p.add_argument("--cfar-calibration", help="the tuned notch's calibration JSON (s1-calibrate-notch): its P_fa "
                                              "and measured false-alarm rates go in the notes")
    common.add_run_facts_option(p)


def _add_s1_figure(sub) -> None:
    """``restorebench s1-figure``: S1: Figures 6-9 and the per-SIR figure."""
    p = common.add_command(sub, "s1-figure", "S1: Figures 6-9 and the per-SIR figure", cmd_s1_figure)
    p.add_argument("kind", choices=("spectrograms", "images", "sir"),
                   help="spectrograms: one affected pulse's |STFT| per method (Figures 6/8); images: focused "
                        "images per method (Figures 7/9); sir: PSNR and IoU per SIR bin (needs --metrics)")
    p.add_argument("--example", action="append", default=[],
                   help="spectrograms/images: METHOD=examples.npz written by s1-evaluate --examples, repeatable "
                        "(default: none)")
    p.add_argument("--metrics", help="sir: collected S1 metrics.csv")
    p.add_argument("--title", default="", help="spectrograms/images: figure title (default: %(default)r)")
    p.add_argument("--output", required=True, help="figure file; the format follows its suffix (e.g. .png)")


def _add_s1_claims(sub) -> None:
    """``restorebench s1-claims``."""
    p = common.add_command(sub, "s1-claims", "S1: claims C1-C5 from paired statistics: claims.md/.html, "
                                             "verdicts.csv, figures/claims_effects.png", cmd_s1_claims)
    p.add_argument("--metrics", required=True, help="collected S1 metrics.csv")
    p.add_argument("--outdir", required=True, help="study folder the pages are written into (results/s1)")
    p.add_argument("--c4-margin-db", type=float, default=1.0,
                   help='C4 "degrades far more": PISNet\'s PSNR drop exceeds DIFNet\'s by at least this many dB '
                        "(default: %(default)s)")
    p.add_argument("--notch-calibration", default=None,
                   help="the run's notch tuning file (s1-calibrate-notch's JSON): the pages state on which sensor "
                        "and pulses the notch was tuned (default: not stated)")
    common.add_stats_options(p)


def _add_s1_audit(sub) -> None:
    """``restorebench s1-audit``: S1: can the simulation show the claims' effects? (printed figures)."""
    p = common.add_command(sub, "s1-audit", "S1: can the simulation show the claims' effects? (printed figures)",
                           cmd_s1_audit,
                           "Simulates scenes of both sensors with every RFI kind (no network) and prints: the clean "
                           "echoes' time-frequency statistics per sensor, the RFI's pulse-to-pulse correlation, the "
                           "notch's measured false-alarm rate, the share of scatterer-dominated cells and how many "
                           "a notch masks, an all-zero predictor's PA, the ME of zeroing every affected pulse, the "
                           "oracles' PSNR and the geometry (restorebench.experiments.sar_rfi_audit).")
    p.add_argument("--azimuth", type=int, default=128, help="scene lines (default: %(default)s, quick scale)")
    p.add_argument("--range", type=int, default=1024, help="scene range samples (default: %(default)s)")
    p.add_argument("--n-fft", type=int, default=32, help="STFT window, range samples (default: %(default)s)")
    p.add_argument("--hop", type=int, default=8, help="STFT hop, range samples (default: %(default)s)")
    p.add_argument("--scenes", type=int, default=3, help="scenes per sensor and RFI kind (default: %(default)s)")
    p.add_argument("--snr-db", type=float, default=10.0, help="thermal noise, dB (default: %(default)s)")
    p.add_argument("--pfa", type=float, default=1e-3, help="the notch's nominal P_fa (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _add_sar_simulate(sub) -> None:
    """``restorebench sar-simulate``: raw echoes of a complex scene (.npy in, .npy out)."""
    p = common.add_command(sub, "sar-simulate", "raw echoes of a complex scene (.npy in, .npy out)",
                           cmd_sar_simulate,
                           "The exact inverse of sar-focus: the scene is band-limited to the sensor first.")
    common.add_sensor_option(p, "sensor whose echoes are simulated")
    p.add_argument("--scene", required=True,
                   help="complex reflectivity scene, .npy of a 2-D complex array (azimuth lines x range samples)")
    p.add_argument("--output", required=True, help="raw echoes to write (.npy, same shape)")
    common.declare_user_tool("sar-simulate", {"--scene": "scene"}, ("--output",), example=("--sensor", "sentinel1-like"))


def _add_sar_focus(sub) -> None:
    """``restorebench sar-focus``: range-Doppler focusing of raw echoes (.npy in, .npy out)."""
    p = common.add_command(sub, "sar-focus", "range-Doppler focusing of raw echoes (.npy in, .npy out)",
                           cmd_sar_focus)
    common.add_sensor_option(p, "sensor that recorded the echoes")
    p.add_argument("--input", required=True,
                   help="raw echoes, .npy of a 2-D complex array (azimuth lines x range samples)")
    p.add_argument("--output", required=True, help="focused complex image to write (.npy, same shape)")
    common.declare_user_tool("sar-focus", {"--input": "echoes"}, ("--output",), example=("--sensor", "sentinel1-like"))


def _add_suppress_rfi(sub) -> None:
    """``restorebench suppress-rfi``: remove RFI from raw echoes (.npy in, .npy out)."""
    from .. import registry

    trained = common.listed([m.name for m in registry.methods("S1", "rfi") if m.trained])
    checkpoint_help = f"trained methods ({trained}): weights written by s1-train (results/s1/models/<method>/seed<N>.pt)"

    p = common.add_command(sub, "suppress-rfi", "remove RFI from raw echoes (.npy in, .npy out)", cmd_suppress_rfi,
                           "Prints the method, the fraction of time-frequency pixels masked and the pulses processed "
                           "(with --calibration, those its pulse detector flags) as JSON.")
    # oracles need the clean echoes and the RFI, which a user's recording does not come with
    usable = [m.name for m in registry.methods("S1", "rfi") if m.name != "interfered" and m.paper != "oracle"]
    p.add_argument("--method", required=True, choices=usable,
                   help="RFI suppression method: one of %(choices)s (restorebench.registry, S1)")
    p.add_argument("--checkpoint", help=checkpoint_help)
    p.add_argument("--input", required=True,
                   help="raw echoes, .npy of a 2-D complex array (azimuth lines x range samples)")
    p.add_argument("--output", required=True, help="cleaned raw echoes to write (.npy, same shape)")
    p.add_argument("--n-fft", type=int, default=None,
                   help="STFT size per pulse, range samples (default: a trained method's own, recorded in its "
                        "weights -- another value is an error; the notch: 64, the quick scale's)")
    p.add_argument("--hop", type=int, default=None,
                   help="STFT hop, range samples (default: the trained method's own; the notch: 16)")
    p.add_argument("--calibration", "--cfar-calibration", dest="calibration",
                   help="JSON written by s1-calibrate-notch (results/s1/models/calibration/seed0.json): its pulse "
                        "detector picks the pulses to process (the others pass untouched, as in the workflow), "
                        "its CFAR configuration replaces the --cfar-* options and its bins feed the position "
                        "mask (default: none, every pulse processed)")
    common.add_device_option(p, "trained methods")
    common.add_cfar_options(p)
    common.declare_user_tool("suppress-rfi", {"--input": "echoes", "--checkpoint": "weights:S1"}, ("--output",),
                             example=("--method", "difnet"))


def register(sub) -> None:
    """Add this module's subcommands to ``sub``, in the order ``restorebench --help`` lists them."""
    _add_s1_split(sub)
    _add_s1_training_images(sub)
    _add_s1_train(sub)
    _add_s1_evaluate(sub)
    _add_s1_calibrate_notch(sub)
    _add_s1_tables(sub)
    _add_s1_figure(sub)
    _add_s1_claims(sub)
    _add_s1_audit(sub)
    _add_sar_simulate(sub)
    _add_sar_focus(sub)
    _add_suppress_rfi(sub)
