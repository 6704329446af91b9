"""Unsupervised stopping rules of a deep-prior fit, and the noise levels the discrepancy rule needs (S2).

Two families, each kept on the device (tensor state updated with ``torch.where``: no host synchronisation
per iteration):

* **ES-WMV** (:class:`WindowedVariance`; Wang et al., "Early Stopping for Deep Image Prior",
  arXiv 2112.06074): the moving variance of the last W estimates; keep the estimate of lowest variance,
  stop after P records without a new low.
* **Discrepancy principle** (:class:`DiscrepancyStop`; Morozov 1966, as used for iterative regularisation,
  e.g. Engl, Hanke & Neubauer 1996, Sec. 4.3): stop at the first iterate whose data-fit residual
  ||A x_t - y||^2 has fallen to tau times the energy the noise is expected to have. A deep prior fits the
  signal before the noise, so the residual falls through the noise level near where the estimate stops
  improving. Two variants, labelled by what they assume:

  - ``dp-known``: the noise level is known (the sigma of the task, or a user's ``--noise-std``);
  - ``dp-blind``: it is estimated from the observation alone, by the quantile-based noise estimator of
    Stahl, Fischer & Bippus (ICASSP 2000): per frequency bin, a low quantile of |Y(f, t)|^2 over frames,
    divided by the quantile of the exponential distribution (the law of a complex Gaussian bin's power), so
    it follows a coloured noise floor as well as a white one. :func:`mad_noise_std` (Donoho & Johnstone
    1994, the median absolute deviation of the finest-scale Haar coefficients / 0.6745) is the classic
    white-noise alternative; ``restorebench bench dip --time-to-quality`` compares the two.

The residual of the discrepancy rule is the loss of denoising / inpainting: the mean squared difference
between the prior's output and the observed STFT over the observed bins (inpainting: observed frames only).
Separation has no noise level to reach (the mixture is explained exactly by any split of it into two
sources), so the rule does not apply there.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..dsp import STFTConfig

#: labels of every stopping rule a fit reports (the ``stopping`` column of the metrics)
STOPPING_RULES = ("final", "es", "dp-known", "dp-blind", "oracle")
#: the rules that need no clean reference, and which of them need to be told the noise level
UNSUPERVISED_RULES = ("es", "dp-known", "dp-blind")
DISCREPANCY_RULES = ("dp-known", "dp-blind")
#: what restore-audio stops with when it is not told the noise level (the better of ES-WMV and dp-blind in
#: ``restorebench bench dip --time-to-quality``; docs/performance.md, "Benchmarks")
DEFAULT_UNSUPERVISED_RULE = "dp-blind"


def stft_noise_residual(noise_std: float, cfg: STFTConfig) -> float:
    """Expected mean square of one real channel element of the STFT of white noise of std ``noise_std``.

    Each bin of a Hann-windowed frame of white noise has E|N_k|^2 = sigma^2 sum_n w_n^2; split over the
    (real, imaginary) channels that is sigma^2 sum w^2 / 2 per element (DC and Nyquist put all of it in the
    real channel, which keeps the average). For coloured noise of the same variance the same figure holds to
    within a factor n_fft / (n_fft + 2).
    """
    window = torch.hann_window(cfg.n_fft, dtype=torch.float64)
    return float(noise_std) ** 2 * float(window.square().sum()) / 2.0


def mad_noise_std(wave: np.ndarray) -> float:
    """Donoho & Johnstone's blind estimate of white-noise std: median |d| / 0.6745 over the finest-scale
    Haar detail coefficients d_k = (x_{2k+1} - x_{2k}) / sqrt(2) of the waveform."""
    x = np.asarray(wave, dtype=np.float64).ravel()
    x = x[: x.size // 2 * 2]
    detail = (x[1::2] - x[0::2]) / math.sqrt(2.0)
    return float(np.median(np.abs(detail)) / 0.6745)


def quantile_noise_residual(spec: torch.Tensor, quantile: float, frame_mask: torch.Tensor | None = None) -> float:
    """Blind noise level in the discrepancy rule's units, by quantile-based noise estimation (Stahl et al.
    2000): per bin, the ``quantile`` of |Y(f, t)|^2 over the (observed) frames divided by -ln(1 - quantile)
    (the exponential law's quantile), averaged over bins and halved (two real channels per bin).

    ``spec`` is the complex (F, T) STFT of the observation; ``frame_mask`` (T,) marks observed frames.
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"noise quantile must be in (0, 1), got {quantile}")
    power = spec.abs().square().to(torch.float64)
    if frame_mask is not None:
        power = power[:, frame_mask.to(torch.bool).cpu()]
    if power.shape[-1] == 0:
        raise ValueError("no observed frame to estimate the noise level from")
    per_bin = torch.quantile(power, quantile, dim=-1) / -math.log1p(-quantile)
    return float(per_bin.mean()) / 2.0


