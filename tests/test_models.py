import pytest
import torch

from restorebench.models.unet import AudioPriorUNet, count_parameters, prior_spec


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
        prior_spec("harmonic")


@pytest.mark.parametrize("prior", ["conv", "dilated", "exp", "exp-dense"])
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
