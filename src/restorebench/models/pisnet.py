"""PISNet-style inpainting network, the learned RFI baseline of the DIFNet study (Shen et al., TGRS 2022).

Structure (SPEC S1, as in the public code JyuanShen/PISNet): encoder conv 1->w 3x3, w->2w 4x4 stride 2,
2w->4w 4x4 stride 2 (ReLU after each); 8 residual blocks at 4w channels; an expectation-maximisation
attention unit (Li et al., "Expectation-Maximization Attention Networks", ICCV 2019) with 128 bases and 16
EM iterations, whose bases are updated during training by a moving average (momentum 0.9); two transposed
convolutions back to full size (4w->2w->w); a 3x3 conv w->1; a sigmoid. Convolution weights start from
N(0, 0.02 sqrt(64 / w)): the public code's N(0, 0.02) at its width w = 64 (256 channels in the middle), scaled
as 1 / sqrt(fan-in) with the width. It is trained to output the clean TF magnitude (normalised to [0, 1]);
the loss lives with the training code.

Ours: the scaled start. At w = 16 the public N(0, 0.02) is half that scale in every layer, the signal fades
through the network's ~20 layers and the output sits at a constant for a random 4 to 36 epochs before it
starts to learn (measured at `standard`, 40 epochs: validation loss flat at the constant's, then falling;
with the scaled start it falls from the first epoch, as with PyTorch's default start).

Ours: the training starts the output at the training targets' mean (:meth:`PISNet.start_output_at`), not at
the sigmoid's 0.5. From 0.5, on the suite's targets (mean ~0.07 at the paper's SIRs, the clean echo lying
25-40 dB under the interference), the first few dozen AdamW steps drove the sigmoid into saturation: the
network output 0 everywhere from then on (measured at standard: validation loss flat from the first epoch
at the mean squared target; docs/deviations.md).
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


#: the public code's starting weight scale, at its width 64 (scaled with 1 / sqrt(fan-in) at other widths)
INIT_STD_AT_64 = 0.02


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class EMAttention(nn.Module):
    """EM attention unit: K bases refined by ``iterations`` EM steps, reconstruction + 1x1 conv + residual.

    E-step: z = softmax(X mu^T) over the bases; M-step: mu = z^T X / sum(z), L2-normalised per basis. In
    training mode the stored bases follow the batch's refined bases by a moving average
    (mu <- momentum mu + (1 - momentum) mean_batch(mu_refined), renormalised), as EMANet and PISNet's code do:
    they are a buffer, not a parameter, so without it they would stay at their random start.
    """

    def __init__(self, channels: int, bases: int = 128, iterations: int = 16, momentum: float = 0.9):
        super().__init__()
        self.iterations = iterations
        self.momentum = momentum
        mu = torch.randn(1, bases, channels)
        self.register_buffer("mu", F.normalize(mu, dim=2))
        self.conv_in = nn.Conv2d(channels, channels, 1)
        self.conv_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        feats = self.conv_in(x).flatten(2).transpose(1, 2)               # (B, N, C)
        mu = self.mu.expand(b, -1, -1)
        with torch.no_grad():                                            # EMANet: the EM steps are not backpropagated
            for _ in range(self.iterations - 1):
                z = torch.softmax(feats @ mu.transpose(1, 2), dim=2)           # (B, N, K)
                mu = F.normalize((z.transpose(1, 2) @ feats) / (z.sum(dim=1)[:, :, None] + 1e-6), dim=2)
        z = torch.softmax(feats @ mu.transpose(1, 2), dim=2)
        mu = F.normalize((z.transpose(1, 2) @ feats) / (z.sum(dim=1)[:, :, None] + 1e-6), dim=2)
        if self.training:
            with torch.no_grad():
                self.mu.mul_(self.momentum).add_((1 - self.momentum) * mu.mean(dim=0, keepdim=True))
                self.mu.copy_(F.normalize(self.mu, dim=2))
        recon = (z @ mu).transpose(1, 2).reshape(b, c, h, w)
        return F.relu(x + self.conv_out(F.relu(recon)))


class PISNet(nn.Module):
    """(B, 1, H, W) interfered TF magnitude in [0, 1] -> (B, 1, H, W) estimated clean magnitude in [0, 1]."""

    def __init__(self, width: int = 64, residual_blocks: int = 8, bases: int = 128):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.ReLU(),
                                     nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), nn.ReLU())
        self.blocks = nn.Sequential(*[ResidualBlock(4 * w) for _ in range(residual_blocks)])
        self.attention = EMAttention(4 * w, bases)
        self.decoder = nn.Sequential(nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1), nn.ReLU(),
                                     nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.ReLU(),
                                     nn.Conv2d(w, 1, 3, padding=1))
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(module.weight, 0.0, INIT_STD_AT_64 * (64 / width) ** 0.5)

    def start_output_at(self, value: float) -> None:
        """Set the last convolution's bias so that the network starts out answering ``value`` (in (0, 1))
        everywhere: its weights start small, so the sigmoid's input starts near that bias."""
        value = min(max(float(value), 1e-3), 1 - 1e-3)
        with torch.no_grad():
            self.decoder[-1].bias.fill_(float(torch.logit(torch.tensor(value))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"input {tuple(x.shape[-2:])} must be divisible by 4")
        return torch.sigmoid(self.decoder(self.attention(self.blocks(self.encoder(x)))))
