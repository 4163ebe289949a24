"""The embedded MagnaTagATune-layout music corpus: layout, CSV dialect, tags -> genres, durations,
the missing and the corrupt clip, determinism, and the genre recipes' own parameters."""
import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pipeline.config import ConfigError, EmbeddedMusicConfig, load_params, parse, to_dict
from pipeline.data import embedded_music as em
from pipeline.data.embedded_music import vocals
from pipeline.data.embedded_music.corpus import INSTRUMENTALS
from pipeline.data.embedded_music.tags import NO_VOICE_TAGS, VOICE_TAGS
from pipeline.data.espeak import Espeak
from pipeline.data.embedded_music import synth as ms
from pipeline.data.mtat import CLIP_INFO, HELDOUT_TRACKS, prepare_mtat, read_annotations, track_of
from pipeline.data.subset import audio_is_readable, build_subset, genre_of
from pipeline.errors import UserError

PARAMS = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
TAXONOMY = PARAMS.subset
GENRES = tuple(TAXONOMY.genres)
TINY = dataclasses.replace(PARAMS.data.embedded_music, clips_per_genre=2, clips_per_track=2, untagged_clips=2,
                           heldout_tracks_per_genre=0, workers=2)
NAME = re.compile(r"^[0-9a-f]/[a-z0-9_]+-[a-z0-9_]+-\d\d-[a-z0-9_]+-(\d+)-(\d+)\.mp3$")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("mtat") / "corpus"
    em.build_embedded_mtat(root, TINY, TAXONOMY, sample_rate=16000, seed=3)
    return root, em.plan_corpus(TINY, TAXONOMY, seed=3)


def test_layout_and_csv_dialect(corpus):
    root, plan = corpus
    assert sorted(p.name for p in (root / "mp3").iterdir()) == list("0123456789abcdef")
    header = (root / "annotations_final.csv").read_text().splitlines()[0].split("\t")
    assert header == [f'"{c}"' for c in ("clip_id", *em.MTAT_TAGS, "mp3_path")]
    assert len(em.MTAT_TAGS) == len(set(em.MTAT_TAGS)) == 188
    annotations = read_annotations(root)
    assert set(annotations[list(em.MTAT_TAGS)].to_numpy().ravel()) <= {0, 1}
    info_lines = (root / CLIP_INFO).read_text().splitlines()
    info_columns = ("clip_id", "track_number", "title", "artist", "album", "url", "segmentStart", "segmentEnd",
                    "original_url", "mp3_path")
    assert info_lines[0].split("\t") == [f'"{c}"' for c in info_columns]
    assert all(field.startswith('"') and field.endswith('"') for line in info_lines for field in line.split("\t"))

    clips = prepare_mtat(root)
    assert len(clips) == len(plan) == 10 * 2 + 2
    assert clips["clip_id"].is_unique
    for path in clips["mp3_path"]:
        start, end = map(int, NAME.match(path).groups())
        assert end - start == 29
    # consecutive clips of a track share the name up to -<start>-<end> and one folder
    for track, rows in clips.groupby("track"):
        assert sorted(rows["mp3_path"].str.extract(r"-(\d+)-\d+\.mp3$")[0].astype(int)) == [0, 30][: len(rows)]
        assert rows["mp3_path"].str[0].nunique() == 1


def test_tags_map_to_the_intended_genre(corpus):
    root, plan = corpus
    assert all(set(t) <= set(em.MTAT_TAGS) for t in TAXONOMY.genres.values())
    clips = prepare_mtat(root).set_index("mp3_path")
    for row in plan.itertuples():
        mapped = genre_of(clips.loc[row.mp3_path, "tags"], TAXONOMY.genres, TAXONOMY.priority)
        assert mapped == (row.genre if row.tagged else None), (row.mp3_path, row.tags)
    assert (~plan["tagged"]).sum() == 2 and (plan.loc[~plan["tagged"], "genre"] != "hip-hop").all()


def test_clips_are_29_1_s_mono_16k_mp3(corpus):
    root, plan = corpus
    for row in plan[plan["fate"] == "ok"].itertuples():
        info = sf.info(str(root / "mp3" / row.mp3_path))
        assert (info.format, info.samplerate, info.channels) == ("MP3", 16000, 1)
        # a constant-bitrate MP3 keeps LAME's ~0.1 s of encoder delay and padding on decoding
        assert 29.1 <= info.frames / 16000 <= 29.25
    audio, _ = sf.read(str(root / "mp3" / plan.loc[plan["fate"] == "ok", "mp3_path"].iloc[0]))
    assert 0.01 < np.sqrt(np.mean(audio ** 2)) and np.max(np.abs(audio)) <= 1.0


