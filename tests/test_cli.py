import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from restorebench.cli import build_parser, main
from restorebench.metrics.audio import snr_db


def _speechlike(n=16000):
    t = np.arange(n) / 16000
    f0 = 130 + 25 * np.sin(2 * np.pi * 2.5 * t)
    x = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 16000) / k for k in range(1, 15))
    return (0.9 * x * (0.55 + 0.45 * np.sin(2 * np.pi * 3 * t)) / np.max(np.abs(x))).astype(np.float32)


def test_score_audio_prints_every_metric(tmp_path, capsys):
    clean = _speechlike()
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.size).astype(np.float32)
    sf.write(tmp_path / "clean.wav", clean, 16000, subtype="FLOAT")
    sf.write(tmp_path / "noisy.wav", noisy, 16000, subtype="FLOAT")
    assert main(["score-audio", "--reference", str(tmp_path / "clean.wav"),
                 "--estimate", str(tmp_path / "noisy.wav")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["metrics"]) == {"snr", "psnr_peak", "spectral_snr", "envelope_distance", "pesq_wb", "pesq_nb"}
    assert out["metrics"]["snr"] == pytest.approx(snr_db(clean, noisy), abs=1e-4)


def test_score_audio_resamples_with_warning(tmp_path, capsys):
    clean = _speechlike(16000)
    sf.write(tmp_path / "c.wav", clean, 16000, subtype="FLOAT")
    sf.write(tmp_path / "e48.wav", np.repeat(clean, 3), 48000, subtype="FLOAT")
    assert main(["score-audio", "--reference", str(tmp_path / "c.wav"), "--estimate",
                 str(tmp_path / "e48.wav"), "--no-pesq"]) == 0
    captured = capsys.readouterr()
    assert "resampling from 48000 Hz to 16000 Hz" in captured.err
    assert json.loads(captured.out)["samples"] == 16000


def test_score_audio_silent_file_is_a_clear_error(tmp_path, capsys):
    sf.write(tmp_path / "c.wav", _speechlike(), 16000, subtype="FLOAT")
    sf.write(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), 16000, subtype="FLOAT")
    assert main(["score-audio", "--reference", str(tmp_path / "c.wav"),
                 "--estimate", str(tmp_path / "silent.wav")]) == 2
    err = capsys.readouterr().err
    assert "silent.wav" in err and "silent" in err


