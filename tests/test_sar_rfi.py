"""S1 simulation: physical, free-running RFI emitters seen through each receiver's band, thermal noise, the
Eq. 13 label, and scenes whose content follows the sensor's resolution."""
import numpy as np
import pytest

from restorebench.data.scenes import make_scene, scatterer_positions
from restorebench.dsp import STFTConfig, stft_np
from restorebench.physics.rfi import (Emitter, add_rfi, add_thermal_noise, draw_emitters, emitter_signal,
                                      realised_sir_db, receive, rfi_label)
from restorebench.physics.sar import MINISAR_LIKE, SENTINEL1_LIKE, simulate_echoes


def occupied_bandwidth(x, sampling_hz, fraction=0.98):
    """Width of the band holding the central ``fraction`` of the power (independent FFT), along the last axis."""
    power = (np.abs(np.fft.fftshift(np.fft.fft(x, axis=-1), axes=-1)) ** 2).reshape(-1, x.shape[-1]).sum(axis=0)
    freqs = np.fft.fftshift(np.fft.fftfreq(x.shape[-1], 1 / sampling_hz))
    cumulative = np.cumsum(power) / power.sum()
    lo = freqs[np.searchsorted(cumulative, (1 - fraction) / 2)]
    hi = freqs[np.searchsorted(cumulative, 1 - (1 - fraction) / 2)]
    return hi - lo


@pytest.mark.parametrize("kind,bandwidth,period", [("narrowband", 20e6, 5e-6), ("chirp", 100e6, 1e-6),
                                                   ("sinusoidal", 120e6, 2 * 7 / 120e6)])
def test_each_kind_realises_its_bandwidth_around_its_carrier(kind, bandwidth, period):
    emitter = Emitter(kind, offset_hz=50e6, bandwidth_hz=bandwidth, period_s=period, amplitude=1.0,
                      on_lines=(0, 1), beta=6.0 if kind == "sinusoidal" else 0.0)
    rate = 1e9
    t = np.arange(int(4 * max(period, 2e-6) * rate)) / rate     # several sweeps
    wave = emitter_signal(emitter, t)
    assert np.allclose(np.abs(wave), 1.0)
    assert occupied_bandwidth(wave, rate) == pytest.approx(bandwidth, rel=0.15)
    spectrum = np.abs(np.fft.fft(wave)) ** 2
    centre = np.sum(np.fft.fftfreq(t.size, 1 / rate) * spectrum) / spectrum.sum()
    assert centre == pytest.approx(50e6, abs=0.1 * bandwidth)


@pytest.mark.parametrize("kind", ["narrowband", "chirp", "sinusoidal"])
def test_drawn_environment_follows_table_3_in_physical_units(kind):
    rng = np.random.default_rng(1)
    for _ in range(20):
        emitters = draw_emitters(kind, rng, band_share=0.5)
        if kind == "narrowband":
            assert len(emitters) == 2 and all(0.5e6 <= e.bandwidth_hz <= 30e6 for e in emitters)
        else:
            assert 3 <= len(emitters) <= 5 and all(30e6 <= e.bandwidth_hz <= 150e6 for e in emitters)
        for e in emitters:
            assert abs(e.offset_share) <= 0.25
            assert abs(e.placed(MINISAR_LIKE).offset_hz) <= 0.25 * MINISAR_LIKE.bandwidth_hz
            assert 0 <= e.on_lines[0] < e.on_lines[1] <= 1
            if kind == "sinusoidal":     # Carson's rule: B = 2 (beta + 1) f_m
                assert 2 * (e.beta + 1) / e.period_s == pytest.approx(e.bandwidth_hz)
            else:
                assert {"narrowband": 1e-6, "chirp": 0.1e-6}[kind] <= e.period_s <= \
                    {"narrowband": 50e-6, "chirp": 10e-6}[kind]


