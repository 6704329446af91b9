"""S3, MERLIN multitask: one job each for the scene, a training, an evaluation and the despeckling comparison.

Protocol (paper Sec. 3.1, with the choices it leaves open written here):

* One simulated urban scene (data/urban.py), split along azimuth into non-overlapping training, validation
  and test areas. Training patches are cut in the training area with a stride (paper: 512 px, stride 128).
* Labelled subsets are nested: the patches are shuffled once per seed and the first ceil-rounded
  ``pct`` % (at least one) are labelled, so the 1 % subset of seed s is inside its 10 % subset.
* MERLIN-multitask (and every model with the D head) trains on all training patches; the labelled ones are
  repeated so that they make up ``labelled_share`` of each epoch (config ``s3.labelled_share``, 0.5: half
  of what the heads see is labelled, as DenoiSeg does; 0 = each patch once per epoch, the paper's). Without
  this, at 1 % labels of a small training set the heads would see one labelled patch per epoch.
* The baselines (U-Net, IM2HEIGHT) and the ablations without D see the labelled patches only, repeated to
  the same epoch length, so that every model takes the same number of optimiser steps and sees labelled
  patches at least as often as the multitask model (the paper trains each for the same 100 epochs, which
  at 1 % labels gives the baselines 100x fewer steps; ours is the comparison fairer to the baselines).
* Evaluation on the whole test area, tiled with overlap; segmentation thresholded at probability 0.5; each
  (model, labelled fraction, seed) gives one row per metric, its item being the seed: claims are paired by
  seed and labelled subset.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import registry
from ..methods.configs import DESPECKLER_LABELS, DESPECKLERS, RELEASED, S3Sizes  # noqa: F401 (re-exported)
from ..files import atomic_output, load_npz, save_npz
from ..data.urban import DATASET_NAME, UrbanSceneConfig, area_patches, load_scene, save_scene, simulate
from ..metrics.despeckling import enl, psnr_db, ssim
from ..metrics.regression import REGRESSION_METRICS
from ..metrics.segmentation import f1, iou, pixel_accuracy
from ..physics.speckle import constants_from_data, speckle_slc
from ..tidy import REPLICATE, write_rows

STUDY = "S3"
FLAT_SIZE = 128           # side of the flat (constant-reflectivity) patch on which ENL is measured
EXAMPLE_SIZE = 128        # side of the test-area crop kept for the Figure 2-like panel
TASK_NAMES = {"S": "segmentation", "R": "regression", "D": "despeckling"}


def make_scene(cfg: UrbanSceneConfig, output: Path) -> None:
    """The simulated scene file, plus a flat patch (reflectivity 1) with its own speckle for ENL.

    With spectrally correlated speckle (``cfg.correlation > 0``) both SLCs go through the whitening step
    (physics.speckle.decorrelate) that real sensors' data needs before MERLIN, as ``s3-scene-from-files``
    does for real data: MERLIN's loss assumes independent pixels.
    """
    from ..physics.speckle import decorrelate

    scene = simulate(cfg)
    rng = np.random.default_rng([cfg.seed, 4])
    scene["flat_slc"] = speckle_slc(np.ones((FLAT_SIZE, FLAT_SIZE)), rng, cfg.correlation)
    if cfg.correlation > 0:
        scene["slc"], scene["flat_slc"] = decorrelate(scene["slc"]), decorrelate(scene["flat_slc"])
    save_scene(scene, cfg, output)


def scene_from_files(slc_path: Path, mask_path: Path, height_path: Path, output: Path,
                     fractions: tuple[float, float, float] = (0.6, 0.1, 0.3), guard: int = 64,
                     whiten: bool = True) -> None:
    """A scene file from your own data: a complex SLC (.npy, or a SICD/NITF or other product sarpy reads) and
    building mask and height rasters (.npy) in the SLC's geometry. The scene is split along azimuth (rows)
    into training / validation / test areas by ``fractions`` with ``guard`` rows between them. With
    ``whiten`` the SLC's spectrum is decorrelated first (physics.speckle.decorrelate), as MERLIN requires of
    real sensors' data. No true reflectivity exists, so the despeckling table is not computed on real data.
    """
    from ..data.urban import check_slc
    from ..physics.speckle import decorrelate

    if str(slc_path).endswith(".npy"):
        slc = np.load(slc_path)
    else:
        from ..data.sar_real import read_complex_image
        slc = read_complex_image(slc_path)
    check_slc(slc, str(slc_path))
    labels = {}
    for key, path in (("mask", mask_path), ("height", height_path)):
        array = np.load(path)
        if array.shape != slc.shape:
            raise ValueError(f"{path}: label {key!r} has shape {array.shape}, but the SLC {slc_path} has {slc.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{path}: label {key!r} holds NaN or Inf values")
        labels[key] = array
    rows = slc.shape[0]
    usable = rows - 2 * guard
    sizes = [int(round(f * usable)) for f in fractions]
    sizes[-1] = usable - sizes[0] - sizes[1]
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size + guard
    scene = {"slc": decorrelate(slc) if whiten else slc.astype(np.complex64),
             "mask": (labels["mask"] > 0).astype(np.uint8), "height": labels["height"].astype(np.float32),
             "areas": np.array(bounds, dtype=np.int64)}
    with atomic_output(Path(output), suffix=".npz") as tmp:
        np.savez_compressed(tmp, dataset=np.array(Path(slc_path).stem), **scene)


def labelled_subset(n: int, pct: float, seed: int) -> np.ndarray:
    """Boolean mask of the labelled patches: the first max(1, round(pct/100 n)) of a seeded permutation."""
    if not 0 <= pct <= 100:
        raise ValueError(f"labelled percentage must be in [0, 100], got {pct}")
    labelled = np.zeros(n, bool)
    if pct > 0:
        labelled[np.random.default_rng([seed, 17]).permutation(n)[:max(1, int(round(pct / 100 * n)))]] = True
    return labelled


def model_params(model: str, overrides: dict | None = None) -> dict:
    """A registered S3 model's parameters: its declaration's, then ``overrides`` (``s3.params.<model>``,
    ``s3-train --param``). Only an architecture declared with ``build`` has parameters to override; its
    ``tasks`` and the built-ins' architecture and heads are what the model is."""
    declared = registry.get(STUDY, "model", model)
    overrides = overrides or {}
    free = {k: v for k, v in declared.params.items() if k != "tasks"} if declared.build else {}
    unknown = sorted(set(overrides) - set(free))
    if unknown:
        raise ValueError(f"S3 model {model} has no parameter {', '.join(unknown)}; its parameters: "
                         f"{', '.join(f'{k} (default {v})' for k, v in free.items()) or 'none'}")
    return {**declared.params, **overrides}


