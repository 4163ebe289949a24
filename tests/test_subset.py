"""build_subset: genre mapping and priority, balancing, broken clips, split by track."""
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pipeline.config import ConfigError, SubsetConfig, load_params, parse, to_dict
from pipeline.data.subset import audio_is_readable, build_subset, genre_of, quotas, subset_counts
from pipeline.errors import UserError

CFG = load_params(Path(__file__).resolve().parents[1] / "params.yaml").subset


def test_genre_mapping_uses_params_tags():
    assert genre_of(["hip hop", "beat"], CFG.genres, CFG.priority) == "hip-hop"
    assert genre_of(["heavy metal"], CFG.genres, CFG.priority) == "metal"
    assert genre_of(["new age", "quiet"], CFG.genres, CFG.priority) == "ambient-newage"
    assert genre_of(["guitar", "loud"], CFG.genres, CFG.priority) is None


def test_priority_decides_between_genres():
    # rap outranks rock; metal outranks rock; rock outranks pop (params order).
    assert genre_of(["rock", "rap"], CFG.genres, CFG.priority) == "hip-hop"
    assert genre_of(["rock", "metal"], CFG.genres, CFG.priority) == "metal"
    assert genre_of(["pop", "rock"], CFG.genres, CFG.priority) == "rock"
    reordered = ("pop",) + tuple(g for g in CFG.priority if g != "pop")
    assert genre_of(["pop", "rock"], CFG.genres, reordered) == "pop"


def test_quotas_are_balanced_and_capped():
    assert quotas({"a": 100, "b": 100, "c": 100}, 90) == {"a": 30, "b": 30, "c": 30}
    # a small genre gives what it cannot use to the others
    assert quotas({"a": 5, "b": 100, "c": 100}, 90) == {"a": 5, "b": 43, "c": 42}
    assert quotas({"a": 5, "b": 7}, 1000) == {"a": 5, "b": 7}
    assert sum(quotas({"a": 50, "b": 50, "c": 50}, 100).values()) == 100


def fake_clips(tracks_per_genre=6, clips_per_track=3):
    rows, clip_id = [], 0
    tag_of = {g: tags[0] for g, tags in CFG.genres.items()}
    for genre in CFG.priority:
        for t in range(tracks_per_genre):
            for c in range(clips_per_track):
                rows.append({"clip_id": clip_id, "path": f"/x/{clip_id}.mp3", "track": f"{genre}-track{t}",
                             "tags": [tag_of[genre], "guitar"]})
                clip_id += 1
    rows.append({"clip_id": clip_id, "path": "/x/untagged.mp3", "track": "untagged", "tags": ["guitar"]})
    return pd.DataFrame(rows)


def test_subset_keeps_all_hiphop_balances_others_and_skips_broken():
    clips = fake_clips()
    broken = {"/x/5.mp3", "/x/20.mp3", "/x/40.mp3"}  # 5 is hip-hop, 20 and 40 are not
    cfg = dataclasses.replace(CFG, size=18 + 9 * 10)
    subset, stats = build_subset(clips, cfg, seed=0, is_readable=lambda p: p not in broken)
    counts = subset["genre"].value_counts()
    assert counts["hip-hop"] == 17  # every readable hip-hop clip
    assert len(subset) == cfg.size  # the other genres fill the subset up to `size`...
    others = counts.drop("hip-hop")
    assert len(others) == 9 and others.max() - others.min() <= 1  # ...balanced within one clip
    assert "5" not in set(subset["clip_id"])
    assert stats["broken_clips_skipped"] >= 1 and "5" in stats["broken_clip_ids"]
    assert stats["untagged_clips_dropped"] == 1
    assert list(subset.columns) == ["clip_id", "path", "genre", "track", "split"]


def test_no_track_in_two_splits_and_every_split_has_every_genre():
    subset, _ = build_subset(fake_clips(tracks_per_genre=8), dataclasses.replace(CFG, size=10_000), seed=3, is_readable=lambda p: True)
    splits_per_track = subset.groupby("track")["split"].nunique()
    assert (splits_per_track == 1).all()
    for split in ("train", "valid", "test"):
        assert set(subset.loc[subset["split"] == split, "genre"]) == set(CFG.priority)
    counts = subset_counts(subset)
    assert counts["clips_total"] == len(subset) == 10 * 8 * 3


