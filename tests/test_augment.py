"""Speech augmentation: SNR as asked, determinism for a seed, lengths from the speed factor, the
transcript untouched, and the per-epoch train sets of `SpeechData`."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

from pipeline.audio import FrontEnd
from pipeline.config import AugmentConfig, ContentConfig, parse
from pipeline.data.augment import MusicBank, SpeechAugment, mix_at_snr, power, speed_perturb, with_music
from pipeline.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ALL_ON = AugmentConfig(speeds=(0.9, 1.0, 1.1), reverb_probability=1.0, music_probability=1.0, noise_probability=1.0,
                       music_snr_db=(5.0, 20.0), noise_snr_db=(20.0, 30.0))


def tone(seconds: float, hz: float = 220.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * hz * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32)


@pytest.fixture()
def bank() -> MusicBank:
    rng = np.random.default_rng(1)
    return MusicBank([rng.standard_normal(16000 * 2).astype(np.float32) * 0.2, tone(3, 90)])


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 30.0])
def test_mix_has_the_snr_asked_within_half_a_db(snr_db, bank):
    speech = tone(2.5)
    background = bank.excerpt(len(speech), np.random.default_rng(0))
    mixed = mix_at_snr(speech, background, snr_db)
    # mixed = a * speech + b * background (the whole mix may be scaled down): solve for a and b
    (a, b), *_ = np.linalg.lstsq(np.stack([speech, background], axis=1).astype(np.float64), mixed, rcond=None)
    measured = 10 * np.log10(power(a * speech) / power(b * background))
    assert abs(measured - snr_db) < 0.5
    assert np.max(np.abs(mixed)) <= 1.0


def test_speed_perturbation_changes_length_by_the_factor():
    samples = tone(2.0)
    for factor in (0.9, 1.1):
        assert abs(len(speed_perturb(samples, factor, 16000)) - len(samples) / factor) <= 2
    assert speed_perturb(samples, 1.0, 16000) is samples


def test_same_seed_same_audio_other_seed_other_audio(bank):
    augment, speech = SpeechAugment(ALL_ON, 16000, bank), tone(2.0)
    first = augment(speech, np.random.default_rng(7))
    assert first.tobytes() == augment(speech, np.random.default_rng(7)).tobytes()
    assert first.tobytes() != augment(speech, np.random.default_rng(8)).tobytes()
    assert first.dtype == np.float32 and np.isfinite(first).all() and np.max(np.abs(first)) <= 1.0


def test_music_needs_a_bank():
    with pytest.raises(ValueError, match="music"):
        SpeechAugment(ALL_ON, 16000, None)


def test_music_bank_reads_one_split_and_draws_a_limit(tmp_path):
    from test_content_training import write_music_clips

    clips = write_music_clips(tmp_path)
    assert len(MusicBank.from_clips(clips, "train", 16000).segments) == 2
    assert len(MusicBank.from_clips(clips, "test", 16000, limit=1, seed=3).segments) == 1
    with pytest.raises(ValueError, match="no valid segments"):
        MusicBank.from_clips(clips, "valid", 16000)


def test_evaluation_mixture_is_the_same_for_every_call(bank):
    waves = [tone(1.5), tone(2.0, 330)]
    first, second = with_music(waves, bank, 10.0, seed=0), with_music(waves, bank, 10.0, seed=0)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, second))
    assert [len(w) for w in first] == [len(w) for w in waves]


def test_speech_data_augments_afresh_each_epoch_and_keeps_the_transcripts(tmp_path):
    """Per epoch: new audio, same targets; the same epoch twice, or with other worker counts
    (more workers than utterances: empty chunks): the same bytes."""
    from pipeline.training.content import SpeechData
    from test_content_training import write_music_clips

    rows = []
    for i, split in enumerate(["train"] * 3 + ["dev", "test"]):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, tone(1.0 + 0.2 * i, 150 + 30 * i), 16000)
        rows.append({"utt_id": f"1-1-{i}", "path": str(path), "transcript": f"WORD NUMBER {'X' * (i + 1)}",
                     "speaker": str(i % 2), "split": split, "seconds": 1.0 + 0.2 * i})
    content = yaml.safe_load(open("params.yaml"))["content"]
    cfg = parse(ContentConfig, content, "content")
    cfg = dataclasses.replace(cfg, augment=ALL_ON)
    data = SpeechData(pd.DataFrame(rows), FrontEnd(), cfg, seed=0, music_clips=write_music_clips(tmp_path))
    one, again, two = data.train_epoch(1), data.train_epoch(1), data.train_epoch(2)
    assert one.transcripts == data.train.transcripts and one.targets == data.train.targets
    assert all(a.numpy().tobytes() == b.numpy().tobytes() for a, b in zip(one.spectrograms, again.spectrograms))
    assert any(a.shape != b.shape or not (a == b).all() for a, b in zip(one.spectrograms, two.spectrograms))
    assert all(s.dtype == torch.float16 and s.is_contiguous() and s.shape[0] == FrontEnd().n_freq for s in one.spectrograms)
    for workers in (1, 5):
        data.workers = workers
        assert [s.numpy().tobytes() for s in data.train_epoch(1).spectrograms] == [s.numpy().tobytes() for s in one.spectrograms]
    assert set(data.tests) == {"", "music_10db", "music_0db"}
    with pytest.raises(UserError, match="music clips"):
        SpeechData(pd.DataFrame(rows), FrontEnd(), cfg, seed=0, music_clips=None)
