"""Real datasets: verified downloads, safe archive extraction, and cutting clips from audio folders.

The URLs, sizes and checksums live in the workflow's config (SPEC.md); this module holds the mechanics:

* :func:`fetch` downloads to a temporary name, checks size and sha256, and only then renames; a mismatch
  deletes the download and names the file. A download that cannot be made says what to fetch by hand and
  where to put it.
* :func:`safe_extract` refuses any archive member (or link) that would land outside the target folder,
  extracts into a temporary sibling folder and renames it on success.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np


class ChecksumError(ValueError):
    """A downloaded file does not match its expected size or sha256 (the file was deleted)."""


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the extraction folder."""


def sha256sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, output: Path, sha256: str, size: int | None = None, manual_hint: str = "",
          timeout: float = 60.0) -> None:
    """Download ``url`` to ``output`` and verify it; see the module docstring."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    shutil.copyfileobj(response, out, length=1 << 20)
            except (urllib.error.URLError, OSError, ValueError) as err:
                hint = f" {manual_hint}" if manual_hint else ""
                raise FileNotFoundError(
                    f"could not download {url} ({err}). Download it by hand and place it at {output} "
                    f"(expected sha256 {sha256}{f', {size} bytes' if size else ''}).{hint}") from err
        actual_size = tmp.stat().st_size
        if size is not None and actual_size != size:
            raise ChecksumError(f"{output}: downloaded {actual_size} bytes from {url}, expected {size}; "
                                f"the download was deleted")
        actual = sha256sum(tmp)
        if not sha256:
            # no checksum is published for this file: record what we got so later runs can pin it
            Path(f"{output}.sha256").write_text(f"{actual}  {output.name}\n")
            print(f"warning: no sha256 recorded for {url}; the download's sha256 {actual} was written to "
                  f"{output}.sha256 -- put it in config.yaml to pin it", file=sys.stderr)
        elif actual != sha256.lower():
            raise ChecksumError(f"{output}: sha256 {actual} does not match the expected {sha256}; "
                                f"the download from {url} was deleted")
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()


def _check_inside(dest: Path, name: str, archive: Path) -> None:
    target = (dest / name).resolve()
    if os.path.isabs(name) or not target.is_relative_to(dest.resolve()):
        raise UnsafeArchiveError(f"{archive}: member {name!r} would be extracted outside {dest}; refusing "
                                 f"to extract this archive")


def safe_extract(archive: Path, dest: Path, marker: Path | None = None) -> None:
    """Extract a .zip or tar archive into ``dest`` with every member checked to stay inside it.

    When the archive holds a single top-level folder (``LJSpeech-1.1/...``), its contents become
    ``dest``. ``dest`` is replaced only after a complete extraction; ``marker`` is touched last.
    """
    archive, dest = Path(archive), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _check_inside(staging, name, archive)
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                for member in tf.getmembers():
                    _check_inside(staging, member.name, archive)
                    if member.issym() or member.islnk():
                        link_base = staging / Path(member.name).parent if member.issym() else staging
                        if os.path.isabs(member.linkname) or not (link_base / member.linkname).resolve() \
                                .is_relative_to(staging.resolve()):
                            raise UnsafeArchiveError(f"{archive}: link {member.name!r} -> {member.linkname!r} "
                                                     f"points outside {dest}; refusing to extract")
                    if member.isdev():
                        raise UnsafeArchiveError(f"{archive}: device member {member.name!r}; refusing")
                tf.extractall(staging, filter="data")
        else:
            raise ValueError(f"{archive}: not a zip or tar archive")
        entries = list(staging.iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(root, dest)
        if marker is not None:
            Path(marker).touch()
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def matching_files(source: Path, patterns: list[str], what: str = "files") -> list[Path]:
    """The sorted files under ``source`` matching any of the glob ``patterns``; errors name the folder and
    point to the README's real-data section."""
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: dataset folder not found; see the README's 'Real data' section")
    files = sorted({p for pattern in patterns for p in source.glob(pattern) if p.is_file()})
    if not files:
        raise FileNotFoundError(f"{source}: no {what} match {patterns}; see the README's real-data section for "
                                f"what to place there")
    return files


def ingest_audio_folder(source: Path, patterns: list[str], n_clips: int, clip_samples: int, seed: int,
                        peak: float | None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Cut ``n_clips`` clips of ``clip_samples`` at 16 kHz from the audio files under ``source``.

    Files are sorted, then drawn without replacement by a seeded generator (cycled when there are fewer
    files than clips). Multi-channel files are mixed to mono; a stem file contributes its mixture
    (stream 0). Clean datasets (``peak`` given) take each file's loudest window and are peak-normalised
    as the embedded corpus is; noise recordings (``peak=None``) take a random window at unit RMS.

    Returns the clips, the files they came from and, per clip, the share of its file's samples that sit
    on the file's peak when the file is already clipped in the source (0 otherwise), detected at the
    file's own rate: resampling smooths a clipped plateau into ripples, so it must come first.
    """
    import warnings

    from ..audio_io import read_audio_channels, resample
    from ..physics.clipping import detect_clipping
    from .corpus import loudest_window, peak_normalise

    source = Path(source)
    files = matching_files(source, patterns)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(files))
    clips, descriptions, source_clipping = [], [], []
    for i in range(n_clips):
        path = files[order[i % len(files)]]
        channels, rate = read_audio_channels(path)
        found = detect_clipping(channels)
        if found["clipped"]:
            print(f"warning: {path} is already clipped in the source: {100 * found['saturated_fraction']:.2f} % "
                  f"of its samples sit on its peak (longest run {found['longest_run']} samples)", file=sys.stderr)
        source_clipping.append(found["saturated_fraction"] if found["clipped"] else 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            audio = resample(channels.mean(axis=0), rate, 16000)
        if peak is None:
            start = int(rng.integers(0, max(1, audio.size - clip_samples)))
            clip = loudest_window(audio[start:start + clip_samples], clip_samples)
            clip = (clip / np.sqrt(np.mean(clip ** 2))).astype(np.float32)
        else:
            clip = peak_normalise(loudest_window(audio, clip_samples), peak, str(path))
        clips.append(clip)
        descriptions.append(str(path.relative_to(source)))
    return np.stack(clips), descriptions, np.asarray(source_clipping, dtype=np.float32)
