"""Music segments for the style encoder: the clip manifest (`data/clips.csv`), whole segments
loaded once as spectrograms, and random time crops of them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline.audio import FrontEnd, load_audio
from pipeline.errors import UserError

CLIP_COLUMNS = ("clip_path", "genre", "track", "split")


@dataclass
class Segments:
    """Spectrograms of music segments with their labels.

    spectrograms: (N, n_freq, T) log1p |STFT| of whole segments; genres, tracks: (N,) str arrays.
    """

    spectrograms: torch.Tensor
    genres: np.ndarray
    tracks: np.ndarray

    def __len__(self) -> int:
        return len(self.genres)


def read_clips(path: str | Path) -> pd.DataFrame:
    """The segment manifest written by `cut_clips`, checked for the columns the style stages use."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: run `dvc repro cut_clips` first")
    frame = pd.read_csv(path, dtype={"clip_id": str, "track": str})
    missing = [c for c in CLIP_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks columns {missing}")
    return frame


def load_segments(frame: pd.DataFrame, front_end: FrontEnd, root: str | Path = ".", batch: int = 64) -> Segments:
    """Read every `clip_path` of `frame` (relative to `root`) and compute its spectrogram once.
    All segments must have the same length (cut_clips makes them so)."""
    if frame.empty:
        raise UserError("no segments to load (empty split?)")
    waves = [load_audio(Path(root) / p, front_end.sample_rate) for p in frame["clip_path"]]
    lengths = {len(w) for w in waves}
    if len(lengths) != 1:
        raise UserError(f"segments differ in length ({sorted(lengths)[:3]}... samples): re-run cut_clips")
    spectrogram = front_end.spectrogram()
    with torch.no_grad():
        specs = torch.cat([spectrogram(torch.from_numpy(np.stack(waves[i:i + batch]))) for i in range(0, len(waves), batch)])
    return Segments(specs, frame["genre"].astype(str).to_numpy(), frame["track"].astype(str).to_numpy())


def split_segments(clips: pd.DataFrame, split: str, front_end: FrontEnd) -> Segments | None:
    """The segments of one split (`train`, `valid`, `test`), or None when the split is empty."""
    rows = clips[clips["split"] == split]
    return load_segments(rows, front_end) if not rows.empty else None


def random_crops(spectrograms: torch.Tensor, indices: np.ndarray, frames: int, rng: np.random.Generator) -> torch.Tensor:
    """(N, F, T) -> (len(indices), F, frames), each from a random start; whole segments if frames >= T."""
    total = spectrograms.shape[-1]
    if frames >= total:
        return spectrograms[torch.from_numpy(indices)]
    starts = rng.integers(0, total - frames + 1, size=len(indices))
    return torch.stack([spectrograms[i, :, s:s + frames] for i, s in zip(indices, starts)])
