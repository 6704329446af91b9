"""RFI suppression on raw echoes, the DIFNet paper's Algorithm 1 (S1).

echoes -> STFT pulse by pulse -> RFI mask (CFAR notch, or DIFNet's prediction) or clean magnitude (PISNet)
-> remove -> ISTFT pulse by pulse -> echoes (focus them with :func:`restorebench.physics.sar.focus`).

"Subtract the predicted interference" with a binary mask means removing the masked bins, i.e. zeroing
them (the interference estimate is the masked part of the spectrogram). PISNet outputs a clean magnitude,
recombined with the interfered spectrogram's phase (SPEC S1).

Networks see a normalised log-magnitude: log1p(|S| / s) / log1p(max |S| / s) with s the median magnitude of
the pulse set -- our choice, documented in the README; spectrograms are padded (reflect) to the network's
size multiple and cropped back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..dsp import STFTConfig, istft_np, stft_np
from .notch import CFARConfig, cfar_mask


@dataclass
class Suppression:
    echoes: np.ndarray            # cleaned raw echoes (azimuth, range), complex64
    mask: np.ndarray | None       # predicted RFI mask (lines, bins, frames) or None (PISNet)
    spectrogram: np.ndarray | None  # cleaned spectrograms (lines, bins, frames); None: not computed


def spectrograms(echoes: np.ndarray, cfg: STFTConfig) -> np.ndarray:
    """Two-sided STFT of every pulse (row) of the echoes -> (lines, bins, frames) complex128."""
    if not cfg.two_sided:
        raise ValueError("SAR pulses are complex: the STFT must be two-sided")
    return stft_np(echoes, cfg)


def network_input(spec: np.ndarray) -> np.ndarray:
    """Normalised log-magnitude in [0, 1] (see module docstring), float32, same shape as ``spec``."""
    mag = np.abs(spec)
    scale = max(float(np.median(mag)), 1e-12)
    log = np.log1p(mag / scale)
    return (log / max(float(log.max()), 1e-12)).astype(np.float32)


def _pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return (F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x), (h, w)


@torch.no_grad()
def predict_mask(net, features: np.ndarray, multiple: int, device: torch.device, batch: int = 8) -> np.ndarray:
    """DIFNet probabilities > 0.5 for (lines, bins, frames) features -> bool mask."""
    out = []
    for start in range(0, features.shape[0], batch):
        x = torch.from_numpy(features[start:start + batch, None]).to(device)
        x, (h, w) = _pad_to(x, multiple)
        out.append((torch.sigmoid(net(x))[:, 0, :h, :w] > 0.5).cpu().numpy())
    return np.concatenate(out)


@torch.no_grad()
def predict_magnitude(net, features: np.ndarray, device: torch.device, batch: int = 8) -> np.ndarray:
    """PISNet's clean normalised log-magnitude for (lines, bins, frames) features."""
    out = []
    for start in range(0, features.shape[0], batch):
        x = torch.from_numpy(features[start:start + batch, None]).to(device)
        x, (h, w) = _pad_to(x, 4)
        out.append(net(x)[:, 0, :h, :w].cpu().numpy())
    return np.concatenate(out)


def invert_features(features: np.ndarray, spec: np.ndarray) -> np.ndarray:
    """Magnitude whose :func:`network_input` (with ``spec``'s scale and maximum) is ``features``."""
    mag = np.abs(spec)
    scale = max(float(np.median(mag)), 1e-12)
    top = max(float(np.log1p(mag / scale).max()), 1e-12)
    return scale * np.expm1(np.clip(features, 0.0, 1.0) * top)


def suppress_notch(echoes: np.ndarray, cfg: STFTConfig, cfar: CFARConfig = CFARConfig()) -> Suppression:
    spec = spectrograms(echoes, cfg)
    mask = cfar_mask(np.abs(spec) ** 2, cfar)
    cleaned = np.where(mask, 0, spec)
    return Suppression(istft_np(cleaned, cfg, echoes.shape[-1]).astype(np.complex64), mask, cleaned)


def suppress_with_mask(echoes: np.ndarray, cfg: STFTConfig, mask: np.ndarray) -> Suppression:
    spec = spectrograms(echoes, cfg)
    if mask.shape != spec.shape:
        raise ValueError(f"mask has shape {mask.shape}, spectrograms {spec.shape}")
    cleaned = np.where(mask, 0, spec)
    return Suppression(istft_np(cleaned, cfg, echoes.shape[-1]).astype(np.complex64), mask, cleaned)


def suppress_difnet(echoes: np.ndarray, cfg: STFTConfig, net, device: torch.device) -> Suppression:
    spec = spectrograms(echoes, cfg)
    mask = predict_mask(net, network_input(spec), net.window * 2 ** net.levels, device)
    return suppress_with_mask(echoes, cfg, mask)


def suppress_pisnet(echoes: np.ndarray, cfg: STFTConfig, net, device: torch.device) -> Suppression:
    spec = spectrograms(echoes, cfg)
    magnitude = invert_features(predict_magnitude(net, network_input(spec), device), spec)
    cleaned = magnitude * np.exp(1j * np.angle(spec))
    return Suppression(istft_np(cleaned, cfg, echoes.shape[-1]).astype(np.complex64), None, cleaned)


def suppress_oracle_mask(echoes: np.ndarray, cfg: STFTConfig, clean: np.ndarray, rfi: np.ndarray) -> Suppression:
    """Ceiling of masking methods: zero the true Eq. 13 mask (needs the clean echoes and the RFI)."""
    from ..physics.rfi import rfi_label

    return suppress_with_mask(echoes, cfg, rfi_label(clean, rfi, cfg).astype(bool))


def suppress_oracle_magnitude(echoes: np.ndarray, cfg: STFTConfig, clean: np.ndarray) -> Suppression:
    """Ceiling of magnitude inpainting (PISNet's approach): the true clean magnitude with the interfered phase."""
    spec = spectrograms(echoes, cfg)
    cleaned = np.abs(spectrograms(clean, cfg)) * np.exp(1j * np.angle(spec))
    return Suppression(istft_np(cleaned, cfg, echoes.shape[-1]).astype(np.complex64), None, cleaned)
