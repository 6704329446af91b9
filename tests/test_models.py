import pytest
import torch

from restorebench.models.dilations import prior_spec
from restorebench.models.unet import AudioPriorUNet, count_parameters


def test_parameter_counts_match_public_code_at_paper_widths():
    # the authors' DDUNet (designaudiopriors) has 1,092,912 parameters, counted layer by layer from
    # its code: the dense prior must match exactly; plain variants share widths with 2-conv blocks
    assert count_parameters(AudioPriorUNet("exp-dense")) == 1_092_912
    plain = 2 * 9 * 35 + 35 + 35 * 9 * 35 + 35          # enc0
    plain += 35 * 9 * 70 + 70 + 70 * 9 * 70 + 70         # enc1
    plain += 70 * 9 * 140 + 140 + 140 * 9 * 140 + 140    # bottleneck
    plain += 140 * 9 * 70 + 70 + 140 * 9 * 70 + 70 + 70 * 9 * 70 + 70   # dec1: up conv, block
    plain += 70 * 9 * 35 + 35 + 70 * 9 * 35 + 35 + 35 * 9 * 35 + 35     # dec0
    plain += 35 * 2 + 2                                  # head
    for name in ("conv", "dilated", "exp"):
        assert count_parameters(AudioPriorUNet(name)) == plain


def test_dilation_schedules():
    net = AudioPriorUNet("exp-dense", widths=(4, 8, 16))
    assert net.enc0.block.conv1.dilation == (1, 1) and net.enc0.block.conv2.dilation == (2, 2)
    assert net.bottleneck.block.conv2.dilation == (32, 32)
    assert net.dec1.stage.block.conv1.dilation == (32, 32)
    assert net.dec0.stage.block.conv2.dilation == (4, 4)
    assert net.dec1.up_conv.dilation == (1, 1)
    assert all(d == (4, 4) for d in prior_spec("dilated").dilations)
    with pytest.raises(ValueError, match="unknown prior"):
        prior_spec("harmonics")
    # scaled to a smaller spectrogram: each dilation divided, at least 1
    assert prior_spec("exp", 2).dilations == ((1, 1), (2, 4), (8, 16), (16, 8), (4, 2))
    assert prior_spec("dilated", 2).dilations == ((2, 2),) * 5 and prior_spec("conv", 4).dilations == ((1, 1),) * 5
    halved = AudioPriorUNet("exp-dense", widths=(4, 8, 16), dilation_divisor=2)
    assert halved.bottleneck.block.conv2.dilation == (16, 16) and halved.bottleneck.block.conv2.padding == (16, 16)
    with pytest.raises(ValueError, match="at least 1"):
        prior_spec("exp", 0)


def test_a_dilation_past_both_sides_of_its_map_is_a_one_by_one_convolution():
    """quick's bottleneck: dilation 32 on a 32 x 16 map reads only its centre tap (share 1/9); the paper's
    128 x 64 bottleneck map gives the same layer 5/9, and halving map and dilation keeps that share."""
    from restorebench.models.dilations import layer_tap_shares, tap_share

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=32, dilation=32)
    centre = torch.nn.Conv2d(3, 4, 1)
    with torch.no_grad():
        centre.weight.copy_(conv.weight[:, :, 1:2, 1:2])
        centre.bias.copy_(conv.bias)
    x = torch.randn(1, 3, 32, 16)
    assert torch.allclose(conv(x), centre(x), atol=1e-6)
    assert not torch.allclose(conv(torch.randn(1, 3, 128, 64)), centre(torch.randn(1, 3, 128, 64)))
    assert tap_share(32, (32, 16)) == pytest.approx(1 / 9)
    assert tap_share(32, (128, 64)) == pytest.approx((1 + 2 * 96 / 128) * (1 + 2 * 32 / 64) / 9)   # 5/9
    assert tap_share(16, (64, 32)) == pytest.approx(tap_share(32, (128, 64)))
    # brute force: the share of in-map taps, position by position
    h, w, d = 20, 12, 5
    inside = sum((0 <= i + a * d < h) and (0 <= j + b * d < w)
                 for i in range(h) for j in range(w) for a in (-1, 0, 1) for b in (-1, 0, 1))
    assert tap_share(d, (h, w)) == pytest.approx(inside / (9 * h * w))

    quick = {(r["block"], r["conv"]): r for r in layer_tap_shares("exp", (128, 64))}
    assert quick[("bottleneck", 2)]["degenerate"] and quick[("bottleneck", 2)]["share"] == pytest.approx(1 / 9)
    assert quick[("bottleneck", 2)]["paper_share"] == pytest.approx(5 / 9)
    assert not any(r["degenerate"] for r in layer_tap_shares("exp", (512, 256)))
    assert not any(r["degenerate"] for r in layer_tap_shares("conv", (128, 64)))         # edge taps alone: not
    for prior in ("dilated", "exp", "exp-dense"):
        assert not any(r["degenerate"] for r in layer_tap_shares(prior, (256, 128), dilation_divisor=2))
        assert any(r["degenerate"] for r in layer_tap_shares(prior, (256, 128)))


