"""The one training loop (methods/training.py) through S1's networks: loss falls, weights-only files, exact
resume from the per-epoch checkpoint, corrupt or foreign checkpoints restart, bad data is named."""
import numpy as np
import pytest
import torch

from restorebench.methods.train_rfi import RFINetConfig, load_trained, train
from restorebench.methods.training import OptimConfig, train_model

SIZES = {"difnet": dict(channels=4, window=4, levels=1), "pisnet": dict(width=4, residual_blocks=1, bases=4)}
OPTIM = dict(epochs=3, batch_size=2)


def _toy(n=6, seed=0):
    """Spectrogram-like inputs with a bright horizontal line; target = the line's mask."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 16, 16)).astype(np.float32) * 0.3
    y = np.zeros_like(x)
    for i in range(n):
        row = rng.integers(0, 16)
        x[i, row] = 1.0
        y[i, row] = 1.0
    return x, y


def test_difnet_training_lowers_the_loss_and_saves_weights_only_files(tmp_path):
    x, y = _toy()
    net = RFINetConfig("difnet", SIZES["difnet"])
    model, history = train(net, OptimConfig(epochs=12, batch_size=2, learning_rate=3e-3), x, y,
                           tmp_path / "difnet.pt", tmp_path / "ckpt", progress=False)
    assert history[-1] < 0.6 * history[0]
    state = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)
    assert state["epoch"] == 12 and len(state["history"]) == 12
    reloaded, reloaded_cfg = load_trained(tmp_path / "difnet.pt")
    assert reloaded_cfg == net
    with torch.no_grad():
        assert torch.equal(reloaded(torch.from_numpy(x[:1, None])), model.eval()(torch.from_numpy(x[:1, None])))


@pytest.mark.parametrize("kind", ["difnet", "pisnet"])
def test_resumed_training_equals_uninterrupted_training(tmp_path, kind, capsys):
    x, y = _toy()
    net = RFINetConfig(kind, SIZES[kind])
    # a step schedule and gradient clipping too: their state must survive the interruption
    optim = OptimConfig(**OPTIM, lr_step_epochs=1, lr_gamma=0.5, grad_clip_norm=0.5)
    full, full_history = train(net, optim, x, y, tmp_path / "full.pt", tmp_path / "full", progress=False)
    # "interrupted" after one epoch: a 1-epoch run leaves its checkpoint, the 3-epoch job continues it
    train(net, OptimConfig(**{**OPTIM, "epochs": 1}, lr_step_epochs=1, lr_gamma=0.5, grad_clip_norm=0.5), x, y,
          tmp_path / "part1.pt", tmp_path / "part", progress=False)
    resumed, resumed_history = train(net, optim, x, y, tmp_path / "part.pt", tmp_path / "part", progress=False)
    assert "resumed from epoch 1 of 3" in capsys.readouterr().err
    assert resumed_history == full_history
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    # without the schedule the result differs: the test above would notice a lost scheduler state
    plain, _ = train(net, OptimConfig(**OPTIM, grad_clip_norm=0.5), x, y, tmp_path / "plain.pt", tmp_path / "plain",
                     progress=False)
    assert not all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), plain.state_dict().values()))


def test_corrupt_or_foreign_checkpoint_restarts_with_a_warning(tmp_path):
    x, y = _toy()
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "last.pt").write_bytes(b"\x80\x02 truncated")
    net = RFINetConfig("difnet", SIZES["difnet"])
    with pytest.warns(UserWarning, match="last.pt: unusable checkpoint"):
        _, history = train(net, OptimConfig(**OPTIM), x, y, tmp_path / "w.pt", ckpt, progress=False)
    assert len(history) == 3 and torch.load(ckpt / "last.pt", weights_only=True)["epoch"] == 3
    # the same folder, other training data: never resumed
    with pytest.warns(UserWarning, match="different model, configuration or training set"):
        _, history = train(net, OptimConfig(**OPTIM), x[::-1].copy(), y[::-1].copy(), tmp_path / "w.pt", ckpt,
                           progress=False)
    assert len(history) == 3


def test_gradient_clipping_bounds_the_step():
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    data = (np.ones((1, 1), np.float32) * 100,)
    # loss = -(w * 100) has gradient -100; the hook sees it before clipping, .grad holds it after
    grads = []
    model.weight.register_hook(lambda g: grads.append(g.clone()))

    def loss(m, batch):
        return -m(batch[0]).mean()

    import tempfile
    with tempfile.TemporaryDirectory() as d:
        train_model(model, loss, data, OptimConfig(epochs=1, batch_size=1, optimizer="adam", grad_clip_norm=2.0),
                    {"toy": 1}, d, progress=False)
    assert grads[0].item() == pytest.approx(-100.0)          # the raw gradient ...
    assert model.weight.grad.norm().item() == pytest.approx(2.0)   # ... clipped to norm 2 before the step


def test_bad_training_data_is_named(tmp_path):
    x, y = _toy()
    with pytest.raises(ValueError, match="multiples of 8"):
        train(RFINetConfig("difnet", {**SIZES["difnet"], "levels": 1}), OptimConfig(**OPTIM), x[:, :12, :12], y[:, :12, :12],
              tmp_path / "w.pt", tmp_path / "c")
    with pytest.raises(ValueError, match="not a restorebench weights file"):
        (tmp_path / "junk.pt").write_bytes(b"junk")
        load_trained(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="unknown optimizer"):
        OptimConfig(optimizer="sgd")
    with pytest.raises(FloatingPointError, match="loss became nan"):
        train_model(torch.nn.Linear(1, 1), lambda m, b: m(b[0]).mean() * float("nan"),
                    (np.ones((2, 1), np.float32),), OptimConfig(epochs=1), {}, tmp_path / "nan", progress=False)


def test_the_plateau_rule_reads_the_last_fifth_of_the_validation_curve():
    from restorebench.methods.training import plateau

    # the median of the last fifth against the median of the fifth before it
    flat = [1.0, 0.5, 0.4, 0.39, 0.389, 0.3889, 0.3888, 0.38875, 0.38872, 0.38871]
    assert plateau(flat) == (True, pytest.approx((0.388775 - 0.388715) / 0.388775))
    falling = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1]
    at, improvement = plateau(falling)
    assert not at and improvement == pytest.approx((0.225 - 0.125) / 0.225)
    assert plateau([0.5]) == (None, pytest.approx(float("nan"), nan_ok=True))
    assert plateau([]) [0] is None
    assert plateau([1.0, 0.5, float("nan")])[0] is None
    # two epochs: the last one against the first
    assert plateau([1.0, 0.999])[0] and not plateau([1.0, 0.9])[0]
    # a noisy flat curve: one high epoch just before the last fifth and one lucky low one earlier are
    # neither improvement nor a level to beat; a new lower level is improvement
    jitter = [1.0, 0.7, 0.5, 0.45, 0.42, 0.41, 0.43, 0.415, 0.412, 0.414, 0.418, 0.35, 0.409, 0.416, 0.411,
              0.413, 0.41, 0.415, 0.46, 0.412, 0.413, 0.411, 0.416, 0.41, 0.414]
    assert plateau(jitter) == (True, pytest.approx(0.0))
    at, improvement = plateau(jitter[:-5] + [0.39] * 5)
    assert not at and improvement == pytest.approx((0.413 - 0.39) / 0.413)


def test_a_lucky_epoch_before_the_last_fifth_does_not_hide_a_curve_still_falling():
    """S4, a Figure 5 network at d = 16: falling ~4 % per 60 epochs under a ~3 % epoch-to-epoch jitter, it
    read "plateau" while its best before the last fifth was one lucky dip (best against best)."""
    from restorebench.methods.training import plateau

    curve = [0.5 * 0.99 ** e * (1 + 0.03 * (-1) ** e) for e in range(50)]
    curve[30] = 0.5 * 0.99 ** 60                      # one epoch as low as the curve will be ten epochs on
    best_before, best_last = min(curve[:40]), min(curve[40:])
    assert best_last > best_before                    # a best-against-best reading would call this flat
    at, improvement = plateau(curve)
    medians = np.median(curve[30:40]), np.median(curve[40:])
    assert not at and improvement == pytest.approx((medians[0] - medians[1]) / medians[0]) and improvement > 0.08


def test_the_plateau_rule_reads_an_improvement_within_the_curves_own_scatter_as_a_plateau():
    from restorebench.methods.training import plateau, validation_scatter

    # S1 at standard, DIFNet of replicate 6: flat for its last 12 of 50 epochs, jittering 0.2-5.5 %
    tail = [0.1816, 0.1806, 0.1815, 0.1825, 0.1841, 0.1804, 0.1818, 0.1798, 0.1903, 0.1899,
            0.1794, 0.1784, 0.178, 0.1821, 0.1811, 0.1847, 0.1783, 0.1813, 0.1788, 0.1784]
    curve = list(np.linspace(0.4, 0.19, 30)) + tail
    changes = sorted(abs(b - a) / a for a, b in zip(curve[39:49], curve[40:50]))
    assert validation_scatter(curve) == pytest.approx((changes[4] + changes[5]) / 2)   # 1.55 %
    at, improvement = plateau(curve)
    medians = (0.1816 + 0.1818) / 2, (0.1788 + 0.1794) / 2
    assert improvement == pytest.approx((medians[0] - medians[1]) / medians[0]) and improvement > 0.01 and at
    # the same jitter on a curve still falling 0.4 % an epoch: it improves by several times its scatter
    falling = [v * 0.996 ** e for e, v in enumerate([0.2] * 30 + [0.2 * (1 + 0.004 * (-1) ** e) for e in range(20)])]
    assert validation_scatter(falling) < 0.01 and not plateau(falling)[0]
    # a curve jittering 10 % an epoch: its scatter counts up to 2 % only, so a 5.5 % improvement is not a plateau
    noisy = [1.0] * 40 + [0.9 * (1 + 0.1 * (e % 2)) for e in range(10)]
    assert validation_scatter(noisy) > 0.09 and plateau(noisy) == (False, pytest.approx(1 - (0.9 + 0.99) / 2))
    # too few epochs in the last fifth to measure a scatter: the 1 % tolerance alone
    assert np.isnan(validation_scatter([1.0, 0.9, 0.8, 0.7, 0.69, 0.68])) and not plateau([1.0, 0.9, 0.8, 0.7, 0.69, 0.68])[0]


def test_holdout_keeps_whole_groups_out_and_training_records_the_validation_curve(tmp_path):
    from restorebench.methods.training import holdout

    groups = np.repeat(np.arange(10), 3)
    held = holdout(groups, 0.2, 0)
    assert held.sum() == 6 and all(held[groups == g].all() or not held[groups == g].any() for g in range(10))
    assert not holdout(np.zeros(5), 0.5, 0).any()                 # one group: nothing to hold out
    assert not holdout(groups, 0.0, 0).any()
    x, y = _toy()
    net = RFINetConfig("difnet", SIZES["difnet"])
    _, history = train(net, OptimConfig(**OPTIM), x[:-2], y[:-2], tmp_path / "w.pt", tmp_path / "v",
                       progress=False, validation=(x[-2:], y[-2:]))
    _, plain = train(net, OptimConfig(**OPTIM), x[:-2], y[:-2], tmp_path / "p.pt", tmp_path / "p", progress=False)
    assert len(history.validation) == len(history) == 3 and plain.validation == []
    assert history == plain                     # recording the validation loss leaves training as it was
    saved = torch.load(tmp_path / "w.pt", weights_only=True)
    assert saved["validation"] == history.validation and saved["steps"] == history.steps > 0


def test_pisnet_starts_at_its_targets_mean_and_does_not_saturate_on_small_targets(tmp_path):
    """At the paper's SIRs the clean target sits far under the input (mean ~0.07): from the sigmoid's 0.5 the
    first AdamW steps saturated PISNet's output at 0 for good (validation loss flat at the mean squared
    target; here, without the start at the mean: MSE 0.0045 = mean(y^2)). Started at the targets' mean it
    stays off the saturated end, at or below the best constant's error."""
    from restorebench.methods.train_rfi import build_model

    rng = np.random.default_rng(0)
    x = rng.random((8, 16, 16)).astype(np.float32)
    y = (0.15 * x ** 2).astype(np.float32)                # mean 0.05, a function of the input
    net = RFINetConfig("pisnet", dict(width=8, residual_blocks=1, bases=4))
    untrained = build_model(net)
    untrained.start_output_at(0.05)
    with torch.no_grad():
        assert float(untrained(torch.from_numpy(x[:, None])).mean()) == pytest.approx(0.05, abs=0.01)
    model, history = train(net, OptimConfig(epochs=30, batch_size=2, learning_rate=2e-4, optimizer="adamw",
                                            weight_decay=0.02), x, y, tmp_path / "p.pt", tmp_path / "p",
                           progress=False)
    with torch.no_grad():
        out = model.eval()(torch.from_numpy(x[:, None]))[:, 0].numpy()
    error, saturated = float(np.mean((out - y) ** 2)), float(np.mean(y ** 2))
    assert error < 0.6 * saturated and error <= 1.02 * float(np.var(y))
    assert out.mean() == pytest.approx(y.mean(), abs=0.01)


