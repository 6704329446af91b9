"""Options shared by several subcommands, and the helpers that turn them into configuration objects.

Nothing here imports torch, numpy or a science module at parse time: ``restorebench --help`` must stay fast.
Lists that live in modules with heavy imports (the sensor table, the RFI kinds, the embedded datasets) are
read only when a help text is formatted or a value is checked (:class:`LazyChoices`, :func:`defer_help`).
"""
from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DEVICE_HELP = "torch device: auto (CUDA when present, else CPU), cpu, cuda or cuda:N (default: %(default)s)"
THREADS_HELP = "torch CPU threads; 0 = torch's default (default: %(default)s)"


# ------------------------------------------------------------------------------------- lazy name lists

def _attribute(module: str, name: str) -> Callable[[], tuple[str, ...]]:
    def load() -> tuple[str, ...]:
        return tuple(getattr(importlib.import_module(module), name))
    return load


class LazyChoices(Sequence):
    """``choices`` read from a module on first use (checking a value, formatting help), not at parse time.

    Give the option a ``metavar``: without one, argparse lists the choices while the option is added.
    """

    def __init__(self, load: Callable[[], Sequence[str]]):
        self._load = load
        self._items: tuple[str, ...] | None = None

    def _get(self) -> tuple[str, ...]:
        if self._items is None:
            self._items = tuple(self._load())
        return self._items

    def __getitem__(self, index):
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __contains__(self, value) -> bool:
        return value in self._get()

    def __iter__(self):
        return iter(self._get())


class _Deferred:
    """A help-text parameter computed when the help is formatted (``%(name)s`` in the action's help)."""

    def __init__(self, load: Callable[[], Sequence[str]]):
        self._load = load

    def __str__(self) -> str:
        return ", ".join(self._load())


def defer_help(action: argparse.Action, **lists: Callable[[], Sequence[str]]) -> argparse.Action:
    """Make ``%(key)s`` in ``action.help`` expand to the comma-separated names ``lists[key]()`` returns.

    argparse expands a help text with the action's attributes, so each list becomes one attribute, loaded
    only when the help is printed.
    """
    for key, load in lists.items():
        setattr(action, key, _Deferred(load))
    return action


def key_values(items: Sequence[str], option: str) -> dict:
    """``KEY=VALUE`` strings as a dict; a VALUE that reads as JSON (a number, true/false, a quoted string, a
    list) is that, anything else a string. A malformed item is an error naming ``option``."""
    import json

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def listed(names: Sequence[str]) -> str:
    """Names as help text, comma-separated, with '%' escaped for argparse's help formatting."""
    return ", ".join(names).replace("%", "%%")


#: the sensor table of the S1 echo simulation (restorebench.physics.sar.SENSORS, what get_sensor knows)
SENSORS = LazyChoices(_attribute("restorebench.physics.sar", "SENSORS"))
#: RFI kinds of restorebench.physics.rfi (imports torch: only read when the help is formatted)
RFI_KINDS = _attribute("restorebench.physics.rfi", "RFI_KINDS")
#: embedded datasets of restorebench.data.corpus
EMBEDDED_DATASETS = _attribute("restorebench.data.corpus", "EMBEDDED_DATASETS")
#: data roles of S2 (restorebench.experiments.audio_priors.ROLES)
S2_ROLES = _attribute("restorebench.experiments.audio_priors", "ROLES")


# ------------------------------------------------------------------------------------------ subcommands

@dataclass(frozen=True)
class UserTool:
    """What a user-facing tool reads and writes, declared where it is registered, so that the bad-input
    matrix (tests/test_bad_inputs.py) feeds every tool the known bad inputs of each file it reads.

    ``files``: option -> kind of file ("audio", "slc", "echoes", "scene", "weights:S1|S3|S4"); ``outputs``:
    the options naming what it writes; ``example``: the other options of a minimal valid call.
    """
    name: str
    files: dict
    outputs: tuple
    example: tuple = ()


#: every user tool, by name (filled as the parser is built)
USER_TOOLS: dict[str, UserTool] = {}


