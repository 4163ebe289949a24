"""The train_style and evaluate_style stages end to end on a tiny synthetic corpus, plus the
evaluation metrics on hand-made embeddings."""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from pipeline.evaluation.style import centroid_scores, style_metrics

sys.path.insert(0, str(Path(__file__).parent))
from test_style_training import tiny_style_params  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TONES = {"hip-hop": 110.0, "rock": 440.0, "jazz": 1200.0}
TRAIN = ["--clips", "data/clips.csv", "--model", "models/style_encoder.pt", "--curves", "metrics/style_curves.csv"]
EVALUATE = ["--clips", "data/clips.csv", "--model", "models/style_encoder.pt", "--metrics", "metrics/style.json",
            "--tsne", "plots/style/tsne.png", "--confusion", "plots/style/confusion.png"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _project(tmp_path: Path, monkeypatch) -> Path:
    """A project folder: params.yaml with the tiny style section, 1 s clips of 3 genres x 4 tracks
    (2 train, 1 valid, 1 test), data/clips.csv."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["style"] = tiny_style_params(epochs=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    rng = np.random.default_rng(0)
    rows, t = [], np.arange(16000) / 16000
    for genre, hz in TONES.items():
        (tmp_path / "data/clips" / genre).mkdir(parents=True)
        for track, split in enumerate(["train", "train", "valid", "test"]):
            for seg in range(2):
                audio = 0.4 * np.sin(2 * np.pi * hz * (1 + 0.02 * track) * t) + 0.05 * rng.standard_normal(len(t))
                path = f"data/clips/{genre}/{genre}{track}-{seg}.flac"
                sf.write(tmp_path / path, audio.astype(np.float32), 16000)
                rows.append({"clip_path": path, "clip_id": f"{genre}{track}", "genre": genre,
                             "track": f"{genre}-{track}", "split": split, "start_s": float(seg)})
    pd.DataFrame(rows).to_csv(tmp_path / "data/clips.csv", index=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def test_stages_end_to_end(tmp_path, monkeypatch):
    from stages import evaluate_style, train_style

    project = _project(tmp_path, monkeypatch)
    assert train_style.main(TRAIN) == 0
    curves = pd.read_csv(project / "metrics/style_curves.csv")
    assert curves["epoch"].tolist() == [1, 2]
    assert {"train_loss", "valid_triplet_accuracy"} <= set(curves.columns)

    assert evaluate_style.main(EVALUATE) == 0
    metrics = json.loads((project / "metrics/style.json").read_text())
    for key in ("triplet_accuracy", "hiphop_roc_auc", "knn_genre_accuracy", "silhouette", "q"):
        assert isinstance(metrics[key], float), key
    assert metrics["distance"] == "cosine" and metrics["triplets_same_track"] is True
    for png in ("plots/style/tsne.png", "plots/style/confusion.png"):
        assert (project / png).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_stages_are_deterministic_and_read_the_loss_params(tmp_path, monkeypatch):
    from stages import evaluate_style, train_style

    project = _project(tmp_path, monkeypatch)
    assert train_style.main(TRAIN) == 0
    model_bytes = (project / "models/style_encoder.pt").read_bytes()
    # same params -> byte-identical model; params reach the stage (-S style.loss=l2 ...)
    assert train_style.main(TRAIN) == 0
    assert (project / "models/style_encoder.pt").read_bytes() == model_bytes
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["style"].update(loss="l2", margin=5.0, mining="max_negatives")
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert train_style.main(TRAIN) == 0 and evaluate_style.main(EVALUATE) == 0
    assert json.loads((project / "metrics/style.json").read_text())["distance"] == "l2"


def test_stages_bad_input_one_line_no_output(tmp_path, monkeypatch, capsys):
    from stages import evaluate_style, train_style

    project = _project(tmp_path, monkeypatch)
    clips = pd.read_csv(project / "data/clips.csv")
    clips.loc[0, "clip_path"] = "data/clips/nowhere.flac"
    clips.to_csv(project / "data/clips.csv", index=False)
    assert train_style.main(TRAIN) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # above it: MLflow's own log lines
    assert err.startswith("error: ") and "nowhere.flac" in err
    assert not (project / "models").exists() and not (project / "metrics/style_curves.csv").exists()

    assert evaluate_style.main(EVALUATE) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "models/style_encoder.pt" in err and "dvc repro train_style" in err
    assert not (project / "metrics/style.json").exists() and not (project / "plots").exists()


def test_stages_with_a_bad_params_key_fail_in_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    from stages import evaluate_style, train_style

    project = _project(tmp_path, monkeypatch)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["style"]["encoder"]["blocks"][1]["kind"] = "lstm"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    for stage, argv in ((train_style, TRAIN), (evaluate_style, EVALUATE)):
        assert stage.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "style.encoder.blocks[1].kind" in err and err.count("\n") == 1
    assert not (project / "models").exists() and not (project / "metrics").exists()
    assert not (project / "mlflow.db").exists()  # stopped before opening a run


def test_stages_need_their_paths(capsys):
    from stages import evaluate_style, train_style

    for stage, argv, missing in ((train_style, TRAIN[:-2], "--curves"), (evaluate_style, EVALUATE[2:], "--clips")):
        with pytest.raises(SystemExit) as exit_:
            stage.main(argv)
        assert exit_.value.code == 2 and missing in capsys.readouterr().err


def test_metrics_on_separated_embeddings():
    rng = np.random.default_rng(0)
    genres = np.repeat(["hip-hop", "rock", "jazz"], 10)
    centres = {"hip-hop": [5, 0, 0], "rock": [0, 5, 0], "jazz": [0, 0, 5]}
    emb = np.array([centres[g] for g in genres], dtype=float) + 0.1 * rng.standard_normal((30, 3))
    hiphop = np.flatnonzero(genres == "hip-hop")
    triplets = (hiphop, np.roll(hiphop, 1), np.flatnonzero(genres == "rock"))
    for distance in ("cosine", "l2"):
        metrics, predicted = style_metrics(emb, genres, emb, genres, triplets, distance=distance,
                                           anchor_genre="hip-hop", knn_k=5)
        assert metrics["triplet_accuracy"] == metrics["hiphop_roc_auc"] == metrics["knn_genre_accuracy"] == 1.0
        assert metrics["silhouette"] > 0.8
        assert (predicted == genres).all()
    scores = centroid_scores(emb, genres == "hip-hop", emb, "cosine")
    assert scores[hiphop].min() > scores[genres != "hip-hop"].max()


def test_metrics_need_the_anchor_genre_in_test():
    emb = np.eye(4)
    with pytest.raises(Exception, match="hip-hop"):
        style_metrics(emb, np.array(["rock", "jazz"] * 2), emb, np.array(["rock", "jazz"] * 2),
                      (np.array([0]), np.array([1]), np.array([2])), distance="l2", anchor_genre="hip-hop", knn_k=1)
