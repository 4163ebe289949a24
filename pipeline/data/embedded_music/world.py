"""World: indian, middle eastern, spanish and tribal."""
from __future__ import annotations

import numpy as np
from librosa import midi_to_hz

from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import (
    GenreSpec, Mix, Song, melody, pick, play, play_drums, steps, uniform,
)


SPEC = GenreSpec(
    {"indian": (60, 110, 0.3), "middle eastern": (85, 125, 0.3), "spanish": (100, 140, 0.2),
     "tribal": (90, 130, 0.2)},
    ("major",), (38, 46),
    {"indian": ("indian", "sitar"), "middle eastern": ("middle eastern", "arabic", "oriental", "eastern"),
     "spanish": ("spanish", "world"), "tribal": ("tribal", "world")},
    {"world": 0.3, "foreign": 0.2, "eastern": 0.1, "percussion": 0.25, "drums": 0.15, "sitar": 0.05, "india": 0.1,
     "guitar": 0.1,
     "not english": 0.05, "drone": 0.1, "chanting": 0.05, "new age": 0.05, "ambient": 0.03, "pop": 0.02})
# each sub-style has its own modes (ragas, maqam): `draw_song` takes these instead of SPEC.scales
STYLE_SCALES = {"indian": ("bhairav", "yaman", "kafi"), "middle eastern": ("hijaz",), "spanish": ("phrygian",),
                "tribal": ("minor", "dorian")}


