"""Content encoder training on a tiny espeak-ng corpus: overfitting, save/load, byte-identical
checkpoints, checkpoint format checks, the stage and the `transcribe` CLI."""
import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

from pipeline.audio import FrontEnd, load_audio
from pipeline.data.embedded_speech import build_embedded_librispeech
from pipeline.data.librispeech import prepare_librispeech, speech_manifest
from pipeline.config import (ContentModelConfig, ContentTrainConfig, EmbeddedSpeechConfig, SplitsConfig, deep_merge,
                             parse)
from pipeline.models.content_encoder import (CHECKPOINT, ContentEncoder, content_checkpoint_bytes, load_content_encoder,
                                             save_content_encoder)
from pipeline.seeding import seed_everything
from pipeline.training.content import error_rate, load_utterances, train_content_encoder

SPLITS = {"train": ["train-clean-100"], "dev": ["dev-clean"], "test": ["test-clean"]}
CORPUS = {
    "utterances": 40, "dev_fraction": 0.1, "test_fraction": 0.2, "unseen_share_of_test": 0.5,
    "voices": ["en-us", "en-gb-x-rp", "en-029"], "variants": ["", "f3", "m2"], "speakers": 8,
    "unseen_voice": "en-gb-x-gbcwmd", "unseen_variants": ["m7"], "unseen_speakers": 2,
    "pitch": [40, 60], "pitch_range": [40, 60], "rate": [170, 180], "vocabulary_size": 500, "min_words": 2, "max_words": 4, "end_silence_seconds": 0.1,
}
SMALL_MODEL_PARAMS = {"conv_channels": [8, 8], "conv_kernels": [[41, 11], [21, 11]], "conv_strides": [[2, 2], [2, 1]],
                      "head_stride": 1, "rnn_type": "gru", "rnn_hidden": 64, "rnn_layers": 1, "content_layers": [2]}
# cycle_momentum: 240 updates on 4 utterances overfit to ~0 CER with beta1 cycling, to 0.12 without.
TRAIN_PARAMS = {"epochs": 1, "batch_size": 4, "eval_batch_size": 8, "bucket_frames": 50, "sortagrad": False, "lr": 3e-3,
                "weight_decay": 0.0, "warmup_fraction": 0.05, "final_lr_fraction": 0.1, "grad_clip": 5.0,
                "spec_augment": None, "max_seconds": 20, "max_train_utterances": None, "cycle_momentum": True}
SMALL_MODEL = parse(ContentModelConfig, SMALL_MODEL_PARAMS, "content.model")
TRAIN = parse(ContentTrainConfig, TRAIN_PARAMS, "content.train")
STAGE_PATHS = ["--speech", "data/speech.csv", "--music", "data/clips.csv", "--model", "models/content_encoder.pt",
               "--metrics", "metrics/content.json", "--curves", "metrics/content_curves.csv"]


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> pd.DataFrame:
    """The speech manifest (as download_librispeech writes it) of a 40-utterance corpus."""
    root = tmp_path_factory.mktemp("speech")
    splits = parse(SplitsConfig, SPLITS, "data.librispeech.splits")
    build_embedded_librispeech(root, parse(EmbeddedSpeechConfig, CORPUS, "data.embedded_speech"), splits, 16000, seed=0)
    return speech_manifest(prepare_librispeech(root, splits.subsets()), splits)


@pytest.fixture(scope="module")
def handful(speech):
    seed_everything(0)
    return load_utterances(speech[speech["split"] == "train"].head(4), FrontEnd())


def train_small(handful, epochs: int, seed: int = 0, batch_size: int = 4, device: str = "cpu"):
    """(model, curves, best_epoch), trained and judged on the same handful."""
    return train_content_encoder(handful, handful, FrontEnd(), SMALL_MODEL,
                                 dataclasses.replace(TRAIN, epochs=epochs, batch_size=batch_size), seed,
                                 torch.device(device))


def test_overfits_a_handful_of_utterances(handful, speech):
    model, curves, best_epoch = train_small(handful, epochs=60, batch_size=1)  # 240 updates, ~10 s on 2 cores
    assert [row["epoch"] for row in curves] == list(range(1, 61))
    assert curves[-1]["train_loss"] < curves[0]["train_loss"] / 5
    assert min(row["dev_cer"] for row in curves) <= 0.05  # near zero on what it trained on
    # the weights kept are the first epoch with the lowest dev CER
    best_cer = min(row["dev_cer"] for row in curves)
    assert best_epoch == next(row["epoch"] for row in curves if row["dev_cer"] == best_cer)
    first = speech[speech["split"] == "train"].iloc[0]
    assert error_rate([first["transcript"]], [model.transcribe(load_audio(first["path"], 16000))]) <= 0.05


