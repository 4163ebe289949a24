"""evaluate_style's bootstrap intervals (synthetic embeddings) and its scoring of real audio
folders (`style.evaluation.real_dirs`), down to the stage on a tiny trained model."""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from pipeline.audio import load_audio
from pipeline.config import ClipsConfig
from pipeline.data.clips import cut_clips
from pipeline.data.triplets import TripletSampler
from pipeline.errors import UserError
from pipeline.evaluation.bootstrap import track_bootstrap
from pipeline.evaluation.style import read_real_clips, real_metrics, style_metrics

sys.path.insert(0, str(Path(__file__).parent))
from test_style_stages import EVALUATE, TRAIN, _project  # noqa: E402

GENRES = ("hip-hop", "rock", "jazz")
HEADLINE = ("hiphop_roc_auc", "knn_genre_accuracy", "triplet_accuracy")
ONE_SECOND = ClipsConfig(seconds=1.0, hop_seconds=1.0)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _split(rng, tracks_per_genre: int, segments_per_track: int = 4):
    """Overlapping genre clusters (every score well inside (0, 1)): embeddings, genres, tracks."""
    centres = {"hip-hop": [1.0, 0, 0, 0], "rock": [0, 1.0, 0, 0], "jazz": [0, 0, 1.0, 0]}
    emb, genres, tracks = [], [], []
    for genre in GENRES:
        for t in range(tracks_per_genre):
            offset = 0.5 * rng.standard_normal(4)  # segments of one track move together
            for _ in range(segments_per_track):
                emb.append(np.array(centres[genre]) + offset + 0.5 * rng.standard_normal(4) + [0, 0, 0, 2.0])
                genres.append(genre)
                tracks.append(f"{genre}-{t}")
    return np.array(emb), np.array(genres), np.array(tracks)