def test_one_emitter_seen_through_a_narrow_and_a_wide_receiver():
    """A 150 MHz sweep fills a 100 MHz receiver and stays 150 MHz wide in a 1.5 GHz one; nothing is
    recorded outside a receiver's band."""
    emitter = Emitter("chirp", offset_hz=0.0, bandwidth_hz=150e6, period_s=0.3e-6, amplitude=1.0, on_lines=(0, 1))
    for sensor, expected in ((SENTINEL1_LIKE, 100e6), (MINISAR_LIKE, 150e6)):
        rfi = receive([emitter], sensor, 64, 256)
        assert occupied_bandwidth(rfi, sensor.sampling_hz, 0.96) == pytest.approx(expected, rel=0.15)
        freqs = np.fft.fftfreq(256, 1 / sensor.sampling_hz)
        outside = np.abs(np.fft.fft(rfi, axis=-1))[:, np.abs(freqs) > sensor.bandwidth_hz / 2]
        assert outside.max() < 1e-9 * np.abs(rfi).max() * 256


def test_carriers_lie_anywhere_in_each_receivers_band_at_the_same_share_of_it():
    """Issue 36: position in the band gives nothing away. The carriers are uniform over the band (a
    Kolmogorov-Smirnov test of 400 draws), and one environment sits at the same share of a narrow and a wide
    receiver's band: its spectral centre at +0.3 B in both."""
    import scipy.stats

    rng = np.random.default_rng(4)
    shares = [e.offset_share for _ in range(100) for e in draw_emitters("narrowband", rng)]
    assert scipy.stats.kstest(shares, scipy.stats.uniform(loc=-0.5, scale=1.0).cdf).pvalue > 0.01
    assert min(shares) < -0.45 and max(shares) > 0.45
    emitter = Emitter("narrowband", 0.0, 2e6, 20e-6, 1.0, (0, 1), offset_share=0.3)
    for sensor in (SENTINEL1_LIKE, MINISAR_LIKE):
        rfi = receive([emitter], sensor, 8, 1024)
        spectrum = np.abs(np.fft.fft(rfi, axis=-1)).sum(axis=0) ** 2
        centre = np.sum(np.fft.fftfreq(1024, 1 / sensor.sampling_hz) * spectrum) / spectrum.sum()
        assert centre == pytest.approx(0.3 * sensor.bandwidth_hz, rel=0.05)
    with pytest.raises(ValueError, match="share of the receiver band"):
        draw_emitters("chirp", rng, band_share=1.5)


def test_emitters_free_run_across_pulses():
    """Each pulse catches a different part of a sweep: the peak frequency of one emitter wanders from pulse to
    pulse (a pulse-synchronous sweep would put it in the same bin every time)."""
    emitter = Emitter("chirp", offset_hz=0.0, bandwidth_hz=120e6, period_s=2.3e-6, amplitude=1.0, on_lines=(0, 1))
    rfi = receive([emitter], MINISAR_LIKE, 64, 256)       # 0.14 us windows: a short piece of the sweep each
    peak_bins = np.argmax(np.abs(np.fft.fft(rfi, axis=-1)), axis=-1)
    assert len(set(peak_bins.tolist())) > 10
    freqs = np.fft.fftfreq(256, 1 / MINISAR_LIKE.sampling_hz)[peak_bins]
    assert np.ptp(freqs) > 0.8 * 120e6
    # the environment's pulses decorrelate in a receiver whose record holds whole sweeps
    cfg = STFTConfig(32, 8, two_sided=True)
    inband = np.abs(np.fft.fftfreq(32, 1 / SENTINEL1_LIKE.sampling_hz)) <= SENTINEL1_LIKE.bandwidth_hz / 2
    correlations = []
    for seed in range(5):
        rfi = receive(draw_emitters("chirp", np.random.default_rng(seed)), SENTINEL1_LIKE, 128, 1024)
        lines = np.where(np.any(rfi != 0, axis=1))[0]
        tf = np.abs(stft_np(rfi[lines], cfg))[:, inband]
        correlations += [np.corrcoef(tf[i].ravel(), tf[i + 1].ravel())[0, 1] for i in range(len(lines) - 1)]
    assert np.mean(correlations) < 0.4                    # measured 0.12 (the old synchronous model: 0.85-1.0)


@pytest.mark.parametrize("sir", [-15.0, -7.3, 0.0])
def test_rfi_hits_the_requested_sir(sir):
    scene = make_scene((128, 1024), MINISAR_LIKE, seed=3)
    echoes = simulate_echoes(scene.reflectivity, MINISAR_LIKE)
    interference = add_rfi(echoes, MINISAR_LIKE, "chirp", sir, np.random.default_rng(4))
    assert realised_sir_db(echoes, interference) == pytest.approx(sir, abs=1e-3)
    assert 0 < interference.lines.sum() < 128
    assert not np.any(interference.rfi[~interference.lines])


