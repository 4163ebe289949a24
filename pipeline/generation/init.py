"""Where the optimisation starts (`generate.method.init`): the speech's own spectrogram, noise,
or the speech over a beat. The mixture adds the two *magnitudes* (not the complex spectra, so no
phase cancels the words), the beat looped to the speech's length and scaled to `beat_level`
times the speech's RMS; content optimisation then pulls the words back out of it."""
from __future__ import annotations

import numpy as np
import torch

from pipeline.audio import FrontEnd


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def loop_to_length(samples: np.ndarray, n_samples: int) -> np.ndarray:
    """Repeat a beat end to end and cut it to `n_samples`."""
    if len(samples) == 0:
        raise ValueError("the beat is empty")
    return np.tile(samples, -(-n_samples // len(samples)))[:n_samples]


def scaled_to(samples: np.ndarray, level: float, reference: np.ndarray) -> np.ndarray:
    """`samples` at `level` times the RMS of `reference` (silent samples stay silent)."""
    own = rms(samples)
    return samples * (level * rms(reference) / own) if own > 0 else samples


def initial_spectrogram(speech: np.ndarray, init: str, level: float, front_end: FrontEnd,
                        beat: np.ndarray | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mono speech samples -> the starting log1p magnitude (n_freq, n_frames).

    init `speech`: the speech's own; `noise`: white noise at `level` x the speech's RMS (from
    `generator`); `mix`: log1p(|STFT(speech)| + |STFT(beat at level)|)."""
    spectrogram = front_end.spectrogram()
    magnitude = spectrogram.magnitude
    speech_t = torch.from_numpy(np.ascontiguousarray(speech, dtype=np.float32))
    if init == "speech":
        return spectrogram(speech_t)
    if init == "noise":
        noise = torch.randn(len(speech), generator=generator).numpy()
        return spectrogram(torch.from_numpy(scaled_to(noise, level, speech).astype(np.float32)))
    if init == "mix":
        if beat is None:
            raise ValueError("init 'mix' needs a beat")
        under = scaled_to(loop_to_length(beat, len(speech)), level, speech).astype(np.float32)
        return torch.log1p(magnitude(speech_t) + magnitude(torch.from_numpy(under)))
    raise ValueError(f"generate.method.init must be speech, noise or mix, got {init!r}")
