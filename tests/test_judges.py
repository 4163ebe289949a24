"""The judges of generation: the ASR judge's forward contract, its training through the content
encoder's loop, save / load round trips, the hip-hop judge's features and fit on a tiny synthetic
corpus, `load_judges`, and the stage's bad-input exits."""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

from pipeline.audio import FrontEnd
from pipeline.config import AsrJudgeModelConfig, ContentTrainConfig, HiphopJudgeConfig, JudgesConfig, deep_merge, parse
from pipeline.errors import UserError
from pipeline.judges import ASR_FILE, HIPHOP_FILE, load_judges
from pipeline.judges.asr import CHECKPOINT, AsrJudge, asr_judge_bytes, load_asr_judge, save_asr_judge
from pipeline.judges.hiphop import (clip_features, codec_round_trip, feature_matrix, feature_names, fit_hiphop_judge, hiphop_judge_bytes,
                                    load_hiphop_judge, save_hiphop_judge, windows)
from pipeline.models.content_encoder import ALPHABET, encode_text, greedy_decode
from pipeline.seeding import seed_everything
from pipeline.training.content import Utterances, train_content_encoder
from pipeline.training.judges import train_hiphop_judge

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = yaml.safe_load((ROOT / "params.yaml").read_text())
SR = 16000
MODEL = parse(AsrJudgeModelConfig, {"n_mels": 16, "conv_channels": [16, 16], "conv_kernels": [5, 3],
                                    "conv_strides": [2, 2], "rnn_hidden": 16, "rnn_layers": 2}, "judges.asr.model")
TRAIN = parse(ContentTrainConfig, {**DEFAULTS["judges"]["asr"]["train"], "epochs": 1, "batch_size": 4, "lr": 1e-2,
                                   "sortagrad": False, "warmup_fraction": 0.1, "final_lr_fraction": 0.5},
              "judges.asr.train")
JUDGES = parse(JudgesConfig, DEFAULTS["judges"], "judges")
HIPHOP = dataclasses.replace(JUDGES.hiphop, workers=1, crops_per_segment=1, crop_seconds=(1.5, 3.0), speech_negatives=None)


# --- the ASR judge -----------------------------------------------------------------------------
def tone_utterances(n: int, seed: int = 0) -> Utterances:
    """Spectrograms in which each character of a short text lights its own band for 8 frames:
    learnable by any recogniser, no audio needed. Each (161, 8 * len(text) + 4)."""
    rng = np.random.default_rng(seed)
    letters = "ABCDE"
    texts = ["".join(rng.choice(list(letters), size=rng.integers(2, 5))) for _ in range(n)]
    specs = []
    for text in texts:
        spec = torch.full((161, 8 * len(text) + 4), 0.05)
        for i, char in enumerate(text):
            band = 10 + 25 * letters.index(char)
            spec[band:band + 12, 2 + 8 * i:2 + 8 * i + 6] = 3.0
        specs.append(spec.to(torch.float16))
    return Utterances(specs, [encode_text(t) for t in texts], texts, ["s"] * n)


def test_the_judge_keeps_the_content_encoders_forward_contract():
    torch.manual_seed(0)
    model = AsrJudge(FrontEnd(), MODEL).eval()
    spectrograms, lengths = torch.rand(3, 161, 101), torch.tensor([101, 60, 7])
    log_probs, out_lengths = model(spectrograms, lengths)
    assert log_probs.shape == (26, 3, len(ALPHABET) + 1)  # time stride 4: (101 - 1) // 2 + 1 = 51, then 26
    assert out_lengths.tolist() == [26, 15, 2]
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(26, 3))
    # a padded batch gives each item what it gets alone
    alone, _ = model(spectrograms[1:2, :, :60], lengths[1:2])
    torch.testing.assert_close(log_probs[:15, 1], alone[:, 0], rtol=1e-4, atol=1e-5)
    assert len(greedy_decode(log_probs, out_lengths)) == 3
    with pytest.raises(TypeError, match="AsrJudgeModelConfig"):
        AsrJudge(FrontEnd(), {"n_mels": 16})


def test_the_judge_is_not_the_content_encoders_architecture():
    model = AsrJudge(FrontEnd(), MODEL)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert any(isinstance(m, torch.nn.GRU) for m in model.modules())
    assert not any(isinstance(m, torch.nn.LSTM) for m in model.modules())