def test_thermal_noise_has_the_stated_snr_inside_the_receiver_band():
    scene = make_scene((128, 1024), SENTINEL1_LIKE, seed=3)
    echoes = simulate_echoes(scene.reflectivity, SENTINEL1_LIKE)
    noisy = add_thermal_noise(echoes, SENTINEL1_LIKE, 10.0, np.random.default_rng(0))
    noise = noisy - echoes
    assert 10 * np.log10(np.mean(np.abs(echoes) ** 2) / np.mean(np.abs(noise) ** 2)) == pytest.approx(10.0, abs=0.01)
    spectrum = np.abs(np.fft.fft(noise, axis=-1)) ** 2
    freqs = np.fft.fftfreq(1024, 1 / SENTINEL1_LIKE.sampling_hz)
    inside = np.abs(freqs) <= SENTINEL1_LIKE.bandwidth_hz / 2
    assert spectrum[:, ~inside].max() < 1e-6 * spectrum[:, inside].mean()
    profile = spectrum[:, inside].mean(axis=0)
    assert profile.std() / profile.mean() < 0.1             # white inside the band
    assert np.array_equal(add_thermal_noise(echoes, SENTINEL1_LIKE, np.inf, np.random.default_rng(0)), echoes)


def test_label_marks_where_rfi_dominates():
    cfg = STFTConfig(32, 4, two_sided=True)
    rng = np.random.default_rng(5)
    echoes = 0.1 * (rng.standard_normal((2, 256)) + 1j * rng.standard_normal((2, 256)))
    rfi = np.zeros_like(echoes)
    rfi[0] = np.exp(2j * np.pi * 4 / 32 * np.arange(256))     # strong tone in bin 4 on line 0
    label = rfi_label(echoes, rfi, cfg)
    assert label.shape == (2, 32, 65)
    assert label[0, 4].mean() == 1.0          # the tone's bin, every frame
    assert label[0, 16].mean() < 0.1          # far from the tone the echo dominates
    assert label[1].sum() == 0                # no RFI on line 1


def test_scene_is_deterministic_and_its_content_follows_the_resolution():
    a = make_scene((128, 1024), MINISAR_LIKE, seed=7)
    assert np.array_equal(a.reflectivity, make_scene((128, 1024), MINISAR_LIKE, seed=7).reflectivity)
    assert not np.array_equal(make_scene((128, 1024), MINISAR_LIKE, seed=8).reflectivity, a.reflectivity)
    gains = {}
    for sensor in (MINISAR_LIKE, SENTINEL1_LIKE):
        counts, gain = [], []
        for seed in range(6):
            scene = make_scene((128, 1024), sensor, seed=seed)
            points = scatterer_positions(scene.scatterers)
            counts.append(len(points))
            power = np.abs(scene.reflectivity) ** 2
            gain += [10 * np.log10(power[az, rg] / scene.clutter_mean) for az, rg in points]
            assert np.all(scene.scatterers[len(points):] == -1)
        gains[sensor.name] = np.median(gain)
        if sensor is MINISAR_LIKE:     # a 53 x 21 m patch: the 4 placed points
            assert counts == [4] * 6
        else:                          # a 2.9 x 0.26 km swath at 50 strong scatterers per km^2
            assert np.mean(counts) > 20
    # the same 20-40 dBsm scatterers stand ~28 dB further above the clutter of a 0.035 m^2 pixel than of a
    # 22 m^2 one (band-limiting spreads a point over its resolution cell, which costs the coarse sensor less)
    assert gains["minisar-like"] - gains["sentinel1-like"] > 15