def test_subset_is_deterministic_and_seed_dependent():
    clips = fake_clips(tracks_per_genre=8)
    cfg = dataclasses.replace(CFG, size=60)
    a, _ = build_subset(clips, cfg, seed=1, is_readable=lambda p: True)
    b, _ = build_subset(clips, cfg, seed=1, is_readable=lambda p: True)
    c, _ = build_subset(clips, cfg, seed=2, is_readable=lambda p: True)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_extra_hiphop_folder_is_added(tmp_path):
    folder = tmp_path / "my_beats"
    folder.mkdir()
    sf.write(folder / "beat1.wav", np.zeros(16000, dtype=np.float32), 16000)
    (folder / "notes.txt").write_text("not audio")
    subset, _ = build_subset(fake_clips(), dataclasses.replace(CFG, size=50, extra_hiphop_dirs=(str(folder),)), seed=0,
                             is_readable=lambda p: True)
    extra = subset[subset["clip_id"].str.startswith("extra/")]
    assert list(extra["genre"]) == ["hip-hop"] and extra["track"].iloc[0] == "extra/my_beats/beat1"


def test_bad_taxonomy_is_a_config_error_and_a_missing_folder_a_user_error(tmp_path):
    with pytest.raises(ConfigError, match="^subset: priority must list each genre"):
        parse(SubsetConfig, {**to_dict(CFG), "priority": list(CFG.priority[:-1])}, "subset")
    with pytest.raises(ConfigError, match="anchor_genre 'polka'"):
        parse(SubsetConfig, {**to_dict(CFG), "anchor_genre": "polka"}, "subset")
    with pytest.raises(UserError, match="not a folder"):
        build_subset(fake_clips(), dataclasses.replace(CFG, extra_hiphop_dirs=(str(tmp_path / "nope"),)), seed=0)


def test_audio_is_readable_detects_missing_empty_and_garbage(tmp_path):
    good = tmp_path / "good.flac"
    sf.write(good, np.zeros(1600, dtype=np.float32), 16000)
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"\x00garbage" * 100)
    assert audio_is_readable(good)
    assert not audio_is_readable(tmp_path / "missing.mp3")
    assert not audio_is_readable(empty)
    assert not audio_is_readable(garbage)


def test_split_spreads_each_subgenre_over_the_splits():
    """World: 10 `indian` tracks and 10 `spanish` ones. Test and valid take tracks of both, in
    proportion, whatever the seed: a held-out split of one sub-genre would measure only it."""
    from pipeline.data.subset import split_by_track, subgenre_of

    assert subgenre_of(["guitar", "spanish", "world"], CFG.genres["world"]) == "spanish"
    assert subgenre_of(["guitar"], CFG.genres["world"]) == ""
    tracks = [f"{sub}-{i}" for sub in ("indian", "spanish") for i in range(10)]
    frame = pd.DataFrame({"track": tracks, "genre": "world", "subgenre": [t.split("-")[0] for t in tracks]})
    for seed in range(5):
        split = split_by_track(frame, valid_fraction=0.2, test_fraction=0.2, seed=seed)
        counts = pd.crosstab(frame["subgenre"], split)
        assert (counts["test"] == 2).all() and (counts["valid"] == 2).all() and (counts["train"] == 6).all()


def test_heldout_tracks_go_to_test_and_the_others_split_as_without_them():
    clips = fake_clips(tracks_per_genre=8)
    cfg = dataclasses.replace(CFG, size=10_000)
    without, _ = build_subset(clips, cfg, seed=3, is_readable=lambda p: True)
    extra = fake_clips(tracks_per_genre=2).assign(clip_id=lambda f: f["clip_id"] + 10_000,
                                                  path=lambda f: "/held" + f["path"], track=lambda f: "held-" + f["track"])
    extra = extra[extra["track"] != "held-untagged"]
    both = pd.concat([clips.assign(heldout=False), extra.assign(heldout=True)], ignore_index=True)
    subset, stats = build_subset(both, cfg, seed=3, is_readable=lambda p: True)
    held = subset["track"].str.startswith("held-")
    assert (subset.loc[held, "split"] == "test").all() and stats["heldout_tracks"] == 2 * len(CFG.priority)
    pd.testing.assert_frame_equal(subset[~held].reset_index(drop=True), without)
