"""Rock, hard rock, soft rock and punk; `rock_kit` is metal's kit too."""
from __future__ import annotations

import numpy as np

from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import (
    GenreSpec, Mix, Song, melody, pick, play, play_drums, progression_notes, steps, uniform,
)


SPEC = GenreSpec(
    {"rock": (105, 145, 0.4), "hard rock": (100, 135, 0.25), "soft rock": (75, 110, 0.2), "punk": (160, 200, 0.15)},
    ("major", "mixolydian", "minor"), (38, 45),
    {"rock": ("rock",), "hard rock": ("hard rock", "rock"), "soft rock": ("soft rock", "rock"),
     "punk": ("punk", "rock")},
    {"guitar": 0.5, "electric guitar": 0.25, "drums": 0.4, "loud": 0.2, "fast": 0.15, "male vocal": 0.15,
     "vocal": 0.15,
     "singing": 0.1, "guitars": 0.1, "beat": 0.1, "not classical": 0.05, "pop": 0.1, "bass": 0.1, "heavy": 0.05})


def rock_kit(song: Song, tight: float) -> dict:
    rng, sr = song.rng, song.sr
    return {
        "kick": ms.kick(int(0.35 * sr), sr, uniform(rng, (140, 200)), uniform(rng, (52, 68)), 0.015,
                        uniform(rng, (0.07, 0.14)) / tight, 0.4 * tight, rng),
        "snare": ms.snare(int(0.4 * sr), sr, uniform(rng, (180, 240)), uniform(rng, (0.14, 0.25)),
                          uniform(rng, (0.6, 1.0)), rng),
        "hat": ms.hat(int(0.12 * sr), sr, uniform(rng, (0.03, 0.06)), rng),
        "open": ms.hat(int(0.5 * sr), sr, 0.25, rng),
        "ride": ms.ride(int(1.2 * sr), sr, 0.6, rng),
        "crash": ms.crash(int(2.0 * sr), sr, rng),
        "tom_hi": ms.tom(int(0.5 * sr), sr, uniform(rng, (150, 190)), rng),
        "tom_lo": ms.tom(int(0.5 * sr), sr, uniform(rng, (85, 110)), rng),
    }


def render(song: Song) -> np.ndarray:
    """Rock (straight 8ths, kick 1 & 3, snare 2 & 4, crunchy power chords, root-8th bass), hard
    rock (more gain), soft rock (slower, clean strummed chords and piano) and punk (fast)."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    kit = rock_kit(song, 1.0)
    kicks = pick(rng, ([0, 8], [0, 8, 10], [0, 6, 8], [0, 2, 8, 10] if style == "punk" else [0, 7, 8]))
    cymbal = "ride" if rng.uniform() < 0.25 else ("open" if style == "punk" and rng.uniform() < 0.5 else "hat")

    def pattern(bar):
        out = {"kick": steps(kicks), "snare": steps([4, 12]), cymbal: steps(range(0, 16, 2), 0.45)}
        if bar % 4 == 0:
            out["crash"] = steps([0], 0.6)
        if bar % 8 == 7:   # a tom fill into the next phrase
            out.pop(cymbal)
            out["snare"] = steps([4, 8, 9])
            out["tom_hi"] = steps([10, 11], 0.8)
            out["tom_lo"] = steps([12, 13, 14], 0.9)
        return out

    play_drums(r, song, kit, pattern)
    drums = r.take()
    progression = pick(rng, ([0, 6, 3, 0], [0, 3, 4, 3], [0, 4, 5, 3], [0, 3, 0, 4], [5, 3, 0, 4]))
    bars_per_chord = int(pick(rng, (1, 2)))
    eighths = list(range(0, 16, 2))
    if style == "soft rock":
        strum = progression_notes(song, progression, bars_per_chord, [0, 3, 6, 8, 10, 12, 14], 1, 4, strum_s=0.012)
        play(r, song, "clean", strum, lambda f, n: ms.pluck(f, n, sr, rng, 0.6, 0.996))
        guitar = r.take()
        keys = progression_notes(song, progression, bars_per_chord, [0, 8], 1, 3)
        play(r, song, "piano", keys, lambda f, n: ms.piano(f, n, sr, 0.5))
        keys = r.take()
    else:
        gain = {"hard rock": uniform(rng, (6, 12)), "punk": uniform(rng, (5, 10))}.get(style, uniform(rng, (2.5, 6)))
        cab = uniform(rng, (2500, 4500))
        chords = [(song.t(bar, s), 2 * song.step_s,
                   song.root + 12 + song.scale[progression[(bar // bars_per_chord) % 4] % 7], 1.0)
                  for bar in song.bars() for s in eighths]
        play(r, song, "power", chords, lambda f, n: ms.power_chord(f, n, sr, rng, gain, cab, False))
        guitar = r.take()
        keys = np.zeros(song.n)
    bass = [(a, d, m - 12, g) for a, d, m, g in progression_notes(song, progression, bars_per_chord, eighths, 1, 1)]
    play(r, song, "bass", bass, lambda f, n: ms.synth_bass(f, n, sr, uniform(rng, (600, 1400))))
    bass = r.take()
    lead = np.zeros(song.n)
    if rng.uniform() < 0.6:   # a sung or guitar melody line
        line = melody(song, 2, ([0, 4, 8, 12], [0, 2, 4, 8, 10], [0, 6, 8, 12]), 2, 11, 2, rest=0.25)
        voice = pick(rng, ("a", "o", "e"))
        play(r, song, "lead", line, lambda f, n: ms.choir(f, n, sr, rng, voice))
        lead = r.take()
    mix = Mix(song)
    mix.add(drums, 0.0, 0.25)
    mix.add(guitar, uniform(rng, (-4.0, -1.0)), 0.2)
    mix.add(bass, -4.0)
    if np.any(keys):
        mix.add(keys, -6.0, 0.3)
    if np.any(lead):
        mix.add(lead, uniform(rng, (-9.0, -5.0)), 0.3)
    song.params.update(kick_steps=kicks)
    return mix.render(uniform(rng, (0.8, 1.5)), uniform(rng, (0.1, 0.3)))

