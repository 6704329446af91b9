"""Download and extraction against a real HTTP server on 127.0.0.1 (no mocks of the download code)."""
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from functools import partial

import pytest

from restorebench.data.real import ChecksumError, UnsafeArchiveError, fetch, safe_extract


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_fetch_verifies_checksum_and_extracts(server, tmp_path):
    root, url = server
    _tar(root / "data.tar.gz", {"LJ/wavs/a.wav": b"RIFF" * 10, "LJ/README": b"hello"})
    digest = hashlib.sha256((root / "data.tar.gz").read_bytes()).hexdigest()
    out = tmp_path / "resources" / "downloads" / "data.tar.gz"
    fetch(f"{url}/data.tar.gz", out, digest, size=(root / "data.tar.gz").stat().st_size)
    assert out.read_bytes() == (root / "data.tar.gz").read_bytes()
    safe_extract(out, tmp_path / "resources" / "LJ")
    assert (tmp_path / "resources" / "LJ" / "wavs" / "a.wav").read_bytes() == b"RIFF" * 10


def test_checksum_mismatch_deletes_download_and_names_file(server, tmp_path):
    root, url = server
    (root / "f.zip").write_bytes(b"payload")
    out = tmp_path / "dl" / "f.zip"
    with pytest.raises(ChecksumError, match="does not match") as err:
        fetch(f"{url}/f.zip", out, "0" * 64)
    assert str(out) in str(err.value)
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_size_mismatch_is_refused(server, tmp_path):
    root, url = server
    (root / "f.bin").write_bytes(b"payload")
    with pytest.raises(ChecksumError, match="expected 999"):
        fetch(f"{url}/f.bin", tmp_path / "f.bin", "0" * 64, size=999)
    assert not (tmp_path / "f.bin").exists()


def test_unreachable_download_says_where_to_put_the_file(server, tmp_path):
    _root, url = server
    with pytest.raises(FileNotFoundError, match="place it at") as err:
        fetch(f"{url}/missing.tar.gz", tmp_path / "x.tar.gz", "0" * 64, manual_hint="See README.")
    assert "See README." in str(err.value)


def test_tar_member_outside_target_is_refused(server, tmp_path):
    root, url = server
    _tar(root / "evil.tar.gz", {"ok.txt": b"fine", "../../escaped.txt": b"pwned"})
    out = tmp_path / "evil.tar.gz"
    fetch(f"{url}/evil.tar.gz", out, hashlib.sha256((root / "evil.tar.gz").read_bytes()).hexdigest())
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract(out, tmp_path / "dest" / "x")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "dest" / "x").exists()


def test_tar_symlink_outside_target_is_refused(tmp_path):
    path = tmp_path / "link.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("data/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "../../../etc/passwd"
        tf.addfile(info)
    with pytest.raises(UnsafeArchiveError, match="points outside"):
        safe_extract(path, tmp_path / "dest")


def test_zip_member_outside_target_is_refused(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fine/a.wav", b"x")
        zf.writestr("../outside.wav", b"y")
    with pytest.raises(UnsafeArchiveError):
        safe_extract(path, tmp_path / "dest")
    assert not (tmp_path / "outside.wav").exists()


def test_ingest_cuts_normalised_clips_from_a_folder(tmp_path):
    import numpy as np
    import soundfile as sf

    from restorebench.data.real import ingest_audio_folder

    rng = np.random.default_rng(0)
    (tmp_path / "wavs").mkdir()
    for i in range(3):
        x = 0.1 * rng.standard_normal(22050 * 2)
        x[22050:27000] += np.sin(2 * np.pi * 300 * np.arange(4950) / 22050)  # a loud event
        sf.write(tmp_path / "wavs" / f"LJ{i:03d}.wav", x.astype(np.float32), 22050)
    clips, names = ingest_audio_folder(tmp_path, ["wavs/*.wav"], 4, 4000, seed=1, peak=0.9)
    assert clips.shape == (4, 4000)
    assert np.allclose(np.abs(clips).max(axis=1), 0.9)
    assert sorted(set(names)) == [f"wavs/LJ{i:03d}.wav" for i in range(3)]
    # the loudest window (resampled to 16 kHz) holds the tone, not only noise
    assert np.mean(clips[0] ** 2) > 0.05
    noise, _ = ingest_audio_folder(tmp_path, ["wavs/*.wav"], 2, 4000, seed=1, peak=None)
    assert np.allclose(np.sqrt(np.mean(noise ** 2, axis=1)), 1.0, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="no files match"):
        ingest_audio_folder(tmp_path, ["*.flac"], 1, 100, 0, 0.9)
