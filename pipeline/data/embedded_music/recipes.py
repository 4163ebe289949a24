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


def render_track(song: Song, loudness_dbfs, noise_dbfs) -> np.ndarray:
    """Render a song and master it: high-pass, a random tone tilt, a noise floor and a loudness
    drawn from ranges shared by every genre, then a soft limiter. float32 in [-1, 1]."""
    rng, sr = song.rng, song.sr
    audio = RECIPES[song.params["genre"]].render(song)
    audio = ms.highpass(audio, 30.0, sr)
    tone = uniform(rng, (3500, 7800))
    audio = audio + uniform(rng, (-0.5, 0.3)) * (audio - ms.lowpass(audio, tone, sr))   # brighter or duller master
    audio = audio / (np.sqrt(np.mean(audio ** 2)) + 1e-9) * db(uniform(rng, loudness_dbfs))
    hiss = ms.lowpass(rng.standard_normal(len(audio), dtype=np.float32), uniform(rng, (3000, 7900)), sr)
    audio = audio + db(uniform(rng, noise_dbfs)) * hiss
    audio = np.tanh(audio / 0.9) * 0.9   # soft limiter: peaks above ~0.6 are rounded off, never clipped
    return audio.astype(np.float32)