def train_tiny(epochs: int, seed: int = 0) -> tuple[AsrJudge, list[dict]]:
    data = tone_utterances(8)
    model, curves, _ = train_content_encoder(data, data, FrontEnd(), None, dataclasses.replace(TRAIN, epochs=epochs),
                                             seed, torch.device("cpu"), build_model=lambda: AsrJudge(FrontEnd(), MODEL))
    return model, curves


def test_the_judge_trains_through_the_content_encoders_loop():
    model, curves = train_tiny(epochs=30)  # 60 updates, a few seconds
    assert curves[-1]["train_loss"] < curves[0]["train_loss"] / 3
    assert curves[-1]["dev_cer"] < curves[0]["dev_cer"]
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_same_seed_same_judge_bytes_and_the_round_trip(tmp_path):
    seed_everything(0)
    first, _ = train_tiny(epochs=2)
    again, _ = train_tiny(epochs=2)
    assert asr_judge_bytes(first) == asr_judge_bytes(again)
    assert asr_judge_bytes(train_tiny(epochs=2, seed=1)[0]) != asr_judge_bytes(first)
    path = tmp_path / "asr.pt"
    save_asr_judge(first, path)
    loaded = load_asr_judge(path)
    assert path.read_bytes() == asr_judge_bytes(loaded) and loaded.config == first.config
    spec, lengths = tone_utterances(1).spectrograms[0].float()[None], torch.tensor([20])
    torch.testing.assert_close(loaded(spec, lengths)[0], first(spec, lengths)[0], rtol=0, atol=0)
    payload = torch.load(path, weights_only=True)
    assert (payload["format"], payload["version"]) == CHECKPOINT and payload["alphabet"] == ALPHABET