@pytest.mark.parametrize("prior", ["conv", "dilated", "exp", "exp-dense", "harmonic"])
def test_output_shape_and_mask_head(prior):
    z = torch.randn(1, 2, 32, 16)
    assert AudioPriorUNet(prior, widths=(4, 8, 16))(z).shape == (1, 2, 32, 16)
    mask = AudioPriorUNet(prior, out_channels=1, widths=(4, 8, 16), out_activation="sigmoid")(z)
    assert mask.shape == (1, 1, 32, 16) and mask.min() > 0 and mask.max() < 1


def test_rejects_sizes_not_divisible_by_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        AudioPriorUNet("conv", widths=(4, 8, 16))(torch.randn(1, 2, 30, 16))


def test_instance_norm_matches_torch_and_keeps_channels_last():
    from restorebench.models.unet import InstanceNorm

    x = torch.randn(2, 5, 16, 8).contiguous(memory_format=torch.channels_last)
    ours = InstanceNorm(5)(x)
    assert torch.allclose(ours, torch.nn.InstanceNorm2d(5)(x), atol=1e-5)
    assert ours.is_contiguous(memory_format=torch.channels_last)


def test_harmonic_convolution_reads_the_harmonic_series_of_each_bin():
    """y(w, t) = sum_k sum_tau W[k, tau] x(k w / n, t + tau) (Zhang et al. 2020), by harmonic lowering: checked
    against the formula written out bin by bin, and on a comb whose harmonics the kernel must align."""
    import numpy as np
    from restorebench.models.harmonic import HarmonicConv2d

    torch.manual_seed(0)
    conv = HarmonicConv2d(2, 3, (3, 3), anchor=3)
    x = torch.randn(1, 2, 17, 5)
    out = conv(x).detach().numpy()[0]
    weight = conv.weight.detach().numpy().reshape(3, 3, 2, 3)         # out, harmonic k, channel, frame offset
    xs = x.numpy()[0]

    def read(c, position, t):       # linear interpolation along frequency; zero past the top bin or the frames
        low, frac = int(np.floor(position)), position - np.floor(position)
        if not 0 <= t < xs.shape[2]:
            return 0.0
        return sum(wt * xs[c, b, t] for b, wt in ((low, 1 - frac), (low + 1, frac)) if b < xs.shape[1])

    expected = np.array([[[conv.bias[o].item() + sum(weight[o, k - 1, c, tau] * read(c, k * w / 3, t + tau - 1)
                                                     for k in (1, 2, 3) for c in (0, 1) for tau in (0, 1, 2))
                           for t in range(5)] for w in range(17)] for o in range(3)])
    np.testing.assert_allclose(out, expected, atol=1e-5)

    # a comb with harmonics at bins 4, 8, 12: with unit weights on the centre frame, bin 12 (the third
    # harmonic, anchor 3) reads all three partials; a plain 3x3 convolution there sees one
    comb = torch.zeros(1, 1, 32, 3)
    comb[0, 0, [4, 8, 12], :] = 1.0
    unit = HarmonicConv2d(1, 1, (3, 3), anchor=3, bias=False)
    with torch.no_grad():
        unit.weight.zero_()
        unit.weight[0, :, 0, 1] = 1.0
    with torch.no_grad():
        response = unit(comb)[0, 0, :, 1]
    assert response[12] == pytest.approx(3.0) and response.argmax() == 12
    assert response[[11, 13]].max() < 1.5                             # a mistuned bin misses the partials
    assert unit.lower(comb).shape == (1, 3, 32, 3)


def test_the_harmonic_prior_replaces_every_3x3_convolution_and_has_no_dilation():
    from restorebench.models.harmonic import HarmonicConv2d

    net = AudioPriorUNet("harmonic", widths=(4, 8, 16))
    harmonic = [m for m in net.modules() if isinstance(m, HarmonicConv2d)]
    plain = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(harmonic) == 12                      # 2 per block x 5 blocks + 2 upsampling convolutions
    assert all(m.kernel_size == (1, 1) for m in plain)          # only the 1x1 head is left
    from restorebench.models.unet import harmonic3x3
    with pytest.raises(ValueError, match="no dilation"):
        harmonic3x3(1, 1, dilation=2)
