"""Short-time Fourier transform helpers shared by every audio method and metric.

One implementation (``torch.stft`` / ``torch.istft``, Hann window, centred frames, reflect padding) so that
a spectrogram computed by a prior's fitting loop and one computed by a metric agree. The numpy wrappers
run the same code on CPU tensors.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# torch is imported inside the functions: the workflow's table, claims and corpus steps import this module
# (through audio_io and the metrics) and would otherwise pay torch's start-up for nothing


@dataclass(frozen=True)
class STFTConfig:
    """STFT geometry: ``bins = n_fft // 2 + 1`` (n_fft 1022 -> the paper's 512 bins), centred frames."""

    n_fft: int
    hop: int
    two_sided: bool = False   # complex signals (SAR pulses) need all n_fft bins

    @property
    def bins(self) -> int:
        return self.n_fft if self.two_sided else self.n_fft // 2 + 1

    def frames(self, n_samples: int) -> int:
        """Number of centred frames for a signal of ``n_samples``."""
        return 1 + n_samples // self.hop

    def samples_for_frames(self, frames: int) -> int:
        """Signal length whose centred STFT has exactly ``frames`` frames."""
        return (frames - 1) * self.hop


def _window(n_fft: int, device, dtype) -> torch.Tensor:
    import torch

    return torch.hann_window(n_fft, device=device, dtype=dtype)


def stft(x: torch.Tensor, cfg: STFTConfig) -> torch.Tensor:
    """Complex STFT of (..., N) signals -> (..., bins, frames); complex input needs ``cfg.two_sided``."""
    import torch

    shape = x.shape
    flat = x.reshape(-1, shape[-1])
    spec = torch.stft(flat, cfg.n_fft, hop_length=cfg.hop, window=_window(cfg.n_fft, x.device, x.real.dtype),
                      center=True, pad_mode="reflect", return_complex=True, onesided=not cfg.two_sided)
    return spec.reshape(*shape[:-1], *spec.shape[-2:])


def istft(spec: torch.Tensor, cfg: STFTConfig, length: int) -> torch.Tensor:
    """Inverse of :func:`stft` for (..., bins, frames) complex input -> (..., length)."""
    import torch

    shape = spec.shape
    flat = spec.reshape(-1, *shape[-2:])
    real_dtype = spec.real.dtype
    x = torch.istft(flat, cfg.n_fft, hop_length=cfg.hop, window=_window(cfg.n_fft, spec.device, real_dtype),
                    center=True, length=length, onesided=not cfg.two_sided,
                    return_complex=cfg.two_sided)
    return x.reshape(*shape[:-2], length)


def to_channels(spec: torch.Tensor) -> torch.Tensor:
    """Complex (..., F, T) -> real (..., 2, F, T) with (real, imag) channels, as the priors use."""
    import torch

    return torch.stack([spec.real, spec.imag], dim=-3)


def from_channels(x: torch.Tensor) -> torch.Tensor:
    """Real (..., 2, F, T) -> complex (..., F, T)."""
    import torch

    return torch.complex(x[..., 0, :, :], x[..., 1, :, :])


def stft_np(x: np.ndarray, cfg: STFTConfig) -> np.ndarray:
    """numpy wrapper of :func:`stft` (double precision for metric accuracy)."""
    import torch

    dtype = np.complex128 if cfg.two_sided else np.float64
    return stft(torch.from_numpy(np.asarray(x, dtype=dtype)), cfg).numpy()


def istft_np(spec: np.ndarray, cfg: STFTConfig, length: int) -> np.ndarray:
    """numpy wrapper of :func:`istft`."""
    import torch

    return istft(torch.from_numpy(np.asarray(spec, dtype=np.complex128)), cfg, length).numpy()


def segment_bounds(n_samples: int, segment: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) of overlapping segments of ``segment`` samples covering ``n_samples``.

    Consecutive segments share ``overlap`` samples; the last one ends at ``n_samples`` (it is shifted left
    so that it keeps the full length, which makes its overlap with the previous one longer). A signal no
    longer than one segment is one segment.
    """
    if not 0 <= overlap < segment:
        raise ValueError(f"overlap must be in [0, segment), got {overlap} for a segment of {segment}")
    if n_samples <= segment:
        return [(0, n_samples)]
    step = segment - overlap
    starts = list(range(0, n_samples - segment, step)) + [n_samples - segment]
    return [(s, s + segment) for s in starts]


def crossfade_join(segments: list[np.ndarray], bounds: list[tuple[int, int]], n_samples: int) -> np.ndarray:
    """Join overlapping segments with a raised-cosine crossfade over each overlap.

    In each overlap the earlier segment fades out with cos^2 and the later one fades in with sin^2, so the
    two weights sum to 1 at every sample: where the segments agree the join returns them unchanged, and
    where they differ the output moves from one to the other smoothly over the whole overlap (no seam).
    """
    out = np.zeros(n_samples, dtype=np.float64)
    weight_sum = np.zeros(n_samples, dtype=np.float64)
    for k, ((start, end), seg) in enumerate(zip(bounds, segments)):
        w = np.ones(end - start)
        if k > 0:                                    # fade in over the overlap with the previous segment
            overlap = bounds[k - 1][1] - start
            if overlap > 0:
                w[:overlap] = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
        if k + 1 < len(bounds):                      # fade out over the overlap with the next segment
            overlap = end - bounds[k + 1][0]
            if overlap > 0:
                w[end - start - overlap:] *= np.cos(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
        out[start:end] += w * np.asarray(seg[: end - start], dtype=np.float64)
        weight_sum[start:end] += w
    return (out / np.maximum(weight_sum, 1e-12)).astype(np.float32)
