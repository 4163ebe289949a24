"""Spectrogram back to a finished WAV: Griffin-Lim on the shared front end (torchaudio), the
reconstruction's spectral convergence, then loudness normalisation (ITU-R BS.1770 via
torchaudio) with the peak kept under a ceiling, so nothing is ever clipped."""
from __future__ import annotations

import numpy as np
import torch
import torchaudio

from pipeline.audio import FrontEnd


def reconstruct(log_magnitude: torch.Tensor, front_end: FrontEnd, n_samples: int, iterations: int, momentum: float,
                random_phase: bool) -> torch.Tensor:
    """(n_freq, n_frames) log1p magnitude -> (n_samples,) waveform."""
    griffin_lim = front_end.griffin_lim(iterations, momentum=momentum, random_phase=random_phase)
    return griffin_lim(log_magnitude.detach(), length=n_samples)


def spectral_convergence(log_magnitude: torch.Tensor, waveform: torch.Tensor, front_end: FrontEnd) -> float:
    """|| |S| - |STFT(waveform)| ||_F / || |S| ||_F on linear magnitudes: 0 when the audio has
    exactly the spectrogram asked for (Griffin-Lim's own criterion)."""
    wanted = torch.expm1(log_magnitude.detach()).clamp_min(0)
    got = front_end.spectrogram().magnitude(waveform)[..., :wanted.shape[-1]]
    return float(torch.linalg.norm(wanted - got) / torch.linalg.norm(wanted).clamp_min(1e-12))


def normalise_loudness(waveform: torch.Tensor, sample_rate: int, lufs: float, peak_dbfs: float) -> np.ndarray:
    """Gain to `lufs` integrated loudness, lowered when the peak would pass `peak_dbfs`. Silence
    stays silence. Returns float32 samples within [-1, 1]."""
    samples = waveform.detach().to(torch.float64)
    peak = float(samples.abs().max()) if samples.numel() else 0.0
    if peak == 0.0:
        return samples.numpy().astype(np.float32)
    loudness = float(torchaudio.functional.loudness(samples.unsqueeze(0), sample_rate))
    gain = 10 ** ((lufs - loudness) / 20) if np.isfinite(loudness) else 1.0
    gain = min(gain, 10 ** (peak_dbfs / 20) / peak)
    return (samples * gain).numpy().astype(np.float32)
