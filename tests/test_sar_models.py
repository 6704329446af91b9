import pytest
import torch

from restorebench.models.difnet import (DIFNet, WindowAttention, relative_position_index, window_partition,
                                        window_reverse)
from restorebench.models.pisnet import EMAttention, PISNet
from restorebench.models.unet import count_parameters


def test_window_partition_roundtrip():
    x = torch.randn(2, 3, 16, 24)
    windows = window_partition(x, 8)
    assert windows.shape == (2 * 2 * 3, 64, 3)
    # window 0 holds the top-left 8x8 block, pixels in row-major order
    assert torch.equal(windows[0, 9], x[0, :, 1, 1])
    assert torch.equal(window_reverse(windows, 8, 2, 16, 24), x)


def test_relative_position_index_depends_only_on_offsets():
    m = 4
    idx = relative_position_index(m)
    assert idx.shape == (16, 16) and idx.max() == (2 * m - 1) ** 2 - 1
    assert torch.all(idx.diagonal() == idx[0, 0])                         # zero offset: one entry
    # pixels (0,0)->(1,2) and (2,1)->(3,3) have the same offset (1,2): same bias entry
    assert idx[1 * m + 2, 0] == idx[3 * m + 3, 2 * m + 1]
    assert len(torch.unique(idx)) == (2 * m - 1) ** 2


def test_window_attention_is_equivariant_to_window_aligned_shifts():
    torch.manual_seed(0)
    attn = WindowAttention(dim=16, window=4, heads=2)
    with torch.no_grad():
        attn.bias_table.normal_()
    x = torch.randn(1, 16, 16, 16)
    shifted = torch.roll(x, shifts=(4, 8), dims=(2, 3))
    assert torch.allclose(attn(shifted), torch.roll(attn(x), shifts=(4, 8), dims=(2, 3)), atol=1e-5)
    # but attention does not cross windows: changing another window leaves this window's output alone
    y = x.clone()
    y[..., 8:, 8:] += 1.0
    assert torch.allclose(attn(y)[..., :8, :8], attn(x)[..., :8, :8], atol=1e-6)


def test_difnet_shapes_at_paper_setting_and_small():
    net = DIFNet(channels=16, window=8, levels=4)
    assert len(net.encoders) == 4 and net.encoders[3].attention.heads == 128 // 16
    assert net.bottleneck.attention.bias_table.shape == (15 * 15, 256 // 16)
    small = DIFNet(channels=8, window=4, levels=2)
    out = small(torch.randn(2, 1, 32, 48))
    assert out.shape == (2, 1, 32, 48)
    with pytest.raises(ValueError, match="divisible"):
        small(torch.randn(1, 1, 30, 32))


def test_pisnet_structure_and_parameter_count():
    net = PISNet(width=64)
    w = 64
    conv = lambda i, o, k: i * o * k * k + o
    expected = conv(1, w, 3) + conv(w, 2 * w, 4) + conv(2 * w, 4 * w, 4)
    expected += 8 * 2 * conv(4 * w, 4 * w, 3)                              # residual blocks
    expected += 2 * conv(4 * w, 4 * w, 1)                                  # EM attention 1x1 convs
    expected += (4 * w * 2 * w * 16 + 2 * w) + (2 * w * w * 16 + w)        # transposed convs
    expected += conv(w, 1, 3)                                              # output conv
    assert count_parameters(net) == expected
    assert net.attention.mu.shape == (1, 128, 256)                         # 128 bases (a buffer)
    out = PISNet(width=8, residual_blocks=2, bases=16)(torch.rand(2, 1, 32, 32))
    assert out.shape == (2, 1, 32, 32) and out.min() >= 0 and out.max() <= 1


def test_em_bases_learn_by_moving_average_in_training_only():
    torch.manual_seed(0)
    em = EMAttention(8, bases=4, iterations=16, momentum=0.9)
    x = torch.randn(2, 8, 6, 6)
    start = em.mu.clone()
    em.eval()
    assert em(x).shape == x.shape
    assert torch.equal(em.mu, start)                              # inference leaves the bases alone
    em.train()
    em(x)
    assert torch.allclose(em.mu.norm(dim=2), torch.ones(1, 4))    # still unit bases
    moved = (em.mu - start).norm()
    assert moved > 1e-3
    for _ in range(60):
        em(x)
    settled = em.mu.clone()
    em(x)
    assert (em.mu - settled).norm() < 0.1 * moved                 # converges on a fixed input
