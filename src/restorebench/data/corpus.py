"""The embedded audio corpus: offline, deterministic from a seed, and named for what it is.

| name        | stands in for          | how it is made                                                      |
|-------------|------------------------|---------------------------------------------------------------------|
| tts-speech  | LJSpeech-1.1           | sentences spoken by festival's kal diphone voice and espeak-ng voices |
| tts-digits  | SC09 (Speech Commands) | "zero".."nine", several voices, speaking rates and pitches          |
| sf-piano    | WaveGAN piano          | fluidsynth render (TimGM6mb.sf2) of generated melodies over chords   |
| sf-drums    | WaveGAN drums          | fluidsynth render of generated kick/snare/hat/tom patterns           |
| sf-ensemble | MUSDB18 (S4)           | fluidsynth render of generated drums, bass, chords and a lead melody  |
| living      | DEMAND DLIVING         | synthetic room tone: see :func:`living_noise`                        |
| traffic     | DEMAND STRAFFIC        | synthetic street noise: see :func:`traffic_noise`                    |

Every clip is 16 kHz mono float32. Clean clips are cut to the window of the requested length with the most
energy and peak-normalised (0.9 by default), as the S2 measurements in SPEC.md were made. Noise clips are
left at unit RMS; the corruption step scales them to the drawn SNR.
"""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal

from ..audio_io import check_signal, read_audio
from .tools import run_tool, soundfont_path

SAMPLE_RATE = 16000
SPEECH_DATASETS = ("tts-speech", "tts-digits")
MUSIC_DATASETS = ("sf-piano", "sf-drums", "sf-ensemble")
NOISE_DATASETS = ("living", "traffic")
EMBEDDED_DATASETS = SPEECH_DATASETS + MUSIC_DATASETS + NOISE_DATASETS

#: Our own sentences (not taken from any corpus), phonetically varied.
SENTENCES = (
    "The quiet harbour filled with boats before the storm arrived.",
    "She counted seven paper lanterns drifting over the river.",
    "A cold wind rattled the windows of the old stone chapel.",
    "Please bring the blue folder and two sharp pencils to the meeting.",
    "The baker sold warm bread to everyone who waited in the rain.",
    "Thick fog rolled across the valley long before sunrise.",
    "Our neighbour fixed the broken fence with a hammer and some nails.",
    "The children laughed as the puppy chased its own shadow.",
    "He measured the length of the bridge with a long steel tape.",
    "Bright yellow leaves covered the path through the park.",
    "The train to the northern coast leaves at half past nine.",
    "A small bird built its nest inside the garden shed.",
    "Every evening the lighthouse keeper climbed the spiral stairs.",
    "The orchestra tuned their instruments while the audience settled.",
    "Fresh snow muffled the sound of footsteps on the street.",
    "The museum displayed a map drawn by a famous explorer.",
    "Heavy rain flooded the lower field behind the farmhouse.",
    "She poured the tea slowly and listened to the distant thunder.",
    "The engineer checked every valve before starting the pump.",
    "A gentle breeze carried the smell of pine across the lake.",
    "The library stays open late on the first Friday of each month.",
    "Two foxes crossed the road just after midnight.",
    "The painter mixed a deep green for the forest in the background.",
    "Bring a warm jacket because the mountain air gets cold quickly.",
    "The clock in the hallway chimed twelve times at noon.",
    "A fisherman mended his nets on the rocky shore.",
    "The students asked thoughtful questions about the ancient ruins.",
    "Sunlight flickered through the branches of the tall oak tree.",
    "The market was crowded with people buying fruit and flowers.",
    "He wrote a long letter to his brother who lived abroad.",
    "The pilot announced a short delay because of strong winds.",
    "Ripe cherries hung from the branches near the kitchen window.",
    "The committee approved the plan for a new public garden.",
    "Waves crashed against the pier and sprayed the walkers with salt.",
    "The violinist practised the difficult passage again and again.",
    "A family of ducks paddled slowly along the canal.",
    "The mechanic replaced the worn brakes on the delivery van.",
    "Lanterns glowed along the narrow streets of the village.",
    "The doctor advised plenty of rest and a light supper.",
    "A sudden gust of wind blew the hat off his head.",
)
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: espeak-ng voices (with variants) that ship in Debian's espeak-ng-data; mbrola voices are not used.
ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us+f3", "en-gb+f2",
                 "en-us+m3", "en-gb-x-gbclan+f4")


