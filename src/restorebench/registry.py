"""One declaration per method: the single place a method (or a prior, or a baseline) is added.

Everything that needs to know which methods exist derives from here: the CLI's ``--prior``/``--method``
choices, the workflow's rule wildcards and its check of the config's method lists, table rows, figure
legends and labels. A declaration says what the method is called, how it is labelled, which study and
slot it belongs to, its parameters with their defaults, and how to build or run it.

Slots (what a study asks of a method):

* ``S2`` / ``prior``: ``build(in_channels, out_channels, widths, out_activation) -> nn.Module`` mapping the
  fixed code z (B, C_in, F, T) to a (B, C_out, F, T) spectrogram; fitted by the deep-prior loop. A builder
  that also takes ``dilation_divisor`` gets the scale's (its dilations scaled to a smaller spectrogram:
  models/unet.py ``prior_spec``); one that does not is built as declared.
* ``S1`` / ``rfi``: ``run(echoes, stft, context) -> Suppression``; ``trained=True`` methods get a
  trained network in ``context["net"]`` and declare how it is trained: ``build(params) -> nn.Module``
  (one-channel (B, 1, F, T) normalised TF magnitude in, (B, 1, F, T) out), ``target`` (what it learns:
  ``"mask"``, the Eq. 13 RFI mask, or ``"magnitude"``, the clean normalised magnitude), ``loss(params,
  output, target, inputs) -> scalar`` and ``input_multiple(params)``; ``params`` are the architecture's
  and the loss's defaults, overridden by the config (``s1.params.<name>``, and the scale presets).
* ``S3`` / ``model``: networks trained on the urban scenes; ``params`` = architecture and heads
  (``{"architecture": "merlin" | "im2height", "tasks": "SRD"}``), or a network of its own: ``build(params)
  -> nn.Module`` mapping the (B, 1, H, W) normalised log-amplitude of one SLC part to ``{task: (B, 1, H,
  W)}`` for each of ``params["tasks"]`` (S building logits, R height in metres, D normalised
  log-reflectivity), ``input_multiple(params)`` and its other ``params`` (overridden by ``s3.params.<name>``);
  trained with Eq. 7 on the heads it has.
* ``S4`` / ``declipper``: ``run(y, mu, context) -> x_hat`` for one clipped signal, or ``trained=True``: a
  declipper network trained with the objective it declares, ``loss(cfg, model, y, mu, mask, estimate,
  clean) -> scalar`` (``estimate`` = model(y, mask); ``clean`` is None unless ``target="clean"``, a
  supervised objective), named by ``params["objective"]`` (the method's name).

Your own methods live in your own module: call :func:`register` in it and list the module under
``plugins:`` in the workflow config (or in ``RESTOREBENCH_PLUGINS``, comma-separated, for the CLI). The
module is imported from the working directory.
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

PLUGIN_ENV = "RESTOREBENCH_PLUGINS"


@dataclass(frozen=True)
class Method:
    name: str                                  # config, CLI and wildcard name: lower-case, no spaces
    label: str                                 # table rows and figure legends
    study: str                                 # "S1", "S2", ...
    slot: str                                  # what the study asks of it ("prior", "rfi")
    build: Callable[..., Any] | None = None    # builds a network (slot "prior"; S1 trained: build(params))
    run: Callable[..., Any] | None = None      # runs the method (slot "rfi")
    params: dict = field(default_factory=dict)  # parameters and their defaults
    trained: bool = False                      # needs a training job before it can run
    paper: str = ""                            # "method" (the paper's own), "baseline", "oracle" (reads the truth), or "" (a user's)
    input_multiple: Callable[[dict], int] | None = None   # network input sides must be multiples of this
    loss: Callable[..., Any] | None = None     # S1 trained: loss(params, output, target, inputs)
    target: str = ""                           # S1 trained: "mask" or "magnitude"; S4 trained: "clean" if supervised
    description: str = ""
    #: a floor: a data-free or classical method that needs no learning (or only constants tuned on training
    #: data), which every method favoured by a claim must beat (SPEC "Findings, not artefacts"); floors run at
    #: every scale, whatever the config's method list, and are named "floor" in every table
    floor: bool = False

    def __post_init__(self):
        if not self.name or any(c.isspace() or c in "/|{}" for c in self.name) or self.name != self.name.lower():
            raise ValueError(f"method name {self.name!r} must be lower-case without spaces, '/', '|' or braces")
        if self.study == "S1" and self.trained:
            missing = [k for k in ("build", "loss", "target") if not getattr(self, k)]
            if missing:
                raise ValueError(f"trained S1 method {self.name!r} must declare {', '.join(missing)} "
                                 "(restorebench.registry, slot S1/rfi)")
            if self.run is None:   # run as what it learned: a mask (as DIFNet) or a magnitude (as PISNet)
                object.__setattr__(self, "run", _trained_rfi_run(self.target))
        if self.study == "S3" and self.slot == "model":
            tasks = str(self.params.get("tasks", ""))
            if not tasks or set(tasks.upper()) - set("SRD"):
                raise ValueError(f"S3 model {self.name!r} must declare params['tasks'], a combination of S, R, D")


_REGISTRY: dict[tuple[str, str], dict[str, Method]] = {}
_PLUGINS_LOADED: set[str] = set()


def register(method: Method, replace: bool = False) -> Method:
    """Add a method; registering an existing (study, slot, name) again is an error unless ``replace``."""
    slot = _REGISTRY.setdefault((method.study, method.slot), {})
    if method.name in slot and not replace and slot[method.name] != method:
        raise ValueError(f"{method.study} {method.slot} {method.name!r} is already registered")
    slot[method.name] = method
    return method


def methods(study: str, slot: str) -> list[Method]:
    """The registered methods of one study's slot, in registration order (the papers' first)."""
    load_plugins()
    return list(_REGISTRY.get((study, slot), {}).values())


def names(study: str, slot: str) -> tuple[str, ...]:
    return tuple(m.name for m in methods(study, slot))


def get(study: str, slot: str, name: str) -> Method:
    """The method called ``name``; an unknown name is an error listing the registered ones."""
    found = {m.name: m for m in methods(study, slot)}
    if name not in found:
        raise ValueError(f"unknown {study} {slot} {name!r}; registered: {', '.join(found) or 'none'} "
                         f"(add one with restorebench.registry.register, docs/adding-a-method.md)")
    return found[name]


def label(study: str, slot: str, name: str) -> str:
    """The method's label, marked "(floor)" for a floor, or its name when it is not registered (a row from an
    older run)."""
    found = {m.name: m for m in methods(study, slot)}
    if name not in found:
        return name
    return f"{found[name].label} (floor)" if found[name].floor else found[name].label


def load_plugins(modules: list[str] | tuple[str, ...] | None = None) -> None:
    """Import plugin modules (each registers its methods); by default those named in $RESTOREBENCH_PLUGINS."""
    if modules is None:
        modules = [m.strip() for m in os.environ.get(PLUGIN_ENV, "").split(",") if m.strip()]
    for module in modules:
        if module in _PLUGINS_LOADED:
            continue
        _PLUGINS_LOADED.add(module)
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            importlib.import_module(module)
        except ImportError as err:
            _PLUGINS_LOADED.discard(module)
            raise ImportError(f"plugin module {module!r} (config key plugins / ${PLUGIN_ENV}) cannot be "
                              f"imported from {os.getcwd()}: {err}") from err


# ------------------------------------------------------------------------------------ built-in methods

def _trained_rfi_run(target: str) -> Callable[..., Any]:
    def run(echoes, stft, context):
        from .methods.rfi_suppression import suppress_trained

        return suppress_trained(echoes, stft, context["net"], context["device"], target, context["multiple"])
    return run


def _audio_prior(prior: str) -> Callable[..., Any]:
    def build(in_channels: int, out_channels: int, widths: tuple[int, int, int], out_activation: str = "linear",
              dilation_divisor: int = 1):
        from .models.unet import AudioPriorUNet

        return AudioPriorUNet(prior, in_channels=in_channels, out_channels=out_channels, widths=widths,
                              out_activation=out_activation, dilation_divisor=dilation_divisor)
    return build


for _name, _label, _text in (
        ("conv", "Convolution", "plain 3x3 convolutions"),
        ("dilated", "Dilated Conv.", "every 3x3 convolution dilated by 4"),
        ("exp", "Dilated Conv. (exp)", "exponential dilation schedule enc [1,2],[4,8], bottleneck [16,32]"),
        ("exp-dense", "Dilated Conv. (exp) + Dense", "exponential schedule + dense blocks (the paper's)"),
        ("harmonic", "Harmonic Conv.", "harmonic convolutions (3 harmonics, anchor 3, 3 frames) in every 3x3 "
                                       "convolution: the paper's Figure 2 baseline (Zhang et al. 2020)")):
    register(Method(_name, _label, "S2", "prior", build=_audio_prior(_name), params={"widths": (35, 70, 140)},
                    paper="method" if _name == "exp-dense" else "baseline", description=_text))


def _interfered(echoes, stft, context):
    from .methods.rfi_suppression import Suppression

    return Suppression(echoes, None, None)


def _notch(echoes, stft, context):
    from .methods.notch import CFARConfig
    from .methods.rfi_suppression import suppress_notch

    return suppress_notch(echoes, stft, context.get("cfar") or CFARConfig())


def _position_mask(echoes, stft, context):
    from .methods.rfi_suppression import suppress_position

    if context.get("position_bins") is None:
        raise ValueError("the position-only mask needs its bins: give a calibration written by "
                         "s1-calibrate-notch (--calibration); one written before the position mask existed "
                         "has none (in the workflow: snakemake --forcerun s1_calibrate_notch)")
    return suppress_position(echoes, stft, context["position_bins"])


def _build_difnet(p):
    from .models.difnet import DIFNet

    return DIFNet(1, p["channels"], p["window"], p["levels"])


def _build_pisnet(p):
    from .models.pisnet import PISNet

    return PISNet(p["width"], p["residual_blocks"], p["bases"])


def _mask_loss(p, output, target, inputs):
    from .losses.sar_rfi import mask_loss

    return mask_loss(output, target)


def _pisnet_loss(p, output, target, inputs):
    from .losses.sar_rfi import pisnet_loss

    return pisnet_loss(output, target, inputs, p["nuclear"], p["l1"])


def _oracle_mask(echoes, stft, context):
    from .methods.rfi_suppression import suppress_oracle_mask

    return suppress_oracle_mask(echoes, stft, context["clean"], context["rfi"])


def _oracle_magnitude(echoes, stft, context):
    from .methods.rfi_suppression import suppress_oracle_magnitude

    return suppress_oracle_magnitude(echoes, stft, context["clean"])


register(Method("interfered", "Interfered image", "S1", "rfi", run=_interfered, paper="baseline",
                description="no suppression: the interfered echoes as they are"))
register(Method("notch", "Notch filtering (CFAR)", "S1", "rfi", run=_notch, paper="baseline",
                params={"guard": 2, "train": 8, "pfa": 1e-3, "axes": "frequency", "calibrated": True},
                description="cell-averaging CFAR on the TF magnitude, P_fa tuned on the training pulses; "
                            "detected bins are zeroed"))
register(Method("pisnet", "PISNet", "S1", "rfi", trained=True, paper="baseline",
                params={"width": 64, "residual_blocks": 8, "bases": 128, "nuclear": 1e-4, "l1": 1e-5},
                build=_build_pisnet, target="magnitude", loss=_pisnet_loss,
                input_multiple=lambda p: 4,                                  # two stride-2 convolutions
                description="PISNet-style inpainting of the clean TF magnitude (Shen et al. 2022)"))
register(Method("difnet", "DIFNet", "S1", "rfi", trained=True, paper="method",
                params={"channels": 16, "window": 8, "levels": 4}, build=_build_difnet, target="mask",
                loss=_mask_loss,
                input_multiple=lambda p: p["window"] * 2 ** p["levels"],     # windows at the deepest stage
                description="U-shaped window-attention Transformer predicting the RFI mask (the paper's)"))
register(Method("notch-untuned", "Notch filtering (CFAR, nominal P_fa)", "S1", "rfi", run=_notch, paper="",
                params={"guard": 2, "train": 8, "pfa": 1e-3, "axes": "frequency", "calibrated": False}, floor=True,
                description="the same CFAR notch at the configured P_fa, untuned: a floor"))
register(Method("position-mask", "Position-only mask", "S1", "rfi", run=_position_mask, paper="", floor=True,
                params={"calibrated": True},
                description="zeroes the fixed bins most often interfered on the training pulses, on every "
                            "detected pulse, seeing no test data: a floor (methods/position_mask.py)"))
# Oracles read the clean echoes and the RFI (context["clean"], context["rfi"]): each approach's ceiling.
register(Method("oracle-mask", "Oracle: true mask zeroed", "S1", "rfi", run=_oracle_mask, paper="oracle",
                description="zeroes the true Eq. 13 mask: the ceiling of masking methods (notch, DIFNet)"))
register(Method("oracle-magnitude", "Oracle: true magnitude, interfered phase", "S1", "rfi",
                run=_oracle_magnitude, paper="oracle",
                description="the clean TF magnitude with the interfered phase: the ceiling of PISNet's approach"))


# S3 (MERLIN multitask). Slot "model": networks trained on the simulated urban scenes; ``params`` give the
# architecture and heads (methods/merlin.S3NetConfig), ``labels`` whether it trains on labelled patches only.
for _name, _label, _tasks, _paper, _text in (
        ("multitask", "MERLIN-multitask", "SRD", "method", "shared backbone + S, R, D heads (the paper's)"),
        ("mt-s", "S", "S", "ablation", "Table 2: segmentation head only"),
        ("mt-r", "R", "R", "ablation", "Table 2: regression head only"),
        ("mt-sr", "S+R", "SR", "ablation", "Table 2: segmentation + regression, no despeckling"),
        ("mt-sd", "S+D", "SD", "ablation", "Table 2: segmentation + despeckling"),
        ("mt-rd", "R+D", "RD", "ablation", "Table 2: regression + despeckling"),
        ("unet", "U-Net", "S", "baseline", "U-Net segmentation baseline: the same backbone + S head, labelled "
                                            "patches only"),
        ("merlin", "MERLIN (ours)", "D", "baseline", "self-supervised despeckling only (MERLIN)")):
    register(Method(_name, _label, "S3", "model", trained=True, paper=_paper, description=_text,
                    params={"architecture": "merlin", "tasks": _tasks}))
# (the input multiple of an S3 network follows from its whole configuration: methods.configs.S3NetConfig.multiple)
register(Method("im2height", "IM2HEIGHT", "S3", "model", trained=True, paper="baseline",
                params={"architecture": "im2height", "tasks": "R"},
                description="IM2HEIGHT-like residual conv-deconv height regression, labelled patches only"))


# S4 (declipping). Slot "declipper": ``trained`` methods are networks trained with ``params["objective"]``
# (methods/declipping.py); the others ``run(y, mu, context) -> x_hat`` on one measurement (``context["mask"]``,
# when present, gives the saturated samples instead of |y| >= mu).
def _clipped(y, mu, context):
    return y


def _aspade(y, mu, context):
    from .methods.aspade import ASpadeConfig, aspade

    return aspade(y, mu, context.get("aspade") or ASpadeConfig(), mask=context.get("mask"))


def _spline(y, mu, context):
    from .methods.declip_classical import spline_declip

    return spline_declip(y, mu, mask=context.get("mask"))


def _dct_least_squares(y, mu, context):
    from .methods.declip_classical import dct_least_squares

    if "band" not in context:
        raise ValueError("dct-ls knows the synthetic signals' DCT band: it runs on Figure 5's sparse-DCT signals "
                         "only (s4.figure5), not on recordings")
    return dct_least_squares(y, mu, context["band"], mask=context.get("mask"))


def _plus_equivariance(loss, cfg, model, estimate, mu):
    """loss + lambda L_EQ (``cfg.eq_weight`` = lambda; nothing added when it is 0)."""
    from .losses.declipping import equivariance_loss

    if not cfg.eq_weight:
        return loss
    return loss + cfg.eq_weight * equivariance_loss(model, estimate, mu, cfg.alpha_max,
                                                    stop_gradient=cfg.stop_gradient)


def _mc_eq_loss(cfg, model, y, mu, mask, estimate, clean):
    """L_MC + lambda L_EQ (the paper's, losses/declipping.py)."""
    from .losses.declipping import consistency_loss

    return _plus_equivariance(consistency_loss(estimate, y, mask), cfg, model, estimate, mu)


def _nmc_eq_loss(cfg, model, y, mu, mask, estimate, clean):
    """L_NMC + lambda L_EQ: the naive consistency ||y - eta(f(y))||^2 with the same equivariance term."""
    from .losses.declipping import naive_consistency_loss

    return _plus_equivariance(naive_consistency_loss(estimate, y, mu), cfg, model, estimate, mu)


def _mc_loss(cfg, model, y, mu, mask, estimate, clean):
    """L_MC alone."""
    from .losses.declipping import consistency_loss

    return consistency_loss(estimate, y, mask)


def _supervised_loss(cfg, model, y, mu, mask, estimate, clean):
    from .losses.declipping import supervised_loss

    return supervised_loss(estimate, clean)


register(Method("clipped", "Clipped input", "S4", "declipper", run=_clipped, paper="baseline", floor=True,
                description="no processing: the clipped measurement itself (a floor)"))
for _name, _label, _paper, _loss, _text in (
        ("mc-eq", "Self-supervised (L_MC + L_EQ)", "method", _mc_eq_loss,
         "the paper's: measurement consistency + amplitude equivariance, clipped data only"),
        ("nmc-eq", "Naive (L_NMC + L_EQ)", "baseline", _nmc_eq_loss,
         "naive consistency ||y - eta(f(y))||^2 + the same equivariance"),
        ("mc", "L_MC only", "ablation", _mc_loss, "measurement consistency alone, no equivariance"),
        ("supervised", "Supervised", "baseline", _supervised_loss, "trained on (clipped, clean) pairs")):
    register(Method(_name, _label, "S4", "declipper", trained=True, paper=_paper, description=_text,
                    params={"objective": _name}, loss=_loss, target="clean" if _name == "supervised" else ""))
register(Method("spline", "Consistent cubic spline", "S4", "declipper", run=_spline, paper="", floor=True,
                description="a cubic spline through the reliable samples across each clipped run, made consistent "
                            "(a floor; methods/declip_classical.py)"))
register(Method("dct-ls", "Ceiling: least squares on the known DCT band", "S4", "declipper",
                run=_dct_least_squares, paper="oracle",
                description="Figure 5 only: fits the synthetic signals' known DCT band to the reliable samples "
                            "(reads the data model: a ceiling, not a method)"))
register(Method("aspade", "A-SPADE", "S4", "declipper", run=_aspade, paper="baseline", floor=True,
                description="classical analysis-sparsity declipper (Kitić et al. 2015), STFT frame (a floor)"))
