"""The embedded espeak-ng corpus: real LibriSpeech layout, disjoint sentences, an unseen
speaker, byte-identical rebuilds, clear errors; the speech manifest and statistics, and the
download_librispeech stage that writes them."""
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pipeline.config import ConfigError, EmbeddedSpeechConfig, SplitsConfig, parse
from pipeline.data.embedded_speech import build_embedded_librispeech, plan_utterances, vocabulary
from pipeline.data.librispeech import prepare_librispeech, read_speakers, speech_manifest, speech_stats
from pipeline.errors import UserError
from test_download import SPEECH_STAGE, project  # noqa: F401  (project: a fixture)

SPLITS_PARAMS = {"train": ["train-clean-100"], "dev": ["dev-clean"], "test": ["test-clean"]}
SPLITS = parse(SplitsConfig, SPLITS_PARAMS, "data.librispeech.splits")
SUBSETS = ["train-clean-100", "dev-clean", "test-clean"]
CFG_PARAMS = {
    "utterances": 48, "dev_fraction": 0.125, "test_fraction": 0.25, "unseen_share_of_test": 0.5,
    "voices": ["en-us", "en-gb-x-rp", "en-029"], "variants": ["", "f3", "m2", "klatt"], "speakers": 10,
    "unseen_voice": "en-gb-x-gbcwmd", "unseen_variants": ["m7", "f5"], "unseen_speakers": 3,
    "pitch": [30, 70], "pitch_range": [20, 90], "rate": [150, 175], "word_gap": [0, 2], "vocabulary_size": 500, "min_words": 5, "max_words": 8, "end_silence_seconds": 0.1,
}
CFG = parse(EmbeddedSpeechConfig, CFG_PARAMS, "data.embedded_speech")


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
    assert len(utts) == CFG.utterances
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
    assert lengths.between(CFG.min_words, CFG.max_words).all()


def test_speakers_are_voice_variant_pairs_each_with_its_own_prosody(corpus):
    speakers = read_speakers(corpus)
    names = speakers.drop_duplicates("speaker")["name"]
    assert len(names) == CFG.speakers + CFG.unseen_speakers
    assert names.nunique() == len(names)  # every speaker its own voice, pitch, range, rate and gap
    voices = names.str.extract(r"espeak-ng (\S+) pitch (\d+) range (\d+) rate (\d+) gap (\d+)")
    assert voices.notna().all().all()
    for column, (low, high) in zip([1, 2, 3, 4], [CFG.pitch, CFG.pitch_range, CFG.rate, CFG.word_gap]):
        assert voices[column].astype(int).between(low, high).all()
    # the seen speakers cover every voice x variant pair before any repeats
    seen = set(voices[0].iloc[:CFG.speakers])
    assert len(seen) == min(CFG.speakers, len(CFG.voices) * len(CFG.variants))


def test_unseen_speakers_read_only_test_and_share_no_voice_and_variant_with_train(corpus):
    utts = prepare_librispeech(corpus, SUBSETS)
    train_speakers = set(utts.loc[utts["subset"] == "train-clean-100", "speaker"])
    test = utts[utts["subset"] == "test-clean"]
    unseen = set(test["speaker"]) - train_speakers
    assert len(unseen) == CFG.unseen_speakers
    assert (test["speaker"].isin(unseen)).sum() == round(CFG.utterances * CFG.test_fraction * CFG.unseen_share_of_test)
    speakers = read_speakers(corpus)
    voice = speakers.drop_duplicates("speaker").set_index("speaker")["name"].str.split().str[1]
    train_voices = {voice[s] for s in train_speakers}
    for speaker in unseen:
        assert list(speakers.loc[speakers["speaker"] == speaker, "subset"]) == ["test-clean"]
        base, _, variant = voice[speaker].partition("+")
        assert voice[speaker] not in train_voices
        assert base == CFG.unseen_voice or variant in CFG.unseen_variants
    for name in train_voices:  # nothing unseen ever reaches train
        base, _, variant = name.partition("+")
        assert base != CFG.unseen_voice and variant not in CFG.unseen_variants


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
    with pytest.raises(ValueError, match="vocabulary_size"):
        vocabulary(100)