def net_config(model: str, sizes: S3Sizes, params: dict | None = None, **fields):
    """The S3NetConfig of a registered model at a scale's sizes (``params``: see :func:`model_params`)."""
    from ..methods.merlin import S3NetConfig

    declared = registry.get(STUDY, "model", model)
    params = model_params(model, params)
    augment = "dihedral" if params["tasks"] == "D" else "azimuth-flip"
    if declared.build:         # its own architecture: the scale's backbone sizes do not apply
        return S3NetConfig(architecture=model, tasks=params["tasks"], augment=augment, params=params, **fields)
    return S3NetConfig(architecture=params["architecture"], tasks=params["tasks"], augment=augment,
                       **sizes.network, **fields)


def train_job(scene_path: Path, model: str, pct: float, seed: int, sizes: S3Sizes, optim, output: Path,
              checkpoint_dir: Path, device, labelled_share: float = 0.5, progress: bool = True,
              params: dict | None = None) -> None:
    from ..methods.merlin import positive_weight, train, training_arrays

    scene = load_scene(scene_path)
    patches = area_patches(scene, "train", sizes.patch, sizes.stride)
    constants = constants_from_data(patches["slc"])
    labelled = labelled_subset(len(patches["slc"]), pct, seed)
    pos_weight = positive_weight(patches["mask"][labelled]) if labelled.any() else 1.0
    cfg = net_config(model, sizes, params, M=constants.M, m=constants.m, pos_weight=pos_weight)
    if "D" not in cfg.tasks and not labelled.any():
        raise ValueError(f"{model} trains on labelled patches only; a labelled percentage of {pct} leaves none")
    arrays = training_arrays(patches, labelled, cfg.tasks, labelled_share)
    # the validation area's patches, labelled at the same fraction by the same rule: the plateau check
    # watches the model's own Eq. 7 loss there (methods/training.py), it never selects a model
    validation = None
    first, last = (int(v) for v in scene["areas"][1])           # the "val" area (data/urban.AREAS)
    if last - first >= sizes.patch:                              # tiny's is thinner than a patch: no curve
        held = area_patches(scene, "val", sizes.patch, sizes.stride)
        held_labelled = labelled_subset(len(held["slc"]), pct, seed)
        if "D" in cfg.tasks or held_labelled.any():
            validation = training_arrays(held, held_labelled, cfg.tasks, 0.0, equal_steps=False)
    train(cfg, optim, arrays, output, checkpoint_dir, device, progress=f"{model} {pct:g}% seed {seed}" if progress else False,
          validation=validation)


