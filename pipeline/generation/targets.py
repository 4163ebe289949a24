"""What generation matches, computed once: the hip-hop reference's Gram matrix per style-encoder
block and its embedding centroid, plus the default beats (hip-hop instrumentals) laid under the
speech. The `style_targets` stage writes them from the corpus's hip-hop train segments into
`models/style_targets.pt`, so the CLI never rereads the corpus; `--style REF ...` computes the
same statistics from a user's clips instead.

The file follows `pipeline.models.checkpoints` (format tag, version, front end; plain tensors)
and records the md5 of the style encoder it was computed with: targets from another encoder are
refused, since Gram statistics only mean something in the space that made them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline.audio import FrontEnd, load_audio
from pipeline.config import GenerateConfig
from pipeline.data.segments import load_segments
from pipeline.errors import UserError
from pipeline.generation.losses import gram_matrix
from pipeline.models.checkpoints import load_checkpoint, save_payload
from pipeline.models.style_encoder import StyleEncoder

FORMAT = ("style_targets", 1)


@dataclass
class Beat:
    """A hip-hop instrumental: mono float samples at the front end's rate, its track and tempo."""
    samples: np.ndarray
    track: str
    bpm: float


@dataclass
class StyleTargets:
    """grams: [(C_i, C_i)] per style-encoder block, first to last; centroid: (D,) unit-norm mean
    of the reference's normalised embeddings; beats: default beats (may be empty)."""
    grams: list[torch.Tensor]
    centroid: torch.Tensor
    segments: int
    beats: list[Beat] = field(default_factory=list)

    def to(self, device: str | torch.device) -> "StyleTargets":
        return StyleTargets([g.to(device) for g in self.grams], self.centroid.to(device), self.segments, self.beats)


@torch.no_grad()
def reference_statistics(style_encoder: StyleEncoder, spectrograms: list[torch.Tensor]) -> StyleTargets:
    """Mean Gram per block and embedding centroid over reference spectrograms [(F, T_i)] (any
    lengths: each is encoded alone)."""
    if not spectrograms:
        raise ValueError("no reference clips to compute style targets from")
    grams, directions = None, []
    for spectrogram in spectrograms:
        maps = style_encoder.block_maps(spectrogram.unsqueeze(0))
        clip_grams = [gram_matrix(m)[0] for m in maps]
        grams = clip_grams if grams is None else [g + c for g, c in zip(grams, clip_grams)]
        directions.append(torch.nn.functional.normalize(style_encoder.embed_last_map(maps[-1])[0], dim=0))
    centroid = torch.nn.functional.normalize(torch.stack(directions).mean(0), dim=0)
    return StyleTargets([g / len(spectrograms) for g in grams], centroid, len(spectrograms))


def save_style_targets(path: str | Path, targets: StyleTargets, front_end: FrontEnd, style_encoder_md5: str) -> None:
    save_payload(path, {
        "format": FORMAT[0], "version": FORMAT[1], "front_end": front_end.to_dict(),
        "style_encoder_md5": style_encoder_md5, "segments": targets.segments,
        "grams": [g.contiguous().clone() for g in targets.grams], "centroid": targets.centroid.contiguous().clone(),
        "beats": [torch.from_numpy(np.ascontiguousarray(b.samples, dtype=np.float32)) for b in targets.beats],
        "beat_tracks": [b.track for b in targets.beats], "beat_bpm": [float(b.bpm) for b in targets.beats],
    })


def load_style_targets(path: str | Path, front_end: FrontEnd, style_encoder_md5: str) -> StyleTargets:
    """Targets for the style encoder whose checkpoint has `style_encoder_md5`, on `front_end`."""
    payload = load_checkpoint(path, *FORMAT, stage="style_targets")
    if FrontEnd(**payload["front_end"]) != front_end:
        raise ValueError(f"{path} was computed on another front end: rerun `dvc repro style_targets`")
    if payload["style_encoder_md5"] != style_encoder_md5:
        raise ValueError(f"{path} was computed with another style encoder: rerun `dvc repro style_targets`")
    beats = [Beat(s.numpy(), t, b) for s, t, b in zip(payload["beats"], payload["beat_tracks"], payload["beat_bpm"])]
    return StyleTargets(list(payload["grams"]), payload["centroid"], payload["segments"], beats)


def corpus_style_targets(clips: pd.DataFrame, mtat_root: str | Path, style_encoder: StyleEncoder, anchor_genre: str,
                         config: GenerateConfig, seed: int) -> StyleTargets:
    """The default targets: the anchor genre's train segments of the clip manifest (all, or
    `config.style_segments` drawn with `seed`) and up to `config.beats` instrumentals of its train
    tracks (`<mtat_root>/instrumentals.csv`, written by the embedded corpus; none for a real
    MagnaTagATune, whose users bring a beat)."""
    rows = clips[(clips["split"] == "train") & (clips["genre"] == anchor_genre)].sort_values("clip_path")
    if rows.empty:
        raise UserError(f"no {anchor_genre} train segments in the clip manifest")
    rng, tracks = np.random.default_rng(seed), set(rows["track"].astype(str))
    if config.style_segments and config.style_segments < len(rows):
        rows = rows.iloc[np.sort(rng.choice(len(rows), config.style_segments, replace=False))]
    segments = load_segments(rows, style_encoder.front_end)
    targets = reference_statistics(style_encoder, list(segments.spectrograms))
    targets.beats = train_beats(Path(mtat_root), tracks, config, style_encoder.front_end, rng)
    return targets


def train_beats(mtat_root: Path, train_tracks: set[str], config: GenerateConfig, front_end: FrontEnd,
                rng: np.random.Generator) -> list[Beat]:
    listing = mtat_root / "instrumentals.csv"
    if not listing.is_file():
        return []
    table = pd.read_csv(listing, dtype={"track": str})
    table = table[table["track"].isin(train_tracks)].sort_values("track")
    if len(table) > config.beats:
        table = table.iloc[np.sort(rng.choice(len(table), config.beats, replace=False))]
    keep = int(config.beat_seconds * front_end.sample_rate)
    return [Beat(load_audio(mtat_root / row.path, front_end.sample_rate)[:keep], row.track, float(row.bpm))
            for row in table.itertuples()]
