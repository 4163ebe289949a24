"""The genre registry: each genre name of params `subset.genres` -> its recipe (the `GenreSpec` a
track is drawn from and the function that renders it), plus drawing a track's `Song` and
rendering and mastering it."""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from pipeline.data.embedded_music import (
    ambient, classical, country_folk, electronic, hiphop, jazz, metal, pop, rock, world,
)
from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import SCALES, GenreSpec, Song, db, pick, uniform
from pipeline.data.embedded_music.vocals import compress, lay_over
from pipeline.data.rooms import room_convolve, room_impulse


class Recipe(NamedTuple):
    spec: GenreSpec
    render: Callable[[Song], np.ndarray]


# A genre's place here is part of its tracks' seeds (see `genre_number`): add genres at the end,
# never reorder, or every track of the later genres changes.
RECIPES = {
    "hip-hop": Recipe(hiphop.SPEC, hiphop.render),
    "rock": Recipe(rock.SPEC, rock.render),
    "metal": Recipe(metal.SPEC, metal.render),
    "pop": Recipe(pop.SPEC, pop.render),
    "electronic": Recipe(electronic.SPEC, electronic.render),
    "classical": Recipe(classical.SPEC, classical.render),
    "jazz": Recipe(jazz.SPEC, jazz.render),
    "country-folk": Recipe(country_folk.SPEC, country_folk.render),
    "ambient-newage": Recipe(ambient.SPEC, ambient.render),
    "world": Recipe(world.SPEC, world.render),
}


def genre_number(genre: str) -> int:
    """The genre's fixed number in every seed of its tracks (names, tags, audio): its place in
    `RECIPES`, so reordering params `subset.genres` reorders the CSVs but changes no track."""
    return list(RECIPES).index(genre)


def draw_song(genre: str, seed: int, track: int, sr: int, seconds: float) -> Song:
    """The musical frame of track `track` of `genre`: everything a track shares across its clips."""
    spec = RECIPES[genre].spec
    rng = np.random.default_rng([seed, genre_number(genre), track])
    weights = np.array([w for _, _, w in spec.styles.values()])
    style = tuple(spec.styles)[int(rng.choice(len(weights), p=weights / weights.sum()))]
    scales = world.STYLE_SCALES[style] if genre == "world" else spec.scales
    celtic = style == "celtic"
    song = Song(rng, sr, seconds, uniform(rng, spec.styles[style][:2]),
                int(rng.integers(spec.root_range[0], spec.root_range[1] + 1)),
                SCALES[pick(rng, scales)], style=style,
                steps_per_beat=3 if celtic else 4, beats_per_bar=2 if celtic else 4,
                swing={"funk": 0.5, "blues": 0.64}.get(style) or uniform(rng, spec.swing),
                swing_steps=spec.swing_steps, humanize_s=uniform(rng, spec.humanize_s),
                rubato_s=uniform(rng, spec.rubato_s))
    song.params.update(genre=genre, style=style, bpm=song.bpm, root=song.root, swing=song.swing)
    return song


class Master:
    """A track's production and mastering, drawn once and applied alike to the full mix and to its
    instrumental: a room (convolution with a synthetic impulse response: early reflections and a
    decaying noise tail), bus compression, a random tone tilt, a loudness and a noise floor drawn
    from ranges shared by every genre, then a soft limiter."""

    def __init__(self, rng: np.random.Generator, sr: int, n: int, loudness_dbfs, noise_dbfs):
        self.sr = sr
        self.room = room_impulse(rng, sr, uniform(rng, (0.15, 0.8)))
        self.room_wet = uniform(rng, (0.03, 0.25))
        self.threshold_db, self.ratio = uniform(rng, (-8.0, -2.0)), uniform(rng, (1.5, 4.0))  # dB against the RMS
        self.tone, self.tilt = uniform(rng, (3500, 7800)), uniform(rng, (-0.5, 0.3))
        self.loudness = db(uniform(rng, loudness_dbfs))
        self.hiss = db(uniform(rng, noise_dbfs)) * ms.lowpass(rng.standard_normal(n, dtype=np.float32),
                                                              uniform(rng, (3000, 7900)), sr)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        sr = self.sr
        audio = ms.highpass(audio, 30.0, sr)
        wet = room_convolve(audio, self.room)
        audio = (1 - self.room_wet) * audio + self.room_wet * wet
        audio = audio / (np.sqrt(np.mean(audio ** 2)) + 1e-9) * db(-20.0)   # the compressor's reference level
        audio = compress(audio, sr, self.threshold_db - 20.0, self.ratio)
        audio = audio + self.tilt * (audio - ms.lowpass(audio, self.tone, sr))   # brighter or duller master
        audio = audio / (np.sqrt(np.mean(audio ** 2)) + 1e-9) * self.loudness
        audio = audio + self.hiss[: len(audio)]
        audio = np.tanh(audio / 0.9) * 0.9   # soft limiter: peaks above ~0.6 are rounded off, never clipped
        return audio.astype(np.float32)


def render_track(song: Song, loudness_dbfs, noise_dbfs, vocal: np.ndarray | None = None, vocal_level_db: float = 0.0,
                 instrumental: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Render a song, lay `vocal` (a produced voice, `vocals.vocal_chain`) over it at
    `vocal_level_db` against the beat, and master it. Returns (the track, float32 in [-1, 1];
    with `instrumental`, the same track without the voice, mastered alike, else None)."""
    beat = RECIPES[song.params["genre"]].render(song)
    master = Master(song.rng, song.sr, len(beat), loudness_dbfs, noise_dbfs)
    full = beat if vocal is None else lay_over(beat, vocal[: len(beat)], vocal_level_db)
    return master(full), (master(beat) if instrumental else None)