@dataclass
class Corpus:
    """Clips (n, samples) and a one-line description of how each was made."""

    name: str
    clips: np.ndarray
    descriptions: list[str]


def loudest_window(x: np.ndarray, length: int) -> np.ndarray:
    """The ``length``-sample window of x with the most energy (zero-padded if x is shorter)."""
    if x.size <= length:
        out = np.zeros(length, dtype=np.float64)
        offset = (length - x.size) // 2
        out[offset:offset + x.size] = x
        return out
    cumulative = np.concatenate([[0.0], np.cumsum(np.asarray(x, dtype=np.float64) ** 2)])
    energies = cumulative[length:] - cumulative[:-length]
    start = int(np.argmax(energies))
    return np.asarray(x[start:start + length], dtype=np.float64)


def peak_normalise(x: np.ndarray, peak: float, name: str) -> np.ndarray:
    check_signal(x, name)
    return (x * (peak / np.max(np.abs(x)))).astype(np.float32)


def _speak(text: str, voice: str, rate: int, pitch: int, workdir: Path, tag: str) -> np.ndarray:
    wav = workdir / f"{tag}.wav"
    if voice == "festival-kal":
        txt = workdir / f"{tag}.txt"
        txt.write_text(text + "\n")
        # text2wave speaks at the voice's own rate; Duration_Stretch changes it like espeak's -s
        stretch = 175.0 / rate
        run_tool(["text2wave", "-o", str(wav), "-eval", "(voice_kal_diphone)",
                  "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.3f})", str(txt)],
                 f"festival speaking {text!r}")
    else:
        run_tool(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(wav), text],
                 f"espeak-ng speaking {text!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # espeak-ng speaks at 22.05 kHz: resampling is expected here
        return read_audio(wav, SAMPLE_RATE)


def tts_speech(n_clips: int, clip_samples: int, seed: int, peak: float, workdir: Path) -> Corpus:
    rng = np.random.default_rng(seed)
    voices = ("festival-kal",) + ESPEAK_VOICES
    clips, descriptions = [], []
    for i in range(n_clips):
        sentence = SENTENCES[int(rng.integers(len(SENTENCES)))]
        voice = voices[i % len(voices)]
        rate, pitch = int(rng.integers(140, 190)), int(rng.integers(30, 70))
        audio = _speak(sentence, voice, rate, pitch, workdir, f"speech{i}")
        clips.append(peak_normalise(loudest_window(audio, clip_samples), peak, f"tts-speech clip {i}"))
        descriptions.append(f"{voice} rate={rate} pitch={pitch}: {sentence}")
    return Corpus("tts-speech", np.stack(clips), descriptions)


def tts_digits(n_clips: int, clip_samples: int, seed: int, peak: float, workdir: Path) -> Corpus:
    rng = np.random.default_rng(seed)
    voices = ("festival-kal",) + ESPEAK_VOICES
    clips, descriptions = [], []
    for i in range(n_clips):
        word = DIGIT_WORDS[i % len(DIGIT_WORDS)]
        voice = voices[int(rng.integers(len(voices)))]
        rate, pitch = int(rng.integers(120, 220)), int(rng.integers(20, 80))
        audio = _speak(word, voice, rate, pitch, workdir, f"digit{i}")
        clips.append(peak_normalise(loudest_window(audio, clip_samples), peak, f"tts-digits clip {i}"))
        descriptions.append(f"{voice} rate={rate} pitch={pitch}: {word}")
    return Corpus("tts-digits", np.stack(clips), descriptions)