#: the floor's method name in the rows (methods/threshold_segmenter.py), and the unprocessed input's (no
#: building, zero height), which the floor's job scores too
FLOOR, INPUT = "threshold", "input"


def floor_job(scene_path: Path, pct: float, seed: int, patch: int, stride: int, output: Path) -> None:
    """Tidy rows of S3's floor at one labelled fraction and seed: the threshold segmenter and the
    constant-height regressor tuned on the same labelled patches a network of that seed trains on
    (:func:`labelled_subset`), scored on the test area like a trained model (one row per metric); and the
    unprocessed input's (method "input": no building, zero height) on the same area."""
    from ..methods import threshold_segmenter

    scene = load_scene(scene_path)
    patches = area_patches(scene, "train", patch, stride)
    labelled = labelled_subset(len(patches["slc"]), pct, seed)
    start = time.perf_counter()
    floor = threshold_segmenter.tune(patches["slc"][labelled], patches["mask"][labelled],
                                     patches["height"][labelled])
    rows_, cols = _test_area(scene)
    out = threshold_segmenter.predict(floor, scene["slc"][rows_, cols])
    seconds = time.perf_counter() - start
    label = scene["mask"][rows_, cols]
    scores = [("segmentation", "iou", iou(out["mask"], label)), ("segmentation", "f1", f1(out["mask"], label)),
              ("segmentation", "accuracy", pixel_accuracy(out["mask"], label))]
    scores += [("regression", name, fn(scene["height"][rows_, cols], out["height"]))
               for name, fn in REGRESSION_METRICS.items()]
    # the unprocessed input's scores: no building anywhere, zero height (what a network must at least beat)
    nothing = np.zeros_like(label, dtype=bool)
    unprocessed = [("segmentation", "iou", iou(nothing, label)), ("segmentation", "f1", f1(nothing, label)),
                   ("segmentation", "accuracy", pixel_accuracy(nothing, label))]
    unprocessed += [("regression", name, fn(scene["height"][rows_, cols], np.zeros(label.shape, np.float32)))
                    for name, fn in REGRESSION_METRICS.items()]
    base = {"study": STUDY, "experiment": "labels", "dataset": str(scene.get("dataset", DATASET_NAME)),
            "domain": "test-area", "method": FLOOR, "condition": f"{pct:g}%", "item": "test-area",
            "seed": seed, REPLICATE: seed, "training_seed": seed, "wall_seconds": round(seconds, 3), "device": "cpu",
            "labelled_pct": pct, "labelled_patches": int(labelled.sum()), "floor_box": floor.box,
            "floor_brighter": floor.brighter, "floor_height_m": floor.height}
    write_rows([{**base, "task": task, "metric": metric, "value": value} for task, metric, value in scores]
               + [{**base, "method": INPUT, "task": task, "metric": metric, "value": value}
                  for task, metric, value in unprocessed], output)


def _test_area(scene: dict) -> tuple[slice, slice]:
    r0, r1 = (int(v) for v in scene["areas"][2])
    return slice(r0, r1), slice(0, scene["slc"].shape[1])


