"""Ambient and new age."""
from __future__ import annotations

import numpy as np
from librosa import midi_to_hz

from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import (
    GenreSpec, Mix, Song, pick, play, play_drums, progression_notes, steps, uniform,
)


SPEC = GenreSpec(
    {"ambient": (50, 80, 0.5), "new age": (55, 85, 0.5)}, ("major", "lydian", "minor", "dorian"), (36, 46),
    {"ambient": ("ambient",), "new age": ("new age", "ambient")},
    {"synth": 0.2, "slow": 0.3, "quiet": 0.2, "soft": 0.2, "calm": 0.2, "airy": 0.1, "spacey": 0.15, "space": 0.05,
     "drone": 0.1, "no beat": 0.15, "no drums": 0.1, "bells": 0.05, "water": 0.05, "birds": 0.05, "eerie": 0.05,
     "pop": 0.03},
    humanize_s=(0.0, 0.0))


def render(song: Song) -> np.ndarray:
    """Ambient / new age: no beat (at most a soft shaker), slow-swelling pads over a drone, sparse
    bells or piano on a pentatonic, sometimes a flute, water or birds, and a long reverb."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    mix = Mix(song)
    progression = pick(rng, ([0, 3], [0, 5, 3, 4], [0, 4], [0, 1], [0, 3, 5, 4]))
    chord_bars = int(pick(rng, (2, 4)))
    pad_notes = progression_notes(song, progression, chord_bars, [0], 1, 4,
                                  length_steps=song.steps_per_bar * chord_bars * 1.15)
    cutoff = uniform(rng, (600, 2500))
    attack = uniform(rng, (0.8, 2.5))
    voice = pick(rng, ("pad", "strings", "choir"))
    play(r, song, voice, pad_notes, lambda f, n: ms.pad(f, n, sr, rng, cutoff, attack) if voice == "pad" else
         ms.strings(f, n, sr, rng, attack, cutoff) if voice == "strings" else ms.choir(f, n, sr, rng, "u"))
    mix.add(r.take(), 0.0, 0.6)
    drone = ms.sine(midi_to_hz(song.root), song.n, sr) + 0.3 * ms.sine(midi_to_hz(song.root + 7), song.n, sr)
    if rng.uniform() < 0.6:
        mix.add(drone * (0.8 + 0.2 * ms.sine(uniform(rng, (0.03, 0.1)), song.n, sr)), uniform(rng, (-12.0, -6.0)))
    pentatonic = [0, 1, 2, 4, 5]   # degrees of a major / minor scale that avoid the half steps
    sparkle = pick(rng, ("bell", "piano", "flute", "none"))
    if sparkle != "none":
        notes, ring_s = [], uniform(rng, (1.5, 3.5))   # one ring length per track: notes share renders
        t = rng.uniform(0.0, 2.0)
        while t < song.seconds:
            notes.append((t, ring_s, song.note(int(pick(rng, pentatonic)) + 7 * int(rng.integers(0, 2)), 2),
                          uniform(rng, (0.4, 1.0))))
            t += uniform(rng, (0.6, 2.5)) * song.beat_s * 2
        ratio = uniform(rng, (2.0, 4.0))
        renders = {"bell": lambda f, n: ms.bell(f, n, sr, ratio, 2.0), "piano": lambda f, n: ms.piano(f, n, sr, 0.3),
                   "flute": lambda f, n: ms.flute(f, n, sr, rng, 0.25)}
        play(r, song, sparkle, notes, renders[sparkle])
        mix.add(r.take(), uniform(rng, (-6.0, -2.0)), 0.7)
    nature = pick(rng, ("water", "birds", "none", "none"))
    if nature == "water":
        mix.add(ms.lowpass(rng.standard_normal(song.n), 1200, sr) * (0.6 + 0.4 * ms.sine(0.2, song.n, sr)),
                uniform(rng, (-20.0, -12.0)))
    elif nature == "birds":
        for at in np.sort(rng.uniform(0, song.seconds, int(song.seconds / 3))):
            n = int(uniform(rng, (0.08, 0.2)) * sr)
            chirp = ms.sine(np.linspace(uniform(rng, (2500, 4000)), uniform(rng, (3000, 6000)), n), n,
                            sr) * ms.adsr(n, sr, 0.01, 0.05, 0.5, 0.03)
            r.place(chirp, at, 1.0)
        mix.add(r.take(), uniform(rng, (-16.0, -10.0)), 0.4)
    if rng.uniform() < 0.2:
        shaker = ms.shaker(int(0.15 * sr), sr, rng)
        play_drums(r, song, {"shaker": shaker}, lambda bar: {"shaker": steps(range(0, 16, 4), 0.5)})
        mix.add(r.take(), -16.0, 0.5)
    song.params.update(pad=voice, sparkle=sparkle, nature=nature)
    return mix.render(uniform(rng, (2.5, 4.0)), uniform(rng, (0.4, 0.7)))

