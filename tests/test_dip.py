import math

import numpy as np
import pytest
import torch

from restorebench.dsp import STFTConfig
from restorebench.methods.dip import (FitConfig, WindowedVariance, estimate_to_waves, exclusion_loss,
                                      fit_denoise, fit_inpaint, fit_separation)
from restorebench.metrics.audio import snr_db

CFG = STFTConfig(62, 16)
SMALL = dict(widths=(4, 8, 16), es_window=3, es_patience=3, device="cpu")


def _tone(n, f=500.0):
    t = np.arange(n) / 16000
    return (0.5 * np.sin(2 * np.pi * f * t) * np.hanning(n)).astype(np.float32)


def test_fit_lowers_loss_and_records_consistent_trajectory():
    clean = _tone(CFG.samples_for_frames(32))
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.size).astype(np.float32)
    result = fit_denoise(noisy, clean, "exp-dense", CFG, FitConfig(iterations=150, **SMALL))
    assert result.loss_trajectory[-1] < 0.2 * result.loss_trajectory[0]
    # the recorded SNR of the final iterate equals the SNR computed independently from its waveform
    final_wave = estimate_to_waves(result.final, CFG, clean.size)[0]
    assert result.snr_trajectory[-1] == pytest.approx(snr_db(clean, final_wave), abs=1e-3)
    oracle_wave = estimate_to_waves(result.oracle, CFG, clean.size)[0]
    assert snr_db(clean, oracle_wave) == pytest.approx(np.nanmax(result.snr_trajectory), abs=1e-3)
    assert result.snr_trajectory[result.oracle_iteration - 1] == pytest.approx(np.nanmax(result.snr_trajectory))
    assert 1 <= result.es_selected_iteration <= result.es_stop_iteration <= 150


def test_fit_is_bit_identical_on_rerun():
    clean = _tone(CFG.samples_for_frames(32))
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.size).astype(np.float32)
    a = fit_denoise(noisy, clean, "conv", CFG, FitConfig(iterations=10, **SMALL))
    b = fit_denoise(noisy, clean, "conv", CFG, FitConfig(iterations=10, **SMALL))
    assert np.array_equal(a.final, b.final)


def test_inpainting_loss_ignores_masked_frames():
    clean = _tone(CFG.samples_for_frames(32))
    mask = np.ones(32, dtype=np.float32)
    mask[10:16] = 0
    garbage = clean.copy()
    # corrupt samples whose frames are all masked: the fit must not see them
    garbage[11 * 16 + 31: 15 * 16 - 31 + 16] += 5.0
    a = fit_inpaint(clean, clean, mask, "conv", CFG, FitConfig(iterations=5, **SMALL))
    b = fit_inpaint(garbage, clean, mask, "conv", CFG, FitConfig(iterations=5, **SMALL))
    assert np.allclose(a.loss_trajectory, b.loss_trajectory, rtol=1e-5)


def test_windowed_variance_fires_after_patience():
    like = torch.zeros(4)
    wmv = WindowedVariance(window=2, patience=3, like=like)
    # the relative variance falls, reaches its minimum at record 3, then rises
    values = [1.0, 2.0, 2.1, 2.11, 3.0, 5.0, 9.0, 17.0, 40.0]
    on = torch.tensor(True)
    out = [float(wmv.update(torch.full((4,), v), r, on)) for r, v in enumerate(values)]
    assert math.isnan(out[0])
    assert int(wmv.best_record) == 3
    assert int(wmv.stop_record) == 6          # three records without improvement after record 3
    assert torch.allclose(wmv.best, torch.full((4,), 2.11))


def test_windowed_variance_waits_for_its_start_condition():
    wmv = WindowedVariance(window=2, patience=2, like=torch.zeros(3))
    values = [1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 9.0, 20.0, 40.0]
    started = [False] * 5 + [True] * 5
    out = [float(wmv.update(torch.full((3,), v), r, torch.tensor(s)))
           for r, (v, s) in enumerate(zip(values, started))]
    # constant estimates before the start (variance 0) must not be chosen
    assert all(math.isnan(v) for v in out[:6])
    assert int(wmv.best_record) == 6 and int(wmv.stop_record) == 8


def test_exclusion_loss_small_for_disjoint_supports():
    a = torch.zeros(1, 1, 16, 16)
    b = torch.zeros(1, 1, 16, 16)
    a[..., :8, :] = torch.rand(8, 16)
    b[..., 8:, :] = torch.rand(8, 16)
    overlap = torch.rand(1, 1, 16, 16)
    assert exclusion_loss(a, b, 2) < 0.5 * exclusion_loss(overlap, overlap.clone(), 2)


def test_separation_fit_returns_two_sources_summing_to_the_reconstruction():
    n = CFG.samples_for_frames(32)
    s = np.stack([_tone(n, 400), _tone(n, 3000)])
    result = fit_separation(s.sum(0), s, "conv", CFG, FitConfig(iterations=30, **SMALL))
    assert result.final.shape == (2, 2, 32, 32)
    assert result.loss_trajectory[-1] < result.loss_trajectory[0]


def test_the_fitting_loop_reads_nothing_back_from_the_device_per_iteration(monkeypatch):
    """On a GPU every host read (.item(), bool(), float() of a tensor) and every tensor built from a Python
    number (a blocking copy) stalls the loop. Counted on the CPU: doubling the iterations may add only the
    early-stopping check every 16 iterations, nothing per iteration."""
    clean = _tone(CFG.samples_for_frames(32))
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.size).astype(np.float32)
    made = {"n": 0}
    real_tensor = torch.tensor

    def counting_tensor(*args, **kwargs):
        made["n"] += 1
        return real_tensor(*args, **kwargs)

    def counts(iterations):
        made["n"] = 0
        monkeypatch.setattr(torch, "tensor", counting_tensor)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            fit_denoise(noisy, clean, "conv", CFG, FitConfig(iterations=iterations, stop_rule="es",
                                                             **{**SMALL, "es_patience": 10_000}))
        monkeypatch.setattr(torch, "tensor", real_tensor)
        def in_optimizer(event):   # Adam reads its step counts, which live on the CPU even for a GPU fit
            while event is not None:
                if event.name.startswith("Optimizer.step"):
                    return True
                event = event.cpu_parent
            return False

        reads = sum(1 for e in prof.events() if e.name == "aten::_local_scalar_dense" and not in_optimizer(e))
        return made["n"], reads

    tensors_64, reads_64 = counts(64)
    tensors_128, reads_128 = counts(128)
    assert tensors_128 == tensors_64, (tensors_64, tensors_128)
    assert reads_128 - reads_64 <= 64 // 16, (reads_64, reads_128)
