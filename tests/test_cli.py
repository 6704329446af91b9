import json

import numpy as np
import pytest
import soundfile as sf

from restorebench.cli import main
from restorebench.metrics.audio import snr_db


def _speechlike(n=16000):
    t = np.arange(n) / 16000
    f0 = 130 + 25 * np.sin(2 * np.pi * 2.5 * t)
    x = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 16000) / k for k in range(1, 15))
    return (0.9 * x * (0.55 + 0.45 * np.sin(2 * np.pi * 3 * t)) / np.max(np.abs(x))).astype(np.float32)


def test_score_audio_prints_every_metric(tmp_path, capsys):
    clean = _speechlike()
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.size).astype(np.float32)
    sf.write(tmp_path / "clean.wav", clean, 16000, subtype="FLOAT")
    sf.write(tmp_path / "noisy.wav", noisy, 16000, subtype="FLOAT")
    assert main(["score-audio", "--reference", str(tmp_path / "clean.wav"),
                 "--estimate", str(tmp_path / "noisy.wav")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["metrics"]) == {"snr", "psnr_peak", "spectral_snr", "envelope_distance", "pesq_wb", "pesq_nb"}
    assert out["metrics"]["snr"] == pytest.approx(snr_db(clean, noisy), abs=1e-4)


def test_score_audio_resamples_with_warning(tmp_path, capsys):
    clean = _speechlike(16000)
    sf.write(tmp_path / "c.wav", clean, 16000, subtype="FLOAT")
    sf.write(tmp_path / "e48.wav", np.repeat(clean, 3), 48000, subtype="FLOAT")
    assert main(["score-audio", "--reference", str(tmp_path / "c.wav"), "--estimate",
                 str(tmp_path / "e48.wav"), "--no-pesq"]) == 0
    captured = capsys.readouterr()
    assert "resampling from 48000 Hz to 16000 Hz" in captured.err
    assert json.loads(captured.out)["samples"] == 16000


def test_score_audio_silent_file_is_a_clear_error(tmp_path, capsys):
    sf.write(tmp_path / "c.wav", _speechlike(), 16000, subtype="FLOAT")
    sf.write(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), 16000, subtype="FLOAT")
    assert main(["score-audio", "--reference", str(tmp_path / "c.wav"),
                 "--estimate", str(tmp_path / "silent.wav")]) == 2
    err = capsys.readouterr().err
    assert "silent.wav" in err and "silent" in err


def test_restore_audio_denoise_and_inpaint(tmp_path, capsys):
    clean = _speechlike(4000)
    noisy = clean + 0.1 * np.random.default_rng(1).standard_normal(clean.size).astype(np.float32)
    sf.write(tmp_path / "noisy.wav", noisy, 16000, subtype="FLOAT")
    common = ["--prior", "exp-dense", "--iterations", "40", "--widths", "4,8,16", "--n-fft", "126",
              "--hop", "32", "--es-window", "3", "--es-patience", "3", "--select", "final", "--device", "cpu"]
    assert main(["restore-audio", "--task", "denoise", "--input", str(tmp_path / "noisy.wav"),
                 "--output", str(tmp_path / "out.wav"), *common]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["iterations"] == 40
    restored, rate = sf.read(tmp_path / "out.wav")
    assert rate == 16000 and restored.shape == clean.shape and np.all(np.isfinite(restored))
    mask = np.ones(clean.size)
    mask[1500:2200] = 0
    np.save(tmp_path / "mask.npy", mask)
    assert main(["restore-audio", "--task", "inpaint", "--input", str(tmp_path / "noisy.wav"),
                 "--mask", str(tmp_path / "mask.npy"), "--output", str(tmp_path / "in.wav"), *common]) == 0
    bad = np.full(7, 2.0)
    np.save(tmp_path / "bad.npy", bad)
    assert main(["restore-audio", "--task", "inpaint", "--input", str(tmp_path / "noisy.wav"),
                 "--mask", str(tmp_path / "bad.npy"), "--output", str(tmp_path / "x.wav"), *common]) == 2
    assert "bad.npy" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()
