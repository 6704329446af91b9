"""``restorebench bench dip``: measured speed of the prior-fitting loop, and time to quality.

Speed: for each prior at the paper's resolution (2 x 512 x 256), iterations per second of the suite's
loop (:func:`restorebench.methods.dip.run_fit`: channels-last, fused Adam, trajectory/oracle/ES kept on
the device) beside a reference loop written here that mirrors the authors' public loop
(designaudiopriors/denoising/script.py): float32, default memory format, forward + MSE + backward + Adam,
then the estimate copied to the host, an inverse STFT and an SNR computed in numpy every iteration.
Both loops use the same architecture, precision, device and thread count; the first iterations (warm-up)
are not timed.

Time to quality: ``bench dip --time-to-quality`` fits every prior to held-out embedded clips (tts-speech,
tts-digits, sf-piano with sigma = 0.1 noise, drawn with a seed the workflow does not use) for a budget of
``--ttq-iterations`` at the quick scale's geometry, and prints per prior the mean SNR of the oracle-stopped,
ES-WMV and final iterates and the fraction of the budget ES-WMV used. ``--metrics results/s2/metrics.csv``
prints the same figures for a workflow run's denoising fits.
"""
from __future__ import annotations

import json
import time

import numpy as np
import torch

from .dsp import STFTConfig, from_channels, istft, stft, to_channels
from .devices import resolve_device, synchronize
from .methods.dip import FitConfig, fit_denoise, make_code
from .models.unet import AudioPriorUNet

TARGET_SPEEDUP = 2.0
WARMUP = 2


