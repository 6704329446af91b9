"""RFI suppression on raw echoes, the DIFNet paper's Algorithm 1 (S1).

echoes -> STFT pulse by pulse -> RFI mask (CFAR notch, or DIFNet's prediction) or clean magnitude (PISNet)
-> remove -> ISTFT pulse by pulse -> echoes (focus them with :func:`restorebench.physics.sar.focus`).

"Subtract the predicted interference" with a binary mask means removing the masked bins, i.e. zeroing
them (the interference estimate is the masked part of the spectrogram). PISNet outputs a clean magnitude,
recombined with the interfered spectrogram's phase (SPEC S1).

Networks see a normalised log-magnitude, **per pulse**: log1p(|S| / s) / log1p(max |S| / s) with s the median
magnitude of that pulse's spectrogram -- our choice, documented in the README. Per pulse, so that a pulse's
features do not depend on which other pulses are processed with it: training draws a few RFI-affected
pulses per scene, evaluation and ``suppress-rfi`` process whole records, clean pulses included, and a
normalisation over the pulse set would shift between them (the median over a record of Sentinel-1-class
echoes was 0.33-0.65 of the one over its affected pulses). The trained weights record this normalisation
and the STFT size and hop (:data:`FEATURES`); spectrograms are padded (reflect) to the network's size
multiple and cropped back.
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


#: the network-input normalisation trained weights record (with the STFT size and hop), checked on use
FEATURES = "per-pulse log1p(|S| / median) / log1p(max / median)"


def feature_meta(n_fft: int, hop: int) -> dict:
    """What a trained S1 network's inputs were: stored in its weights, checked by evaluation and the tool."""
    return {"normalisation": FEATURES, "n_fft": int(n_fft), "hop": int(hop)}


def check_features(meta: dict | None, cfg, where: str) -> None:
    """A clear error when the STFT (or the normalisation) differs from the one the network was trained with."""
    if not meta:
        raise ValueError(f"{where}: the weights do not record their input features (trained before the "
                         f"per-pulse normalisation); retrain them")
    if meta.get("normalisation") != FEATURES:
        raise ValueError(f"{where}: trained on {meta.get('normalisation')!r} features, this code computes {FEATURES!r}")
    if (int(meta["n_fft"]), int(meta["hop"])) != (cfg.n_fft, cfg.hop):
        raise ValueError(f"{where}: trained with STFT size {meta['n_fft']} and hop {meta['hop']}, not "
                         f"{cfg.n_fft} and {cfg.hop}")


def pulse_normalisation(spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pulse (first axis): the median magnitude s and log1p(max |S| / s), shaped to broadcast."""
    mag = np.abs(spec)
    axes = tuple(range(1, mag.ndim))
    scale = np.maximum(np.median(mag, axis=axes, keepdims=True), 1e-12)
    top = np.maximum(np.log1p(mag.max(axis=axes, keepdims=True) / scale), 1e-12)
    return scale, top


def normalised_magnitude(magnitude: np.ndarray, spec: np.ndarray) -> np.ndarray:
    """``magnitude`` on the feature scale of ``spec`` (pulse by pulse), clipped to [0, 1], float32: the
    network input for magnitude = |spec|, PISNet's target for the clean magnitude."""
    scale, top = pulse_normalisation(spec)
    return np.clip(np.log1p(np.abs(magnitude) / scale) / top, 0, 1).astype(np.float32)


def network_input(spec: np.ndarray) -> np.ndarray:
    """Normalised log-magnitude in [0, 1] of (pulses, bins, frames) spectrograms, pulse by pulse (module
    docstring), float32, same shape as ``spec``."""
    return normalised_magnitude(np.abs(spec), spec)


def _pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x, (h, w)
    # reflection needs a pad shorter than the side; a spectrogram of a few frames (a short record) is
    # extended by repeating its edge instead
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


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
def predict_magnitude(net, features: np.ndarray, device: torch.device, batch: int = 8,
                      multiple: int = 4) -> np.ndarray:
    """PISNet's clean normalised log-magnitude for (lines, bins, frames) features (inputs padded to
    ``multiple``: 4 for PISNet's two stride-2 convolutions)."""
    out = []
    for start in range(0, features.shape[0], batch):
        x = torch.from_numpy(features[start:start + batch, None]).to(device)
        x, (h, w) = _pad_to(x, multiple)
        out.append(net(x)[:, 0, :h, :w].cpu().numpy())
    return np.concatenate(out)


def invert_features(features: np.ndarray, spec: np.ndarray) -> np.ndarray:
    """Magnitude whose :func:`network_input` (with ``spec``'s per-pulse scale and maximum) is ``features``."""
    scale, top = pulse_normalisation(spec)
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


def suppress_position(echoes: np.ndarray, cfg: STFTConfig, bins: list[int]) -> Suppression:
    """The position-only mask (S1's floor, methods/position_mask.py): ``bins`` zeroed on every pulse."""
    from .position_mask import position_mask

    spec = spectrograms(echoes, cfg)
    mask = position_mask(spec.shape, bins)
    cleaned = np.where(mask, 0, spec)
    return Suppression(istft_np(cleaned, cfg, echoes.shape[-1]).astype(np.complex64), mask, cleaned)


def suppress_trained(echoes: np.ndarray, cfg: STFTConfig, net, device: torch.device, target: str,
                     multiple: int) -> Suppression:
    """Suppression by any trained S1 network, by what it learned (its declaration's ``target``): ``mask``,
    logits of the Eq. 13 RFI mask, zeroed where the probability is above 0.5 (as DIFNet); ``magnitude``, the
    clean normalised magnitude, put back with the interfered phase (as PISNet). Inputs are padded to
    ``multiple``."""
    spec = spectrograms(echoes, cfg)
    features = network_input(spec)
    if target == "mask":
        return suppress_with_mask(echoes, cfg, predict_mask(net, features, multiple, device))
    if target != "magnitude":
        raise ValueError(f"unknown S1 training target {target!r}; choose mask or magnitude")
    magnitude = invert_features(predict_magnitude(net, features, device, multiple=multiple), spec)
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