def test_clean_echoes_of_the_two_sensors_differ_in_their_time_frequency_statistics():
    """The cross-sensor test must change the sensor: the clean echoes' occupied band (f_s / B) and their
    power kurtosis (bright chirps of strong scatterers at fine resolution vs Gaussian-like clutter) differ."""
    cfg = STFTConfig(32, 8, two_sided=True)
    stats = {}
    for sensor in (MINISAR_LIKE, SENTINEL1_LIKE):
        occupied, kurtosis = [], []
        for seed in range(3):
            scene = make_scene((128, 1024), sensor, seed=seed)
            clean = add_thermal_noise(simulate_echoes(scene.reflectivity, sensor), sensor, 10.0,
                                      np.random.default_rng(seed))
            power = np.abs(stft_np(clean, cfg)) ** 2
            profile = power.mean(axis=(0, 2))
            occupied.append(np.mean(profile > 0.1 * profile.max()))
            kurtosis.append(np.mean(power ** 2) / np.mean(power) ** 2)
        stats[sensor.name] = (np.mean(occupied), np.mean(kurtosis))
    # measured: occupied 0.91 vs 0.72 of the bins; kurtosis 90 vs 4.2
    assert stats["minisar-like"][0] - stats["sentinel1-like"][0] > 0.1
    assert stats["minisar-like"][1] > 2 * stats["sentinel1-like"][1]


def test_bad_rfi_arguments():
    echoes = np.ones((8, 64), dtype=np.complex64)
    with pytest.raises(ValueError, match="unknown RFI kind"):
        add_rfi(echoes, MINISAR_LIKE, "pulsed", -5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="outside"):
        add_rfi(echoes, MINISAR_LIKE, "chirp", -60, np.random.default_rng(0))


def test_audit_reports_what_the_claims_depend_on():
    """The audit (restorebench s1-audit) on one small scene per sensor and kind: the chirps fit the scene,
    the two sensors' clean echoes differ, and zeroing every affected pulse wins on ME by throwing energy away
    (why the claims page puts the image energy beside ME)."""
    from restorebench.experiments.sar_rfi_audit import audit, format_audit

    result = audit((64, 1024), scenes=1)
    for sensor, geometry in result["geometry"].items():
        assert geometry["aperture_lines"] < geometry["scene_lines"]
        assert geometry["chirp_samples"] < geometry["record_samples"] / 2
    assert result["clean_tf"]["minisar-like"]["power_kurtosis"] > 2 * result["clean_tf"]["sentinel1-like"]["power_kurtosis"]
    for sensor, rows in result["me_of_zeroing"].items():
        assert rows["affected pulses zeroed"]["energy"] < 0.5
        assert rows["affected pulses zeroed"]["me"] < rows["clean"]["me"] < rows["interfered"]["me"]
        oracles = result["oracles"][sensor]
        assert oracles["true mask zeroed"] > oracles["interfered"] + 5
    assert 0 < result["scatterer_cells"]["minisar-like"]["dominated_share"] < 1
    assert "# rfi_pulse_correlation" in format_audit(result)


def test_both_test_sets_face_the_same_interference_and_sirs_cover_the_range(tmp_path):
    """Scene i of the same-sensor and of the cross-sensor test set gets the same RFI kind, SIR and emitters;
    SIRs are stratified, one per 1/n-th of the range."""
    from restorebench.files import load_npz
    from restorebench.experiments.sar_rfi import Geometry, make_split

    geometry = Geometry(64, 1024, 32, 8)
    kinds = ("narrowband", "chirp", "sinusoidal")
    make_split("test-same", "minisar-like", 4, geometry, (-15.0, 0.0), kinds, 0, tmp_path / "same.npz")
    make_split("test-cross", "sentinel1-like", 4, geometry, (-15.0, 0.0), kinds, 0, tmp_path / "cross.npz")
    make_split("train", "minisar-like", 4, geometry, (-15.0, 0.0), kinds, 0, tmp_path / "train.npz")
    same, cross, train = (load_npz(tmp_path / f"{n}.npz") for n in ("same", "cross", "train"))
    assert np.array_equal(same["sir_db"], cross["sir_db"]) and np.array_equal(same["kind"], cross["kind"])
    assert not np.array_equal(same["sir_db"], train["sir_db"])            # training draws its own
    for data in (same, train):
        strata = np.floor((data["sir_db"] + 15.0) / 15.0 * 4).astype(int)
        assert sorted(strata.tolist()) == [0, 1, 2, 3]
        np.testing.assert_allclose(data["realised_sir_db"], data["sir_db"], atol=1e-3)
    # the same emitters: on the affected lines of scene 0, the RFI of both sensors is on the same pulses
    same_lines = np.any(same["rfi"][0] != 0, axis=1)
    cross_lines = np.any(cross["rfi"][0] != 0, axis=1)
    assert np.array_equal(same_lines, cross_lines) and same_lines.any()
    assert same["point_echoes"].shape == same["echoes"].shape