def test_restore_audio_denoise_and_inpaint(tmp_path, capsys):
    clean = _speechlike(4000)
    noisy = clean + 0.1 * np.random.default_rng(1).standard_normal(clean.size).astype(np.float32)
    sf.write(tmp_path / "noisy.wav", noisy, 16000, subtype="FLOAT")
    common = ["--prior", "exp-dense", "--iterations", "40", "--widths", "4,8,16", "--n-fft", "126",
              "--hop", "32", "--es-window", "3", "--es-patience", "3", "--select", "final", "--device", "cpu"]
    assert main(["restore-audio", "--task", "denoise", "--input", str(tmp_path / "noisy.wav"),
                 "--output", str(tmp_path / "out.wav"), *common]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["iterations"] == 40
    restored, rate = sf.read(tmp_path / "out.wav")
    assert rate == 16000 and restored.shape == clean.shape and np.all(np.isfinite(restored))
    mask = np.ones(clean.size)
    mask[1500:2200] = 0
    np.save(tmp_path / "mask.npy", mask)
    assert main(["restore-audio", "--task", "inpaint", "--input", str(tmp_path / "noisy.wav"),
                 "--mask", str(tmp_path / "mask.npy"), "--output", str(tmp_path / "in.wav"), *common]) == 0
    bad = np.full(7, 2.0)
    np.save(tmp_path / "bad.npy", bad)
    assert main(["restore-audio", "--task", "inpaint", "--input", str(tmp_path / "noisy.wav"),
                 "--mask", str(tmp_path / "bad.npy"), "--output", str(tmp_path / "x.wav"), *common]) == 2
    assert "bad.npy" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


# ----------------------------------------------------------------------------------------- help texts

COMMANDS = {
    "s1-split", "s1-training-images", "s1-calibrate-notch", "s1-train", "s1-evaluate", "s1-tables", "s1-figure",
    "s1-claims", "s1-audit",
    "sar-simulate", "sar-focus", "suppress-rfi",
    "make-corpus", "ingest-audio", "corrupt", "fit-prior", "score-fits", "s2-tables", "s2-geometry", "s2-figure-convergence",
    "s2-figure-example", "s2-claims",
    "s3-scene", "s3-scene-from-files", "s3-train", "s3-evaluate", "s3-floor", "s3-despeckle-eval", "s3-report", "s3-figure2",
    "s3-claims", "despeckle", "map-buildings",
    "s4-synthetic", "s4-toy", "s4-music-train", "s4-music-eval", "s4-report", "s4-claims", "clip", "declip",
    "score-audio", "restore-audio", "collect", "results-readme", "compare-runs", "plan-scale", "publish-reference",
    "training-report", "headline", "fetch", "extract",
    "bench",
}


def _subcommands(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def _walk(parser, path=("restorebench",)):
    """(command path, parser) for the parser and every subparser below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))


def test_every_argument_has_a_help_text_that_gives_its_default():
    problems = []
    for path, parser in _walk(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}"
            if not (action.help or "").strip():
                problems.append(f"{where}: no help")
                continue
            text = formatter._expand_help(action)     # what --help prints (lazy lists loaded here)
            default = action.default
            if default is None or default is False or default is argparse.SUPPRESS:
                continue
            if "default" not in text or (default not in ("", []) and str(default) not in text):
                problems.append(f"{where}: help does not give the default {default!r}: {text!r}")
    assert not problems, "\n".join(problems)


def test_help_lists_every_subcommand(capsys):
    assert set(_subcommands(build_parser())) == COMMANDS
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS), sorted(n for n in COMMANDS if n not in out)


def test_choices_and_listed_names_come_from_their_sources(capsys):
    from restorebench import registry
    from restorebench.data.corpus import EMBEDDED_DATASETS
    from restorebench.physics.rfi import RFI_KINDS
    from restorebench.physics.sar import SENSORS

    commands = _subcommands(build_parser())
    options = {name: {o: a for a in sub._actions for o in a.option_strings} for name, sub in commands.items()}
    for name in ("s1-split", "sar-simulate", "sar-focus"):
        assert tuple(options[name]["--sensor"].choices) == tuple(SENSORS)
    assert tuple(options["fit-prior"]["--prior"].choices) == registry.names("S2", "prior")
    assert tuple(options["s1-evaluate"]["--method"].choices) == registry.names("S1", "rfi")
    assert options["s1-split"]["--kinds"].default == ",".join(RFI_KINDS)

    def help_of(command, option):    # as --help prints it, before line wrapping
        return commands[command]._get_formatter()._expand_help(options[command][option])

    assert all(kind in help_of("s1-split", "--kinds") for kind in RFI_KINDS)
    assert all(sensor in help_of("s1-split", "--sensor") for sensor in SENSORS)
    assert all(dataset in help_of("make-corpus", "--dataset") for dataset in EMBEDDED_DATASETS)
    with pytest.raises(SystemExit):       # an unknown sensor is a usage error naming the known ones
        build_parser().parse_args(["sar-focus", "--sensor", "nonesuch", "--input", "i", "--output", "o"])
    assert "sentinel1-like" in capsys.readouterr().err


def test_building_the_parser_does_not_import_torch():
    code = ("import sys; from restorebench.cli import build_parser; p = build_parser(); p.format_help(); "
            "p.parse_args(['fit-prior', '--observations', 'o', '--prior', 'conv', '--output', 'f']); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_table_claims_and_report_steps_do_not_import_torch():
    """A few seconds of torch start-up per workflow step add up over a run's hundred-odd non-network steps."""
    modules = ["restorebench.cli", "restorebench.report.claims", "restorebench.report.results_readme",
               "restorebench.report.compare", "restorebench.tidy", "restorebench.audio_io", "restorebench.dsp",
               *(f"restorebench.experiments.{m}_report" for m in
                 ("audio_priors", "sar_rfi", "merlin_multitask", "declipping"))]
    code = (f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
