"""Techno, house, trance, jungle, industrial and electro."""
from __future__ import annotations

import numpy as np

from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import (
    GenreSpec, Mix, Song, pick, play, play_drums, progression_notes, steps, uniform,
)


SPEC = GenreSpec(
    {"techno": (124, 138, 0.3), "house": (118, 128, 0.25), "trance": (130, 140, 0.25), "jungle": (160, 176, 0.1),
     "industrial": (100, 130, 0.05), "electro": (120, 132, 0.05)},
    ("minor", "phrygian", "dorian"), (36, 44),
    {"techno": ("techno", "electronic"), "house": ("house", "electronic"), "trance": ("trance", "electronica"),
     "jungle": ("jungle", "electronic"), "industrial": ("industrial", "electro"),
     "electro": ("electro", "electronica")},
    {"beat": 0.35, "synth": 0.3, "dance": 0.25, "fast": 0.2, "repetitive": 0.2, "drums": 0.2, "beats": 0.15,
     "modern": 0.1,
     "weird": 0.1, "loud": 0.1, "pop": 0.05, "ambient": 0.05, "synthesizer": 0.1, "no vocals": 0.1})


def render(song: Song) -> np.ndarray:
    """Techno / house / trance: four-on-the-floor kick, offbeat open hats, 16th hats, sidechain
    pumping, acid or offbeat saw bass, saw arpeggios and stabs; jungle: chopped fast breakbeats
    under a sub and pads; industrial: distorted kick and metallic noise."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    kit = {
        "kick": ms.drive(ms.kick(int(0.45 * sr), sr, uniform(rng, (150, 220)), uniform(rng, (45, 55)), 0.025,
                                 uniform(rng, (0.15, 0.25)), 0.3, rng),
                         6.0 if style == "industrial" else 1.0),
        "clap": ms.clap(int(0.3 * sr), sr, rng),
        "snare": ms.snare(int(0.25 * sr), sr, 200, 0.1, 0.9, rng),
        "hat": ms.hat(int(0.08 * sr), sr, 0.02, rng),
        "open": ms.hat(int(0.3 * sr), sr, 0.09, rng),
        "metal": ms.drive(ms.bell(uniform(rng, (300, 900)), int(0.4 * sr), sr, 1.41,
                                  0.1) + 0.5 * ms.crash(int(0.4 * sr), sr, rng), 4.0),
    }
    breakdown_every = 16 if rng.uniform() < 0.5 else 0
    if style == "jungle":
        breaks = [[0, 10], [0, 6, 10], [0, 3, 10, 11]]
        snares = [[4, 12, 15], [4, 7, 12], [4, 9, 12, 14]]

        def pattern(bar):   # chopped breakbeats: ghosted snares, dense 16th hats
            ghosts = [(s, 0.25) for s in (1, 5, 9, 13) if rng.uniform() < 0.4]
            return {"kick": steps(pick(rng, breaks)), "snare": steps(pick(rng, snares)) + ghosts,
                    "hat": [(s, 0.35 if s % 2 == 0 else 0.2) for s in range(16)]}
    else:
        def pattern(bar):
            out = {"hat": steps(range(1, 16, 2) if rng.uniform() < 0.5 else range(16), 0.3),
                   "open": steps([2, 6, 10, 14], 0.45)}
            if not (breakdown_every and bar % breakdown_every in (14, 15)):
                out["kick"] = steps([0, 4, 8, 12])
            if style in ("house", "electro") or rng.uniform() < 0.4:
                out["clap"] = steps([4, 12], 0.7)
            if style == "industrial":
                out["metal"] = steps([int(s) for s in rng.choice(16, 3, replace=False)], 0.6)
            return out

    play_drums(r, song, kit, pattern)
    drums = r.take()
    beats = np.array([song.t(b, s, False) for b in song.bars() for s in (0, 4, 8, 12)])
    pumping = ms.pump(song.n, sr, beats, uniform(rng, (0.3, 0.7)) if style != "jungle" else 0.0, song.beat_s * 0.8)
    if style in ("techno", "electro", "industrial") or (style == "trance" and rng.uniform() < 0.3):
        seq = [int(d) for d in rng.choice([0, 0, 0, 2, 3, 4, 6, 7], 16)]
        accents = rng.uniform(size=16) < 0.35
        notes = [(song.t(bar, s), song.step_s * 0.8, song.note(seq[s], 1 if seq[s] < 7 else 0),
                  1.0 if accents[s] else 0.6)
                 for bar in song.bars() for s in range(16) if rng.uniform() < 0.8]
        cutoff, resonance = uniform(rng, (300, 900)), uniform(rng, (700, 2000))
        play(r, song, "acid", notes, lambda f, n: ms.synth_bass(f, n, sr, cutoff, resonance, 1.0))
    else:
        step = 2 if style != "jungle" else 6
        off = 2 if style != "jungle" else 0
        progression = pick(rng, ([0, 5, 3, 4], [0, 3, 5, 4], [0, 0, 5, 6]))
        roots = progression_notes(song, progression, 2, list(range(off, 16, step + off)), 1, 1)
        notes = [(a, d, m - 12, g) for a, d, m, g in roots]
        cutoff = uniform(rng, (400, 1200))
        play(r, song, "bass", notes,
             lambda f, n: ms.synth_bass(f, n, sr, cutoff, None, 0.6) if style != "jungle" else ms.reese(f, n, sr))
    bass = r.take()
    progression = pick(rng, ([0, 5, 3, 4], [0, 3, 5, 4], [0, 6, 5, 6], [0, 0, 3, 3]))
    synth = pick(rng, ("arp", "stab", "pad"))
    if style == "trance" or synth == "arp":
        arp = []
        for bar in song.bars():
            chord = song.chord(progression[(bar // 2) % 4], 2, 3)
            order = chord + [chord[1] + 12]
            for s in range(16):
                arp.append((song.t(bar, s), song.step_s * 0.9, order[s % 4], 0.7))
        cutoff = uniform(rng, (1500, 5000))
        play(r, song, "arp", arp, lambda f, n: ms.synth_bass(f, n, sr, cutoff, None, 0.8))
    elif synth == "stab":
        voice = pick(rng, ("organ", "saw"))
        play(r, song, "stab", progression_notes(song, progression, 2,
                                                [2, 6, 10, 14] if style == "house" else [0, 3, 6, 10], 2, 3,
                                                length_steps=1.5),
             lambda f, n: ms.organ(f, n, sr) if voice == "organ" else ms.synth_lead(f, n, sr, 0.5, 3000.0))
    else:
        play(r, song, "pad", progression_notes(song, progression, 2, [0], 2, 4, length_steps=32),
             lambda f, n: ms.pad(f, n, sr, rng, 2500.0, 0.5))
    synth_part = r.take()
    song.params.update(kick_steps=[0, 4, 8, 12] if style != "jungle" else "breakbeat")
    mix = Mix(song)
    mix.add(drums, 0.0, 0.1)
    mix.add(bass * pumping, uniform(rng, (-5.0, -2.0)))
    mix.add(synth_part * pumping, uniform(rng, (-9.0, -4.0)), 0.4)
    return mix.render(uniform(rng, (1.0, 2.0)), uniform(rng, (0.15, 0.35)))

