"""Reading and writing audio files safely.

* :func:`read_audio` validates what it reads (readable, non-empty, finite, not silent) and names the
  file in every error; it resamples to the requested rate with ``scipy.signal.resample_poly``. Files
  libsndfile cannot open as such -- MP4/M4A, among them MUSDB18's ``.stem.mp4`` -- are decoded with
  PyAV (FFmpeg), which the ``music`` extra installs.
* :func:`write_audio` writes atomically (restorebench.files.atomic_output) and refuses NaN or Inf.
"""
from __future__ import annotations

import os
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from .files import atomic_output


class AudioInputError(ValueError):
    """An audio input cannot be used; the message names the file."""


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly) along the last axis."""
    if rate_in == rate_out:
        return x
    frac = Fraction(rate_out, rate_in)
    import scipy.signal      # here, not at the top: a second of start-up for every workflow step otherwise

    return scipy.signal.resample_poly(x, frac.numerator, frac.denominator, axis=-1)


def check_signal(x: np.ndarray, name: str, silence_threshold: float = 1e-6) -> np.ndarray:
    """Raise AudioInputError naming ``name`` if x is empty, non-finite or silent."""
    if x.size == 0:
        raise AudioInputError(f"{name}: audio is empty")
    if not np.all(np.isfinite(x)):
        raise AudioInputError(f"{name}: audio contains NaN or Inf samples")
    if np.max(np.abs(x)) <= silence_threshold:
        raise AudioInputError(f"{name}: audio is silent (peak {np.max(np.abs(x)):.1e})")
    return x


# containers libsndfile does not read; decoded with FFmpeg through PyAV
FFMPEG_SUFFIXES = (".mp4", ".m4a")


def read_ffmpeg_audio(path: Path, stream: int = 0) -> tuple[np.ndarray, int]:
    """Decode audio stream ``stream`` of a container with PyAV: (samples x channels float64, rate).

    A stem file (``.stem.mp4``, as MUSDB18 ships) holds the mixture as stream 0 and the sources
    (drums, bass, other, vocals) as streams 1-4.
    """
    try:
        import av
    except ImportError as err:
        raise AudioInputError(f"{path}: reading {path.suffix} files needs PyAV (FFmpeg): "
                              f"pip install -e '.[music]'") from err
    try:
        with av.open(str(path)) as container:
            audio_streams = container.streams.audio
            if stream >= len(audio_streams):
                raise AudioInputError(f"{path}: has {len(audio_streams)} audio stream(s), stream {stream} "
                                      f"was asked for")
            chosen = audio_streams[stream]
            # every frame converted to one planar float layout, whatever the codec's sample format
            resampler = av.AudioResampler(format="fltp", layout=chosen.layout.name, rate=chosen.rate)
            blocks = [converted.to_ndarray() for frame in container.decode(chosen)
                      for converted in resampler.resample(frame)]
            blocks += [converted.to_ndarray() for converted in resampler.resample(None)]
            rate = chosen.rate
    except AudioInputError:
        raise
    except Exception as err:  # av.error.FFmpegError and its many subclasses
        raise AudioInputError(f"{path}: cannot read audio ({err})") from err
    if not blocks:
        raise AudioInputError(f"{path}: audio is empty")
    return np.concatenate(blocks, axis=1).T.astype(np.float64), rate


def read_audio_channels(path: str | os.PathLike, stream: int = 0) -> tuple[np.ndarray, int]:
    """(channels x samples float64, sample rate) of an audio file, checked to be usable.

    ``stream`` picks the audio stream of a multi-stream container (0: a stem file's mixture).
    """
    path = Path(path)
    if not path.is_file():
        # soundfile would say "System error." for a file that is not there
        raise AudioInputError(f"{path}: audio file not found" if not path.exists() else f"{path}: not a file")
    if path.suffix.lower() in FFMPEG_SUFFIXES:
        data, rate = read_ffmpeg_audio(path, stream)
    else:
        try:
            data, rate = sf.read(str(path), dtype="float64", always_2d=True)
        except Exception as err:  # soundfile raises LibsndfileError, RuntimeError, or TypeError
            raise AudioInputError(f"{path}: cannot read audio ({err})") from err
    check_signal(data, str(path))
    return data.T, rate


def read_audio(path: str | os.PathLike, sample_rate: int | None = 16000, mono: bool = True,
               stream: int = 0) -> np.ndarray:
    """Read an audio file as float32, mixed to mono and resampled to ``sample_rate`` (with a warning)."""
    return read_audio_source(path, sample_rate, mono, stream)[0]


def read_audio_source(path: str | os.PathLike, sample_rate: int | None = 16000, mono: bool = True,
                      stream: int = 0) -> tuple[np.ndarray, int, int]:
    """:func:`read_audio`, and the file's own sample rate and channel count (what a user's numbers refer to)."""
    x, rate = read_audio_channels(path, stream)
    channels = x.shape[0]
    if mono:
        x = x.mean(axis=0)
        check_signal(x, str(path))   # channels in antiphase can cancel
    if sample_rate is not None and rate != sample_rate:
        warnings.warn(f"{path}: resampling from {rate} Hz to {sample_rate} Hz", stacklevel=2)
        x = resample(x, rate, sample_rate)
    return x.astype(np.float32), rate, channels


def white_noise_std_after_reading(std: float, rate: int, channels: int, sample_rate: int = 16000) -> float:
    """The standard deviation that white noise of ``std`` per sample in a file at ``rate`` Hz with
    ``channels`` channels has once :func:`read_audio` mixed it to mono and resampled it to ``sample_rate``.

    Resampling down keeps the band below the new Nyquist frequency, a share sample_rate / rate of white
    noise's power (up: no change); the mono mix averages the channels, dividing the power by their number
    when the noise is independent from channel to channel (sensor and dither noise are).
    """
    return float(std * np.sqrt(min(1.0, sample_rate / rate) / channels))


#: the step between two sample values of an integer PCM subtype, full scale 1 (what soundfile reads)
PCM_STEPS = {"PCM_S8": 2.0 ** -7, "PCM_U8": 2.0 ** -7, "PCM_16": 2.0 ** -15, "PCM_24": 2.0 ** -23,
             "PCM_32": 2.0 ** -31}


def quantisation_step(path: str | os.PathLike) -> float:
    """One step of the file's integer PCM grid (2^-15 for 16-bit), 0 for float or compressed audio."""
    try:
        return PCM_STEPS.get(sf.info(str(path)).subtype, 0.0)
    except Exception:     # not a libsndfile file (MP4 through PyAV): no integer grid to speak of
        return 0.0


def check_finite_output(path, x: np.ndarray) -> None:
    """Refuse to write NaN or Inf: a restoration that diverged must fail, not leave a file that looks done."""
    bad = ~np.isfinite(np.asarray(x))
    if bad.any():
        raise ValueError(f"{path}: not written: {int(bad.sum())} of {bad.size} output values are NaN or Inf")


def write_audio(path, x: np.ndarray, sample_rate: int = 16000) -> None:
    """Write float32 WAV atomically (float samples, so values above 1 are not clipped); NaN or Inf is an
    error and nothing is written."""
    check_finite_output(path, x)
    with atomic_output(path, suffix=".wav") as tmp:
        sf.write(str(tmp), np.asarray(x, dtype=np.float32), sample_rate, subtype="FLOAT", format="WAV")
