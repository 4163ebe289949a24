"""MagnaTagATune: download and prepare.

`annotations_final.csv` is tab-separated with double-quoted fields: `clip_id`, 188 binary tag
columns, `mp3_path` (`<0..f>/<artist>-<album>-<track>-<title>-<start>-<end>.mp3`). The MP3s sit in
folders `0`..`f`, either directly under the root or under `<root>/mp3/`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipeline.errors import UserError

ANNOTATIONS = "annotations_final.csv"
CLIP_INFO = "clip_info_final.csv"
_SEGMENT_SUFFIX = re.compile(r"-\d+-\d+\.mp3$")


def mp3_dir(root: str | Path) -> Path:
    root = Path(root)
    return root / "mp3" if (root / "mp3").is_dir() else root


def track_of(mp3_path: str) -> str:
    """`f/artist-album-01-title-30-59.mp3` -> `artist-album-01-title`: clips of one track share it."""
    return _SEGMENT_SUFFIX.sub("", mp3_path.split("/", 1)[-1])


def read_annotations(root: str | Path) -> pd.DataFrame:
    path = Path(root) / ANNOTATIONS
    if not path.is_file():
        raise UserError(f"{path} is missing")
    frame = pd.read_csv(path, sep="\t", quotechar='"', dtype={"clip_id": int, "mp3_path": str})
    if "clip_id" not in frame.columns or "mp3_path" not in frame.columns:
        raise UserError(f"{path} lacks clip_id / mp3_path columns: is it tab-separated?")
    return frame


def prepare_mtat(root: str | Path) -> pd.DataFrame:
    """Index the clips: DataFrame(clip_id, mp3_path, path, track, tags), sorted by clip_id.

    `tags` is the list of tag names set to 1; `path` is absolute (the file may be missing or broken,
    as three are in the real corpus: `build_subset` checks the audio)."""
    root = Path(root)
    annotations = read_annotations(root)
    tag_columns = [c for c in annotations.columns if c not in ("clip_id", "mp3_path")]
    flags = annotations[tag_columns].to_numpy() == 1
    audio_dir = mp3_dir(root).resolve()
    frame = pd.DataFrame({
        "clip_id": annotations["clip_id"],
        "mp3_path": annotations["mp3_path"],
        "path": [str(audio_dir / p) for p in annotations["mp3_path"]],
        "track": [track_of(p) for p in annotations["mp3_path"]],
        "tags": [[t for t, on in zip(tag_columns, row) if on] for row in flags],
    })
    return frame.sort_values("clip_id", kind="stable").reset_index(drop=True)