def test_one_missing_and_one_corrupt_clip_never_hiphop(corpus):
    root, plan = corpus
    missing, corrupt = plan[plan["fate"] == "missing"], plan[plan["fate"] == "corrupt"]
    assert len(missing) == len(corrupt) == 1
    assert not (root / "mp3" / missing["mp3_path"].iloc[0]).exists()
    corrupt_path = root / "mp3" / corrupt["mp3_path"].iloc[0]
    assert corrupt_path.is_file() and not audio_is_readable(corrupt_path)
    assert set(missing["genre"]) | set(corrupt["genre"]) <= set(GENRES) - {"hip-hop"}
    assert missing["tagged"].all() and corrupt["tagged"].all()
    listed = set(read_annotations(root)["mp3_path"])
    assert {missing["mp3_path"].iloc[0], corrupt["mp3_path"].iloc[0]} <= listed


def _tree_bytes(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path):
    short = dataclasses.replace(TINY, clips_per_genre=1, clips_per_track=1, untagged_clips=1, clip_seconds=3.0)
    em.build_embedded_mtat(tmp_path / "a", dataclasses.replace(short, workers=1), TAXONOMY, 16000, seed=5)
    em.build_embedded_mtat(tmp_path / "b", dataclasses.replace(short, workers=2), TAXONOMY, 16000, seed=5)
    em.build_embedded_mtat(tmp_path / "c", dataclasses.replace(short, workers=2), TAXONOMY, 16000, seed=6)
    a, b, c = (_tree_bytes(tmp_path / x) for x in "abc")
    # CSVs + clips - the missing one + the hip-hop track's instrumental and its list + the held-out list
    assert len(a) == 2 + 10 + 1 - 1 + 2 + 1
    assert a == b
    assert a != c


def test_hiphop_is_mostly_boom_bap_at_80_to_100_bpm_and_raps_over_other_backings():
    styles = {}
    for track in range(200):
        song = em.draw_song("hip-hop", 0, track, 16000, 4.0)
        styles[song.style] = styles.get(song.style, 0) + 1
        if song.style == "boom bap":
            assert 80 <= song.bpm <= 100 and 0.5 < song.swing < 0.7
    assert styles["boom bap"] > 200 * 0.7 and set(styles) == {"boom bap", "jazz rap", "rap rock", "electro rap"}
    boom_bap = [t for t in range(40) if em.draw_song("hip-hop", 0, t, 16000, 1.0).style == "boom bap"]
    for track in boom_bap[:6]:   # the hats always swing: 16th hats on the 16ths, 8th hats on the 8ths
        song = em.draw_song("hip-hop", 0, track, 16000, 3.0)
        em.render_track(song, (-20, -20), (-60, -60))
        hats = song.params["hat_steps"]
        swung = [h for h in hats if h % (2 * song.swing_steps) == song.swing_steps]
        assert swung and song.params["kick_steps"][0] == 0 and song.params["loop_bars"] in (1, 2)
    other = em.draw_song("hip-hop", 0, next(t for t in range(200) if em.draw_song("hip-hop", 0, t, 16000, 1.0).style
                                             != "boom bap"), 16000, 3.0)
    audio, _ = em.render_track(other, (-20, -20), (-60, -60))
    assert other.style == other.params["style"] != "boom bap" and np.std(audio) > 1e-3   # style restored


def test_genre_tempo_ranges_differ_and_every_style_renders():
    styles = set()
    for genre in GENRES:
        for track in range(12):
            song = em.draw_song(genre, 1, track, 16000, 2.0)
            low, high, _ = em.RECIPES[genre].spec.styles[song.style]
            assert low <= song.bpm <= high
            if (genre, song.style) not in styles:
                styles.add((genre, song.style))
                audio, _ = em.render_track(song, (-20, -20), (-60, -60))
                assert audio.dtype == np.float32 and len(audio) == 32000
                assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) <= 1.0 and np.std(audio) > 1e-3
    assert len(styles) >= 28


def _tiny_config(**changes) -> EmbeddedMusicConfig:
    return parse(EmbeddedMusicConfig, {**to_dict(TINY), **changes}, "data.embedded_music")


def test_bad_config_is_a_config_error_and_non_empty_root_a_user_error(tmp_path):
    with pytest.raises(ConfigError, match="clip_secs: unknown key"):
        _tiny_config(clip_secs=29)
    with pytest.raises(ConfigError, match="clips_per_genre"):
        _tiny_config(clips_per_genre=0)
    with pytest.raises(ConfigError, match="bitrate_mode"):
        _tiny_config(bitrate_mode="fast")
    assert _tiny_config() == TINY
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="empty folder"):
        em.build_embedded_mtat(tmp_path / "full", TINY, TAXONOMY, 16000, 0)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


