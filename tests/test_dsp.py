import numpy as np
import torch

from restorebench.dsp import STFTConfig, from_channels, istft, istft_np, stft, stft_np, to_channels


def test_paper_geometry():
    cfg = STFTConfig(1022, 64)
    assert cfg.bins == 512
    assert cfg.frames(cfg.samples_for_frames(256)) == 256


def test_stft_istft_roundtrip():
    cfg = STFTConfig(254, 128)
    x = np.random.default_rng(0).standard_normal(cfg.samples_for_frames(64))
    spec = stft_np(x, cfg)
    assert spec.shape == (128, 64)
    assert np.max(np.abs(istft_np(spec, cfg, x.size) - x)) < 1e-10


def test_stft_matches_direct_dft_of_a_frame():
    cfg = STFTConfig(64, 16)
    x = np.random.default_rng(1).standard_normal(400)
    frame = 10  # centred frames: frame t covers x[t*hop - n_fft/2 : t*hop + n_fft/2]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(64) / 64)
    seg = x[frame * 16 - 32: frame * 16 + 32] * window
    assert np.allclose(stft_np(x, cfg)[:, frame], np.fft.rfft(seg), atol=1e-10)


def test_channel_packing_roundtrip():
    spec = torch.randn(3, 5, dtype=torch.complex64)
    packed = to_channels(spec)
    assert packed.shape == (2, 3, 5)
    assert torch.equal(from_channels(packed), spec)


def test_two_sided_stft_of_complex_pulses_roundtrips():
    cfg = STFTConfig(64, 8, two_sided=True)
    rng = np.random.default_rng(2)
    pulses = rng.standard_normal((3, 256)) + 1j * rng.standard_normal((3, 256))
    spec = stft_np(pulses, cfg)
    assert spec.shape == (3, 64, 33)
    assert np.max(np.abs(istft_np(spec, cfg, 256) - pulses)) < 1e-10
    # a complex tone at +f lands in bin +f only (two-sided: negative frequencies are distinct)
    tone = np.exp(2j * np.pi * 8 / 64 * np.arange(256))
    column = np.abs(stft_np(tone, cfg)[:, 16])
    assert np.argmax(column) == 8 and column[64 - 8] < 1e-6 * column[8]
