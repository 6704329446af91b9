import numpy as np
import pytest
import soundfile as sf

from restorebench.audio_io import AudioInputError, read_audio, write_audio
from restorebench.files import atomic_output


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.npz"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_replaces_on_success(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_output(target) as tmp:
        tmp.write_text("done")
    assert target.read_text() == "done" and len(list(tmp_path.iterdir())) == 1


def test_read_audio_resamples_and_roundtrips(tmp_path):
    x = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 8000)
    with pytest.warns(UserWarning, match="resampling from 8000 Hz to 16000 Hz"):
        y = read_audio(tmp_path / "a.wav", 16000)
    assert y.size == 16000
    write_audio(tmp_path / "b.wav", y * 1.5)          # float WAV keeps values above 1
    assert np.allclose(read_audio(tmp_path / "b.wav"), y * 1.5, atol=1e-6)


@pytest.mark.parametrize("content,match", [
    (np.zeros(1000, dtype=np.float32), "silent"),
    (np.array([0.1, np.nan, 0.2] * 100, dtype=np.float32), "NaN"),
])
def test_bad_audio_names_the_file(tmp_path, content, match):
    path = tmp_path / "bad.wav"
    sf.write(path, content, 16000, subtype="FLOAT")
    with pytest.raises(AudioInputError, match=match) as err:
        read_audio(path)
    assert str(path) in str(err.value)


def test_unreadable_and_empty_files(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(AudioInputError, match="cannot read") as err:
        read_audio(junk)
    assert str(junk) in str(err.value)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioInputError, match="empty"):
        read_audio(empty)
