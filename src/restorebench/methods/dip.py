"""Fitting untrained spectrogram priors to one observation (deep audio priors, S2).

A prior f_theta(z) with z ~ N(0, 1) fixed is fitted to one corrupted observation by Adam on an MSE loss
(paper Sec. 4.1-4.3). This module holds the one loop every task uses (:func:`run_fit`; several fits at once,
as one batched network call per layer: :func:`run_fits_batched`) and the three task set-ups built on it:
:func:`fit_denoise`, :func:`fit_inpaint` and :func:`fit_separation` (set up without running:
:func:`setup_inpaint`, :func:`setup_separation`).

What the loop records, per fit, without leaving the device between checkpoints:

* the SNR of the current estimate against the clean reference at every ``record_every`` iterations
  (Figure 2 and the oracle come from this one trajectory), and the loss (the data-fit residual);
* the oracle-stopped estimate: the recorded iterate with the best SNR against the CLEAN reference. This
  is what the authors' public code reports; an unsupervised user cannot compute it, so it is a separate,
  labelled result;
* the estimates of the unsupervised stopping rules of :mod:`restorebench.methods.stopping`: ES-WMV
  (it starts watching once the loss has fallen to ``es_start_loss_fraction`` of its first value: before
  that the estimate is still growing from zero and its variance means nothing) and the discrepancy
  principle for each noise level it is given (known, estimated blindly).

We keep fitting after the rules fire (to record the full trajectory and the final iterate) unless
``stop_rule`` names a rule to stop at, and report the iteration at which each fired as the iterations it
needs.
"""
from __future__ import annotations

import copy
import inspect
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..devices import resolve_device, synchronize
from ..losses.audio_priors import exclusion_loss
from ..dsp import STFTConfig, from_channels, istft, stft, to_channels
from .stopping import DiscrepancyStop, WindowedVariance, blind_noise_residual, stft_noise_residual

#: ``FitConfig.memory_format`` values: measured per shape, or forced
MEMORY_FORMATS = ("auto", "channels-last", "contiguous")


@dataclass(frozen=True)
class FitConfig:
    """Optimisation settings of one fit (defaults: the paper's Adam, lr 1e-3, 2000 iterations).

    ``discrepancy_tau`` is the discrepancy rule's threshold factor, ``noise_estimator`` and
    ``noise_quantile`` choose the blind noise estimate (methods/stopping.py); the defaults were tuned on
    clips the workflow does not use (``restorebench bench dip --time-to-quality``, docs/performance.md, "Benchmarks").
    """

    iterations: int = 2000
    learning_rate: float = 1e-3
    lr_decay_every: int = 0          # public code: x0.1 every 500 iterations; 0 = off (paper text)
    record_every: int = 1
    es_window: int = 100
    es_patience: int = 200
    es_start_loss_fraction: float = 0.5  # ES-WMV watches only once loss <= this x the first loss
    discrepancy_tau: float = 0.7    # tuned: bench dip --time-to-quality (known-level variant: 0.75)
    noise_estimator: str = "mad"     # dp-blind's noise level: "mad" (white noise) or "quantile" (coloured)
    noise_quantile: float = 0.1
    widths: tuple[int, int, int] = (35, 70, 140)
    dilation_divisor: int = 1        # the paper's dilations scaled to a smaller spectrogram (models/unet.py)
    memory_format: str = "auto"
    seed: int = 0
    device: str = "auto"
    stop_rule: str | None = None     # stop fitting once this rule has fired (checked every 16 iterations)


@dataclass
class FitResult:
    """Estimates and trajectories of one fit. Estimates are (n_sources, 2, F, T) float32 numpy.

    ``estimates`` and ``stop_iterations`` have one entry per stopping rule that applies (``final``,
    ``oracle``, ``es`` and, given a noise level, ``dp-known`` / ``dp-blind``); a rule that never fired
    keeps the last iterate and reports the iterations run. ``noise_levels`` are the discrepancy rule's
    expected noise residuals (loss units) by rule.
    """

    estimates: dict[str, np.ndarray]
    stop_iterations: dict[str, int]
    es_selected_iteration: int
    record_iterations: np.ndarray
    snr_trajectory: np.ndarray       # dB against the clean reference, per record
    loss_trajectory: np.ndarray
    wmv_trajectory: np.ndarray       # NaN until the window is full
    wall_seconds: float
    device: str
    iterations_run: int = 0
    noise_levels: dict[str, float] = field(default_factory=dict)
    extras: dict = field(default_factory=dict)

    @property
    def final(self) -> np.ndarray:
        return self.estimates["final"]

    @property
    def oracle(self) -> np.ndarray:
        return self.estimates["oracle"]

    @property
    def es(self) -> np.ndarray:
        return self.estimates["es"]

    @property
    def oracle_iteration(self) -> int:
        return self.stop_iterations["oracle"]

    @property
    def es_stop_iteration(self) -> int:
        return self.stop_iterations["es"]