def test_save_load_round_trip_gives_identical_outputs(handful, tmp_path):
    model, _, _ = train_small(handful, epochs=2)
    path = tmp_path / "content_encoder.pt"
    save_content_encoder(model, path)
    loaded = load_content_encoder(path)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    spectrogram = handful.spectrograms[1].float()[None]
    lengths = torch.tensor([spectrogram.shape[-1]])
    torch.testing.assert_close(loaded(spectrogram, lengths)[0], model(spectrogram, lengths)[0], rtol=0, atol=0)
    assert loaded.front_end == model.front_end and loaded.config == model.config
    assert path.read_bytes() == content_checkpoint_bytes(loaded)


def test_same_seed_gives_byte_identical_checkpoints(handful, device):
    seed_everything(0)
    first, curves, _ = train_small(handful, epochs=2, device=device)
    seed_everything(0)
    again, curves_again, _ = train_small(handful, epochs=2, device=device)
    assert content_checkpoint_bytes(again) == content_checkpoint_bytes(first) and curves_again == curves
    assert content_checkpoint_bytes(train_small(handful, epochs=2, seed=1, device=device)[0]) != \
        content_checkpoint_bytes(first)


def test_loading_a_missing_or_foreign_file_fails_with_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="no content.encoder at .*missing.pt.*dvc repro pretrain_content"):
        load_content_encoder(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a content.encoder checkpoint"):
        load_content_encoder(tmp_path / "junk.pt")


def save_tiny(path, front_end=FrontEnd()):
    """A freshly initialised (untrained) tiny encoder, saved."""
    torch.manual_seed(0)
    model = ContentEncoder(front_end, dataclasses.replace(SMALL_MODEL, rnn_hidden=8))
    save_content_encoder(model, path)
    return model


def rewrite(path, **changes):
    """Load a checkpoint's payload, change fields, save it back (what an old or foreign file holds)."""
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)