def test_config_that_does_not_fit_the_taxonomy_is_a_value_error(tmp_path):
    too_many = dataclasses.replace(TINY, missing_clips=10, corrupt_clips=9)   # 9 genres x 2 clips outside hip-hop
    with pytest.raises(ValueError, match="more than the 18 clips outside the anchor genre 'hip-hop'"):
        em.build_embedded_mtat(tmp_path / "x", too_many, TAXONOMY, 16000, 0)
    polka = dataclasses.replace(TAXONOMY, genres={**TAXONOMY.genres, "polka": ("polka",)},
                                priority=(*TAXONOMY.priority, "polka"))
    with pytest.raises(ValueError, match="no recipe for genre 'polka'"):
        em.build_embedded_mtat(tmp_path / "x", TINY, polka, 16000, 0)
    no_punk = dataclasses.replace(TAXONOMY, genres={**TAXONOMY.genres, "rock": ("rock", "hard rock", "soft rock")})
    with pytest.raises(ValueError, match=r"rock lacks \['punk'\]"):
        em.build_embedded_mtat(tmp_path / "x", TINY, no_punk, 16000, 0)
    assert not (tmp_path / "x").exists()


def test_track_names_follow_mtat():
    plan = em.plan_corpus(dataclasses.replace(TINY, clips_per_genre=8, clips_per_track=4), TAXONOMY, seed=0)
    assert plan["mp3_path"].map(lambda p: bool(NAME.match(p))).all()
    plan = plan[plan["tagged"]]
    starts = plan.groupby(plan["mp3_path"].map(track_of))["segment_start"].apply(list)
    assert all(s == [0, 30, 59, 88] for s in starts)
    assert em.segment_bounds(3, 29.1) == (88, 117)


@pytest.mark.parametrize("freq", [82.4, 220.0, 659.3])
def test_plucked_and_sawtooth_notes_are_in_tune(freq):
    rng = np.random.default_rng(0)
    for note in (ms.pluck(freq, 16000, 16000, rng, 0.6, 0.996), ms.saw(freq, 16000, 16000)):
        assert abs(np.mean(note)) < 0.01
        head = note[:8000] - np.mean(note[:8000])
        autocorrelation = np.correlate(head, head, "full")[len(head) - 1:]
        lags = np.arange(len(autocorrelation))
        search = (lags > 16000 / 1500) & (lags < 16000 / 60)
        strong = lags[search][autocorrelation[search] > 0.8 * autocorrelation[search].max()]
        first = strong[0]   # the first strong peak is the period (later ones are its multiples)
        period = first + np.argmax(autocorrelation[first: first + 4])
        assert abs(16000 / period - freq) / freq < 0.03   # within half a semitone


def test_swing_delays_the_off_steps_only():
    song = em.Song(np.random.default_rng(0), 16000, 4.0, bpm=90.0, root=40, scale=em.SCALES["minor"],
                   swing=0.6, humanize_s=0.0)
    step = song.step_s
    assert song.t(0, 0) == 0.0 and song.t(0, 2) == pytest.approx(2 * step)
    assert song.t(0, 1) == pytest.approx(step * (1 + 2 * 0.1))   # 60:40 swung 16ths


def test_rap_onsets_fall_on_the_beat_grid():
    """Every word starts on a 16th of the track's own grid, and a listener hears it there: an
    onset detector finds most words within 30 ms, and most of what it finds sits on the grid."""
    import librosa

    song = em.draw_song("hip-hop", 0, 2, 16000, 20.0)
    rng = np.random.default_rng(0)
    part, onsets = vocals.rap(song, rng, vocals.WordSynth(Espeak(), 16000, 0), PARAMS.data.embedded_music.rap_voices)
    grid = np.array([song.t(bar, step, jitter=False) for bar in song.bars() for step in range(song.steps_per_bar)])
    assert len(onsets) > 20 and all(np.min(np.abs(grid - at)) < 1e-9 for at in onsets)
    heard = librosa.onset.onset_detect(y=part.astype(np.float32), sr=16000, units="time", backtrack=True)
    on_grid = np.mean([np.min(np.abs(grid - at)) < 0.03 for at in heard])   # the rest: syllables inside words
    found = np.mean([np.min(np.abs(heard - at)) < 0.03 for at in onsets])
    assert len(heard) > 10 and on_grid >= 0.6 and found >= 0.85, (len(heard), on_grid, found)


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.7, 1.0])
def test_each_genres_vocal_rate_matches_its_param(rate):
    cfg = dataclasses.replace(TINY, clips_per_genre=20, clips_per_track=1, untagged_clips=0,
                              vocals={g: rate for g in GENRES})
    plan = em.plan_corpus(cfg, TAXONOMY, seed=0)
    shares = plan.groupby("genre")["vocal"].mean()
    assert set(shares.index) == set(GENRES) and np.allclose(shares.to_numpy(), round(rate * 20) / 20)
    for tags, vocal in zip(plan["tags"], plan["vocal"]):
        assert not set(tags) & (NO_VOICE_TAGS if vocal else VOICE_TAGS), tags


