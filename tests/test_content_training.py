"""Content encoder training on a tiny espeak-ng corpus: overfitting, save/load, byte-identical
checkpoints, the stage and the `transcribe` CLI."""
import shutil

import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

from pipeline.audio import FrontEnd, load_audio
from pipeline.data.embedded_speech import build_embedded_librispeech
from pipeline.data.librispeech import prepare_librispeech
from pipeline.errors import UserError
from pipeline.models.content_encoder import checkpoint_bytes, load_content_encoder, save_content_encoder
from pipeline.params import deep_merge
from pipeline.seeding import seed_everything
from pipeline.training.content import error_rate, load_utterances, train_content_encoder

SPLITS = {"train": ["train-clean-100"], "dev": ["dev-clean"], "test": ["test-clean"]}
CORPUS = {
    "utterances": 40, "dev_fraction": 0.1, "test_fraction": 0.2, "unseen_share_of_test": 0.5,
    "voices": ["en-us", "en-gb-x-rp", "en-us+f3", "en-029"], "unseen_voice": "en-gb-x-gbcwmd",
    "pitches": [40, 60], "rates": [175], "vocabulary_size": 500, "min_words": 2, "max_words": 4, "end_silence_seconds": 0.1,
}
SMALL_MODEL = {"conv_channels": [8, 8], "conv_kernels": [[41, 11], [21, 11]], "conv_strides": [[2, 2], [2, 1]], "head_stride": 1,
               "rnn_type": "gru", "rnn_hidden": 64, "rnn_layers": 1, "content_layers": [2]}
TRAIN = {"epochs": 1, "batch_size": 4, "eval_batch_size": 8, "bucket_frames": 50, "sortagrad": False, "lr": 3e-3, "weight_decay": 0.0,
         "warmup_fraction": 0.05, "final_lr_fraction": 0.1, "grad_clip": 5.0, "spec_augment": None,
         "max_seconds": 20, "max_train_utterances": None}


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> pd.DataFrame:
    """The speech manifest (as cut_clips writes it) of a 40-utterance corpus."""
    root = tmp_path_factory.mktemp("speech")
    build_embedded_librispeech(root, CORPUS, SPLITS, 16000, seed=0)
    utts = prepare_librispeech(root, [s for names in SPLITS.values() for s in names])
    split_of = {s: split for split, names in SPLITS.items() for s in names}
    return utts.assign(split=utts["subset"].map(split_of))[["utt_id", "path", "transcript", "speaker", "split", "seconds"]]


@pytest.fixture(scope="module")
def handful(speech):
    seed_everything(0)
    return load_utterances(speech[speech["split"] == "train"].head(4), FrontEnd())


def train_small(handful, epochs: int, seed: int = 0, batch_size: int = 4, device: str = "cpu"):
    return train_content_encoder(handful, handful, FrontEnd(), SMALL_MODEL, {**TRAIN, "epochs": epochs, "batch_size": batch_size},
                                 seed, torch.device(device))


def test_overfits_a_handful_of_utterances(handful, speech):
    model, curves = train_small(handful, epochs=60, batch_size=1)  # 240 updates, ~10 s on 2 cores
    assert curves[-1]["train_loss"] < curves[0]["train_loss"] / 5
    assert min(row["dev_cer"] for row in curves) <= 0.05  # near zero on what it trained on
    first = speech[speech["split"] == "train"].iloc[0]
    assert error_rate([first["transcript"]], [model.transcribe(load_audio(first["path"], 16000))]) <= 0.05


def test_save_load_round_trip_gives_identical_outputs(handful, tmp_path):
    model, _ = train_small(handful, epochs=2)
    path = tmp_path / "content_encoder.pt"
    save_content_encoder(model, path)
    loaded = load_content_encoder(path)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    spectrogram = handful.spectrograms[1].float()[None]
    lengths = torch.tensor([spectrogram.shape[-1]])
    torch.testing.assert_close(loaded(spectrogram, lengths)[0], model(spectrogram, lengths)[0], rtol=0, atol=0)
    assert loaded.front_end == model.front_end and loaded.config == model.config
    assert path.read_bytes() == checkpoint_bytes(loaded)


def test_same_seed_gives_byte_identical_checkpoints(handful, device):
    seed_everything(0)
    first = checkpoint_bytes(train_small(handful, epochs=2, device=device)[0])
    seed_everything(0)
    assert checkpoint_bytes(train_small(handful, epochs=2, device=device)[0]) == first
    assert checkpoint_bytes(train_small(handful, epochs=2, seed=1, device=device)[0]) != first


def test_loading_a_bad_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no content encoder"):
        load_content_encoder(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a content encoder checkpoint"):
        load_content_encoder(tmp_path / "junk.pt")


@pytest.fixture()
def project(tmp_path, monkeypatch, speech):
    """A scratch project folder: params.yaml with the tiny content section, data/speech.csv."""
    params = yaml.safe_load(open("params.yaml"))
    tiny = yaml.safe_load(open("tests/tiny_params.yaml"))
    params["content"] = deep_merge(params["content"], tiny["content"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "data").mkdir()
    speech.to_csv(tmp_path / "data" / "speech.csv", index=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_stage_runs_in_the_tiny_profile_and_transcribe_uses_its_model(project, speech, capsys):
    from pipeline.cli import main as cli
    from stages.pretrain_content import main as stage

    assert stage() == 0
    metrics = yaml.safe_load((project / "metrics" / "content.json").read_text())
    for key in ("dev_cer", "dev_wer", "test_cer", "test_wer", "test_unseen_speaker_cer", "test_all_cer", "params", "train_seconds"):
        assert metrics[key] is not None
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

    assert cli(["transcribe", "missing.flac", "--model", "models/content_encoder.pt"]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_stage_without_the_speech_manifest_fails_in_one_line(project, capsys):
    from stages.pretrain_content import main as stage

    shutil.rmtree(project / "data")
    assert stage() == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "speech.csv" in err and err.count("\n") == 1
    assert not (project / "models").exists()
