"""Classical: strings / orchestra, solo piano, baroque, choral and opera."""
from __future__ import annotations

import numpy as np
from librosa import midi_to_hz

from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import (
    GenreSpec, Mix, Song, melody, pick, play, progression_notes, uniform,
)


SPEC = GenreSpec(
    {"strings": (60, 120, 0.3), "piano": (60, 130, 0.2), "baroque": (85, 130, 0.25), "choral": (50, 80, 0.15),
     "opera": (55, 90, 0.1)},
    ("major", "minor", "harmonic_minor", "major"), (40, 50),
    {"strings": ("classical", "classic"), "piano": ("classical", "classic"), "baroque": ("baroque", "classical"),
     "choral": ("choral", "choir"), "opera": ("opera", "classical")},
    {"strings": 0.3, "violin": 0.2, "cello": 0.1, "piano": 0.15, "harpsichord": 0.1, "orchestra": 0.1, "slow": 0.2,
     "soft": 0.15,
     "quiet": 0.15, "no vocals": 0.1, "calm": 0.1, "solo": 0.05, "female opera": 0.05, "ambient": 0.05,
     "new age": 0.03, "clasical": 0.05},
    humanize_s=(0.006, 0.015), rubato_s=(0.04, 0.12), voice="choir")


def render(song: Song) -> np.ndarray:
    """No drums: string ensembles, solo piano (Alberti / broken chords), baroque harpsichord with
    continuous 16ths, choirs and operatic voices over functional harmony in a reverberant hall,
    with phrase-long swells."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    progression = pick(rng, ([0, 3, 4, 0], [0, 5, 1, 4], [0, 3, 1, 4], [5, 1, 4, 0], [0, 4, 5, 2, 3, 0, 3, 4]))
    per = int(pick(rng, (1, 2)))
    mix = Mix(song)
    if style == "piano":
        # pedalled arpeggios over two octaves: every note rings to the end of its bar
        order = pick(rng, ([0, 1, 2, 3, 4, 3, 2, 1], [0, 2, 4, 5, 4, 2, 3, 1], [0, 1, 2, 4, 5, 4, 2, 1]))
        broken = []
        for bar in song.bars():
            chord = song.chord(progression[(bar // per) % len(progression)], 0, 3)
            span = [chord[0], chord[1] + 12, chord[2] + 12, chord[0] + 24, chord[1] + 24, chord[2] + 24]
            for k, s in enumerate(range(0, 16, 2)):
                broken.append((song.t(bar, s), (16 - s) * song.step_s + 0.3, span[order[k]], 0.6))
        play(r, song, "lh", broken, lambda f, n: ms.piano(f, n, sr, 0.35))
        line = melody(song, 2, ([0, 4, 8, 12], [0, 2, 4, 6, 8, 12], [0, 6, 8, 12]), 7, 16, 1, rest=0.1)
        play(r, song, "rh", line, lambda f, n: ms.piano(f, n, sr, 0.5))
        mix.add(r.take(), 0.0, 0.5)
    elif style == "baroque":
        continuo = pick(rng, ("harpsichord", "strings"))
        motion = []
        for bar in song.bars():
            chord = song.chord(progression[(bar // per) % len(progression)], 2, 3)
            for s in range(16):
                motion.append((song.t(bar, s), 1.2 * song.step_s,
                               chord[(s * 2 + s // 4) % 3] + (12 if s % 8 >= 4 else 0), 0.6))
        if continuo == "harpsichord":
            play(r, song, "harpsichord", motion, lambda f, n: ms.pluck(f, n, sr, rng, 1.0, 0.993))
        else:
            play(r, song, "violin", motion, lambda f, n: ms.bowed_lead(f, n, sr, rng, 3500.0))
        bass = [(a, d, m - 12, g) for a, d, m, g in progression_notes(song, progression, per, [0, 4, 8, 12], 1, 1)]
        play(r, song, "cello", bass, lambda f, n: ms.strings(f, n, sr, rng, 0.03, 1500.0))
        mix.add(r.take(), 0.0, 0.4)
    elif style in ("choral", "opera"):
        chords = progression_notes(song, progression, per, [0] if per == 1 else [0, 8], 1, 4)
        vowel = pick(rng, ("a", "o", "u"))
        play(r, song, "choir", chords, lambda f, n: ms.choir(f, n, sr, rng, vowel))
        mix.add(r.take(), 0.0, 0.6)
        if style == "opera":
            aria = melody(song, 2, ([0, 8], [0, 4, 8], [0, 12], [0, 6, 8]), 7, 14, 2, rest=0.05)
            play(r, song, "soprano", aria, lambda f, n: ms.choir(f, n, sr, rng, "a"))
            play(r, song, "strings", progression_notes(song, progression, per, [0], 1, 3),
                 lambda f, n: ms.strings(f, n, sr, rng))
            mix.add(r.take(), -2.0, 0.5)
    else:   # strings / orchestra
        section = progression_notes(song, progression, per, [0] if rng.uniform() < 0.5 else [0, 8], 1, 4)
        play(r, song, "strings", section,
             lambda f, n: ms.strings(f, n, sr, rng, uniform(rng, (0.15, 0.4)), uniform(rng, (2000, 4000))))
        mix.add(r.take(), -2.0, 0.5)
        line = melody(song, 2, ([0, 4, 8, 12], [0, 8], [0, 2, 4, 8, 12], [0, 6, 8]), 7, 16, 1, rest=0.05)
        lead = pick(rng, ("violin", "flute", "oboe"))
        renders = {"violin": lambda f, n: ms.bowed_lead(f, n, sr, rng),
                   "flute": lambda f, n: ms.flute(f, n, sr, rng, 0.05),
                   "oboe": lambda f, n: ms.reed(f, n, sr, rng, 1.2, 0.02)}
        play(r, song, lead, line, renders[lead])
        mix.add(r.take(), -1.0, 0.4)
        if rng.uniform() < 0.3:   # timpani on the phrase starts
            timpani = ms.tom(int(1.5 * sr), sr, midi_to_hz(song.root), rng)
            for bar in range(0, song.n_bars, 4):
                r.place(timpani, song.t(bar, 0), 1.0)
            mix.add(r.take(), -8.0, 0.6)
    out = mix.render(uniform(rng, (1.6, 3.0)), uniform(rng, (0.3, 0.55)))
    swell = 1.0 + 0.4 * np.sin(2 * np.pi * ms.times(song.n, sr) / (8 * song.bar_s) + rng.uniform(0, 2 * np.pi))
    return out * swell

