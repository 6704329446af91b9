"""S4 (declipping): the clipping operator, the bias-free network's homogeneity, the losses on hand examples,
A-SPADE on an exactly sparse signal, the synthetic signal model, training and chunked inference."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from restorebench.data.clipping import clipped_set, segments, sparse_dct_signals
from restorebench.losses.declipping import (consistency_loss, equivariance_loss, naive_consistency_loss,
                                            supervised_loss)
from restorebench.methods.aspade import ASpadeConfig, aspade
from restorebench.methods.declipping import DeclipConfig, declip, load_trained, train, training_arrays
from restorebench.methods.training import OptimConfig
from restorebench.metrics.audio import snr_db
from restorebench.models.declipper import Declipper
from restorebench.physics.clipping import (clip, clip_to_fraction, measurement_threshold, project_consistent,
                                           saturated_fraction, saturation_mask, threshold_for_fraction)


@pytest.mark.parametrize("v", [0.01, 0.05, 0.1, 0.2, 0.5])
def test_threshold_reaches_the_target_saturated_fraction(v):
    x = np.random.default_rng(1).standard_normal((6, 4000)) * np.linspace(0.1, 3, 6)[:, None]
    y, mask, mu = clip_to_fraction(x, v)
    for row_y, row_mask, row_mu in zip(y, mask, mu):
        assert abs(saturated_fraction(row_y, row_mu) - v) <= 0.005
        assert abs(row_mask.mean() - v) <= 0.005
        assert np.max(np.abs(row_y)) == pytest.approx(float(row_mu[0]))
    np.testing.assert_allclose(measurement_threshold(y), mu)
    for bad in (0.0, -0.1, 0.51):
        with pytest.raises(ValueError, match="saturated fraction"):
            threshold_for_fraction(x, bad)


def test_clip_is_the_same_operator_on_numpy_and_torch():
    x = np.linspace(-2, 2, 9, dtype=np.float32)[None]
    expected = np.array([[-1, -1, -1, -0.5, 0, 0.5, 1, 1, 1]], dtype=np.float32)
    np.testing.assert_array_equal(clip(x, 1.0), expected)
    np.testing.assert_array_equal(clip(torch.from_numpy(x), torch.ones(1, 1)).numpy(), expected)
    np.testing.assert_array_equal(saturation_mask(expected, 1.0), (np.abs(expected) == 1).astype(np.float32))


def test_consistency_projection_is_the_nearest_consistent_signal():
    y = np.array([0.2, 1.0, 1.0, -0.3, -1.0], dtype=np.float32)    # clipped at mu = 1
    mask = saturation_mask(y, 1.0)
    x = np.array([0.5, 1.4, 0.7, -0.3, -0.2], dtype=np.float32)
    # reliable samples take y; saturated ones go to at least the clip level, with y's sign
    np.testing.assert_array_equal(project_consistent(x, y, mask), np.float32([0.2, 1.4, 1.0, -0.3, -1.0]))
    rng = np.random.default_rng(0)
    clean = rng.standard_normal(500).astype(np.float32)
    y, mask, mu = clip_to_fraction(clean, 0.2)
    estimate = clean + 0.3 * rng.standard_normal(500)
    projected = project_consistent(estimate, y, mask)
    np.testing.assert_array_equal(clip(projected, mu), y)                 # consistent
    np.testing.assert_array_equal(project_consistent(projected, y, mask), projected)   # a projection
    np.testing.assert_array_equal(project_consistent(clean, y, mask), clean)           # the truth is kept
    # nearer to the estimate than any other consistent signal tried
    for _ in range(20):
        other = project_consistent(estimate + rng.standard_normal(500), y, mask)
        assert np.linalg.norm(projected - estimate) <= np.linalg.norm(other - estimate)


def test_bias_free_network_is_positively_homogeneous_and_the_biased_one_is_not():
    torch.manual_seed(0)
    y = torch.randn(3, 64)
    mu = measurement_threshold(y) * 0.7
    y = clip(y, mu)
    mask = saturation_mask(y, mu)
    free, biased = Declipper((4, 8), kernel=5, bias=False), Declipper((4, 8), kernel=5, bias=True)
    for p in biased.parameters():           # biases far from zero, as after training
        torch.nn.init.normal_(p, std=0.3)
    assert not any(m.bias is not None for m in free.modules() if isinstance(m, torch.nn.Conv1d))
    with torch.no_grad():
        for alpha in (0.1, 3.0, 50.0):
            torch.testing.assert_close(free(alpha * y, mask), alpha * free(y, mask), rtol=1e-5, atol=1e-6)
        out, scaled = biased(y, mask), biased(0.1 * y, mask) / 0.1
        assert float((scaled - out).abs().max()) > 0.1


def test_losses_on_hand_examples():
    mu = torch.tensor([[1.0]])
    y = torch.tensor([[0.5, 1.0, -1.0, 0.2]])
    mask = saturation_mask(y, mu)
    perfect = torch.tensor([[0.5, 1.7, -1.3, 0.2]])            # consistent: reliable equal, clipped beyond mu
    assert float(consistency_loss(perfect, y, mask)) == 0.0
    assert float(naive_consistency_loss(perfect, y, mu)) == 0.0
    assert float(supervised_loss(perfect, perfect)) == 0.0
    # an estimate short of the threshold on a clipped sample costs (mu - f)^2 in both
    short = torch.tensor([[0.5, 0.6, -1.0, 0.2]])
    assert float(consistency_loss(short, y, mask)) == pytest.approx(0.16 / 4)
    assert float(naive_consistency_loss(short, y, mu)) == pytest.approx(0.16 / 4)
    # beyond the threshold on a *reliable* sample: L_MC penalises it, L_NMC is flat (zero gradient)
    over = torch.tensor([[1.6, 1.0, -1.0, 0.2]], requires_grad=True)
    assert float(consistency_loss(over, y, mask).detach()) == pytest.approx(1.21 / 4)
    naive = naive_consistency_loss(over, y, mu)
    assert float(naive.detach()) == pytest.approx(0.25 / 4)
    naive.backward()
    assert over.grad.abs().sum() == 0
    # on saturated samples beyond the threshold both give zero gradient (paper Fig. 2)
    beyond = torch.tensor([[0.5, 2.0, -3.0, 0.2]], requires_grad=True)
    for loss in (consistency_loss(beyond, y, mask), naive_consistency_loss(beyond, y, mu)):
        grad, = torch.autograd.grad(loss, beyond)
        assert grad.abs().sum() == 0


def test_naive_consistency_applies_the_clipping_not_a_linear_stand_in():
    """A consistency written with the identity in place of eta would pull a clipped sample back to mu."""
    mu = torch.tensor([[1.0]])
    y = torch.tensor([[1.0]])
    estimate = torch.tensor([[1.8]])
    assert float(naive_consistency_loss(estimate, y, mu)) == 0.0
    assert float(torch.mean((y - estimate) ** 2)) == pytest.approx(0.64)


def test_equivariance_loss_is_zero_for_a_network_that_knows_the_signal_set():
    """An oracle that returns the clean signal of every measurement of a scaled clean set has L_EQ = 0."""
    torch.manual_seed(0)
    x = torch.from_numpy(sparse_dct_signals(4, 64, 3, seed=0))
    mu = torch.full((4, 1), 0.6)

    def oracle(y2, mask2):   # the answer for measurements of alpha * x: recover alpha from reliable samples
        reliable = mask2 == 0
        alpha = (y2 * x * reliable).sum(-1, keepdim=True) / (x * x * reliable).sum(-1, keepdim=True)
        return alpha * x
    loss = equivariance_loss(oracle, x, mu, alpha_max=3.0)
    assert float(loss) < 1e-10
    assert float(equivariance_loss(lambda y2, m2: y2, x, mu, alpha_max=3.0)) > 1e-3
    with pytest.raises(ValueError, match="alpha_max"):
        equivariance_loss(oracle, x, mu, alpha_max=1.0)


def test_aspade_recovers_a_signal_that_is_exactly_sparse_in_its_frame():
    window = 256
    t = np.arange(16 * window)
    # bin-centred sinusoids: with a periodic Hann window each is exactly 3 coefficients per frame
    x = np.sin(2 * np.pi * 9 * t / window + 0.3) + 0.6 * np.sin(2 * np.pi * 23 * t / window + 1.1)
    y, _, mu = clip_to_fraction(x[None], 0.3)
    restored = aspade(y[0], float(mu[0, 0]), ASpadeConfig(window=window, hop=window // 4, mfft=window, s=1))
    assert snr_db(x, y[0]) < 14
    assert snr_db(x, restored) > 35
    # consistent with the measurement
    reliable = np.abs(y[0]) < mu[0, 0]
    np.testing.assert_allclose(restored[reliable], y[0][reliable], atol=1e-6)
    assert np.all(np.abs(restored[~reliable]) >= mu[0, 0] - 1e-6)


def test_sparse_dct_signals_have_exactly_d_coefficients_and_peak_one():
    x = sparse_dct_signals(5, 128, 6, seed=3, band=0.25)
    c = scipy.fft.dct(x.astype(np.float64), type=2, norm="ortho", axis=-1)
    assert np.all(np.sum(np.abs(c) > 1e-5, axis=-1) == 6)
    assert np.all(np.abs(c[:, 32:]) < 1e-5)
    np.testing.assert_allclose(np.max(np.abs(x), axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(x, sparse_dct_signals(5, 128, 6, seed=3, band=0.25))
    assert segments(np.arange(20.0)[None], 8, 4).shape == (4, 8)


def test_self_supervised_arrays_hold_no_clean_signal():
    data = clipped_set(sparse_dct_signals(8, 64, 3, seed=0), 0.1)
    assert len(training_arrays(DeclipConfig(objective="mc-eq", widths=(4,)), data["y"], data["mu"], data["clean"])) == 2
    assert len(training_arrays(DeclipConfig(objective="supervised", widths=(4,)), data["y"], data["mu"], data["clean"])) == 3
    with pytest.raises(ValueError, match="clean"):
        training_arrays(DeclipConfig(objective="supervised", widths=(4,)), data["y"], data["mu"])


def test_self_supervised_training_raises_the_sdr_and_chunking_does_not_change_the_output(tmp_path):
    torch.set_num_threads(1)
    train_set = clipped_set(sparse_dct_signals(512, 128, 4, seed=0, band=0.25), 0.2)
    test_set = clipped_set(sparse_dct_signals(32, 128, 4, seed=1, band=0.25), 0.2)
    cfg = DeclipConfig(objective="mc-eq", widths=(8, 16), kernel=7, stop_gradient=True)
    optim = OptimConfig(epochs=20, batch_size=16, optimizer="adam", learning_rate=2e-3, seed=0)
    train(cfg, optim, training_arrays(cfg, train_set["y"], train_set["mu"]), tmp_path / "w.pt", tmp_path / "ck",
          torch.device("cpu"), progress=False)
    _, model = load_trained(tmp_path / "w.pt")
    restored = declip(model, test_set["y"], test_set["mu"])
    before = np.mean([snr_db(c, y) for c, y in zip(test_set["clean"], test_set["y"])])
    after = np.mean([snr_db(c, r) for c, r in zip(test_set["clean"], restored)])
    assert after > before + 2.0, (before, after)      # measured: 15.1 -> 18.3 dB
    long = np.concatenate(list(test_set["y"][:8]))[None]
    whole = declip(model, long, test_set["mu"][0], chunk=1 << 20)
    chunked = declip(model, long, test_set["mu"][0], chunk=96, margin=64)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)


def test_music_training_segments_keep_their_recordings_threshold(tmp_path):
    from restorebench.files import save_npz
    from restorebench.experiments.declipping import MusicSizes, music_training_set

    rng = np.random.default_rng(0)
    clips = (rng.standard_normal((4, 1000)) * np.array([[1], [2], [0.5], [3]])).astype(np.float32)
    save_npz(tmp_path / "a.npz", clips=clips, meta_dataset="toy", meta_role="music")
    data = music_training_set([tmp_path / "a.npz"], [0.05, 0.2], MusicSizes(segment=400, hop=200))
    assert data["y"].shape == (4 * 4, 400) and data["mu"].shape == (16,)
    for k in range(4):
        v = (0.05, 0.2)[k % 2]
        mu = threshold_for_fraction(clips[k][None], v)[0, 0]
        np.testing.assert_allclose(data["mu"][4 * k:4 * k + 4], mu, rtol=1e-6)
        np.testing.assert_allclose(data["clean"][4 * k], clips[k][:400])
        np.testing.assert_allclose(data["y"][4 * k], np.clip(clips[k][:400], -mu, mu), rtol=1e-6)


def test_clip_and_declip_tools_on_a_stereo_file(tmp_path, capsys):
    import json

    import soundfile as sf

    from restorebench.cli import main
    from restorebench.physics.clipping import detect_clipping

    t = np.arange(22050) / 22050
    stereo = np.stack([0.8 * np.sin(2 * np.pi * 220 * t), 0.5 * np.sin(2 * np.pi * 330 * t + 1)], axis=1)
    sf.write(tmp_path / "x.wav", stereo.astype(np.float32), 22050, subtype="FLOAT")
    assert main(["clip", "--input", str(tmp_path / "x.wav"), "--saturated-fraction", "0.1",
                 "--output", str(tmp_path / "y.wav")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert abs(report["saturated_fraction"] - 0.1) <= 0.005 and report["channels"] == 2
    y, rate = sf.read(tmp_path / "y.wav", always_2d=True)
    assert rate == 22050 and y.shape == stereo.shape
    found = detect_clipping(y.T)
    assert found["clipped"] and found["threshold"] == pytest.approx(report["threshold"], rel=1e-6)
    assert not detect_clipping(stereo.T)["clipped"]
    # the classical declipper restores both channels at the file's own rate
    assert main(["declip", "--method", "aspade", "--input", str(tmp_path / "y.wav"),
                 "--output", str(tmp_path / "r.wav")]) == 0
    restored, rate = sf.read(tmp_path / "r.wav", always_2d=True)
    assert rate == 22050 and restored.shape == stereo.shape
    # one threshold for both channels: the louder one carries the saturation, the quieter one is untouched
    assert snr_db(stereo[:, 0], restored[:, 0]) > snr_db(stereo[:, 0], y[:, 0]) + 5
    np.testing.assert_allclose(restored[:, 1], stereo[:, 1], atol=1e-6)
    # clipping an already clipped file is reported
    main(["clip", "--input", str(tmp_path / "y.wav"), "--saturated-fraction", "0.2", "--output", str(tmp_path / "z.wav")])
    assert "already clipped" in capsys.readouterr().err
    # a fraction outside (0, 0.5] is refused before anything is written
    assert main(["clip", "--input", str(tmp_path / "x.wav"), "--saturated-fraction", "0.7",
                 "--output", str(tmp_path / "bad.wav")]) == 2
    assert "--saturated-fraction" in capsys.readouterr().err and not (tmp_path / "bad.wav").exists()


def test_declip_tool_refuses_a_rate_the_network_was_not_trained_at_and_a_silent_file(tmp_path, capsys):
    import soundfile as sf

    from restorebench.cli import main
    from restorebench.methods.training import save_trained

    cfg = DeclipConfig(widths=(4,), kernel=3)
    save_trained(tmp_path / "w.pt", Declipper((4,), 3), {"s4": cfg.to_dict()}, [1.0], 0)
    sf.write(tmp_path / "a.wav", np.clip(np.sin(np.arange(8000) / 5), -0.5, 0.5).astype(np.float32), 8000)
    assert main(["declip", "--checkpoint", str(tmp_path / "w.pt"), "--input", str(tmp_path / "a.wav"),
                 "--output", str(tmp_path / "b.wav")]) == 2
    err = capsys.readouterr().err
    assert "8000 Hz" in err and "16000 Hz" in err and str(tmp_path / "a.wav") in err
    assert not (tmp_path / "b.wav").exists()
    # at the network's rate it runs, channel by channel, and keeps the length (padding is cut off again)
    sf.write(tmp_path / "ok.wav", np.clip(np.sin(np.arange(8001) / 5), -0.5, 0.5).astype(np.float32), 16000)
    assert main(["declip", "--checkpoint", str(tmp_path / "w.pt"), "--input", str(tmp_path / "ok.wav"),
                 "--output", str(tmp_path / "ok-out.wav")]) == 0
    out, rate = sf.read(tmp_path / "ok-out.wav")
    assert rate == 16000 and out.shape == (8001,) and np.all(np.isfinite(out))
    capsys.readouterr()
    sf.write(tmp_path / "silent.wav", np.zeros(1600, dtype=np.float32), 16000)
    assert main(["declip", "--checkpoint", str(tmp_path / "w.pt"), "--input", str(tmp_path / "silent.wav"),
                 "--output", str(tmp_path / "c.wav")]) == 2
    assert "silent" in capsys.readouterr().err


def test_the_spline_floor_and_the_least_squares_ceiling_on_sparse_dct_signals():
    from restorebench.data.clipping import clipped_set, sparse_dct_signals
    from restorebench.experiments.declipping import SDR_RESOLUTION_DB, run_declipper, sdr_db
    from restorebench.methods.declip_classical import spline_declip

    data = clipped_set(sparse_dct_signals(16, 128, 4, 0, 0.125), 0.1)
    scores = {}
    for method in ("clipped", "spline", "dct-ls"):
        estimate = run_declipper(method, data["y"], data["mu"], context={"band": 0.125})
        scores[method] = np.mean([sdr_db(c, e) for c, e in zip(data["clean"], estimate)])
        # both are consistent: reliable samples kept, clipped ones at or beyond the clip level
        reliable = np.abs(data["y"]) < data["mu"][:, None] * (1 - 1e-6)
        np.testing.assert_array_equal(estimate[reliable], data["y"][reliable])
        assert np.all(np.abs(estimate[~reliable]) >= data["mu"][:, None].repeat(128, 1)[~reliable] * (1 - 1e-6))
    # a spline across the clipped runs beats doing nothing by far; knowing the band recovers the signals
    assert scores["spline"] > scores["clipped"] + 5
    assert scores["dct-ls"] == pytest.approx(SDR_RESOLUTION_DB)
    # the spline never extrapolates: a run clipped at the start keeps the clip level
    y = np.array([1.0, 1.0, 0.5, -0.2, 0.3, 1.0, 0.4], dtype=np.float32)
    out = spline_declip(y, 1.0)
    assert out[0] == out[1] == 1.0 and out[5] >= 1.0 and np.array_equal(out[2:5], y[2:5])
    with pytest.raises(ValueError, match="Figure 5"):
        run_declipper("dct-ls", data["y"][:1], data["mu"][:1])


def test_d3_is_judged_on_the_biased_networks_drop_and_shows_the_bias_free_half_as_a_construction_check():
    import pandas as pd

    from restorebench.experiments.declipping_report import s4_claims, with_unit_scale_rows
    from restorebench.report.verdicts import evaluate_claim, verdict_rows

    rows = []
    for i in range(8):
        for method, sdr1, sdr01 in (("mc-eq", 20.0 + i, 20.0 + i), ("mc-eq+bias", 19.0 + i, 9.0 + i)):
            for condition, value in (("scale=1", sdr1), ("scale=0.1", sdr01)):
                rows.append({"experiment": "toy", "method": method, "condition": condition, "item": i,
                             "metric": "sdr", "value": value})
    rows = with_unit_scale_rows(pd.DataFrame(rows))
    d3 = [c for c in s4_claims(rows) if c.id == "D3"][0]
    v = evaluate_claim(rows, d3)
    assert [c.construction for c in v.cells] == [False, True]
    assert v.verdict == "held" and v.cells[0].effect == pytest.approx(10.0)     # biased drops 10 dB, bias-free 0
    assert verdict_rows([v], "S4", "t")["outcome"].tolist() == ["paper's way", "construction check"]


def test_every_declipper_returns_an_estimate_consistent_with_its_measurement():
    """What the tables and claims score: a network's raw output with the reliable samples put back and the
    saturated ones pushed to the rail or beyond; a consistent method (A-SPADE) is unchanged."""
    from restorebench.experiments.declipping import declip_consistent

    data = clipped_set(sparse_dct_signals(4, 128, 4, 0, 0.125), 0.2)
    y, mu = data["y"], data["mu"]
    torch.manual_seed(0)
    model = Declipper((4, 8), 5, bias=True, residual=False).eval()   # random weights: far from consistent
    estimate, raw = declip_consistent(None, y, mu, model)
    saturated = np.abs(y) >= mu[:, None] * (1 - 1e-6)
    assert np.array_equal(estimate[~saturated], y[~saturated]) and not np.allclose(raw[~saturated], y[~saturated])
    assert np.all(np.sign(y[saturated]) * estimate[saturated] >= mu[:, None].repeat(128, 1)[saturated] - 1e-6)
    assert np.array_equal(clip(torch.from_numpy(estimate), torch.from_numpy(mu[:, None])).numpy(), y)
    kept, output = declip_consistent("aspade", y, mu, context={"aspade": ASpadeConfig(window=32, hop=8)})
    np.testing.assert_allclose(kept, output, atol=1e-6)


def test_every_declippers_validation_curve_is_its_held_out_error_and_leaves_training_unchanged(tmp_path):
    """The recorded validation value is mean ||P(f(y)) - x||^2 / ||x||^2 over the held-out signals (the
    consistent estimate the tables score, against the clean signals the self-supervised training never sees),
    and recording it does not change the trained weights."""
    from restorebench.experiments.declipping import declip_consistent
    from restorebench.methods.declipping import validation_arrays
    from restorebench.methods.training import load_weights

    torch.set_num_threads(1)
    train_set = clipped_set(sparse_dct_signals(64, 64, 3, seed=0, band=0.25), 0.2)
    held = clipped_set(sparse_dct_signals(12, 64, 3, seed=0, band=0.25, role="validation"), 0.2)
    cfg = DeclipConfig(objective="mc-eq", widths=(4, 8), kernel=5, stop_gradient=True)
    optim = OptimConfig(epochs=3, batch_size=16, optimizer="adam", learning_rate=2e-3, seed=0)
    arrays = training_arrays(cfg, train_set["y"], train_set["mu"], train_set["clean"])
    assert len(arrays) == 2                      # the objective still sees no clean signal
    train(cfg, optim, arrays, tmp_path / "v.pt", tmp_path / "ckv", torch.device("cpu"), progress=False,
          validation=validation_arrays(held["y"], held["mu"], held["clean"]))
    train(cfg, optim, arrays, tmp_path / "n.pt", tmp_path / "ckn", torch.device("cpu"), progress=False)
    with_curve, without = load_weights(tmp_path / "v.pt"), load_weights(tmp_path / "n.pt")
    assert len(with_curve["validation"]) == 3 and without["validation"] == []
    for key, value in with_curve["model"].items():
        assert torch.equal(value, without["model"][key]), key
    _, model = load_trained(tmp_path / "v.pt")
    estimate, _ = declip_consistent(None, held["y"], held["mu"], model)
    expected = np.mean([np.sum((e - c) ** 2) / np.sum(c ** 2) for e, c in zip(estimate, held["clean"])])
    assert with_curve["validation"][-1] == pytest.approx(expected, rel=1e-4)
    assert 0 < expected < np.mean([np.sum((y - c) ** 2) / np.sum(c ** 2) for y, c in zip(held["y"], held["clean"])]) * 5
    with pytest.raises(ValueError, match="validation arrays"):
        train(cfg, optim, arrays, tmp_path / "x.pt", tmp_path / "ckx", torch.device("cpu"), progress=False,
              validation=(held["y"], held["mu"]))
