"""``restorebench bench gpu``: what one training step of every network costs at ``paper`` scale, and what
the paper-scale run would take on a GPU.

For each network the paper-scale preset trains or fits (``scales.paper`` of config.yaml: S1's DIFNet and
PISNet, S2's priors, S3's MERLIN-multitask, U-Net, IM2HEIGHT and MERLIN, S4's declipper), one training step
is a forward pass, a mean-square loss on the outputs (S4: its own L_MC + L_EQ, two passes), a backward pass
and an Adam step, on the preset's batch and input size. Counted on torch's meta device (no memory, no
arithmetic; every machine): parameters, FLOPs per step (``torch.utils.flop_counter``) and the activations
saved for the backward pass (every tensor autograd keeps, parameters excluded) in fp32 and in bf16 (the
network cast to bf16: what ``precision: bf16`` autocast saves, to within the few ops autocast keeps in fp32).
A training's memory is about those activations plus 16 bytes per parameter (weights, gradients, Adam's two
moments). With CUDA, each step is also run and timed in fp32 and under bf16 autocast, with its peak memory
(``torch.cuda.max_memory_allocated``), and the paper run's GPU-hours follow from the step times x the steps
per training x the trainings the preset asks for. Without CUDA nothing is timed, and the table says so.

The steps per training come from the preset (epochs x batches per epoch); the trainings are its seeds x
methods x labelled fractions. They are estimates of the workflow's counts, stated beside each row.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .devices import mixed_precision, resolve_device, synchronize

GiB = 2 ** 30


@dataclass
class PaperStep:
    """One network's training step at paper scale, and how many the paper run takes."""
    study: str
    network: str
    shape: str                               # batch x input, for the table
    build: Callable[[], torch.nn.Module]
    inputs: Callable[[torch.device, torch.dtype], tuple]
    loss: Callable[[torch.nn.Module, tuple], torch.Tensor]
    steps: int                               # optimiser steps of one training (or iterations of one fit)
    runs: int                                # trainings (fits) of this network in the paper run
    runs_note: str


def _mean_square(model, inputs):
    out = model(*inputs)
    outputs = out.values() if isinstance(out, dict) else [out]
    return sum(o.float().square().mean() for o in outputs)