def test_training_and_evaluation_features_of_the_same_pulses_are_identical(tmp_path):
    """One normalisation everywhere: the features s1-training-images computes for the pulses it draws equal
    the ones evaluation and suppress-rfi compute on the whole record (clean pulses included), for both
    sensors; the old per-set median differed by a factor 0.33-0.92."""
    from restorebench.files import load_npz
    from restorebench.dsp import STFTConfig
    from restorebench.experiments.sar_rfi import Geometry, make_split, training_images, training_lines
    from restorebench.methods.rfi_suppression import FEATURES, network_input, spectrograms

    geometry = Geometry(64, 1024, 32, 8)
    kinds = ("narrowband", "chirp", "sinusoidal")
    for sensor in ("minisar-like", "sentinel1-like"):
        split = tmp_path / f"{sensor}.npz"
        make_split("train", sensor, 3, geometry, (-15.0, 0.0), kinds, 0, split)
        training_images(split, 4, 1, 0, tmp_path / f"{sensor}_images.npz")
        images, data = load_npz(tmp_path / f"{sensor}_images.npz"), load_npz(split)
        assert (int(images["feature_n_fft"]), int(images["feature_hop"])) == (32, 8)
        assert str(images["feature_normalisation"]) == FEATURES
        rng = np.random.default_rng(0)          # the draw training_images makes
        cfg = STFTConfig(32, 8, two_sided=True)
        expected = []
        for clean, rfi in zip(data["echoes"], data["rfi"]):
            chosen = training_lines(rfi, 4, rng)
            whole_record = network_input(spectrograms(clean + rfi, cfg))      # evaluation: every pulse at once
            expected.append(whole_record[chosen])
            assert len(chosen) < len(rfi)                                      # clean pulses are in the record
        np.testing.assert_array_equal(images["features"], np.concatenate(expected))


def test_suppress_rfi_uses_the_stft_the_network_was_trained_with(tmp_path, capsys):
    from restorebench.cli import main
    from restorebench.methods.rfi_suppression import feature_meta
    from restorebench.methods.train_rfi import RFINetConfig, train
    from restorebench.methods.training import OptimConfig

    x = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    net = RFINetConfig("difnet", dict(channels=4, window=4, levels=1))
    train(net, OptimConfig(epochs=1, batch_size=2), x, (x > 0.5).astype(np.float32), tmp_path / "difnet.pt",
          tmp_path / "ckpt", progress=False, features=feature_meta(32, 8))
    echoes = (np.random.default_rng(1).normal(size=(8, 256)) + 1j).astype(np.complex64)
    np.save(tmp_path / "echoes.npy", echoes)
    base = ["suppress-rfi", "--method", "difnet", "--checkpoint", str(tmp_path / "difnet.pt"),
            "--input", str(tmp_path / "echoes.npy"), "--output", str(tmp_path / "out.npy"), "--device", "cpu"]
    assert main(base) == 0 and np.load(tmp_path / "out.npy").shape == echoes.shape
    assert main(base + ["--n-fft", "64"]) == 2
    assert "trained with STFT size 32 and hop 8, not 64 and 8" in capsys.readouterr().err
    train(net, OptimConfig(epochs=1, batch_size=2), x, x, tmp_path / "old.pt", tmp_path / "ckpt2", progress=False)
    assert main([*base[:4], str(tmp_path / "old.pt"), *base[5:]]) == 2
    assert "do not record their STFT" in capsys.readouterr().err


