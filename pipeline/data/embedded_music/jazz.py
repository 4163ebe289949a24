"""Jazz: swing, ballads, blues and funk."""
from __future__ import annotations

import numpy as np

from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import (
    GenreSpec, Mix, Song, melody, pick, play, play_drums, steps, uniform,
)


SPEC = GenreSpec(
    {"swing": (120, 210, 0.35), "ballad": (60, 90, 0.2), "blues": (75, 115, 0.2), "funk": (95, 115, 0.25)},
    ("major", "dorian", "mixolydian"), (36, 45),
    {"swing": ("jazz",), "ballad": ("jazzy", "jazz"), "blues": ("blues",), "funk": ("funk", "jazz")},
    {"sax": 0.2, "piano": 0.15, "trumpet": 0.1, "bass": 0.2, "drums": 0.15, "guitar": 0.1, "funky": 0.1,
     "slow": 0.1,
     "organ": 0.05, "instrumental": 0.1, "soft": 0.05, "no vocals": 0.05, "pop": 0.05, "dance": 0.05},
    swing=(0.6, 0.68), swing_steps=2, humanize_s=(0.004, 0.01))


def render(song: Song) -> np.ndarray:
    """Swing (ride 'ding ding-a ding' with swung 8ths, hi-hat on 2 & 4, walking bass, rootless
    7th-chord comping, sax / trumpet lines over ii-V-I), ballads with brushes, 12-bar shuffle blues,
    and funk (straight 16ths, syncopated kick, ghost notes, slap-ish bass, stabs)."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    kit = {
        "kick": ms.kick(int(0.3 * sr), sr, 110, 60, 0.02, 0.12, 0.1, rng),
        "snare": ms.snare(int(0.3 * sr), sr, uniform(rng, (190, 250)), uniform(rng, (0.08, 0.2)),
                          uniform(rng, (0.4, 0.9)), rng),
        "ride": ms.ride(int(1.5 * sr), sr, uniform(rng, (0.4, 1.0)), rng),
        "hat": ms.hat(int(0.1 * sr), sr, 0.02, rng),
        "brush": ms.bandpass(song.rng.standard_normal(int(0.3 * sr)), 2000, 7000,
                             sr) * ms.adsr(int(0.3 * sr), sr, 0.04, 0.08, 0.0, 0.0),
    }
    if style == "funk":
        kicks = pick(rng, ([0, 3, 10], [0, 6, 10, 11], [0, 3, 7, 10], [0, 10, 13]))

        def pattern(bar):
            ghosts = [(s, 0.15) for s in (2, 7, 9, 14) if rng.uniform() < 0.6]
            return {"kick": steps(kicks), "snare": steps([4, 12]) + ghosts,
                    "hat": [(s, 0.4 if s % 2 == 0 else 0.25) for s in range(16)]}
    elif style == "blues":
        def pattern(bar):
            return {"kick": steps([0, 8]), "snare": steps([4, 12]),
                    "ride" if rng.uniform() < 0.5 else "hat": steps(range(0, 16, 2), 0.4)}
    else:
        swept = style == "ballad"

        def pattern(bar):
            comp = [(int(s), 0.25) for s in rng.choice(16, 2, replace=False) if rng.uniform() < 0.5]
            out = {"ride": [(0, 0.6), (4, 0.7), (6, 0.45), (8, 0.6), (12, 0.7), (14, 0.45)],
                   "hat": steps([4, 12], 0.4),
                   "kick": steps([0, 4, 8, 12], 0.12)}
            if swept:
                out["brush"] = steps(range(0, 16, 2), 0.4)
            else:
                out["snare"] = comp
            return out

    play_drums(r, song, kit, pattern)
    drums = r.take()
    if style == "blues":
        progression = [0, 0, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4]
    elif style == "funk":
        progression = pick(rng, ([0], [0, 3], [0, 0, 3, 3]))
    else:
        progression = pick(rng, ([1, 4, 0, 5], [1, 4, 0, 0], [0, 5, 1, 4], [2, 5, 1, 4]))
    # walking bass: root on 1, chord tones, chromatic approach on 4 (funk: syncopated 16ths)
    bass = []
    def upright(f, n):   # a dark pluck plus a sine for the body
        return 0.7 * ms.pluck(f, n, sr, rng, 0.25, 0.99) + 0.3 * ms.sine(f, n, sr) * ms.decay_env(n, sr, 0.4)

    for bar in song.bars():
        root = song.note(progression[bar % len(progression)], 1) - 12
        nxt = song.note(progression[(bar + 1) % len(progression)], 1) - 12
        if style == "funk":
            for s in kicks + [int(x) for x in rng.choice(16, 3, replace=False)]:
                bass.append((song.t(bar, s), song.step_s * 1.5, root + int(pick(rng, (0, 0, 12, 7, 10))), 1.0))
        else:
            tones = [root, root + int(pick(rng, (3, 4, 7))), root + int(pick(rng, (7, 5, 9, 10))),
                     nxt + int(pick(rng, (-1, 1, -2)))]
            for beat, midi in enumerate(tones):
                bass.append((song.t(bar, 4 * beat), song.beat_s * 0.9, midi, 1.0))
    play(r, song, "bass", bass,
         upright if style != "funk" else (lambda f, n: ms.synth_bass(f, n, sr, 1800.0, 2500.0, 0.8)))
    bass = r.take()
    comp_voice = pick(rng, ("piano", "epiano", "organ" if style == "blues" else "epiano", "guitar"))
    renders = {"piano": lambda f, n: ms.piano(f, n, sr, 0.45), "epiano": lambda f, n: ms.epiano(f, n, sr, 0.4),
               "organ": lambda f, n: ms.organ(f, n, sr, (1.0, 1.0, 0.6, 0.0, 0.4, 0.3)),
               "guitar": lambda f, n: ms.pluck(f, n, sr, rng, 0.4, 0.99)}
    comp = []
    for bar in song.bars():
        chord = song.chord(progression[bar % len(progression)], 1, 5)[1:]   # rootless 3-5-7-9
        if style == "funk":
            hits = [2, 6, 10, 14]
        else:   # a few syncopated comping hits per bar
            hits = [int(s) for s in rng.choice([0, 3, 6, 7, 10, 14], int(rng.integers(1, 4)), replace=False)]
        for s in hits:
            for midi in chord:
                comp.append((song.t(bar, s), song.step_s * (1.0 if style == "funk" else 3.0), midi, 0.5))
    play(r, song, comp_voice, comp, renders[comp_voice])
    comp = r.take()
    horn = pick(rng, ("sax", "trumpet", "sax"))
    line = melody(song, 4, ([0, 2, 4, 6, 8, 10, 12, 14], [0, 2, 6, 8, 10], [2, 4, 6, 10, 12, 14], [0, 6, 8, 12]), 6,
                  14, 1, rest=0.3, vary=0.5)
    index = 3.5 if horn == "trumpet" else 2.2
    play(r, song, horn, line, lambda f, n: ms.reed(f, n, sr, rng, index, 0.12 if horn == "sax" else 0.04))
    lead = r.take()
    song.params.update(horn=horn, comp=comp_voice)
    mix = Mix(song)
    mix.add(drums, uniform(rng, (-4.0, -1.0)), 0.2)
    mix.add(bass, -2.0, 0.1)
    mix.add(comp, uniform(rng, (-7.0, -3.0)), 0.3)
    mix.add(lead, uniform(rng, (-4.0, 0.0)), 0.3)
    return mix.render(uniform(rng, (0.8, 1.6)), uniform(rng, (0.15, 0.35)))