def paper_steps(preset: dict, table2_priors: list[str]) -> list[PaperStep]:
    """The training steps of the ``scales.paper`` preset ``preset`` (a dict of config.yaml); S2's
    environmental-noise fits use ``table2_priors`` (config ``s2.table2_priors``)."""
    from . import registry
    from .experiments.audio_priors_tasks import LONG_ROLES, SEPARATION_SOURCES, TASK_ROLES
    from .data.urban import UrbanSceneConfig, area_bounds
    from .methods import declipping, merlin, train_rfi
    from .methods.configs import DeclipConfig, S3NetConfig

    steps: list[PaperStep] = []
    s1 = preset["s1"]
    images = s1["train_scenes"] * s1["lines_per_scene"]
    bins, frames = s1["n_fft"], s1["range"] // s1["hop"]
    # the paper's own network first, then the baselines and plugins in registration order
    for kind in sorted(train_rfi.trained_methods(), key=lambda m: registry.get("S1", "rfi", m).paper != "method"):
        cfg = train_rfi.RFINetConfig(kind, dict(s1.get(kind, {})))
        steps.append(PaperStep(
            "S1", kind, f"{s1['batch_size']} x 1 x {bins} x {frames}", lambda cfg=cfg: train_rfi.build_model(cfg),
            lambda d, t: (torch.rand(s1["batch_size"], 1, bins, frames, device=d, dtype=t),), _mean_square,
            s1["epochs"] * math.ceil(images / s1["batch_size"]), s1["replicates"], f"{s1['replicates']} replicates"))

    s2 = preset["s2"]
    f_bins = s2["n_fft"] // 2 + 1
    for prior in registry.names("S2", "prior"):
        build = registry.get("S2", "prior", prior).build
        pairs = [(task, role) for task, role in TASK_ROLES if task != "environmental" or prior in table2_priors]
        for long in (False, True):
            frames = s2["speech_frames"] if long else s2["frames"]
            # a separation fit trains its three networks jointly: three network steps per iteration
            networks = sum(SEPARATION_SOURCES if task == "separation" else 1 for task, role in pairs
                           if (role in LONG_ROLES) == long)
            steps.append(PaperStep(
                "S2", f"{prior} ({frames} frames)", f"1 x 2 x {f_bins} x {frames}",
                lambda build=build: build(in_channels=2, out_channels=2, widths=tuple(s2["widths"]),
                                          out_activation="linear"),
                lambda d, t, frames=frames: (torch.randn(1, 2, f_bins, frames, device=d, dtype=t),), _mean_square,
                s2["iterations"], s2["clips"] * networks,
                f"{s2['clips']} clips x {networks} networks: "
                + ", ".join(f"{t}/{r}" for t, r in pairs if (r in LONG_ROLES) == long)))

    s3 = preset["s3"]
    bounds = area_bounds(UrbanSceneConfig(rows=s3["rows"], cols=s3["cols"]))["train"]
    patches = (len(range(bounds[0], bounds[1] - s3["patch"] + 1, s3["stride"]))
               * len(range(0, s3["cols"] - s3["patch"] + 1, s3["stride"])))
    sizes = {k: (tuple(s3[k]) if isinstance(s3[k], list) else s3[k]) for k in
             ("encoder_width", "decoder_width", "levels", "head_widths", "regression_width", "im2height_width")}
    pcts, seeds = len(s3["labelled_pct"]), s3["replicates"]
    for name, runs, note in (("multitask", pcts * seeds, f"{pcts} labelled fractions x {seeds} replicates; the 5 "
                                                          f"Table-2 ablations cost about as much each"),
                             ("unet", pcts * seeds, f"{pcts} labelled fractions x {seeds} replicates"),
                             ("im2height", pcts * seeds, f"{pcts} labelled fractions x {seeds} replicates"),
                             ("merlin", seeds, f"{seeds} replicates")):
        cfg = S3NetConfig(**registry.get("S3", "model", name).params, **sizes)
        steps.append(PaperStep(
            "S3", name, f"{s3['batch_size']} x 1 x {s3['patch']} x {s3['patch']}",
            lambda cfg=cfg: merlin.build_model(cfg),
            lambda d, t: (torch.randn(s3["batch_size"], 1, s3["patch"], s3["patch"], device=d, dtype=t),),
            _mean_square, s3["epochs"] * math.ceil(patches / s3["batch_size"]), runs,
            f"{note}; {patches} training patches"))

    s4 = preset["s4"]
    music = s4["music"]
    segments = music["train_clips"] * (1 + (music["clip_samples"] - music["segment"]) // music["hop"])
    trained = [m for m in registry.names("S4", "declipper") if registry.get("S4", "declipper", m).trained]
    for what, batch, length, widths, kernel, epochs, n_train, runs, note in (
            ("music", music["batch_size"], music["segment"], music["widths"], music["kernel"], music["epochs"],
             segments, len(trained) * s4["replicates"], f"{len(trained)} trained declippers x {s4['replicates']} replicates"),
            ("Figure 5", s4["batch_size"], s4["length"], s4["widths"], s4["kernel"], s4["epochs"],
             s4["train_signals"], len(trained) * len(s4["d"]) * len(s4["saturated_fractions"]),
             f"{len(trained)} trained declippers x {len(s4['d'])} d x {len(s4['saturated_fractions'])} v")):
        cfg = DeclipConfig(objective="mc-eq", widths=tuple(widths), kernel=kernel)

        def loss(model, inputs, cfg=cfg):
            return declipping.batch_loss(cfg, model, inputs)

        steps.append(PaperStep(
            "S4", f"declipper, {what} (L_MC + L_EQ)", f"{batch} x {length}",
            lambda cfg=cfg: declipping.build_model(cfg),
            lambda d, t, batch=batch, length=length: (torch.randn(batch, length, device=d, dtype=t).clamp(-0.5, 0.5),
                                                      torch.full((batch,), 0.5, device=d, dtype=t)),
            loss, epochs * math.ceil(n_train / batch), runs, note))
    return steps


def meta_estimate(step: PaperStep, dtype: torch.dtype) -> dict:
    """Parameters, FLOPs and saved activations of one training step, counted on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = step.build().to(dtype)
    params = {id(p) for p in model.parameters()}
    saved: dict[int, tuple[torch.Tensor, int]] = {}

    def pack(t):
        if id(t) not in params:       # a weight autograd keeps is not an activation
            saved.setdefault(id(t), (t, t.numel() * t.element_size()))   # the tensor kept: ids stay unique
        return t

    counter = FlopCounterMode(display=False)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), counter:
        step.loss(model, step.inputs(torch.device("meta"), dtype)).backward()
    return {"parameters": sum(p.numel() for p in model.parameters()), "flops": counter.get_total_flops(),
            "activation_bytes": sum(b for _, b in saved.values())}


def time_step(step: PaperStep, device: torch.device, precision: str, repeats: int) -> dict:
    """Seconds per training step (best of ``repeats`` after a warm-up) and peak memory, on ``device``."""
    torch.manual_seed(0)
    model = step.build().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    inputs = step.inputs(device, torch.float32)

    def one():
        with mixed_precision(model, precision, device):
            loss = step.loss(model, inputs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        one()
        best = math.inf
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            one()
            synchronize(device)
            best = min(best, time.perf_counter() - start)
    except torch.OutOfMemoryError:
        return {"seconds": math.nan, "peak_bytes": math.nan, "note": "out of memory"}
    finally:
        del model, optimizer
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else math.nan
    return {"seconds": best, "peak_bytes": peak, "note": ""}


def batched_fit_rates(prior: str, n_fft: int, hop: int, frames: int, fits: int, iterations: int,
                      device: torch.device) -> dict:
    """Fit-iterations per second of ``fits`` S2 denoising fits of ``prior`` at the (n_fft, hop, frames) geometry,
    one after another (:meth:`restorebench.methods.dip.FitProblem.run`) and as one batch
    (:func:`restorebench.methods.dip.run_fits_batched`), allocation and warm-up excluded (their first two
    iterations)."""
    import numpy as np

    from .dsp import STFTConfig
    from .methods.dip import FitConfig, run_fits_batched, setup_inpaint

    stft_cfg = STFTConfig(n_fft, hop)
    n = stft_cfg.samples_for_frames(frames)
    rng = np.random.default_rng(0)
    clips = [(0.1 * rng.standard_normal(n)).astype(np.float32) for _ in range(fits)]
    cfg = FitConfig(iterations=iterations, device=str(device), memory_format="contiguous")

    def problems():
        return [setup_inpaint(c, c, None, prior, stft_cfg, cfg, memory_format=torch.contiguous_format)
                for c in clips]

    def rate(results):
        seconds = sum(r.wall_seconds - r.extras["warmup_seconds"] for r in results)
        return fits * (iterations - 2) / max(seconds, 1e-9)

    one_by_one = rate([p.run(cfg) for p in problems()])
    batched = rate(run_fits_batched(problems(), cfg))
    return {"prior": prior, "geometry": f"{n_fft // 2 + 1} x {frames}", "fits": fits,
            "fit_iterations_per_s_one_by_one": one_by_one, "fit_iterations_per_s_batched": batched,
            "speedup": batched / one_by_one}


def gpu_table(args) -> list[dict]:
    """One row per network of the paper preset; prints the table as it goes."""
    import yaml

    config = yaml.safe_load(Path(args.config).read_text())
    steps = paper_steps(config["scales"]["paper"], config["s2"]["table2_priors"])
    if args.studies:
        steps = [s for s in steps if s.study in args.studies.split(",")]
    device = resolve_device(args.device)
    timed = device.type == "cuda"
    print(f"# one training step per network at paper scale ({args.config}: scales.paper); counted on the meta "
          f"device" + (f"; timed on {torch.cuda.get_device_name(device)}, best of {args.net_iterations}"
                       if timed else f"; not timed: no CUDA device here ({device})"))
    rows = []
    for step in steps:
        fp32, bf16 = meta_estimate(step, torch.float32), meta_estimate(step, torch.bfloat16)
        row = {"study": step.study, "network": step.network, "step": step.shape,
               "parameters_M": fp32["parameters"] / 1e6, "gflop_per_step": fp32["flops"] / 1e9,
               "activations_fp32_gib": fp32["activation_bytes"] / GiB,
               "activations_bf16_gib": bf16["activation_bytes"] / GiB,
               "training_memory_fp32_gib": (fp32["activation_bytes"] + 16 * fp32["parameters"]) / GiB,
               "steps_per_training": step.steps, "trainings": step.runs, "trainings_are": step.runs_note,
               "pflop_in_paper_run": fp32["flops"] * step.steps * step.runs / 1e15}
        if timed:
            for precision in ("fp32", "bf16"):
                measured = time_step(step, device, precision, args.net_iterations)
                row[f"step_s_{precision}"] = measured["seconds"]
                row[f"peak_gib_{precision}"] = measured["peak_bytes"] / GiB
                row[f"gpu_hours_{precision}"] = measured["seconds"] * step.steps * step.runs / 3600
                if measured["note"]:
                    row[f"note_{precision}"] = measured["note"]
        rows.append(row)
        print(f"{step.study} {step.network:<34} {step.shape:<22} {row['parameters_M']:8.2f} M params "
              f"{row['gflop_per_step']:10.1f} GFLOP/step  activations {row['activations_fp32_gib']:7.2f} GiB fp32 "
              f"{row['activations_bf16_gib']:7.2f} GiB bf16  x {step.steps} steps x {step.runs} trainings"
              + (f"  {row['step_s_fp32']:.4f} s fp32 / {row['step_s_bf16']:.4f} s bf16, peak "
                 f"{row['peak_gib_fp32']:.2f} / {row['peak_gib_bf16']:.2f} GiB, "
                 f"{row['gpu_hours_fp32']:.1f} / {row['gpu_hours_bf16']:.1f} GPU-h" if timed else ""), flush=True)
    total = sum(r["pflop_in_paper_run"] for r in rows)
    print(f"paper run: {total:,.0f} PFLOP of training steps"
          + (f"; {sum(r['gpu_hours_fp32'] for r in rows):,.0f} GPU-hours fp32, "
             f"{sum(r['gpu_hours_bf16'] for r in rows):,.0f} bf16 on this GPU" if timed else
             "; GPU-hours = PFLOP / (your GPU's sustained PFLOP/s x 3600), or run this on a GPU"))
    if timed and (not args.studies or "S2" in args.studies.split(",")):
        s2 = config["scales"]["paper"]["s2"]
        print(f"# S2 fits one by one and batched (run_fits_batched), {args.net_iterations + 2} iterations each, "
              "paper geometry")
        for prior in config["s2"]["priors"]:
            for fits in (1, 8):
                r = batched_fit_rates(prior, s2["n_fft"], s2["hop"], s2["frames"], fits, args.net_iterations + 2, device)
                print(f"S2 {prior:<10} {r['geometry']:<10} {fits} fit(s): {r['fit_iterations_per_s_one_by_one']:8.1f} "
                      f"fit-it/s one by one, {r['fit_iterations_per_s_batched']:8.1f} batched "
                      f"(x{r['speedup']:.2f})", flush=True)
    return rows
