"""MagnaTagATune: download and prepare.

`annotations_final.csv` is tab-separated with double-quoted fields: `clip_id`, 188 binary tag
columns, `mp3_path` (`<0..f>/<artist>-<album>-<track>-<title>-<start>-<end>.mp3`). The MP3s sit in
folders `0`..`f`, either directly under the root or under `<root>/mp3/`.

A corpus may also list tracks held out for testing in `heldout_tracks.csv` beside the CSVs (one
column, `track`, as `track_of` names them): `build_subset` puts them in the test split and splits
the rest as usual. The embedded corpus writes it; the real one has none (a user may add one).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipeline.errors import UserError

ANNOTATIONS = "annotations_final.csv"
CLIP_INFO = "clip_info_final.csv"
HELDOUT_TRACKS = "heldout_tracks.csv"
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


def read_heldout_tracks(root: str | Path, tracks: set[str]) -> set[str]:
    """The tracks `<root>/heldout_tracks.csv` lists (none without the file); each must be one of
    `tracks`, the corpus's own."""
    path = Path(root) / HELDOUT_TRACKS
    if not path.is_file():
        return set()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(frame.columns) != ["track"]:
        raise UserError(f"{path} must have one column, track (got {', '.join(map(str, frame.columns))})")
    unknown = sorted(set(frame["track"]) - tracks)
    if unknown:
        raise UserError(f"{path} lists {len(unknown)} track(s) with no clip in {ANNOTATIONS}, e.g. {unknown[0]!r}")
    return set(frame["track"])


def prepare_mtat(root: str | Path) -> pd.DataFrame:
    """Index the clips: DataFrame(clip_id, mp3_path, path, track, tags, heldout), sorted by clip_id.

    `tags` is the list of tag names set to 1; `path` is absolute (the file may be missing or broken,
    as three are in the real corpus: `build_subset` checks the audio); `heldout` marks the tracks
    of `heldout_tracks.csv`."""
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
    frame["heldout"] = frame["track"].isin(read_heldout_tracks(root, set(frame["track"])))
    return frame.sort_values("clip_id", kind="stable").reset_index(drop=True)


# https://mirg.city.ac.uk/datasets/magnatagatune/: the MP3s come as one zip split in three parts.
MTAT_FILES = {
    "mp3.zip.001": "179c91c8c2a6e9b3da3d4e69d306fd3b",
    "mp3.zip.002": "acf8265ff2e35c6ff22210e46457a824",
    "mp3.zip.003": "582dc649cabb8cd991f09e14b99349a5",
    ANNOTATIONS: "f04fa01752a8cc64f6e1ca142a0fef1d",
    CLIP_INFO: "03ef3cb8ddcfe53fdcdb8e0cda005be2",
}
MP3_ZIP = "mp3.zip"
MP3_ZIP_MD5 = "f12add0eb4cd6c2a3ab7e4afaf7b7467"  # md5 of the three parts concatenated in order
MP3_PARTS = ("mp3.zip.001", "mp3.zip.002", "mp3.zip.003")
COMPLETE_MARKER = ".complete"


def download_mtat(root: str | Path, base_url: str, md5s: dict[str, str] | None = None,
                  keep_archives: bool = True) -> Path:
    """Fetch the MagnaTagATune files from `base_url` into `root` (CSVs at `<root>/`, zip parts in
    `<root>/archives/`), each md5-verified; join the parts into mp3.zip, verify it, extract it
    safely into `<root>/mp3/` (-> `<root>/mp3/<0..f>/<name>.mp3`) and mark the corpus complete.

    `md5s` overrides expected md5s by file name (keys of MTAT_FILES, or "mp3.zip"): for mirrors
    and tests. The joined mp3.zip is deleted after extraction (the parts hold the same bytes);
    the parts too unless `keep_archives`. A complete corpus is skipped without any request.
    Returns `root`."""
    from pipeline.data.download import (check_md5, concatenate, fetch, forget, remember_md5,
                                        safe_extract_zip, verified)

    root = Path(root)
    marker = root / COMPLETE_MARKER
    if marker.is_file():
        return root
    expected = {**MTAT_FILES, MP3_ZIP: MP3_ZIP_MD5}
    unknown = sorted(set(md5s or {}) - set(expected))
    if unknown:
        raise UserError(f"unknown MagnaTagATune file {', '.join(unknown)}: valid ones are {', '.join(expected)}")
    expected = {name: check_md5(md5) for name, md5 in {**expected, **(md5s or {})}.items()}

    archives = root / "archives"
    mp3_zip = archives / MP3_ZIP
    for name in MTAT_FILES:
        if name in MP3_PARTS and verified(mp3_zip, expected[MP3_ZIP]):
            continue  # already joined: the parts are not needed again
        dest = archives / name if name in MP3_PARTS else root / name
        print(f"MagnaTagATune: fetching {name}", flush=True)
        fetch(f"{base_url.rstrip('/')}/{name}", dest, md5=expected[name])
    if not verified(mp3_zip, expected[MP3_ZIP]):
        print(f"MagnaTagATune: joining {', '.join(MP3_PARTS)}", flush=True)
        actual = concatenate([archives / name for name in MP3_PARTS], mp3_zip)
        if actual != expected[MP3_ZIP]:
            forget(mp3_zip)
            raise UserError(f"md5 mismatch for {MP3_ZIP}: expected {expected[MP3_ZIP]}, got {actual}")
        remember_md5(mp3_zip, actual)
    print(f"MagnaTagATune: extracting {MP3_ZIP}", flush=True)
    safe_extract_zip(mp3_zip, root if _zip_has_mp3_folder(mp3_zip) else root / "mp3")
    forget(mp3_zip)
    if not keep_archives:
        for name in MP3_PARTS:
            forget(archives / name)
    marker.write_text("".join(f"{expected[name]}  {name}\n" for name in sorted(expected)))  # last: whole
    return root


def _zip_has_mp3_folder(path: Path) -> bool:
    """True when every member of the zip already sits under `mp3/` (extract into root then)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return False  # safe_extract_zip reports it
    return bool(names) and all(n.startswith("mp3/") for n in names)
