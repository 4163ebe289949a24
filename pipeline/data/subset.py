"""The hip-hop-enriched music subset: tags -> ten broad genres, every hip-hop clip plus user
hip-hop folders, the other genres balanced up to `size`, broken audio skipped, and a train /
valid / test split by track so no track is in two splits."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from pipeline.audio import audio_files
from pipeline.config import SubsetConfig
from pipeline.errors import UserError

SPLITS = ("train", "valid", "test")


def genre_of(tags: list[str], genres: dict[str, tuple[str, ...]], priority: tuple[str, ...]) -> str | None:
    """The first genre in `priority` that any of `tags` belongs to; None when no tag maps."""
    tagset = set(tags)
    for genre in priority:
        if tagset.intersection(genres[genre]):
            return genre
    return None


def audio_is_readable(path: str | Path) -> bool:
    """True when the file exists and decodes to at least one sample (catches missing, 0-byte,
    truncated and garbage files, as in the real corpus)."""
    try:
        with _quiet_stderr():  # libmpg123 prints a line per bad frame: the clip is counted instead
            info = sf.info(str(path))
            if info.frames <= 0:
                return False
            with sf.SoundFile(str(path)) as audio:
                for _ in audio.blocks(blocksize=1 << 16, dtype="float32"):
                    pass
        return True
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError):
        return False


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 (where C libraries write) to /dev/null for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def extra_clips(folders: tuple[str, ...], genre: str) -> pd.DataFrame:
    """User audio folders -> clips of `genre`; each file is its own track."""
    rows = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(f"subset.extra_hiphop_dirs: {folder} is not a folder")
        for path in audio_files(folder):
            name = f"extra/{folder.name}/{path.relative_to(folder).with_suffix('').as_posix()}"
            rows.append({"clip_id": name, "path": str(path.resolve()), "track": name, "genre": genre, "subgenre": ""})
    return pd.DataFrame(rows, columns=["clip_id", "path", "track", "genre", "subgenre"]).assign(heldout=False)


def quotas(available: dict[str, int], total: int) -> dict[str, int]:
    """Share `total` as evenly as possible over genres, none above what it has (water-filling:
    what a small genre cannot use goes to the others)."""
    quota = {g: 0 for g in available}
    left = min(total, sum(available.values()))
    while left > 0:
        open_genres = sorted(g for g in available if quota[g] < available[g])
        share = max(1, left // len(open_genres))
        for genre in open_genres:
            add = min(share, available[genre] - quota[genre], left)
            quota[genre] += add
            left -= add
    return quota


def subgenre_of(tags: list[str], genre_tags: tuple[str, ...]) -> str:
    """The first tag of the genre's list (params order) that the clip carries, e.g. `spanish` for
    a world clip: the sub-genre the split stratifies on. Clips without one (user folders) get ''."""
    tagset = set(tags)
    return next((t for t in genre_tags if t in tagset), "")


def split_by_track(frame: pd.DataFrame, valid_fraction: float, test_fraction: float, seed: int) -> pd.Series:
    """Assign each track (all its clips) to one split, so no track is in two splits, stratified
    by genre and, within a genre, by sub-genre (`frame["subgenre"]` when present): a genre's
    tracks are ordered sub-genre by sub-genre (shuffled within each), and the test and valid
    tracks are taken at evenly spaced positions of that order, so every split sees each sub-genre
    in proportion (a world test split of only `spanish` tracks would measure one sub-genre)."""
    rng = np.random.default_rng(seed)
    frame = frame if "subgenre" in frame else frame.assign(subgenre="")

    def main(values: pd.Series) -> str:  # the most common value, ties by name
        return values.value_counts().sort_index().idxmax()

    tracks = frame.groupby("track").agg(genre=("genre", main), subgenre=("subgenre", main))
    split_of_track = {}
    for genre in sorted(tracks["genre"].unique()):
        of_genre = tracks[tracks["genre"] == genre]
        ordered = []
        for subgenre in sorted(of_genre["subgenre"].unique()):
            names = sorted(of_genre.index[of_genre["subgenre"] == subgenre])
            ordered += [names[i] for i in rng.permutation(len(names))]
        n = len(ordered)
        n_test = max(1, round(test_fraction * n)) if n >= 3 and test_fraction > 0 else 0
        n_valid = max(1, round(valid_fraction * n)) if n >= 3 and valid_fraction > 0 else 0
        n_held = n_test + n_valid
        split_of_track.update({track: "train" for track in ordered})
        for i in range(n_held):
            # evenly spaced positions; test and valid spread evenly among them
            is_test = (i + 1) * n_test // n_held != i * n_test // n_held
            split_of_track[ordered[int((i + 0.5) * n / n_held)]] = "test" if is_test else "valid"
    return frame["track"].map(split_of_track)


def build_subset(clips: pd.DataFrame, cfg: SubsetConfig, seed: int, is_readable=audio_is_readable) -> tuple[pd.DataFrame, dict]:
    """`clips` as from `prepare_mtat` (clip_id, path, track, tags, and optionally heldout: those
    tracks go to the test split whole, the others are split by `split_by_track`). Returns the subset
    DataFrame(clip_id, path, genre, track, split) and stats (broken clips skipped, dropped)."""
    anchor = cfg.anchor_genre
    labelled = clips.assign(genre=[genre_of(t, cfg.genres, cfg.priority) for t in clips["tags"]])
    untagged = int(labelled["genre"].isna().sum())
    labelled = labelled.dropna(subset=["genre"])
    labelled = labelled.assign(subgenre=[subgenre_of(t, cfg.genres[g]) for t, g in zip(labelled["tags"], labelled["genre"])])
    if "heldout" not in labelled:
        labelled = labelled.assign(heldout=False)
    labelled = labelled[["clip_id", "path", "track", "genre", "subgenre", "heldout"]]
    labelled = labelled.assign(clip_id=labelled["clip_id"].astype(str))
    labelled = pd.concat([labelled, extra_clips(cfg.extra_hiphop_dirs, anchor)], ignore_index=True)

    rng = np.random.default_rng(seed)
    broken: list[str] = []

    def take(candidates: pd.DataFrame, n: int) -> pd.DataFrame:
        """The first `n` readable clips in a seeded shuffle: only what is used gets decoded."""
        order = rng.permutation(len(candidates))
        kept = []
        for i in order:
            if len(kept) == n:
                break
            row = candidates.iloc[i]
            if is_readable(row["path"]):
                kept.append(i)
            else:
                broken.append(row["clip_id"])
        return candidates.iloc[sorted(kept)]

    by_genre = {g: labelled[labelled["genre"] == g].sort_values("clip_id", kind="stable") for g in cfg.priority}
    anchor_clips = take(by_genre[anchor], len(by_genre[anchor]))
    others = {g: f for g, f in by_genre.items() if g != anchor}
    # Quotas assume every clip is readable; a genre short of readable clips is just smaller.
    quota = quotas({g: len(f) for g, f in others.items()}, max(0, cfg.size - len(anchor_clips)))
    chosen = [anchor_clips] + [take(others[g], quota[g]) for g in sorted(others)]
    subset = pd.concat(chosen, ignore_index=True)
    if subset.empty:
        raise UserError("the subset is empty: no clip carries a tag of subset.genres")
    if not (subset["genre"] == anchor).any():
        raise UserError(f"no readable {anchor} clip found: the style encoder needs its anchor genre")

    # the corpus's held-out tracks are test; the rest split as if they were not there
    held = subset["heldout"].astype(bool)
    heldout_tracks = int(subset.loc[held, "track"].nunique())
    subset["split"] = "test"
    subset.loc[~held, "split"] = split_by_track(subset[~held], cfg.valid_fraction, cfg.test_fraction, seed)
    order = {s: i for i, s in enumerate(SPLITS)}
    subset = subset.sort_values(["split", "genre", "track", "clip_id"], key=lambda c: c.map(order) if c.name == "split" else c)
    subset = subset[["clip_id", "path", "genre", "track", "split"]].reset_index(drop=True)
    stats = {"broken_clips_skipped": len(broken), "broken_clip_ids": sorted(broken), "untagged_clips_dropped": untagged,
             "heldout_tracks": heldout_tracks}
    return subset, stats


def subset_counts(subset: pd.DataFrame) -> dict:
    """Clips per genre and split, for metrics/data.json."""
    counts = subset.groupby(["genre", "split"]).size()
    table = {g: {s: int(counts.get((g, s), 0)) for s in SPLITS} for g in sorted(subset["genre"].unique())}
    return {"clips_per_genre": table, "clips_per_split": {s: int((subset["split"] == s).sum()) for s in SPLITS},
            "clips_total": len(subset), "tracks_total": int(subset["track"].nunique())}
