"""S3 (MERLIN multitask): speckle physics, the urban scene simulator, the networks against the authors' released
weights and code, losses, metrics, tiling, training, and bad input."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from restorebench.data.urban import (AREAS, Building, UrbanSceneConfig, area_patches, load_scene, render,
                                     save_scene, simulate)
from restorebench.losses.merlin_multitask import merlin_nll, weighted_bce
from restorebench.metrics.despeckling import enl, psnr_db
from restorebench.metrics.regression import log_rmse, rel, rel_log, rmse
from restorebench.metrics.segmentation import f1, iou, pixel_accuracy
from restorebench.models.merlin import IM2Height, MerlinMultitask, SkipFeatures, load_released, upsample_concat_conv
from restorebench.models.unet import count_parameters
from restorebench.physics.speckle import LogConstants, TERRASAR_X, decorrelate, log_normalise, speckle_slc

HAVE_WHEEL = importlib.util.find_spec("deepdespeckling") is not None


def _neighbour_correlation(z: np.ndarray) -> float:
    return float(abs(np.mean(z[:, 1:] * np.conj(z[:, :-1]))) / np.mean(np.abs(z) ** 2))


def test_speckle_is_one_look_with_independent_parts():
    rng = np.random.default_rng(0)
    reflectivity = np.full((256, 256), 3.0)
    z = speckle_slc(reflectivity, rng)
    ratio = np.abs(z) ** 2 / reflectivity
    assert ratio.mean() == pytest.approx(1.0, abs=0.02)
    assert enl(ratio) == pytest.approx(1.0, abs=0.05)                 # exponential intensity: ENL 1
    a, b = z.real.ravel(), z.imag.ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02
    assert abs(np.corrcoef(a ** 2, b ** 2)[0, 1]) < 0.02              # independent, not only uncorrelated
    assert np.var(a) == pytest.approx(1.5, rel=0.03)                  # each part ~ N(0, R/2)


def test_correlated_speckle_is_whitened_by_decorrelate():
    rng = np.random.default_rng(1)
    z = speckle_slc(np.ones((256, 256)), rng, correlation=0.46)
    assert np.mean(np.abs(z) ** 2) == pytest.approx(1.0, abs=0.03)
    assert _neighbour_correlation(z) > 0.3
    white = decorrelate(z)
    assert _neighbour_correlation(white) < 0.06
    assert np.mean(np.abs(white) ** 2) == pytest.approx(np.mean(np.abs(z) ** 2), rel=1e-3)


def test_layover_and_shadow_of_one_building_follow_the_geometry():
    cfg = UrbanSceneConfig(rows=32, cols=200, incidence_deg=30.0, texture_sigma=0.0, road_m=0.0, block_m=1e6,
                           double_bounce=0.0, oversample=8)
    h, x0, x1 = 20.0, 100.0, 130.0
    scene = render(cfg, [Building(8, 24, x0, x1, h)], textured=False)
    row = scene["reflectivity"][16]
    cot, tan = 1 / np.tan(np.radians(30)), np.tan(np.radians(30))
    # layover: the facade's energy lands on [x0 - h cot, x0): ground + wall + roof there, brighter than ground
    bright = np.flatnonzero(row > 1.5)
    assert bright.min() == pytest.approx(x0 - h * cot, abs=1.0)
    # the roof is imaged on [x0 - h cot, x1 - h cot); the ground under the footprint returns nothing and the
    # ground behind is in shadow up to where the ray grazing the roof edge meets it: x1 + h tan
    dark = np.flatnonzero(row < 2 * cfg.noise_floor)
    assert dark.min() == pytest.approx(max(x0, x1 - h * cot), abs=1.0)
    assert dark.max() + 1 - x1 == pytest.approx(h * tan, abs=1.0)       # shadow length in ground range
    assert np.all(row[int(x0 - h * cot) + 1:int(x1 - h * cot) - 1] > cfg.roof_reflectivity * 0.9)
    # labels stay at the footprint (ground level)
    assert np.flatnonzero(scene["mask"][16]).min() == pytest.approx(x0, abs=1)
    assert scene["height"][16, 110] == pytest.approx(h)


def test_scene_areas_never_overlap_and_buildings_stay_in_one_area():
    cfg = UrbanSceneConfig(rows=400, cols=160, seed=3)
    scene = simulate(cfg)
    bounds = [tuple(b) for b in scene["areas"]]
    for (a0, a1), (b0, b1) in zip(bounds, bounds[1:]):
        assert a1 <= b0
    for row0, row1, *_ in scene["buildings"]:
        inside = [a0 <= row0 and row1 <= a1 for a0, a1 in bounds]
        assert sum(inside) == 1
    rows = {area: {r for r, _ in area_patches(scene, area, 32, 16)["corners"]} for area in ("train", "test")}
    train_rows = {r + k for r in rows["train"] for k in range(32)}
    test_rows = {r + k for r in rows["test"] for k in range(32)}
    assert not train_rows & test_rows
    assert 0.05 < scene["mask"].mean() < 0.4
    assert np.all(scene["height"][scene["mask"] == 0] == 0)


# make test sets RESTOREBENCH_REQUIRE_RELEASED=1 (make setup installs the wheel): there a missing wheel fails
@pytest.mark.skipif(not HAVE_WHEEL and not os.environ.get("RESTOREBENCH_REQUIRE_RELEASED"),
                    reason="deepdespeckling wheel not installed (make setup)")
def test_released_merlin_loads_into_our_backbone_and_matches_the_authors_forward():
    from restorebench.experiments.merlin_multitask import released_weights

    state = torch.load(released_weights("released-stripmap"), map_location="cpu", weights_only=True)
    assert sum(v.numel() for v in state.values()) == 988_609
    ours = MerlinMultitask("D")
    assert count_parameters(ours) == 988_609
    load_released(ours, state)
    # the authors' inference Model (deepdespeckling/model.py imports only torch and numpy)
    spec = importlib.util.spec_from_file_location("dd_model", released_weights("released-stripmap").parents[2] / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    theirs = module.Model(torch.device("cpu"), 64, 64)
    theirs.load_state_dict(state)
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x)["D"], theirs(x), atol=1e-5)
    with pytest.raises(ValueError, match="do not match"):
        load_released(MerlinMultitask("D", head_widths=(32, 32)), state)


def test_upsample_concat_conv_equals_upsampling_then_convolving_in_value_and_gradient():
    torch.manual_seed(3)
    conv = torch.nn.Conv2d(5 + 2, 4, 3, padding=1)
    low = torch.randn(2, 5, 6, 8, requires_grad=True)
    skip = torch.randn(2, 2, 12, 16, requires_grad=True)
    features = SkipFeatures(low, skip)
    plain = conv(torch.cat((torch.nn.functional.interpolate(low, scale_factor=2.0, mode="nearest"), skip), 1))
    fast = upsample_concat_conv(conv, features)
    assert fast.shape == plain.shape == (2, 4, 12, 16)
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-5)
    torch.testing.assert_close(features.dense(), torch.cat((low.repeat_interleave(2, 2).repeat_interleave(2, 3), skip), 1))
    weights = torch.randn_like(plain)
    grads_plain = torch.autograd.grad((plain * weights).sum(), (low, skip, conv.weight, conv.bias))
    grads_fast = torch.autograd.grad((fast * weights).sum(), (low, skip, conv.weight, conv.bias))
    for a, b in zip(grads_fast, grads_plain):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4)


def test_parameter_counts_against_the_paper():
    assert 0.95e6 < count_parameters(MerlinMultitask("S")) < 1.05e6        # U-Net baseline "~1M"
    assert abs(count_parameters(IM2Height()) - 11.2e6) / 11.2e6 < 0.05       # IM2HEIGHT "~11.2M"


def test_merlin_loss_is_minimised_at_twice_the_squared_other_part():
    c = LogConstants(M=3.0, m=-3.0)
    b = torch.tensor([[0.5, -1.2], [2.0, 0.1]])
    best = 0.5 * torch.log(2 * b ** 2)                     # log amplitude of R = 2 b^2
    out = ((best - c.m) / (c.M - c.m)).requires_grad_(True)   # normalised output giving that R
    loss = merlin_nll(out[None], b[None], c)
    loss.backward()
    assert torch.allclose(out.grad, torch.zeros_like(out), atol=1e-6)
    r = 2 * b ** 2
    assert float(loss.detach()) == pytest.approx(float(torch.mean(0.5 * torch.log(r) + b ** 2 / r)), rel=1e-6)
    assert float(merlin_nll(out[None], b[None], c, batch_factor=True).detach()) == pytest.approx(float(loss.detach()))


def test_weighted_bce_on_a_hand_example():
    logits, mask = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    expected = (3 * np.log(2) + np.log(1 + np.exp(2.0))) / 2        # w = 3 on the positive pixel
    assert float(weighted_bce(logits, mask, 3.0)) == pytest.approx(expected, rel=1e-6)


def test_log_normalisation_matches_the_authors_formula():
    a = np.array([0.0, 1.0, 100.0])
    expected = (np.log(a ** 2 + 1e-3) - 2 * TERRASAR_X.m) / (2 * (TERRASAR_X.M - TERRASAR_X.m))
    assert np.allclose(log_normalise(a, TERRASAR_X), expected)
    assert np.isfinite(log_normalise(np.zeros(3), TERRASAR_X)).all()    # zero areas floored, not a crash


def test_segmentation_and_regression_metrics_on_hand_examples():
    p, t = np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])
    assert iou(p, t) == pytest.approx(1 / 3) and f1(p, t) == pytest.approx(0.5)
    assert pixel_accuracy(p, t) == pytest.approx(0.5)
    h, e = np.array([0.0, 9.0]), np.array([9.0, 9.0])
    assert rmse(h, e) == pytest.approx(np.sqrt(81 / 2))
    assert log_rmse(h, e) == pytest.approx(np.sqrt(0.5))            # |log10 1 - log10 10| = 1 on one of two
    assert rel(h, e) == pytest.approx(4.5)                           # (9 / 1 + 0) / 2
    assert rel_log(h, e) == pytest.approx(0.5)                       # (1 / (0 + 1) + 0) / 2
    assert rmse(h, np.array([-3.0, 9.0])) == pytest.approx(0.0)      # negative predictions clipped at 0


def test_tiled_inference_leaves_no_seams():
    from restorebench.methods.merlin import S3NetConfig, build_model, predict

    torch.manual_seed(0)
    cfg = S3NetConfig(tasks="SD", encoder_width=8, decoder_width=8, levels=3, head_widths=(8, 8), M=3.0, m=-4.0)
    model = build_model(cfg).eval()
    slc = speckle_slc(np.ones((200, 136)), np.random.default_rng(0))
    whole = predict(model, cfg, slc, tile=256, overlap=0)
    tiled = predict(model, cfg, slc, tile=64, overlap=16)
    assert whole["reflectivity"].shape == (200, 136)
    rel_err = np.abs(tiled["reflectivity"] - whole["reflectivity"]) / whole["reflectivity"]
    assert np.median(rel_err) < 0.02 and rel_err.max() < 0.3
    # no seam: the jump across a tile boundary is no larger than between neighbouring pixels elsewhere
    diff = np.abs(np.diff(np.log(tiled["reflectivity"]), axis=1))
    assert diff[:, 47].mean() < 2 * np.median(diff.mean(axis=0))


def test_merlin_trained_briefly_lowers_the_error_to_the_true_reflectivity(tmp_path):
    from restorebench.methods.merlin import S3NetConfig, predict, train, training_arrays
    from restorebench.methods.training import OptimConfig
    from restorebench.physics.speckle import constants_from_data

    torch.set_num_threads(2)
    scene = simulate(UrbanSceneConfig(rows=400, cols=128, seed=1))
    patches = area_patches(scene, "train", 32, 16)
    c = constants_from_data(patches["slc"])
    cfg = S3NetConfig(tasks="D", encoder_width=16, decoder_width=16, levels=3, head_widths=(16, 8), M=c.M, m=c.m,
                      augment="dihedral")
    arrays = training_arrays(patches, np.zeros(len(patches["slc"]), bool), "D")
    model = train(cfg, OptimConfig(epochs=15, batch_size=8, optimizer="adam", learning_rate=2e-3, grad_clip_norm=5.0),
                  arrays, tmp_path / "m.pt", tmp_path / "ck", progress=False)
    r0, r1 = scene["areas"][2]
    truth, slc = scene["reflectivity"][r0:r1], scene["slc"][r0:r1]
    noisy = psnr_db(truth, np.abs(slc) ** 2)
    restored = psnr_db(truth, predict(model, cfg, slc, tile=64, overlap=8)["reflectivity"])
    assert restored > noisy + 2.0, (noisy, restored)


def test_nested_labelled_subsets():
    from restorebench.experiments.merlin_multitask import labelled_subset

    small, large = labelled_subset(200, 1, seed=3), labelled_subset(200, 10, seed=3)
    assert small.sum() == 2 and large.sum() == 20 and np.all(large[small])
    assert labelled_subset(50, 1, seed=0).sum() == 1                  # at least one
    assert not np.array_equal(labelled_subset(200, 10, seed=4), large)


def test_bad_scene_files_name_the_problem(tmp_path):
    cfg = UrbanSceneConfig(rows=80, cols=64)
    scene = simulate(cfg)
    good = tmp_path / "scene.npz"
    save_scene(scene, cfg, good)
    assert load_scene(good)["slc"].dtype == np.complex64
    amplitude = dict(scene, slc=np.abs(scene["slc"]))
    save_scene(amplitude, cfg, tmp_path / "amp.npz")
    with pytest.raises(ValueError, match=r"amp\.npz.*not complex"):
        load_scene(tmp_path / "amp.npz")
    nan = dict(scene, slc=scene["slc"].copy())
    nan["slc"][3, 3] = np.nan
    save_scene(nan, cfg, tmp_path / "nan.npz")
    with pytest.raises(ValueError, match=r"nan\.npz.*NaN"):
        load_scene(tmp_path / "nan.npz")
    bad = dict(scene, mask=scene["mask"][:-1])
    save_scene(bad, cfg, tmp_path / "shape.npz")
    with pytest.raises(ValueError, match=r"shape\.npz.*'mask'.*\(79, 64\).*\(80, 64\)"):
        load_scene(tmp_path / "shape.npz")
    assert sorted(AREAS) == ["test", "train", "val"]


def test_epochs_give_labelled_patches_their_share_and_baselines_equal_steps():
    from restorebench.methods.merlin import epoch_length, training_arrays

    rng = np.random.default_rng(0)
    n = 40
    patches = {"slc": (rng.standard_normal((n, 8, 8)) + 1j * rng.standard_normal((n, 8, 8))).astype(np.complex64),
               "mask": np.zeros((n, 8, 8), np.uint8), "height": np.zeros((n, 8, 8), np.float32)}
    labelled = np.zeros(n, bool)
    labelled[[3, 7]] = True
    assert epoch_length(n, 2, 0.5) == 76 and epoch_length(n, 2, 0.0) == 40 and epoch_length(n, 0, 0.5) == 40
    assert epoch_length(n, 30, 0.5) == 40                                   # already more than half labelled
    multitask = training_arrays(patches, labelled, "SRD", 0.5)
    assert len(multitask[0]) == 76 and multitask[4].sum() == 38            # half of the epoch is labelled
    baseline = training_arrays(patches, labelled, "S", 0.5)
    assert len(baseline[0]) == 76 and baseline[4].all()                     # same steps, labelled only
    assert set(map(bytes, baseline[0])) == {bytes(patches["slc"].real[i].astype(np.float32)) for i in (3, 7)}
    merlin = training_arrays(patches, labelled, "D", 0.5)
    assert len(merlin[0]) == 40                                             # no heads to feed: each patch once
    with pytest.raises(ValueError, match="at least one labelled"):
        training_arrays(patches, np.zeros(n, bool), "S", 0.5)


def test_despeckle_and_map_buildings_tools_on_a_large_slc(tmp_path, capsys):
    from restorebench.cli import main
    from restorebench.methods.merlin import S3NetConfig, train, training_arrays
    from restorebench.methods.training import OptimConfig

    scene = simulate(UrbanSceneConfig(rows=160, cols=96, seed=2))
    patches = area_patches(scene, "train", 32, 32)
    labelled = np.ones(len(patches["slc"]), bool)
    cfg = S3NetConfig(tasks="SRD", encoder_width=4, decoder_width=4, levels=2, head_widths=(4, 4),
                      regression_width=4, M=3.0, m=-4.0)
    weights = tmp_path / "mt.pt"
    train(cfg, OptimConfig(epochs=1, batch_size=4), training_arrays(patches, labelled, "SRD"), weights,
          tmp_path / "ck", progress=False)
    slc = speckle_slc(np.ones((300, 200)), np.random.default_rng(0))
    slc[:10, :10] = 0                                                     # zero areas are floored, not fatal
    np.save(tmp_path / "slc.npy", slc)
    assert main(["despeckle", "--checkpoint", str(weights), "--input", str(tmp_path / "slc.npy"), "--output",
                 str(tmp_path / "r.npy"), "--tile", "64", "--overlap", "16"]) == 0
    reflectivity = np.load(tmp_path / "r.npy")
    assert reflectivity.shape == (300, 200) and np.isfinite(reflectivity).all() and (reflectivity > 0).all()
    assert main(["map-buildings", "--checkpoint", str(weights), "--input", str(tmp_path / "slc.npy"), "--output-mask",
                 str(tmp_path / "m.npy"), "--output-height", str(tmp_path / "h.npy"), "--tile", "64"]) == 0
    assert np.load(tmp_path / "m.npy").shape == (300, 200) and (np.load(tmp_path / "h.npy") >= 0).all()
    np.save(tmp_path / "amp.npy", np.abs(slc))
    capsys.readouterr()
    assert main(["despeckle", "--checkpoint", str(weights), "--input", str(tmp_path / "amp.npy"), "--output",
                 str(tmp_path / "x.npy")]) == 2
    assert "amp.npy" in capsys.readouterr().err and not (tmp_path / "x.npy").exists()
    bad = slc.copy()
    bad[5, 5] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    assert main(["despeckle", "--checkpoint", str(weights), "--input", str(tmp_path / "nan.npy"), "--output",
                 str(tmp_path / "x.npy")]) == 2
    assert "nan.npy" in capsys.readouterr().err
    seg_only = tmp_path / "s.pt"
    train(S3NetConfig(tasks="S", encoder_width=4, decoder_width=4, levels=2, head_widths=(4, 4), M=3.0, m=-4.0),
          OptimConfig(epochs=1, batch_size=4), training_arrays(patches, labelled, "S"), seg_only, tmp_path / "ck2",
          progress=False)
    assert main(["despeckle", "--checkpoint", str(seg_only), "--input", str(tmp_path / "slc.npy"), "--output",
                 str(tmp_path / "x.npy")]) == 2
    assert "no despeckling head" in capsys.readouterr().err


def test_scene_from_your_own_files_checks_label_shapes(tmp_path):
    from restorebench.experiments.merlin_multitask import scene_from_files

    rng = np.random.default_rng(0)
    np.save(tmp_path / "slc.npy", speckle_slc(np.ones((400, 64)), rng, correlation=0.46))
    np.save(tmp_path / "mask.npy", np.zeros((400, 64), np.uint8))
    np.save(tmp_path / "height.npy", np.zeros((400, 64), np.float32))
    scene_from_files(tmp_path / "slc.npy", tmp_path / "mask.npy", tmp_path / "height.npy", tmp_path / "s.npz", guard=16)
    scene = load_scene(tmp_path / "s.npz")
    assert _neighbour_correlation(scene["slc"]) < 0.06                     # whitened
    (a0, a1), (b0, b1), (c0, c1) = scene["areas"]
    assert a1 + 16 == b0 and b1 + 16 == c0 and c1 == 400
    np.save(tmp_path / "bad.npy", np.zeros((399, 64), np.float32))
    with pytest.raises(ValueError, match=r"bad\.npy.*\(399, 64\).*slc\.npy.*\(400, 64\)"):
        scene_from_files(tmp_path / "slc.npy", tmp_path / "mask.npy", tmp_path / "bad.npy", tmp_path / "t.npz")
    assert not (tmp_path / "t.npz").exists()


def test_correlated_scene_is_whitened_before_training(tmp_path):
    from restorebench.experiments.merlin_multitask import make_scene

    make_scene(UrbanSceneConfig(rows=160, cols=96, correlation=0.46), tmp_path / "s.npz")
    scene = load_scene(tmp_path / "s.npz")
    assert _neighbour_correlation(scene["flat_slc"]) < 0.06
    raw = speckle_slc(np.ones((128, 128)), np.random.default_rng(0), 0.46)
    assert _neighbour_correlation(raw) > 0.3


def test_training_twice_with_one_seed_gives_identical_weights(tmp_path):
    from restorebench.methods.merlin import S3NetConfig, train, training_arrays
    from restorebench.methods.training import OptimConfig

    scene = simulate(UrbanSceneConfig(rows=160, cols=96, seed=5))
    patches = area_patches(scene, "train", 32, 32)
    labelled = np.ones(len(patches["slc"]), bool)
    cfg = S3NetConfig(tasks="SRD", encoder_width=4, decoder_width=4, levels=2, head_widths=(4, 4),
                      regression_width=4, M=3.0, m=-4.0)
    weights = []
    for run in ("a", "b"):
        torch.manual_seed(len(run) * 1000 + ord(run))          # whatever state the process is in
        model = train(cfg, OptimConfig(epochs=2, batch_size=4, seed=7), training_arrays(patches, labelled, "SRD"),
                      tmp_path / f"{run}.pt", tmp_path / f"ck-{run}", progress=False)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_the_threshold_floor_learns_how_bright_buildings_are_and_one_height():
    from restorebench.methods.threshold_segmenter import predict, tune
    from restorebench.metrics.segmentation import f1

    rng = np.random.default_rng(3)
    n, size = 4, 48
    mask = np.zeros((n, size, size), dtype=bool)
    mask[:, 10:30, 12:36] = True
    height = np.where(mask, rng.uniform(8, 12, mask.shape), 0.0).astype(np.float32)
    # one-look speckle on a reflectivity 10x brighter on the roofs
    reflectivity = np.where(mask, 10.0, 1.0)
    slc = np.sqrt(reflectivity / 2) * (rng.standard_normal(mask.shape) + 1j * rng.standard_normal(mask.shape))
    floor = tune(slc, mask, height)
    assert floor.brighter and floor.box > 1 and floor.train_f1 > 0.8
    assert floor.height == pytest.approx(np.median(height[mask]))
    out = predict(floor, slc[0])
    assert f1(out["mask"], mask[0]) > 0.8
    assert set(np.unique(out["height"])) <= {0.0, np.float32(floor.height)}
    # darker buildings: the side flips
    dark = np.sqrt(np.where(mask, 0.1, 1.0) / 2) * (rng.standard_normal(mask.shape) + 1j * rng.standard_normal(mask.shape))
    assert not tune(dark, mask, height).brighter
    with pytest.raises(ValueError, match="at least one labelled patch"):
        tune(slc[:0], mask[:0], height[:0])
