"""Music preparation speed: decode MP3, resample, cut into segments, write FLAC, as `cut_clips`
does it, reported as audio seconds per wall second (the issue's target: >= 300x real time).

The input is a small embedded MagnaTagATune corpus (the same MP3 layout and bit rate as the real
one), built once in a temporary folder before the clock starts.
"""
from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import pandas as pd
import soundfile as sf

from pipeline.config import load_params
from pipeline.data.clips import cut_clips
from pipeline.data.embedded_music import build_embedded_mtat
from pipeline.data.mtat import prepare_mtat

TARGET_REALTIME = 300.0
CLIPS_PER_GENRE = 2


def run() -> list[dict]:
    params = load_params()
    sample_rate, clips = params.audio.sample_rate, params.clips
    corpus_cfg = dataclasses.replace(params.data.embedded_music, clips_per_genre=CLIPS_PER_GENRE, clips_per_track=2,
                                     heldout_tracks_per_genre=0,
                                     untagged_clips=0, missing_clips=0, corrupt_clips=0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mtat"
        build_embedded_mtat(root, corpus_cfg, params.subset, sample_rate, seed=0)
        frame = prepare_mtat(root)
        subset = pd.DataFrame({"clip_id": frame["clip_id"].astype(str), "path": frame["path"],
                               "genre": [t[0].replace(" ", "-") for t in frame["tags"]],
                               "track": frame["track"], "split": "train"})
        audio_seconds = sum(sf.info(p).duration for p in subset["path"])
        best = float("inf")
        for attempt in range(3):  # the best of three: the machine is shared and noisy
            out = Path(tmp) / f"clips{attempt}"
            started = time.perf_counter()
            segments = cut_clips(subset, out, sample_rate, clips.seconds, clips.hop_seconds)
            best = min(best, time.perf_counter() - started)
    ratio = audio_seconds / best
    return [
        {"benchmark": f"data: music prep ({len(subset)} MP3 clips -> {len(segments)} segments)", "value": round(ratio, 1),
         "unit": "x real time", "target": f">= {TARGET_REALTIME:g}x", "ok": ratio >= TARGET_REALTIME},
    ]