def _render_midi(midi, workdir: Path, tag: str) -> np.ndarray:
    mid, wav = workdir / f"{tag}.mid", workdir / f"{tag}.wav"
    midi.write(str(mid))
    # -R 0 -C 0: no reverb/chorus, so the render is dry and repeatable
    run_tool(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(SAMPLE_RATE),
              "-F", str(wav), str(soundfont_path()), str(mid)], f"fluidsynth rendering {tag}")
    return read_audio(wav, SAMPLE_RATE)   # rendered at 16 kHz: no resampling


#: melody onsets within a two-beat chord, in beats (with four notes, two sound together on beat 1)
MELODY_OFFSETS = {2: (0.0, 1.0), 4: (0.0, 1.0, 1.0, 1.5)}


def piano_midi(rng: np.random.Generator, seconds: float):
    """A melody over block chords in a random major or minor key, random tempo."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0, name="piano")
    tonic = int(rng.integers(48, 60))
    scale = np.array([0, 2, 4, 5, 7, 9, 11] if rng.random() < 0.5 else [0, 2, 3, 5, 7, 8, 10])
    beat = 60.0 / rng.uniform(80, 140)
    t = 0.0
    while t < seconds:
        degree = int(rng.integers(7))
        for step in (0, 2, 4):  # triad on the scale degree, left hand
            pitch = tonic + scale[(degree + step) % 7] + 12 * ((degree + step) // 7)
            piano.notes.append(pretty_midi.Note(int(rng.integers(50, 75)), int(pitch), t, t + 2 * beat))
        n_notes = int(rng.choice([2, 4]))
        for offset in MELODY_OFFSETS[n_notes]:  # melody, right hand
            start = t + offset * beat
            pitch = tonic + 12 + scale[int(rng.integers(7))] + 12 * int(rng.integers(2))
            piano.notes.append(pretty_midi.Note(int(rng.integers(70, 110)), int(pitch), start,
                                                start + beat * rng.uniform(0.5, 1.0)))
        t += 2 * beat
    pm.instruments.append(piano)
    return pm


def drum_midi(rng: np.random.Generator, seconds: float):
    """Kick/snare backbeat with closed/open hi-hats, tom fills and an occasional crash."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    kit = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    sixteenth = 60.0 / rng.uniform(85, 150) / 4
    kick_pattern = rng.random(16) < 0.3
    kick_pattern[0] = kick_pattern[8] = True
    t, step = 0.0, 0
    while t < seconds:
        s = step % 16
        hits = []
        if kick_pattern[s]:
            hits.append(36)
        if s in (4, 12):
            hits.append(38)
        if s % 2 == 0:
            hits.append(46 if rng.random() < 0.1 else 42)
        if s >= 13 and rng.random() < 0.3:
            hits.append(int(rng.choice([45, 47, 48, 50])))
        if step == 0 and rng.random() < 0.5:
            hits.append(49)
        for note in hits:
            kit.notes.append(pretty_midi.Note(int(rng.integers(70, 120)), note, t, t + sixteenth))
        t += sixteenth
        step += 1
    pm.instruments.append(kit)
    return pm


#: General MIDI programs of the ensemble's parts: chords, bass and lead, drawn per clip
ENSEMBLE_CHORDS = (0, 4, 16, 24, 48)        # piano, e-piano, organ, nylon guitar, strings
ENSEMBLE_BASS = (32, 33, 34, 38)            # acoustic, finger, pick, synth bass
ENSEMBLE_LEAD = (40, 56, 65, 71, 73, 80)    # violin, trumpet, alto sax, clarinet, flute, square lead


