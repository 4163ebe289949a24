"""Cut the subset's music into fixed-length segments.

Segments are `seconds` long (exactly `seconds * sample_rate` samples), every `hop_seconds`, 16-bit
FLAC, mono, at the front end's sample rate; a clip shorter than one segment yields none.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import soundfile as sf

from pipeline.audio import load_audio
from pipeline.parallel import fork_pool


def segment_starts(n_samples: int, segment: int, hop: int) -> list[int]:
    """Start samples of every whole segment: 0, hop, 2*hop, ... while start + segment <= n."""
    if segment <= 0 or hop <= 0:
        raise ValueError(f"segment and hop must be at least one sample, got {segment} and {hop}")
    return list(range(0, n_samples - segment + 1, hop))


def segment_name(clip_id: str, start_s: float) -> str:
    safe = str(clip_id).replace("/", "_")
    return f"{safe}-{int(round(start_s * 1000)):07d}.flac"


def _cut_one(job):
    row, out_dir, sample_rate, segment, hop = job
    samples = load_audio(row["path"], sample_rate)
    written = []
    for start in segment_starts(len(samples), segment, hop):
        start_s = start / sample_rate
        path = Path(out_dir) / row["genre"] / segment_name(row["clip_id"], start_s)
        sf.write(str(path), samples[start:start + segment], sample_rate, format="FLAC", subtype="PCM_16")
        written.append((path, start_s))
    return written


def cut_clips(subset: pd.DataFrame, out_dir: str | Path, sample_rate: int, seconds: float,
              hop_seconds: float, listed_as: str | None = None, workers: int | None = None) -> pd.DataFrame:
    """Write the segments of every subset clip under `out_dir/<genre>/` and return the manifest
    DataFrame(clip_path, clip_id, genre, track, split, start_s) in subset order. `clip_path` is
    `<listed_as>/<genre>/<file>` (default: `out_dir`), so a stage that writes into a temporary
    folder can list the final one."""
    out_dir = Path(out_dir)
    listed_as = listed_as or out_dir.as_posix()
    segment, hop = int(round(seconds * sample_rate)), int(round(hop_seconds * sample_rate))
    for genre in subset["genre"].unique():
        (out_dir / genre).mkdir(parents=True, exist_ok=True)
    rows = subset.to_dict("records")
    jobs = [(row, str(out_dir), sample_rate, segment, hop) for row in rows]
    workers = workers or min(len(jobs), os.cpu_count() or 1) or 1
    if workers > 1:
        # Ordered map: the manifest order never depends on scheduling.
        with fork_pool(workers) as pool:
            results = pool.map(_cut_one, jobs, chunksize=4)
    else:
        results = [_cut_one(job) for job in jobs]
    manifest = [
        {"clip_path": f"{listed_as}/{row['genre']}/{Path(path).name}", "clip_id": row["clip_id"], "genre": row["genre"],
         "track": row["track"], "split": row["split"], "start_s": round(start_s, 3)}
        for row, written in zip(rows, results) for path, start_s in written
    ]
    return pd.DataFrame(manifest, columns=["clip_path", "clip_id", "genre", "track", "split", "start_s"])

