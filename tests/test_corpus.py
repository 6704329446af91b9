import numpy as np
import pytest

from restorebench.data.corpus import make_corpus
from restorebench.data.tools import MissingToolError, require_tool

from conftest import need_tools


@need_tools("espeak-ng", "text2wave", "fluidsynth")
@pytest.mark.parametrize("name", ["tts-speech", "tts-digits", "sf-piano", "sf-drums", "sf-ensemble"])
def test_embedded_clips_are_deterministic_normalised_and_not_silent(name):
    a = make_corpus(name, 2, 8064, seed=3)
    b = make_corpus(name, 2, 8064, seed=3)
    assert a.clips.shape == (2, 8064) and a.clips.dtype == np.float32
    assert np.array_equal(a.clips, b.clips)
    assert np.allclose(np.max(np.abs(a.clips), axis=1), 0.9)
    rms = np.sqrt(np.mean(a.clips ** 2, axis=1))
    assert np.all(rms > 0.02)            # the loudest window holds real content, not padding
    assert not np.array_equal(a.clips[0], a.clips[1])
    assert not np.array_equal(make_corpus(name, 1, 8064, seed=4).clips[0], a.clips[0])


def test_tts_digits_cycle_through_the_words():
    pytest.importorskip("pretty_midi")
    if not all(__import__("shutil").which(t) for t in ("espeak-ng", "text2wave")):
        pytest.skip("tts tools missing")
    c = make_corpus("tts-digits", 3, 4000, seed=0)
    assert [d.rsplit(": ", 1)[1] for d in c.descriptions] == ["zero", "one", "two"]


@pytest.mark.parametrize("name", ["living", "traffic"])
def test_noise_is_unit_rms_and_deterministic(name):
    a = make_corpus(name, 3, 16000, seed=1)
    assert np.allclose(np.sqrt(np.mean(a.clips ** 2, axis=1)), 1.0, atol=1e-4)
    assert np.array_equal(a.clips, make_corpus(name, 3, 16000, seed=1).clips)


def test_traffic_is_low_frequency_heavier_than_living():
    from scipy.signal import welch

    def low_fraction(x):
        f, p = welch(x, fs=16000, nperseg=1024)
        return p[f < 500].sum() / p.sum()
    living = make_corpus("living", 4, 32000, seed=0).clips
    traffic = make_corpus("traffic", 4, 32000, seed=0).clips
    assert np.mean([low_fraction(x) for x in traffic]) > np.mean([low_fraction(x) for x in living])


def test_missing_tool_names_install_command(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingToolError, match="apt-get install -y espeak-ng"):
        require_tool("espeak-ng")


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown embedded dataset"):
        make_corpus("ljspeech", 1, 100, 0)


@need_tools("fluidsynth")
def test_ensemble_has_bass_and_treble_content_with_several_instruments():
    """The band stand-in for MUSDB18 holds a bass line under the chords and melody: a fair share of its
    energy sits below 250 Hz and a fair share above 1 kHz."""
    import pretty_midi

    from restorebench.data.corpus import ensemble_midi

    midi = ensemble_midi(np.random.default_rng(0), 4.0)
    assert len(midi.instruments) == 4 and sum(i.is_drum for i in midi.instruments) == 1
    clip = make_corpus("sf-ensemble", 1, 32000, seed=1).clips[0]
    spectrum = np.abs(np.fft.rfft(clip)) ** 2
    freqs = np.fft.rfftfreq(clip.size, 1 / 16000)
    low, high = spectrum[freqs < 250].sum() / spectrum.sum(), spectrum[freqs > 1000].sum() / spectrum.sum()
    assert low > 0.05 and high > 0.01, (low, high)
    assert isinstance(midi, pretty_midi.PrettyMIDI)