def declare_user_tool(name: str, files: dict, outputs: tuple = (), example: tuple = ()) -> None:
    USER_TOOLS[name] = UserTool(name, dict(files), tuple(outputs), tuple(example))


def check_outputs_writable(args) -> None:
    """Before a user tool starts (a fit can take minutes): each output it was given must be writable, i.e.
    its folder is a folder we may write in, or can be created. A ValueError names the option and path."""
    import os

    tool = USER_TOOLS.get(getattr(args, "command", ""))
    for option in tool.outputs if tool else ():
        value = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if not value:
            continue
        folder = Path(value).parent
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if not existing.is_dir():
            raise ValueError(f"{option} {value}: {existing} is a file, not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"{option} {value}: {existing} is not writable")
        if Path(value).is_dir():
            raise ValueError(f"{option} {value}: is a folder; give a file name")


def add_command(sub, name: str, help: str, func: Callable, description: str | None = None):
    """A subparser whose ``--help`` starts with its one-line ``help`` (plus ``description``, if given)."""
    p = sub.add_parser(name, help=help, description=f"{help}. {description}" if description else help)
    p.set_defaults(func=func)
    return p


# ---------------------------------------------------------------------------------------------- options

def add_threads_option(p) -> None:
    p.add_argument("--threads", type=int, default=0, help=THREADS_HELP)


def add_device_option(p, what: str = "") -> None:
    p.add_argument("--device", default="auto", help=(f"{what}: " if what else "") + DEVICE_HELP)
    p.add_argument("--deterministic", action="store_true",
                   help="repeatable CUDA runs: deterministic kernels, no TF32, a fixed cuBLAS workspace (slower "
                        "on a GPU; CPU runs are repeatable without it)")


def threads(n: int | None) -> None:
    """Set torch's CPU threads (0 or None: leave torch's default)."""
    if n:
        import torch
        torch.set_num_threads(n)


def add_sensor_option(p, help: str) -> None:
    p.add_argument("--sensor", required=True, choices=SENSORS, metavar="SENSOR",
                   help=f"{help}: one of %(choices)s (restorebench.physics.sar.SENSORS)")


def add_run_facts_option(p) -> None:
    p.add_argument("--run-facts", default="",
                   help="one paragraph describing the run (scale, data, sizes), printed on the page "
                        "(default: %(default)r)")


def run_facts(a) -> str:
    return a.run_facts or ""


def add_fit_options(p, iterations: int = 2000) -> None:
    """Options of one deep-prior fit (restorebench.methods.dip.FitConfig)."""
    p.add_argument("--iterations", type=int, default=iterations,
                   help="Adam iterations of each fit (default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--lr-decay-every", type=int, default=0,
                   help="multiply the learning rate by 0.1 every this many iterations; 0 = off, as in the "
                        "paper's text (the public code uses 500) (default: %(default)s)")
    p.add_argument("--record-every", type=int, default=1,
                   help="record the SNR trajectory, the oracle and the ES-WMV state every this many iterations "
                        "(default: %(default)s)")
    p.add_argument("--es-window", type=int, default=100,
                   help="ES-WMV early stopping: window of the moving variance, iterations (default: %(default)s)")
    p.add_argument("--es-patience", type=int, default=200,
                   help="ES-WMV early stopping: stop after this many iterations without a lower variance "
                        "(default: %(default)s)")
    p.add_argument("--widths", default="35,70,140",
                   help="channel widths of the prior U-Net's three levels, comma-separated (default: %(default)s, "
                        "the public code's)")
    p.add_argument("--dilation-divisor", type=int, default=1,
                   help="divide the paper's dilations by this (each at least 1), for a spectrogram this many times "
                        "smaller per axis than the paper's 512 x 256: every dilated layer then keeps the share of its "
                        "kernel taps inside its feature map that it has at the paper's geometry (docs/s2.md) "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the network initialisation and of the fixed random input code "
                        "(clip i of a file uses seed + 1000 i) (default: %(default)s)")
    add_device_option(p)
    add_threads_option(p)
    p.add_argument("--discrepancy-tau", type=float, default=0.7,
                   help="discrepancy stopping rule: stop at the first iterate whose data-fit residual is at most "
                        "this times the noise level (default: %(default)s, tuned by bench dip --time-to-quality)")
    p.add_argument("--noise-estimator", choices=("mad", "quantile"), default="mad",
                   help="blind noise estimate of the discrepancy rule: mad = median absolute deviation of the finest "
                        "Haar coefficients (Donoho & Johnstone 1994; white noise), quantile = per-bin noise floor "
                        "(Stahl et al. 2000; coloured noise) (default: %(default)s)")
    p.add_argument("--noise-quantile", type=float, default=0.1,
                   help="--noise-estimator quantile: the quantile of each bin's STFT power over frames "
                        "(default: %(default)s)")
    p.add_argument("--memory-format", choices=("auto", "channels-last", "contiguous"), default="auto",
                   help="memory layout of the fit; auto: the faster of the two, measured once per prior, shape and "
                        "machine (cached in $RESTOREBENCH_CACHE or ~/.cache/restorebench) (default: %(default)s)")
    p.add_argument("--fits-per-batch", type=int, default=0, metavar="N",
                   help="fit N clips (segments) at once, as one batched network call per layer: the same "
                        "results to float rounding, meant for a GPU, where a small fit mostly waits on kernel "
                        "launches (restorebench bench gpu times both ways); 0 = auto: one at a time on a CPU, as many as fit in half the free memory on "
                        "a GPU (default: %(default)s)")


def fit_config(a):
    from ..methods.dip import FitConfig

    return FitConfig(iterations=a.iterations, learning_rate=a.lr, lr_decay_every=a.lr_decay_every,
                     record_every=a.record_every, es_window=a.es_window, es_patience=a.es_patience,
                     discrepancy_tau=a.discrepancy_tau, noise_estimator=a.noise_estimator,
                     noise_quantile=a.noise_quantile,
                     widths=tuple(int(w) for w in a.widths.split(",")), dilation_divisor=a.dilation_divisor,
                     seed=a.seed, device=a.device,
                     memory_format=a.memory_format)


def add_stats_options(p) -> None:
    """Options of the paired statistics behind the claims' verdicts (restorebench.report.verdicts)."""
    p.add_argument("--alpha", type=float, default=0.05,
                   help="level of each one-sided test: a cell goes the paper's way at p <= alpha (no correction: "
                        "held is an intersection-union test); the other way at Holm p <= alpha "
                        "(default: %(default)s)")
    p.add_argument("--resamples", type=int, default=10000,
                   help="Monte-Carlo regroupings of the two-sample test (independent groups) above "
                        "--exact-max-units (default: %(default)s)")
    p.add_argument("--exact-max-units", type=int, default=20,
                   help="the two-sample test enumerates every regrouping while there are at most 2^this "
                        "(default: %(default)s)")
    p.add_argument("--power", type=float, default=0.8,
                   help="the power 'units needed' is computed for (default: %(default)s)")
    p.add_argument("--smallest-difference", default="", metavar="METRIC=DELTA,...",
                   help="smallest meaningful difference per metric (DELTA in the metric's units, or P%% of the "
                        "compared method's median), overriding the defaults of "
                        "restorebench.report.verdicts.DEFAULT_SMALLEST_DIFFERENCE (default: none)")
    p.add_argument("--stats-seed", type=int, default=0, help="seed of the Monte-Carlo permutations "
                                                             "(default: %(default)s)")
    p.add_argument("--in-place-of", action="append", default=[], metavar="NAMED=YOURS",
                   help="judge method YOURS wherever a claim names method NAMED (e.g. difnet=my-difnet: your "
                        "variant of the paper's method), repeatable; the page says which (default: none)")
    p.add_argument("--training", default=None,
                   help="the study's training table (tables/training.csv, restorebench training-report): a claim "
                        "cell using a network without a plateau, or one worse than the input, is not a verdict "
                        "(default: none: no training check)")
    p.add_argument("--scale", default="", help="scale preset the scores were obtained at (tiny, quick, paper), "
                                               "printed with each verdict (default: %(default)r)")
    add_run_facts_option(p)


def parse_smallest_difference(text: str) -> dict[str, float | str]:
    """'snr=0.1,me=2%' -> {'snr': 0.1, 'me': '2%'} (a clear error naming the bad entry); "P%" is a delta
    relative to the compared method's median (restorebench.report.verdicts)."""
    out = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        metric, sep, value = entry.partition("=")
        value = value.strip()
        try:
            if not sep or not metric:
                raise ValueError
            number = float(value[:-1]) if value.endswith("%") else float(value)
        except ValueError:
            raise ValueError(f"--smallest-difference: {entry!r} is not METRIC=NUMBER or METRIC=NUMBER%") from None
        if not number >= 0:
            raise ValueError(f"--smallest-difference: {entry!r} must be >= 0")
        out[metric.strip()] = value if value.endswith("%") else number
    return out


def stats(a):
    from ..report.verdicts import StatsConfig

    from ..report.verdicts import DEFAULT_SMALLEST_DIFFERENCE

    deltas = {**DEFAULT_SMALLEST_DIFFERENCE, **parse_smallest_difference(a.smallest_difference)}
    return StatsConfig(alpha=a.alpha, resamples=a.resamples, seed=a.stats_seed, exact_max_units=a.exact_max_units,
                       power=a.power, smallest_difference=deltas,
                       in_place_of={k: str(v) for k, v in key_values(a.in_place_of, "--in-place-of").items()})


def add_training_options(p, epochs=100, batch_size=4, optimizer="adamw", lr=2e-4, weight_decay=0.02,
                         weights: str = "required") -> None:
    """Options of the suite's one training loop (restorebench.methods.training). ``weights``: whether the
    final-weights option --output is "required", "optional" or absent ("none")."""
    if weights != "none":
        p.add_argument("--output", required=weights == "required", default=None,
                       help="final weights (.pt), written once training completes"
                            + (" (optional)" if weights == "optional" else ""))
    p.add_argument("--checkpoint-dir", required=True,
                   help="folder of the per-epoch checkpoint (last.pt); a rerun resumes from it. Keep it out of "
                        "the job's declared outputs: Snakemake deletes those when a job fails")
    p.add_argument("--epochs", type=int, default=epochs, help="training epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=batch_size, help="training items per batch: S1 and S3 images, S4 segments or signals (default: %(default)s)")
    p.add_argument("--optimizer", default=optimizer, choices=("adam", "adamw"),
                   help="optimiser: adam or adamw (decoupled weight decay) (default: %(default)s, the paper's)")
    p.add_argument("--lr", type=float, default=lr, help="learning rate (default: %(default)s)")
    p.add_argument("--weight-decay", type=float, default=weight_decay,
                   help="weight decay of the optimiser (default: %(default)s)")
    p.add_argument("--lr-step-epochs", type=int, default=0,
                   help="multiply the learning rate by --lr-gamma every this many epochs; 0 = constant "
                        "(default: %(default)s)")
    p.add_argument("--lr-milestones", type=int, nargs="*", default=[],
                   help="or: multiply the learning rate by --lr-gamma at each of these epochs (default: none)")
    p.add_argument("--lr-gamma", type=float, default=0.5, help="step-schedule factor (default: %(default)s)")
    p.add_argument("--grad-clip-norm", type=float, default=0.0,
                   help="clip the global gradient norm to this; 0 = off (default: %(default)s)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: the network's forward passes under bfloat16 autocast (about half the activation "
                        "memory on a GPU), losses, weights and optimiser state in fp32 (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and batch-order seed (default: %(default)s)")
    p.add_argument("--extend-to-plateau", type=int, default=0, metavar="EPOCHS",
                   help="after --epochs, train up to this many epochs more, one at a time, while the validation "
                        "loss has not reached the plateau rule (docs/verdicts.md); 0 = off (default: %(default)s)")
    p.add_argument("--validation-share", type=float, default=0.1,
                   help="share of the training data (whole scenes, recordings or signals) held out to record "
                        "the validation loss per epoch, the plateau check's curve; S3 uses its validation area "
                        "instead (default: %(default)s)")
    add_device_option(p)
    add_threads_option(p)


def optim_config(a):
    from ..methods.training import OptimConfig

    return OptimConfig(epochs=a.epochs, batch_size=a.batch_size, optimizer=a.optimizer, learning_rate=a.lr,
                       weight_decay=a.weight_decay, lr_step_epochs=a.lr_step_epochs, lr_gamma=a.lr_gamma,
                       grad_clip_norm=a.grad_clip_norm, seed=a.seed,
                       lr_milestones=tuple(a.lr_milestones), precision=a.precision,
                       extend_to_plateau=a.extend_to_plateau)


def add_cfar_options(p) -> None:
    """Options of the notch baseline's CA-CFAR detector; defaults are the registered notch method's."""
    from .. import registry

    notch = registry.get("S1", "rfi", "notch").params
    p.add_argument("--cfar-guard", type=int, default=notch["guard"],
                   help="notch: CA-CFAR guard cells on each side of the tested one, time-frequency pixels "
                        "(default: %(default)s)")
    p.add_argument("--cfar-train", type=int, default=notch["train"],
                   help="notch: CA-CFAR training cells beyond the guard cells on each side, time-frequency "
                        "pixels (default: %(default)s)")
    p.add_argument("--cfar-pfa", type=float, default=notch["pfa"],
                   help="notch: CA-CFAR false-alarm probability that sets the threshold, in (0, 1) "
                        "(default: %(default)s)")
    p.add_argument("--cfar-axes", default=notch["axes"], choices=("frequency", "time-frequency"),
                   help="notch: where the training cells lie: along frequency only, or a square "
                        "time-frequency window (default: %(default)s)")


def cfar(a):
    from ..methods.notch import CFARConfig

    return CFARConfig(a.cfar_guard, a.cfar_train, a.cfar_pfa, a.cfar_axes)


def load_complex(path: str, what: str):
    """A 2-D complex image from a .npy file, or from a complex SAR product through sarpy (SICD/NITF, GFF...);
    checked to be at least 2 x 2 finite pixels (errors name the file)."""
    import numpy as np

    if not str(path).endswith(".npy"):
        from ..data.sar_real import read_complex_image

        array = read_complex_image(path)
    else:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: file not found ({what})")
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                # np.load would take such a file for a pickle and talk about allow_pickle
                raise ValueError(f"{path}: not a NumPy .npy file ({what})")
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as err:
            raise ValueError(f"{path}: cannot read {what} ({err})") from err
    if array.ndim != 2 or not np.iscomplexobj(array):
        raise ValueError(f"{path}: {what} must be a 2-D complex array (azimuth x range), got {array.dtype} "
                         f"{array.shape}")
    if min(array.shape) < 2:
        raise ValueError(f"{path}: {what}: {array.shape[0]} x {array.shape[1]} pixels, at least 2 x 2 are needed")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{path}: {what} contains NaN or Inf")
    return array


def save_npy(path: str, array) -> None:
    """np.save, atomically: no half-written file survives an error, and no NaN or Inf is written."""
    save_npy_together({path: array})


def save_npy_together(arrays: dict) -> None:
    """Several .npy files written as one: each to a temporary name, all renamed only once every one is
    written and finite, so an error leaves none of them (map-buildings' mask and height are a pair)."""
    import contextlib

    import numpy as np

    from ..audio_io import check_finite_output
    from ..files import atomic_output

    for path, array in arrays.items():
        check_finite_output(path, array)
    with contextlib.ExitStack() as stack:
        for path, array in arrays.items():
            tmp = stack.enter_context(atomic_output(path, suffix=".npy"))
            with open(tmp, "wb") as fh:
                np.save(fh, array)