def snr_torch(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """10 log10(sum x^2 / sum (x - x_hat)^2) on device (same quantity as metrics.audio.snr_db)."""
    return 10.0 * torch.log10(reference.square().sum() / (reference - estimate).square().sum())


def make_code(shape: Sequence[int], seed: int, device: torch.device) -> torch.Tensor:
    """The fixed input z ~ N(0, 1), drawn from its own generator so it does not depend on init order."""
    gen = torch.Generator().manual_seed(seed + 7919)
    return torch.randn(tuple(shape), generator=gen).to(device)


def build_prior(prior: str, cfg: FitConfig, device: torch.device, seed_offset: int = 0,
                out_channels: int = 2, out_activation: str = "linear",
                memory_format: torch.memory_format = torch.contiguous_format) -> nn.Module:
    """The registered prior ``prior`` (restorebench.registry, study S2, slot "prior"), seeded and on ``device``."""
    from .. import registry

    builder = registry.get("S2", "prior", prior).build
    # a builder without dilations (a plugin's) is built as declared
    scaled = ({"dilation_divisor": cfg.dilation_divisor}
              if cfg.dilation_divisor != 1 and "dilation_divisor" in inspect.signature(builder).parameters else {})
    torch.manual_seed(cfg.seed + seed_offset)
    net = builder(in_channels=2, out_channels=out_channels, widths=cfg.widths,
                  out_activation=out_activation, **scaled).to(device)
    return net.to(memory_format=memory_format)


def resolve_memory_format(cfg: FitConfig, prior: str, shape: Sequence[int], device: torch.device,
                          networks: int = 1) -> torch.memory_format:
    """The memory layout a fit of ``prior`` at ``shape`` runs in: forced by ``cfg.memory_format``, or
    (``auto``) the faster of the two as measured on this machine for this prior, shape and thread count
    (:func:`restorebench.methods.layout.measured_memory_format`; the measurement is cached on disk)."""
    if cfg.memory_format == "channels-last":
        return torch.channels_last
    if cfg.memory_format == "contiguous":
        return torch.contiguous_format
    if cfg.memory_format != "auto":
        raise ValueError(f"memory_format must be one of {', '.join(MEMORY_FORMATS)}, got {cfg.memory_format!r}")
    from .layout import measured_memory_format

    return measured_memory_format(prior, tuple(shape), cfg.widths, device, networks)


class FitTracker:
    """What one fit records, kept on the device: the SNR / loss / WMV trajectories, the oracle-stopped
    iterate and the unsupervised rules' states (module docstring). :func:`run_fit` keeps one;
    :func:`run_fits_batched` keeps one per fit of the batch."""

    def __init__(self, cfg: FitConfig, device: torch.device, noise_levels: dict[str, float],
                 score_fn: Callable[[torch.Tensor], torch.Tensor]):
        self.cfg, self.noise_levels, self.score_fn = cfg, noise_levels, score_fn
        self.n_records = cfg.iterations // cfg.record_every
        self.snr_traj = torch.full((self.n_records,), math.nan, device=device)
        self.loss_traj = torch.full((self.n_records,), math.nan, device=device)
        self.wmv_traj = torch.full((self.n_records,), math.nan, device=device)
        self.best_snr = torch.tensor(-math.inf, device=device)
        self.best = None
        self.best_record = torch.tensor(-1, device=device)
        self.wmv = None
        self.discrepancy: dict[str, DiscrepancyStop] = {}
        self.first_loss = None
        self.started = torch.tensor(False, device=device)

    @torch.no_grad()
    def record(self, record: int, current: torch.Tensor, residual: torch.Tensor) -> None:
        """Record the estimate ``current`` and its loss ``residual`` (both detached) as record ``record``."""
        cfg = self.cfg
        snr = self.score_fn(current)
        self.snr_traj[record] = snr
        self.loss_traj[record] = residual
        if self.first_loss is None:
            self.first_loss = residual.clone()
        self.started = self.started | (residual <= cfg.es_start_loss_fraction * self.first_loss)
        if self.best is None:
            self.best = current.clone()
            self.wmv = WindowedVariance(cfg.es_window // cfg.record_every or 1,
                                        max(1, cfg.es_patience // cfg.record_every), current)
            self.discrepancy = {rule: DiscrepancyStop(cfg.discrepancy_tau * level, current)
                                for rule, level in self.noise_levels.items()}
        better = snr > self.best_snr
        self.best_snr = torch.where(better, snr, self.best_snr)
        self.best = torch.where(better, current, self.best)
        self.best_record = torch.where(better, record, self.best_record)   # a Python scalar: no host-to-device copy
        self.wmv_traj[record] = self.wmv.update(current, record, self.started)
        for rule in self.discrepancy.values():
            rule.update(current, residual, record)

    def fired(self, rule: str) -> torch.Tensor | None:
        """Whether stopping rule ``rule`` has fired (a device bool), or None before the first record."""
        if self.wmv is None:
            return None
        return (self.wmv if rule == "es" else self.discrepancy[rule]).fired()

    def result(self, final: torch.Tensor, iterations_run: int, wall: float, device: torch.device,
               extras: dict) -> FitResult:
        """The :class:`FitResult` of the fit whose last iterate is ``final``."""
        record_iterations = (np.arange(self.n_records) + 1) * self.cfg.record_every
        to_np = lambda t: t.float().cpu().numpy().astype(np.float32)
        estimates, stops = {"final": to_np(final)}, {"final": iterations_run}
        if self.best is None:  # fewer iterations than one record: everything is the final iterate
            for rule in ("oracle", "es", *self.noise_levels):
                estimates[rule], stops[rule] = estimates["final"], iterations_run
            es_sel = iterations_run
        else:
            wmv = self.wmv
            estimates["oracle"], stops["oracle"] = to_np(self.best), int(record_iterations[int(self.best_record)])
            stop_record = int(wmv.stop_record)
            if int(wmv.best_record) >= 0 and stop_record >= 0:
                estimates["es"], stops["es"] = to_np(wmv.best), int(record_iterations[stop_record])
                es_sel = int(record_iterations[int(wmv.best_record)])
            else:  # the rule never fired: an unsupervised user keeps the last iterate
                estimates["es"], stops["es"], es_sel = estimates["final"], iterations_run, iterations_run
            for name, rule in self.discrepancy.items():
                fired_at = int(rule.stop_record)
                if fired_at >= 0:
                    estimates[name], stops[name] = to_np(rule.estimate), int(record_iterations[fired_at])
                else:
                    estimates[name], stops[name] = estimates["final"], iterations_run
        return FitResult(estimates=estimates, stop_iterations=stops, es_selected_iteration=es_sel,
                         record_iterations=record_iterations, snr_trajectory=to_np(self.snr_traj),
                         loss_trajectory=to_np(self.loss_traj), wmv_trajectory=to_np(self.wmv_traj),
                         wall_seconds=wall, device=str(device), iterations_run=iterations_run,
                         noise_levels=self.noise_levels, extras=extras)


def _check_stop_rule(cfg: FitConfig, noise_levels: dict[str, float]) -> None:
    if cfg.stop_rule is not None and cfg.stop_rule not in ("es", *noise_levels):
        raise ValueError(f"stop rule {cfg.stop_rule!r} does not apply to this fit; "
                         f"available: {', '.join(('es', *noise_levels))}")


def _optimizer(params, cfg: FitConfig, device: torch.device):
    # fused Adam runs one kernel over all parameters instead of several per tensor
    optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, fused=device.type in ("cpu", "cuda"))
    scheduler = (torch.optim.lr_scheduler.StepLR(optimizer, cfg.lr_decay_every, 0.1)
                 if cfg.lr_decay_every else None)
    return optimizer, scheduler


def _progress_bar(progress: bool | str, total: int):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=progress if isinstance(progress, str) else "fit",
                unit="it", leave=False, mininterval=2.0)


def _step(optimizer, scheduler, loss: torch.Tensor) -> None:
    """One Adam step on ``loss`` (and the learning-rate schedule's)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def _tick(bar, it: int, iterations: int, mean_loss: Callable[[], float]) -> None:
    """Advance the progress bar; show the loss every tenth of the fit (one host sync each time, not per
    iteration)."""
    if bar is None:
        return
    bar.update(1)
    if it % max(1, iterations // 10) == 0:
        bar.set_postfix(loss=f"{mean_loss():.3e}")


def _layout_name(memory_format: torch.memory_format) -> str:
    return "channels-last" if memory_format == torch.channels_last else "contiguous"


def run_fit(nets: Sequence[nn.Module], codes: Sequence[torch.Tensor],
            render: Callable[[list[torch.Tensor]], torch.Tensor],
            loss_fn: Callable[[torch.Tensor, list[torch.Tensor]], torch.Tensor],
            score_fn: Callable[[torch.Tensor], torch.Tensor],
            cfg: FitConfig, device: torch.device, progress: bool | str = False,
            noise_levels: dict[str, float] | None = None,
            memory_format: torch.memory_format = torch.contiguous_format) -> FitResult:
    """Fit ``nets`` (jointly, one Adam) so that ``loss_fn(render(outputs), outputs)`` decreases.

    ``render`` maps the networks' outputs to the estimate (n_sources, 2, F, T); ``score_fn`` maps an
    estimate to its SNR against the clean reference (a device scalar). ``noise_levels`` maps a discrepancy
    rule (``dp-known``, ``dp-blind``) to the loss the noise alone is expected to leave; the rule fires at
    the first record whose loss is <= ``cfg.discrepancy_tau`` times it (the loss must then be the data-fit
    residual). See the module docstring for what is recorded.
    """
    noise_levels = dict(noise_levels or {})
    _check_stop_rule(cfg, noise_levels)
    params = [p for net in nets for p in net.parameters()]
    optimizer, scheduler = _optimizer(params, cfg, device)
    codes = [c.contiguous(memory_format=memory_format) for c in codes]
    tracker = FitTracker(cfg, device, noise_levels, score_fn)

    bar = _progress_bar(progress, cfg.iterations)
    start = time.perf_counter()
    for net in nets:
        net.train()
    record = 0
    estimate = None
    warmup_seconds = 0.0
    iterations_run = 0
    for it in range(1, cfg.iterations + 1):
        if it == 3:  # the first two iterations pay for allocation and kernel selection
            synchronize(device)
            warmup_seconds = time.perf_counter() - start
        outputs = [net(code) for net, code in zip(nets, codes)]
        estimate = render(outputs)
        loss = loss_fn(estimate, outputs)
        _step(optimizer, scheduler, loss)
        iterations_run = it
        if it % cfg.record_every == 0 and record < tracker.n_records:
            tracker.record(record, estimate.detach(), loss.detach())
            record += 1
        _tick(bar, it, cfg.iterations, lambda: loss.item())
        # one host sync per 16 iterations, not per iteration
        if cfg.stop_rule is not None and it % 16 == 0:
            fired = tracker.fired(cfg.stop_rule)
            if fired is not None and bool(fired):
                break
    if bar is not None:
        bar.close()
    synchronize(device)
    wall = time.perf_counter() - start
    return tracker.result(estimate.detach(), iterations_run, wall, device,
                          {"warmup_seconds": warmup_seconds, "memory_format": _layout_name(memory_format),
                           "batched_fits": 1})


@dataclass
class FitProblem:
    """One fit set up and not yet run: the arguments of :func:`run_fit` (what :func:`setup_inpaint` and
    :func:`setup_separation` build), so that several can also be run as one batch (:func:`run_fits_batched`)."""

    nets: list[nn.Module]
    codes: list[torch.Tensor]
    render: Callable[[list[torch.Tensor]], torch.Tensor]
    loss_fn: Callable[[torch.Tensor, list[torch.Tensor]], torch.Tensor]
    score_fn: Callable[[torch.Tensor], torch.Tensor]
    noise_levels: dict[str, float]
    memory_format: torch.memory_format
    device: torch.device

    def run(self, cfg: FitConfig, progress: bool | str = False) -> FitResult:
        return run_fit(self.nets, self.codes, self.render, self.loss_fn, self.score_fn, cfg, self.device,
                       progress, self.noise_levels, self.memory_format)


def _architecture(net: nn.Module) -> tuple:
    """What two networks must share to be stacked into one vmapped call: class, parameter shapes and head."""
    return (type(net), getattr(net, "out_activation", None),
            tuple((name, tuple(t.shape)) for name, t in net.state_dict().items()))


class _StackedNetworks:
    """Networks of one architecture evaluated as one batched call: their parameters stacked along a new
    leading axis (``torch.func.stack_module_state``) and the module run under ``torch.func.vmap`` with
    ``functional_call``. On a GPU that is one launch per layer for the whole group instead of one per layer
    and network (a small fit is launch-bound); the arithmetic is the same, so each network follows its own
    trajectory (convolutions with batched weights become grouped convolutions: equal to float rounding)."""

    def __init__(self, nets: list[nn.Module], codes: list[torch.Tensor]):
        from torch.func import functional_call, stack_module_state, vmap

        self.params, self.buffers = stack_module_state(nets)
        template = copy.deepcopy(nets[0]).to("meta")
        template.train()
        self.codes = torch.stack(codes)
        self._forward = vmap(lambda p, b, x: functional_call(template, (p, b), (x,)))

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def __call__(self) -> torch.Tensor:
        return self._forward(self.params, self.buffers, self.codes)


def run_fits_batched(problems: Sequence[FitProblem], cfg: FitConfig,
                     progress: bool | str = False) -> list[FitResult]:
    """Run several fits as one: the same results as ``[p.run(cfg) for p in problems]`` to float rounding
    (which Adam amplifies over a long fit at a high learning rate, as it would any change of kernel).

    Every network of every problem is put in a group of networks of the same architecture (across
    problems, and within one: separation's two source priors), each group runs as one vmapped call
    (:class:`_StackedNetworks`), and one Adam steps the sum of the problems' losses. The parameters of
    different fits are disjoint, so the sum's gradient with respect to each fit's parameters is that fit's
    own gradient, and Adam's update is elementwise: each fit follows the trajectory it would follow alone.
    Each problem keeps its own :class:`FitTracker`. With ``cfg.stop_rule`` the batch stops once every fit's
    rule has fired (each rule's estimate is the one at its own firing). The problems must share the device
    and the number of networks; every problem runs in the contiguous layout.
    """
    if not problems:
        return []
    device = problems[0].device
    for p in problems:
        _check_stop_rule(cfg, p.noise_levels)
        if len(p.nets) != len(problems[0].nets):
            raise ValueError("a batch of fits must have the same number of networks per fit")
    slots: dict[tuple, list[tuple[int, int]]] = {}          # architecture -> [(problem, network)]
    for k, p in enumerate(problems):
        for j, net in enumerate(p.nets):
            slots.setdefault(_architecture(net), []).append((k, j))
    groups = [(members, _StackedNetworks([problems[k].nets[j] for k, j in members],
                                         [problems[k].codes[j].contiguous() for k, j in members]))
              for members in slots.values()]
    optimizer, scheduler = _optimizer([t for _, g in groups for t in g.parameters()], cfg, device)
    trackers = [FitTracker(cfg, device, p.noise_levels, p.score_fn) for p in problems]

    bar = _progress_bar(progress, cfg.iterations)
    start = time.perf_counter()
    record, warmup_seconds, iterations_run = 0, 0.0, 0
    estimates = []
    for it in range(1, cfg.iterations + 1):
        if it == 3:
            synchronize(device)
            warmup_seconds = time.perf_counter() - start
        outputs = [[None] * len(p.nets) for p in problems]
        for members, group in groups:
            stacked = group()
            for row, (k, j) in enumerate(members):
                outputs[k][j] = stacked[row]
        estimates, losses = [], []
        for p, outs in zip(problems, outputs):
            estimate = p.render(outs)
            estimates.append(estimate)
            losses.append(p.loss_fn(estimate, outs))
        total = torch.stack(losses).sum()
        _step(optimizer, scheduler, total)
        iterations_run = it
        if it % cfg.record_every == 0 and record < trackers[0].n_records:
            for tracker, estimate, loss in zip(trackers, estimates, losses):
                tracker.record(record, estimate.detach(), loss.detach())
            record += 1
        _tick(bar, it, cfg.iterations, lambda: total.item() / len(problems))
        if cfg.stop_rule is not None and it % 16 == 0:
            fired = [t.fired(cfg.stop_rule) for t in trackers]
            if all(f is not None for f in fired) and bool(torch.stack(fired).all()):   # one host sync
                break
    if bar is not None:
        bar.close()
    synchronize(device)
    wall = time.perf_counter() - start
    # each fit's share of the batch's time: what the per-item wall-time columns report
    extras = {"warmup_seconds": warmup_seconds / len(problems), "memory_format": "contiguous",
              "batched_fits": len(problems)}
    return [tracker.result(estimate.detach(), iterations_run, wall / len(problems), device, dict(extras))
            for tracker, estimate in zip(trackers, estimates)]


def fits_per_batch(requested: int, device: torch.device, n_fits: int,
                   probe: Callable[[], FitProblem] | None = None) -> int:
    """How many fits to run as one batch: ``requested`` if > 0; with 0 (``auto``), 1 on a CPU (the fits run
    one after another, as they always have, so CPU results stay bit-identical; a batch would change them at
    float rounding) and, on CUDA, as many as fit in half the free GPU memory, from the peak memory of a
    two-iteration fit of ``probe()``; never more than ``n_fits``."""
    if requested < 0:
        raise ValueError(f"fits per batch must be >= 0 (0 = auto), got {requested}")
    if requested > 0:
        return max(1, min(requested, n_fits))
    if device.type != "cuda" or probe is None or n_fits <= 1:
        return 1
    synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    run_fits_batched([probe()], FitConfig(iterations=2))
    synchronize(device)
    per_fit = max(torch.cuda.max_memory_allocated(device) - before, 1)
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, min(n_fits, int(0.5 * free // per_fit)))


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
                cfg: FitConfig, progress: bool | str = False, noise_std: float | None = None) -> FitResult:
    """min_theta ||f_theta(z) - STFT(y)||^2 (paper Sec. 4.1). The clean wave only feeds the trajectory."""
    return fit_inpaint(observed_wave, clean_wave, None, prior, stft_cfg, cfg, progress, noise_std)


def fit_inpaint(observed_wave: np.ndarray, clean_wave: np.ndarray, frame_mask: np.ndarray | None,
                prior: str, stft_cfg: STFTConfig, cfg: FitConfig,
                progress: bool | str = False, noise_std: float | None = None) -> FitResult:
    """min_theta ||m * f_theta(z) - m * Y||^2 with m the known frame mask (paper Sec. 4.2).

    ``observed_wave`` is the gapped clip; with ``frame_mask=None`` this is plain denoising. The mean is
    taken over observed bins only, so the loss scale does not depend on the gap size. The discrepancy rule
    runs blind (noise level estimated from the observed frames) and, when ``noise_std`` (per sample) is
    given, with the known level too.
    """
    return setup_inpaint(observed_wave, clean_wave, frame_mask, prior, stft_cfg, cfg,
                         noise_std).run(cfg, progress)


def setup_inpaint(observed_wave: np.ndarray, clean_wave: np.ndarray, frame_mask: np.ndarray | None,
                  prior: str, stft_cfg: STFTConfig, cfg: FitConfig, noise_std: float | None = None,
                  memory_format: torch.memory_format | None = None) -> FitProblem:
    """The fit of :func:`fit_inpaint`, set up (network, code, loss, noise levels) and not yet run;
    ``memory_format`` None resolves it from ``cfg`` (:func:`resolve_memory_format`)."""
    device = resolve_device(cfg.device)
    spec = stft(torch.from_numpy(np.asarray(observed_wave, dtype=np.float32)).to(device), stft_cfg)
    target = to_channels(spec)[None]                     # (1, 2, F, T)
    if frame_mask is None:
        weight, observed_frames = None, None
    else:
        if frame_mask.shape[-1] != target.shape[-1]:
            raise ValueError(f"frame mask has {frame_mask.shape[-1]} frames, spectrogram {target.shape[-1]}")
        observed_frames = torch.from_numpy(np.asarray(frame_mask, dtype=np.float32)).to(device)
        weight = observed_frames.expand(target.shape[-2], -1)[None, None]       # (1, 1, F, T)
        observed_fraction = weight.mean()
    noise_levels = {"dp-blind": blind_noise_residual(observed_wave, spec, stft_cfg, cfg.noise_estimator,
                                                     cfg.noise_quantile, observed_frames)}
    if noise_std is not None:
        noise_levels["dp-known"] = stft_noise_residual(noise_std, stft_cfg)
    if memory_format is None:
        memory_format = resolve_memory_format(cfg, prior, target.shape, device)
    net = build_prior(prior, cfg, device, memory_format=memory_format)
    code = make_code(target.shape, cfg.seed, device)

    def loss_fn(estimate, outputs):
        if weight is None:
            return F.mse_loss(estimate, target)
        return ((estimate - target) * weight).square().mean() / observed_fraction

    return FitProblem([net], [code], render=lambda outs: outs[0], loss_fn=loss_fn,
                      score_fn=_snr_scorer(clean_wave, stft_cfg, device), noise_levels=noise_levels,
                      memory_format=memory_format, device=device)


@dataclass(frozen=True)
class SeparationWeights:
    """Loss weights of the Double-DIP style separation (Tian et al. 2019 losses; values are ours)."""

    exclusion: float = 0.1
    mask: float = 0.05
    balance: float = 1.0
    exclusion_scales: int = 3


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
    return setup_separation(mixture_wave, sources_wave, prior, stft_cfg, cfg, weights).run(cfg, progress)


def setup_separation(mixture_wave: np.ndarray, sources_wave: np.ndarray, prior: str, stft_cfg: STFTConfig,
                     cfg: FitConfig, weights: SeparationWeights = SeparationWeights(),
                     memory_format: torch.memory_format | None = None) -> FitProblem:
    """The fit of :func:`fit_separation`, set up and not yet run (as :func:`setup_inpaint`)."""
    device = resolve_device(cfg.device)
    target = _observation(mixture_wave, stft_cfg, device)
    power = target.square().mean()
    shape = target.shape
    if memory_format is None:
        memory_format = resolve_memory_format(cfg, prior, shape, device, networks=3)
    nets = [build_prior(prior, cfg, device, seed_offset=k, memory_format=memory_format) for k in range(2)]
    nets.append(build_prior(prior, cfg, device, seed_offset=2, out_channels=1, out_activation="sigmoid",
                            memory_format=memory_format))
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

    # no discrepancy rule: a separation has no noise level to reach (methods/stopping.py)
    return FitProblem(nets, codes, render, loss_fn, score, noise_levels={}, memory_format=memory_format,
                      device=device)


def estimate_to_waves(estimate: np.ndarray, stft_cfg: STFTConfig, length: int) -> np.ndarray:
    """(n_sources, 2, F, T) estimate -> (n_sources, length) waveforms."""
    est = from_channels(torch.from_numpy(np.asarray(estimate, dtype=np.float32)))
    return istft(est, stft_cfg, length).numpy()


@dataclass
class Restoration:
    """A recording restored segment by segment (:func:`restore_recording`)."""

    restored: np.ndarray
    rule: str
    segments: list[dict]
    estimated_seconds: float
    wall_seconds: float
    device: str


def _frames_for(cfg: STFTConfig, n_samples: int) -> int:
    """Centred frames for ``n_samples``, rounded up to a multiple of 4 (the priors' two pooling levels)."""
    return int(math.ceil(cfg.frames(n_samples) / 4) * 4)


def restore_recording(observed: np.ndarray, prior: str, stft_cfg: STFTConfig, cfg: FitConfig, *,
                      rule: str, noise_std: float | None = None, sample_mask: np.ndarray | None = None,
                      segment_samples: int = 32768, overlap_samples: int = 4096,
                      log: Callable[[str], None] = print, progress: bool = True,
                      segments_per_batch: int = 0) -> Restoration:
    """Denoise (or, with ``sample_mask``, inpaint) a recording of any length with a deep prior.

    The recording is cut into overlapping segments of ``segment_samples`` (the length a prior is fitted
    at: 32768 samples = 512 frames at the paper's hop of 64), each fitted independently (its own seed;
    ``segments_per_batch`` segments of one length are fitted as one batch by :func:`run_fits_batched`, 0 = auto:
    :func:`fits_per_batch`), stopped by ``rule`` (fitting ends once the rule fires, in a batch once it has
    fired for every segment of it; a rule that never fires keeps the last iterate) and joined with the raised-cosine crossfade of
    :func:`restorebench.dsp.crossfade_join`. Before fitting, a short timed warm-up on the first segment (batch)
    gives the estimated total time, which ``log`` reports (with a warning on a CPU above 10 minutes).
    """
    from ..dsp import crossfade_join, segment_bounds

    observed = np.asarray(observed, dtype=np.float32)
    if cfg.iterations < 1:
        raise ValueError(f"--iterations must be at least 1, got {cfg.iterations}")
    if sample_mask is not None and not np.any(sample_mask):
        raise ValueError("--mask marks no sample as observed (all 0): there is nothing to fit")
    bounds = segment_bounds(observed.size, segment_samples, overlap_samples)
    device = resolve_device(cfg.device)
    run_cfg = replace(cfg, stop_rule=None if rule in ("final", "oracle") else rule)

    def segment_input(start, end):
        frames = _frames_for(stft_cfg, end - start)
        padded = np.zeros(stft_cfg.samples_for_frames(frames), dtype=np.float32)
        padded[: end - start] = observed[start:end]
        mask = None
        if sample_mask is not None:
            centres = np.minimum(np.arange(frames) * stft_cfg.hop, end - start - 1)
            mask = np.asarray(sample_mask[start:end], dtype=np.float32)[centres]
        return padded, mask

    def observed_any(mask) -> bool:
        return mask is None or bool(np.any(mask))

    def problem(k, memory_format=None):
        padded, mask = segment_input(*bounds[k])
        return setup_inpaint(padded, padded, mask, prior, stft_cfg, replace(run_cfg, seed=cfg.seed + 1000 * k),
                             noise_std, memory_format=memory_format)

    to_fit = [k for k, b in enumerate(bounds) if observed_any(segment_input(*b)[1])]
    batch = fits_per_batch(segments_per_batch, device, len(to_fit),
                           probe=lambda: problem(to_fit[0], torch.contiguous_format))
    estimated = _estimate_fitting_time(problem, to_fit, batch, run_cfg, rule, device, log)

    start_time = time.perf_counter()
    pieces: list[np.ndarray | None] = [None] * len(bounds)
    segments: list[dict | None] = [None] * len(bounds)
    for k, (start, end) in enumerate(bounds):
        if k in to_fit:
            continue
        # a segment inside a gap has nothing to fit (the masked loss would be 0/0): it stays a gap,
        # filled by its neighbours' crossfade where they overlap it
        pieces[k] = np.zeros(end - start, dtype=np.float32)
        segments[k] = {"start_seconds": start / 16000, "end_seconds": end / 16000, "left_as_gap": True,
                       "note": "no observed STFT frame in this segment: written as silence"}
        log(f"warning: segment {k + 1}/{len(bounds)} ({start / 16000:.3f}-{end / 16000:.3f} s) has no "
            "observed frame; it is left as a gap (silence)")

    for chunk in _same_length_batches(to_fit, bounds, batch):
        desc = (f"segment {chunk[0] + 1}" + (f"-{chunk[-1] + 1}" if len(chunk) > 1 else "")
                + f"/{len(bounds)}") if progress else False
        if len(chunk) == 1:
            results = [problem(chunk[0]).run(replace(run_cfg, seed=cfg.seed + 1000 * chunk[0]), desc)]
        else:
            results = run_fits_batched([problem(k, torch.contiguous_format) for k in chunk], run_cfg, desc)
        for k, result in zip(chunk, results):
            pieces[k], segments[k] = _fitted_segment(result, k, bounds, rule, stft_cfg, cfg.iterations)
    restored = crossfade_join(pieces, bounds, observed.size)
    return Restoration(restored, rule, segments, estimated, time.perf_counter() - start_time, str(device))


def _estimate_fitting_time(problem, to_fit: list[int], batch: int, run_cfg: FitConfig, rule: str,
                           device: torch.device, log: Callable[[str], None]) -> float:
    """Seconds the fits of ``to_fit`` should take, from a few timed iterations of the first segment(s) with
    something observed (layout probe and allocation excluded; a batch is timed as a batch); logged, with a
    warning and the ways to cut it above 10 minutes on a CPU."""
    warm_cfg = replace(run_cfg, iterations=4, stop_rule=None)
    if batch == 1:
        warm = problem(to_fit[0]).run(warm_cfg)
        warm_seconds, warm_setup = warm.wall_seconds, warm.extras["warmup_seconds"]
    else:
        warm = run_fits_batched([problem(k, torch.contiguous_format) for k in to_fit[:batch]], warm_cfg)
        warm_seconds = warm[0].wall_seconds * len(warm)
        warm_setup = warm[0].extras["warmup_seconds"] * len(warm)
    per_iteration = max(warm_seconds - warm_setup, 1e-6) / 2
    batches = math.ceil(len(to_fit) / batch)
    iterations = run_cfg.iterations
    estimated = per_iteration * iterations * batches
    log(f"estimated fitting time: {_duration(estimated)} ({len(to_fit)} segment(s)"
        + (f" in {batches} batch(es) of up to {batch}" if batch > 1 else "")
        + f" x {iterations} iterations x {per_iteration:.2f} s on {device}; an early stop by {rule} cuts it)")
    if device.type == "cpu" and estimated > 600:
        log("warning: more than 10 minutes on the CPU. To cut it: --device cuda (a GPU), fewer --iterations, "
            "or a lighter prior (--prior exp or conv: about half the time of exp-dense per iteration), or "
            "smaller --widths")
    return estimated


def _same_length_batches(to_fit: list[int], bounds: list[tuple[int, int]], batch: int):
    """The segments to fit in batches of up to ``batch``, each of segments of one length (every segment
    but perhaps the last has the full length)."""
    by_length: dict[int, list[int]] = {}
    for k in to_fit:
        by_length.setdefault(bounds[k][1] - bounds[k][0], []).append(k)
    for same_length in by_length.values():
        for first in range(0, len(same_length), batch):
            yield same_length[first: first + batch]


def _fitted_segment(result: FitResult, k: int, bounds: list[tuple[int, int]], rule: str, stft_cfg: STFTConfig,
                    iterations: int) -> tuple[np.ndarray, dict]:
    """Segment ``k``'s waveform as ``rule`` stopped its fit, and what the report says of it; a rule the fit
    has no estimate for, or a diverged fit, is a ValueError (nothing is written)."""
    start, end = bounds[k]
    where = f"segment {k + 1}/{len(bounds)} ({start / 16000:.3f}-{end / 16000:.3f} s)"
    if rule not in result.estimates:
        raise ValueError(f"stopping rule {rule!r} does not apply here; "
                         f"available: {', '.join(result.estimates)}")
    padded_size = stft_cfg.samples_for_frames(_frames_for(stft_cfg, end - start))
    wave = estimate_to_waves(result.estimates[rule], stft_cfg, padded_size)[0][: end - start]
    if not np.all(np.isfinite(wave)):
        raise ValueError(f"the fit of {where} diverged (NaN or Inf); nothing was written. "
                         "Try a lower --lr")
    info = {"start_seconds": start / 16000, "end_seconds": end / 16000, "left_as_gap": False,
            "stop_iteration": result.stop_iterations[rule],
            "fired": rule == "final" or result.stop_iterations[rule] < result.iterations_run
            or result.iterations_run < iterations,
            "iterations_run": result.iterations_run,
            "noise_level": {k2: round(v, 6) for k2, v in result.noise_levels.items()},
            "memory_format": result.extras["memory_format"],
            "fits_per_batch": result.extras["batched_fits"]}
    return wave, info


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