def test_the_pages_state_how_the_notch_was_tuned_as_the_run_tuned_it(tmp_path):
    """C1/C3/C5's "why it may differ" sentences are generated from the calibration file: the notch is tuned
    once, on the training sensor's pulses, and the same file serves both test sets (the workflow's inputs)."""
    import json

    from restorebench.experiments.sar_rfi import Geometry, calibrate_notch, make_split
    from restorebench.experiments.sar_rfi_report import notch_tuning_text, s1_claims
    from restorebench.methods.notch import CFARConfig

    geometry = Geometry(64, 1024, 32, 8)
    make_split("train", "minisar-like", 2, geometry, (-15.0, 0.0), ("narrowband",), 0, tmp_path / "train.npz")
    facts = calibrate_notch(tmp_path / "train.npz", 4, 0, CFARConfig(), tmp_path / "notch.json")
    assert facts == json.loads((tmp_path / "notch.json").read_text())
    text = notch_tuning_text(facts)
    assert f"on {facts['pulses']} minisar-like training pulses" in text and facts["pulses"] == 8
    assert f"P_fa {facts['cfar']['pfa']:g}; nominal {CFARConfig().pfa:g}" in text
    claims = {c.id: c for c in s1_claims(calibration=facts)}
    assert text in claims["C3"].if_contradicted and "tuned per sensor" not in claims["C3"].if_contradicted
    # the workflow hands the one calibration file to the notch's evaluation on both sensors
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for item in ("Snakefile", "config.yaml", "workflow"):
        os.symlink(root / item, tmp_path / item)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "-p", "--forceall", "--config",
                           "scale=tiny", "--", "s1_claims"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    commands = [line.removeprefix("Shell command: ") for line in proc.stdout.splitlines()
                if line.startswith("Shell command: restorebench ")]
    # each replicate's evaluations read that replicate's calibration (tiny: 2 replicates x 2 test splits): the
    # shared pulse detector for every method, the tuned rule for the calibrated ones
    evaluations = [c for c in commands if "s1-evaluate" in c]
    notch = [c for c in evaluations if "--method notch " in c]
    assert len(notch) == 4
    for replicate in (0, 1):
        mine = [c for c in evaluations if f"--split-file results/s1/data/seed{replicate}/" in c]
        assert len(mine) == 2 * 8
        assert all(f"--calibration results/s1/models/calibration/seed{replicate}.json" in c for c in mine)
    assert any("s1-claims" in c and "--notch-calibration results/s1/models/calibration/seed0.json" in c
               for c in commands)


def test_the_position_mask_zeroes_the_bins_most_often_interfered_on_training_pulses():
    from restorebench.methods.position_mask import calibrate_position_bins, position_mask
    from restorebench.metrics.segmentation import iou

    rng = np.random.default_rng(0)
    band = np.ones(16, dtype=bool)
    band[:2] = False                                   # out-of-band bins are never candidates
    labels = []
    for _ in range(3):
        label = np.zeros((5, 16, 8), dtype=bool)
        label[:, 6:9, :] = rng.random((5, 3, 8)) < 0.9   # interference sits mostly in bins 6-8 ...
        label[:, 12, :] = rng.random((5, 8)) < 0.1       # ... and rarely in bin 12
        label[:, 0, :] = True                            # out of band: ignored
        labels.append(label)
    bins, scores = calibrate_position_bins(labels, band)
    assert bins == [6, 7, 8]
    # the pooled IoU it reports is the one the mask scores on the same pulses
    pooled = np.concatenate([lab[:, band] for lab in labels])
    mask = position_mask((15, 16, 8), bins)[:, band]
    assert scores[3] == pytest.approx(iou(mask, pooled)) and scores[3] == max(scores.values())
    assert scores[0] == 0.0


