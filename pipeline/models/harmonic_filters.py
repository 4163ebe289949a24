"""Learnable harmonic filters (Won et al., "Data-driven harmonic filters for audio representation
learning", ICASSP 2020) on the linear STFT bins of the shared front end.

Triangular band-pass filters centred on a MIDI grid from C1 up to the note nearest
sr / (2 * n_harmonic), `semitone_scale` steps per semitone (16 kHz, 6 harmonics, scale 2:
C1..E6, 128 centres per harmonic), repeated at harmonics 1..n_harmonic. Each filter's bandwidth
is the ERB-like (0.1079 f + 24.7) / Q with one learnable Q shared by all filters (the paper's
`learn_bw='only_Q'`).

The paper's filters act on a linear magnitude. Our front end yields log1p|STFT|, so the input is
mapped back with expm1 (exact inverse) before the filterbank, and the filter outputs are turned
into dB (20 log10, magnitudes floored at `min_amplitude`: an absolute floor, so a crop and the
whole clip see the same scale).

With 50 Hz STFT bins (n_fft 320) the lowest filters are narrower than a bin and can miss every
bin at Q = 1; those rows sit at the dB floor until Q shrinks enough to widen them. That is the
paper's definition on our front end, kept as is.
"""
from __future__ import annotations

import librosa
import numpy as np
import torch

BW_ALPHA = 0.1079  # ERB slope (Glasberg & Moore), as in the paper
BW_BETA = 24.7     # ERB intercept in Hz
LOWEST_MIDI = 24   # C1


def harmonic_centres(sample_rate: int, n_harmonic: int, semitone_scale: int) -> tuple[np.ndarray, int]:
    """Centre frequencies in Hz, harmonic-major: (n_harmonic * level,), and `level` (centres per
    harmonic). The top note is the one nearest sr / (2 * n_harmonic), so the highest harmonic of
    the highest centre stays below Nyquist."""
    if n_harmonic < 1 or semitone_scale < 1:
        raise ValueError("n_harmonic and semitone_scale must be >= 1")
    top = sample_rate / (2 * n_harmonic)
    high_midi = int(round(float(librosa.hz_to_midi(top))))
    if high_midi <= LOWEST_MIDI:
        raise ValueError(f"n_harmonic {n_harmonic} leaves no band above C1 at {sample_rate} Hz")
    level = (high_midi - LOWEST_MIDI) * semitone_scale
    midi = np.linspace(LOWEST_MIDI, high_midi, level + 1)[:-1]
    base = librosa.midi_to_hz(midi)
    return np.concatenate([base * (h + 1) for h in range(n_harmonic)]), level


class HarmonicFilters(torch.nn.Module):
    """log1p magnitude spectrogram -> harmonic tensor in dB.

    Input (B, n_freq, T): `FrontEnd.spectrogram()` output (log1p |STFT|, linear bins 0..sr/2).
    Output (B, n_harmonic, level, ceil(T / time_pool)): dB energy of each harmonic band; the
    harmonics are the channels of the 2D CNN that follows. `time_pool` > 1 averages the magnitude
    over that many frames first (the paper: 1): the CNN's cost is mostly its first full-resolution
    layers, and a style needs no 10 ms detail.
    """

    def __init__(self, sample_rate: int, n_freq: int, n_harmonic: int = 6, semitone_scale: int = 2,
                 initial_q: float = 1.0, learn_q: bool = True, min_amplitude: float = 1e-4, time_pool: int = 1):
        super().__init__()
        if initial_q <= 0 or min_amplitude <= 0 or time_pool < 1:
            raise ValueError("initial_q and min_amplitude must be positive, time_pool >= 1")
        self.time_pool = int(time_pool)
        centres, self.level = harmonic_centres(sample_rate, n_harmonic, semitone_scale)
        self.n_harmonic = n_harmonic
        self.min_amplitude = min_amplitude
        self.register_buffer("centres_hz", torch.tensor(centres, dtype=torch.float32))
        self.register_buffer("bin_hz", torch.linspace(0, sample_rate / 2, n_freq))
        q = torch.tensor([float(initial_q)])
        if learn_q:
            self.q = torch.nn.Parameter(q)
        else:
            self.register_buffer("q", q)

    def filterbank(self) -> torch.Tensor:
        """(n_freq, n_harmonic * level) triangular weights, peak 1 at the centre, half-width bw / 2."""
        q = self.q.clamp_min(1e-2)  # guard: a non-positive Q would invert the triangles
        bandwidth = (BW_ALPHA * self.centres_hz + BW_BETA) / q  # (n_band,)
        offset = self.bin_hz[:, None] - self.centres_hz[None, :]     # (n_freq, n_band)
        return torch.relu(1.0 - 2.0 * offset.abs() / bandwidth)

    def forward(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        magnitude = torch.expm1(log_magnitude).clamp_min(0)
        if self.time_pool > 1:
            frames = magnitude.shape[-2:]
            magnitude = torch.nn.functional.avg_pool1d(magnitude.reshape(-1, *frames), self.time_pool,
                                                       ceil_mode=True).reshape(*magnitude.shape[:-1], -1)
        bands = torch.einsum("...ft,fb->...bt", magnitude, self.filterbank())
        decibels = 20.0 * torch.log10(bands.clamp_min(self.min_amplitude))
        return decibels.unflatten(-2, (self.n_harmonic, self.level))
