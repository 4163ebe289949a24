"""Metal and heavy metal."""
from __future__ import annotations

import numpy as np

from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import (
    GenreSpec, Mix, Song, pick, play, play_drums, steps, uniform,
)
from pipeline.data.embedded_music.rock import rock_kit


SPEC = GenreSpec(
    {"metal": (100, 200, 0.5), "heavy metal": (100, 170, 0.5)}, ("phrygian", "minor", "harmonic_minor"), (33, 40),
    {"metal": ("metal",), "heavy metal": ("heavy metal", "metal")},
    {"rock": 0.4, "hard rock": 0.2, "guitar": 0.4, "heavy": 0.4, "loud": 0.45, "fast": 0.3, "drums": 0.3,
     "hard": 0.2,
     "electric guitar": 0.15, "dark": 0.1, "noise": 0.05, "punk": 0.05})


def render(song: Song) -> np.ndarray:
    """Metal: clicky double-kick 16ths (or gallops), snare 2 & 4 or blasts, crash-heavy, high-gain
    palm-muted chugs on a low-tuned riff (phrygian / chromatic), bass doubling the riff."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    kit = rock_kit(song, 1.8)
    blast = song.bpm > 170 and rng.uniform() < 0.5
    feel = pick(rng, ("double", "gallop", "double"))
    if blast:
        kicks = list(range(0, 16, 2))
    else:
        kicks = {"double": list(range(16)), "gallop": [0, 3, 4, 7, 8, 11, 12, 15]}[feel]

    def pattern(bar):
        cymbal = pick(rng, ("ride", "hat", "crash")) if bar % 4 == 0 else "hat"
        out = {"kick": steps(kicks, 0.9), "snare": steps(range(2, 16, 4) if blast else [4, 12]),
               cymbal: steps(range(0, 16, 4 if blast else 2), 0.5)}
        if bar % 2 == 0:
            out["crash"] = steps([0], 0.8)
        return out

    play_drums(r, song, kit, pattern)
    drums = r.take()
    riff_degrees = [int(d) for d in rng.choice([0, 0, 0, 1, 2, 3, 4, 5], 8)]
    accents = set(int(x) for x in rng.choice(16, 4, replace=False)) | {0}
    notes = []
    for bar in song.bars():
        for step in range(0, 16, 1 if not blast else 2):
            degree = riff_degrees[(step // 2 + 4 * (bar % 2)) % 8]
            open_chord = step in accents
            notes.append((song.t(bar, step), (2 if open_chord else 1) * song.step_s, song.note(degree, 1), open_chord))
    gain = uniform(rng, (15, 40))
    cab = uniform(rng, (2800, 5000))
    for muted in (False, True):
        part = [(a, d, m, 1.0 if not muted else 0.8) for a, d, m, o in notes if o != muted]
        play(r, song, f"guitar{muted}", part, lambda f, n, pm=muted: ms.power_chord(f, n, sr, rng, gain, cab, pm))
    guitar = r.take()
    play(r, song, "bass", [(a, d, m - 12, 1.0) for a, d, m, _ in notes],
         lambda f, n: ms.drive(ms.synth_bass(f, n, sr, 900.0), 3.0))
    bass = r.take()
    song.params.update(kick_steps=kicks, blast=blast)
    mix = Mix(song)
    mix.add(drums, 0.0, 0.15)
    mix.add(guitar, uniform(rng, (-2.0, 1.0)), 0.1)
    mix.add(bass, -5.0)
    return mix.render(uniform(rng, (0.6, 1.2)), uniform(rng, (0.05, 0.2)))

