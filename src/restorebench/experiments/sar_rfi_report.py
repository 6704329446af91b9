"""S1 tables (paper Tables 4 and 5), Figures 6-9, the per-SIR figure and claims C1-C5.

Everything is derived from the collected tidy rows (``results/s1/metrics.csv``) and the example arrays
of the first test scene; the paper's numbers appear only beside ours, marked as the paper's.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_output, write_text
from .. import registry
from ..papers import reference
from ..report.claims import write_study_claims
from ..report.plotting import pyplot as _plt, save_figure as _save
from ..report.tables import mean_std, summarise as summarise_rows
from ..report.verdicts import Cell, Claim, StatsConfig, mark_replicates
from ..tidy import REPLICATE
from ..studies import study

STUDY = study("S1")
CLAIMS_PREAMBLE = ("Items are the test scenes of each split; every method is scored on every scene of a replicate "
                   "(its own draw of training and test scenes and RFI, and its training seed).")

METRIC_LABEL = {"pa": "PA %", "iou": "IoU %", "psnr": "PSNR dB", "me": "ME",
                "scatterer_masked": "scatterer cells masked % (C5)", "scatterer_kept": "scatterer kept % (C5)",
                "pa_full_band": "PA % over all bins (extra)", "iou_full_band": "IoU % over all bins (extra)",
                "energy_ratio": "image energy / clean (ME check)"}
PERCENT = {"pa", "iou", "pa_full_band", "iou_full_band", "scatterer_masked", "scatterer_kept"}


method_label = STUDY.label


def table_methods(present) -> list[str]:
    """Methods in registry order (the paper's four first, then any added), those with rows in this run."""
    present = set(present)
    return [m for m in registry.names("S1", "rfi") if m in present] + sorted(present - set(registry.names("S1", "rfi")))


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """mean, std and n over scenes x replicates per split, method and metric."""
    return summarise_rows(metrics, ["split", "method", "metric"])


def _fmt(metric: str, mean: float, std: float, n: int) -> str:
    """A Tables 4-5 cell: percentages x 100; "/" where the method has no such number (the paper's mark)."""
    if metric == "me":      # small numbers when bright scatterers set the normalising peak: 3 significant digits
        return mean_std(mean, std, n, ".3g", ".2g", missing="/")
    k = 100.0 if metric in PERCENT else 1.0
    return mean_std(k * mean, k * std, n, missing="/")


def calibration_note(calibration: Path | None) -> str:
    """What the tuned notch's calibration chose and the false-alarm rates it measured ('' without one)."""
    if calibration is None:
        return ""
    import json

    c = json.loads(Path(calibration).read_text())
    return (f" The tuned notch's P_fa {c['cfar']['pfa']:g} (CA-CFAR, {c['cfar']['train']} training and "
            f"{c['cfar']['guard']} guard cells each side along {c['cfar']['axes']}) maximised the IoU on "
            f"{c['pulses']} training pulses; on the same pulses without RFI it flags {100 * c['false_alarm_rate']:.1f} % "
            f"of the in-band cells (the nominal P_fa {c['nominal_pfa']:g}: {100 * c['nominal_false_alarm_rate']:.1f} %)."
            + position_note(c) + central_bins_note(c))


def central_bins_note(calibration: dict) -> str:
    """How much of the training labels sits in the bins nearest 0 Hz, against their share of the band ('' when
    the calibration predates the measure)."""
    facts = calibration.get("central_bins")
    if not facts:
        return ""
    ratio = facts["label_share"] / facts["chance_share"]
    reading = ("position in the band gives little away" if ratio <= 2 else
               "interference concentrates there, and a mask of where it sits can score well")
    return (f" On those training pulses the {facts['bins']} bins nearest 0 Hz hold "
            f"{100 * facts['label_share']:.0f} % of the Eq. 13 label's in-band positives, against their "
            f"{100 * facts['chance_share']:.0f} % share of the band ({ratio:.1f} times: {reading}).")


def position_note(calibration: dict) -> str:
    """What the position-only mask (the floor) zeroes, from the calibration facts ('' when they predate it)."""
    facts = calibration.get("position_mask")
    if not facts:
        return ""
    bins = facts["bins"]
    return (f" The position-only mask (a floor: it sees no test data) zeroes the {len(bins)} of {facts['n_fft']} "
            f"STFT bins most often interfered on the same training pulses, on every detected pulse (its one "
            f"constant, the number of bins, maximised the pooled IoU there: {facts['iou']:.3f}).")


def detector_note(rows: pd.DataFrame, split: str, calibration: dict | None) -> str:
    """The shared pulse detector's rates on ``split`` (from the interfered method's rows: every method sees
    the same detections) and on the training pulses it was tuned on ('' for rows that predate it)."""
    chosen = rows[(rows["split"] == split) & (rows["method"] == "interfered")]
    if "pulses_detected" not in chosen.columns or chosen.empty:
        return ""
    per_scene = chosen.drop_duplicates([c for c in (REPLICATE, "item") if c in chosen.columns])
    interfered, clean = per_scene["pulses_interfered"].sum(), per_scene["pulses_clean"].sum()
    detected, false = per_scene["pulses_detected"].sum(), per_scene["pulses_false_alarm"].sum()
    text = (f" Every method processes only the pulses the shared detector flags (Algorithm 1, step 1; "
            f"methods/pulse_detector.py); the others pass untouched, and a missed interfered pulse is scored "
            f"unprocessed. On these scenes it found {100 * detected / max(interfered, 1):.1f} % of the "
            f"{int(interfered)} interfered pulses and flagged {100 * false / max(clean, 1):.1f} % of the "
            f"{int(clean)} clean ones")
    facts = (calibration or {}).get("detector")
    if facts:
        text += (f" (threshold {facts['threshold_db']:.1f} dB over the record's lower-decile pulse power, tuned "
                 f"on {facts['pulses']} training pulses: {100 * facts['detection_rate']:.1f} % found, "
                 f"{100 * facts['false_alarm_rate']:.1f} % false alarms)")
    return text + "."


def floor_gap_text(rows: pd.DataFrame, split: str, method: str = "difnet", floor: str = "position-mask") -> str:
    """``method`` minus the position-only floor on PA and IoU, scene by scene: mean ± std in points ('' when
    either has no rows). What says the network learned interference, not where it sits."""
    parts = []
    for metric in ("pa", "iou"):
        chosen = rows[(rows["split"] == split) & (rows["metric"] == metric)]
        keys = [c for c in (REPLICATE, "item") if c in chosen.columns]
        a = chosen[chosen["method"] == method].set_index(keys)["value"]
        b = chosen[chosen["method"] == floor].set_index(keys)["value"]
        gap = (a - b.reindex(a.index)).dropna()
        if gap.empty:
            return ""
        parts.append(f"{METRIC_LABEL[metric].replace(' %', '')} {100 * gap.mean():+.1f} ± {100 * gap.std(ddof=1) if gap.size > 1 else 0:.1f} points")
    return (f" {method_label(method)} − {method_label(floor)} (the floor that knows only where interference "
            f"sat in training), scene by scene: {', '.join(parts)}.")


def by_kind_table(rows: pd.DataFrame, split: str, methods: list[str]) -> pd.DataFrame:
    """PA, IoU and PSNR per interference kind (narrowband, chirp, sinusoidal FM): mean over the scenes of
    that kind, one column per method."""
    columns = ["kind", "metric"] + [method_label(m) for m in methods]
    if "kind" not in rows.columns:
        return pd.DataFrame(columns=columns)
    chosen = rows[(rows["split"] == split) & rows["metric"].isin(["pa", "iou", "psnr"])]
    table = []
    for (kind, metric), part in chosen.groupby(["kind", "metric"], sort=True):
        means = part.groupby("method")["value"].mean()
        k = 100.0 if metric in PERCENT else 1.0
        table.append([kind, METRIC_LABEL[metric]] + [f"{k * means[m]:.1f}" if m in means else "/" for m in methods])
    return pd.DataFrame(table, columns=columns)


def write_tables(metrics_csv: Path, outdir: Path, run_facts: str = "", calibration: Path | None = None) -> None:
    """Tables 4 and 5: one column per method of this run, the paper's value beside ours (papers/sar_rfi.yaml)."""
    import json

    rows = pd.read_csv(metrics_csv)
    summary = summarise(rows)
    methods = table_methods(summary["method"])
    facts = json.loads(Path(calibration).read_text()) if calibration else None
    for number, spec in reference("sar_rfi")["tables"].items():
        split, title = spec["split"], spec["title"]
        s = summary[summary["split"] == split]
        long_rows, display = [], []
        for metric in ("pa", "iou", "psnr", "me", "energy_ratio", "scatterer_masked", "scatterer_kept",
                       "pa_full_band", "iou_full_band"):
            row = [METRIC_LABEL[metric]]
            for method in methods:
                hit = s[(s["method"] == method) & (s["metric"] == metric)]
                mean, std = (float(hit["mean"].iloc[0]), float(hit["std"].iloc[0])) if not hit.empty else (np.nan, np.nan)
                n = int(hit["n"].iloc[0]) if not hit.empty else 0
                paper = spec["values"].get(metric, {}).get(method)
                row.append(_fmt(metric, mean, std, n) + (f" (paper {paper:g})" if paper is not None else ""))
                long_rows.append({"table": number, "split": split, "method": method, "metric": metric,
                                  "mean": mean, "std": std, "n": n,
                                  "paper": paper if paper is not None else np.nan})
            display.append(row)
        frame = pd.DataFrame(display, columns=["metric"] + [method_label(m) for m in methods])
        with atomic_output(outdir / f"table{number}.csv", suffix=".csv") as tmp:
            pd.DataFrame(long_rows).to_csv(tmp, index=False)
        notes = ("Mean ± std over n test scenes × replicates. PA and IoU "
                 "over the receiver-band bins of the spectrograms of the affected pulses (outside the band the "
                 "Eq. 13 label is decided by window leakage; the all-bins "
                 "figures are the extra rows); PISNet outputs no mask: '/', as in the paper. Oracle columns read "
                 "the truth (the clean echoes and the RFI): each approach's ceiling, not a method. Columns marked "
                 "(floor) need no learning (the notch at its nominal P_fa, the position-only mask): every method a "
                 "claim favours must beat them (claims.md). PSNR and ME on focused magnitude images against "
                 "the focused clean echoes (ME = entropy of a 256-bin histogram x mean, both of the image divided "
                 "by the clean image's maximum; lower is better). The paper's numbers are on MiniSAR and "
                 "Sentinel-1 data; ours are on simulated scenes with the sensors named in config.yaml."
                 + detector_note(rows, split, facts) + calibration_note(calibration)
                 + floor_gap_text(rows, split))
        kinds = by_kind_table(rows, split, methods)
        kinds_title = "By interference kind (mean over the scenes of each kind)"
        kinds_md = f"\n## {kinds_title}\n\n{kinds.to_markdown(index=False)}\n" if len(kinds) else ""
        kinds_html = f"<h4>{kinds_title}</h4>" + kinds.to_html(index=False, border=0) if len(kinds) else ""
        write_text(outdir / f"table{number}.md", f"# Table {number}: {title}\n\n{run_facts}\n\n"
                   f"{frame.to_markdown(index=False)}\n\n{notes}\n{kinds_md}")
        write_text(outdir / f"table{number}.html", f"<h3>Table {number}: {title}</h3><p>{run_facts}</p>"
                   + frame.to_html(index=False, border=0) + f"<p>{notes}</p>{kinds_html}\n")


def _example_rows(data: dict[str, dict], files: dict[str, Path]) -> list[str]:
    """One caption per shown scene: its index, interference kind and SIR, and where the shown pulse's
    interference peaks in the band (a share of the receiver bandwidth B, 0 = the band's centre). Every
    method's examples must show the same scenes and pulses, else the rows would mix scenes."""
    for method, arrays in data.items():
        if "scene" not in arrays:
            raise ValueError(f"{files[method]}: example arrays of an older restorebench (one scene, no band "
                             f"position): rerun s1-evaluate --examples")
    first = next(iter(data.values()))
    for method, arrays in data.items():
        if not (np.array_equal(arrays["scene"], first["scene"]) and np.array_equal(arrays["line"], first["line"])):
            raise ValueError(f"{files[method]}: shows scenes {arrays['scene'].tolist()}, the other examples "
                             f"{first['scene'].tolist()}: write every method's examples from the same split")
    return [f"scene {int(scene)}: {kind}, SIR {sir:.0f} dB,\npeak at {share:+.2f} B"
            for scene, kind, sir, share in zip(first["scene"], first["kind"], first["sir_db"], first["band_share"])]


def spectrogram_figure(examples: dict[str, Path], output: Path, title: str) -> None:
    """Figures 6/8: for each shown scene (one per band position, rows), the |STFT| (dB) of one affected pulse
    before and after each method (columns), and under it the Eq. 13 label and each method's mask (white:
    flagged as interference), so the position floor's mask sits beside DIFNet's. Frequency in MHz about the
    receiver's centre; dashed lines: the receiver band's edges."""
    from ..files import load_npz

    plt = _plt()
    data = {m: load_npz(p) for m, p in examples.items()}
    first = next(iter(data.values()))
    methods = [m for m in data if m != "interfered"]
    freqs = np.fft.fftshift(first["freq_mhz"])
    half_band = float(first["half_band_mhz"])
    captions = _example_rows(data, examples)
    columns = 1 + len(methods)
    fig, axes = plt.subplots(2 * len(captions), columns, figsize=(2.2 * columns, 2.0 * 2 * len(captions)),
                             squeeze=False, sharex=True, sharey=True)
    for row, caption in enumerate(captions):
        before = first["interfered_spectrogram"][row]
        ref = 20 * np.log10(before.max() + 1e-12)
        frames = before.shape[1]
        extent = (0, frames, freqs[0], freqs[-1])
        spectra = [("Interfered", before)] + [(method_label(m), data[m]["spectrogram"][row]) for m in methods]
        masks = [("Eq. 13 label", first["label"][row])] + [
            (f"{method_label(m)} mask", data[m]["mask"][row] if data[m]["mask"].size else None) for m in methods]
        for col, ((name, spec), (mask_name, mask)) in enumerate(zip(spectra, masks)):
            top, bottom = axes[2 * row, col], axes[2 * row + 1, col]
            top.imshow(20 * np.log10(np.fft.fftshift(spec, axes=0) + 1e-12), origin="lower", aspect="auto",
                       cmap="viridis", vmin=ref - 60, vmax=ref, extent=extent)
            top.set_title(textwrap.fill(name, 26), fontsize=6.5)
            if mask is None:
                bottom.text(0.5, 0.5, "no mask\n(restores magnitudes)", ha="center", va="center", fontsize=7,
                            transform=bottom.transAxes)
                bottom.set_facecolor("0.85")
            else:
                bottom.imshow(np.fft.fftshift(mask.astype(float), axes=0), origin="lower", aspect="auto",
                              cmap="gray", vmin=0, vmax=1, extent=extent, interpolation="nearest")
            bottom.set_title(textwrap.fill(mask_name, 26), fontsize=6.5)
            for ax in (top, bottom):
                for edge in (-half_band, half_band):
                    ax.axhline(edge, color="w" if ax is top else "tab:red", lw=0.6, ls="--")
                ax.tick_params(labelsize=6)
        axes[2 * row, 0].set_ylabel(f"{caption}\nMHz", fontsize=7)
        axes[2 * row + 1, 0].set_ylabel("MHz", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("frame", fontsize=7)
    fig.suptitle(f"{title}: |STFT| of one affected pulse per scene (dB, 60 dB range) and the masks", fontsize=9)
    fig.tight_layout()
    _save(fig, output)
    plt.close(fig)


def image_figure(examples: dict[str, Path], output: Path, title: str) -> None:
    """Figures 7/9: for each shown scene (rows, one per band position), the focused magnitude images (dB) of
    the interfered echoes, the clean echoes ("label") and each method's output (columns)."""
    from ..files import load_npz

    plt = _plt()
    data = {m: load_npz(p) for m, p in examples.items()}
    first = next(iter(data.values()))
    methods = [m for m in data if m != "interfered"]
    captions = _example_rows(data, examples)
    columns = 2 + len(methods)
    fig, axes = plt.subplots(len(captions), columns, figsize=(2.2 * columns, 2.3 * len(captions)),
                             squeeze=False)
    for row, caption in enumerate(captions):
        clean = first["clean_image"][row]
        panels = [("Interfered", data["interfered"]["image"][row] if "interfered" in data else None),
                  ("Label (clean echoes)", clean)] + [(method_label(m), data[m]["image"][row]) for m in methods]
        ref = 20 * np.log10(clean.max() + 1e-12)
        for ax, (name, image) in zip(axes[row], panels):
            if image is not None:
                ax.imshow(20 * np.log10(image + 1e-12), cmap="gray", vmin=ref - 50, vmax=ref, aspect="auto")
            ax.set_title(textwrap.fill(name, 26), fontsize=6.5)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(caption, fontsize=7)
    fig.suptitle(f"{title}: focused images (dB, 50 dB range; azimuth down, range across)", fontsize=9)
    fig.tight_layout()
    _save(fig, output)
    plt.close(fig)


def sir_figure(metrics_csv: Path, output: Path) -> None:
    """PSNR and IoU per SIR bin (the run's SIR range in three equal bins), per method and split."""
    import seaborn as sns

    plt = _plt()
    m = pd.read_csv(metrics_csv)
    edges = np.linspace(m["sir_db"].min(), m["sir_db"].max(), 4)
    edges[0], edges[-1] = edges[0] - 1e-3, edges[-1] + 1e-3
    labels = [f"{lo:.0f}…{hi:.0f}" for lo, hi in zip(edges[:-1], edges[1:])]
    m["SIR bin (dB)"] = pd.cut(m["sir_db"], bins=edges, labels=labels)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    # one colour per method in both panels (IoU has no image-only methods, so per-panel colours would shift)
    shown = list(dict.fromkeys(m.loc[m["metric"].isin(["psnr", "iou"]), "method"].map(method_label)))
    palette = dict(zip(shown, sns.color_palette(n_colors=len(shown))))
    for ax, metric in zip(axes, ("psnr", "iou")):
        d = m[m["metric"] == metric].copy()
        d["method"] = d["method"].map(method_label)
        d["split"] = d["split"].map({"test-same": "same sensor", "test-cross": "cross sensor"})
        sns.pointplot(data=d, x="SIR bin (dB)", y="value", hue="method", linestyle="none", dodge=0.3,
                      errorbar=("sd"), ax=ax, markers="o", palette=palette,
                      hue_order=[name for name in shown if name in set(d["method"])])
        ax.set_ylabel(METRIC_LABEL[metric].replace(" %", ""))
        ax.legend(fontsize=7)
    fig.suptitle("Per-SIR breakdown over both test sets (mean ± sd over scenes)", fontsize=9)
    fig.tight_layout()
    _save(fig, output)
    plt.close(fig)


def me_energy_check(rows: pd.DataFrame | None, split: str = "test-cross", better: str = "difnet",
                    worse: str = "notch") -> str:
    """A sentence saying whether ``better``'s ME advantage over ``worse`` comes with discarding more of the
    image's energy (ME = entropy x mean falls as energy is removed: zeroing every affected pulse scores well)."""
    text = ("ME rewards discarding energy (zeroing every affected pulse lowers it), so the image energy relative "
            "to the clean image's is reported beside it.")
    if rows is None or "energy_ratio" not in set(rows["metric"]):
        return text
    chosen = rows[rows["split"] == split]
    ratio = chosen[chosen["metric"] == "energy_ratio"].groupby("method")["value"].mean()
    entropy = chosen[chosen["metric"] == "me"].groupby("method")["value"].mean()
    if better not in ratio or worse not in ratio or better not in entropy or worse not in entropy:
        return text
    numbers = (f"On this run (mean over the {split} scenes) the image energy relative to the clean image's is "
               f"{ratio[better]:.2f} for {method_label(better)} and {ratio[worse]:.2f} for {method_label(worse)}")
    if entropy[better] >= entropy[worse]:
        return f"{text} {numbers}; {method_label(better)}'s ME is not lower here, so there is no gain to explain."
    verdict = ("so its lower ME is not bought by removing more signal" if ratio[better] >= ratio[worse]
               else "so part of its lower ME may come from removing more signal")
    return f"{text} {numbers}, {verdict}."


#: what every S1 "why it may differ" sentence starts with (docs/deviations.md)
SIMULATED = ("The scenes, echoes and interference are simulated (docs/deviations.md), and the networks are "
             "smaller and trained for fewer epochs than the paper's (docs/scales.md).")


def notch_tuning_text(calibration: dict | None) -> str:
    """What the run did to tune the notch, from its calibration file (s1-calibrate-notch's JSON): the sensor
    and pulses it was tuned on, the P_fa it chose against the nominal one. Empty without the file."""
    if not calibration:
        return ""
    sensor = calibration.get("sensor") or "training-sensor"
    return (f"The notch's false-alarm rate was tuned once, for IoU, on {calibration['pulses']} {sensor} training "
            f"pulses (P_fa {calibration['cfar']['pfa']:g}; nominal {calibration['nominal_pfa']:g}), and used "
            f"unchanged on both sensors.")


def s1_claims(c4_margin_db: float = 1.0, rows: pd.DataFrame | None = None,
              calibration: dict | None = None) -> list[Claim]:
    """C1-C5 of SPEC S1 as paired comparison cells (items = test scenes, paired by scene index; units = training
    seeds when the networks were trained with several). ``calibration``: the run's notch tuning facts, which
    the "why it may differ" sentences state."""
    same, cross = {"split": "test-same"}, {"split": "test-cross"}
    tuning = notch_tuning_text(calibration)
    return [
        Claim("C1", "DIFNet beats notch filtering on PA and IoU (same sensor)",
              (Cell("same-sensor PA", "pa", "difnet", "notch", same),
               Cell("same-sensor IoU", "iou", "difnet", "notch", same)),
              if_contradicted=f"{SIMULATED} {tuning} A notch tuned for IoU is a stronger baseline than one at "
                              f"its nominal setting (the untuned-notch column).".replace("  ", " ")),
        Claim("C2", "PISNet has the best same-sensor PSNR",
              (Cell("PSNR: PISNet vs notch", "psnr", "pisnet", "notch", same),
               Cell("PSNR: PISNet vs DIFNet", "psnr", "pisnet", "difnet", same)),
              if_contradicted=SIMULATED + " PISNet follows the public code but shares DIFNet's optimiser, schedule "
                              "and normalised input here, not the constants its code fits to its own data."),
        Claim("C3", "DIFNet beats notch filtering on PA, IoU and ME cross-sensor",
              (Cell("cross-sensor PA", "pa", "difnet", "notch", cross),
               Cell("cross-sensor IoU", "iou", "difnet", "notch", cross),
               Cell("cross-sensor ME", "me", "difnet", "notch", cross)),
              note=me_energy_check(rows),
              if_contradicted=f"{SIMULATED} The cross-sensor set is a simulated Sentinel-1-class sensor with "
                              f"its own band and scaled-down pulses. {tuning} What transfers is a small network "
                              f"trained briefly on one simulated sensor, not the paper's networks on real MiniSAR "
                              f"and Sentinel-1 records.".replace("  ", " ")),
        Claim("C4", "PISNet degrades cross-sensor far more than DIFNet (PSNR drop)",
              (Cell("PSNR drop same→cross, PISNet − DIFNet", "psnr", "pisnet", "difnet", same,
                    margin=c4_margin_db, versus=cross),),
              note=f'The paper: PISNet "degrades far more" across sensors. Effect = (PISNet − DIFNet PSNR on '
                   f'same-sensor scenes) − (the same on cross-sensor scenes) = PISNet\'s PSNR drop minus DIFNet\'s; '
                   f'"far more" is read as a margin of {c4_margin_db:g} dB (config s1.claims.c4_margin_db). '
                   f'Scene i of both test sets faces the same RFI environment, kind and SIR, so the groups share '
                   f'their units: the test is a sign test of the median per-scene (or per-seed) '
                   f'difference-in-differences; "other way" means short of the margin, and "significantly the '
                   f'other way" a median below −δ (PISNet degrading less than DIFNet).',
              if_contradicted=SIMULATED + " PISNet shares DIFNet's training and per-pulse input normalisation "
                              "here; the data-specific constants of its public code, one plausible source of a "
                              "large cross-sensor drop, are not used."),
        Claim("C5", "notch filtering removes strong point scatterers that DIFNet preserves",
              (Cell("same-sensor scatterer cells masked", "scatterer_masked", "difnet", "notch", same),
               Cell("same-sensor scatterer kept in the image", "scatterer_kept", "difnet", "notch", same),
               Cell("scatterer cells masked, nominal-P_fa notch", "scatterer_masked", "difnet", "notch-untuned",
                    same),
               Cell("scatterer kept, nominal-P_fa notch", "scatterer_kept", "difnet", "notch-untuned", same)),
              note="Judged against the notch at both its tuned and its nominal P_fa: the paper's mechanism, "
                   "strong scatterers flagged as interference, depends on the threshold. "
                   "Where the mechanism lives: the share of the time-frequency cells dominated by the strong "
                   "scatterers' echo (and not by the RFI) that the mask removes, in the receiver band of the "
                   "affected pulses (lower is better); and in the focused image, the coherent share of each "
                   "scatterer's clean response kept in a 3×3 window, clipped to [0, 1], mean over the scene's "
                   "scatterers.",
              if_contradicted=f"{SIMULATED} The scatterers are simulated point targets. {tuning}".strip()),
    ]


def input_difficulty(rows: pd.DataFrame) -> list:
    """The interfered image's PSNR and ME on this run beside Table 4-5's interfered column."""
    from ..report.claims import Difficulty

    paper = reference("sar_rfi")["tables"]
    entries = []
    for number, metric, what, higher_is_easier, far, ratio in (
            (4, "psnr", "interfered image PSNR, same sensor (dB)", True, 6.0, False),
            (4, "me", "interfered image ME, same sensor", False, 3.0, True),
            (5, "me", "interfered image ME, cross sensor", False, 3.0, True)):
        split = paper[number]["split"]
        hit = rows[(rows["method"] == "interfered") & (rows["split"] == split) & (rows["metric"] == metric)]
        if hit.empty:
            continue
        entries.append(Difficulty(what, float(hit["value"].mean()), paper[number]["values"][metric]["interfered"],
                                  higher_is_easier, far, ratio))
    return entries


def write_claims(metrics_csv: Path, outdir: Path, run_facts: str, scale: str, c4_margin_db: float = 1.0,
                 stats: StatsConfig = StatsConfig(), calibration: Path | None = None,
                 training: Path | None = None) -> None:
    """claims.md, claims.html, verdicts.csv and claims_effects.png of S1 in ``outdir`` (``calibration``: the
    run's notch tuning file, whose facts the pages state)."""
    import json

    from .. import registry

    rows = pd.read_csv(metrics_csv)
    rows = mark_replicates(rows, {m.name for m in registry.methods("S1", "rfi") if m.trained})
    facts = json.loads(Path(calibration).read_text()) if calibration else None
    write_study_claims(STUDY, rows, s1_claims(c4_margin_db, rows, facts), outdir, run_facts=run_facts, scale=scale,
                       stats=stats, preamble=CLAIMS_PREAMBLE, difficulty=input_difficulty(rows), training=training)


def training_table(weights: list[Path], metrics_csv: Path) -> pd.DataFrame:
    """S1's training table (report/training.py): each network's curves from its weights
    (results/s1/models/<model>/seed<k>.pt) and whether it beats the unprocessed input: a positive median gain
    of focused-image PSNR over the interfered image, scene by scene, on its replicate's same-sensor test set."""
    from ..report.training import weights_entry, with_input_check

    rows = pd.read_csv(metrics_csv)
    psnr = rows[(rows["split"] == "test-same") & (rows["metric"] == "psnr")]
    psnr = mark_replicates(psnr, {m.name for m in registry.methods("S1", "rfi") if m.trained})
    entries = [weights_entry(p, Path(p).parent.name, int(Path(p).stem.removeprefix("seed"))) for p in weights]

    def beats(e):
        # the network's replicate: the scenes it was trained for and the interfered images of those scenes
        mine = psnr[psnr[REPLICATE] == e["seed"]]
        net = mine[mine["method"] == e["network"]].set_index("item")["value"]
        interfered = mine[mine["method"] == "interfered"].set_index("item")["value"]
        if net.empty or interfered.empty:
            return None, "no same-sensor PSNR rows"
        gain = float((net - interfered.reindex(net.index)).median())
        return gain > 0, f"median same-sensor image PSNR gain over the interfered image: {gain:+.2f} dB"

    return with_input_check(entries, beats)
