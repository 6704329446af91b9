import numpy as np
import pytest
import torch

from restorebench.methods.train_rfi import TrainConfig, load_trained, train

SMALL = dict(epochs=3, batch_size=2, width=4, window=4, levels=1, residual_blocks=1, bases=4)


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


def test_difnet_training_lowers_the_loss_and_saves_weights_only_checkpoints(tmp_path):
    x, y = _toy()
    cfg = TrainConfig("difnet", **{**SMALL, "epochs": 12, "learning_rate": 3e-3})
    model, history = train(cfg, x, y, tmp_path / "ckpt.pt", progress=False)
    assert history[-1] < 0.6 * history[0]
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert state["epoch"] == 12 and len(state["history"]) == 12
    reloaded, reloaded_cfg = load_trained(tmp_path / "ckpt.pt")
    assert reloaded_cfg == cfg
    with torch.no_grad():
        assert torch.equal(reloaded(torch.from_numpy(x[:1, None])), model.eval()(torch.from_numpy(x[:1, None])))


@pytest.mark.parametrize("kind", ["difnet", "pisnet"])
def test_resumed_training_equals_uninterrupted_training(tmp_path, kind):
    x, y = _toy()
    full_cfg = TrainConfig(kind, **SMALL)
    full, full_history = train(full_cfg, x, y, tmp_path / "full.pt", progress=False)
    # "interrupted" after one epoch: train 1 epoch, then rerun the 3-epoch job on the same checkpoint
    part = tmp_path / "part.pt"
    train(TrainConfig(kind, **{**SMALL, "epochs": 1}), x, y, part, progress=False)
    state = torch.load(part, weights_only=True)
    state["config"]["epochs"] = 3                       # the rerun job asks for the full 3 epochs
    torch.save(state, part)
    resumed, resumed_history = train(full_cfg, x, y, part, progress=False)
    assert resumed_history == full_history
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_corrupt_checkpoint_restarts_with_a_warning(tmp_path):
    x, y = _toy()
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"\x80\x02 truncated")
    with pytest.warns(UserWarning, match="unusable checkpoint"):
        _, history = train(TrainConfig("difnet", **SMALL), x, y, ckpt, progress=False)
    assert len(history) == 3
    assert torch.load(ckpt, weights_only=True)["epoch"] == 3


def test_bad_training_data_is_named(tmp_path):
    x, y = _toy()
    with pytest.raises(ValueError, match="multiples of 8"):
        train(TrainConfig("difnet", **{**SMALL, "levels": 1}), x[:, :12, :12], y[:, :12, :12], tmp_path / "c.pt")
    with pytest.raises(ValueError, match="not a restorebench checkpoint"):
        (tmp_path / "junk.pt").write_bytes(b"junk")
        load_trained(tmp_path / "junk.pt")