def _intervals(tracks_per_genre: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(tracks_per_genre)
    train_emb, train_genres, _ = _split(rng, 20)
    test_emb, test_genres, test_tracks = _split(rng, tracks_per_genre)
    triplets = TripletSampler(test_genres, test_tracks, "hip-hop").held_out(200, np.random.default_rng(1))
    metrics, _ = style_metrics(train_emb, train_genres, test_emb, test_genres, triplets, distance="cosine",
                               anchor_genre="hip-hop", knn_k=5, test_tracks=test_tracks, resamples=300, seed=0)
    return metrics, metrics["ci95"]


def test_intervals_contain_the_point_and_shrink_with_more_tracks():
    few, few_ci = _intervals(4)
    many, many_ci = _intervals(40)
    for metrics, ci95 in ((few, few_ci), (many, many_ci)):
        assert set(ci95) == set(HEADLINE)
        for key in HEADLINE:
            assert 0 < metrics[key] < 1, key  # not a degenerate case
            assert ci95[key]["low"] <= metrics[key] <= ci95[key]["high"], key
    for key in HEADLINE:
        assert many_ci[key]["high"] - many_ci[key]["low"] < few_ci[key]["high"] - few_ci[key]["low"], key


def test_intervals_are_optional_and_leave_the_point_values_alone():
    rng = np.random.default_rng(0)
    emb, genres, tracks = _split(rng, 5)
    triplets = TripletSampler(genres, tracks, "hip-hop").held_out(50, np.random.default_rng(1))
    kwargs = dict(distance="l2", anchor_genre="hip-hop", knn_k=3)
    plain, predicted = style_metrics(emb, genres, emb, genres, triplets, **kwargs)
    with_ci, again = style_metrics(emb, genres, emb, genres, triplets, test_tracks=tracks, resamples=20, seed=0, **kwargs)
    assert "ci95" not in plain and with_ci.pop("ci95") and with_ci == plain and (again == predicted).all()


def test_stratified_resamples_keep_every_genre_and_whole_tracks():
    rng = np.random.default_rng(0)
    _, genres, tracks = _split(rng, 3, segments_per_track=2)
    genres[tracks == "jazz-2"] = "world"  # a genre of one track: always drawn, never resampled
    drawn = []

    def record(weights):
        drawn.append(weights.copy())
        return float(weights.sum())

    interval = track_bootstrap(tracks, genres, {"n": record}, resamples=200, seed=3)["n"]
    assert len(drawn) == 200 and interval == {"low": len(tracks), "high": len(tracks)}
    assert any(w[tracks == "hip-hop-0"].sum() != 2 for w in drawn)  # tracks are drawn, not kept
    for weights in drawn:
        for genre in set(genres):
            # as many tracks (x their 2 segments) as the genre has, so every genre is present
            assert weights[genres == genre].sum() == 2 * len(set(tracks[genres == genre])), genre
        for track in set(tracks):
            assert len(set(weights[tracks == track])) == 1  # a track's segments come together


def _real_scores(labels, tracks, resamples=50):
    rng = np.random.default_rng(0)
    train_emb, train_genres, _ = _split(rng, 4)
    real_emb = rng.standard_normal((len(labels), 4))
    return real_metrics(train_emb, train_genres, real_emb, np.array(labels), np.array(tracks), distance="cosine",
                        anchor_genre="hip-hop", knn_k=3, resamples=resamples, seed=0)


def test_real_metrics_skip_what_they_cannot_score():
    both = _real_scores(["hip-hop"] * 4 + ["other"] * 4, ["a", "a", "b", "b", "c", "c", "d", "d"])
    assert 0 <= both["real_hiphop_roc_auc"] <= 1
    ci = both["ci95"]["real_hiphop_roc_auc"]
    assert ci["low"] <= both["real_hiphop_roc_auc"] <= ci["high"]
    assert both["real_segments"] == 8 and both["real_tracks"] == 4
    assert {k: sum(v.values()) for k, v in both["real_knn_genre_counts"].items()} == {"hip-hop": 4, "other": 4}
    assert set().union(*both["real_knn_genre_counts"].values()) <= set(GENRES)

    one_track = _real_scores(["hip-hop"] * 4 + ["other"] * 4, ["a"] * 4 + ["c", "c", "d", "d"])
    assert "real_hiphop_roc_auc" in one_track and "ci95" not in one_track  # nothing to resample
    one_label = _real_scores(["other"] * 4, ["c", "c", "d", "d"])
    assert "real_hiphop_roc_auc" not in one_label and "ci95" not in one_label
    assert one_label["real_knn_genre_counts"].keys() == {"other"}


def _tone(path: Path, hz: float, seconds: float = 2.5, noise: float = 0.05, seed: int = 0) -> None:
    t = np.arange(int(seconds * 16000)) / 16000
    audio = 0.4 * np.sin(2 * np.pi * hz * t) + noise * np.random.default_rng(seed).standard_normal(len(t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.astype(np.float32), 16000)


def _real_folders(root: Path) -> dict:
    """hip-hop: two MagnaTagATune-named clips of one song and one of another (2 tracks); other:
    two noisy files (2 tracks). 2.5 s each: two 1 s segments."""
    for name, hz in (("artist-album-01-song-0-29.mp3", 110), ("artist-album-01-song-30-59.mp3", 112),
                     ("artist-album-02-other_song-0-29.mp3", 115)):
        _tone(root / "real/hh" / name, hz)
    for i, hz in enumerate((800, 1300)):
        _tone(root / "real/not-hh/sub" / f"take{i}.wav", hz, noise=0.3, seed=i)
    return {"hip-hop": ["real/hh"], "other": ["real/not-hh"]}


def test_real_segments_are_cut_as_the_corpus_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    real = read_real_clips(_real_folders(tmp_path), 16000, ONE_SECOND)
    assert len(real.waves) == 10 and {len(w) for w in real.waves} == {16000}
    assert list(real.labels) == ["hip-hop"] * 6 + ["other"] * 4
    assert len(set(real.tracks)) == 4 and len(set(real.tracks[:4])) == 1  # the two clips of `song`
    subset = pd.DataFrame([{"clip_id": "x", "path": "real/not-hh/sub/take1.wav", "genre": "g", "track": "x",
                            "split": "test"}])
    manifest = cut_clips(subset, tmp_path / "cut", 16000, 1.0, 1.0, workers=1)
    cut = [load_audio(tmp_path / "cut/g" / Path(p).name, 16000) for p in manifest["clip_path"]]
    assert len(cut) == 2 and all(np.array_equal(a, b) for a, b in zip(cut, real.waves[-2:]))
    assert read_real_clips({}, 16000, ONE_SECOND) is None


@pytest.mark.parametrize("make, message", [
    (lambda root: None, "is not a folder"),
    (lambda root: (root / "real/hh").mkdir(parents=True) or (root / "real/hh/notes.txt").write_text("x"), "no audio"),
    (lambda root: _tone(root / "real/hh/short.wav", 110, seconds=0.5), "at least clips.seconds"),
])
def test_unusable_real_folders_are_user_errors(tmp_path, monkeypatch, make, message):
    monkeypatch.chdir(tmp_path)
    make(tmp_path)
    with pytest.raises(UserError, match=message) as err:
        read_real_clips({"hip-hop": ("real/hh",)}, 16000, ONE_SECOND)
    assert "style.evaluation.real_dirs: hip-hop: real/hh" in str(err.value)


def _set_params(project: Path, real_dirs: dict) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["clips"] = {"seconds": 1, "hop_seconds": 1}  # as the tiny corpus is cut
    params["style"]["evaluation"].update(real_dirs=real_dirs, bootstrap_resamples=50)
    (project / "params.yaml").write_text(yaml.safe_dump(params))


def _files(project: Path) -> set[str]:
    """The project's files, less MLflow's store (which keeps copies of the metrics and plots)."""
    return {p.relative_to(project).as_posix() for p in project.rglob("*")
            if p.is_file() and not {"mlruns", "mlartifacts"} & set(p.relative_to(project).parts)}


def test_stage_scores_real_folders_and_writes_them_nowhere_else(tmp_path, monkeypatch, capsys):
    from stages import evaluate_style, train_style

    project = _project(tmp_path, monkeypatch)
    assert train_style.main(TRAIN) == 0
    clips_csv = (project / "data/clips.csv").read_bytes()
    _set_params(project, _real_folders(project))
    before = _files(project)

    assert evaluate_style.main(EVALUATE) == 0
    metrics = json.loads((project / "metrics/style.json").read_text())
    assert 0 <= metrics["real_hiphop_roc_auc"] <= 1 and "real_hiphop_roc_auc" in capsys.readouterr().out
    assert set(metrics["ci95"]) == {*HEADLINE, "real_hiphop_roc_auc"}
    for key, ci in metrics["ci95"].items():
        assert ci["low"] <= metrics[key] <= ci["high"], key
    assert metrics["real_segments"] == 10 and metrics["real_tracks"] == 4
    counts = metrics["real_knn_genre_counts"]
    assert {label: sum(c.values()) for label, c in counts.items()} == {"hip-hop": 6, "other": 4}
    assert set().union(*counts.values()) <= set(GENRES)
    # nothing real is written but the metrics: the corpus and the project's files are as they were
    assert (project / "data/clips.csv").read_bytes() == clips_csv
    assert _files(project) - before == {"metrics/style.json", "plots/style/tsne.png", "plots/style/confusion.png"}

    (project / "metrics/style.json").unlink()
    _set_params(project, {"hip-hop": ["real/nowhere"]})
    assert evaluate_style.main(EVALUATE) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "real/nowhere is not a folder" in err[0]
    assert not (project / "metrics/style.json").exists()
