"""Country, folk and celtic / irish."""
from __future__ import annotations

import numpy as np

from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import (
    GenreSpec, Mix, Song, melody, pick, play, play_drums, progression_notes, steps, uniform,
)


SPEC = GenreSpec(
    {"country": (90, 135, 0.4), "folk": (70, 110, 0.35), "celtic": (100, 130, 0.25)},
    ("major", "major", "mixolydian"), (38, 45),
    {"country": ("country",), "folk": ("folk",), "celtic": ("celtic", "irish", "folk")},
    {"guitar": 0.5, "acoustic guitar": 0.25, "acoustic": 0.2, "banjo": 0.1, "fiddle": 0.15, "violin": 0.1,
     "happy": 0.1,
     "male vocal": 0.05, "flute": 0.05, "upbeat": 0.05, "pop": 0.05, "new age": 0.03, "world": 0.03})


def render(song: Song) -> np.ndarray:
    """Country (boom-chick: root-fifth bass on 1 and 3, strummed acoustic on the 'chick', a brushed
    train beat, fiddle, banjo rolls, harmonica or slap-back twang guitar), folk (Travis-picked
    guitar, a voice or harmonica, a shaker at most) and celtic / irish jigs in 6/8 (fiddle or
    whistle running triplets, bodhran)."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    progression = pick(rng, ([0, 3, 4, 0], [0, 4, 5, 3], [0, 0, 3, 4], [0, 3, 0, 4]))
    guitar = lambda f, n: ms.pluck(f, n, sr, rng, uniform(rng, (0.5, 0.8)), 0.996)
    mix = Mix(song)
    if style == "celtic":
        bodhran = ms.hand_drum(int(0.4 * sr), sr, uniform(rng, (70, 95)), 0.12, 0.0, 0.3, rng)
        for bar in song.bars():
            for s, g in ((0, 1.0), (2, 0.4), (3, 0.7), (5, 0.4)):
                r.place(bodhran, song.t(bar, s), g)
        mix.add(r.take(), -5.0, 0.2)
        play(r, song, "strum", progression_notes(song, progression, 1, [0, 3], 1, 3, strum_s=0.015), guitar)
        mix.add(r.take(), -6.0, 0.2)
        line = melody(song, 2, ([0, 1, 2, 3, 4, 5], [0, 2, 3, 4, 5], [0, 1, 2, 3, 5]), 7, 15, 1, rest=0.03, leap=0.1)
        lead = pick(rng, ("fiddle", "whistle"))
        renders = {"fiddle": lambda f, n: ms.bowed_lead(f, n, sr, rng, 5000.0),
                   "whistle": lambda f, n: ms.flute(f, n, sr, rng, 0.2)}
        play(r, song, lead, line, renders[lead])
        mix.add(r.take(), 0.0, 0.3)
        return mix.render(uniform(rng, (0.8, 1.5)), uniform(rng, (0.15, 0.3)))
    if style == "country" or rng.uniform() < 0.3:
        kit = {"kick": ms.kick(int(0.3 * sr), sr, 120, 65, 0.02, 0.1, 0.2, rng),
               "snare": ms.snare(int(0.3 * sr), sr, 210, 0.1, 0.5, rng), "hat": ms.hat(int(0.1 * sr), sr, 0.025, rng)}
        kit["brush"] = ms.bandpass(rng.standard_normal(int(0.15 * sr)), 2500, 7000,
                                   sr) * ms.decay_env(int(0.15 * sr), sr, 0.04)
        if rng.uniform() < 0.5:   # the train beat: brushed 16ths, accents on 2 and 4
            pattern = {"kick": steps([0, 8]), "brush": [(s, 0.7 if s in (4, 12) else 0.3) for s in range(16)]}
        else:
            pattern = {"kick": steps([0, 8]), "snare": steps([4, 12], 0.6), "hat": steps(range(0, 16, 2), 0.25)}
        play_drums(r, song, kit, lambda bar: pattern)
        mix.add(r.take(), uniform(rng, (-6.0, -2.0)), 0.15)
    bass = []
    for bar in song.bars():
        root = song.note(progression[bar % 4], 1) - 12
        bass += [(song.t(bar, 0), 2 * song.beat_s * 0.9, root, 1.0),
                 (song.t(bar, 8), 2 * song.beat_s * 0.9, root + 7 - 12 * (root + 7 > 52), 0.9)]
    play(r, song, "bass", bass, lambda f, n: ms.pluck(f, n, sr, rng, 0.5, 0.995))
    mix.add(r.take(), -4.0)
    if style == "country":
        strum = progression_notes(song, progression, 1,
                                  [4, 6, 12, 14] if rng.uniform() < 0.5 else [0, 4, 6, 8, 12, 14], 1, 4, strum_s=0.01)
    else:   # travis picking: the thumb alternates root and fifth on the beats, fingers between
        strum = []
        for bar in song.bars():
            chord = song.chord(progression[bar % 4], 1, 4)
            thumb = [chord[0] - 12, chord[2] - 12]
            for beat in range(4):
                strum.append((song.t(bar, 4 * beat), 4 * song.step_s, thumb[beat % 2], 0.8))
                strum.append((song.t(bar, 4 * beat + 2), 3 * song.step_s, chord[1 + (beat % 3)], 0.55))
        if rng.uniform() < 0.7:
            kit = {"shaker": ms.shaker(int(0.12 * sr), sr, rng), "tambourine": ms.hat(int(0.25 * sr), sr, 0.08, rng)}
            shake = pick(rng, ("shaker", "tambourine"))
            hits = steps(range(0, 16, 2), 0.5) if shake == "shaker" else steps([4, 12], 0.6)
            play_drums(r, song, kit, lambda bar: {shake: hits})
            mix.add(r.take(), uniform(rng, (-12.0, -7.0)), 0.2)
    play(r, song, "guitar", strum, guitar)
    mix.add(r.take(), -2.0, 0.2)
    if style == "country":
        leads = ("fiddle", "banjo", "harmonica", "twang")
    else:
        leads = ("voice", "voice", "harmonica", "fiddle")
    lead = pick(rng, leads)
    if lead == "banjo":
        roll = []
        for bar in song.bars():
            chord = song.chord(progression[bar % 4], 2, 3)
            roll += [(song.t(bar, s), 2 * song.step_s, chord[(s * 2) % 3], 0.7) for s in range(16)]
        play(r, song, "banjo", roll, lambda f, n: ms.pluck(f, n, sr, rng, 1.0, 0.985))
    elif lead == "twang":   # chicken-picked electric guitar through a slap-back echo
        line = melody(song, 2, ([0, 2, 3, 6, 8, 10, 11, 14], [0, 2, 4, 6, 8, 10, 12, 14]), 7, 14, 1, rest=0.2)
        play(r, song, "twang", [(a, d * 0.5, m, g) for a, d, m, g in line],
             lambda f, n: ms.drive(ms.pluck(f, n, sr, rng, 1.0, 0.99), 2.0))
    else:
        line = melody(song, 2, ([0, 4, 8, 12], [0, 2, 4, 8, 12], [0, 6, 8, 10, 12]), 7, 14, 1, rest=0.2)
        renders = {"fiddle": lambda f, n: ms.bowed_lead(f, n, sr, rng, 4500.0),
                   "harmonica": lambda f, n: ms.harmonica(f, n, sr, rng),
                   "voice": lambda f, n: ms.choir(f, n, sr, rng, "a")}
        play(r, song, lead, line, renders[lead])
    lead_part = r.take()
    mix.add(ms.slapback(lead_part, sr) if lead == "twang" else lead_part, uniform(rng, (-5.0, -1.0)), 0.25)
    song.params.update(lead=lead)
    return mix.render(uniform(rng, (0.7, 1.4)), uniform(rng, (0.1, 0.3)))