def ensemble_midi(rng: np.random.Generator, seconds: float):
    """A band: the drum pattern of :func:`drum_midi`, a root-note bass line, sustained chords and a lead
    melody in one key and tempo, each part on an instrument drawn from the lists above."""
    import pretty_midi

    pm = drum_midi(rng, seconds)
    beat = 60.0 / rng.uniform(85, 140)
    tonic = int(rng.integers(40, 52))
    scale = np.array([0, 2, 4, 5, 7, 9, 11] if rng.random() < 0.5 else [0, 2, 3, 5, 7, 8, 10])
    parts = {name: pretty_midi.Instrument(program=int(rng.choice(programs)), name=name)
             for name, programs in (("chords", ENSEMBLE_CHORDS), ("bass", ENSEMBLE_BASS), ("lead", ENSEMBLE_LEAD))}
    t = 0.0
    while t < seconds:
        degree = int(rng.integers(7))
        root = tonic + scale[degree]
        for k in range(4):                               # bass: root on every beat, an octave jump now and then
            parts["bass"].notes.append(pretty_midi.Note(int(rng.integers(80, 110)), int(root + 12 * (k == 2)),
                                                        t + k * beat, t + (k + 0.9) * beat))
        for step in (0, 2, 4):                           # chord over four beats
            pitch = tonic + 12 + scale[(degree + step) % 7] + 12 * ((degree + step) // 7)
            parts["chords"].notes.append(pretty_midi.Note(int(rng.integers(45, 70)), int(pitch), t, t + 4 * beat))
        start = t
        while start < t + 4 * beat:                      # lead: a phrase of quarter and eighth notes
            length = beat * float(rng.choice([0.5, 1.0, 1.0, 2.0]))
            pitch = tonic + 24 + scale[int(rng.integers(7))]
            parts["lead"].notes.append(pretty_midi.Note(int(rng.integers(70, 115)), int(pitch), start,
                                                        start + 0.95 * length))
            start += length
        t += 4 * beat
    pm.instruments.extend(parts.values())
    return pm


def sf_music(kind: str, n_clips: int, clip_samples: int, seed: int, peak: float, workdir: Path) -> Corpus:
    rng = np.random.default_rng(seed)
    make = {"sf-piano": piano_midi, "sf-drums": drum_midi, "sf-ensemble": ensemble_midi}[kind]
    seconds = clip_samples / SAMPLE_RATE + 1.0
    clips, descriptions = [], []
    for i in range(n_clips):
        audio = _render_midi(make(rng, seconds), workdir, f"{kind}{i}")
        clips.append(peak_normalise(loudest_window(audio, clip_samples), peak, f"{kind} clip {i}"))
        descriptions.append(f"fluidsynth TimGM6mb.sf2, generated {kind[3:]} MIDI #{i}")
    return Corpus(kind, np.stack(clips), descriptions)


def _coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f^exponent (1 = pink, 2 = brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    f[0] = f[1]
    spectrum *= f ** (-exponent / 2.0)
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x ** 2))