class WindowedVariance:
    """ES-WMV state on device: ring buffer of the last W estimates and the stopping bookkeeping.

    VAR_t = 1/W sum_{w<W} ||x_{t-w} - mean||^2, divided here by the window's mean energy
    1/W sum_w ||x_{t-w}||^2 (ours: the priors start from a near-zero output, so an absolute variance would be
    smallest at the very start, before the prior has fitted anything).
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
            return torch.full((), math.nan, device=estimate.device)
        flat = self.buffer.reshape(self.window, -1)
        var = ((flat - flat.mean(dim=0, keepdim=True)).square().sum(dim=1).mean()
               / flat.square().sum(dim=1).mean().clamp_min(1e-30))
        valid = self.active_records >= self.window
        improved = valid & (var < self.best_var)
        not_stopped = self.stop_record < 0
        take = improved & not_stopped
        self.best_var = torch.where(take, var, self.best_var)
        self.best = torch.where(take, estimate, self.best)
        # Python scalars in torch.where: a tensor made from `record` would be a blocking copy to the GPU per record
        self.best_record = torch.where(take, record, self.best_record)
        self.since_best = torch.where(improved, torch.zeros_like(self.since_best),
                                      self.since_best + valid.long())
        fire = not_stopped & valid & (self.since_best >= self.patience)
        self.stop_record = torch.where(fire, record, self.stop_record)
        return torch.where(valid, var, torch.full_like(var, math.nan))

    def fired(self) -> torch.Tensor:
        return self.stop_record >= 0


class DiscrepancyStop:
    """Discrepancy-principle state on device: the first record whose residual is <= ``threshold``
    (tau x the expected noise residual) and the estimate at that record."""

    def __init__(self, threshold: float, like: torch.Tensor):
        self.threshold = torch.tensor(float(threshold), device=like.device)
        self.estimate = like.detach().clone()
        self.stop_record = torch.tensor(-1, device=like.device)

    def update(self, estimate: torch.Tensor, residual: torch.Tensor, record: int) -> None:
        fire = (self.stop_record < 0) & (residual <= self.threshold)
        self.stop_record = torch.where(fire, record, self.stop_record)
        self.estimate = torch.where(fire, estimate, self.estimate)

    def fired(self) -> torch.Tensor:
        return self.stop_record >= 0


NOISE_ESTIMATORS = ("mad", "quantile")


def blind_noise_residual(wave: np.ndarray, spec: torch.Tensor, cfg: STFTConfig, estimator: str,
                         quantile: float, frame_mask: torch.Tensor | None = None) -> float:
    """The ``dp-blind`` noise level (loss units) from the observation alone: ``mad`` (white noise,
    :func:`mad_noise_std` on the waveform's observed samples) or ``quantile`` (per-bin noise floor,
    :func:`quantile_noise_residual`)."""
    if estimator == "quantile":
        return quantile_noise_residual(spec, quantile, frame_mask)
    if estimator != "mad":
        raise ValueError(f"noise estimator must be one of {', '.join(NOISE_ESTIMATORS)}, got {estimator!r}")
    x = np.asarray(wave, dtype=np.float64)
    if frame_mask is not None:   # samples whose nearest frame centre is observed
        observed = np.asarray(frame_mask.cpu(), dtype=bool)
        centre = np.minimum(np.rint(np.arange(x.size) / cfg.hop).astype(int), observed.size - 1)
        x = x[observed[centre]]
    return stft_noise_residual(mad_noise_std(x), cfg)


def first_crossing(residuals: np.ndarray, threshold: float) -> int:
    """Index of the first residual <= threshold, or -1: the discrepancy rule replayed on a stored loss
    trajectory (how the benchmark tunes tau without refitting)."""
    hit = np.flatnonzero(np.asarray(residuals) <= threshold)
    return int(hit[0]) if hit.size else -1
