"""S3, MERLIN multitask: scene -> trainings (per model, labelled fraction, seed) -> evaluation -> Figure 3,
Table 2, the Figure 2-like panel, the despeckling table and claims M1-M3; plus the user tools despeckle and
map-buildings.

Images are 2-D arrays ``[azimuth line, range column]``; an SLC is complex (real and imaginary parts are the
two independent speckle realisations MERLIN learns from).
"""
from __future__ import annotations

from pathlib import Path

from . import common


def _sizes(a):
    from ..methods.configs import S3Sizes

    from ..methods.configs import SIZE_FIELDS

    return S3Sizes(patch=a.patch, stride=a.stride, tile=a.tile, network={f: getattr(a, f) for f in SIZE_FIELDS})


def cmd_s3_scene(a):
    from ..data.urban import UrbanSceneConfig
    from ..experiments.merlin_multitask import make_scene

    make_scene(UrbanSceneConfig(rows=a.rows, cols=a.cols, incidence_deg=a.incidence, correlation=a.correlation,
                                seed=a.seed), Path(a.output))


def cmd_s3_scene_from_files(a):
    from ..experiments.merlin_multitask import scene_from_files

    scene_from_files(Path(a.slc), Path(a.mask), Path(a.height), Path(a.output), guard=a.guard,
                     whiten=not a.no_whiten)


def cmd_s3_train(a):
    from ..experiments.merlin_multitask import train_job
    from ..devices import resolve_device

    common.threads(a.threads)
    train_job(Path(a.scene), a.model, a.labelled_pct, a.seed, _sizes(a), common.optim_config(a), Path(a.output),
              Path(a.checkpoint_dir), resolve_device(a.device), a.labelled_share,
              params=common.key_values(a.param, "--param"))


def cmd_s3_evaluate(a):
    from ..experiments.merlin_multitask import evaluate_job

    common.threads(a.threads)
    evaluate_job(Path(a.scene), Path(a.checkpoint), a.model, a.labelled_pct, a.seed, a.tile, Path(a.output),
                 Path(a.examples) if a.examples else None, a.device)


def cmd_s3_floor(a):
    from ..experiments.merlin_multitask import floor_job

    floor_job(Path(a.scene), a.labelled_pct, a.seed, a.patch, a.stride, Path(a.output))


def cmd_s3_despeckle_eval(a):
    from ..experiments.merlin_multitask import despeckle_job

    common.threads(a.threads)
    despeckle_job(Path(a.scene), a.method, Path(a.output), Path(a.example), a.tile,
                  Path(a.checkpoint) if a.checkpoint else None, a.device)


def cmd_s3_report(a):
    from ..experiments import merlin_multitask_report as r

    metrics, outdir = Path(a.metrics), Path(a.outdir)
    r.figure3(metrics, outdir / "figures" / "figure3.png", a.run_facts, tuple(a.models))
    r.figure3_table(metrics, outdir / "tables", a.run_facts, tuple(a.models))
    r.table2(metrics, outdir / "tables", a.run_facts, tuple(a.table2))
    r.despeckling_table(metrics, outdir / "tables", a.run_facts)


def cmd_s3_figure2(a):
    from ..experiments.merlin_multitask import example_truth
    from ..experiments.merlin_multitask_report import figure2

    examples = {k: Path(v) for k, v in (item.split("=", 1) for item in a.example)}
    figure2(example_truth(Path(a.scene)), examples, Path(a.output), a.title)


def cmd_s3_claims(a):
    from ..experiments.merlin_multitask_report import write_claims

    write_claims(Path(a.metrics), Path(a.outdir), a.run_facts, a.scale, common.stats(a),
                 training=Path(a.training) if a.training else None)


def _s3_model(checkpoint: str, slc, input_name: str):
    """The network of --checkpoint (a suite-trained S3 file or a released MERLIN model), checked against the
    SLC it is about to see: amplitudes outside its training range would saturate its output silently."""
    from ..experiments.merlin_multitask import RELEASED, released_model
    from ..methods.merlin import check_input_range, load_trained

    model, cfg = released_model(checkpoint) if checkpoint in RELEASED else load_trained(Path(checkpoint))
    check_input_range(slc, cfg, input_name)
    return model, cfg


def cmd_despeckle(a):
    from ..devices import resolve_device
    from ..methods.merlin import predict

    common.threads(a.threads)
    slc = common.load_complex(a.input, "SLC")
    model, cfg = _s3_model(a.checkpoint, slc, a.input)
    if "D" not in cfg.tasks:
        raise ValueError(f"{a.checkpoint}: this model has no despeckling head (tasks {cfg.tasks})")
    out = predict(model, cfg, slc, tile=a.tile, overlap=a.overlap, device=resolve_device(a.device))
    common.save_npy(a.output, out["reflectivity"].astype("float32"))