def test_a_training_still_improving_at_its_epochs_goes_on_until_the_plateau_rule_holds(tmp_path, capsys):
    from restorebench.methods.training import plateau

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 1)).astype(np.float32)
    y = (2 * x + 0.1 * rng.normal(size=x.shape)).astype(np.float32)
    data, held = (x[:64], y[:64]), (x[64:], y[64:])

    def loss(model, batch):
        return torch.mean((model(batch[0]) - batch[1]) ** 2)

    def run(name, epochs, extend, validation=held):
        torch.manual_seed(0)
        model = torch.nn.Linear(1, 1)
        optim = OptimConfig(epochs=epochs, batch_size=16, optimizer="adam", learning_rate=0.02,
                            extend_to_plateau=extend)
        return model, train_model(model, loss, data, optim, {}, tmp_path / name, progress=False,
                                  validation=validation)

    _, scheduled = run("scheduled", 5, 0)
    assert len(scheduled) == 5 and plateau(scheduled.validation)[0] is False      # still falling at 5 epochs
    model, extended = run("extended", 5, 200)
    # it stopped at the first epoch the rule reads flat, well before the cap
    assert 5 < len(extended) < 205 and plateau(extended.validation)[0]
    assert plateau(extended.validation[:-1])[0] is False
    assert extended.train[:5] == scheduled.train and extended.steps == len(extended) * 4
    # a rerun of the extended job continues the scheduled one's checkpoint and stops at the same epoch
    resumed_model, resumed = run("scheduled", 5, 200)
    assert "resumed from epoch 5 of 5" in capsys.readouterr().err
    assert resumed.train == extended.train and resumed.validation == extended.validation
    assert torch.equal(resumed_model.weight, model.weight)
    # no validation split, nothing to read: the scheduled epochs only
    assert len(run("blind", 5, 200, validation=None)[1]) == 5
