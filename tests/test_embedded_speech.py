"""The embedded espeak-ng corpus: real LibriSpeech layout, disjoint sentences, an unseen
speaker, byte-identical rebuilds, clear errors."""
import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.data.embedded_speech import build_embedded_librispeech, plan_utterances, vocabulary
from pipeline.data.librispeech import prepare_librispeech, read_speakers
from pipeline.errors import UserError

SPLITS = {"train": ["train-clean-100"], "dev": ["dev-clean"], "test": ["test-clean"]}
SUBSETS = ["train-clean-100", "dev-clean", "test-clean"]
CFG = {
    "utterances": 48, "dev_fraction": 0.125, "test_fraction": 0.25, "unseen_share_of_test": 0.5,
    "voices": ["en-us", "en-gb-x-rp", "en-us+f3", "en-029"], "unseen_voice": "en-gb-x-gbcwmd",
    "pitches": [40, 60], "rates": [160], "vocabulary_size": 500, "min_words": 5, "max_words": 8, "end_silence_seconds": 0.1,
}


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech")
    build_embedded_librispeech(root, CFG, SPLITS, 16000, seed=3, workers=2)
    return root


def test_layout_parses_like_librispeech(corpus):
    utts = prepare_librispeech(corpus, SUBSETS)
    assert len(utts) == CFG["utterances"]
    assert set(utts["subset"]) == set(SUBSETS)
    for name in ("SPEAKERS.TXT", "README.TXT", "LICENSE.TXT", "CHAPTERS.TXT", "BOOKS.TXT"):
        assert (corpus / "LibriSpeech" / name).is_file()
    assert "SYNTHETIC" in (corpus / "LibriSpeech" / "README.TXT").read_text()
    row = utts.iloc[0]
    assert Path(row["path"]).relative_to(corpus.resolve() / "LibriSpeech").parts == (
        row["subset"], row["speaker"], row["chapter"], f"{row['utt_id']}.flac")
    assert all(t == t.upper() and set(t) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ' ") for t in utts["transcript"])
    speakers = read_speakers(corpus)
    assert set(utts["speaker"]) == set(speakers["speaker"])
    assert speakers["speaker"].nunique() >= 8
    assert (speakers["minutes"] > 0).all()


def test_dev_and_test_sentences_are_unseen_in_train(corpus):
    utts = prepare_librispeech(corpus, SUBSETS)
    train = set(utts.loc[utts["subset"] == "train-clean-100", "transcript"])
    for subset in ("dev-clean", "test-clean"):
        assert not train & set(utts.loc[utts["subset"] == subset, "transcript"])
    lengths = utts["transcript"].str.split().str.len()
    assert lengths.between(CFG["min_words"], CFG["max_words"]).all()


def test_test_subset_has_a_speaker_never_in_train(corpus):
    utts = prepare_librispeech(corpus, SUBSETS)
    train_speakers = set(utts.loc[utts["subset"] == "train-clean-100", "speaker"])
    test = utts[utts["subset"] == "test-clean"]
    unseen = set(test["speaker"]) - train_speakers
    assert len(unseen) == 1
    assert (test["speaker"].isin(unseen)).sum() == round(CFG["utterances"] * CFG["test_fraction"] * CFG["unseen_share_of_test"])
    speakers = read_speakers(corpus)
    rows = speakers[speakers["speaker"] == unseen.pop()]
    assert list(rows["subset"]) == ["test-clean"] and CFG["unseen_voice"] in rows["name"].iloc[0]


def test_audio_is_speech_like(corpus):
    for path in prepare_librispeech(corpus, SUBSETS)["path"][::6]:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        audio, _ = sf.read(path)
        assert 0.8 < len(audio) / 16000 < 8.0  # 5-8 words at 160 words per minute
        assert np.sqrt(np.mean(audio ** 2)) > 0.02  # not silent
        assert np.mean(np.abs(audio) > 0.02) > 0.2  # sound through much of the clip, not one click


def test_same_seed_gives_identical_bytes_whatever_the_workers(corpus, tmp_path):
    build_embedded_librispeech(tmp_path, CFG, SPLITS, 16000, seed=3, workers=1)
    assert tree_digest(tmp_path / "LibriSpeech") == tree_digest(corpus / "LibriSpeech")


def test_another_seed_gives_other_sentences():
    first = [u["text"] for u in plan_utterances(CFG, SPLITS, seed=3)]
    other = [u["text"] for u in plan_utterances(CFG, SPLITS, seed=4)]
    assert first != other and len(set(first)) == len(first)


def test_vocabulary_has_at_least_the_requested_words():
    words = vocabulary(600)
    assert len({w for ws in words.values() for w in ws}) >= 600
    with pytest.raises(UserError, match="vocabulary_size"):
        vocabulary(100)


@pytest.mark.parametrize("change, message", [
    ({"voices": ["en-us", "en-gb"]}, "voices x pitches x rates|no voice"),
    ({"unseen_voice": "en-us"}, "unseen_voice"),
    ({"min_words": 9, "max_words": 5}, "min_words"),
    ({"utterances": 3}, "too few"),
])
def test_bad_config_is_a_user_error(tmp_path, change, message):
    with pytest.raises(UserError, match=message):
        build_embedded_librispeech(tmp_path, {**CFG, **change}, SPLITS, 16000, seed=0)
    assert not (tmp_path / "LibriSpeech").exists()


def test_unknown_voice_fails_cleanly_without_output(tmp_path):
    cfg = {**CFG, "voices": ["en-us", "en-gb"], "pitches": [30, 40, 50, 60]}  # plain en-gb does not exist
    with pytest.raises(UserError, match="no voice 'en-gb'"):
        build_embedded_librispeech(tmp_path, cfg, SPLITS, 16000, seed=0)
    assert not (tmp_path / "LibriSpeech").exists()
