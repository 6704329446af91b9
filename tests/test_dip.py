import math

import numpy as np
import pytest
import torch
from conftest import host_reads

from restorebench.dsp import STFTConfig
from restorebench.losses.audio_priors import exclusion_loss
from restorebench.methods.dip import (FitConfig, WindowedVariance, estimate_to_waves, fit_denoise, fit_inpaint,
                                      fit_separation)
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
        return made["n"], host_reads(prof)

    tensors_64, reads_64 = counts(64)
    tensors_128, reads_128 = counts(128)
    assert tensors_128 == tensors_64, (tensors_64, tensors_128)
    assert reads_128 - reads_64 <= 64 // 16, (reads_64, reads_128)


def _noisy_clips(n_clips, frames=32, sigma=0.1):
    rng = np.random.default_rng(7)
    n = CFG.samples_for_frames(frames)
    clean = [_tone(n, f) for f in (300.0, 700.0, 1500.0)[:n_clips]]
    return clean, [c + sigma * rng.standard_normal(n).astype(np.float32) for c in clean]


def test_a_batched_fit_follows_each_fits_own_trajectory():
    """run_fits_batched stacks the clips' networks into one vmapped call and sums their losses: each fit must
    follow the trajectory it follows alone (to float rounding), stopping rules included.

    "To float rounding" is measured, not assumed: how far rounding can carry a trajectory depends on the CPU's
    kernels (AVX-512, AVX2 or the default path sum in different orders), and Adam amplifies it over the
    iterations. So each fit is also run alone on its observation changed by a few ulps (noise 1e-6 of its peak): over
    the whole run a batched fit may stray from its lone fit by no more than three times the most any of those
    perturbed fits strays (rounding's reach on this CPU; how far one given fit strays is itself chaotic), and
    before Adam has amplified anything (the first 60 iterations) it must agree to 1e-4 dB. A mix-up of fits or
    a wrong summed loss moves trajectories by decibels."""
    from dataclasses import replace

    from restorebench.methods.dip import run_fits_batched, setup_inpaint

    clean, noisy = _noisy_clips(3)
    # the paper's learning rate: at 1e-2 Adam amplifies float rounding into visibly different trajectories
    # within 100 iterations, as any change of convolution kernel would
    cfg = FitConfig(iterations=120, memory_format="contiguous", discrepancy_tau=4.0, **SMALL)
    mask = np.ones(32, dtype=np.float32)
    mask[12:18] = 0
    masks = [None, mask, None]          # a denoising and an inpainting fit share the batch

    def problem(k, observed=None):
        observed = noisy[k] if observed is None else observed
        return setup_inpaint(observed, clean[k], masks[k], "exp-dense", CFG, replace(cfg, seed=1000 * k),
                             noise_std=0.1)

    alone = [problem(k).run(replace(cfg, seed=1000 * k)) for k in range(3)]
    batched = run_fits_batched([problem(k) for k in range(3)], cfg)
    # a few ulps of independent noise (a common scale factor would be normalised away)
    ulps = np.random.default_rng(1).standard_normal(noisy[0].size).astype(np.float32)
    rounding = [problem(k, noisy[k] + np.float32(1e-6) * np.abs(noisy[k]).max() * ulps).run(replace(cfg, seed=1000 * k))
                for k in range(3)]
    # the clips differ, so the trajectories do: a mix-up of fits would show
    assert abs(alone[0].snr_trajectory[-1] - alone[2].snr_trajectory[-1]) > 1.0, [a.snr_trajectory[-1] for a in alone]
    early = 60
    snr = [[np.asarray(x.snr_trajectory) for x in fits] for fits in (alone, batched, rounding)]
    loss = [[np.asarray(x.loss_trajectory) for x in fits] for fits in (alone, batched, rounding)]
    reach_snr = max(np.max(np.abs(r - a)) for a, r in zip(snr[0], snr[2]))
    reach_loss = max(np.max(np.abs(r / a - 1)) for a, r in zip(loss[0], loss[2]))
    for k, (a, b, r) in enumerate(zip(alone, batched, rounding)):
        np.testing.assert_allclose(snr[1][k][:early], snr[0][k][:early], atol=1e-4)
        np.testing.assert_allclose(loss[1][k][:early], loss[0][k][:early], rtol=1e-5)
        assert np.max(np.abs(snr[1][k] - snr[0][k])) <= 3 * reach_snr + 1e-4
        assert np.max(np.abs(loss[1][k] / loss[0][k] - 1)) <= 3 * reach_loss + 1e-5
        assert np.linalg.norm(b.final - a.final) < 1e-2 * np.linalg.norm(a.final)
        # a rule whose stop a few ulps of input do not move must not move with batching either
        steady = [rule for rule, stop in a.stop_iterations.items() if r.stop_iterations[rule] == stop]
        assert {rule: b.stop_iterations[rule] for rule in steady} == {rule: a.stop_iterations[rule] for rule in steady}
        assert b.extras["batched_fits"] == 3
    assert any(a.stop_iterations["dp-known"] < 120 for a in alone)           # a rule fired inside the run