def _test_clip(stft_cfg: STFTConfig, frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A harmonic, amplitude-modulated 'voiced' clip at 0.9 peak plus sigma = 0.1 noise."""
    n = stft_cfg.samples_for_frames(frames)
    t = np.arange(n) / 16000
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    x = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 16000) / k for k in range(1, 25))
    x *= 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    clean = (0.9 * x / np.max(np.abs(x))).astype(np.float32)
    noisy = clean + 0.1 * np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    return clean, noisy


def reference_loop_rate(prior: str, clean: np.ndarray, noisy: np.ndarray, stft_cfg: STFTConfig,
                        iterations: int, device: torch.device, widths=(35, 70, 140)) -> float:
    """Iterations/s of a loop mirroring the authors' public one (see module docstring)."""
    target = to_channels(stft(torch.from_numpy(noisy).to(device), stft_cfg))[None]
    torch.manual_seed(0)
    # the authors' layers: nn.InstanceNorm2d, default (NCHW) memory format
    net = AudioPriorUNet(prior, widths=widths, norm_layer=torch.nn.InstanceNorm2d).to(device)
    z = make_code(target.shape, 0, device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    mse = torch.nn.MSELoss()
    best = -np.inf
    start = None
    for it in range(iterations + WARMUP):
        if it == WARMUP:
            start = time.perf_counter()
        out = net(z)
        loss = mse(out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        host = out.cpu().detach().numpy()
        spec = host[:, 0] + 1j * host[:, 1]
        audio = istft(torch.from_numpy(spec[0]), stft_cfg, clean.size).numpy()
        audio = np.clip(audio, -1.0, 1.0)
        snr = 10 * np.log10(np.sum(clean ** 2) / np.sum((clean - audio) ** 2))
        best = max(best, snr)
    return iterations / (time.perf_counter() - start)


def suite_loop_rate(prior: str, clean: np.ndarray, noisy: np.ndarray, stft_cfg: STFTConfig,
                    iterations: int, device: torch.device, widths=(35, 70, 140),
                    memory_format: str = "auto") -> float:
    """Iterations/s of the suite's own fitting loop (run_fit), warm-up excluded."""
    cfg = FitConfig(iterations=iterations + WARMUP, widths=widths, es_window=2, es_patience=2,
                    device=str(device), memory_format=memory_format)
    result = fit_denoise(noisy, clean, prior, stft_cfg, cfg)
    return iterations / (result.wall_seconds - result.extras["warmup_seconds"])


def speed_table(args) -> list[dict]:
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    stft_cfg = STFTConfig(2 * (args.bins - 1), 64)
    clean, noisy = _test_clip(stft_cfg, args.frames)
    rows = []
    print(f"# prior fitting speed at 2x{args.bins}x{args.frames}, device {device}, "
          f"{torch.get_num_threads()} threads, {args.iterations} timed iterations after {WARMUP} warm-up")
    print(f"{'prior':<10} {'suite it/s':>11} {'reference it/s':>15} {'speed-up':>9}")
    for prior in args.priors.split(","):
        ours = suite_loop_rate(prior, clean, noisy, stft_cfg, args.iterations, device)
        ref = reference_loop_rate(prior, clean, noisy, stft_cfg, args.iterations, device)
        rows.append({"prior": prior, "suite_it_per_s": ours, "reference_it_per_s": ref,
                     "speedup": ours / ref, "device": str(device), "threads": torch.get_num_threads(),
                     "shape": [2, args.bins, args.frames]})
        print(f"{prior:<10} {ours:>11.3f} {ref:>15.3f} {ours / ref:>8.2f}x", flush=True)
    rows += layout_sweep(args, device)
    dense = [r for r in rows if r["prior"] == "exp-dense" and "speedup" in r]
    if dense:
        verdict = "met" if dense[0]["speedup"] >= TARGET_SPEEDUP else "NOT met"
        print(f"target: exp-dense suite loop >= {TARGET_SPEEDUP}x the reference loop: {verdict} "
              f"({dense[0]['speedup']:.2f}x)")
    return rows


RULE_LABEL = {"es": "ES-WMV", "dp-known": "discrepancy (known noise level)",
              "dp-blind": "discrepancy (blind noise estimate)", "final": "final iterate"}


#: (label, n_fft, hop, frames, widths): the workflow's quick geometry and the paper's STFT at 1, 4 and 10 s
LAYOUT_GEOMETRIES = (("quick 128x64 (0.5 s)", 254, 128, 64, (18, 35, 70)),
                     ("paper STFT, 1 s (512x252)", 1022, 64, 252, (35, 70, 140)),
                     ("paper STFT, 4 s (512x1000)", 1022, 64, 1000, (35, 70, 140)),
                     ("paper STFT, 10 s (512x2504)", 1022, 64, 2504, (35, 70, 140)))


def layout_sweep(args, device: torch.device) -> list[dict]:
    """Seconds per iteration of the suite loop with its default (memory layout measured per shape) and
    with the plain path (torch's default layout), per prior and geometry: the default must never be
    slower. One timed iteration after two warm-up ones (a 10 s clip at the paper's STFT costs ~10 s each)."""
    rows = []
    if not args.layout_priors:
        return rows
    print(f"\n# default path (layout measured per shape) vs plain path (contiguous), s/iteration, "
          f"{args.layout_iterations} timed iteration(s)")
    print(f"{'prior':<10} {'geometry':<30} {'default s/it':>13} {'plain s/it':>11} {'plain/default':>14} layout")
    for prior in args.layout_priors.split(","):
        for label, n_fft, hop, frames, widths in LAYOUT_GEOMETRIES:
            stft_cfg = STFTConfig(n_fft, hop)
            clean, noisy = _test_clip(stft_cfg, frames)
            default = 1 / suite_loop_rate(prior, clean, noisy, stft_cfg, args.layout_iterations, device, widths)
            plain = 1 / suite_loop_rate(prior, clean, noisy, stft_cfg, args.layout_iterations, device, widths,
                                        memory_format="contiguous")
            from .methods.dip import resolve_memory_format

            chosen = resolve_memory_format(FitConfig(widths=widths), prior, (1, 2, stft_cfg.bins, frames), device)
            layout = "channels-last" if chosen == torch.channels_last else "contiguous"
            rows.append({"prior": prior, "geometry": label, "default_s_per_it": default, "plain_s_per_it": plain,
                         "plain_over_default": plain / default, "layout": layout})
            print(f"{prior:<10} {label:<30} {default:>13.3f} {plain:>11.3f} {plain / default:>13.2f}x {layout}",
                  flush=True)
    return rows


def time_to_quality(metrics_csv: str) -> list[dict]:
    """Gap to the oracle and iterations used per unsupervised rule and prior, from a run's metrics.csv
    (denoising tasks)."""
    import pandas as pd

    m = pd.read_csv(metrics_csv)
    m = m[(m["metric"] == "snr") & m["task"].isin(["gaussian", "environmental"]) & (m["stopping"] != "none")]
    keys = ["task", "dataset", "method", "item"]
    snr = m.pivot_table(index=keys, columns="stopping", values="value")
    stop = m.pivot_table(index=keys, columns="stopping", values="stop_iteration")
    budget = m.pivot_table(index=keys, columns="stopping", values="iterations")["final"]
    rows = [{"prior": idx[2], "task": idx[0], "rule": rule, "snr": snr.loc[idx, rule],
             "oracle_snr": snr.loc[idx, "oracle"], "fraction": stop.loc[idx, rule] / budget.loc[idx],
             "oracle_fraction": stop.loc[idx, "oracle"] / budget.loc[idx]}
            for idx in snr.index for rule in ("es", "dp-known", "dp-blind", "final") if rule in snr.columns]
    return _ttq_summary(rows, f"{metrics_csv}, denoising fits")


TTQ_SEED = 424242          # held-out clips: the workflow's corpora use seeds 0..599
TTQ_DATASETS = ("tts-speech", "tts-digits", "sf-piano")
TAU_GRID = tuple(np.round(np.arange(0.6, 1.61, 0.05), 2))
BLIND_VARIANTS = ("mad", "quantile 0.05", "quantile 0.1", "quantile 0.2")


def _ttq_summary(rows: list[dict], label: str) -> list[dict]:
    """Per rule and prior: mean oracle SNR, mean SNR of the rule's estimate, the gap and the fraction of
    the iteration budget used; then whether the target (gap <= 0.5 dB and fraction <= 0.5, for every
    prior) is met per rule."""
    import pandas as pd

    df = pd.DataFrame(rows)
    df["gap"] = df["oracle_snr"] - df["snr"]
    print(f"\n# time to quality ({label}; SNR against the clean clip)")
    print(f"{'rule':<36} {'prior':<10} {'oracle dB':>10} {'rule dB':>8} {'gap dB':>7} {'iters':>6} "
          f"{'oracle iters':>13} {'fits':>5}")
    summary = []
    for rule, by_rule in df.groupby("rule", sort=False):
        for prior, d in by_rule.groupby("prior", sort=False):
            row = {"rule": rule, "prior": prior, "oracle_snr": d["oracle_snr"].mean(), "rule_snr": d["snr"].mean(),
                   "gap_db": d["gap"].mean(), "iteration_fraction": d["fraction"].mean(),
                   "oracle_iteration_fraction": d["oracle_fraction"].mean(), "n_fits": len(d)}
            summary.append(row)
            print(f"{RULE_LABEL.get(rule, rule):<36} {prior:<10} {row['oracle_snr']:>10.2f} {row['rule_snr']:>8.2f} "
                  f"{row['gap_db']:>7.2f} {row['iteration_fraction']:>5.0%} "
                  f"{row['oracle_iteration_fraction']:>12.0%} {len(d):>5}")
    for rule in dict.fromkeys(df["rule"]):
        if rule == "final":
            continue
        mine = [r for r in summary if r["rule"] == rule]
        ok = all(r["gap_db"] <= 0.5 and r["iteration_fraction"] <= 0.5 for r in mine)
        print(f"target for {RULE_LABEL.get(rule, rule)}: within 0.5 dB of the oracle on average using at most half "
              f"of the iterations, for every prior (worst gap {max(r['gap_db'] for r in mine):.2f} dB, mean gap "
              f"{np.mean([r['gap_db'] for r in mine]):.2f} dB, most iterations "
              f"{max(r['iteration_fraction'] for r in mine):.0%}): {'met' if ok else 'NOT met'}")
    return summary


def _ttq_fits(args, split_seed: int, noise_kinds: list[str]) -> list[dict]:
    """Fit every prior to fresh embedded clips of one split; per fit, what replaying each rule needs:
    the loss and SNR trajectories, the noise levels (known and every blind variant), ES-WMV's stop."""
    from .data.corpus import make_corpus
    from .dsp import stft
    from .methods.stopping import mad_noise_std, quantile_noise_residual, stft_noise_residual
    from .physics.audio import add_noise_at_snr

    stft_cfg = STFTConfig(args.ttq_n_fft, args.ttq_hop)
    n = stft_cfg.samples_for_frames(args.ttq_frames)
    widths = tuple(int(w) for w in args.ttq_widths.split(","))
    rng = np.random.default_rng(split_seed)
    noise = {kind: make_corpus(kind, args.ttq_clips * len(TTQ_DATASETS), n, split_seed + 17).clips
             for kind in ("living", "traffic")}
    fits = []
    for k, dataset in enumerate(TTQ_DATASETS):
        clips = make_corpus(dataset, args.ttq_clips, n, split_seed + k).clips
        for i, clean in enumerate(clips):
            for kind in noise_kinds:
                if kind == "gaussian":
                    noisy = clean + 0.1 * rng.standard_normal(n).astype(np.float32)
                else:   # environmental: living / traffic alternately at 5-9 dB (Table 2's set-up)
                    source = ("living", "traffic")[(k + i) % 2]
                    noisy = add_noise_at_snr(clean, noise[source][k * args.ttq_clips + i], rng.uniform(5, 9))
                noise_std = float(np.sqrt(np.mean((noisy - clean) ** 2)))
                spec = stft(torch.from_numpy(noisy.astype(np.float32)), stft_cfg)
                levels = {"dp-known": stft_noise_residual(noise_std, stft_cfg),
                          "mad": stft_noise_residual(mad_noise_std(noisy), stft_cfg)}
                for variant in BLIND_VARIANTS[1:]:
                    levels[variant] = quantile_noise_residual(spec, float(variant.split()[1]))
                for prior in args.priors.split(","):
                    cfg = FitConfig(iterations=args.ttq_iterations, widths=widths, es_window=args.es_window,
                                    es_patience=args.es_patience, device=args.device, seed=split_seed + i)
                    r = fit_denoise(noisy, clean, prior, stft_cfg, cfg)
                    fits.append({"prior": prior, "dataset": dataset, "noise": kind, "clip": i,
                                 "loss": r.loss_trajectory.astype(np.float64), "snr": r.snr_trajectory.astype(np.float64),
                                 "levels": levels, "es_iteration": r.stop_iterations["es"],
                                 "es_selected": r.es_selected_iteration, "budget": cfg.iterations})
                    print(f"  split {split_seed} {kind} {dataset} clip {i} {prior}: oracle "
                          f"{np.nanmax(r.snr_trajectory):.2f} dB at {r.oracle_iteration}, final "
                          f"{r.snr_trajectory[-1]:.2f} dB", flush=True)
    return fits


def _replay(fit: dict, rule: str, tau: float = 1.0, variant: str = "mad") -> tuple[float, float]:
    """(SNR, fraction of the budget) of one rule replayed on a stored fit."""
    from .methods.stopping import first_crossing

    snr, budget = fit["snr"], fit["budget"]
    if rule == "final":
        return snr[-1], 1.0
    if rule == "es":
        return snr[fit["es_selected"] - 1], fit["es_iteration"] / budget
    level = fit["levels"]["dp-known" if rule == "dp-known" else variant]
    hit = first_crossing(fit["loss"], tau * level)
    return (snr[hit], (hit + 1) / budget) if hit >= 0 else (snr[-1], 1.0)


def _rows(fits: list[dict], rule: str, tau: float = 1.0, variant: str = "mad") -> list[dict]:
    rows = []
    for f in fits:
        value, fraction = _replay(f, rule, tau, variant)
        rows.append({"prior": f["prior"], "task": f["noise"], "rule": rule, "snr": value,
                     "oracle_snr": float(np.nanmax(f["snr"])), "fraction": fraction,
                     "oracle_fraction": (int(np.nanargmax(f["snr"])) + 1) / f["budget"]})
    return rows


def _tune(fits: list[dict], rule: str, variants) -> tuple[float, str, float]:
    """(tau, variant, mean gap) minimising the mean gap to the oracle over the tuning fits, ties to the
    fewer iterations."""
    best = None
    for variant in variants:
        for tau in TAU_GRID:
            rows = _rows(fits, rule, tau, variant)
            gap = float(np.mean([r["oracle_snr"] - r["snr"] for r in rows]))
            fraction = float(np.mean([r["fraction"] for r in rows]))
            if best is None or (gap, fraction) < (best[2], best[3]):
                best = (float(tau), variant, gap, fraction)
    return best[:3]


def time_to_quality_run(args) -> list[dict]:
    """Tune the discrepancy rule on one split of held-out embedded clips, evaluate every rule on another.

    Both splits are drawn with seeds the workflow does not use. On the tuning split, tau (and, for the
    blind variant, the noise estimator) are chosen to minimise the mean gap to the oracle; the evaluation
    split then reports, per rule and prior, the gap and the fraction of the iteration budget used.
    Rules are replayed on the stored loss and SNR trajectories (the rule fires at the first record whose
    loss is <= tau x the noise level, exactly as in the fitting loop), so tuning needs no refits.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    kinds = args.ttq_noise.split(",")
    print(f"# tuning split (seed {TTQ_SEED}): {args.ttq_clips} clips x {len(TTQ_DATASETS)} datasets x "
          f"{len(kinds)} noises x {len(args.priors.split(','))} priors, {args.ttq_iterations} iterations", flush=True)
    tuning = _ttq_fits(args, TTQ_SEED, kinds)
    tau_known, _, gap_known = _tune(tuning, "dp-known", ["mad"])
    tau_blind, variant, gap_blind = _tune(tuning, "dp-blind", BLIND_VARIANTS)
    print(f"# tuned on the tuning split: dp-known tau {tau_known:g} (mean gap {gap_known:.2f} dB); dp-blind "
          f"estimator {variant}, tau {tau_blind:g} (mean gap {gap_blind:.2f} dB)", flush=True)
    print(f"# evaluation split (seed {TTQ_SEED + 1})", flush=True)
    held_out = _ttq_fits(args, TTQ_SEED + 1, kinds)
    rows = (_rows(held_out, "es") + _rows(held_out, "dp-known", tau_known)
            + _rows(held_out, "dp-blind", tau_blind, variant) + _rows(held_out, "final"))
    label = (f"evaluation split, {args.ttq_iterations} iterations, {args.ttq_n_fft // 2 + 1}x{args.ttq_frames}, "
             f"widths {args.ttq_widths}, noise {args.ttq_noise}, ES window {args.es_window} patience "
             f"{args.es_patience}; dp-known tau {tau_known:g}, dp-blind {variant} tau {tau_blind:g}")
    summary = _ttq_summary(rows, label)
    for kind in kinds:
        _ttq_summary([r for r in rows if r["task"] == kind], f"evaluation split, {kind} noise only")
    tuned = {"rule": "tuned on the tuning split", "prior": "-", "dp_known_tau": tau_known,
             "dp_blind_estimator": variant, "dp_blind_tau": tau_blind}
    return [tuned] + summary


def sar_throughput(args) -> list[dict]:
    """Megapixels/s of focusing, echo simulation and CFAR notch, beside a bare scipy.fft 2-D FFT pair."""
    import scipy.fft

    from .methods.notch import notch
    from .physics.sar import MINISAR_LIKE, focus, focusing_phase, simulation_filter, simulate_echoes

    n = args.sar_size
    rng = np.random.default_rng(0)
    scene = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))).astype(np.complex64)

    def best_of(fn, repeats=3):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    megapixels = n * n / 1e6
    bare = best_of(lambda: scipy.fft.ifft2(scipy.fft.fft2(scene, workers=-1), workers=-1))
    rows = [{"step": "bare fft2+ifft2 pair (scipy.fft, all cores)", "seconds": bare}]
    focusing_phase.cache_clear()
    simulation_filter.cache_clear()
    first = best_of(lambda: focus(scene, MINISAR_LIKE), repeats=1)
    rows.append({"step": "focus (range-Doppler)", "seconds": best_of(lambda: focus(scene, MINISAR_LIKE))})
    rows.append({"step": "simulate echoes (inverse chain)", "seconds": best_of(lambda: simulate_echoes(scene, MINISAR_LIKE))})
    rows.append({"step": "focus, first call (builds the cached filter)", "seconds": first})
    tf = scene.reshape(64, 512, n * n // (64 * 512))   # 64 pulses' spectrograms of 512 bins
    t_notch = best_of(lambda: notch(tf))
    print(f"# SAR throughput, {n}x{n} complex64, best of 3")
    print(f"{'step':<45} {'seconds':>8} {'MP/s':>8} {'vs bare FFT pair':>17}")
    for row in rows:
        row["mp_per_s"] = megapixels / row["seconds"]
        row["relative_to_fft_pair"] = bare / row["seconds"]
        print(f"{row['step']:<45} {row['seconds']:>8.3f} {row['mp_per_s']:>8.1f} {row['relative_to_fft_pair']:>16.2f}x")
    notch_rate = tf.size / 1e6 / t_notch
    print(f"{'CFAR notch (TF pixels)':<45} {t_notch:>8.3f} {notch_rate:>8.1f}")
    rows.append({"step": "CFAR notch", "seconds": t_notch, "mp_per_s": notch_rate})
    slow = [r for r in rows[1:3] if r["relative_to_fft_pair"] < 1 / 3]   # steady state, cached filter
    print("target: focusing and simulation >= 1/3 of the bare FFT-pair rate: "
          + ("met" if not slow else "NOT met"))
    return rows + network_rates(args)


def network_rates(args) -> list[dict]:
    """Training samples/s and inference spectrograms/s of DIFNet and PISNet at the paper's settings."""
    from .methods.train_rfi import RFINetConfig, build_model, loss_fn

    device = resolve_device(args.device)
    size = args.net_size
    rows = []
    print(f"\n# networks at {size}x{size} input, paper widths, batch {args.net_batch}, device {device}, "
          f"{torch.get_num_threads()} threads ({args.net_iterations} timed steps after 1 warm-up)")
    print(f"{'network':<10} {'params':>10} {'train samples/s':>16} {'inference spectrograms/s':>25}")
    for kind in ("difnet", "pisnet"):
        cfg = RFINetConfig(kind)                         # the declared (paper) sizes
        torch.manual_seed(0)
        model = build_model(cfg).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.02)
        x = torch.rand(args.net_batch, 1, size, size, device=device)
        y = (torch.rand_like(x) > 0.8).float() if cfg.target == "mask" else torch.rand_like(x)

        def step():
            loss = loss_fn(cfg, model(x), y, x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        def infer():
            with torch.no_grad():
                model(x)

        rates = []
        for fn in (step, infer):
            fn()
            synchronize(device)
            t0 = time.perf_counter()
            for _ in range(args.net_iterations):
                fn()
            synchronize(device)
            rates.append(args.net_iterations * args.net_batch / (time.perf_counter() - t0))
        params = sum(p.numel() for p in model.parameters())
        rows.append({"step": f"{kind} training", "samples_per_s": rates[0], "parameters": params, "size": size})
        rows.append({"step": f"{kind} inference", "spectrograms_per_s": rates[1], "size": size})
        print(f"{kind:<10} {params:>10,} {rates[0]:>16.3f} {rates[1]:>25.3f}", flush=True)
    return rows


class _ReferenceMerlin(torch.nn.Module):
    """The authors' MERLIN network as their ``merlin/training/model.py`` writes it (enc0-enc6, dec5-dec1,
    LeakyReLU 0.1, max-pool, nearest upsampling, ``x - n``), for the reference training step only."""

    def __init__(self):
        super().__init__()
        conv = lambda cin, cout: torch.nn.Conv2d(cin, cout, 3, padding="same")  # noqa: E731
        self.enc = torch.nn.ModuleList([conv(1, 48)] + [conv(48, 48) for _ in range(6)])
        self.dec = torch.nn.ModuleList([conv(96, 96), conv(96, 96)] + [m for _ in range(3) for m in (conv(144, 96), conv(96, 96))])
        self.last = torch.nn.ModuleList([conv(97, 64), conv(64, 32), conv(32, 1)])
        self.pool, self.leaky = torch.nn.MaxPool2d(2), torch.nn.LeakyReLU(0.1)
        self.up = torch.nn.UpsamplingNearest2d(scale_factor=2)

    def forward(self, x):
        skips, n = [x], self.leaky(self.enc[0](x))
        n = self.pool(self.leaky(self.enc[1](n)))
        skips.append(n)
        for k in (2, 3, 4):
            n = self.pool(self.leaky(self.enc[k](n)))
            skips.append(n)
        n = self.leaky(self.enc[6](self.pool(self.leaky(self.enc[5](n)))))
        for k in range(4):
            n = torch.cat((self.up(n), skips.pop()), dim=1)
            n = self.leaky(self.dec[2 * k + 1](self.leaky(self.dec[2 * k](n))))
        n = torch.cat((self.up(n), skips.pop()), dim=1)
        n = self.last[2](self.leaky(self.last[1](self.leaky(self.last[0](n)))))
        return x - n


def merlin_rates(args) -> list[dict]:
    """Training steps/s of MERLIN and MERLIN-multitask (suite step) beside a reference step mirroring the
    authors' public one: float32, default memory format, normalisation + forward + loss (with its 1/batch)
    + backward + gradient clipping at 5 + Adam."""
    from .methods.merlin import S3NetConfig, batch_loss, build_model
    from .physics.speckle import TERRASAR_X

    M, m = TERRASAR_X.M, TERRASAR_X.m
    b, size = args.merlin_batch, args.merlin_size
    torch.manual_seed(0)
    real, imag = torch.randn(b, size, size) * 100, torch.randn(b, size, size) * 100
    mask = (torch.rand(b, size, size) > 0.8).float()
    height = torch.rand(b, size, size) * 20
    labelled = torch.ones(b)

    reference = _ReferenceMerlin()
    ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-3)

    def reference_step():
        x = (torch.log(torch.square(real) + 1e-3) - 2 * m) / (2 * (M - m))
        out = reference(x.reshape(b, 1, size, size))
        log_r = 2 * (out * (M - m) + m)
        loss = (1 / b) * torch.mean(0.5 * log_r + torch.square(imag.reshape(b, 1, size, size)) / (torch.exp(log_r) + 1e-6))
        ref_opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), 5.0)
        ref_opt.step()

    def suite_step_for(tasks):
        cfg = S3NetConfig(tasks=tasks, M=M, m=m, augment="none", batch_factor=True)
        model = build_model(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        params = list(model.parameters())

        def step():
            loss = batch_loss(cfg, model, (real, imag, mask, height, labelled))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
        return step, sum(p.numel() for p in params)

    rows = []
    print(f"# MERLIN training steps, batch {b} of {size}x{size}, {torch.get_num_threads()} threads, CPU "
          f"({args.net_iterations} timed steps after 1 warm-up)")
    print(f"{'step':<40} {'params':>10} {'steps/s':>9} {'vs reference':>13}")
    candidates = [("reference (authors' step)", reference_step, sum(p.numel() for p in reference.parameters()))]
    for tasks, name in (("D", "suite: MERLIN"), ("SRD", "suite: MERLIN-multitask (S+R+D)")):
        step, params = suite_step_for(tasks)
        candidates.append((name, step, params))
    ref_rate = None
    for name, fn, params in candidates:
        fn()
        t0 = time.perf_counter()
        for _ in range(args.net_iterations):
            fn()
        rate = args.net_iterations / (time.perf_counter() - t0)
        ref_rate = ref_rate or rate
        rows.append({"step": name, "parameters": params, "steps_per_s": rate, "relative_to_reference": rate / ref_rate})
        print(f"{name:<40} {params:>10,} {rate:>9.4f} {rate / ref_rate:>12.2f}x", flush=True)
    print("target: suite MERLIN step >= 1.2x the reference rate: "
          + ("met" if rows[1]["relative_to_reference"] >= 1.2 else "NOT met"))
    return rows


def declip_rates(args) -> list[dict]:
    """S4: declipper training samples/s (one step = a batch of ``--declip-batch`` segments of
    ``--declip-segment`` samples; L_MC + L_EQ runs the network twice, supervised once), inference seconds per
    minute of 16 kHz audio, and A-SPADE's seconds per minute, on a generated ensemble clip at v = 10 %."""
    from .data.corpus import make_corpus
    from .methods.aspade import aspade
    from .methods.configs import DeclipConfig
    from .methods.declipping import batch_loss, build_model, declip
    from .physics.clipping import clip_to_fraction

    rows = []
    seconds_audio = args.declip_seconds
    clip = make_corpus("sf-ensemble", 1, int(16000 * seconds_audio), seed=0).clips[0]
    y, _, mu = clip_to_fraction(clip[None], 0.1)
    print(f"# declipping, {torch.get_num_threads()} threads, CPU; {seconds_audio:g} s of generated music at v = 10 %")
    segment, batch = args.declip_segment, args.declip_batch
    ys = torch.from_numpy(np.resize(y[0], (batch, segment)).astype(np.float32))
    mus = torch.full((batch,), float(mu[0, 0]))
    for widths, name in (((32, 64, 128, 256), "paper-size U-Net"), ((16, 32, 64), "quick-size U-Net")):
        for objective in ("mc-eq", "supervised"):
            cfg = DeclipConfig(objective=objective, widths=widths)
            model = build_model(cfg)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            data = (ys, mus, ys) if objective == "supervised" else (ys, mus)

            def step():
                loss = batch_loss(cfg, model, data)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            step()
            t0 = time.perf_counter()
            for _ in range(args.net_iterations):
                step()
            rate = args.net_iterations * batch * segment / (time.perf_counter() - t0)
            rows.append({"what": f"training, {objective}", "network": name, "samples_per_s": rate})
            print(f"{name:<18} training {objective:<11} {rate:>12,.0f} samples/s", flush=True)
        model.eval()
        t0 = time.perf_counter()
        declip(model, y[0], float(mu[0, 0]))
        per_minute = (time.perf_counter() - t0) * 60 / seconds_audio
        rows.append({"what": "inference", "network": name, "seconds_per_minute_of_audio": per_minute})
        print(f"{name:<18} inference {per_minute:>10.1f} s per minute of audio", flush=True)
    t0 = time.perf_counter()
    aspade(y[0], float(mu[0, 0]))
    per_minute = (time.perf_counter() - t0) * 60 / seconds_audio
    rows.append({"what": "A-SPADE", "network": "-", "seconds_per_minute_of_audio": per_minute})
    print(f"{'A-SPADE':<18} {per_minute:>20.1f} s per minute of audio", flush=True)
    return rows


def run_bench(args) -> None:
    out = {}
    if args.what == "gpu":
        from .bench_gpu import gpu_table

        out["gpu"] = gpu_table(args)
    elif args.what == "declip":
        out["declip"] = declip_rates(args)
    elif args.what == "merlin":
        out["merlin"] = merlin_rates(args)
    elif args.what == "sar":
        out["sar"] = sar_throughput(args)
    elif args.metrics:
        out["time_to_quality"] = time_to_quality(args.metrics)
    elif args.time_to_quality:
        out["time_to_quality"] = time_to_quality_run(args)
    else:
        out["speed"] = speed_table(args)
    if args.output:
        from .files import write_json

        write_json(args.output, out)
    if args.markdown:
        from .files import write_text

        write_text(args.markdown, markdown_report(out, args))


SECTION_TITLES = {"speed": "Prior fitting speed: suite loop vs reference loop",
                  "time_to_quality": "Time to quality: oracle vs ES-WMV vs final iterate",
                  "sar": "SAR throughput and networks",
                  "merlin": "MERLIN training steps: suite vs the authors' step",
                  "declip": "Declipping: training and inference rates, A-SPADE",
                  "gpu": "Paper-scale training steps: FLOPs, activation memory, GPU time"}


def markdown_report(out: dict, args) -> str:
    """The benchmark's figures as Markdown tables, with the command and the machine they were measured on."""
    import os
    import platform

    import pandas as pd

    command = (f"restorebench bench {args.what}" + (" --time-to-quality" if args.time_to_quality else "")
               + (f" --markdown {args.markdown}" if args.markdown else ""))
    lines = [f"# Benchmark: restorebench bench {args.what}", "",
             f"Regenerate with `{command}` (or `make bench`). Measured {time.strftime('%Y-%m-%d')} on "
             f"{platform.machine()} "
             f"{platform.processor() or ''}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
             f"{torch.get_num_threads()} torch threads, device {args.device}.", ""]
    for key, rows in out.items():
        tuned = [r for r in rows if r.get("prior") == "-"]
        if tuned:   # the tuning split's choices, then the evaluation split's figures
            lines += ["## Tuned on the tuning split", "",
                      pd.DataFrame(tuned).drop(columns=["rule", "prior"]).to_markdown(index=False), ""]
            rows = [r for r in rows if r.get("prior") != "-"]
        lines += [f"## {SECTION_TITLES.get(key, key)}", ""]
        groups: dict[tuple, list[dict]] = {}
        for row in rows:   # rows of different kinds (e.g. the layout sweep) get a table each
            groups.setdefault(tuple(row), []).append(row)
        for group in groups.values():
            lines += [pd.DataFrame(group).to_markdown(index=False, floatfmt=".3f"), ""]
    return "\n".join(lines)
