"""Fitting untrained spectrogram priors to one observation (deep audio priors, S2).

A prior f_theta(z) with z ~ N(0, 1) fixed is fitted to one corrupted observation by Adam on an MSE loss
(paper Sec. 4.1-4.3). This module holds the one loop every task uses (:func:`run_fit`) and the three
task set-ups built on it: :func:`fit_denoise`, :func:`fit_inpaint` and :func:`fit_separation`.

What the loop records, per fit, without leaving the device between checkpoints:

* the SNR of the current estimate against the clean reference at every ``record_every`` iterations
  (Figure 2 and the oracle come from this one trajectory);
* the oracle-stopped estimate: the recorded iterate with the best SNR against the CLEAN reference. This
  is what the authors' public code reports; an unsupervised user cannot compute it, so it is a separate,
  labelled result;
* the ES-WMV estimate (Wang et al., "Early Stopping for Deep Image Prior", arXiv 2112.06074): the
  windowed moving variance VAR_t = 1/W sum_{w<W} ||x_{t-w} - mean||^2 of the last W recorded estimates,
  divided here by their mean energy 1/W sum_w ||x_{t-w}||^2 (ours: priors start from a near-zero output);
  the rule keeps the estimate with the lowest VAR so far and stops once VAR has not improved for P
  records. It starts watching once the training loss has fallen to ``es_start_loss_fraction`` of its first
  value (ours: before that the estimate is still growing from zero and its variance means nothing). It
  needs no clean reference. We keep fitting after it fires (to record the full trajectory)
  but report the iteration at which it fired as the iterations it needs.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..dsp import STFTConfig, from_channels, istft, stft, to_channels


@dataclass(frozen=True)
class FitConfig:
    """Optimisation settings of one fit (defaults: the paper's Adam, lr 1e-3, 2000 iterations)."""

    iterations: int = 2000
    learning_rate: float = 1e-3
    lr_decay_every: int = 0          # public code: x0.1 every 500 iterations; 0 = off (paper text)
    record_every: int = 1
    es_window: int = 100
    es_patience: int = 200
    es_start_loss_fraction: float = 0.5  # ES-WMV watches only once loss <= this x the first loss
    widths: tuple[int, int, int] = (35, 70, 140)
    channels_last: bool = True
    seed: int = 0
    device: str = "auto"


@dataclass
class FitResult:
    """Estimates and trajectories of one fit. Estimates are (n_sources, 2, F, T) float32 numpy."""

    final: np.ndarray
    oracle: np.ndarray
    es: np.ndarray
    oracle_iteration: int
    es_selected_iteration: int
    es_stop_iteration: int           # iteration at which ES-WMV fired (= iterations if it never did)
    record_iterations: np.ndarray
    snr_trajectory: np.ndarray       # dB against the clean reference, per record
    loss_trajectory: np.ndarray
    wmv_trajectory: np.ndarray       # NaN until the window is full
    wall_seconds: float
    device: str
    extras: dict = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def snr_torch(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """10 log10(sum x^2 / sum (x - x_hat)^2) on device (same quantity as metrics.audio.snr_db)."""
    return 10.0 * torch.log10(reference.square().sum() / (reference - estimate).square().sum())


class WindowedVariance:
    """ES-WMV state on device: ring buffer of the last W estimates and the stopping bookkeeping.

    All updates are tensor operations (no host synchronisation) so the fitting loop stays on device.
    """

    def __init__(self, window: int, patience: int, like: torch.Tensor):
        self.window, self.patience = window, patience
        self.buffer = torch.zeros((window, *like.shape), dtype=like.dtype, device=like.device)
        self.count = 0
        dev = like.device
        self.best_var = torch.tensor(math.inf, device=dev)
        self.best = like.detach().clone()
        self.best_record = torch.tensor(-1, device=dev)
        self.since_best = torch.tensor(0, device=dev)
        self.stop_record = torch.tensor(-1, device=dev)
        self.active_records = torch.tensor(0, device=dev)

    def update(self, estimate: torch.Tensor, record: int, started: torch.Tensor) -> torch.Tensor:
        """Push one estimate; returns VAR_t, NaN until W estimates were seen since the rule started.

        ``started`` (device bool) says whether the fit has passed the rule's start condition.
        """
        self.buffer[self.count % self.window].copy_(estimate)
        self.count += 1
        self.active_records = self.active_records + started.long()
        if self.count < self.window:
            return torch.tensor(math.nan, device=estimate.device)
        flat = self.buffer.reshape(self.window, -1)
        # relative to the window's mean energy: the first estimates are near zero, so an absolute
        # variance would be smallest at the very start, before the prior has fitted anything
        var = ((flat - flat.mean(dim=0, keepdim=True)).square().sum(dim=1).mean()
               / flat.square().sum(dim=1).mean().clamp_min(1e-30))
        valid = self.active_records >= self.window
        improved = valid & (var < self.best_var)
        not_stopped = self.stop_record < 0
        take = improved & not_stopped
        self.best_var = torch.where(take, var, self.best_var)
        self.best = torch.where(take, estimate, self.best)
        self.best_record = torch.where(take, torch.tensor(record, device=var.device), self.best_record)
        self.since_best = torch.where(improved, torch.zeros_like(self.since_best),
                                      self.since_best + valid.long())
        fire = not_stopped & valid & (self.since_best >= self.patience)
        self.stop_record = torch.where(fire, torch.tensor(record, device=var.device), self.stop_record)
        return torch.where(valid, var, torch.full_like(var, math.nan))


def make_code(shape: Sequence[int], seed: int, device: torch.device) -> torch.Tensor:
    """The fixed input z ~ N(0, 1), drawn from its own generator so it does not depend on init order."""
    gen = torch.Generator().manual_seed(seed + 7919)
    return torch.randn(tuple(shape), generator=gen).to(device)


def build_prior(prior: str, cfg: FitConfig, device: torch.device, seed_offset: int = 0,
                out_channels: int = 2, out_activation: str = "linear") -> nn.Module:
    """The registered prior ``prior`` (restorebench.registry, study S2, slot "prior"), seeded and on ``device``."""
    from .. import registry

    builder = registry.get("S2", "prior", prior).build
    torch.manual_seed(cfg.seed + seed_offset)
    net = builder(in_channels=2, out_channels=out_channels, widths=cfg.widths,
                  out_activation=out_activation).to(device)
    if cfg.channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


def run_fit(nets: Sequence[nn.Module], codes: Sequence[torch.Tensor],
            render: Callable[[list[torch.Tensor]], torch.Tensor],
            loss_fn: Callable[[torch.Tensor, list[torch.Tensor]], torch.Tensor],
            score_fn: Callable[[torch.Tensor], torch.Tensor],
            cfg: FitConfig, device: torch.device, progress: bool | str = False) -> FitResult:
    """Fit ``nets`` (jointly, one Adam) so that ``loss_fn(render(outputs), outputs)`` decreases.

    ``render`` maps the networks' outputs to the estimate (n_sources, 2, F, T); ``score_fn`` maps an
    estimate to its SNR against the clean reference (a device scalar). See the module docstring for
    what is recorded.
    """
    params = [p for net in nets for p in net.parameters()]
    # fused Adam runs one kernel over all parameters instead of several per tensor
    optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, fused=device.type in ("cpu", "cuda"))
    scheduler = (torch.optim.lr_scheduler.StepLR(optimizer, cfg.lr_decay_every, 0.1)
                 if cfg.lr_decay_every else None)
    if cfg.channels_last:
        codes = [c.contiguous(memory_format=torch.channels_last) for c in codes]

    n_records = cfg.iterations // cfg.record_every
    snr_traj = torch.full((n_records,), math.nan, device=device)
    loss_traj = torch.full((n_records,), math.nan, device=device)
    wmv_traj = torch.full((n_records,), math.nan, device=device)
    best_snr = torch.tensor(-math.inf, device=device)
    best = None
    best_record = torch.tensor(-1, device=device)
    wmv = None
    first_loss = None
    started = torch.tensor(False, device=device)

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.iterations, desc=progress if isinstance(progress, str) else "fit",
                   unit="it", leave=False, mininterval=2.0)
    start = time.perf_counter()
    for net in nets:
        net.train()
    record = 0
    estimate = None
    warmup_seconds = 0.0
    for it in range(1, cfg.iterations + 1):
        if it == 3:  # the first two iterations pay for allocation and kernel selection
            if device.type == "cuda":
                torch.cuda.synchronize()
            warmup_seconds = time.perf_counter() - start
        outputs = [net(code) for net, code in zip(nets, codes)]
        estimate = render(outputs)
        loss = loss_fn(estimate, outputs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if it % cfg.record_every == 0 and record < n_records:
            with torch.no_grad():
                current = estimate.detach()
                snr = score_fn(current)
                snr_traj[record] = snr
                loss_traj[record] = loss.detach()
                if first_loss is None:
                    first_loss = loss.detach().clone()
                started = started | (loss.detach() <= cfg.es_start_loss_fraction * first_loss)
                if best is None:
                    best = current.clone()
                    wmv = WindowedVariance(cfg.es_window // cfg.record_every or 1,
                                           max(1, cfg.es_patience // cfg.record_every), current)
                better = snr > best_snr
                best_snr = torch.where(better, snr, best_snr)
                best = torch.where(better, current, best)
                best_record = torch.where(better, torch.tensor(record, device=device), best_record)
                wmv_traj[record] = wmv.update(current, record, started)
            record += 1
        if bar is not None:
            bar.update(1)
            if it % max(1, cfg.iterations // 10) == 0:
                bar.set_postfix(loss=f"{loss.item():.3e}")   # one host sync per tenth of the fit
    if bar is not None:
        bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start

    record_iterations = (np.arange(n_records) + 1) * cfg.record_every
    final = estimate.detach()
    if best is None:  # fewer iterations than one record: everything is the final iterate
        best, es_best = final, final
        oracle_it = es_sel = es_stop = cfg.iterations
    else:
        oracle_it = int(record_iterations[int(best_record)])
        stop_record = int(wmv.stop_record)
        es_stop = int(record_iterations[stop_record]) if stop_record >= 0 else cfg.iterations
        if int(wmv.best_record) >= 0 and stop_record >= 0:
            es_best, es_sel = wmv.best, int(record_iterations[int(wmv.best_record)])
        else:  # the rule never fired: an unsupervised user keeps the last iterate
            es_best, es_sel = final, cfg.iterations
    to_np = lambda t: t.float().cpu().numpy().astype(np.float32)
    return FitResult(final=to_np(final), oracle=to_np(best), es=to_np(es_best),
                     oracle_iteration=oracle_it, es_selected_iteration=es_sel, es_stop_iteration=es_stop,
                     record_iterations=record_iterations, snr_trajectory=to_np(snr_traj),
                     loss_trajectory=to_np(loss_traj), wmv_trajectory=to_np(wmv_traj),
                     wall_seconds=wall, device=str(device), extras={"warmup_seconds": warmup_seconds})


def _observation(observed_wave: np.ndarray, stft_cfg: STFTConfig, device) -> torch.Tensor:
    y = torch.from_numpy(np.asarray(observed_wave, dtype=np.float32)).to(device)
    return to_channels(stft(y, stft_cfg))[None]          # (1, 2, F, T)


def _snr_scorer(clean_wave: np.ndarray, stft_cfg: STFTConfig, device):
    clean = torch.from_numpy(np.asarray(clean_wave, dtype=np.float32)).to(device)
    length = clean.shape[-1]

    def score(estimate: torch.Tensor) -> torch.Tensor:
        return snr_torch(clean, istft(from_channels(estimate[0]), stft_cfg, length))
    return score


def fit_denoise(observed_wave: np.ndarray, clean_wave: np.ndarray, prior: str, stft_cfg: STFTConfig,
                cfg: FitConfig, progress: bool | str = False) -> FitResult:
    """min_theta ||f_theta(z) - STFT(y)||^2 (paper Sec. 4.1). The clean wave only feeds the trajectory."""
    return fit_inpaint(observed_wave, clean_wave, None, prior, stft_cfg, cfg, progress)


def fit_inpaint(observed_wave: np.ndarray, clean_wave: np.ndarray, frame_mask: np.ndarray | None,
                prior: str, stft_cfg: STFTConfig, cfg: FitConfig,
                progress: bool | str = False) -> FitResult:
    """min_theta ||m * f_theta(z) - m * Y||^2 with m the known frame mask (paper Sec. 4.2).

    ``observed_wave`` is the gapped clip; with ``frame_mask=None`` this is plain denoising. The mean is
    taken over observed bins only, so the loss scale does not depend on the gap size.
    """
    device = resolve_device(cfg.device)
    target = _observation(observed_wave, stft_cfg, device)
    if frame_mask is None:
        weight = None
    else:
        if frame_mask.shape[-1] != target.shape[-1]:
            raise ValueError(f"frame mask has {frame_mask.shape[-1]} frames, spectrogram {target.shape[-1]}")
        weight = torch.from_numpy(np.asarray(frame_mask, dtype=np.float32)).to(device)
        weight = weight.expand(target.shape[-2], -1)[None, None]       # (1, 1, F, T)
        observed_fraction = weight.mean()
    net = build_prior(prior, cfg, device)
    code = make_code(target.shape, cfg.seed, device)

    def loss_fn(estimate, outputs):
        if weight is None:
            return F.mse_loss(estimate, target)
        return ((estimate - target) * weight).square().mean() / observed_fraction

    result = run_fit([net], [code], render=lambda outs: outs[0], loss_fn=loss_fn,
                     score_fn=_snr_scorer(clean_wave, stft_cfg, device), cfg=cfg, device=device,
                     progress=progress)
    return result


@dataclass(frozen=True)
class SeparationWeights:
    """Loss weights of the Double-DIP style separation (Tian et al. 2019 losses; values are ours)."""

    exclusion: float = 0.1
    mask: float = 0.05
    balance: float = 1.0
    exclusion_scales: int = 3


def exclusion_loss(a: torch.Tensor, b: torch.Tensor, scales: int) -> torch.Tensor:
    """Gradient exclusion of Double-DIP (Gandelsman et al. 2019, Eq. 4) between two magnitude maps.

    At each of ``scales`` dyadic scales: mean(tanh(l_a |grad a|) * tanh(l_b |grad b|)) along frequency and
    time, with l_a, l_b normalising the two gradient magnitudes to each other. Small when the sources'
    time-frequency edges do not coincide.
    """
    total = a.new_zeros(())
    for level in range(scales):
        for dim in (-1, -2):
            ga, gb = torch.diff(a, dim=dim).abs(), torch.diff(b, dim=dim).abs()
            la = torch.sqrt(gb.mean() / (ga.mean() + 1e-8) + 1e-8)
            lb = torch.sqrt(ga.mean() / (gb.mean() + 1e-8) + 1e-8)
            total = total + (torch.tanh(la * ga) * torch.tanh(lb * gb)).mean()
        if level + 1 < scales:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return total / scales


def fit_separation(mixture_wave: np.ndarray, sources_wave: np.ndarray, prior: str,
                   stft_cfg: STFTConfig, cfg: FitConfig, weights: SeparationWeights = SeparationWeights(),
                   progress: bool | str = False) -> FitResult:
    """Two-source separation with two source priors and a mask prior (Double-DIP / Deep Audio Prior).

    Y_hat = m * S1 + (1 - m) * S2 with S1, S2 from priors of the named kind and m in (0, 1) from a third
    prior of the same kind with a sigmoid head. Loss: ||Y_hat - Y||^2 / mean |Y|^2 (reconstruction) +
    w_excl * exclusion(|m S1|, |(1-m) S2|) + w_mask * mean(m (1 - m)) (pushes the mask to 0/1) +
    w_balance * (mean(m) - 0.5)^2 (ours: without it m = 1 everywhere, one prior explaining the whole
    mixture, minimises every other term). The
    estimate is the pair of masked sources (n_sources=2), which sums to Y_hat. ``sources_wave`` (2, N)
    only feeds the trajectory (mean SNR of the two sources under the best permutation).
    """
    device = resolve_device(cfg.device)
    target = _observation(mixture_wave, stft_cfg, device)
    power = target.square().mean()
    shape = target.shape
    nets = [build_prior(prior, cfg, device, seed_offset=k) for k in range(2)]
    nets.append(build_prior(prior, cfg, device, seed_offset=2, out_channels=1, out_activation="sigmoid"))
    codes = [make_code(shape, cfg.seed + 1000 * k, device) for k in range(3)]

    def render(outputs):
        mask = outputs[2]
        return torch.cat([mask * outputs[0], (1.0 - mask) * outputs[1]], dim=0)   # (2, 2, F, T)

    def loss_fn(estimate, outputs):
        mask = outputs[2]
        recon = F.mse_loss(estimate.sum(dim=0, keepdim=True), target) / power
        mag = torch.sqrt(estimate.square().sum(dim=1, keepdim=True) + 1e-12)    # (2, 1, F, T)
        excl = exclusion_loss(mag[0:1], mag[1:2], weights.exclusion_scales)
        binary = (mask * (1.0 - mask)).mean()
        balance = (mask.mean() - 0.5).square()
        return recon + weights.exclusion * excl + weights.mask * binary + weights.balance * balance

    refs = torch.from_numpy(np.asarray(sources_wave, dtype=np.float32)).to(device)
    length = refs.shape[-1]

    def score(estimate):
        est = istft(from_channels(estimate), stft_cfg, length)
        direct = (snr_torch(refs[0], est[0]) + snr_torch(refs[1], est[1])) / 2
        swapped = (snr_torch(refs[0], est[1]) + snr_torch(refs[1], est[0])) / 2
        return torch.maximum(direct, swapped)

    return run_fit(nets, codes, render, loss_fn, score, cfg, device, progress)


def estimate_to_waves(estimate: np.ndarray, stft_cfg: STFTConfig, length: int) -> np.ndarray:
    """(n_sources, 2, F, T) estimate -> (n_sources, length) waveforms."""
    est = from_channels(torch.from_numpy(np.asarray(estimate, dtype=np.float32)))
    return istft(est, stft_cfg, length).numpy()