def cmd_map_buildings(a):
    from ..devices import resolve_device
    from ..methods.merlin import predict

    common.threads(a.threads)
    if not (a.output_mask or a.output_height):
        raise ValueError("give --output-mask and/or --output-height")
    slc = common.load_complex(a.input, "SLC")
    model, cfg = _s3_model(a.checkpoint, slc, a.input)
    for flag, head, what in ((a.output_mask, "S", "segmentation"), (a.output_height, "R", "regression")):
        if flag and head not in cfg.tasks:
            raise ValueError(f"{a.checkpoint}: this model has no {what} head (tasks {cfg.tasks})")
    out = predict(model, cfg, slc, tile=a.tile, overlap=a.overlap, device=resolve_device(a.device))
    arrays = {}
    if a.output_mask:
        arrays[a.output_mask] = (out["probability"] >= a.threshold).astype("uint8")
    if a.output_height:
        arrays[a.output_height] = out["height"].astype("float32")
    common.save_npy_together(arrays)          # both files or neither


def _add_tool_options(p) -> None:
    from ..methods.configs import RELEASED

    p.add_argument("--checkpoint", required=True,
                   help=f"weights written by s3-train (results/s3/models/...), or one of the authors' released "
                        f"MERLIN models: {', '.join(RELEASED)} (despeckle only)")
    p.add_argument("--input", required=True,
                   help="complex SLC: a 2-D complex .npy (azimuth x range) or a complex SAR product sarpy reads "
                        "(SICD/NITF, GFF)")
    p.add_argument("--tile", type=int, default=256, help="tile side, pixels (default: %(default)s, the authors')")
    p.add_argument("--overlap", type=int, default=32,
                   help="overlap of neighbouring tiles, blended with a cosine taper (default: %(default)s)")
    common.add_device_option(p)
    common.add_threads_option(p)


def _add_size_options(p) -> None:
    from dataclasses import fields

    from ..methods.configs import S3Sizes
    from ..methods.configs import SIZE_FIELDS, S3NetConfig

    d = S3Sizes()
    net_defaults = {f.name: f.default for f in fields(S3NetConfig)}
    p.add_argument("--patch", type=int, default=d.patch, help="training patch side, pixels (default: %(default)s, "
                                                                "the paper's)")
    p.add_argument("--stride", type=int, default=d.stride, help="stride between training patches (default: %(default)s)")
    for name, what in SIZE_FIELDS.items():
        default = net_defaults[name]
        p.add_argument(f"--{name.replace('_', '-')}", type=int, nargs=len(default) if isinstance(default, tuple) else None,
                       default=default, help=f"{what} (default: %(default)s)")
    p.add_argument("--tile", type=int, default=d.tile, help="inference tile side, pixels (default: %(default)s)")


