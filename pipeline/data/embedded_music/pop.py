"""Pop, dance and disco."""
from __future__ import annotations

import numpy as np

from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import (
    GenreSpec, Mix, Song, melody, pick, play, play_drums, progression_notes, steps, uniform,
)


SPEC = GenreSpec(
    {"pop": (92, 126, 0.45), "dance": (116, 128, 0.3), "disco": (112, 124, 0.25)},
    ("major", "major", "mixolydian"), (38, 46),
    {"pop": ("pop",), "dance": ("dance", "pop"), "disco": ("disco", "dance")},
    {"vocal": 0.2, "female vocal": 0.15, "singing": 0.15, "beat": 0.25, "upbeat": 0.15, "happy": 0.15,
     "synth": 0.15,
     "drums": 0.2, "fast": 0.05, "female": 0.1, "keyboard": 0.1})


def render(song: Song) -> np.ndarray:
    """Pop: bright major-key I-V-vi-IV with piano or synth chords, clap-layered backbeat, a sung
    hook; dance / disco go four-on-the-floor with offbeat open hats and octave bass."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    four = song.style in ("dance", "disco")
    kit = {
        "kick": ms.kick(int(0.4 * sr), sr, uniform(rng, (120, 170)), uniform(rng, (48, 60)), 0.02,
                        uniform(rng, (0.12, 0.2)), 0.3, rng),
        "snare": ms.snare(int(0.3 * sr), sr, uniform(rng, (190, 230)), 0.12, 0.8, rng),
        "clap": ms.clap(int(0.3 * sr), sr, rng),
        "hat": ms.hat(int(0.1 * sr), sr, 0.03, rng),
        "open": ms.hat(int(0.35 * sr), sr, 0.15, rng),
        "shaker": ms.shaker(int(0.12 * sr), sr, rng),
    }
    kicks = [0, 4, 8, 12] if four else pick(rng, ([0, 8], [0, 7, 8], [0, 8, 10], [0, 6, 8, 14]))
    hats = range(0, 16, 2) if rng.uniform() < 0.6 else range(16)

    def pattern(bar):
        out = {"kick": steps(kicks), "clap": steps([4, 12], 0.8), "hat": steps(hats, 0.35)}
        if rng.uniform() < 0.7:
            out["snare"] = steps([4, 12], 0.6)
        if four:
            out["open"] = steps([2, 6, 10, 14], 0.4)
        elif rng.uniform() < 0.5:
            out["shaker"] = steps(range(1, 16, 2), 0.3)
        return out

    play_drums(r, song, kit, pattern)
    drums = r.take()
    progression = pick(rng, ([0, 4, 5, 3], [5, 3, 0, 4], [0, 5, 3, 4], [3, 4, 0, 0], [0, 3, 4, 3]))
    keys_voice = pick(rng, ("piano", "synth", "epiano", "pluck"))
    renders = {
        "piano": lambda f, n: ms.piano(f, n, sr, 0.6),
        "synth": lambda f, n: ms.pad(f, n, sr, rng, uniform(rng, (2500, 5000)), 0.02),
        "epiano": lambda f, n: ms.epiano(f, n, sr, 0.6),
        "pluck": lambda f, n: ms.pluck(f, n, sr, rng, 0.8, 0.994),
    }
    rhythm = pick(rng, ([0, 3, 6, 8, 11, 14], [0, 4, 8, 12], [2, 6, 10, 14], [0, 8]))
    play(r, song, keys_voice, progression_notes(song, progression, 1, rhythm, 1, 3), renders[keys_voice])
    keys = r.take()
    bass_steps = [0, 2, 4, 6, 8, 10, 12, 14]
    bass = [(a, d, m - 12 + (12 if four and i % 2 else 0), g) for i, (a, d, m, g) in
            enumerate(progression_notes(song, progression, 1, bass_steps, 1, 1))]
    cutoff = uniform(rng, (500, 1500))
    play(r, song, "bass", bass, lambda f, n: ms.synth_bass(f, n, sr, cutoff, None, 0.5))
    bass = r.take()
    hook = melody(song, 2, ([0, 2, 4, 6, 8, 12], [0, 3, 6, 8, 10], [0, 4, 6, 8, 12, 14]), 4, 11, 2, rest=0.15)
    if rng.uniform() < 0.6:
        vowel = pick(rng, ("a", "e", "o"))
        play(r, song, "voice", hook, lambda f, n: ms.choir(f, n, sr, rng, vowel))
    else:
        duty = uniform(rng, (0.2, 0.5))
        play(r, song, "lead", hook, lambda f, n: ms.synth_lead(f, n, sr, duty, 4000.0))
    lead = r.take()
    song.params.update(kick_steps=kicks)
    mix = Mix(song)
    mix.add(drums, 0.0, 0.15)
    mix.add(keys, uniform(rng, (-7.0, -3.0)), 0.3)
    mix.add(bass, -5.0)
    mix.add(lead, uniform(rng, (-6.0, -3.0)), 0.35)
    return mix.render(uniform(rng, (0.8, 1.6)), uniform(rng, (0.15, 0.3)))

