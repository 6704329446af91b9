"""The bad-input matrix: every user tool the CLI declares (restorebench.cli.common.USER_TOOLS), fed the known
bad inputs of each kind of file it reads, must exit 2 with one line on stderr naming the file or option and
leave no output behind. A new tool is covered by declaring it; a new *kind* of file needs its fixtures here.
The good inputs must succeed, so that each failure is the bad input's doing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from restorebench.cli import build_parser, common, main

build_parser()                                   # declares the user tools
TOOLS = dict(common.USER_TOOLS)


def _write_weights(folder: Path) -> dict[str, Path]:
    import torch

    from restorebench.methods.configs import DeclipConfig, S3NetConfig
    from restorebench.methods.merlin import build_model as build_s3
    from restorebench.methods.rfi_suppression import feature_meta
    from restorebench.methods.train_rfi import RFINetConfig, build_model as build_s1
    from restorebench.methods.training import save_trained
    from restorebench.models.declipper import Declipper

    torch.manual_seed(0)
    s1 = RFINetConfig("difnet", dict(channels=4, window=4, levels=1))
    s3 = S3NetConfig(tasks="SRD", encoder_width=4, decoder_width=4, levels=2, head_widths=(4, 4),
                     regression_width=4, M=3.0, m=-4.0)
    s4 = DeclipConfig(widths=(4,), kernel=3)
    from dataclasses import asdict

    paths = {k: folder / f"{k}.pt" for k in ("S1", "S3", "S4")}
    save_trained(paths["S1"], build_s1(s1), asdict(s1), [1.0], 0, {"features": feature_meta(32, 8)}, study="S1")
    save_trained(paths["S3"], build_s3(s3), s3.to_dict(), [1.0], 0, {"patch": 32}, study="S3")
    save_trained(paths["S4"], Declipper(s4.widths, s4.kernel), {"s4": s4.to_dict()}, [1.0], 0, study="S4")
    return paths


def _good_files(folder: Path) -> dict[str, Path]:
    from restorebench.physics.speckle import speckle_slc

    rng = np.random.default_rng(0)
    t = np.arange(8000) / 16000
    sf.write(folder / "audio.wav", np.clip(1.3 * np.sin(2 * np.pi * 300 * t), -1, 1).astype(np.float32), 16000)
    np.save(folder / "slc.npy", speckle_slc(np.ones((64, 64)), rng))
    np.save(folder / "echoes.npy", (rng.normal(size=(8, 64)) + 1j * rng.normal(size=(8, 64))).astype(np.complex64))
    np.save(folder / "scene.npy", (rng.normal(size=(16, 64)) + 1j * rng.normal(size=(16, 64))).astype(np.complex64))
    files = {k: folder / f"{k}.{'wav' if k == 'audio' else 'npy'}" for k in ("audio", "slc", "echoes", "scene")}
    files.update({f"weights:{k}": v for k, v in _write_weights(folder).items()})
    return files


def _bad_audio(folder: Path, good: Path) -> dict[str, Path]:
    out = {"missing": folder / "missing.wav"}
    (folder / "text.wav").write_text("this is not audio\n")
    out["not audio"] = folder / "text.wav"
    (folder / "truncated.wav").write_bytes(good.read_bytes()[:30])
    out["truncated"] = folder / "truncated.wav"
    sf.write(folder / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    out["empty"] = folder / "empty.wav"
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        x = np.full(8000, 0.1, dtype=np.float32)
        x[100] = value
        sf.write(folder / f"{name}.wav", x, 16000, subtype="FLOAT")
        out[name] = folder / f"{name}.wav"
    sf.write(folder / "silent.wav", np.zeros(8000, dtype=np.float32), 16000)
    out["silent"] = folder / "silent.wav"
    return out


def _bad_complex(folder: Path, good: Path) -> dict[str, Path]:
    out = {"missing": folder / "missing.npy"}
    (folder / "text.npy").write_text("not an array\n")
    out["not npy"] = folder / "text.npy"
    (folder / "product.ntf").write_text("not a SAR product\n")
    out["not a SAR product"] = folder / "product.ntf"
    (folder / "truncated.npy").write_bytes(good.read_bytes()[:200])
    out["truncated"] = folder / "truncated.npy"
    arrays = {"empty": np.zeros((0, 8), np.complex64), "real dtype": np.ones((16, 16), np.float32),
              "3-D": np.ones((2, 16, 16), np.complex64), "one line": np.ones((1, 64), np.complex64)}
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        a = np.load(good).copy()
        a[1, 1] = value
        arrays[name] = a
    for name, array in arrays.items():
        path = folder / f"{name.replace(' ', '-')}.npy"
        np.save(path, array)
        out[name] = path
    return out


def _bad_weights(folder: Path, study: str, good: dict[str, Path]) -> dict[str, Path]:
    (folder / "text.pt").write_text("not weights\n")
    other = next(k for k in ("S1", "S3", "S4") if k != study)
    return {"missing": folder / "missing.pt", "not weights": folder / "text.pt",
            f"{other} weights": good[f"weights:{other}"]}


def _bad_files(folder: Path, kind: str, good: dict[str, Path]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "audio":
        return _bad_audio(folder, good[kind])
    if kind in ("slc", "echoes", "scene"):
        return _bad_complex(folder, good[kind])
    if kind.startswith("weights:"):
        return _bad_weights(folder, kind.split(":")[1], good)
    raise AssertionError(f"no bad-input fixtures for files of kind {kind!r}: add them to {__file__}")


def _call(tool, files: dict[str, Path], outdir: Path) -> list[str]:
    argv = [tool.name, *tool.example]
    for option, path in files.items():
        argv += [option, str(path)]
    for option in tool.outputs:
        argv += [option, str(outdir / f"{option.strip('-')}.out")]
    return argv


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return _good_files(tmp_path_factory.mktemp("good"))


def test_every_user_tool_is_declared():
    assert set(TOOLS) >= {"restore-audio", "declip", "clip", "despeckle", "map-buildings", "suppress-rfi",
                          "sar-focus", "sar-simulate", "score-audio"}


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_good_inputs_succeed(name, good, tmp_path, capsys):
    tool = TOOLS[name]
    argv = _call(tool, {o: good[k] for o, k in tool.files.items()}, tmp_path)
    assert main(argv) == 0, capsys.readouterr().err
    for option in tool.outputs:
        assert (tmp_path / f"{option.strip('-')}.out").is_file()


def _cases():
    for name in sorted(TOOLS):
        tool = TOOLS[name]
        for option, kind in tool.files.items():
            yield name, option, kind
        if tool.outputs:
            yield name, tool.outputs[-1], "output"


@pytest.mark.parametrize("name, option, kind", list(_cases()))
def test_bad_inputs_are_one_line_errors_and_leave_nothing(name, option, kind, good, tmp_path, capsys):
    tool = TOOLS[name]
    files = {o: good[k] for o, k in tool.files.items()}
    if kind == "output":
        (tmp_path / "a-file").write_text("")
        bad = {"unwritable folder": tmp_path / "a-file"}            # the output's folder is a file
    else:
        bad = _bad_files(tmp_path / "bad", kind, good)
    for label, path in bad.items():
        outdir = tmp_path / f"out-{label.replace(' ', '-')}"
        outdir.mkdir()
        argv = _call(tool, {**files, **({option: path} if kind != "output" else {})}, outdir)
        if kind == "output":
            argv[argv.index(option) + 1] = str(path / "result.out")
        assert main(argv) == 2, f"{name} {option} {label}"
        lines = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("warning:")]
        assert len(lines) == 1 and lines[0].startswith(f"restorebench {name}: error:"), (label, lines)
        assert str(path) in lines[0] or option in lines[0], (label, lines[0])
        assert not list(outdir.iterdir()), f"{name} {option} {label} left {list(outdir.iterdir())}"


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_U8"), ("WAV", "FLOAT"),
                                          ("FLAC", "PCM_16")])
def test_real_world_audio_formats_go_through_every_audio_tool(fmt, subtype, tmp_path, capsys):
    """Stereo 44.1 kHz files as converters write them: every tool that reads audio takes them."""
    rng = np.random.default_rng(3)
    t = np.arange(22050) / 44100
    x = np.stack([1.2 * np.sin(2 * np.pi * 220 * t), 0.4 * np.sin(2 * np.pi * 330 * t)], axis=1)
    path = tmp_path / f"in.{fmt.lower()}"
    sf.write(path, np.clip(x, -1, 1), 44100, format=fmt, subtype=subtype)
    noisy = tmp_path / "noisy.wav"
    sf.write(noisy, np.clip(x + 0.05 * rng.normal(size=x.shape), -1, 1), 44100, subtype="PCM_16")
    for name, tool in sorted(TOOLS.items()):
        audio = [o for o, k in tool.files.items() if k == "audio"]
        if not audio or any(k.startswith("weights") for k in tool.files.values()):
            continue
        argv = _call(tool, {o: (path if i == 0 else noisy) for i, o in enumerate(audio)}, tmp_path)
        assert main(argv) == 0, (name, capsys.readouterr().err)
    assert main(["declip", "--method", "aspade", "--input", str(path), "--output", str(tmp_path / "d.wav")]) == 0
    restored, rate = sf.read(tmp_path / "d.wav", always_2d=True)
    assert rate == 44100 and restored.shape == x.shape and np.isfinite(restored).all()