def render(song: Song) -> np.ndarray:
    """Indian (tanpura drone, tabla theka, sitar or bansuri in a raga with slides), middle eastern
    (oud and ney in hijaz over a darbuka maqsoum and a drone), spanish (nylon-guitar rasgueado over
    the andalusian cadence with palmas and cajon) and tribal (interlocking hand drums, chant)."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    mix = Mix(song)
    if style in ("indian", "middle eastern"):
        # the drone: a tanpura cycle (5th, tonic, tonic, low tonic) or a held oud / ney drone
        cycle_s = uniform(rng, (1.2, 2.0))
        drone_notes = []
        t = 0.0
        while t < song.seconds:
            for k, interval in enumerate((7, 12, 12, 0)):
                drone_notes.append((t + k * cycle_s / 4, 2.5, song.root + 12 + interval, 0.7))
            t += cycle_s
        play(r, song, "tanpura", drone_notes, lambda f, n: ms.sitar(f, n, sr, rng))
        mix.add(r.take(), uniform(rng, (-10.0, -5.0)), 0.3)
        if style == "indian":
            kit = {"na": ms.hand_drum(int(0.3 * sr), sr, uniform(rng, (480, 620)), 0.12, 0.0, 0.4, rng),
                   "tin": ms.hand_drum(int(0.2 * sr), sr, uniform(rng, (600, 750)), 0.06, 0.0, 0.2, rng),
                   "ge": ms.hand_drum(int(0.6 * sr), sr, uniform(rng, (75, 100)), 0.25, 0.6, 0.1, rng)}
            theka = [("ge", "na"), ("na",), ("na",), ("ge", "na"), ("ge", "na"), ("na",), ("na",), ("ge", "na"),
                     ("ge", "na"), ("tin",), ("tin",), ("na",), ("na",), ("na",), ("na",), ("ge", "na")]

            def pattern(bar):   # teentaal: 16 beats over 4 bars of 4
                out = {"na": [], "tin": [], "ge": []}
                for beat in range(4):
                    for stroke in theka[(bar % 4) * 4 + beat]:
                        out[stroke].append((4 * beat, 1.0))
                    if rng.uniform() < 0.4:
                        out["tin"].append((4 * beat + 2, 0.4))
                return out
        else:
            kit = {"dum": ms.hand_drum(int(0.4 * sr), sr, uniform(rng, (85, 110)), 0.15, 0.1, 0.2, rng),
                   "tek": ms.hand_drum(int(0.15 * sr), sr, uniform(rng, (900, 1200)), 0.03, 0.0, 1.0, rng),
                   "riq": ms.hat(int(0.2 * sr), sr, 0.08, rng)}

            def pattern(bar):   # maqsoum: dum tek - tek dum - tek -
                return {"dum": steps([0, 6, 8]),
                        "tek": steps([2, 4, 10, 12, 14] if rng.uniform() < 0.5 else [4, 10, 12], 0.8),
                        "riq": steps(range(0, 16, 2), 0.3)}
        play_drums(r, song, kit, pattern)
        mix.add(r.take(), uniform(rng, (-3.0, 0.0)), 0.2)
        lead = pick(rng, ("sitar", "bansuri")) if style == "indian" else pick(rng, ("oud", "ney"))
        line = melody(song, 2, ([0, 2, 4, 6, 8, 12], [0, 3, 4, 8, 10, 12], [0, 4, 6, 7, 8, 12]), 5, 13, 1, rest=0.1,
                      leap=0.05)
        renders = {"sitar": lambda f, n: ms.sitar(f, n, sr, rng), "bansuri": lambda f, n: ms.flute(f, n, sr, rng, 0.3),
                   "oud": lambda f, n: ms.pluck(f, n, sr, rng, 0.45, 0.994),
                   "ney": lambda f, n: ms.flute(f, n, sr, rng, 0.45)}
        if lead in ("sitar", "oud"):   # plucked leads slide into notes (meend) and re-strike (krintan)
            glide = 0.6 if lead == "sitar" else 0.25
            previous = line[0][2]
            for at, dur, midi, gain in line:
                slide_from = previous if rng.uniform() < glide and previous != midi else midi
                r.note((lead, midi, slide_from), at, dur, gain, lambda n, m=midi, f0=slide_from: ms.bend(
                    renders[lead](midi_to_hz(m), n), sr, midi_to_hz(f0) / midi_to_hz(m), 0.08))
                previous = midi
        else:
            play(r, song, lead, line, renders[lead])
        mix.add(r.take(), 0.0, 0.35)
        song.params.update(lead=lead)
    elif style == "spanish":
        cadence = [0, 6, 5, 4]   # i - bVII - bVI - V in phrygian (the andalusian cadence)
        strum = []
        for bar in song.bars():
            chord = song.chord(cadence[bar % 4], 1, 4)
            if cadence[bar % 4] == 4:
                chord = [c + 1 if (c - song.root) % 12 == 3 else c for c in chord]   # major V (the raised third)
            for s in pick(rng, ([0, 3, 6, 8, 11, 14], [0, 2, 3, 6, 8, 10, 12], [0, 4, 6, 10, 12])):
                for k, midi in enumerate(chord):
                    strum.append((song.t(bar, s) + k * 0.008, 3 * song.step_s, midi, 0.5))
        play(r, song, "nylon", strum, lambda f, n: ms.pluck(f, n, sr, rng, 0.55, 0.995))
        mix.add(r.take(), 0.0, 0.3)
        kit = {"clap": ms.clap(int(0.25 * sr), sr, rng),
               "cajon": ms.hand_drum(int(0.3 * sr), sr, 90, 0.1, 0.0, 0.6, rng)}
        play_drums(r, song, kit, lambda bar: {"clap": steps([2, 6, 10, 14] if bar % 2 else [0, 4, 8, 12], 0.7),
                                              "cajon": steps([0, 7, 10])})
        mix.add(r.take(), uniform(rng, (-6.0, -2.0)), 0.2)
    else:   # tribal: 3-against-2 hand drums, shakers, a chanted line
        kit = {f"drum{k}": ms.hand_drum(int(0.4 * sr), sr, uniform(rng, (70, 400)), uniform(rng, (0.08, 0.2)),
                                        uniform(rng, (0.0, 0.3)), 0.5, rng) for k in range(4)}
        kit["shaker"] = ms.shaker(int(0.12 * sr), sr, rng)
        song_steps = [sorted(int(s) for s in rng.choice(16, int(rng.integers(3, 7)), replace=False)) for _ in range(4)]
        play_drums(r, song, kit, lambda bar: {**{f"drum{k}": steps(song_steps[k], 0.8) for k in range(4)},
                                              "shaker": steps(range(0, 16, 2), 0.3)})
        mix.add(r.take(), 0.0, 0.2)
        chant = melody(song, 2, ([0, 4, 8, 12], [0, 6, 8, 12]), 0, 4, 1, rest=0.4, leap=0.0)
        play(r, song, "chant", chant, lambda f, n: ms.choir(f, n, sr, rng, "o"))
        mix.add(r.take(), uniform(rng, (-8.0, -3.0)), 0.3)
    return mix.render(uniform(rng, (0.8, 2.0)), uniform(rng, (0.15, 0.35)))