def _example_window(scene: dict) -> tuple[slice, slice]:
    """A fixed crop of the test area for the Figure 2-like panel: the one holding the most building pixels."""
    rows, cols = _test_area(scene)
    mask = scene["mask"][rows, cols]
    size = min(EXAMPLE_SIZE, mask.shape[0], mask.shape[1])
    best, where = -1, (0, 0)
    for r in range(0, mask.shape[0] - size + 1, size // 4):
        for c in range(0, mask.shape[1] - size + 1, size // 4):
            count = int(mask[r:r + size, c:c + size].sum())
            if count > best:
                best, where = count, (r, c)
    return slice(rows.start + where[0], rows.start + where[0] + size), slice(where[1], where[1] + size)


def evaluate_job(scene_path: Path, checkpoint: Path, model: str, pct: float, seed: int, tile: int, output: Path,
                 examples: Path | None, device) -> None:
    """Tidy rows of one trained model on the test area (+ a crop of its outputs for the example figure)."""
    from ..devices import resolve_device
    from ..methods.merlin import load_trained, predict

    scene = load_scene(scene_path)
    net, cfg = load_trained(checkpoint)
    dev = resolve_device(device)
    rows_, cols = _test_area(scene)
    start = time.perf_counter()
    out = predict(net, cfg, scene["slc"][rows_, cols], tile=tile, overlap=tile // 8, device=dev)
    seconds = time.perf_counter() - start
    scores: list[tuple[str, str, float]] = []
    if "probability" in out:
        predicted, label = out["probability"] >= 0.5, scene["mask"][rows_, cols]
        scores += [("segmentation", "iou", iou(predicted, label)), ("segmentation", "f1", f1(predicted, label)),
                   ("segmentation", "accuracy", pixel_accuracy(predicted, label))]
    if "height" in out:
        scores += [("regression", name, fn(scene["height"][rows_, cols], out["height"]))
                   for name, fn in REGRESSION_METRICS.items()]
    if "reflectivity" in out and "reflectivity" in scene:
        truth = scene["reflectivity"][rows_, cols]
        flat = predict(net, cfg, scene["flat_slc"], tile=tile, overlap=tile // 8, device=dev)["reflectivity"]
        scores += [("despeckling", "psnr", psnr_db(truth, out["reflectivity"])),
                   ("despeckling", "ssim", ssim(truth, out["reflectivity"])),
                   ("despeckling", "enl", enl(flat[8:-8, 8:-8]))]
    base = {"study": STUDY, "experiment": "labels", "dataset": str(scene.get("dataset", DATASET_NAME)),
            "domain": "test-area", "method": model, "condition": f"{pct:g}%", "item": "test-area",
            "seed": seed, REPLICATE: seed, "training_seed": seed, "wall_seconds": round(seconds, 3), "device": str(dev), "labelled_pct": pct}
    write_rows([{**base, "task": task, "metric": metric, "value": value} for task, metric, value in scores], output)
    if examples is not None:
        window = _example_window(scene)
        offset = (window[0].start - rows_.start, window[1])
        crops = {k: v[offset[0]:offset[0] + (window[0].stop - window[0].start), offset[1]].astype(np.float32)
                 for k, v in out.items()}
        save_npz(examples, **crops)


# ------------------------------------------------------------------------------------ despeckling table

#: scale factors tried when calibrating a released model to the simulated data (amplitude, x 10^k)
CALIBRATION_SCALES = tuple(10.0 ** (k / 4) for k in range(-4, 17))


def released_weights(name: str) -> Path:
    """Path of one of the authors' weight files inside the installed ``deepdespeckling`` wheel (not imported:
    its modules need GDAL)."""
    import importlib.util

    spec = importlib.util.find_spec("deepdespeckling")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the authors' MERLIN weights come with the PyPI wheel deepdespeckling 0.8: "
                                "pip install --no-deps deepdespeckling==0.8 (make setup does)")
    path = Path(list(spec.submodule_search_locations)[0]) / RELEASED[name][0]
    if not path.exists():
        raise FileNotFoundError(f"{path}: not in the installed deepdespeckling wheel (version 0.8 ships it)")
    return path


def released_model(name: str):
    """The authors' released MERLIN as a suite model (backbone + D head, their constants)."""
    import torch

    from ..methods.merlin import S3NetConfig, build_model
    from ..models.merlin import load_released
    from ..physics import speckle

    constants = getattr(speckle, RELEASED[name][1])
    cfg = S3NetConfig(tasks="D", M=constants.M, m=constants.m)
    model = build_model(cfg)
    load_released(model, torch.load(released_weights(name), map_location="cpu", weights_only=True))
    return model.eval(), cfg


def nlmeans_log(slc: np.ndarray) -> np.ndarray:
    """Homomorphic NL-means: scikit-image's ``denoise_nl_means`` on log |z|^2, debiased by Euler's gamma.

    For one-look speckle log |z|^2 = log R + log s with s ~ Exp(1): E[log s] = -gamma, std pi/sqrt(6).
    """
    from skimage.restoration import denoise_nl_means

    log_i = np.log(np.abs(slc).astype(np.float64) ** 2 + 1e-12)
    sigma = np.pi / np.sqrt(6)
    smooth = denoise_nl_means(log_i, patch_size=5, patch_distance=6, h=0.8 * sigma, sigma=sigma, fast_mode=True)
    return np.exp(smooth + np.euler_gamma)


def _released_scale(model, cfg, scene: dict, tile: int) -> float:
    """The amplitude factor that puts the simulated SLC where the released model works best.

    The released models expect TerraSAR-X (or Sentinel-1) digital numbers; the simulation's reflectivity is
    ~1 on open ground. We try factors 10^(k/4), k = -4..16, on a 128 x 128 crop of the *training* area
    (true reflectivity known there) and keep the one with the best PSNR: a calibration that favours the
    released models, never fitted on the test area.
    """
    from ..methods.merlin import predict

    r0 = int(scene["areas"][0][0])
    crop = (slice(r0, r0 + 128), slice(scene["slc"].shape[1] - 128, scene["slc"].shape[1]))
    slc, truth = scene["slc"][crop], scene["reflectivity"][crop]
    scores = [psnr_db(truth, predict(model, cfg, slc * k, tile=tile, overlap=tile // 8)["reflectivity"] / k ** 2)
              for k in CALIBRATION_SCALES]
    return float(CALIBRATION_SCALES[int(np.argmax(scores))])


def despeckle_job(scene_path: Path, method: str, output: Path, example: Path, tile: int,
                  checkpoint: Path | None = None, device: str = "cpu") -> None:
    """PSNR / SSIM against the true reflectivity on the test area and ENL on the flat patch, one despeckler."""
    from ..devices import resolve_device
    from ..methods.merlin import load_trained, predict

    if method not in DESPECKLERS:
        raise ValueError(f"unknown despeckler {method!r}; choose one of {', '.join(DESPECKLERS)}")
    scene = load_scene(scene_path)
    rows_, cols = _test_area(scene)
    slc, flat_slc = scene["slc"][rows_, cols], scene["flat_slc"]
    dev = resolve_device(device)
    extra = {}
    start = time.perf_counter()
    if method == "noisy":
        def run(z):
            return np.abs(z).astype(np.float64) ** 2
    elif method == "nlmeans":
        run = nlmeans_log
    else:
        if method in RELEASED:
            model, cfg = released_model(method)
            scale = _released_scale(model, cfg, scene, tile)
            extra["amplitude_scale"] = scale
        else:
            if checkpoint is None:
                raise ValueError(f"despeckler {method!r} needs --checkpoint (its trained weights)")
            model, cfg = load_trained(checkpoint)
            scale = 1.0

        def run(z):
            return predict(model, cfg, z * scale, tile=tile, overlap=tile // 8, device=dev)["reflectivity"] / scale ** 2
    estimate = run(slc)
    flat = run(flat_slc)
    seconds = time.perf_counter() - start
    truth = scene["reflectivity"][rows_, cols]
    base = {"study": STUDY, "experiment": "despeckling", "dataset": str(scene.get("dataset", DATASET_NAME)),
            "domain": "test-area", "method": method, "task": "despeckling", "condition": "", "item": "test-area",
            "seed": 0, "wall_seconds": round(seconds, 3), "device": str(dev), **extra}
    write_rows([{**base, "metric": "psnr", "value": psnr_db(truth, estimate)},
                {**base, "metric": "ssim", "value": ssim(truth, estimate)},
                {**base, "metric": "enl", "value": enl(flat[8:-8, 8:-8])}], output)
    window = _example_window(scene)
    save_npz(example, estimate=run(scene["slc"][window]).astype(np.float32))


def example_truth(scene_path: Path) -> dict[str, np.ndarray]:
    """SLC amplitude, true reflectivity, mask and height of the example crop."""
    scene = load_scene(scene_path)
    window = _example_window(scene)
    return {"amplitude": np.abs(scene["slc"][window]), "reflectivity": scene["reflectivity"][window],
            "mask": scene["mask"][window], "height": scene["height"][window]}


def load_examples(path: Path) -> dict[str, np.ndarray]:
    return load_npz(path)