def test_the_default_rates_give_every_hiphop_track_a_rap():
    plan = em.plan_corpus(PARAMS.data.embedded_music, TAXONOMY, seed=0)
    tracks = plan[plan["tagged"]].drop_duplicates(["genre", "track"]).set_index("genre")["vocal"].groupby(level=0).mean()
    assert tracks["hip-hop"] == 1.0 and tracks["ambient-newage"] < tracks["classical"] < tracks["pop"] < 1.0


def test_hiphop_instrumentals_sit_beside_the_mtat_layout(corpus):
    root, plan = corpus
    listed = (root / f"{INSTRUMENTALS}.csv").read_text().splitlines()
    hiphop_tracks = plan[(plan["genre"] == "hip-hop") & plan["tagged"]]["track"].nunique()
    assert listed[0] == "track,path,bpm,seconds" and len(listed) == 1 + hiphop_tracks
    for line in listed[1:]:
        track, path, bpm, seconds = line.split(",")
        info = sf.info(str(root / path))
        assert path.startswith(f"{INSTRUMENTALS}/") and 80 <= float(bpm) <= 100
        assert info.samplerate == 16000 and abs(info.duration - float(seconds)) < 1e-3
        assert any(track in p for p in plan["mp3_path"])   # the instrumental of a corpus track
    assert not any(INSTRUMENTALS in p for p in prepare_mtat(root)["path"])   # outside the MTAT layout


def test_heldout_tracks_leave_every_other_track_as_it_was():
    base = dataclasses.replace(TINY, clips_per_genre=8, clips_per_track=2, untagged_clips=2)
    without = em.plan_corpus(base, TAXONOMY, seed=0)
    plan = em.plan_corpus(dataclasses.replace(base, heldout_tracks_per_genre=3), TAXONOMY, seed=0)
    rest, held = plan[~plan["heldout"]].reset_index(drop=True), plan[plan["heldout"]]
    pd.testing.assert_frame_equal(rest, without)   # same names, ids, tags, fates: so the same split
    tracks = held.drop_duplicates(["genre", "track"])
    assert tracks.groupby("genre").size().to_dict() == {g: 3 for g in GENRES}
    assert (held.groupby(["genre", "track"]).size() == 2).all() and (held["fate"] == "ok").all() and held["tagged"].all()
    assert held["clip_id"].min() > without["clip_id"].max() and plan["clip_id"].is_unique and plan["mp3_path"].is_unique
    assert not set(map(track_of, held["mp3_path"])) & set(map(track_of, without["mp3_path"]))
    assert not set(held["track"]) & set(without["track"])   # new songs, not copies (the track number seeds them)


@pytest.mark.parametrize("rate", [0.0, 0.5, 1.0])
def test_heldout_tracks_have_their_genres_vocal_rate(rate):
    cfg = dataclasses.replace(TINY, clips_per_genre=4, clips_per_track=1, untagged_clips=0, heldout_tracks_per_genre=6,
                              vocals={g: rate for g in GENRES})
    plan = em.plan_corpus(cfg, TAXONOMY, seed=0)
    shares = plan[plan["heldout"]].groupby("genre")["vocal"].mean()
    assert np.allclose(shares.to_numpy(), round(rate * 6) / 6)


def test_heldout_tracks_are_listed_beside_the_layout_and_go_to_test(tmp_path):
    cfg = dataclasses.replace(TINY, clips_per_genre=3, clips_per_track=1, untagged_clips=0, missing_clips=0,
                              corrupt_clips=0, heldout_tracks_per_genre=1, clip_seconds=3.0)
    root = tmp_path / "corpus"
    em.build_embedded_mtat(root, cfg, TAXONOMY, 16000, seed=4)
    listed = pd.read_csv(root / HELDOUT_TRACKS)["track"]
    clips = prepare_mtat(root)
    assert len(listed) == len(GENRES) and set(clips.loc[clips["heldout"], "track"]) == set(listed)
    assert clips.groupby("track")["heldout"].nunique().max() == 1 and (~clips["heldout"]).sum() == 3 * len(GENRES)
    subset, stats = build_subset(clips, dataclasses.replace(TAXONOMY, valid_fraction=0.0, test_fraction=0.34), seed=0)
    split = subset.set_index("track")["split"]
    assert (split[list(listed)] == "test").all() and stats["heldout_tracks"] == len(GENRES)
    # each genre: its 3 other tracks split 2 train / 1 test, plus its held-out one in test
    assert subset.groupby(["genre", "split"]).size().unstack().to_dict("list") == {"test": [2] * len(GENRES), "train": [2] * len(GENRES)}
