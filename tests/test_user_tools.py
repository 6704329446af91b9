"""The user tools on the files users have: integer PCM rails, gaps, wrong checkpoints, image borders."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from restorebench.cli import main

RATE = 44100


def _clipped_music(seconds: float = 0.5, offset: float = 0.0) -> np.ndarray:
    """A stereo signal that exceeds full scale (left louder than right), before any converter clips it."""
    t = np.arange(int(RATE * seconds)) / RATE
    left = 1.4 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + offset
    right = 0.5 * np.sin(2 * np.pi * 330 * t + 1)
    return np.stack([left, right], axis=1)


# -------------------------------------------------------------------------------------- integer PCM rails

@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_each_rail_of_a_converter_clipped_file_is_found(tmp_path, subtype):
    from restorebench.physics.clipping import detect_clipping

    x = _clipped_music()
    sf.write(tmp_path / "c.wav", np.clip(x, -1, 1), RATE, subtype=subtype)   # the converter clips at its rails
    y, _ = sf.read(tmp_path / "c.wav", always_2d=True)
    found = detect_clipping(y.T)
    truth = np.abs(x.T) >= 1
    on_positive = truth & (x.T > 0)
    # every positive-rail sample is found: 16-bit +32767 reads as 1 - 2^-15 < 1 = the negative rail's magnitude
    assert found["mask"][on_positive].all() and found["mask"][truth & (x.T < 0)].all()
    assert found["channels"][0]["upper_clipped"] and found["channels"][0]["lower_clipped"]
    if subtype != "PCM_U8":
        # the quiet channel is not clipped, and nothing else is flagged. (On 8-bit's grid of 1/128 a smooth peak
        # stays on one value for runs of samples and reads as a plateau: the detector cannot tell it from
        # clipping there, as --help says; --threshold settles it.)
        assert not found["channels"][1]["upper_clipped"] and not found["mask"][1].any()
        assert found["mask"].sum() == truth.sum()


def test_a_file_clipped_at_one_rail_only(tmp_path):
    from restorebench.physics.clipping import detect_clipping

    x = _clipped_music(offset=0.5)[:, :1]          # a DC offset: only the positive rail is reached
    x = np.clip(x, -1, 1)
    sf.write(tmp_path / "c.wav", x, RATE, subtype="PCM_16")
    found = detect_clipping(sf.read(tmp_path / "c.wav", always_2d=True)[0].T)
    assert found["channels"][0]["upper_clipped"] and not found["channels"][0]["lower_clipped"]
    clipped = x[:, 0] >= 1
    # every clipped sample, and at most the few whose value rounded onto the rail anyway
    assert found["mask"][0][clipped].all() and found["mask"][0].sum() - clipped.sum() <= 3


def test_declip_threshold_is_validated_and_counts_the_pcm_rail(tmp_path, capsys):
    x = np.clip(_clipped_music(), -1, 1)
    sf.write(tmp_path / "c.wav", x, RATE, subtype="PCM_16")
    for bad, words in (("-0.5", "--threshold"), ("1.5", "--threshold")):
        assert main(["declip", "--method", "aspade", "--input", str(tmp_path / "c.wav"), "--threshold", bad,
                     "--output", str(tmp_path / "o.wav")]) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "o.wav").exists()
    assert main(["declip", "--method", "aspade", "--input", str(tmp_path / "c.wav"), "--threshold", "1.0",
                 "--output", str(tmp_path / "o.wav")]) == 0
    report = json.loads(capsys.readouterr().out)
    # both rails of the louder channel: the clipped share of all samples of both channels
    assert report["saturated_fraction"] == pytest.approx(np.mean(np.abs(_clipped_music()) >= 1), abs=1e-4)


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_16"])
def test_declip_accepts_the_level_a_file_was_clipped_at(tmp_path, capsys, subtype):
    """A user who clipped a recording at T and wrote it as float32 or 16-bit PCM gives --threshold T: the file
    holds T rounded to its grid, often a hair below T (float32: T = 0.32895154 reads 0.3289515), and that is
    the rail, not a level above the peak. A level a grid step beyond the peak is still refused."""
    x = _clipped_music()[:, :1] * 0.3
    levels = np.random.default_rng(0).uniform(0.05, 0.4, size=12)
    accepted = 0
    for level in levels:
        sf.write(tmp_path / "c.wav", np.clip(x, -level, level), RATE, subtype=subtype)
        peak = float(np.max(np.abs(sf.read(tmp_path / "c.wav", dtype="float32")[0])))
        assert main(["declip", "--method", "aspade", "--input", str(tmp_path / "c.wav"), "--threshold",
                     repr(float(level)), "--output", str(tmp_path / "o.wav")]) == 0, capsys.readouterr().err
        report = json.loads(capsys.readouterr().out)
        assert report["saturated_fraction"] == pytest.approx(np.mean(np.abs(x) >= level), abs=2e-3)
        accepted += peak < level          # float32: the cases that were refused before
    assert accepted >= 3 or subtype != "FLOAT"
    step = 2.0 ** -15 if subtype == "PCM_16" else 1e-4
    assert main(["declip", "--method", "aspade", "--input", str(tmp_path / "c.wav"), "--threshold",
                 repr(float(levels[-1]) + 3 * step), "--output", str(tmp_path / "x.wav")]) == 2
    assert "above the peak" in capsys.readouterr().err and not (tmp_path / "x.wav").exists()


def test_declip_returns_a_signal_consistent_with_the_file_unless_raw(tmp_path, capsys):
    import torch

    from restorebench.methods.configs import DeclipConfig
    from restorebench.methods.training import save_trained
    from restorebench.models.declipper import Declipper

    torch.manual_seed(0)
    cfg = DeclipConfig(widths=(4, 8), kernel=5, sample_rate=RATE)
    save_trained(tmp_path / "w.pt", Declipper(cfg.widths, cfg.kernel), {"s4": cfg.to_dict()}, [1.0], 0, study="S4")
    sf.write(tmp_path / "c.wav", np.clip(_clipped_music(), -1, 1), RATE, subtype="PCM_16")
    y = sf.read(tmp_path / "c.wav", always_2d=True)[0]
    clipped = np.abs(_clipped_music()) >= 1
    base = ["declip", "--checkpoint", str(tmp_path / "w.pt"), "--input", str(tmp_path / "c.wav")]
    assert main(base + ["--output", str(tmp_path / "o.wav")]) == 0
    report = json.loads(capsys.readouterr().out)
    out = sf.read(tmp_path / "o.wav", always_2d=True)[0]
    np.testing.assert_allclose(out[~clipped], y[~clipped], atol=1e-6)          # what was not clipped is kept
    assert np.all(np.abs(out[clipped]) >= np.abs(y[clipped]) - 1e-6)           # clipped: at least at the rail
    # an untrained network strays; the JSON says by how much, and --raw keeps its output as it is
    assert report["output_is"] == "consistent" and report["raw_output"]["reliable_max_abs_change"] > 1e-3
    assert main(base + ["--raw", "--output", str(tmp_path / "raw.wav")]) == 0
    raw = sf.read(tmp_path / "raw.wav", always_2d=True)[0]
    assert np.max(np.abs(raw[~clipped] - y[~clipped])) == pytest.approx(
        report["raw_output"]["reliable_max_abs_change"], rel=1e-4)


# ------------------------------------------------------------------------------------------ restore-audio

def _speech_like(tmp_path, seconds: float, rate: int = 16000):
    rng = np.random.default_rng(0)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 200 * t) * np.sin(2 * np.pi * 2 * t) + 0.03 * rng.normal(size=t.size)
    sf.write(tmp_path / "in.wav", x.astype(np.float32), rate)
    return tmp_path / "in.wav", x


def test_restore_audio_leaves_a_segment_without_observation_as_a_gap_and_never_writes_nan(tmp_path, capsys):
    path, x = _speech_like(tmp_path, 1.5)
    mask = np.ones(x.size)
    mask[3000:21000] = 0                          # longer than a segment of 0.5 s
    np.save(tmp_path / "mask.npy", mask)
    base = ["restore-audio", "--task", "inpaint", "--input", str(path), "--iterations", "3", "--widths", "4,4,4",
            "--segment-seconds", "0.5", "--overlap-seconds", "0.1", "--output", str(tmp_path / "o.wav")]
    assert main(base + ["--mask", str(tmp_path / "mask.npy")]) == 0
    report = json.loads(capsys.readouterr().out)
    gaps = [s for s in report["segments"] if s["left_as_gap"]]
    assert gaps and all(3000 / 16000 <= s["start_seconds"] and s["end_seconds"] <= 21000 / 16000 for s in gaps)
    out, _ = sf.read(tmp_path / "o.wav")
    assert out.shape == x.shape and np.all(np.isfinite(out))
    # nothing observed at all is an error naming the option, and nothing is written
    np.save(tmp_path / "none.npy", np.zeros(x.size))
    assert main(base[:-1] + [str(tmp_path / "none.wav"), "--mask", str(tmp_path / "none.npy")]) == 2
    assert "--mask" in capsys.readouterr().err and not (tmp_path / "none.wav").exists()


@pytest.mark.parametrize("extra, words", [(["--iterations", "0"], "--iterations"),
                                          (["--device", "cuda:7"], "--device"),
                                          (["--device", "tpu"], "--device")])
def test_restore_audio_options_that_cannot_work_are_one_line_errors(tmp_path, capsys, extra, words):
    path, _ = _speech_like(tmp_path, 0.5)
    assert main(["restore-audio", "--task", "denoise", "--input", str(path), "--output", str(tmp_path / "o.wav"),
                 *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and not (tmp_path / "o.wav").exists()


def test_restore_audio_refuses_a_file_shorter_than_one_frame(tmp_path, capsys):
    path, _ = _speech_like(tmp_path, 0.02)
    assert main(["restore-audio", "--task", "denoise", "--input", str(path), "--output", str(tmp_path / "o.wav")]) == 2
    assert str(path) in capsys.readouterr().err and not (tmp_path / "o.wav").exists()


def test_noise_std_refers_to_the_users_file():
    from restorebench.audio_io import read_audio_source, white_noise_std_after_reading

    import tempfile
    from pathlib import Path

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noise.wav"
        sf.write(path, 0.1 * rng.normal(size=(RATE * 2, 2)), RATE, subtype="FLOAT")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x, rate, channels = read_audio_source(path)
    expected = white_noise_std_after_reading(0.1, rate, channels)
    assert (rate, channels) == (RATE, 2)
    assert expected == pytest.approx(0.1 * np.sqrt(16000 / RATE / 2))
    assert np.std(x) == pytest.approx(expected, rel=0.03)           # what the fit really sees


def test_audio_output_is_never_non_finite(tmp_path):
    from restorebench.audio_io import write_audio

    with pytest.raises(ValueError, match="NaN or Inf"):
        write_audio(tmp_path / "x.wav", np.array([0.1, np.nan, 0.2]))
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------ SAR tools

def test_tiles_cover_the_image_border_like_its_interior():
    """A network sees zeros beyond each tile; the image's own border must still lie inside a tile. A box
    filter with zero padding stands in for it: on a constant image every output pixel must be that constant."""
    from scipy.ndimage import uniform_filter

    from restorebench.methods.merlin import tiled

    def box(batch):
        return {"out": np.stack([uniform_filter(b, size=7, mode="constant") for b in batch])}

    image = np.full((150, 97), 3.0)
    out = tiled(box, image, tile=64, overlap=16, multiple=16)["out"]
    assert out.shape == image.shape
    # before: the outermost rows came out at 3 x 4/7; what remains is the taper letting a tile edge in by ~2 %
    np.testing.assert_allclose(out, 3.0, rtol=0.02)
    np.testing.assert_allclose(out[[0, -1]], 3.0, rtol=0.02)
    np.testing.assert_allclose(out[:, [0, -1]], 3.0, rtol=0.02)


def test_tiles_in_batches_blend_to_exactly_the_one_at_a_time_image():
    """predict batches tiles on a GPU: the blend must not depend on how many tiles one call gets."""
    from scipy.ndimage import uniform_filter

    from restorebench.methods.merlin import tiled

    calls = []

    def box(batch):
        calls.append(len(batch))
        return {"out": np.stack([uniform_filter(b, size=5, mode="constant") for b in batch]), "neg": -batch}

    image = np.random.default_rng(3).random((150, 97))
    one = tiled(box, image, tile=64, overlap=16, multiple=16)
    tiles = len(calls)
    calls.clear()
    five = tiled(box, image, tile=64, overlap=16, multiple=16, tiles_per_batch=5)
    assert tiles > 5 and calls == [5] * (tiles // 5) + ([tiles % 5] if tiles % 5 else [])
    for name in ("out", "neg"):
        np.testing.assert_array_equal(five[name], one[name])
    np.testing.assert_allclose(one["neg"], -image, rtol=1e-12)


def _s3_weights(tmp_path, tasks="SRD"):
    from restorebench.data.urban import UrbanSceneConfig, area_patches, simulate
    from restorebench.methods.merlin import S3NetConfig, train, training_arrays
    from restorebench.methods.training import OptimConfig

    scene = simulate(UrbanSceneConfig(rows=160, cols=96, seed=2))
    patches = area_patches(scene, "train", 32, 32)
    cfg = S3NetConfig(tasks=tasks, encoder_width=4, decoder_width=4, levels=2, head_widths=(4, 4),
                      regression_width=4, M=3.0, m=-4.0)
    train(cfg, OptimConfig(epochs=1, batch_size=4), training_arrays(patches, np.ones(len(patches["slc"]), bool),
                                                                     tasks), tmp_path / "s3.pt", tmp_path / "ck",
          progress=False)
    return tmp_path / "s3.pt"


def test_sar_tools_refuse_weights_of_another_study_and_amplitudes_outside_training(tmp_path, capsys):
    import torch

    from restorebench.methods.configs import DeclipConfig
    from restorebench.methods.training import save_trained
    from restorebench.models.declipper import Declipper
    from restorebench.physics.speckle import speckle_slc

    s3 = _s3_weights(tmp_path)
    save_trained(tmp_path / "s4.pt", Declipper((4,), 3), {"s4": DeclipConfig(widths=(4,), kernel=3).to_dict()},
                 [1.0], 0, study="S4")
    legacy = torch.load(s3, weights_only=True)
    legacy.pop("study")                                   # weights written before the study was recorded
    torch.save({**legacy, "config": {"s4": DeclipConfig().to_dict()}}, tmp_path / "legacy-s4.pt")
    slc = speckle_slc(np.ones((64, 64)), np.random.default_rng(0))
    np.save(tmp_path / "slc.npy", slc)
    for weights, words in ((tmp_path / "s4.pt", "an S4 declipper"), (tmp_path / "legacy-s4.pt", "not an S3")):
        assert main(["despeckle", "--checkpoint", str(weights), "--input", str(tmp_path / "slc.npy"),
                     "--output", str(tmp_path / "r.npy")]) == 2
        err = capsys.readouterr().err
        assert words in err and str(weights) in err and len(err.strip().splitlines()) == 1
    sf.write(tmp_path / "a.wav", np.clip(np.sin(np.arange(16000) / 5), -0.5, 0.5), 16000)
    assert main(["declip", "--checkpoint", str(s3), "--input", str(tmp_path / "a.wav"),
                 "--output", str(tmp_path / "b.wav")]) == 2
    assert "not an S4 declipper" in capsys.readouterr().err
    # amplitudes a thousand times those of the training data would saturate the network's output
    np.save(tmp_path / "bright.npy", 1000 * slc)
    assert main(["despeckle", "--checkpoint", str(s3), "--input", str(tmp_path / "bright.npy"),
                 "--output", str(tmp_path / "r.npy")]) == 2
    assert "outside the range the network was trained on" in capsys.readouterr().err
    assert not (tmp_path / "r.npy").exists()


def test_map_buildings_writes_its_two_outputs_as_a_pair(tmp_path, capsys):
    from restorebench.physics.speckle import speckle_slc

    s3 = _s3_weights(tmp_path)
    np.save(tmp_path / "slc.npy", speckle_slc(np.ones((64, 64)), np.random.default_rng(0)))
    (tmp_path / "file").write_text("not a folder")
    assert main(["map-buildings", "--checkpoint", str(s3), "--input", str(tmp_path / "slc.npy"),
                 "--output-mask", str(tmp_path / "mask.npy"),
                 "--output-height", str(tmp_path / "file" / "height.npy")]) == 2
    assert "file" in capsys.readouterr().err
    assert not (tmp_path / "mask.npy").exists()           # the mask is not left without its height


def test_suppress_rfi_runs_on_a_record_shorter_than_the_networks_padding(tmp_path):
    from restorebench.methods.rfi_suppression import feature_meta
    from restorebench.methods.train_rfi import RFINetConfig, train
    from restorebench.methods.training import OptimConfig

    x = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    train(RFINetConfig("difnet", dict(channels=4, window=4, levels=1)), OptimConfig(epochs=1, batch_size=2), x,
          (x > 0.5).astype(np.float32), tmp_path / "d.pt", tmp_path / "ck", progress=False,
          features=feature_meta(32, 8))
    echoes = (np.random.default_rng(1).normal(size=(8, 31)) + 1j).astype(np.complex64)
    np.save(tmp_path / "e.npy", echoes)
    assert main(["suppress-rfi", "--method", "difnet", "--checkpoint", str(tmp_path / "d.pt"),
                 "--input", str(tmp_path / "e.npy"), "--output", str(tmp_path / "o.npy")]) == 0
    assert np.load(tmp_path / "o.npy").shape == echoes.shape


def test_predict_gives_the_same_maps_with_tiles_in_batches():
    import torch

    from restorebench.methods.configs import S3NetConfig
    from restorebench.methods.merlin import build_model, predict

    cfg = S3NetConfig(encoder_width=4, decoder_width=8, levels=2, head_widths=(4, 4), regression_width=8,
                      regression_blocks=1, M=8.0, m=-2.0)
    torch.manual_seed(0)
    model = build_model(cfg)
    rng = np.random.default_rng(5)
    slc = (rng.standard_normal((70, 90)) + 1j * rng.standard_normal((70, 90))).astype(np.complex64)
    one = predict(model, cfg, slc, tile=32, overlap=8, tiles_per_batch=1)
    batched = predict(model, cfg, slc, tile=32, overlap=8, tiles_per_batch=6)
    assert set(one) == {"reflectivity", "probability", "height"}
    for name in one:
        np.testing.assert_allclose(batched[name], one[name], rtol=1e-4, atol=1e-6, err_msg=name)
