"""The one spectrogram front end (shared by both encoders, generation and reconstruction) and
audio file I/O.

Features are `log1p(|STFT|)` with the window, FFT size and hop of `params.yaml: audio`. Every
module that needs a spectrogram builds it from the same `FrontEnd`, and every saved model stores
`FrontEnd.to_dict()` so nothing is guessed at load time.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import torch
import torchaudio

from pipeline.errors import UserError

_WINDOWS = {"hamming": torch.hamming_window, "hann": torch.hann_window}


@dataclass(frozen=True)
class FrontEnd:
    sample_rate: int = 16000
    n_fft: int = 320
    win_length: int = 320
    hop_length: int = 160
    window: Literal["hamming", "hann"] = "hamming"
    log: Literal["log1p"] = "log1p"

    def __post_init__(self):
        if self.window not in _WINDOWS:
            raise ValueError(f"window must be one of {sorted(_WINDOWS)}, got {self.window!r}")
        if self.log != "log1p":
            raise ValueError(f"log must be 'log1p', got {self.log!r}")
        if self.sample_rate <= 0 or not 0 < self.win_length <= self.n_fft or self.hop_length <= 0:
            raise ValueError("need sample_rate > 0, 0 < win_length <= n_fft and hop_length > 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def n_freq(self) -> int:
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        return n_samples // self.hop_length + 1

    def spectrogram(self) -> "Spectrogram":
        return Spectrogram(self)

    def griffin_lim(self, n_iter: int = 32, momentum: float = 0.99, random_phase: bool = False) -> "GriffinLim":
        return GriffinLim(self, n_iter=n_iter, momentum=momentum, random_phase=random_phase)


class Spectrogram(torch.nn.Module):
    """Waveform -> log1p magnitude spectrogram.

    Input (..., time) float waveform at `front_end.sample_rate`.
    Output (..., n_freq, n_frames) with n_freq = n_fft // 2 + 1, n_frames = time // hop + 1.
    """

    def __init__(self, front_end: FrontEnd):
        super().__init__()
        self.front_end = front_end
        self.magnitude = torchaudio.transforms.Spectrogram(
            n_fft=front_end.n_fft,
            win_length=front_end.win_length,
            hop_length=front_end.hop_length,
            window_fn=_WINDOWS[front_end.window],
            power=1.0,
            center=True,
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return torch.log1p(self.magnitude(waveform))


class GriffinLim(torch.nn.Module):
    """log1p magnitude spectrogram -> waveform, with the same STFT as `Spectrogram`.

    Input (..., n_freq, n_frames); output (..., time), `length` samples when given. Momentum
    Griffin-Lim (torchaudio), from zero phase, or from random phase (torch's global generator:
    seeded runs repeat) with `random_phase`.
    """

    def __init__(self, front_end: FrontEnd, n_iter: int = 32, momentum: float = 0.99, random_phase: bool = False):
        super().__init__()
        self.invert = torchaudio.transforms.GriffinLim(
            n_fft=front_end.n_fft,
            win_length=front_end.win_length,
            hop_length=front_end.hop_length,
            window_fn=_WINDOWS[front_end.window],
            power=1.0,  # our spectrograms are magnitudes, not power
            n_iter=n_iter,
            momentum=momentum,
            rand_init=random_phase,
        )

    def forward(self, log_magnitude: torch.Tensor, length: int | None = None) -> torch.Tensor:
        g = self.invert
        return torchaudio.functional.griffinlim(torch.expm1(log_magnitude).clamp_min(0), g.window, g.n_fft, g.hop_length,
                                                g.win_length, g.power, g.n_iter, g.momentum, length, g.rand_init)


AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".aiff", ".aif"}  # what libsndfile reads


def audio_files(folder: str | Path) -> list[Path]:
    """Every audio file (by suffix) under `folder`, recursively, sorted: a user's folder of clips."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read any file libsndfile reads (WAV, FLAC, MP3, OGG...), mix down to mono, resample to
    `sample_rate`. Returns float32 samples in [-1, 1]. Unreadable or empty files, and files with
    NaN or infinite samples, raise UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such audio file: {path}")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise UserError(f"cannot read audio {path}: {err}") from None
    if data.size == 0:
        raise UserError(f"audio file {path} is empty")
    if not np.isfinite(data).all():
        raise UserError(f"audio file {path} has NaN or infinite samples")
    mono = data.mean(axis=1)
    return resample(mono, rate, sample_rate)


SILENT_PEAK = 1e-4  # -80 dBFS: below any real recording's noise floor


def load_clip(path: str | Path, sample_rate: int, min_seconds: float = 0.5) -> np.ndarray:
    """`load_audio`, refusing what no model can use (UserError): audio shorter than
    `min_seconds` and all-silent audio (peak below -80 dBFS). What the CLI reads from a user."""
    samples = load_audio(path, sample_rate)
    if len(samples) < min_seconds * sample_rate:
        raise UserError(f"audio file {path} is {len(samples) / sample_rate:.2f} s long: need at least {min_seconds:g} s")
    if float(np.abs(samples).max()) < SILENT_PEAK:
        raise UserError(f"audio file {path} is silent")
    return samples


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return np.ascontiguousarray(samples, dtype=np.float32)
    out = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(samples)), from_rate, to_rate)
    return out.numpy().astype(np.float32)


def save_audio(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str | None = None) -> None:
    """Write mono float samples; format from the suffix (.wav, .flac, .mp3). Written to a temporary
    name then renamed, so a failed write leaves nothing."""
    from pipeline.fileio import atomic_path

    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3"}.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"unsupported audio format {path.suffix!r} for {path} (use .wav, .flac or .mp3)")
    if subtype is None:
        subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "MP3": "MPEG_LAYER_III"}[fmt]
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), clipped, sample_rate, format=fmt, subtype=subtype)
