"""Synthetic rooms: impulse responses for the music's production and the speech augmentation."""
from __future__ import annotations

import numpy as np
import torch
import torchaudio
from scipy import signal
from scipy.fft import next_fast_len


def _lowpass(x: np.ndarray, cutoff: float, sr: int) -> np.ndarray:
    # a 2nd-order Butterworth on a cutoff rounded to 3 significant digits, as the music's synth does
    wn = np.clip(float(f"{cutoff:.3g}") / (sr / 2.0), 1e-4, 0.999)
    return signal.sosfilt(signal.butter(2, wn, btype="lowpass", output="sos"), x)


def room_impulse(rng: np.random.Generator, sr: int, decay_s: float) -> np.ndarray:
    """A synthetic room: a direct sound, a few early reflections (5-40 ms) and an exponentially
    decaying, darkening noise tail (60 dB down after `decay_s`); unit energy, float32 (n,)."""
    n = int(decay_s * 1.5 * sr)
    tail = rng.standard_normal(n) * np.exp(-np.arange(n) / sr / (decay_s / 6.9)) * 0.3
    tail = _lowpass(tail, float(rng.uniform(2500, 7000)), sr)
    tail[0] = 1.0
    for delay in rng.uniform(0.005, 0.04, 6):
        tail[int(delay * sr)] += rng.uniform(-0.5, 0.5)
    return (tail / np.sqrt(np.sum(tail ** 2))).astype(np.float32)


def room_convolve(audio: np.ndarray, impulse: np.ndarray) -> np.ndarray:
    """`audio` (n,) through the room `impulse`, the first n samples (torchaudio's `fftconvolve`).
    Zero-padded to a length whose FFT is fast (small prime factors): ~5x quicker."""
    size = next_fast_len(len(audio) + len(impulse) - 1, real=True) - len(impulse) + 1
    padded = np.pad(audio.astype(np.float32), (0, size - len(audio)))
    return torchaudio.functional.fftconvolve(torch.from_numpy(padded), torch.from_numpy(impulse))[: len(audio)].numpy()
