"""`params.yaml` sections `data`, `subset`, `clips` and `tracking`: where the corpora come from and how
they are cut. Part of `pipeline.config` (which re-exports every class here), kept apart only so each
file stays short; the same rules hold (frozen dataclasses, checked by `pipeline.strict.parse`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from pipeline.strict import check, knob

Source = Literal["embedded", "download", "local"]


# --- data ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SplitsConfig:
    """LibriSpeech subsets serving as each split (the embedded corpus writes the first of each)."""
    train: tuple[str, ...]
    dev: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self):
        check(self.train and self.dev and self.test, "splits: each of train, dev, test needs a subset")

    def subsets(self) -> list[str]:
        return sorted({s for names in (self.train, self.dev, self.test) for s in names})

    def split_of(self) -> dict[str, str]:
        return {s: split for split in ("train", "dev", "test") for s in getattr(self, split)}


@dataclass(frozen=True, kw_only=True)
class CorpusSourceConfig:
    """Where a real corpus comes from: built here (`embedded`), fetched from `base_url`
    (`download`, keeping the archives or not), or an existing copy at `root` (`local`)."""
    source: Source
    root: Optional[str]
    base_url: str
    keep_archives: bool = True

    def __post_init__(self):
        check(self.source != "local" or self.root, "source is 'local' but root is not set")


@dataclass(frozen=True, kw_only=True)
class LibriSpeechConfig(CorpusSourceConfig):
    splits: SplitsConfig


@dataclass(frozen=True, kw_only=True)
class MtatConfig(CorpusSourceConfig):
    pass


@dataclass(frozen=True, kw_only=True)
class EmbeddedSpeechConfig:
    """Speakers are espeak-ng base voices x voice variants (`en-us+m3`; "" = the voice as it is),
    each with its own pitch, pitch range, rate and word gap drawn from the ranges."""
    utterances: int = knob(ge=10)
    dev_fraction: float = knob(gt=0, lt=1)
    test_fraction: float = knob(gt=0, lt=1)
    unseen_share_of_test: float = knob(ge=0, le=1)
    voices: tuple[str, ...] = knob()
    variants: tuple[str, ...] = knob(("",))   # heard in training
    speakers: int = knob(ge=1)                # seen speakers (train, dev and seen test)
    unseen_voice: str = knob()
    unseen_variants: tuple[str, ...] = knob(())   # never in train: with any voice, test-only speakers
    unseen_speakers: int = knob(1, ge=1)          # test-only: unseen_voice or an unseen variant
    pitch: tuple[int, int] = knob(ge=0, le=100)        # espeak pitch, 0..100
    pitch_range: tuple[int, int] = knob(ge=0, le=100)  # espeak intonation range, 0 (monotone)..100
    rate: tuple[int, int] = knob(ge=80, le=450)        # words per minute
    word_gap: tuple[int, int] = knob((0, 0), ge=0, le=20)   # extra pause between words, 10 ms units
    vocabulary_size: int = knob(ge=1)
    min_words: int = knob(ge=2, le=20)
    max_words: int = knob(ge=2, le=20)
    end_silence_seconds: float = knob(ge=0, le=2)

    def __post_init__(self):
        check(self.dev_fraction + self.test_fraction < 1, "dev_fraction + test_fraction must be below 1")
        check(self.voices and self.variants, "voices and variants must not be empty")
        check(self.unseen_voice not in self.voices, "unseen_voice must not be one of voices")
        check(not set(self.variants) & set(self.unseen_variants), "unseen_variants must not be among variants")
        for name in ("pitch", "pitch_range", "rate", "word_gap"):
            low, high = getattr(self, name)
            check(low <= high, f"{name} must be [low, high] with low <= high")
        check(self.min_words <= self.max_words, "min_words must be <= max_words")


@dataclass(frozen=True, kw_only=True)
class EmbeddedMusicConfig:
    clips_per_genre: int = knob(ge=1)
    clips_per_track: int = knob(ge=1)
    heldout_tracks_per_genre: int = knob(ge=0)   # more tracks, each always in the test split
    clip_seconds: float = knob(ge=1, le=120)
    untagged_clips: int = knob(ge=0)
    missing_clips: int = knob(ge=0)
    corrupt_clips: int = knob(ge=0)
    loudness_dbfs: tuple[float, float] = knob(le=0)
    noise_dbfs: tuple[float, float] = knob(le=0)
    # genre -> share of its tracks with a voice: rap for the anchor genre, sung lines, a choir
    vocals: dict[str, float] = knob({}, ge=0, le=1)
    vocal_level_db: tuple[float, float] = knob((0.0, 4.0))   # voice RMS against the beat's
    rap_voices: tuple[str, ...] = knob(("en-us", "en-us-nyc", "en-029", "en"))   # espeak-ng base voices
    bitrate_mode: Literal["constant", "variable", "average"] = "constant"
    compression_level: float = knob(ge=0, le=1)
    workers: int = knob(ge=1)

    def __post_init__(self):
        check(self.loudness_dbfs[0] <= self.loudness_dbfs[1], "loudness_dbfs must be [low, high] with low <= high")
        check(self.noise_dbfs[0] <= self.noise_dbfs[1], "noise_dbfs must be [low, high] with low <= high")


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    librispeech: LibriSpeechConfig
    mtat: MtatConfig
    embedded_speech: EmbeddedSpeechConfig
    embedded_music: EmbeddedMusicConfig


@dataclass(frozen=True, kw_only=True)
class SubsetConfig:
    """The music subset, and the genre taxonomy (each broad genre a list of MTAT tags) that the
    subset, the embedded corpus and every report share."""
    size: int = knob(ge=1)
    anchor_genre: str = knob()
    extra_hiphop_dirs: tuple[str, ...] = ()
    valid_fraction: float = knob(ge=0, lt=1)
    test_fraction: float = knob(ge=0, lt=1)
    priority: tuple[str, ...] = knob()
    genres: dict[str, tuple[str, ...]] = knob()

    def __post_init__(self):
        check(sorted(self.genres) == sorted(self.priority) and len(set(self.priority)) == len(self.priority),
              "priority must list each genre of genres exactly once")
        check(self.anchor_genre in self.genres, f"anchor_genre {self.anchor_genre!r} is not one of genres")
        check(self.valid_fraction + self.test_fraction < 1, "valid_fraction + test_fraction must be below 1")


@dataclass(frozen=True, kw_only=True)
class ClipsConfig:
    seconds: float = knob(gt=0)
    hop_seconds: float = knob(gt=0)


@dataclass(frozen=True, kw_only=True)
class TrackingConfig:
    experiment: str = "fake-rapper-helper"
