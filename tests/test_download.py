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
        # a loud event; in LJ000 it exceeds full scale, so the 16-bit file is clipped in the source
        x[22050:27000] += (1.2 if i == 0 else 0.5) * np.sin(2 * np.pi * 300 * np.arange(4950) / 22050)
        sf.write(tmp_path / "wavs" / f"LJ{i:03d}.wav", x.astype(np.float32), 22050, subtype="PCM_16")
    clips, names, source_clipping = ingest_audio_folder(tmp_path, ["wavs/*.wav"], 4, 4000, seed=1, peak=0.9)
    assert clips.shape == (4, 4000)
    assert np.allclose(np.abs(clips).max(axis=1), 0.9)
    assert sorted(set(names)) == [f"wavs/LJ{i:03d}.wav" for i in range(3)]
    # the loudest window (resampled to 16 kHz) holds the tone, not only noise
    assert np.mean(clips[0] ** 2) > 0.05
    # detected at the file's own rate: the clipped tone's crests sit on full scale for several samples
    clipped_share = [source_clipping[k] for k, name in enumerate(names) if name == "wavs/LJ000.wav"]
    assert clipped_share and all(share > 0.002 for share in clipped_share)
    assert all(source_clipping[k] == 0 for k, name in enumerate(names) if name != "wavs/LJ000.wav")
    noise, _, _ = ingest_audio_folder(tmp_path, ["wavs/*.wav"], 2, 4000, seed=1, peak=None)
    assert np.allclose(np.sqrt(np.mean(noise ** 2, axis=1)), 1.0, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="no files match"):
        ingest_audio_folder(tmp_path, ["*.flac"], 1, 100, 0, 0.9)


def _tone(freq, seconds=2.0, rate=44100, amplitude=0.4):
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    return np.stack([amplitude * np.sin(2 * np.pi * freq * t)] * 2)


def test_stem_files_are_read_as_their_mixture_at_16_khz(tmp_path):
    """MUSDB18's .stem.mp4: stream 0 is the mixture (here a 440 Hz tone), stream 1 a source (220 Hz)."""
    import numpy as np

    from conftest import write_stem_file
    from restorebench.audio_io import AudioInputError, read_audio

    path = tmp_path / "song.stem.mp4"
    write_stem_file(path, [_tone(440), _tone(220, amplitude=0.2)])
    for stream, freq in ((0, 440), (1, 220)):
        with pytest.warns(UserWarning, match="44100 Hz to 16000 Hz"):
            x = read_audio(path, 16000, stream=stream)
        assert abs(x.size - 32000) < 3000          # 2 s, give or take the codec's padding frames
        spectrum = np.abs(np.fft.rfft(x))
        assert abs(np.argmax(spectrum) * 16000 / x.size - freq) < 2
    with pytest.raises(AudioInputError, match=r"song\.stem\.mp4: has 2 audio stream\(s\)"):
        read_audio(path, stream=4)
    broken = tmp_path / "broken.stem.mp4"
    broken.write_bytes(b"not an mp4")
    with pytest.raises(AudioInputError, match=r"broken\.stem\.mp4: cannot read audio"):
        read_audio(broken)


def test_ingest_keeps_musdb_train_and_test_apart(tmp_path):
    import numpy as np

    from conftest import write_stem_file
    from restorebench.data.real import ingest_audio_folder

    for split, freqs in (("train", (300, 500)), ("test", (700,))):
        (tmp_path / "MUSDB18-7" / split).mkdir(parents=True)
        for freq in freqs:
            write_stem_file(tmp_path / "MUSDB18-7" / split / f"tone {freq}.stem.mp4", [_tone(freq), _tone(freq / 2)])
    clips, names, source_clipping = ingest_audio_folder(tmp_path, ["**/test/*.stem.mp4"], 2, 8000, seed=0, peak=0.9)
    assert names == ["MUSDB18-7/test/tone 700.stem.mp4"] * 2
    assert np.all(source_clipping == 0)
    assert abs(np.argmax(np.abs(np.fft.rfft(clips[0]))) * 16000 / 8000 - 700) < 4
    _, names, _ = ingest_audio_folder(tmp_path, ["**/train/*.stem.mp4"], 2, 8000, seed=0, peak=0.9)
    assert sorted(names) == ["MUSDB18-7/train/tone 300.stem.mp4", "MUSDB18-7/train/tone 500.stem.mp4"]
