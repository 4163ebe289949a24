"""Long inputs in overlapping windows of spectrogram frames, optimised as one batch and
cross-faded back: linear ramps over each overlap, weights normalised to sum to one at every
frame, so the joined spectrogram has exactly the input's frames (and the audio its duration)."""
from __future__ import annotations

import torch


def window_starts(n_frames: int, window: int, overlap: int) -> list[int]:
    """First frame of each window: every `window - overlap` frames, the last one flush with the
    end (so it may overlap its neighbour by more). One window when the input fits."""
    if n_frames <= window:
        return [0]
    hop = window - overlap
    starts = list(range(0, n_frames - window, hop))
    return starts + [n_frames - window]


def split_windows(spectrogram: torch.Tensor, starts: list[int], window: int) -> torch.Tensor:
    """(F, T) -> (len(starts), F, min(window, T))."""
    width = min(window, spectrogram.shape[-1])
    return torch.stack([spectrogram[:, s:s + width] for s in starts])


def crossfade_weights(starts: list[int], width: int, n_frames: int) -> torch.Tensor:
    """(W, width) per-window frame weights: ramps up over the overlap with the previous window,
    down over the overlap with the next, normalised to sum to 1 at every frame."""
    weights = torch.ones(len(starts), width, dtype=torch.float64)
    for i in range(1, len(starts)):
        overlap = starts[i - 1] + width - starts[i]
        if overlap > 0:
            ramp = torch.linspace(0, 1, overlap + 2, dtype=torch.float64)[1:-1]
            weights[i, :overlap] *= ramp
            weights[i - 1, width - overlap:] *= ramp.flip(0)
    total = torch.zeros(n_frames, dtype=torch.float64)
    for start, w in zip(starts, weights):
        total[start:start + width] += w
    for i, start in enumerate(starts):
        weights[i] /= total[start:start + width]
    return weights


def join_windows(windows: torch.Tensor, starts: list[int], n_frames: int) -> torch.Tensor:
    """(W, F, width) log1p magnitudes -> (F, n_frames): cross-faded in the linear magnitude domain."""
    width = windows.shape[-1]
    weights = crossfade_weights(starts, width, n_frames).to(windows.dtype)
    magnitude = torch.zeros(windows.shape[1], n_frames, dtype=windows.dtype)
    for start, window, w in zip(starts, torch.expm1(windows), weights):
        magnitude[:, start:start + width] += window * w
    return torch.log1p(magnitude)