def test_floors_are_registered_marked_and_always_run(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from restorebench import registry

    floors = {m.name for m in registry.methods("S1", "rfi") if m.floor}
    assert floors == {"notch-untuned", "position-mask"}
    assert {m.name for m in registry.methods("S4", "declipper") if m.floor} >= {"clipped", "aspade"}
    assert registry.label("S1", "rfi", "position-mask") == "Position-only mask (floor)"
    # a config that lists no floor still runs them
    root = Path(__file__).resolve().parents[1]
    for item in ("Snakefile", "workflow"):
        os.symlink(root / item, tmp_path / item)
    config = (root / "config.yaml").read_text().replace(
        "methods: [interfered, notch, pisnet, difnet, notch-untuned, position-mask, oracle-mask, oracle-magnitude]",
        "methods: [interfered, notch, pisnet, difnet]")
    assert "methods: [interfered, notch, pisnet, difnet]" in config
    (tmp_path / "config.yaml").write_text(config)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "-p", "--forceall", "--config",
                           "scale=tiny", "--", "s1_claims"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for floor in floors:
        assert f"--method {floor} " in proc.stdout


def test_figures_show_scenes_spread_over_the_band_the_same_for_every_method(tmp_path):
    """Figures 6-9's scenes: the lowest, middle and highest by where the shown pulse's interference peaks
    (a share of the receiver band), picked from the interference alone; the figure refuses examples that
    show different scenes."""
    from restorebench.experiments.sar_rfi import example_scenes
    from restorebench.experiments.sar_rfi_report import spectrogram_figure

    sensor = MINISAR_LIKE
    samples, lines = 256, 8
    t = np.arange(samples) / sensor.sampling_hz
    shares = [0.1, -0.4, 0.3, 0.0, -0.2]          # one tone per scene, at these shares of the band
    rfi = np.zeros((len(shares), lines, samples), dtype=np.complex64)
    for scene, share in enumerate(shares):
        rfi[scene, 2:6] = np.exp(2j * np.pi * share * sensor.bandwidth_hz * t)
    picked = example_scenes(rfi, sensor)
    assert list(picked) == [1, 3, 2]                               # -0.4, 0.0, +0.3: lowest, middle, highest
    assert [line for line, _ in picked.values()] == [4, 4, 4]      # the middle one of the affected lines 2..5
    bin_share = sensor.sampling_hz / samples / sensor.bandwidth_hz
    np.testing.assert_allclose([s for _, s in picked.values()], [-0.4, 0.0, 0.3], atol=bin_share)
    assert list(example_scenes(rfi[:2], sensor)) == [1, 0]         # fewer scenes than shown: all, in band order

    def examples(path, scenes):
        n = len(scenes)
        np.savez(path, scene=np.asarray(scenes), line=np.full(n, 4), band_share=np.zeros(n),
                 kind=np.asarray(["chirp"] * n), sir_db=np.zeros(n), spectrogram=np.ones((n, 8, 4)),
                 interfered_spectrogram=np.ones((n, 8, 4)), label=np.zeros((n, 8, 4), np.uint8),
                 mask=np.zeros((n, 8, 4), bool), image=np.ones((n, 4, 4)), clean_image=np.ones((n, 4, 4)),
                 freq_mhz=np.fft.fftfreq(8, 1 / 800.0), half_band_mhz=np.asarray(300.0))
        return path

    same = {"interfered": examples(tmp_path / "a.npz", [1, 3, 2]), "notch": examples(tmp_path / "b.npz", [1, 3, 2])}
    spectrogram_figure(same, tmp_path / "ok.png", "t")
    assert (tmp_path / "ok.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="b.npz: shows scenes"):
        spectrogram_figure({**same, "notch": examples(tmp_path / "b.npz", [1, 2, 3])}, tmp_path / "bad.png", "t")
    assert not (tmp_path / "bad.png").exists()


def test_per_sir_figure_gives_a_method_the_same_colour_in_both_panels(tmp_path, monkeypatch):
    """IoU has no image-only methods (the interfered image, PISNet): colours must not shift between panels."""
    import pandas as pd

    from restorebench.experiments import sar_rfi_report

    rows = [{"method": method, "metric": metric, "sir_db": sir, "split": "test-same", "value": 0.5 + sir / 100}
            for method, metrics in (("interfered", ("psnr",)), ("notch", ("psnr", "iou")),
                                    ("pisnet", ("psnr",)), ("difnet", ("psnr", "iou")))
            for metric in metrics for sir in (-40.0, -32.0, -26.0)]
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    saved = {}
    monkeypatch.setattr(sar_rfi_report, "_save", lambda fig, output: saved.setdefault("fig", fig))
    sar_rfi_report.sir_figure(tmp_path / "m.csv", tmp_path / "f.png")
    colours = [{text.get_text(): tuple(handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor())
                for text, handle in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)}
               for ax in saved["fig"].axes]
    psnr, iou = colours
    assert set(iou) < set(psnr) and len(iou) == 2
    for name in iou:
        assert iou[name] == psnr[name], name
