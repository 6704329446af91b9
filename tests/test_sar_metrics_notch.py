import numpy as np
import pytest

from restorebench.methods.notch import CFARConfig, cfar_mask, notch
from restorebench.metrics.sar import entropy_bits, iou, me, pixel_accuracy, psnr_db, scatterer_energy_kept


def test_pa_and_iou_by_hand():
    label = np.array([[1, 1, 0, 0], [0, 0, 0, 0]])
    pred = np.array([[1, 0, 1, 0], [0, 0, 0, 0]])
    assert pixel_accuracy(pred, label) == pytest.approx(6 / 8)      # TP 1, TN 5
    assert iou(pred, label) == pytest.approx(1 / 3)                 # 1 / |{0,1,2}|
    assert iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


def test_psnr_and_me_known_values():
    clean = np.full((10, 10), 2.0)
    assert psnr_db(clean, clean + 0.2) == pytest.approx(20 * np.log10(2.0 / 0.2))
    uniform = np.linspace(0, 1, 256 * 40, endpoint=False)          # fills every histogram bin equally
    assert entropy_bits(uniform) == pytest.approx(8.0)
    assert me(np.full((4, 4), 0.5), np.ones((4, 4))) == pytest.approx(0.0)   # one bin: zero entropy
    assert me(uniform.reshape(40, 256), np.ones(1)) == pytest.approx(8.0 * uniform.mean())


def test_scatterer_energy_kept():
    clean = np.ones((9, 9))
    restored = clean.copy()
    restored[3:6, 3:6] *= 0.5
    kept = scatterer_energy_kept(clean, restored, [(4, 4), (1, 7)])
    assert kept == pytest.approx([0.25, 1.0])
    # a checkerboard (nearly orthogonal to the scatterer window) adds energy but only its projection counts
    noisy = clean + np.where(np.indices((9, 9)).sum(axis=0) % 2 == 0, 1.0, -1.0)
    assert scatterer_energy_kept(clean, noisy, [(4, 4)])[0] == pytest.approx((1 + 1 / 9) ** 2)


@pytest.mark.parametrize("axes", ["frequency", "time-frequency"])
def test_cfar_false_alarm_rate_on_exponential_noise(axes):
    cfg = CFARConfig(guard=1, train=6, pfa=1e-2, axes=axes)
    power = np.random.default_rng(0).exponential(1.0, (4, 256, 256))
    rate = cfar_mask(power, cfg).mean()
    # CA-CFAR in homogeneous exponential noise: alpha = N (P_fa^(-1/N) - 1) gives exactly P_fa
    assert rate == pytest.approx(cfg.pfa, rel=0.15)


def test_notch_zeroes_a_strong_line():
    rng = np.random.default_rng(1)
    spec = (rng.standard_normal((64, 64)) + 1j * rng.standard_normal((64, 64))) / np.sqrt(2)
    spec[20] += 30.0                                                 # a narrowband RFI line in bin 20
    out, mask = notch(spec, CFARConfig(guard=1, train=4, pfa=1e-4, axes="time-frequency"))
    assert mask[20].mean() > 0.9 and mask[40].mean() < 0.01
    assert np.all(out[mask] == 0) and np.array_equal(out[~mask], spec[~mask])


def test_frequency_training_cells_catch_a_line_that_masks_itself_in_time():
    rng = np.random.default_rng(2)
    spec = (rng.standard_normal((64, 64)) + 1j * rng.standard_normal((64, 64))) / np.sqrt(2)
    spec[20] += 30.0
    spec[21] += 30.0                                                 # a 2-bin-wide narrowband line
    freq = notch(spec, CFARConfig(guard=0, train=8, pfa=1e-3))[1]
    assert freq[20].mean() > 0.9 and freq[21].mean() > 0.9