def test_a_foreign_or_missing_asr_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="dvc repro train_judges"):
        load_asr_judge(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a asr_judge checkpoint"):
        load_asr_judge(tmp_path / "junk.pt")


# --- the hip-hop judge: a tiny synthetic corpus --------------------------------------------------
def beat(seconds: float, rng) -> np.ndarray:
    """Boom-bap-like: kicks on 1 and 3, noise snares on 2 and 4, eighth hats, at 85-95 BPM."""
    t = np.arange(int(seconds * SR)) / SR
    period = 60 / rng.uniform(85, 95)
    out = np.zeros_like(t)
    for k, start in enumerate(np.arange(rng.uniform(0, period), seconds, period / 2)):
        n = t[(t >= start) & (t < start + 0.25)] - start
        i = int(start * SR)
        hit = 0.2 * rng.standard_normal(len(n)) * np.exp(-n * 60)  # hat
        if k % 4 == 0:
            hit += np.sin(2 * np.pi * 55 * n) * np.exp(-n * 12)  # kick
        elif k % 4 == 2:
            hit += 0.6 * rng.standard_normal(len(n)) * np.exp(-n * 20)  # snare
        out[i:i + len(n)] += hit
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def chords(seconds: float, rng) -> np.ndarray:
    """Sustained, slowly swelling chords: music without a beat."""
    t = np.arange(int(seconds * SR)) / SR
    root = rng.uniform(110, 220)
    tone = sum(np.sin(2 * np.pi * root * r * t + rng.uniform(0, 6)) for r in (1, 1.25, 1.5, 2))
    return (0.05 * tone * (1 + 0.3 * np.sin(2 * np.pi * 0.2 * t))).astype(np.float32)


def speechlike(seconds: float, rng) -> np.ndarray:
    """A voice-like buzz: a gliding harmonic source, syllables at irregular ~4 Hz, pauses."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = rng.uniform(100, 200) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    source = sum(np.sin(k * phase) / k for k in range(1, 15))
    gates = np.repeat(rng.random(int(seconds * 5) + 1) > 0.3, SR // 5)[:len(t)]
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(3.5, 5) * t), 0, None) * gates
    return (0.1 * source * syllables).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """clips.csv and speech.csv rows (as cut_clips and download_librispeech write them) over
    synthetic audio files: 10 s hip-hop and other segments, 2-4 s speech, train and test."""
    root = tmp_path_factory.mktemp("judge_corpus")
    rng = np.random.default_rng(0)
    clips, speech = [], []
    for split, n in (("train", 8), ("test", 4)):
        for i in range(n):
            for genre, make in (("hip-hop", beat), ("jazz", chords)):
                path = root / f"{genre}-{split}-{i}.flac"
                sf.write(path, make(10, rng), SR)
                clips.append({"clip_path": str(path), "genre": genre, "track": f"{genre}{split}{i}", "split": split})
            path = root / f"speech-{split}-{i}.flac"
            sf.write(path, speechlike(rng.uniform(2, 4), rng), SR)
            speech.append({"utt_id": f"{split}{i}", "path": str(path), "transcript": "A", "speaker": "1", "split": split,
                           "seconds": 3.0})
    return pd.DataFrame(clips), pd.DataFrame(speech), root


def test_features_are_deterministic_and_one_length_for_any_clip():
    rng = np.random.default_rng(1)
    cfg = JUDGES.hiphop.features
    names = feature_names(cfg)
    for clip in (beat(10, rng), speechlike(0.5, rng), np.zeros(SR, dtype=np.float32), np.ones(100, np.float32) * 0.1):
        first = clip_features(clip, SR, cfg)
        assert first.shape == (len(names),) and np.isfinite(first).all()
        assert np.array_equal(first, clip_features(clip.copy(), SR, cfg))
    # loudness never decides: the same clip 20 dB quieter has the same features (to within what
    # the MP3 coder makes of float rounding in its input: measured up to 0.2%)
    loud = beat(4, np.random.default_rng(2))
    np.testing.assert_allclose(clip_features(loud / 10, SR, cfg), clip_features(loud, SR, cfg), rtol=1e-2, atol=1e-2)
    # workers change nothing
    clips = [beat(3, rng), chords(3, rng), speechlike(3, rng)]
    assert np.array_equal(feature_matrix(clips, SR, cfg, workers=2), feature_matrix(clips, SR, cfg, workers=1))


def test_codec_round_trip_is_the_corpus_mp3_and_hides_the_codec():
    """The judge codes every clip as the music corpus is coded, so a clip already coded that way
    and the same clip uncoded give nearly the same features (the codec can't tell classes apart)."""
    import dataclasses

    cfg = JUDGES.hiphop.features
    assert cfg.codec == "mp3"
    clip = speechlike(3, np.random.default_rng(3))
    coded = codec_round_trip(clip, SR, cfg)
    assert coded.dtype == np.float32 and abs(len(coded) - len(clip)) < SR // 4  # MP3 pads a frame or two
    assert np.array_equal(coded, codec_round_trip(clip, SR, cfg))              # deterministic
    plain = dataclasses.replace(cfg, codec="none")
    assert np.array_equal(codec_round_trip(clip, SR, plain), clip)
    # the codec takes out part of the top band (32 kbit/s at 16 kHz): white noise loses a third of its 6-8 kHz share
    spectrum = lambda x: np.abs(np.fft.rfft(x[:SR])) ** 2
    high = lambda x: spectrum(x)[6000:].sum() / spectrum(x).sum()
    noise = np.random.default_rng(4).standard_normal(2 * SR).astype(np.float32) * 0.1
    assert high(codec_round_trip(noise, SR, cfg)) < 0.8 * high(codec_round_trip(noise, SR, plain))
    names = feature_names(cfg)
    twice = clip_features(coded, SR, cfg)
    once = clip_features(clip, SR, cfg)
    contrast = [i for i, n in enumerate(names) if n.startswith("contrast")]
    # without the codec step the coded and uncoded clip differ far more in spectral contrast
    gap = lambda f: np.abs(f(coded)[contrast] - f(clip)[contrast]).mean()
    assert gap(lambda x: clip_features(x, SR, cfg)) < gap(lambda x: clip_features(x, SR, plain))
    assert np.isfinite(twice).all() and np.isfinite(once).all()


def test_windows_cover_the_clip():
    assert [len(w) for w in windows(np.zeros(25), 10)] == [10, 10, 10]
    assert windows(np.arange(25), 10)[-1][-1] == 24
    assert [len(w) for w in windows(np.zeros(7), 10)] == [7]


@pytest.fixture(scope="module")
def fitted(corpus):
    clips, speech, _ = corpus
    cfg = dataclasses.replace(JUDGES, hiphop=HIPHOP)
    return train_hiphop_judge(clips, speech, "hip-hop", cfg, SR)


def test_the_judge_fitted_with_speech_negatives_calls_speech_not_hiphop(fitted):
    judge, metrics = fitted
    assert metrics["train_clips"] == {"speech": 8, "hiphop": 8, "hiphop_crops": 8, "other": 8, "other_crops": 8}
    assert metrics["test_clips"]["speech"] == 4 and metrics["test_clips"]["hiphop"] == 4
    assert metrics["floor"] <= 0.1 and metrics["speech_over_half"] == 0
    assert metrics["ceiling"] >= 0.7 and metrics["ceiling_crops"] >= 0.5
    assert metrics["roc_auc"] >= 0.95 and metrics["roc_auc_music"] >= 0.95
    rng = np.random.default_rng(5)
    p = judge.probability([speechlike(3, rng), beat(10, rng)], SR)
    assert p.shape == (2,) and p[0] < 0.5 < p[1]


def test_long_and_resampled_inputs_are_scored(fitted):
    judge, _ = fitted
    rng = np.random.default_rng(7)
    clip = beat(25, rng)
    parts = windows(clip, 10 * SR)
    expected = judge.pipeline.predict_proba(feature_matrix(parts, SR, judge.features))[:, 1].mean()
    assert judge.probability([clip], SR)[0] == pytest.approx(expected)
    import librosa
    at_44k = librosa.resample(clip[:5 * SR], orig_sr=SR, target_sr=44100)
    assert 0.0 <= judge.probability([at_44k], 44100)[0] <= 1.0
    with pytest.raises(ValueError, match="empty"):
        judge.probability([np.zeros(0, np.float32)], SR)


def test_hiphop_round_trip_is_byte_identical(fitted, tmp_path):
    judge, _ = fitted
    path = tmp_path / "hiphop.json"
    save_hiphop_judge(judge, path)
    loaded = load_hiphop_judge(path)
    assert path.read_bytes() == hiphop_judge_bytes(loaded) == hiphop_judge_bytes(judge)
    clip = chords(4, np.random.default_rng(3))
    assert loaded.probability([clip], SR)[0] == judge.probability([clip], SR)[0]
    (tmp_path / "junk.json").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a hiphop_judge"):
        load_hiphop_judge(tmp_path / "junk.json")


def test_same_seed_same_hiphop_judge(corpus, fitted):
    clips, speech, _ = corpus
    again, metrics = train_hiphop_judge(clips, speech, "hip-hop", dataclasses.replace(JUDGES, hiphop=HIPHOP), SR)
    assert hiphop_judge_bytes(again) == hiphop_judge_bytes(fitted[0]) and metrics == fitted[1]


# --- load_judges and the stage -------------------------------------------------------------------
def test_load_judges_needs_both_files(tmp_path, fitted):
    with pytest.raises(UserError, match=r"run `make repro` first"):
        load_judges(tmp_path)
    torch.manual_seed(0)
    save_asr_judge(AsrJudge(FrontEnd(), MODEL), tmp_path / ASR_FILE)
    with pytest.raises(UserError, match=f"missing {HIPHOP_FILE}"):
        load_judges(tmp_path)
    save_hiphop_judge(fitted[0], tmp_path / HIPHOP_FILE)
    judges = load_judges(tmp_path)
    rng = np.random.default_rng(4)
    assert isinstance(judges.transcribe(speechlike(2, rng)), str)
    assert judges.hiphop_probability([beat(3, rng), speechlike(3, rng)], SR).shape == (2,)


STAGE = ["--speech", "speech.csv", "--clips", "clips.csv", "--judges", "out/judges", "--metrics", "out/j.json",
         "--curves", "out/c.csv"]


def run_stage(cwd: Path, params: dict) -> subprocess.CompletedProcess:
    (cwd / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}"}
    return subprocess.run([sys.executable, "-m", "stages.train_judges", *STAGE], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("override, key", [
    ({"judges": {"asr": {"model": {"conv_kernels": [4, 4]}}}}, "judges.asr.model: conv_kernels must be odd"),
    ({"judges": {"hiphop": {"crop_seconds": [3, 20]}}}, "judges.hiphop: crop_seconds must be"),
    ({"judges": {"seed": -1}}, "judges.seed: must be >= 0"),
    ({"judges": {"hiphop": {"c": "big"}}}, "judges.hiphop.c: must be a number"),
])
def test_the_stage_with_bad_params_prints_one_line_and_exits_2(tmp_path, override, key):
    done = run_stage(tmp_path, deep_merge(DEFAULTS, override))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: params.yaml: ") and key in lines[0], done.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()


def test_the_stage_without_its_inputs_says_what_to_run(tmp_path):
    done = run_stage(tmp_path, DEFAULTS)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: speech.csv is missing: run `dvc repro download_librispeech` first")
    assert not (tmp_path / "out").exists()
