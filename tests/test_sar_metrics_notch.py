import numpy as np
import pytest

from restorebench.methods.notch import CFARConfig, cfar_mask, notch
from restorebench.metrics.sar import entropy_bits, iou, me, pixel_accuracy, psnr_db, scatterer_kept, scatterer_masked


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


def test_scatterer_kept_is_bounded_and_coherent():
    clean = np.ones((9, 9))
    restored = clean.copy()
    restored[3:6, 3:6] *= 0.5
    assert scatterer_kept(clean, restored, [(4, 4), (1, 7)]) == pytest.approx([0.5, 1.0])
    # a checkerboard (nearly orthogonal to the window) adds energy, only its projection counts, and the
    # result never exceeds 1
    noisy = clean + np.where(np.indices((9, 9)).sum(axis=0) % 2 == 0, 1.0, -1.0)
    assert scatterer_kept(clean, noisy, [(4, 4)])[0] == 1.0
    assert scatterer_kept(clean, 0.8 * noisy, [(4, 4)])[0] == pytest.approx(0.8 * (1 + 1 / 9))
    assert scatterer_kept(clean, np.zeros((9, 9)), [(4, 4)])[0] == 0.0


def test_scatterer_masked_counts_only_scatterer_dominated_cells_not_claimed_by_rfi():
    point_tf = np.zeros((1, 4, 4))
    point_tf[0, 1, :] = 10.0                     # the scatterer's ridge in bin 1
    rest_tf = np.ones((1, 4, 4))
    label = np.zeros((1, 4, 4), dtype=np.uint8)
    label[0, 1, 3] = 1                           # one ridge cell is RFI-dominated: not the scatterer's
    mask = np.zeros((1, 4, 4), dtype=bool)
    mask[0, 1, :2] = True                        # the mask removes two of the three scatterer cells
    mask[0, 2, :] = True                         # and cells elsewhere, which do not count
    assert scatterer_masked(mask, point_tf, rest_tf, label) == pytest.approx(2 / 3)
    assert np.isnan(scatterer_masked(mask, np.zeros((1, 4, 4)), rest_tf, label))


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


def test_calibration_picks_the_pfa_that_best_matches_the_labels_and_false_alarms_are_measured():
    """Lines 3 dB above exponential noise: a strict P_fa misses them, a loose one floods the background;
    the calibration keeps the grid's best IoU, and the measured false-alarm rate of a noise-only set
    equals the nominal P_fa for independent cells."""
    from restorebench.methods.notch import calibrate_pfa, false_alarm_rate

    rng = np.random.default_rng(3)
    cfg = CFARConfig(guard=1, train=6, pfa=1e-3)
    power = rng.exponential(1.0, (8, 64, 64))
    label = np.zeros(power.shape, dtype=np.uint8)
    label[:, 10:12] = 1
    power[:, 10:12] *= 4.0                      # weak lines: detectable only at a loose threshold
    band = np.ones(64, dtype=bool)
    best, scores = calibrate_pfa([power], [label], band, cfg, grid=(1e-1, 1e-2, 1e-3, 1e-6))
    assert scores[best] == max(scores.values())
    assert best > 1e-3 and scores[best] > scores[1e-3] and scores[best] > scores[1e-6]
    noise = rng.exponential(1.0, (8, 256, 64))
    assert false_alarm_rate([noise], np.ones(256, dtype=bool), CFARConfig(guard=1, train=6, pfa=1e-2)) == \
        pytest.approx(1e-2, rel=0.15)
    # only the band's bins count (zeroed bins outside it, away from its training cells, flag nothing)
    half = (np.arange(256) >= 16) & (np.arange(256) < 112)
    noise[:, 128:] = 0
    assert false_alarm_rate([noise], half, CFARConfig(guard=1, train=6, pfa=1e-2)) == pytest.approx(1e-2, rel=0.2)