@pytest.mark.parametrize("change, message", [
    ({"unseen_voice": "en-us"}, "unseen_voice"),
    ({"unseen_variants": ["m2"]}, "unseen_variants must not be among variants"),
    ({"pitch": [70, 30]}, "pitch must be"),
    ({"min_words": 9, "max_words": 5}, "min_words"),
    ({"utterances": 3}, "utterances: must be >= 10"),
])
def test_bad_config_is_a_config_error(change, message):
    with pytest.raises(ConfigError, match=message):
        parse(EmbeddedSpeechConfig, {**CFG_PARAMS, **change}, "data.embedded_speech")


@pytest.mark.parametrize("change, message", [
    ({"speakers": 4}, "speakers must be at least 8"),
    ({"dev_fraction": 0.01}, "utterances=48 is too few"),
])
def test_config_that_cannot_make_a_corpus_is_a_value_error(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        build_embedded_librispeech(tmp_path, dataclasses.replace(CFG, **change), SPLITS, 16000, seed=0)
    assert not (tmp_path / "LibriSpeech").exists()


def test_unknown_voice_fails_cleanly_without_output(tmp_path):
    cfg = dataclasses.replace(CFG, voices=("en-us", "en-gb"))  # plain en-gb does not exist
    with pytest.raises(UserError, match="no voice 'en-gb'"):
        build_embedded_librispeech(tmp_path, cfg, SPLITS, 16000, seed=0)
    assert not (tmp_path / "LibriSpeech").exists()


def test_speech_manifest_names_splits():
    utts = pd.DataFrame([
        {"utt_id": "1-2-0000", "path": "/abs/a.flac", "transcript": "HI", "speaker": "1", "chapter": "2", "subset": "train-clean-100", "seconds": 1.23456},
        {"utt_id": "3-4-0000", "path": "/abs/b.flac", "transcript": "YO", "speaker": "3", "chapter": "4", "subset": "test-clean", "seconds": 2.0},
    ])
    speech = speech_manifest(utts, SPLITS)
    assert list(speech.columns) == ["utt_id", "path", "transcript", "speaker", "split", "seconds"]
    assert speech["split"].tolist() == ["train", "test"]
    assert speech["path"].tolist() == ["/abs/a.flac", "/abs/b.flac"]
    assert speech["seconds"].tolist() == [1.2346, 2.0]
    assert speech_stats(utts) == {"utterances": {"test-clean": 1, "train-clean-100": 1},
                                  "hours": {"test-clean": 0.0006, "train-clean-100": 0.0003},
                                  "speakers": {"test-clean": 1, "train-clean-100": 1}}


def test_stage_writes_the_corpus_its_manifest_and_statistics(project):
    """download_librispeech (embedded) reads the corpus it built once, for both outputs; the
    speech paths are relative to the project."""
    from stages.download_librispeech import main as stage

    project({"seed": 3, "data": {"librispeech": {"splits": SPLITS_PARAMS},
                                 "embedded_speech": {**CFG_PARAMS, "utterances": 16}}})
    assert stage(SPEECH_STAGE) == 0
    assert json.loads(Path("data/raw/librispeech/source.json").read_text())["source"] == "embedded"
    utterances = prepare_librispeech("data/raw/librispeech", SPLITS.subsets())
    assert len(utterances) == 16
    speech = pd.read_csv("data/speech.csv", dtype={"speaker": str})
    pd.testing.assert_frame_equal(speech, speech_manifest(utterances, SPLITS))
    assert speech["path"].str.startswith("data/raw/librispeech/LibriSpeech/").all()
    assert speech.groupby("split").size().to_dict() == {"dev": 2, "test": 4, "train": 10}
    assert json.loads(Path("metrics/speech.json").read_text()) == speech_stats(utterances)
