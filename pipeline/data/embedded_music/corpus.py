"""Planning and writing the corpus: which tracks each genre gets and how many clips each, which
tracks have a voice, the names, tags and fates (ok / missing / corrupt) of the clips, the two
CSVs in MTAT's dialect, and the synthesis jobs a process pool runs (one track each: render, lay
the voice over it, master, cut into clips, encode MP3). Each anchor-genre (hip-hop) track's
instrumental (the same track, mastered alike, without its rap) is written beside the MTAT layout
as `instrumentals/<track>.flac`, listed in `instrumentals.csv` (track, path, bpm, seconds): the
beats generation lays speech over. The held-out tracks (`heldout_tracks_per_genre`, test-only)
are listed in `heldout_tracks.csv`."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import soundfile as sf

from pipeline.data.embedded_music.recipes import RECIPES, draw_song, genre_number, render_track
from pipeline.data.embedded_music.vocals import vocal_chain, voice_part
from pipeline.data.embedded_music.tags import (
    MTAT_TAGS, clip_tags, draw_name, outranking_tags, slug, untagged_clip_tags,
)
from pipeline.errors import UserError
from pipeline.data.espeak import Espeak
from pipeline.data.mtat import HELDOUT_TRACKS, track_of
from pipeline.fileio import atomic_path, write_csv
from pipeline.parallel import fork_pool

if TYPE_CHECKING:
    from pipeline.config import EmbeddedMusicConfig, SubsetConfig

BITRATE_MODES = {"constant": "CONSTANT", "variable": "VARIABLE", "average": "AVERAGE"}
INSTRUMENTALS = "instrumentals"   # beside mp3/: the anchor genre's tracks without their voice


def segment_bounds(index: int, clip_seconds: float) -> tuple[int, int]:
    """Whole-second (start, end) of a track's `index`-th clip as in MTAT names (0-29, 30-59,
    59-88, ...): a clip spans `clip_seconds` from `start` (clip 0 starts at 0, clip k at 1 + 29k)."""
    length = int(clip_seconds)
    start = 0 if index == 0 else 1 + length * index
    return start, start + length



def check_config(cfg: EmbeddedMusicConfig, taxonomy: SubsetConfig) -> None:
    """What the config classes cannot check alone (they check each section's own ranges): the
    corpus settings against the genre taxonomy. ValueError, one line, naming the params key."""
    for genre in taxonomy.genres:
        if genre not in RECIPES:
            raise ValueError(f"subset.genres: the embedded corpus has no recipe for genre {genre!r} "
                             f"(it has {', '.join(RECIPES)})")
        outranking = outranking_tags(genre, taxonomy)
        for style, tags in RECIPES[genre].spec.style_tags.items():
            stray = [t for t in tags if t not in taxonomy.genres[genre] or t in outranking]
            if stray:
                raise ValueError(f"subset.genres: {genre} lacks {stray}, the tags its recipe gives {style} clips "
                                 f"(or a genre before it in subset.priority has them)")
    stray = sorted(set(cfg.vocals) - set(taxonomy.genres))
    if stray:
        raise ValueError(f"data.embedded_music.vocals: {stray} are not genres of subset.genres")
    others = (len(taxonomy.genres) - 1) * cfg.clips_per_genre
    if cfg.missing_clips + cfg.corrupt_clips > others:
        raise ValueError(f"data.embedded_music: missing_clips + corrupt_clips is more than the {others} clips "
                         f"outside the anchor genre {taxonomy.anchor_genre!r}")


def plan_corpus(cfg: EmbeddedMusicConfig, taxonomy: SubsetConfig, seed: int) -> pd.DataFrame:
    """One row per clip: track, genre, style, names, clip_id, segment, mp3_path, tags, `heldout`
    (a test-only track) and its `fate` (ok / missing / corrupt). Pure bookkeeping: nothing is
    synthesised here."""
    rng = np.random.default_rng([seed, 7919])
    per_track = cfg.clips_per_track
    n_tracks = -(-cfg.clips_per_genre // per_track)
    tracks = []
    for genre in taxonomy.genres:
        voiced = vocal_tracks(n_tracks, cfg.vocals.get(genre, 0.0), seed, genre)
        for k in range(n_tracks):
            clips = min(per_track, cfg.clips_per_genre - k * per_track)
            tracks.append({"genre": genre, "track": k, "clips": clips, "tagged": True, "vocal": k in voiced,
                           "heldout": False})
    non_anchor = [g for g in taxonomy.genres if g != taxonomy.anchor_genre]
    for k in range(cfg.untagged_clips):   # extra tracks nobody tagged with a genre
        tracks.append({"genre": non_anchor[k % len(non_anchor)], "track": 100_000 + k, "clips": 1, "tagged": False,
                       "vocal": False, "heldout": False})
    used: set = set()
    rows, folders_used = name_tracks(tracks, rng, seed, cfg, taxonomy, used, 0)
    plan = pd.DataFrame(rows)
    plan["clip_id"] = 1 + np.cumsum(rng.integers(1, 4, len(plan)))   # sparse ids from 2 up, as in MTAT
    # one missing and one corrupt clip (never of the scarce anchor genre, hip-hop), as in MTAT
    candidates = plan.index[(plan["genre"] != taxonomy.anchor_genre) & plan["tagged"]].to_numpy()
    broken = rng.choice(candidates, cfg.missing_clips + cfg.corrupt_clips, replace=False)
    plan.loc[broken[: cfg.missing_clips], "fate"] = "missing"
    plan.loc[broken[cfg.missing_clips:], "fate"] = "corrupt"
    if cfg.heldout_tracks_per_genre:
        # planned last, from their own generator, so every other track, name, id and fate is the
        # same with or without them (and so is the split of those tracks, hence the trained models)
        held_rng = np.random.default_rng([seed, 7919, 1])
        held = []
        for genre in taxonomy.genres:
            voiced = vocal_tracks(cfg.heldout_tracks_per_genre, cfg.vocals.get(genre, 0.0), seed, genre, stream=59)
            held += [{"genre": genre, "track": n_tracks + k, "clips": per_track, "tagged": True, "vocal": k in voiced,
                      "heldout": True} for k in range(cfg.heldout_tracks_per_genre)]
        extra = pd.DataFrame(name_tracks(held, held_rng, seed, cfg, taxonomy, used, folders_used)[0])
        extra["clip_id"] = plan["clip_id"].max() + np.cumsum(held_rng.integers(1, 4, len(extra)))
        plan = pd.concat([plan, extra], ignore_index=True)
    return plan.sort_values("clip_id").reset_index(drop=True)


def name_tracks(tracks: list[dict], rng: np.random.Generator, seed: int, cfg: EmbeddedMusicConfig,
                taxonomy: SubsetConfig, used: set, folders_used: int) -> tuple[list[dict], int]:
    """Artists with albums of up to four tracks, each album in one folder (cycling 0..f from
    `folders_used`), as in MTAT: one row per clip with its names, segment, mp3_path and tags.
    `used` (artist, album) pairs are never drawn again (and gain the new ones). Returns the rows
    and the albums used so far."""
    order = rng.permutation(len(tracks))
    rows, album, album_left = [], None, 0
    for i in order:
        track = tracks[i]
        name_rng = np.random.default_rng([seed, genre_number(track["genre"]), track["track"], 31])
        if album_left == 0:
            while True:
                artist = slug(draw_name(rng, track["genre"], "artist"))
                album_name = slug(draw_name(rng, track["genre"], "album"))
                if (artist, album_name) not in used:
                    break
            used.add((artist, album_name))
            album = (artist, album_name, "0123456789abcdef"[folders_used % 16], iter(range(1, 99)))
            folders_used += 1
            album_left = int(rng.integers(1, 5))
        album_left -= 1
        artist, album_name, folder, numbers = album
        number = next(numbers)
        title = draw_name(name_rng, track["genre"], "title")
        song_style = draw_song(track["genre"], seed, track["track"], 16000, 1.0).style
        for c in range(track["clips"]):
            start, end = segment_bounds(c, cfg.clip_seconds)
            stem = f"{artist}-{album_name}-{number:02d}-{slug(title)}"
            tag_rng = np.random.default_rng([seed, genre_number(track["genre"]), track["track"], c, 97])
            if track["tagged"]:
                tags = clip_tags(track["genre"], song_style, tag_rng, taxonomy, track["vocal"])
            else:
                tags = untagged_clip_tags(track["genre"], song_style, tag_rng, taxonomy)
            rows.append({**track, "style": song_style, "clip": c, "artist": artist, "album": album_name, "title": title,
                         "track_number": number, "segment_start": start, "segment_end": end,
                         "mp3_path": f"{folder}/{stem}-{start}-{end}.mp3", "tags": tags, "fate": "ok"})
    return rows, folders_used


def vocal_tracks(n_tracks: int, rate: float, seed: int, genre: str, stream: int = 53) -> set[int]:
    """Which of a genre's tracks (0..n_tracks-1) have a voice: exactly round(rate * n_tracks) of
    them, drawn (`stream` keeps the held-out tracks' draw apart from the others')."""
    order = np.random.default_rng([seed, genre_number(genre), stream]).permutation(n_tracks)
    return {int(k) for k in order[: int(round(rate * n_tracks))]}


def annotations_frame(plan: pd.DataFrame) -> pd.DataFrame:
    flags = np.zeros((len(plan), len(MTAT_TAGS)), dtype=np.int64)
    column = {t: i for i, t in enumerate(MTAT_TAGS)}
    for row, tags in enumerate(plan["tags"]):
        flags[row, [column[t] for t in tags]] = 1
    frame = pd.DataFrame(flags, columns=list(MTAT_TAGS))
    frame.insert(0, "clip_id", plan["clip_id"].to_numpy())
    frame["mp3_path"] = plan["mp3_path"].to_numpy()
    return frame


def clip_info_frame(plan: pd.DataFrame) -> pd.DataFrame:
    def url(row):
        return f"http://www.magnatune.com/artists/albums/{row.artist.replace('_', '')}-{row.album.replace('_', '')}/"

    def original(row):
        title, artist = row.title.replace(" ", "%20"), row.artist.replace("_", "%20")
        return f"http://he3.magnatune.com/all/{row.track_number:02d}-{title}-{artist}.mp3"

    return pd.DataFrame({
        "clip_id": plan["clip_id"], "track_number": plan["track_number"], "title": plan["title"],
        "artist": plan["artist"].str.replace("_", " "), "album": plan["album"].str.replace("_", " "),
        "url": [url(r) for r in plan.itertuples()], "segmentStart": plan["segment_start"],
        "segmentEnd": plan["segment_end"],
        "original_url": [original(r) for r in plan.itertuples()], "mp3_path": plan["mp3_path"],
    })


def write_mtat_csv(frame: pd.DataFrame, path: Path) -> None:
    """MTAT's CSV dialect: tab-separated, every field double-quoted, '\\n' line ends."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", quotechar='"', quoting=1, index=False, lineterminator="\n")


def _synthesise_track(job: dict) -> dict | None:
    """Render one track, cut it into its clips and write each as MP3 (or as garbage / nothing);
    write the instrumental when asked. Returns the instrumental's row for instrumentals.csv."""
    clips, sr = job["clips"], job["sample_rate"]
    seconds = max(c["segment_start"] for c in clips) + job["clip_seconds"]
    song = draw_song(job["genre"], job["seed"], job["track"], sr, seconds)
    vocal, level = None, 0.0
    if job["vocal"]:
        # its own generator: the instrumental is the same whether or not the track is voiced
        rng = np.random.default_rng([job["seed"], genre_number(job["genre"]), job["track"], 211])
        kind = RECIPES[job["genre"]].spec.voice
        engine = Espeak() if kind != "choir" else None
        part, onsets = voice_part(song, kind, rng, engine, job["rap_voices"], job["seed"])
        vocal, level = vocal_chain(part, sr, rng), float(rng.uniform(*job["vocal_level_db"]))
    audio, instrumental = render_track(song, job["loudness_dbfs"], job["noise_dbfs"], vocal, level,
                                       instrumental=bool(job["instrumental"]))
    clip_n = int(round(job["clip_seconds"] * sr))
    for clip in clips:
        path = Path(job["mp3_dir"]) / clip["mp3_path"]
        if clip["fate"] == "missing":
            continue
        with atomic_path(path) as tmp:
            if clip["fate"] == "corrupt":   # garbage bytes with an MP3 name: no decoder accepts it
                garbage = np.random.default_rng([job["seed"], clip["clip_id"]]).integers(0, 256, 4096, dtype=np.uint8)
                tmp.write_bytes(b"\x00" * 16 + garbage.tobytes())
                continue
            start = clip["segment_start"] * sr
            sf.write(str(tmp), audio[start: start + clip_n], sr, format="MP3", subtype="MPEG_LAYER_III",
                     bitrate_mode=job["bitrate_mode"], compression_level=job["compression_level"])
    if instrumental is None:
        return None
    with atomic_path(Path(job["root"]) / job["instrumental"]) as tmp:
        sf.write(str(tmp), instrumental, sr, format="FLAC", subtype="PCM_16")
    return {"track": job["instrumental"].split("/")[-1][: -len(".flac")], "path": job["instrumental"],
            "bpm": round(song.bpm, 3), "seconds": round(len(instrumental) / sr, 3)}


def synthesis_jobs(plan: pd.DataFrame, cfg: EmbeddedMusicConfig, sample_rate: int, seed: int,
                   mp3_root: Path, anchor_genre: str) -> list[dict]:
    jobs = []
    for (genre, track), rows in plan.groupby(["genre", "track"], sort=True):
        first = rows.sort_values("clip").iloc[0]
        stem = first["mp3_path"].split("/", 1)[1].rsplit("-", 2)[0]   # artist-album-NN-title
        jobs.append({"genre": genre, "track": int(track), "seed": seed, "sample_rate": sample_rate,
                     "clip_seconds": cfg.clip_seconds, "loudness_dbfs": cfg.loudness_dbfs, "noise_dbfs": cfg.noise_dbfs,
                     "bitrate_mode": BITRATE_MODES[cfg.bitrate_mode], "compression_level": cfg.compression_level,
                     "mp3_dir": str(mp3_root), "root": str(mp3_root.parent), "vocal": bool(first["vocal"]),
                     "vocal_level_db": cfg.vocal_level_db, "rap_voices": cfg.rap_voices,
                     "instrumental": f"{INSTRUMENTALS}/{stem}.flac" if genre == anchor_genre and first["tagged"] else None,
                     "clips": rows[["clip_id", "mp3_path", "segment_start", "fate"]].to_dict("records")})
    return jobs


def build_embedded_mtat(root: str | Path, cfg: EmbeddedMusicConfig, taxonomy: SubsetConfig, sample_rate: int,
                        seed: int) -> None:
    """Write the embedded corpus under `root` (absent or an empty folder): `mp3/<0..f>/*.mp3`,
    `annotations_final.csv`, `clip_info_final.csv`, and beside them `heldout_tracks.csv` and the
    instrumentals. All of it appears, or none of it.

    `taxonomy` (params `subset`) names the genres, in the order the corpus lists them, and the
    tags that map a clip to its genre; each genre needs a recipe in `RECIPES`."""
    check_config(cfg, taxonomy)
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UserError(f"{root} must be absent or an empty folder to build the embedded MagnaTagATune corpus")
    plan = plan_corpus(cfg, taxonomy, seed)
    with atomic_path(root) as tmp:
        mp3_root = tmp / "mp3"
        for folder in "0123456789abcdef":
            (mp3_root / folder).mkdir(parents=True)
        (tmp / INSTRUMENTALS).mkdir()
        jobs = synthesis_jobs(plan, cfg, sample_rate, seed, mp3_root, taxonomy.anchor_genre)
        # longest tracks first keeps both workers busy to the end; each track in a fresh child,
        # as espeak-ng's output depends on what the process synthesised before (pipeline.data.espeak)
        jobs.sort(key=lambda j: -len(j["clips"]))
        with fork_pool(max(1, min(cfg.workers, len(jobs))), maxtasksperchild=1) as pool:
            stems = [row for row in pool.imap_unordered(_synthesise_track, jobs) if row]
        columns = ["track", "path", "bpm", "seconds"]
        write_csv(tmp / f"{INSTRUMENTALS}.csv", pd.DataFrame(stems, columns=columns).sort_values("track"))
        write_mtat_csv(annotations_frame(plan), tmp / "annotations_final.csv")
        write_mtat_csv(clip_info_frame(plan), tmp / "clip_info_final.csv")
        heldout = sorted({track_of(p) for p in plan.loc[plan["heldout"], "mp3_path"]})
        write_csv(tmp / HELDOUT_TRACKS, pd.DataFrame({"track": heldout}, dtype=str))