def living_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Synthetic living-room noise (stand-in for DEMAND DLIVING), unit RMS.

    Recipe: pink noise low-passed at 4 kHz (room tone, ventilation), mains hum at 50 Hz with its 2nd-5th
    harmonics (-20 dB), a slowly modulated (0.2-0.6 Hz) band of speech-like babble (200-3000 Hz band-passed
    pink noise, -10 dB, as from a television in another room) and a few short decaying tonal clicks
    (cutlery, 2-6 kHz, 30-80 ms).
    """
    t = np.arange(n) / SAMPLE_RATE
    tone = scipy.signal.sosfilt(scipy.signal.butter(4, 4000, fs=SAMPLE_RATE, output="sos"),
                                _coloured_noise(rng, n, 1.0))
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
    babble = scipy.signal.sosfilt(scipy.signal.butter(4, [200, 3000], btype="band", fs=SAMPLE_RATE,
                                                      output="sos"), _coloured_noise(rng, n, 1.0))
    babble *= 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 2 * np.pi)))
    clicks = np.zeros(n)
    for _ in range(int(rng.integers(1, 4))):
        start, dur = int(rng.integers(0, max(1, n - 1600))), rng.uniform(0.03, 0.08)
        m = min(int(dur * SAMPLE_RATE), n - start)
        tt = np.arange(m) / SAMPLE_RATE
        clicks[start:start + m] += np.sin(2 * np.pi * rng.uniform(2000, 6000) * tt) * np.exp(-tt / (dur / 4))
    x = (tone / _rms(tone) + 0.1 * hum / _rms(hum) + 0.3 * babble / _rms(babble)
         + 0.5 * clicks / max(_rms(clicks), 1e-9))
    return x / _rms(x)


def traffic_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Synthetic street-traffic noise (stand-in for DEMAND STRAFFIC), unit RMS.

    Recipe: brown noise low-passed at 500 Hz (distant rumble); 1-3 passing vehicles, each a band of pink
    noise (100-2500 Hz) plus an engine tone (harmonics of 30-60 Hz firing rate) whose frequency glides by
    +-5 % (Doppler) under a Gaussian pass-by envelope; with probability 0.3 a two-tone horn (harmonic series
    on 400 and 500 Hz) for 0.2-0.5 s.
    """
    t = np.arange(n) / SAMPLE_RATE
    rumble = scipy.signal.sosfilt(scipy.signal.butter(2, 500, fs=SAMPLE_RATE, output="sos"),
                                  _coloured_noise(rng, n, 2.0))
    x = rumble / _rms(rumble)
    band = scipy.signal.butter(4, [100, 2500], btype="band", fs=SAMPLE_RATE, output="sos")
    for _ in range(int(rng.integers(1, 4))):
        centre, width = rng.uniform(0, n / SAMPLE_RATE), rng.uniform(0.3, 1.5)
        envelope = np.exp(-0.5 * ((t - centre) / width) ** 2)
        hiss = scipy.signal.sosfilt(band, _coloured_noise(rng, n, 1.0))
        f0 = rng.uniform(30, 60) * (1 + 0.05 * np.tanh(-(t - centre) / width))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        engine = sum(np.sin(k * phase) / k for k in range(1, 8))
        x += rng.uniform(1.0, 3.0) * envelope * (hiss / _rms(hiss) + 0.5 * engine / _rms(engine))
    if rng.random() < 0.3:
        start, dur = rng.uniform(0, n / SAMPLE_RATE), rng.uniform(0.2, 0.5)
        on = ((t >= start) & (t < start + dur)).astype(float)
        horn = sum(np.sin(2 * np.pi * k * f * t) / k for f in (400, 500) for k in range(1, 5))
        x += 0.8 * on * horn / _rms(horn)
    return x / _rms(x)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x) ** 2)))


def noise_corpus(kind: str, n_clips: int, clip_samples: int, seed: int) -> Corpus:
    rng = np.random.default_rng(seed)
    make = living_noise if kind == "living" else traffic_noise
    clips = np.stack([make(rng, clip_samples).astype(np.float32) for _ in range(n_clips)])
    recipe = "living_noise" if kind == "living" else "traffic_noise"
    return Corpus(kind, clips, [f"synthetic {kind} noise (restorebench.data.corpus.{recipe}) #{i}"
                                for i in range(n_clips)])


def make_corpus(name: str, n_clips: int, clip_samples: int, seed: int, peak: float = 0.9) -> Corpus:
    """Generate ``n_clips`` clips of the named embedded dataset (see the module table)."""
    if name not in EMBEDDED_DATASETS:
        raise ValueError(f"unknown embedded dataset {name!r}; choose one of {', '.join(EMBEDDED_DATASETS)}")
    if name in NOISE_DATASETS:
        return noise_corpus(name, n_clips, clip_samples, seed)
    with tempfile.TemporaryDirectory(prefix=f"restorebench-{name}-") as tmp:
        workdir = Path(tmp)
        if name == "tts-speech":
            return tts_speech(n_clips, clip_samples, seed, peak, workdir)
        if name == "tts-digits":
            return tts_digits(n_clips, clip_samples, seed, peak, workdir)
        return sf_music(name, n_clips, clip_samples, seed, peak, workdir)