def test_checkpoint_of_another_version_is_a_one_line_error(tmp_path, capsys):
    from pipeline.cli import main as cli

    path = tmp_path / "content_encoder.pt"
    save_tiny(path)
    payload = torch.load(path, weights_only=True)
    assert (payload["format"], payload["version"]) == CHECKPOINT
    rewrite(path, version=CHECKPOINT[1] - 1)
    old, current = CHECKPOINT[1] - 1, CHECKPOINT[1]
    with pytest.raises(ValueError, match=f"version {old}, this code reads version {current}") as err:
        load_content_encoder(path)
    assert "\n" not in str(err.value) and "dvc repro pretrain_content" in str(err.value)
    # what the user sees: one line, exit 2
    assert cli(["transcribe", "any.wav", "--model", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"version {CHECKPOINT[1] - 1}" in err and err.count("\n") == 1


def test_checkpoint_of_another_format_or_alphabet_is_an_error(tmp_path):
    path = tmp_path / "content_encoder.pt"
    save_tiny(path)
    rewrite(path, format="style_encoder")
    with pytest.raises(ValueError, match="not a content.encoder checkpoint"):
        load_content_encoder(path)
    save_tiny(path)
    rewrite(path, alphabet="ABC")
    with pytest.raises(ValueError, match="another alphabet"):
        load_content_encoder(path)
    torch.save({"weights": torch.zeros(2)}, path)  # a torch file, but not a checkpoint of ours
    with pytest.raises(ValueError, match="not a content.encoder checkpoint"):
        load_content_encoder(path)


def test_checkpoint_keeps_its_own_front_end(tmp_path):
    """Loading rebuilds the encoder from the file alone, whatever params.yaml now says."""
    path = tmp_path / "content_encoder.pt"
    front_end = FrontEnd(window="hann")
    model = save_tiny(path, front_end)
    loaded = load_content_encoder(path)
    assert loaded.front_end == front_end and loaded.config == model.config
    assert isinstance(loaded.config, ContentModelConfig)


def write_music_clips(folder) -> pd.DataFrame:
    """A tiny clips manifest as cut_clips writes it: 3 s of chords and clicks per segment, two
    train and two test segments (the music laid under speech)."""
    rng, t = np.random.default_rng(0), np.arange(3 * 16000) / 16000
    rows = []
    for i, split in enumerate(["train", "train", "test", "test"]):
        audio = 0.1 * np.sin(2 * np.pi * (110 + 40 * i) * t) + 0.2 * rng.standard_normal(len(t)) * (t % 0.5 < 0.02)
        path = folder / "clips" / f"{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, audio.astype(np.float32), 16000)
        rows.append({"clip_path": str(path), "clip_id": str(i), "genre": "hip-hop", "track": f"t{i}", "split": split,
                     "start_s": 0.0})
    frame = pd.DataFrame(rows)
    frame.to_csv(folder / "clips.csv", index=False)
    return frame


@pytest.fixture()
def project(tmp_path, monkeypatch, speech):
    """A scratch project folder: params.yaml with the tiny content section, data/speech.csv."""
    params = yaml.safe_load(open("params.yaml"))
    tiny = yaml.safe_load(open("tests/tiny_params.yaml"))
    params["content"] = deep_merge(params["content"], tiny["content"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "data").mkdir()
    speech.to_csv(tmp_path / "data" / "speech.csv", index=False)
    write_music_clips(tmp_path / "data")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_stage_runs_in_the_tiny_profile_and_transcribe_uses_its_model(project, speech, capsys):
    from pipeline.cli import main as cli
    from stages.pretrain_content import main as stage

    assert stage(STAGE_PATHS) == 0
    metrics = yaml.safe_load((project / "metrics" / "content.json").read_text())
    for key in ("dev_cer", "dev_wer", "test_cer", "test_wer", "test_unseen_speaker_cer", "test_all_cer", "params",
                "test_all_music_10db_cer", "test_all_music_0db_cer", "test_unseen_speaker_music_10db_cer"):
        assert metrics[key] is not None
    assert "train_seconds" not in metrics  # wall clock: logged to MLflow, kept out of the metrics file
    assert metrics["speakers"]["train"] == CORPUS["speakers"]
    # the corpus's test split: unseen sentences by training speakers, plus a speaker never heard
    assert metrics["test_utterances"] + metrics["test_unseen_speaker_utterances"] == metrics["test_all_utterances"]
    assert metrics["test_utterances"] > 0 and metrics["test_unseen_speaker_utterances"] > 0
    assert min(metrics["test_cer"], metrics["test_unseen_speaker_cer"]) <= metrics["test_all_cer"] \
        <= max(metrics["test_cer"], metrics["test_unseen_speaker_cer"])
    curves = pd.read_csv(project / "metrics" / "content_curves.csv")
    assert list(curves.columns[:3]) == ["epoch", "train_loss", "dev_cer"] and len(curves) >= 1
    model = load_content_encoder(project / "models" / "content_encoder.pt")
    capsys.readouterr()

    wav = project / "stereo-22k.wav"
    samples = load_audio(speech["path"].iloc[0], 22050)
    sf.write(wav, torch.tensor(samples).unsqueeze(1).repeat(1, 2).numpy(), 22050)  # any rate, any channels
    assert cli(["transcribe", str(wav), "--model", "models/content_encoder.pt"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == model.transcribe(load_audio(wav, 16000))
    assert set(printed) <= set(" 'ABCDEFGHIJKLMNOPQRSTUVWXYZ")

    assert cli(["transcribe", "missing.flac", "--model", "models/content_encoder.pt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.flac" in err and err.count("\n") == 1
    assert cli(["transcribe", str(wav), "--model", "models/nowhere.pt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nowhere.pt" in err and err.count("\n") == 1


def test_stage_without_the_speech_manifest_fails_in_one_line(project, capsys):
    from stages.pretrain_content import main as stage

    shutil.rmtree(project / "data")
    assert stage(STAGE_PATHS) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "speech.csv" in err and err.count("\n") == 1
    assert not (project / "models").exists()


def test_stage_with_a_bad_params_key_fails_in_one_line_before_any_work(project, capsys):
    from stages.pretrain_content import main as stage

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["content"]["model"]["rnn_hiden"] = 16  # a misspelt key
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert stage(STAGE_PATHS) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "content.model.rnn_hiden" in err and err.count("\n") == 1
    assert not (project / "models").exists() and not (project / "metrics").exists()


def test_stage_needs_its_paths(project, capsys):
    from stages.pretrain_content import main as stage

    with pytest.raises(SystemExit) as exit_:
        stage(STAGE_PATHS[:-2])  # no --curves
    assert exit_.value.code == 2 and "--curves" in capsys.readouterr().err