def test_a_batched_separation_stacks_the_source_priors_and_matches_separate_fits():
    from dataclasses import replace

    from restorebench.methods.dip import _architecture, run_fits_batched, setup_separation

    clean, _ = _noisy_clips(3)
    sources = [np.stack([clean[0], clean[1]]), np.stack([clean[1], clean[2]])]
    cfg = FitConfig(iterations=30, memory_format="contiguous", **SMALL)

    def problem(k):
        return setup_separation(sources[k].sum(0), sources[k], "conv", CFG, replace(cfg, seed=1000 * k))

    nets = problem(0).nets
    # the two source priors share an architecture (one group), the sigmoid mask prior does not
    assert _architecture(nets[0]) == _architecture(nets[1]) != _architecture(nets[2])
    alone = [problem(k).run(replace(cfg, seed=1000 * k)) for k in range(2)]
    batched = run_fits_batched([problem(k) for k in range(2)], cfg)
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(b.loss_trajectory, a.loss_trajectory, rtol=1e-4)
        assert np.linalg.norm(b.final - a.final) < 1e-2 * np.linalg.norm(a.final)


def test_fits_per_batch_is_one_on_a_cpu_unless_asked_and_never_more_than_the_fits():
    from restorebench.methods.dip import fits_per_batch

    cpu = torch.device("cpu")
    assert fits_per_batch(0, cpu, 12) == 1
    assert fits_per_batch(4, cpu, 12) == 4
    assert fits_per_batch(40, cpu, 12) == 12
    with pytest.raises(ValueError, match=">= 0"):
        fits_per_batch(-1, cpu, 12)


def test_a_fit_file_is_the_same_whether_its_clips_are_fitted_in_batches_or_one_by_one(tmp_path):
    from restorebench.files import load_npz, save_npz
    from restorebench.experiments.audio_priors import fit_observations

    clean, noisy = _noisy_clips(3)
    obs = tmp_path / "obs.npz"
    save_npz(obs, clean=np.stack(clean), observed=np.stack(noisy), noise_std=np.full(3, 0.1),
             conditions=np.asarray(["sigma=0.1"] * 3), meta_task=np.asarray("gaussian"),
             meta_dataset=np.asarray("tones"), meta_role=np.asarray("speech"), meta_n_fft=np.asarray(CFG.n_fft),
             meta_hop=np.asarray(CFG.hop), meta_frames=np.asarray(32), meta_seed=np.asarray(0),
             meta_data_source=np.asarray("test"))
    cfg = FitConfig(iterations=40, memory_format="contiguous", **SMALL)
    fit_observations(obs, "exp", cfg, tmp_path / "one.npz", progress=False, fits_per_batch=1)
    fit_observations(obs, "exp", cfg, tmp_path / "two.npz", progress=False, fits_per_batch=2)
    one, two = load_npz(tmp_path / "one.npz"), load_npz(tmp_path / "two.npz")
    assert int(one["meta_fits_per_batch"]) == 1 and int(two["meta_fits_per_batch"]) == 2
    for key in ("final", "oracle", "dp-blind", "snr_trajectory", "loss_trajectory"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-3, atol=1e-4, err_msg=key)
    np.testing.assert_array_equal(two["oracle_stop_iteration"], one["oracle_stop_iteration"])