def _add_s3_scene(sub) -> None:
    """``restorebench s3-scene``: S3: simulate the urban SAR scene (SLC, reflectivity, labels, areas)."""
    p = common.add_command(sub, "s3-scene", "S3: simulate the urban SAR scene (SLC, reflectivity, labels, areas)",
                           cmd_s3_scene, "Buildings on textured ground with streets, imaged in slant range: layover "
                           "toward near range, shadows, double-bounce lines; one-look speckle.")
    p.add_argument("--rows", type=int, required=True, help="azimuth lines of the scene")
    p.add_argument("--cols", type=int, required=True, help="range columns of the scene")
    p.add_argument("--incidence", type=float, default=35.0, help="incidence angle, degrees (default: %(default)s)")
    p.add_argument("--correlation", type=float, default=0.0,
                   help="speckle spectral taper in [0, 0.5): 0 = white, 0.46 = Hamming (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="scene seed (default: %(default)s)")
    p.add_argument("--output", required=True, help="scene file to write (.npz)")


def _add_s3_scene_from_files(sub) -> None:
    """``restorebench s3-scene-from-files``: S3: a scene file from your own SLC and label rasters."""
    p = common.add_command(sub, "s3-scene-from-files", "S3: a scene file from your own SLC and label rasters",
                           cmd_s3_scene_from_files, "The SLC is split along azimuth into training (60 %), "
                           "validation (10 %) and test (30 %) areas separated by --guard rows.")
    p.add_argument("--slc", required=True, help="complex SLC: 2-D complex .npy, or a product sarpy reads (SICD/NITF)")
    p.add_argument("--mask", required=True, help="building footprint raster in the SLC's geometry (.npy, 0/1)")
    p.add_argument("--height", required=True, help="building height raster in metres, same geometry (.npy)")
    p.add_argument("--guard", type=int, default=64, help="rows left out between areas (default: %(default)s)")
    p.add_argument("--no-whiten", action="store_true",
                   help="skip the spectrum whitening (decorrelation) MERLIN needs on real sensors' data")
    p.add_argument("--output", required=True, help="scene file to write (.npz)")


def _add_s3_train(sub) -> None:
    """``restorebench s3-train``: S3: train one model at one labelled fraction and seed (resumable)."""
    from .. import registry

    models = registry.names("S3", "model")

    p = common.add_command(sub, "s3-train", "S3: train one model at one labelled fraction and seed (resumable)",
                           cmd_s3_train)
    p.add_argument("--scene", required=True, help="scene file written by s3-scene")
    p.add_argument("--model", required=True, choices=models, help="registered S3 model")
    p.add_argument("--labelled-pct", type=float, required=True,
                   help="percentage of training patches with labels (nested subsets per seed)")
    p.add_argument("--labelled-share", type=float, default=0.5,
                   help="share of each epoch made of (repeated) labelled patches for models with the D head and "
                        "S/R heads; baselines get epochs of the same length; 0 = every patch once, the paper's "
                        "(default: %(default)s)")
    _add_size_options(p)
    declared = [f"{m.name}: " + " ".join(f"{k}={v}" for k, v in m.params.items() if k != "tasks")
                for m in registry.methods("S3", "model") if m.build]
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of a model that declares its own network (a plugin's), repeatable; the "
                        "others keep the declaration's defaults"
                        + (f": {common.listed(declared)}" if declared else " (none is registered)"))
    common.add_training_options(p, epochs=100, batch_size=12, optimizer="adam", lr=1e-3, weight_decay=0.0)


def _add_s3_evaluate(sub) -> None:
    """``restorebench s3-evaluate``: S3: score one trained model on the test area (tidy TSV)."""
    from .. import registry

    models = registry.names("S3", "model")

    p = common.add_command(sub, "s3-evaluate", "S3: score one trained model on the test area (tidy TSV)",
                           cmd_s3_evaluate)
    p.add_argument("--scene", required=True, help="scene file written by s3-scene")
    p.add_argument("--checkpoint", required=True, help="weights written by s3-train")
    p.add_argument("--model", required=True, choices=models, help="registered S3 model the weights are of")
    p.add_argument("--labelled-pct", type=float, required=True, help="labelled percentage it was trained with")
    p.add_argument("--seed", type=int, required=True, help="seed it was trained with")
    p.add_argument("--tile", type=int, default=256, help="inference tile side, pixels (default: %(default)s)")
    p.add_argument("--output", required=True, help="tidy rows to write (.tsv)")
    p.add_argument("--examples", help="crop of the outputs for the example figure (.npz) (default: none)")
    common.add_device_option(p)
    common.add_threads_option(p)


def _add_s3_floor(sub) -> None:
    """``restorebench s3-floor``: S3: the threshold segmenter and constant-height floor at one labelled
    fraction and seed (tidy TSV)."""
    p = common.add_command(sub, "s3-floor", "S3: the floor (threshold segmenter, constant height) tuned on the "
                                            "labelled patches of one fraction and seed, scored on the test area "
                                            "(tidy TSV)", cmd_s3_floor)
    p.add_argument("--scene", required=True, help="scene file written by s3-scene")
    p.add_argument("--labelled-pct", type=float, required=True, help="labelled percentage of the training patches")
    p.add_argument("--seed", type=int, required=True, help="seed that draws the labelled patches (as s3-train's)")
    p.add_argument("--patch", type=int, required=True, help="training patch side, pixels (as s3-train's)")
    p.add_argument("--stride", type=int, required=True, help="stride the patches are cut with (as s3-train's)")
    p.add_argument("--output", required=True, help="tidy rows to write (.tsv)")


def _add_s3_despeckle_eval(sub) -> None:
    """``restorebench s3-despeckle-eval``: S3: PSNR/SSIM/ENL of one despeckler on the scene (tidy TSV)."""
    from ..methods.configs import DESPECKLERS

    p = common.add_command(sub, "s3-despeckle-eval", "S3: PSNR/SSIM/ENL of one despeckler on the scene (tidy TSV)",
                           cmd_s3_despeckle_eval)
    p.add_argument("--scene", required=True, help="scene file written by s3-scene")
    p.add_argument("--method", required=True, choices=DESPECKLERS, help="despeckler")
    p.add_argument("--checkpoint", help="weights of merlin / multitask, written by s3-train (default: none)")
    p.add_argument("--tile", type=int, default=256, help="inference tile side, pixels (default: %(default)s)")
    p.add_argument("--output", required=True, help="tidy rows to write (.tsv)")
    p.add_argument("--example", required=True, help="its estimate on the example crop (.npz)")
    common.add_device_option(p)
    common.add_threads_option(p)


def _add_s3_report(sub) -> None:
    """``restorebench s3-report``: S3: Figure 3 (+ its numbers), Table 2 and the despeckling table."""
    p = common.add_command(sub, "s3-report", "S3: Figure 3 (+ its numbers), Table 2 and the despeckling table",
                           cmd_s3_report)
    p.add_argument("--metrics", required=True, help="collected S3 rows (results/s3/metrics.csv)")
    p.add_argument("--outdir", required=True, help="study folder: writes figures/figure3.png and tables/*")
    p.add_argument("--models", nargs="+", default=["multitask", "unet", "im2height"], metavar="MODEL",
                   help="Figure 3's models, in row order (config s3.models) (default: %(default)s)")
    p.add_argument("--table2", nargs="*", default=["mt-r", "mt-s", "mt-sr", "mt-sd", "mt-rd", "multitask"],
                   metavar="MODEL", help="Table 2's models, in row order (config s3.table2) (default: %(default)s)")
    common.add_run_facts_option(p)


def _add_s3_figure2(sub) -> None:
    """``restorebench s3-figure2``: S3: Figure 2-like panel of the example crop."""
    p = common.add_command(sub, "s3-figure2", "S3: Figure 2-like panel of the example crop", cmd_s3_figure2)
    p.add_argument("--scene", required=True, help="scene file written by s3-scene")
    p.add_argument("--example", action="append", required=True,
                   help="MODEL@PCT=examples.npz written by s3-evaluate, repeatable")
    p.add_argument("--title", default="test-area crop", help="figure title (default: %(default)s)")
    p.add_argument("--output", required=True, help="figure to write (.png)")


def _add_despeckle(sub) -> None:
    """``restorebench despeckle``: despeckle a complex SLC with a MERLIN model (reflectivity .npy)."""
    p = common.add_command(sub, "despeckle", "despeckle a complex SLC with a MERLIN model (reflectivity .npy)",
                           cmd_despeckle, "Tiled with overlap for images of any size; the estimate is the mean of "
                           "the estimates from the real and the imaginary part (MERLIN, Eq. 4). Zero-valued areas "
                           "are floored as MERLIN does (log(a^2 + 1e-3)). The image border is extended by "
                           "reflection so it is estimated like the interior. The radiometry is not calibrated: "
                           "the quick-scale MERLIN's mean estimate was 1.24x the truth on a constant scene and "
                           "0.97x on the simulated test scene (docs/tools.md); check on a homogeneous area before "
                           "calibrating on the mean.")
    _add_tool_options(p)
    p.add_argument("--output", required=True, help="reflectivity (intensity) to write (.npy, float32)")
    common.declare_user_tool("despeckle", {"--input": "slc", "--checkpoint": "weights:S3"}, ("--output",))


def _add_map_buildings(sub) -> None:
    """``restorebench map-buildings``: building mask and height from a complex SLC (MERLIN-multitask)."""
    p = common.add_command(sub, "map-buildings", "building mask and height from a complex SLC (MERLIN-multitask)",
                           cmd_map_buildings)
    _add_tool_options(p)
    p.add_argument("--output-mask", help="building mask to write (.npy, uint8) (default: none)")
    p.add_argument("--output-height", help="building height in metres to write (.npy, float32) (default: none)")
    p.add_argument("--threshold", type=float, default=0.5, help="probability above which a pixel is a building "
                                                                "(default: %(default)s)")
    common.declare_user_tool("map-buildings", {"--input": "slc", "--checkpoint": "weights:S3"},
                             ("--output-mask", "--output-height"))


def _add_s3_claims(sub) -> None:
    """``restorebench s3-claims``: S3: verdicts on claims M1-M3 (paired by seed)."""
    p = common.add_command(sub, "s3-claims", "S3: verdicts on claims M1-M3 (paired by seed)", cmd_s3_claims)
    p.add_argument("--metrics", required=True, help="collected S3 rows (results/s3/metrics.csv)")
    p.add_argument("--outdir", required=True, help="study folder: writes claims.md/.html, verdicts.csv, figures/")
    common.add_stats_options(p)


def register(sub) -> None:
    """Add this module's subcommands to ``sub``, in the order ``restorebench --help`` lists them."""
    _add_s3_scene(sub)
    _add_s3_scene_from_files(sub)
    _add_s3_train(sub)
    _add_s3_evaluate(sub)
    _add_s3_floor(sub)
    _add_s3_despeckle_eval(sub)
    _add_s3_report(sub)
    _add_s3_figure2(sub)
    _add_despeckle(sub)
    _add_map_buildings(sub)
    _add_s3_claims(sub)
