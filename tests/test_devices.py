"""The device layer (restorebench.devices) and the trainer's GPU-minded data path, checked on the CPU where
they can be; the tests decorated ``@cuda`` run only where a CUDA device is (``pytest tests/test_devices.py`` on a GPU machine).

* device errors a user can act on (no CUDA here; an ordinal the scheduler does not show);
* every generator a training draws from survives a resume, and older checkpoints (CPU state only) still load;
* the trainer reads the device once per epoch, not per step, and a non-finite loss leaves the last good
  checkpoint in place;
* bf16 autocast: losses in fp32, weights fp32, within a stated distance of the fp32 training;
* the deterministic upsampling equals F.interpolate, forward and backward.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import host_reads

from restorebench import devices
from restorebench.methods.training import OptimConfig, train_model
from restorebench.models.upsample import upsample_twice

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_cuda_devices_that_are_not_here_are_named_with_what_to_do(monkeypatch):
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"--device cuda: torch sees no CUDA device here .*use --device auto or cpu"):
            devices.resolve_device("cuda")
    # under a scheduler that gives the job one GPU, only cuda:0 is visible
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with pytest.raises(ValueError, match=r"--device cuda:1: only 1 CUDA device\(s\) are visible here \(cuda:0 to "
                                         r"cuda:0, CUDA_VISIBLE_DEVICES='3'\).*use --device cuda"):
        devices.resolve_device("cuda:1")
    assert devices.resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="is not a torch device"):
        devices.resolve_device("gpu0")


def _noisy_regression(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 16)).astype(np.float32)
    return x, (np.roll(x, 1, axis=-1) * 0.5).astype(np.float32)


def _conv():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv1d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv1d(8, 1, 3, padding=1))


def _random_loss(model, batch):
    """A loss that draws from the generator of the device it runs on (as S4's rescaling factors do)."""
    x, y = batch
    scale = 1 + torch.rand(x.shape[0], 1, 1, device=x.device)
    return (model(x * scale) - y * scale).square().mean()


def _train(tmp_path, name, epochs, device=torch.device("cpu"), loss=_random_loss, **optim):
    model = _conv()
    history = train_model(model, loss, _noisy_regression(), OptimConfig(epochs=epochs, batch_size=4, **optim),
                          {"toy": 1}, tmp_path / name, device=device, progress=False)
    return model, history


def _resume_matches(tmp_path, device):
    full, full_history = _train(tmp_path, "full", 3, device)
    _train(tmp_path, "part", 1, device)                     # "killed" after epoch 1
    resumed, resumed_history = _train(tmp_path, "part", 3, device)
    assert resumed_history == full_history
    assert all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), resumed.state_dict().values()))
    return torch.load(tmp_path / "part" / "last.pt", weights_only=True)["rng"]


def test_a_resumed_training_that_draws_random_numbers_equals_an_uninterrupted_one(tmp_path):
    rng = _resume_matches(tmp_path, torch.device("cpu"))
    assert set(rng) == {"cpu"}
    # a checkpoint written before the device's generator was saved (a bare CPU state) still resumes
    state = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    torch.manual_seed(123)
    assert not torch.equal(torch.get_rng_state(), state["rng"]["cpu"])
    devices.set_rng_state(state["rng"]["cpu"], torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), state["rng"]["cpu"])


@cuda
def test_on_cuda_a_resumed_training_restores_the_device_generator(tmp_path):
    rng = _resume_matches(tmp_path, torch.device("cuda"))
    assert set(rng) == {"cpu", "cuda"}


def test_the_trainer_reads_the_device_once_per_epoch_not_per_step(tmp_path):
    """On a GPU each read (float(loss), a finiteness check) stalls the loop until the device has caught up."""
    def reads(epochs):
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            _train(tmp_path, f"reads{epochs}", epochs, loss=lambda m, b: (m(b[0]) - b[1]).square().mean())
        return host_reads(prof)

    # 3 batches per epoch: one more epoch may add one read, not three
    assert reads(4) - reads(2) == 2


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    _train(tmp_path, "run", 1)
    good = torch.load(tmp_path / "run" / "last.pt", weights_only=True)

    def poisoned(model, batch):
        loss = _random_loss(model, batch)
        return loss * float("inf") if torch.is_grad_enabled() else loss

    with pytest.raises(FloatingPointError, match="loss became (inf|nan) in epoch 2.*keeps epoch 1"):
        _train(tmp_path, "run", 2, loss=poisoned)
    kept = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert kept["epoch"] == 1 and all(torch.equal(good["model"][k], v) for k, v in kept["model"].items())


def test_bf16_trains_the_network_in_autocast_and_the_loss_in_fp32_close_to_fp32(tmp_path):
    seen = []

    def loss(model, batch):
        x, y = batch
        out = model(x)
        seen.append(out.dtype)
        return (out - y).square().mean()

    fp32, fp32_history = _train(tmp_path, "fp32", 6, loss=loss, learning_rate=1e-2)
    bf16, bf16_history = _train(tmp_path, "bf16", 6, loss=loss, learning_rate=1e-2, precision="bf16")
    assert set(seen) == {torch.float32}                     # the loss sees fp32 outputs in both
    assert all(p.dtype == torch.float32 for p in bf16.parameters())
    assert "forward" not in vars(bf16)                      # the class's forward again after training
    # the model did run in bf16: the histories differ, but by no more than bf16's rounding (8-bit mantissa)
    assert bf16_history != fp32_history
    assert np.allclose(bf16_history, fp32_history, rtol=0.03), (fp32_history, bf16_history)
    assert bf16_history[-1] < 0.5 * bf16_history[0]
    # a checkpoint trained in fp32 is not resumed as a bf16 one
    with pytest.warns(UserWarning, match="different model, configuration or training set"):
        _train(tmp_path, "fp32", 7, loss=loss, learning_rate=1e-2, precision="bf16")


def test_precision_is_checked():
    with pytest.raises(ValueError, match="precision 'fp16': choose one of fp32, bf16"):
        OptimConfig(precision="fp16")


@pytest.mark.parametrize("mode,shape", [("linear", (2, 3, 7)), ("bilinear", (2, 3, 5, 6))])
def test_the_deterministic_upsampling_equals_interpolate_forward_and_backward(mode, shape):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(*shape[:2], *(2 * s for s in shape[2:]), dtype=torch.float64)
    ours = upsample_twice(x, mode)
    theirs = F.interpolate(x, scale_factor=2, mode=mode, align_corners=False)
    assert torch.allclose(ours, theirs, atol=1e-12)
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), x)
    (grad_theirs,) = torch.autograd.grad((theirs * weights).sum(), x)
    assert torch.allclose(grad_ours, grad_theirs, atol=1e-12)


@cuda
def test_deterministic_cuda_trainings_of_the_suite_networks_are_bit_identical(tmp_path):
    """Two runs of the S2 prior and the S4 declipper (bilinear / linear upsampling) under make_deterministic."""
    import subprocess
    import sys

    script = """
import sys, torch
from restorebench import devices, registry
devices.make_deterministic()
torch.manual_seed(0)
prior = registry.get("S2", "prior", "exp-dense").build(in_channels=2, out_channels=2, widths=(8, 16, 32),
                                                        out_activation="linear").cuda()
code = torch.randn(1, 2, 64, 64, device="cuda")
opt = torch.optim.Adam(prior.parameters(), 1e-3)
for _ in range(20):
    loss = prior(code).square().mean(); opt.zero_grad(); loss.backward(); opt.step()
print(repr([p.double().sum().item() for p in prior.parameters()][:6]))
"""
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1]
