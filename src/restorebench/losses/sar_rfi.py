"""S1 training losses of the trained RFI networks (declared in restorebench.registry, slot S1/rfi)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def mask_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """DIFNet: binary cross-entropy (with logits) on the Eq. 13 RFI mask (our choice of loss, SPEC S1)."""
    return F.binary_cross_entropy_with_logits(logits, mask)


def pisnet_loss(output: torch.Tensor, clean: torch.Tensor, inputs: torch.Tensor, nuclear_weight: float,
                l1_weight: float) -> torch.Tensor:
    """PISNet: MSE to the clean normalised magnitude + ``nuclear_weight`` x nuclear norm of the output / width
    (low rank, as the interference-free spectrogram of a pulse is) + ``l1_weight`` x mean |input - output|.

    The public code's loss is 1000 MSE + 0.1 nuc(first item) / 256 + 0.01 ||input - output||_1 / 256^2 on
    256 x 256 images; divided by 1000, the defaults nuclear = 1e-4 and l1 = 1e-5 (we average the nuclear norm
    over the batch instead of taking the first item's).
    """
    nuclear = torch.linalg.matrix_norm(output[:, 0], ord="nuc").mean() / output.shape[-1]
    return F.mse_loss(output, clean) + nuclear_weight * nuclear + l1_weight * (inputs - output).abs().mean()
