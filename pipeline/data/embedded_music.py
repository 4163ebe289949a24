"""The embedded music corpus: procedurally synthesised songs of ten broad genres, written exactly
in the MagnaTagATune layout (`mp3/<0..f>/<artist>-<album>-<NN>-<title>-<start>-<end>.mp3`,
`annotations_final.csv` with the real 188 tag columns, `clip_info_final.csv`).

Each genre has its own tempo range, rhythm, drum kit, bass, harmony and timbres (see `GENRES`
and the `_render_<genre>` recipes); every track draws its tempo, key, sub-style, instruments, mix,
reverb, brightness, loudness and noise floor from its own Generator, seeded from (seed, genre,
track), so no single constant gives a genre away and the same params give the same bytes
whatever the worker count. A track is rendered once and cut into consecutive ~29.1 s clips, as
the real clips are cut from Magnatune tracks.

Tags are drawn per clip, imperfectly, from the genre's real MTAT tags plus instrument / mood
tags; a clip never carries a tag of a genre that comes before its own in the subset's priority,
so `build_subset` maps it back to its genre. A few extra clips carry no genre tag, one listed
clip is missing on disk and one is garbage bytes, as in the real corpus.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from pipeline.data import music_synth as ms
from pipeline.errors import UserError
from pipeline.parallel import fork_pool
from pipeline.fileio import atomic_path

# The 188 tag columns of the real annotations_final.csv, in its order.
MTAT_TAGS = (
    "no voice", "singer", "duet", "plucking", "hard rock", "world", "bongos", "harpsichord", "female singing",
    "clasical", "sitar", "chorus", "female opera", "male vocal", "vocals", "clarinet", "heavy", "silence", "beats",
    "men", "woodwind", "funky", "no strings", "chimes", "foreign", "no piano", "horns", "classical", "female",
    "no voices", "soft rock", "eerie", "spacey", "jazz", "guitar", "quiet", "no beat", "banjo", "electric", "solo",
    "violins", "folk", "female voice", "wind", "happy", "ambient", "new age", "synth", "funk", "no singing",
    "middle eastern", "trumpet", "percussion", "drum", "airy", "voice", "repetitive", "birds", "space", "strings",
    "bass", "harpsicord", "medieval", "male voice", "girl", "keyboard", "acoustic", "loud", "classic", "string",
    "drums", "electronic", "not classical", "chanting", "no violin", "not rock", "no guitar", "organ", "no vocal",
    "talking", "choral", "weird", "opera", "soprano", "fast", "acoustic guitar", "electric guitar", "male singer",
    "man singing", "classical guitar", "country", "violin", "electro", "reggae", "tribal", "dark", "male opera",
    "no vocals", "irish", "electronica", "horn", "operatic", "arabic", "lol", "low", "instrumental", "trance",
    "chant", "strange", "drone", "synthesizer", "heavy metal", "modern", "disco", "bells", "man", "deep",
    "fast beat", "industrial", "hard", "harp", "no flute", "jungle", "pop", "lute", "female vocal", "oboe",
    "mellow", "orchestral", "viola", "light", "echo", "piano", "celtic", "male vocals", "orchestra", "eastern",
    "old", "flutes", "punk", "spanish", "sad", "sax", "slow", "male", "blues", "vocal", "indian", "no singer",
    "scary", "india", "woman", "woman singing", "rock", "dance", "piano solo", "guitars", "no drums", "jazzy",
    "singing", "cello", "calm", "female vocals", "voices", "different", "techno", "clapping", "house", "monks",
    "flute", "not opera", "not english", "oriental", "beat", "upbeat", "soft", "noise", "choir", "female singer",
    "rap", "metal", "hip hop", "quick", "water", "baroque", "women", "fiddle", "english",
)

# Genre -> its real MTAT tags, and the order in which a clip's tags decide its genre (the same
# mapping as params.yaml `subset`; a test keeps the two in step).
GENRE_TAGS = {
    "hip-hop": ("hip hop", "rap"),
    "rock": ("rock", "hard rock", "soft rock", "punk"),
    "metal": ("metal", "heavy metal"),
    "pop": ("pop", "disco", "dance"),
    "electronic": ("techno", "electronic", "electronica", "electro", "house", "trance", "industrial", "jungle"),
    "classical": ("classical", "classic", "baroque", "medieval", "opera", "choral", "choir"),
    "jazz": ("jazz", "jazzy", "blues", "funk"),
    "country-folk": ("country", "folk", "celtic", "irish"),
    "ambient-newage": ("new age", "ambient"),
    "world": ("indian", "sitar", "middle eastern", "arabic", "oriental", "eastern", "spanish", "tribal", "world",
              "reggae"),
}
GENRE_PRIORITY = ("hip-hop", "metal", "rock", "electronic", "classical", "jazz", "country-folk", "world",
                  "ambient-newage", "pop")
GENRES = tuple(GENRE_TAGS)

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10), "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "hijaz": (0, 1, 4, 5, 7, 8, 10), "bhairav": (0, 1, 4, 5, 7, 8, 11), "yaman": (0, 2, 4, 6, 7, 9, 11),
    "kafi": (0, 2, 3, 5, 7, 9, 10), "lydian": (0, 2, 4, 6, 7, 9, 11),
}

CONFIG_KEYS = {"clips_per_genre", "clips_per_track", "clip_seconds", "untagged_clips", "missing_clips",
               "corrupt_clips", "loudness_dbfs", "noise_dbfs", "bitrate_mode", "compression_level", "workers"}
BITRATE_MODES = {"constant": "CONSTANT", "variable": "VARIABLE", "average": "AVERAGE"}


# ================================================================ songs: time grid and harmony

@dataclass
class Song:
    """One track's musical frame: tempo grid (with swing and timing jitter), key and scale."""

    rng: np.random.Generator
    sr: int
    seconds: float
    bpm: float
    root: int                   # MIDI note of the tonic in the bass register
    scale: tuple
    style: str = ""
    steps_per_beat: int = 4     # 4: 16th grid; 3: triplet / 6/8 grid
    beats_per_bar: int = 4
    swing: float = 0.5          # share of a beat-pair's first half (0.5 straight, ~0.62 swung 16ths)
    swing_steps: int = 1        # 1: swing 16ths; 2: swing 8ths (jazz)
    humanize_s: float = 0.004
    rubato_s: float = 0.0       # a slow tempo breathing (classical): onsets drift by up to this
    params: dict = field(default_factory=dict)   # what the recipe drew (tests and reports read it)

    @property
    def n(self) -> int:
        return int(self.seconds * self.sr)

    @property
    def beat_s(self) -> float:
        return 60.0 / self.bpm

    @property
    def step_s(self) -> float:
        return self.beat_s / self.steps_per_beat

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * self.beats_per_bar

    @property
    def bar_s(self) -> float:
        return self.beat_s * self.beats_per_bar

    @property
    def n_bars(self) -> int:
        return int(np.ceil(self.seconds / self.bar_s)) + 1

    def t(self, bar: int, step: float, jitter: bool = True) -> float:
        """Onset time of `step` in `bar`, with swing on off-steps and human timing jitter."""
        at = bar * self.bar_s + step * self.step_s
        unit = self.swing_steps
        if self.swing != 0.5 and int(step) % (2 * unit) == unit and step == int(step):
            at += (self.swing - 0.5) * 2 * unit * self.step_s
        if self.rubato_s:   # period >= 8 s keeps the warp monotonic for rubato_s < 1.2 s
            at += self.rubato_s * np.sin(2 * np.pi * at / (4 * self.bar_s + 8.0))
        if jitter and self.humanize_s > 0:
            at += self.rng.normal(0.0, self.humanize_s)
        return at

    def note(self, degree: int, octave: int = 0) -> int:
        """MIDI note of a scale degree (degrees past the scale wrap into higher octaves)."""
        size = len(self.scale)
        return self.root + 12 * (octave + degree // size) + self.scale[degree % size]

    def chord(self, degree: int, octave: int = 1, size: int = 3) -> list[int]:
        """Stacked thirds on a scale degree: triad (3), seventh (4), ninth (5)."""
        return [self.note(degree + 2 * k, octave) for k in range(size)]

    def bars(self):
        return range(self.n_bars)


def _db(value: float) -> float:
    return 10.0 ** (value / 20.0)


class Mix:
    """Parts (track-long arrays) with gains in dB and a reverb send, summed by `render`."""

    def __init__(self, song: Song):
        self.song = song
        self.dry = np.zeros(song.n)
        self.send = np.zeros(song.n)

    def add(self, part: np.ndarray, gain_db: float, send: float = 0.0) -> None:
        peak = np.max(np.abs(part)) + 1e-9
        part = part / peak * _db(gain_db + self.song.rng.uniform(-2.5, 2.5))  # a per-track mix
        self.dry += part
        self.send += send * part

    def render(self, reverb_s: float, wet: float) -> np.ndarray:
        if wet > 0 and np.any(self.send):
            tail = ms.reverb(self.send, self.song.sr, self.song.rng, reverb_s, 1.0)
            return self.dry + wet * tail
        return self.dry


def _uniform(rng, low_high) -> float:
    return float(rng.uniform(*low_high))


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _play(r: ms.Renderer, song: Song, name: str, notes, render) -> None:
    """notes: (time_s, dur_s, midi, gain); render(freq, n) -> samples, cached per (name, midi, n)."""
    for at, dur, midi, gain in notes:
        r.note((name, midi), at, dur, gain, lambda n, m=midi: render(ms.midi_hz(m), n))


def _drums(r: ms.Renderer, song: Song, kit: dict, pattern_of_bar) -> None:
    """pattern_of_bar(bar) -> {voice: [(step, gain), ...]}; each hit gets a little gain jitter."""
    for bar in song.bars():
        for voice, hits in pattern_of_bar(bar).items():
            for step, gain in hits:
                r.place(kit[voice], song.t(bar, step), gain * song.rng.uniform(0.85, 1.0))


def _steps(steps, gain=1.0):
    return [(s, gain) for s in steps]


def _progression_notes(song: Song, progression, bars_per_chord: int, rhythm, octave: int, size: int,
                       length_steps: float | None = None, strum_s: float = 0.0):
    """Chord hits: the progression's chord of each bar played at `rhythm` steps (each held to the
    next hit, or `length_steps`); `strum_s` spreads a chord's notes like a strummed guitar."""
    notes = []
    for bar in song.bars():
        chord = song.chord(progression[(bar // bars_per_chord) % len(progression)], octave, size)
        for i, step in enumerate(rhythm):
            nxt = rhythm[i + 1] if i + 1 < len(rhythm) else song.steps_per_bar
            dur = (length_steps or (nxt - step)) * song.step_s
            at = song.t(bar, step)
            for k, midi in enumerate(chord):
                notes.append((at + k * strum_s, dur, midi, 1.0 / len(chord) ** 0.5))
    return notes


def _melody(song: Song, motif_bars: int, rhythms, low: int, high: int, octave: int, rest: float = 0.15,
            leap: float = 0.2, vary: float = 0.25):
    """A motif of `motif_bars` bars (random walk on scale degrees over rhythm cells), repeated with
    small variations through the track, as a hook or a riff is."""
    rng = song.rng
    motif, degree = [], int(rng.integers(low, high + 1))
    for bar in range(motif_bars):
        cell = _pick(rng, rhythms)
        for i, step in enumerate(cell):
            nxt = cell[i + 1] if i + 1 < len(cell) else song.steps_per_bar
            move = int(rng.choice([-2, -1, 1, 2])) if rng.uniform() > leap else int(rng.choice([-4, -3, 3, 4]))
            degree = int(np.clip(degree + move, low, high))
            if rng.uniform() > rest:
                motif.append((bar, step, nxt - step, degree))
    notes = []
    for bar0 in range(0, song.n_bars, motif_bars):
        for bar, step, length, degree in motif:
            if rng.uniform() < vary:
                degree = int(np.clip(degree + rng.choice([-1, 1]), low, high))
            notes.append((song.t(bar0 + bar, step), length * song.step_s, song.note(degree, octave), 1.0))
    return notes


# ================================================================ genre recipes

def _render_hiphop(song: Song) -> np.ndarray:
    """Boom-bap: 80-100 BPM, swung 16th hats, kick on 1 and the 'and' of 3 (plus variants), fat
    snare on 2 and 4, a sustained sub / 808 under the kicks, and a lowpassed, saturated,
    crackly one- or two-bar sample looped exactly."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    kit = {
        "kick": ms.kick(int(0.5 * sr), sr, _uniform(rng, (110, 160)), _uniform(rng, (42, 58)), 0.03,
                        _uniform(rng, (0.16, 0.3)), 0.15, rng),
        "snare": ms.snare(int(0.35 * sr), sr, _uniform(rng, (165, 210)), _uniform(rng, (0.1, 0.18)),
                          _uniform(rng, (0.3, 0.7)), rng),
        "clap": ms.clap(int(0.3 * sr), sr, rng),
        "hat": ms.hat(int(0.12 * sr), sr, _uniform(rng, (0.025, 0.05)), rng),
        "open": ms.hat(int(0.4 * sr), sr, 0.18, rng),
    }
    kicks = _pick(rng, ([0, 10], [0, 7, 10], [0, 3, 10], [0, 6, 10], [0, 10, 11], [0, 2, 10]))
    kicks_b = _pick(rng, (kicks, [0, 10, 13], [0, 7, 9], [0, 3, 8, 10]))
    hats = _pick(rng, (list(range(0, 16, 2)), list(range(16)), [0, 2, 4, 6, 7, 8, 10, 12, 14, 15]))
    if all(h % 2 == 0 for h in hats):
        song.swing_steps = 2   # straight-8th hats swing on the 8ths (the off-8ths land late)
    layer_clap = rng.uniform() < 0.4
    open_hat = rng.uniform() < 0.4

    def pattern(bar):
        out = {"snare": _steps([4, 12]) + ([(15, 0.25)] if rng.uniform() < 0.3 else []),
               "hat": [(s, 0.55 if s % 4 == 0 else 0.3 + 0.15 * rng.uniform()) for s in hats]}
        if bar % 8 != 7 or rng.uniform() < 0.5:   # the kick drops out for a bar now and then
            out["kick"] = _steps(kicks if bar % 2 == 0 else kicks_b)
        if layer_clap:
            out["clap"] = _steps([4, 12], 0.5)
        if open_hat and bar % 2 == 1:
            out["open"] = _steps([14], 0.35)
        return out

    _drums(r, song, kit, pattern)
    drums = r.take()

    # the sample: a phrase of 1 or 2 bars rendered once, degraded like a record, then looped
    loop_bars = int(rng.integers(1, 3))
    loop = Song(rng, sr, loop_bars * song.bar_s, song.bpm, song.root + 24, song.scale, swing=song.swing, humanize_s=0.0)
    lr = ms.Renderer(loop.n, sr)
    instrument = _pick(rng, ("epiano", "piano", "strings", "horns", "guitar", "organ", "choir"))
    bright = _uniform(rng, (0.3, 0.7))
    voices = {
        "epiano": lambda f, n: ms.epiano(f, n, sr, bright),
        "piano": lambda f, n: ms.piano(f, n, sr, bright),
        "strings": lambda f, n: ms.strings(f, n, sr, rng, 0.08),
        "horns": lambda f, n: ms.reed(f, n, sr, rng, 3.0, 0.05),
        "guitar": lambda f, n: ms.pluck(f, n, sr, rng, bright, 0.995),
        "organ": lambda f, n: ms.organ(f, n, sr),
        "choir": lambda f, n: ms.choir(f, n, sr, rng, "o"),
    }
    degrees = _pick(rng, ([0, 5], [0, 3], [0, 6], [0, 4], [0, 0, 5, 4], [3, 2]))

    def loop_degree(bar: int, step: int) -> int:
        """The loop's chord at a point: the chords share the loop evenly."""
        position = ((bar % loop_bars) * 16 + step) / (16 * loop_bars)
        return degrees[int(position * len(degrees))]

    stabs = _pick(rng, ([0, 6, 10], [0, 3, 8, 11], [0], [0, 8], [0, 7, 10, 14]))
    chord_notes = []
    for bar in range(loop_bars):
        for i, step in enumerate(stabs):
            nxt = stabs[i + 1] if i + 1 < len(stabs) else 16
            for midi in loop.chord(loop_degree(bar, step), 0, 4):
                chord_notes.append((loop.t(bar, step), (nxt - step) * loop.step_s * 0.95, midi, 0.5))
    _play(lr, loop, instrument, chord_notes, voices[instrument])
    riff = _melody(loop, loop_bars, ([0, 3, 6], [2, 6, 10, 12], [0, 4, 7, 10]), 0, 6, 1, rest=0.3)
    _play(lr, loop, instrument + "_riff", [(a, d, m, 0.6) for a, d, m, _ in riff], voices[instrument])
    phrase = lr.take()
    phrase = ms.drive(ms.highpass(ms.lowpass(phrase / (np.max(np.abs(phrase)) + 1e-9), _uniform(rng, (1500, 3800)),
                                             sr), 140, sr), _uniform(rng, (1.2, 3.0)))
    phrase = np.round(phrase * 2 ** 9) / 2 ** 9             # a touch of bit reduction
    looped = np.tile(phrase, int(np.ceil(song.n / len(phrase))) + 1)[: song.n]
    looped = looped + ms.vinyl_crackle(song.n, sr, rng, _uniform(rng, (4, 15)), _uniform(rng, (0.03, 0.12)))

    # the sub follows the loop's chords under the kicks, held until the next kick
    bass_notes = []
    for bar in song.bars():
        hits = kicks if bar % 2 == 0 else kicks_b
        for i, step in enumerate(hits):
            nxt = hits[i + 1] if i + 1 < len(hits) else 16
            bass_notes.append((song.t(bar, step), (nxt - step) * song.step_s * 0.95,
                               song.note(loop_degree(bar, step), 0), 1.0))
    drop = _uniform(rng, (0.0, 1.5))
    _play(r, song, "sub", bass_notes, lambda f, n: ms.sub_bass(f, n, sr, drop, _uniform(rng, (1.0, 2.5))))
    song.params.update(kick_steps=kicks, hat_steps=hats, loop_bars=loop_bars, sample=instrument)

    mix = Mix(song)
    mix.add(drums, 0.0, 0.1)
    mix.add(r.take(), -3.0)
    mix.add(looped, _uniform(rng, (-8.0, -4.0)), 0.2)
    return mix.render(_uniform(rng, (0.4, 0.9)), _uniform(rng, (0.05, 0.2)))


def _rock_kit(song: Song, tight: float) -> dict:
    rng, sr = song.rng, song.sr
    return {
        "kick": ms.kick(int(0.35 * sr), sr, _uniform(rng, (140, 200)), _uniform(rng, (52, 68)), 0.015,
                        _uniform(rng, (0.07, 0.14)) / tight, 0.4 * tight, rng),
        "snare": ms.snare(int(0.4 * sr), sr, _uniform(rng, (180, 240)), _uniform(rng, (0.14, 0.25)),
                          _uniform(rng, (0.6, 1.0)), rng),
        "hat": ms.hat(int(0.12 * sr), sr, _uniform(rng, (0.03, 0.06)), rng),
        "open": ms.hat(int(0.5 * sr), sr, 0.25, rng),
        "ride": ms.ride(int(1.2 * sr), sr, 0.6, rng),
        "crash": ms.crash(int(2.0 * sr), sr, rng),
        "tom_hi": ms.tom(int(0.5 * sr), sr, _uniform(rng, (150, 190)), rng),
        "tom_lo": ms.tom(int(0.5 * sr), sr, _uniform(rng, (85, 110)), rng),
    }


def _render_rock(song: Song) -> np.ndarray:
    """Rock (straight 8ths, kick 1 & 3, snare 2 & 4, crunchy power chords, root-8th bass), hard
    rock (more gain), soft rock (slower, clean strummed chords and piano) and punk (fast)."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    kit = _rock_kit(song, 1.0)
    kicks = _pick(rng, ([0, 8], [0, 8, 10], [0, 6, 8], [0, 2, 8, 10] if style == "punk" else [0, 7, 8]))
    cymbal = "ride" if rng.uniform() < 0.25 else ("open" if style == "punk" and rng.uniform() < 0.5 else "hat")

    def pattern(bar):
        out = {"kick": _steps(kicks), "snare": _steps([4, 12]), cymbal: _steps(range(0, 16, 2), 0.45)}
        if bar % 4 == 0:
            out["crash"] = _steps([0], 0.6)
        if bar % 8 == 7:   # a tom fill into the next phrase
            out.pop(cymbal)
            out["snare"] = _steps([4, 8, 9])
            out["tom_hi"] = _steps([10, 11], 0.8)
            out["tom_lo"] = _steps([12, 13, 14], 0.9)
        return out

    _drums(r, song, kit, pattern)
    drums = r.take()
    progression = _pick(rng, ([0, 6, 3, 0], [0, 3, 4, 3], [0, 4, 5, 3], [0, 3, 0, 4], [5, 3, 0, 4]))
    bars_per_chord = int(_pick(rng, (1, 2)))
    eighths = list(range(0, 16, 2))
    if style == "soft rock":
        strum = _progression_notes(song, progression, bars_per_chord, [0, 3, 6, 8, 10, 12, 14], 1, 4, strum_s=0.012)
        _play(r, song, "clean", strum, lambda f, n: ms.pluck(f, n, sr, rng, 0.6, 0.996))
        guitar = r.take()
        keys = _progression_notes(song, progression, bars_per_chord, [0, 8], 1, 3)
        _play(r, song, "piano", keys, lambda f, n: ms.piano(f, n, sr, 0.5))
        keys = r.take()
    else:
        gain = {"hard rock": _uniform(rng, (6, 12)), "punk": _uniform(rng, (5, 10))}.get(style, _uniform(rng, (2.5, 6)))
        cab = _uniform(rng, (2500, 4500))
        chords = [(song.t(bar, s), 2 * song.step_s,
                   song.root + 12 + song.scale[progression[(bar // bars_per_chord) % 4] % 7], 1.0)
                  for bar in song.bars() for s in eighths]
        _play(r, song, "power", chords, lambda f, n: ms.power_chord(f, n, sr, rng, gain, cab, False))
        guitar = r.take()
        keys = np.zeros(song.n)
    bass = [(a, d, m - 12, g) for a, d, m, g in _progression_notes(song, progression, bars_per_chord, eighths, 1, 1)]
    _play(r, song, "bass", bass, lambda f, n: ms.synth_bass(f, n, sr, _uniform(rng, (600, 1400))))
    bass = r.take()
    lead = np.zeros(song.n)
    if rng.uniform() < 0.6:   # a sung or guitar melody line
        line = _melody(song, 2, ([0, 4, 8, 12], [0, 2, 4, 8, 10], [0, 6, 8, 12]), 2, 11, 2, rest=0.25)
        voice = _pick(rng, ("a", "o", "e"))
        _play(r, song, "lead", line, lambda f, n: ms.choir(f, n, sr, rng, voice))
        lead = r.take()
    mix = Mix(song)
    mix.add(drums, 0.0, 0.25)
    mix.add(guitar, _uniform(rng, (-4.0, -1.0)), 0.2)
    mix.add(bass, -4.0)
    if np.any(keys):
        mix.add(keys, -6.0, 0.3)
    if np.any(lead):
        mix.add(lead, _uniform(rng, (-9.0, -5.0)), 0.3)
    song.params.update(kick_steps=kicks)
    return mix.render(_uniform(rng, (0.8, 1.5)), _uniform(rng, (0.1, 0.3)))


def _render_metal(song: Song) -> np.ndarray:
    """Metal: clicky double-kick 16ths (or gallops), snare 2 & 4 or blasts, crash-heavy, high-gain
    palm-muted chugs on a low-tuned riff (phrygian / chromatic), bass doubling the riff."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    kit = _rock_kit(song, 1.8)
    blast = song.bpm > 170 and rng.uniform() < 0.5
    feel = _pick(rng, ("double", "gallop", "double"))
    if blast:
        kicks = list(range(0, 16, 2))
    else:
        kicks = {"double": list(range(16)), "gallop": [0, 3, 4, 7, 8, 11, 12, 15]}[feel]

    def pattern(bar):
        cymbal = _pick(rng, ("ride", "hat", "crash")) if bar % 4 == 0 else "hat"
        out = {"kick": _steps(kicks, 0.9), "snare": _steps(range(2, 16, 4) if blast else [4, 12]),
               cymbal: _steps(range(0, 16, 4 if blast else 2), 0.5)}
        if bar % 2 == 0:
            out["crash"] = _steps([0], 0.8)
        return out

    _drums(r, song, kit, pattern)
    drums = r.take()
    riff_degrees = [int(d) for d in rng.choice([0, 0, 0, 1, 2, 3, 4, 5], 8)]
    accents = set(int(x) for x in rng.choice(16, 4, replace=False)) | {0}
    notes = []
    for bar in song.bars():
        for step in range(0, 16, 1 if not blast else 2):
            degree = riff_degrees[(step // 2 + 4 * (bar % 2)) % 8]
            open_chord = step in accents
            notes.append((song.t(bar, step), (2 if open_chord else 1) * song.step_s, song.note(degree, 1), open_chord))
    gain = _uniform(rng, (15, 40))
    cab = _uniform(rng, (2800, 5000))
    for muted in (False, True):
        part = [(a, d, m, 1.0 if not muted else 0.8) for a, d, m, o in notes if o != muted]
        _play(r, song, f"guitar{muted}", part, lambda f, n, pm=muted: ms.power_chord(f, n, sr, rng, gain, cab, pm))
    guitar = r.take()
    _play(r, song, "bass", [(a, d, m - 12, 1.0) for a, d, m, _ in notes],
          lambda f, n: ms.drive(ms.synth_bass(f, n, sr, 900.0), 3.0))
    bass = r.take()
    song.params.update(kick_steps=kicks, blast=blast)
    mix = Mix(song)
    mix.add(drums, 0.0, 0.15)
    mix.add(guitar, _uniform(rng, (-2.0, 1.0)), 0.1)
    mix.add(bass, -5.0)
    return mix.render(_uniform(rng, (0.6, 1.2)), _uniform(rng, (0.05, 0.2)))


def _render_pop(song: Song) -> np.ndarray:
    """Pop: bright major-key I-V-vi-IV with piano or synth chords, clap-layered backbeat, a sung
    hook; dance / disco go four-on-the-floor with offbeat open hats and octave bass."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    four = song.style in ("dance", "disco")
    kit = {
        "kick": ms.kick(int(0.4 * sr), sr, _uniform(rng, (120, 170)), _uniform(rng, (48, 60)), 0.02,
                        _uniform(rng, (0.12, 0.2)), 0.3, rng),
        "snare": ms.snare(int(0.3 * sr), sr, _uniform(rng, (190, 230)), 0.12, 0.8, rng),
        "clap": ms.clap(int(0.3 * sr), sr, rng),
        "hat": ms.hat(int(0.1 * sr), sr, 0.03, rng),
        "open": ms.hat(int(0.35 * sr), sr, 0.15, rng),
        "shaker": ms.shaker(int(0.12 * sr), sr, rng),
    }
    kicks = [0, 4, 8, 12] if four else _pick(rng, ([0, 8], [0, 7, 8], [0, 8, 10], [0, 6, 8, 14]))
    hats = range(0, 16, 2) if rng.uniform() < 0.6 else range(16)

    def pattern(bar):
        out = {"kick": _steps(kicks), "clap": _steps([4, 12], 0.8), "hat": _steps(hats, 0.35)}
        if rng.uniform() < 0.7:
            out["snare"] = _steps([4, 12], 0.6)
        if four:
            out["open"] = _steps([2, 6, 10, 14], 0.4)
        elif rng.uniform() < 0.5:
            out["shaker"] = _steps(range(1, 16, 2), 0.3)
        return out

    _drums(r, song, kit, pattern)
    drums = r.take()
    progression = _pick(rng, ([0, 4, 5, 3], [5, 3, 0, 4], [0, 5, 3, 4], [3, 4, 0, 0], [0, 3, 4, 3]))
    keys_voice = _pick(rng, ("piano", "synth", "epiano", "pluck"))
    renders = {
        "piano": lambda f, n: ms.piano(f, n, sr, 0.6),
        "synth": lambda f, n: ms.pad(f, n, sr, rng, _uniform(rng, (2500, 5000)), 0.02),
        "epiano": lambda f, n: ms.epiano(f, n, sr, 0.6),
        "pluck": lambda f, n: ms.pluck(f, n, sr, rng, 0.8, 0.994),
    }
    rhythm = _pick(rng, ([0, 3, 6, 8, 11, 14], [0, 4, 8, 12], [2, 6, 10, 14], [0, 8]))
    _play(r, song, keys_voice, _progression_notes(song, progression, 1, rhythm, 1, 3), renders[keys_voice])
    keys = r.take()
    bass_steps = [0, 2, 4, 6, 8, 10, 12, 14]
    bass = [(a, d, m - 12 + (12 if four and i % 2 else 0), g) for i, (a, d, m, g) in
            enumerate(_progression_notes(song, progression, 1, bass_steps, 1, 1))]
    cutoff = _uniform(rng, (500, 1500))
    _play(r, song, "bass", bass, lambda f, n: ms.synth_bass(f, n, sr, cutoff, None, 0.5))
    bass = r.take()
    hook = _melody(song, 2, ([0, 2, 4, 6, 8, 12], [0, 3, 6, 8, 10], [0, 4, 6, 8, 12, 14]), 4, 11, 2, rest=0.15)
    if rng.uniform() < 0.6:
        vowel = _pick(rng, ("a", "e", "o"))
        _play(r, song, "voice", hook, lambda f, n: ms.choir(f, n, sr, rng, vowel))
    else:
        duty = _uniform(rng, (0.2, 0.5))
        _play(r, song, "lead", hook, lambda f, n: ms.synth_lead(f, n, sr, duty, 4000.0))
    lead = r.take()
    song.params.update(kick_steps=kicks)
    mix = Mix(song)
    mix.add(drums, 0.0, 0.15)
    mix.add(keys, _uniform(rng, (-7.0, -3.0)), 0.3)
    mix.add(bass, -5.0)
    mix.add(lead, _uniform(rng, (-6.0, -3.0)), 0.35)
    return mix.render(_uniform(rng, (0.8, 1.6)), _uniform(rng, (0.15, 0.3)))


def _render_electronic(song: Song) -> np.ndarray:
    """Techno / house / trance: four-on-the-floor kick, offbeat open hats, 16th hats, sidechain
    pumping, acid or offbeat saw bass, saw arpeggios and stabs; jungle: chopped fast breakbeats
    under a sub and pads; industrial: distorted kick and metallic noise."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    kit = {
        "kick": ms.drive(ms.kick(int(0.45 * sr), sr, _uniform(rng, (150, 220)), _uniform(rng, (45, 55)), 0.025,
                                 _uniform(rng, (0.15, 0.25)), 0.3, rng),
                         6.0 if style == "industrial" else 1.0),
        "clap": ms.clap(int(0.3 * sr), sr, rng),
        "snare": ms.snare(int(0.25 * sr), sr, 200, 0.1, 0.9, rng),
        "hat": ms.hat(int(0.08 * sr), sr, 0.02, rng),
        "open": ms.hat(int(0.3 * sr), sr, 0.09, rng),
        "metal": ms.drive(ms.bell(_uniform(rng, (300, 900)), int(0.4 * sr), sr, 1.41,
                                  0.1) + 0.5 * ms.crash(int(0.4 * sr), sr, rng), 4.0),
    }
    breakdown_every = 16 if rng.uniform() < 0.5 else 0
    if style == "jungle":
        breaks = [[0, 10], [0, 6, 10], [0, 3, 10, 11]]
        snares = [[4, 12, 15], [4, 7, 12], [4, 9, 12, 14]]

        def pattern(bar):   # chopped breakbeats: ghosted snares, dense 16th hats
            ghosts = [(s, 0.25) for s in (1, 5, 9, 13) if rng.uniform() < 0.4]
            return {"kick": _steps(_pick(rng, breaks)), "snare": _steps(_pick(rng, snares)) + ghosts,
                    "hat": [(s, 0.35 if s % 2 == 0 else 0.2) for s in range(16)]}
    else:
        def pattern(bar):
            out = {"hat": _steps(range(1, 16, 2) if rng.uniform() < 0.5 else range(16), 0.3),
                   "open": _steps([2, 6, 10, 14], 0.45)}
            if not (breakdown_every and bar % breakdown_every in (14, 15)):
                out["kick"] = _steps([0, 4, 8, 12])
            if style in ("house", "electro") or rng.uniform() < 0.4:
                out["clap"] = _steps([4, 12], 0.7)
            if style == "industrial":
                out["metal"] = _steps([int(s) for s in rng.choice(16, 3, replace=False)], 0.6)
            return out

    _drums(r, song, kit, pattern)
    drums = r.take()
    beats = np.array([song.t(b, s, False) for b in song.bars() for s in (0, 4, 8, 12)])
    pumping = ms.pump(song.n, sr, beats, _uniform(rng, (0.3, 0.7)) if style != "jungle" else 0.0, song.beat_s * 0.8)
    if style in ("techno", "electro", "industrial") or (style == "trance" and rng.uniform() < 0.3):
        seq = [int(d) for d in rng.choice([0, 0, 0, 2, 3, 4, 6, 7], 16)]
        accents = rng.uniform(size=16) < 0.35
        notes = [(song.t(bar, s), song.step_s * 0.8, song.note(seq[s], 1 if seq[s] < 7 else 0),
                  1.0 if accents[s] else 0.6)
                 for bar in song.bars() for s in range(16) if rng.uniform() < 0.8]
        cutoff, resonance = _uniform(rng, (300, 900)), _uniform(rng, (700, 2000))
        _play(r, song, "acid", notes, lambda f, n: ms.synth_bass(f, n, sr, cutoff, resonance, 1.0))
    else:
        step = 2 if style != "jungle" else 6
        off = 2 if style != "jungle" else 0
        progression = _pick(rng, ([0, 5, 3, 4], [0, 3, 5, 4], [0, 0, 5, 6]))
        roots = _progression_notes(song, progression, 2, list(range(off, 16, step + off)), 1, 1)
        notes = [(a, d, m - 12, g) for a, d, m, g in roots]
        cutoff = _uniform(rng, (400, 1200))
        _play(r, song, "bass", notes,
              lambda f, n: ms.synth_bass(f, n, sr, cutoff, None, 0.6) if style != "jungle" else ms.reese(f, n, sr))
    bass = r.take()
    progression = _pick(rng, ([0, 5, 3, 4], [0, 3, 5, 4], [0, 6, 5, 6], [0, 0, 3, 3]))
    synth = _pick(rng, ("arp", "stab", "pad"))
    if style == "trance" or synth == "arp":
        arp = []
        for bar in song.bars():
            chord = song.chord(progression[(bar // 2) % 4], 2, 3)
            order = chord + [chord[1] + 12]
            for s in range(16):
                arp.append((song.t(bar, s), song.step_s * 0.9, order[s % 4], 0.7))
        cutoff = _uniform(rng, (1500, 5000))
        _play(r, song, "arp", arp, lambda f, n: ms.synth_bass(f, n, sr, cutoff, None, 0.8))
    elif synth == "stab":
        voice = _pick(rng, ("organ", "saw"))
        _play(r, song, "stab", _progression_notes(song, progression, 2,
                                                  [2, 6, 10, 14] if style == "house" else [0, 3, 6, 10], 2, 3,
                                                  length_steps=1.5),
              lambda f, n: ms.organ(f, n, sr) if voice == "organ" else ms.synth_lead(f, n, sr, 0.5, 3000.0))
    else:
        _play(r, song, "pad", _progression_notes(song, progression, 2, [0], 2, 4, length_steps=32),
              lambda f, n: ms.pad(f, n, sr, rng, 2500.0, 0.5))
    synth_part = r.take()
    song.params.update(kick_steps=[0, 4, 8, 12] if style != "jungle" else "breakbeat")
    mix = Mix(song)
    mix.add(drums, 0.0, 0.1)
    mix.add(bass * pumping, _uniform(rng, (-5.0, -2.0)))
    mix.add(synth_part * pumping, _uniform(rng, (-9.0, -4.0)), 0.4)
    return mix.render(_uniform(rng, (1.0, 2.0)), _uniform(rng, (0.15, 0.35)))


def _render_classical(song: Song) -> np.ndarray:
    """No drums: string ensembles, solo piano (Alberti / broken chords), baroque harpsichord with
    continuous 16ths, choirs and operatic voices over functional harmony in a reverberant hall,
    with phrase-long swells."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    progression = _pick(rng, ([0, 3, 4, 0], [0, 5, 1, 4], [0, 3, 1, 4], [5, 1, 4, 0], [0, 4, 5, 2, 3, 0, 3, 4]))
    per = int(_pick(rng, (1, 2)))
    mix = Mix(song)
    if style == "piano":
        # pedalled arpeggios over two octaves: every note rings to the end of its bar
        order = _pick(rng, ([0, 1, 2, 3, 4, 3, 2, 1], [0, 2, 4, 5, 4, 2, 3, 1], [0, 1, 2, 4, 5, 4, 2, 1]))
        broken = []
        for bar in song.bars():
            chord = song.chord(progression[(bar // per) % len(progression)], 0, 3)
            span = [chord[0], chord[1] + 12, chord[2] + 12, chord[0] + 24, chord[1] + 24, chord[2] + 24]
            for k, s in enumerate(range(0, 16, 2)):
                broken.append((song.t(bar, s), (16 - s) * song.step_s + 0.3, span[order[k]], 0.6))
        _play(r, song, "lh", broken, lambda f, n: ms.piano(f, n, sr, 0.35))
        line = _melody(song, 2, ([0, 4, 8, 12], [0, 2, 4, 6, 8, 12], [0, 6, 8, 12]), 7, 16, 1, rest=0.1)
        _play(r, song, "rh", line, lambda f, n: ms.piano(f, n, sr, 0.5))
        mix.add(r.take(), 0.0, 0.5)
    elif style == "baroque":
        continuo = _pick(rng, ("harpsichord", "strings"))
        motion = []
        for bar in song.bars():
            chord = song.chord(progression[(bar // per) % len(progression)], 2, 3)
            for s in range(16):
                motion.append((song.t(bar, s), 1.2 * song.step_s,
                               chord[(s * 2 + s // 4) % 3] + (12 if s % 8 >= 4 else 0), 0.6))
        if continuo == "harpsichord":
            _play(r, song, "harpsichord", motion, lambda f, n: ms.pluck(f, n, sr, rng, 1.0, 0.993))
        else:
            _play(r, song, "violin", motion, lambda f, n: ms.bowed_lead(f, n, sr, rng, 3500.0))
        bass = [(a, d, m - 12, g) for a, d, m, g in _progression_notes(song, progression, per, [0, 4, 8, 12], 1, 1)]
        _play(r, song, "cello", bass, lambda f, n: ms.strings(f, n, sr, rng, 0.03, 1500.0))
        mix.add(r.take(), 0.0, 0.4)
    elif style in ("choral", "opera"):
        chords = _progression_notes(song, progression, per, [0] if per == 1 else [0, 8], 1, 4)
        vowel = _pick(rng, ("a", "o", "u"))
        _play(r, song, "choir", chords, lambda f, n: ms.choir(f, n, sr, rng, vowel))
        mix.add(r.take(), 0.0, 0.6)
        if style == "opera":
            aria = _melody(song, 2, ([0, 8], [0, 4, 8], [0, 12], [0, 6, 8]), 7, 14, 2, rest=0.05)
            _play(r, song, "soprano", aria, lambda f, n: ms.choir(f, n, sr, rng, "a"))
            _play(r, song, "strings", _progression_notes(song, progression, per, [0], 1, 3),
                  lambda f, n: ms.strings(f, n, sr, rng))
            mix.add(r.take(), -2.0, 0.5)
    else:   # strings / orchestra
        section = _progression_notes(song, progression, per, [0] if rng.uniform() < 0.5 else [0, 8], 1, 4)
        _play(r, song, "strings", section,
              lambda f, n: ms.strings(f, n, sr, rng, _uniform(rng, (0.15, 0.4)), _uniform(rng, (2000, 4000))))
        mix.add(r.take(), -2.0, 0.5)
        line = _melody(song, 2, ([0, 4, 8, 12], [0, 8], [0, 2, 4, 8, 12], [0, 6, 8]), 7, 16, 1, rest=0.05)
        lead = _pick(rng, ("violin", "flute", "oboe"))
        renders = {"violin": lambda f, n: ms.bowed_lead(f, n, sr, rng),
                   "flute": lambda f, n: ms.flute(f, n, sr, rng, 0.05),
                   "oboe": lambda f, n: ms.reed(f, n, sr, rng, 1.2, 0.02)}
        _play(r, song, lead, line, renders[lead])
        mix.add(r.take(), -1.0, 0.4)
        if rng.uniform() < 0.3:   # timpani on the phrase starts
            timpani = ms.tom(int(1.5 * sr), sr, ms.midi_hz(song.root), rng)
            for bar in range(0, song.n_bars, 4):
                r.place(timpani, song.t(bar, 0), 1.0)
            mix.add(r.take(), -8.0, 0.6)
    out = mix.render(_uniform(rng, (1.6, 3.0)), _uniform(rng, (0.3, 0.55)))
    swell = 1.0 + 0.4 * np.sin(2 * np.pi * ms.times(song.n, sr) / (8 * song.bar_s) + rng.uniform(0, 2 * np.pi))
    return out * swell


def _render_jazz(song: Song) -> np.ndarray:
    """Swing (ride 'ding ding-a ding' with swung 8ths, hi-hat on 2 & 4, walking bass, rootless
    7th-chord comping, sax / trumpet lines over ii-V-I), ballads with brushes, 12-bar shuffle blues,
    and funk (straight 16ths, syncopated kick, ghost notes, slap-ish bass, stabs)."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    kit = {
        "kick": ms.kick(int(0.3 * sr), sr, 110, 60, 0.02, 0.12, 0.1, rng),
        "snare": ms.snare(int(0.3 * sr), sr, _uniform(rng, (190, 250)), _uniform(rng, (0.08, 0.2)),
                          _uniform(rng, (0.4, 0.9)), rng),
        "ride": ms.ride(int(1.5 * sr), sr, _uniform(rng, (0.4, 1.0)), rng),
        "hat": ms.hat(int(0.1 * sr), sr, 0.02, rng),
        "brush": ms.bandpass(song.rng.standard_normal(int(0.3 * sr)), 2000, 7000,
                             sr) * ms.adsr(int(0.3 * sr), sr, 0.04, 0.08, 0.0, 0.0),
    }
    if style == "funk":
        kicks = _pick(rng, ([0, 3, 10], [0, 6, 10, 11], [0, 3, 7, 10], [0, 10, 13]))

        def pattern(bar):
            ghosts = [(s, 0.15) for s in (2, 7, 9, 14) if rng.uniform() < 0.6]
            return {"kick": _steps(kicks), "snare": _steps([4, 12]) + ghosts,
                    "hat": [(s, 0.4 if s % 2 == 0 else 0.25) for s in range(16)]}
    elif style == "blues":
        def pattern(bar):
            return {"kick": _steps([0, 8]), "snare": _steps([4, 12]),
                    "ride" if rng.uniform() < 0.5 else "hat": _steps(range(0, 16, 2), 0.4)}
    else:
        swept = style == "ballad"

        def pattern(bar):
            comp = [(int(s), 0.25) for s in rng.choice(16, 2, replace=False) if rng.uniform() < 0.5]
            out = {"ride": [(0, 0.6), (4, 0.7), (6, 0.45), (8, 0.6), (12, 0.7), (14, 0.45)],
                   "hat": _steps([4, 12], 0.4),
                   "kick": _steps([0, 4, 8, 12], 0.12)}
            if swept:
                out["brush"] = _steps(range(0, 16, 2), 0.4)
            else:
                out["snare"] = comp
            return out

    _drums(r, song, kit, pattern)
    drums = r.take()
    if style == "blues":
        progression = [0, 0, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4]
    elif style == "funk":
        progression = _pick(rng, ([0], [0, 3], [0, 0, 3, 3]))
    else:
        progression = _pick(rng, ([1, 4, 0, 5], [1, 4, 0, 0], [0, 5, 1, 4], [2, 5, 1, 4]))
    # walking bass: root on 1, chord tones, chromatic approach on 4 (funk: syncopated 16ths)
    bass = []
    def upright(f, n):   # a dark pluck plus a sine for the body
        return 0.7 * ms.pluck(f, n, sr, rng, 0.25, 0.99) + 0.3 * ms.sine(f, n, sr) * ms.decay_env(n, sr, 0.4)

    for bar in song.bars():
        root = song.note(progression[bar % len(progression)], 1) - 12
        nxt = song.note(progression[(bar + 1) % len(progression)], 1) - 12
        if style == "funk":
            for s in kicks + [int(x) for x in rng.choice(16, 3, replace=False)]:
                bass.append((song.t(bar, s), song.step_s * 1.5, root + int(_pick(rng, (0, 0, 12, 7, 10))), 1.0))
        else:
            tones = [root, root + int(_pick(rng, (3, 4, 7))), root + int(_pick(rng, (7, 5, 9, 10))),
                     nxt + int(_pick(rng, (-1, 1, -2)))]
            for beat, midi in enumerate(tones):
                bass.append((song.t(bar, 4 * beat), song.beat_s * 0.9, midi, 1.0))
    _play(r, song, "bass", bass,
          upright if style != "funk" else (lambda f, n: ms.synth_bass(f, n, sr, 1800.0, 2500.0, 0.8)))
    bass = r.take()
    comp_voice = _pick(rng, ("piano", "epiano", "organ" if style == "blues" else "epiano", "guitar"))
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
    _play(r, song, comp_voice, comp, renders[comp_voice])
    comp = r.take()
    horn = _pick(rng, ("sax", "trumpet", "sax"))
    line = _melody(song, 4, ([0, 2, 4, 6, 8, 10, 12, 14], [0, 2, 6, 8, 10], [2, 4, 6, 10, 12, 14], [0, 6, 8, 12]), 6,
                   14, 1, rest=0.3, vary=0.5)
    index = 3.5 if horn == "trumpet" else 2.2
    _play(r, song, horn, line, lambda f, n: ms.reed(f, n, sr, rng, index, 0.12 if horn == "sax" else 0.04))
    lead = r.take()
    song.params.update(horn=horn, comp=comp_voice)
    mix = Mix(song)
    mix.add(drums, _uniform(rng, (-4.0, -1.0)), 0.2)
    mix.add(bass, -2.0, 0.1)
    mix.add(comp, _uniform(rng, (-7.0, -3.0)), 0.3)
    mix.add(lead, _uniform(rng, (-4.0, 0.0)), 0.3)
    return mix.render(_uniform(rng, (0.8, 1.6)), _uniform(rng, (0.15, 0.35)))


def _render_country(song: Song) -> np.ndarray:
    """Country (boom-chick: root-fifth bass on 1 and 3, strummed acoustic on the 'chick', a brushed
    train beat, fiddle, banjo rolls, harmonica or slap-back twang guitar), folk (Travis-picked
    guitar, a voice or harmonica, a shaker at most) and celtic / irish jigs in 6/8 (fiddle or
    whistle running triplets, bodhran)."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    progression = _pick(rng, ([0, 3, 4, 0], [0, 4, 5, 3], [0, 0, 3, 4], [0, 3, 0, 4]))
    guitar = lambda f, n: ms.pluck(f, n, sr, rng, _uniform(rng, (0.5, 0.8)), 0.996)
    mix = Mix(song)
    if style == "celtic":
        bodhran = ms.hand_drum(int(0.4 * sr), sr, _uniform(rng, (70, 95)), 0.12, 0.0, 0.3, rng)
        for bar in song.bars():
            for s, g in ((0, 1.0), (2, 0.4), (3, 0.7), (5, 0.4)):
                r.place(bodhran, song.t(bar, s), g)
        mix.add(r.take(), -5.0, 0.2)
        _play(r, song, "strum", _progression_notes(song, progression, 1, [0, 3], 1, 3, strum_s=0.015), guitar)
        mix.add(r.take(), -6.0, 0.2)
        line = _melody(song, 2, ([0, 1, 2, 3, 4, 5], [0, 2, 3, 4, 5], [0, 1, 2, 3, 5]), 7, 15, 1, rest=0.03, leap=0.1)
        lead = _pick(rng, ("fiddle", "whistle"))
        renders = {"fiddle": lambda f, n: ms.bowed_lead(f, n, sr, rng, 5000.0),
                   "whistle": lambda f, n: ms.flute(f, n, sr, rng, 0.2)}
        _play(r, song, lead, line, renders[lead])
        mix.add(r.take(), 0.0, 0.3)
        return mix.render(_uniform(rng, (0.8, 1.5)), _uniform(rng, (0.15, 0.3)))
    if style == "country" or rng.uniform() < 0.3:
        kit = {"kick": ms.kick(int(0.3 * sr), sr, 120, 65, 0.02, 0.1, 0.2, rng),
               "snare": ms.snare(int(0.3 * sr), sr, 210, 0.1, 0.5, rng), "hat": ms.hat(int(0.1 * sr), sr, 0.025, rng)}
        kit["brush"] = ms.bandpass(rng.standard_normal(int(0.15 * sr)), 2500, 7000,
                                   sr) * ms.decay_env(int(0.15 * sr), sr, 0.04)
        if rng.uniform() < 0.5:   # the train beat: brushed 16ths, accents on 2 and 4
            pattern = {"kick": _steps([0, 8]), "brush": [(s, 0.7 if s in (4, 12) else 0.3) for s in range(16)]}
        else:
            pattern = {"kick": _steps([0, 8]), "snare": _steps([4, 12], 0.6), "hat": _steps(range(0, 16, 2), 0.25)}
        _drums(r, song, kit, lambda bar: pattern)
        mix.add(r.take(), _uniform(rng, (-6.0, -2.0)), 0.15)
    bass = []
    for bar in song.bars():
        root = song.note(progression[bar % 4], 1) - 12
        bass += [(song.t(bar, 0), 2 * song.beat_s * 0.9, root, 1.0),
                 (song.t(bar, 8), 2 * song.beat_s * 0.9, root + 7 - 12 * (root + 7 > 52), 0.9)]
    _play(r, song, "bass", bass, lambda f, n: ms.pluck(f, n, sr, rng, 0.5, 0.995))
    mix.add(r.take(), -4.0)
    if style == "country":
        strum = _progression_notes(song, progression, 1,
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
            shake = _pick(rng, ("shaker", "tambourine"))
            hits = _steps(range(0, 16, 2), 0.5) if shake == "shaker" else _steps([4, 12], 0.6)
            _drums(r, song, kit, lambda bar: {shake: hits})
            mix.add(r.take(), _uniform(rng, (-12.0, -7.0)), 0.2)
    _play(r, song, "guitar", strum, guitar)
    mix.add(r.take(), -2.0, 0.2)
    if style == "country":
        leads = ("fiddle", "banjo", "harmonica", "twang")
    else:
        leads = ("voice", "voice", "harmonica", "fiddle")
    lead = _pick(rng, leads)
    if lead == "banjo":
        roll = []
        for bar in song.bars():
            chord = song.chord(progression[bar % 4], 2, 3)
            roll += [(song.t(bar, s), 2 * song.step_s, chord[(s * 2) % 3], 0.7) for s in range(16)]
        _play(r, song, "banjo", roll, lambda f, n: ms.pluck(f, n, sr, rng, 1.0, 0.985))
    elif lead == "twang":   # chicken-picked electric guitar through a slap-back echo
        line = _melody(song, 2, ([0, 2, 3, 6, 8, 10, 11, 14], [0, 2, 4, 6, 8, 10, 12, 14]), 7, 14, 1, rest=0.2)
        _play(r, song, "twang", [(a, d * 0.5, m, g) for a, d, m, g in line],
              lambda f, n: ms.drive(ms.pluck(f, n, sr, rng, 1.0, 0.99), 2.0))
    else:
        line = _melody(song, 2, ([0, 4, 8, 12], [0, 2, 4, 8, 12], [0, 6, 8, 10, 12]), 7, 14, 1, rest=0.2)
        renders = {"fiddle": lambda f, n: ms.bowed_lead(f, n, sr, rng, 4500.0),
                   "harmonica": lambda f, n: ms.harmonica(f, n, sr, rng),
                   "voice": lambda f, n: ms.choir(f, n, sr, rng, "a")}
        _play(r, song, lead, line, renders[lead])
    lead_part = r.take()
    mix.add(ms.slapback(lead_part, sr) if lead == "twang" else lead_part, _uniform(rng, (-5.0, -1.0)), 0.25)
    song.params.update(lead=lead)
    return mix.render(_uniform(rng, (0.7, 1.4)), _uniform(rng, (0.1, 0.3)))


def _render_ambient(song: Song) -> np.ndarray:
    """Ambient / new age: no beat (at most a soft shaker), slow-swelling pads over a drone, sparse
    bells or piano on a pentatonic, sometimes a flute, water or birds, and a long reverb."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    mix = Mix(song)
    progression = _pick(rng, ([0, 3], [0, 5, 3, 4], [0, 4], [0, 1], [0, 3, 5, 4]))
    chord_bars = int(_pick(rng, (2, 4)))
    pad_notes = _progression_notes(song, progression, chord_bars, [0], 1, 4,
                                   length_steps=song.steps_per_bar * chord_bars * 1.15)
    cutoff = _uniform(rng, (600, 2500))
    attack = _uniform(rng, (0.8, 2.5))
    voice = _pick(rng, ("pad", "strings", "choir"))
    _play(r, song, voice, pad_notes, lambda f, n: ms.pad(f, n, sr, rng, cutoff, attack) if voice == "pad" else
          ms.strings(f, n, sr, rng, attack, cutoff) if voice == "strings" else ms.choir(f, n, sr, rng, "u"))
    mix.add(r.take(), 0.0, 0.6)
    drone = ms.sine(ms.midi_hz(song.root), song.n, sr) + 0.3 * ms.sine(ms.midi_hz(song.root + 7), song.n, sr)
    if rng.uniform() < 0.6:
        mix.add(drone * (0.8 + 0.2 * ms.sine(_uniform(rng, (0.03, 0.1)), song.n, sr)), _uniform(rng, (-12.0, -6.0)))
    pentatonic = [0, 1, 2, 4, 5]   # degrees of a major / minor scale that avoid the half steps
    sparkle = _pick(rng, ("bell", "piano", "flute", "none"))
    if sparkle != "none":
        notes, ring_s = [], _uniform(rng, (1.5, 3.5))   # one ring length per track: notes share renders
        t = rng.uniform(0.0, 2.0)
        while t < song.seconds:
            notes.append((t, ring_s, song.note(int(_pick(rng, pentatonic)) + 7 * int(rng.integers(0, 2)), 2),
                          _uniform(rng, (0.4, 1.0))))
            t += _uniform(rng, (0.6, 2.5)) * song.beat_s * 2
        ratio = _uniform(rng, (2.0, 4.0))
        renders = {"bell": lambda f, n: ms.bell(f, n, sr, ratio, 2.0), "piano": lambda f, n: ms.piano(f, n, sr, 0.3),
                   "flute": lambda f, n: ms.flute(f, n, sr, rng, 0.25)}
        _play(r, song, sparkle, notes, renders[sparkle])
        mix.add(r.take(), _uniform(rng, (-6.0, -2.0)), 0.7)
    nature = _pick(rng, ("water", "birds", "none", "none"))
    if nature == "water":
        mix.add(ms.lowpass(rng.standard_normal(song.n), 1200, sr) * (0.6 + 0.4 * ms.sine(0.2, song.n, sr)),
                _uniform(rng, (-20.0, -12.0)))
    elif nature == "birds":
        for at in np.sort(rng.uniform(0, song.seconds, int(song.seconds / 3))):
            n = int(_uniform(rng, (0.08, 0.2)) * sr)
            chirp = ms.sine(np.linspace(_uniform(rng, (2500, 4000)), _uniform(rng, (3000, 6000)), n), n,
                            sr) * ms.adsr(n, sr, 0.01, 0.05, 0.5, 0.03)
            r.place(chirp, at, 1.0)
        mix.add(r.take(), _uniform(rng, (-16.0, -10.0)), 0.4)
    if rng.uniform() < 0.2:
        shaker = ms.shaker(int(0.15 * sr), sr, rng)
        _drums(r, song, {"shaker": shaker}, lambda bar: {"shaker": _steps(range(0, 16, 4), 0.5)})
        mix.add(r.take(), -16.0, 0.5)
    song.params.update(pad=voice, sparkle=sparkle, nature=nature)
    return mix.render(_uniform(rng, (2.5, 4.0)), _uniform(rng, (0.4, 0.7)))


def _render_world(song: Song) -> np.ndarray:
    """Indian (tanpura drone, tabla theka, sitar or bansuri in a raga with slides), middle eastern
    (oud and ney in hijaz over a darbuka maqsoum and a drone), spanish (nylon-guitar rasgueado over
    the andalusian cadence with palmas and cajon) and tribal (interlocking hand drums, chant)."""
    rng, sr, r = song.rng, song.sr, ms.Renderer(song.n, song.sr)
    style = song.style
    mix = Mix(song)
    if style in ("indian", "middle eastern"):
        # the drone: a tanpura cycle (5th, tonic, tonic, low tonic) or a held oud / ney drone
        cycle_s = _uniform(rng, (1.2, 2.0))
        drone_notes = []
        t = 0.0
        while t < song.seconds:
            for k, interval in enumerate((7, 12, 12, 0)):
                drone_notes.append((t + k * cycle_s / 4, 2.5, song.root + 12 + interval, 0.7))
            t += cycle_s
        _play(r, song, "tanpura", drone_notes, lambda f, n: ms.sitar(f, n, sr, rng))
        mix.add(r.take(), _uniform(rng, (-10.0, -5.0)), 0.3)
        if style == "indian":
            kit = {"na": ms.hand_drum(int(0.3 * sr), sr, _uniform(rng, (480, 620)), 0.12, 0.0, 0.4, rng),
                   "tin": ms.hand_drum(int(0.2 * sr), sr, _uniform(rng, (600, 750)), 0.06, 0.0, 0.2, rng),
                   "ge": ms.hand_drum(int(0.6 * sr), sr, _uniform(rng, (75, 100)), 0.25, 0.6, 0.1, rng)}
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
            kit = {"dum": ms.hand_drum(int(0.4 * sr), sr, _uniform(rng, (85, 110)), 0.15, 0.1, 0.2, rng),
                   "tek": ms.hand_drum(int(0.15 * sr), sr, _uniform(rng, (900, 1200)), 0.03, 0.0, 1.0, rng),
                   "riq": ms.hat(int(0.2 * sr), sr, 0.08, rng)}

            def pattern(bar):   # maqsoum: dum tek - tek dum - tek -
                return {"dum": _steps([0, 6, 8]),
                        "tek": _steps([2, 4, 10, 12, 14] if rng.uniform() < 0.5 else [4, 10, 12], 0.8),
                        "riq": _steps(range(0, 16, 2), 0.3)}
        _drums(r, song, kit, pattern)
        mix.add(r.take(), _uniform(rng, (-3.0, 0.0)), 0.2)
        lead = _pick(rng, ("sitar", "bansuri")) if style == "indian" else _pick(rng, ("oud", "ney"))
        line = _melody(song, 2, ([0, 2, 4, 6, 8, 12], [0, 3, 4, 8, 10, 12], [0, 4, 6, 7, 8, 12]), 5, 13, 1, rest=0.1,
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
                    renders[lead](ms.midi_hz(m), n), sr, ms.midi_hz(f0) / ms.midi_hz(m), 0.08))
                previous = midi
        else:
            _play(r, song, lead, line, renders[lead])
        mix.add(r.take(), 0.0, 0.35)
        song.params.update(lead=lead)
    elif style == "spanish":
        cadence = [0, 6, 5, 4]   # i - bVII - bVI - V in phrygian (the andalusian cadence)
        strum = []
        for bar in song.bars():
            chord = song.chord(cadence[bar % 4], 1, 4)
            if cadence[bar % 4] == 4:
                chord = [c + 1 if (c - song.root) % 12 == 3 else c for c in chord]   # major V (the raised third)
            for s in _pick(rng, ([0, 3, 6, 8, 11, 14], [0, 2, 3, 6, 8, 10, 12], [0, 4, 6, 10, 12])):
                for k, midi in enumerate(chord):
                    strum.append((song.t(bar, s) + k * 0.008, 3 * song.step_s, midi, 0.5))
        _play(r, song, "nylon", strum, lambda f, n: ms.pluck(f, n, sr, rng, 0.55, 0.995))
        mix.add(r.take(), 0.0, 0.3)
        kit = {"clap": ms.clap(int(0.25 * sr), sr, rng),
               "cajon": ms.hand_drum(int(0.3 * sr), sr, 90, 0.1, 0.0, 0.6, rng)}
        _drums(r, song, kit, lambda bar: {"clap": _steps([2, 6, 10, 14] if bar % 2 else [0, 4, 8, 12], 0.7),
                                          "cajon": _steps([0, 7, 10])})
        mix.add(r.take(), _uniform(rng, (-6.0, -2.0)), 0.2)
    else:   # tribal: 3-against-2 hand drums, shakers, a chanted line
        kit = {f"drum{k}": ms.hand_drum(int(0.4 * sr), sr, _uniform(rng, (70, 400)), _uniform(rng, (0.08, 0.2)),
                                        _uniform(rng, (0.0, 0.3)), 0.5, rng) for k in range(4)}
        kit["shaker"] = ms.shaker(int(0.12 * sr), sr, rng)
        song_steps = [sorted(int(s) for s in rng.choice(16, int(rng.integers(3, 7)), replace=False)) for _ in range(4)]
        _drums(r, song, kit, lambda bar: {**{f"drum{k}": _steps(song_steps[k], 0.8) for k in range(4)},
                                          "shaker": _steps(range(0, 16, 2), 0.3)})
        mix.add(r.take(), 0.0, 0.2)
        chant = _melody(song, 2, ([0, 4, 8, 12], [0, 6, 8, 12]), 0, 4, 1, rest=0.4, leap=0.0)
        _play(r, song, "chant", chant, lambda f, n: ms.choir(f, n, sr, rng, "o"))
        mix.add(r.take(), _uniform(rng, (-8.0, -3.0)), 0.3)
    return mix.render(_uniform(rng, (0.8, 2.0)), _uniform(rng, (0.15, 0.35)))


@dataclass(frozen=True)
class GenreSpec:
    """How a genre's tracks are drawn: tempo range per sub-style, scales, register, swing, a
    recipe, and tags (genre tags by sub-style, other tags with their probability per clip)."""

    styles: dict                    # sub-style -> (bpm low, bpm high, how often)
    scales: tuple
    root_range: tuple               # MIDI range of the tonic in the bass register
    render: object
    style_tags: dict                # sub-style -> genre tags most used for it
    tags: dict                      # instrument / mood / lower-priority genre tag -> probability
    swing: tuple = (0.5, 0.5)
    swing_steps: int = 1
    humanize_s: tuple = (0.002, 0.008)
    rubato_s: tuple = (0.0, 0.0)


GENRE_SPECS = {
    "hip-hop": GenreSpec(
        {"boom bap": (80, 100, 1.0)}, ("minor", "dorian", "minor", "harmonic_minor"), (36, 43), _render_hiphop,
        {"boom bap": ("hip hop", "rap")},
        {"beat": 0.5, "beats": 0.3, "drums": 0.35, "bass": 0.3, "rap": 0.3, "repetitive": 0.2, "slow": 0.15,
         "deep": 0.1, "funk": 0.1, "electronic": 0.1, "dance": 0.05, "instrumental": 0.15, "no vocals": 0.1,
         "dark": 0.1},
        swing=(0.54, 0.64), humanize_s=(0.002, 0.006)),
    "rock": GenreSpec(
        {"rock": (105, 145, 0.4), "hard rock": (100, 135, 0.25), "soft rock": (75, 110, 0.2), "punk": (160, 200, 0.15)},
        ("major", "mixolydian", "minor"), (38, 45), _render_rock,
        {"rock": ("rock",), "hard rock": ("hard rock", "rock"), "soft rock": ("soft rock", "rock"),
         "punk": ("punk", "rock")},
        {"guitar": 0.5, "electric guitar": 0.25, "drums": 0.4, "loud": 0.2, "fast": 0.15, "male vocal": 0.15,
         "vocal": 0.15,
         "singing": 0.1, "guitars": 0.1, "beat": 0.1, "not classical": 0.05, "pop": 0.1, "bass": 0.1, "heavy": 0.05}),
    "metal": GenreSpec(
        {"metal": (100, 200, 0.5), "heavy metal": (100, 170, 0.5)}, ("phrygian", "minor", "harmonic_minor"), (33, 40),
        _render_metal,
        {"metal": ("metal",), "heavy metal": ("heavy metal", "metal")},
        {"rock": 0.4, "hard rock": 0.2, "guitar": 0.4, "heavy": 0.4, "loud": 0.45, "fast": 0.3, "drums": 0.3,
         "hard": 0.2,
         "electric guitar": 0.15, "dark": 0.1, "noise": 0.05, "punk": 0.05}),
    "pop": GenreSpec(
        {"pop": (92, 126, 0.45), "dance": (116, 128, 0.3), "disco": (112, 124, 0.25)},
        ("major", "major", "mixolydian"), (38, 46), _render_pop,
        {"pop": ("pop",), "dance": ("dance", "pop"), "disco": ("disco", "dance")},
        {"vocal": 0.2, "female vocal": 0.15, "singing": 0.15, "beat": 0.25, "upbeat": 0.15, "happy": 0.15,
         "synth": 0.15,
         "drums": 0.2, "fast": 0.05, "female": 0.1, "keyboard": 0.1}),
    "electronic": GenreSpec(
        {"techno": (124, 138, 0.3), "house": (118, 128, 0.25), "trance": (130, 140, 0.25), "jungle": (160, 176, 0.1),
         "industrial": (100, 130, 0.05), "electro": (120, 132, 0.05)},
        ("minor", "phrygian", "dorian"), (36, 44), _render_electronic,
        {"techno": ("techno", "electronic"), "house": ("house", "electronic"), "trance": ("trance", "electronica"),
         "jungle": ("jungle", "electronic"), "industrial": ("industrial", "electro"),
         "electro": ("electro", "electronica")},
        {"beat": 0.35, "synth": 0.3, "dance": 0.25, "fast": 0.2, "repetitive": 0.2, "drums": 0.2, "beats": 0.15,
         "modern": 0.1,
         "weird": 0.1, "loud": 0.1, "pop": 0.05, "ambient": 0.05, "synthesizer": 0.1, "no vocals": 0.1}),
    "classical": GenreSpec(
        {"strings": (60, 120, 0.3), "piano": (60, 130, 0.2), "baroque": (85, 130, 0.25), "choral": (50, 80, 0.15),
         "opera": (55, 90, 0.1)},
        ("major", "minor", "harmonic_minor", "major"), (40, 50), _render_classical,
        {"strings": ("classical", "classic"), "piano": ("classical", "classic"), "baroque": ("baroque", "classical"),
         "choral": ("choral", "choir"), "opera": ("opera", "classical")},
        {"strings": 0.3, "violin": 0.2, "cello": 0.1, "piano": 0.15, "harpsichord": 0.1, "orchestra": 0.1, "slow": 0.2,
         "soft": 0.15,
         "quiet": 0.15, "no vocals": 0.1, "calm": 0.1, "solo": 0.05, "female opera": 0.05, "ambient": 0.05,
         "new age": 0.03, "clasical": 0.05},
        humanize_s=(0.006, 0.015), rubato_s=(0.04, 0.12)),
    "jazz": GenreSpec(
        {"swing": (120, 210, 0.35), "ballad": (60, 90, 0.2), "blues": (75, 115, 0.2), "funk": (95, 115, 0.25)},
        ("major", "dorian", "mixolydian"), (36, 45), _render_jazz,
        {"swing": ("jazz",), "ballad": ("jazzy", "jazz"), "blues": ("blues",), "funk": ("funk", "jazz")},
        {"sax": 0.2, "piano": 0.15, "trumpet": 0.1, "bass": 0.2, "drums": 0.15, "guitar": 0.1, "funky": 0.1,
         "slow": 0.1,
         "organ": 0.05, "instrumental": 0.1, "soft": 0.05, "no vocals": 0.05, "pop": 0.05, "dance": 0.05},
        swing=(0.6, 0.68), swing_steps=2, humanize_s=(0.004, 0.01)),
    "country-folk": GenreSpec(
        {"country": (90, 135, 0.4), "folk": (70, 110, 0.35), "celtic": (100, 130, 0.25)},
        ("major", "major", "mixolydian"), (38, 45), _render_country,
        {"country": ("country",), "folk": ("folk",), "celtic": ("celtic", "irish", "folk")},
        {"guitar": 0.5, "acoustic guitar": 0.25, "acoustic": 0.2, "banjo": 0.1, "fiddle": 0.15, "violin": 0.1,
         "happy": 0.1,
         "male vocal": 0.05, "flute": 0.05, "upbeat": 0.05, "pop": 0.05, "new age": 0.03, "world": 0.03}),
    "ambient-newage": GenreSpec(
        {"ambient": (50, 80, 0.5), "new age": (55, 85, 0.5)}, ("major", "lydian", "minor", "dorian"), (36, 46),
        _render_ambient,
        {"ambient": ("ambient",), "new age": ("new age", "ambient")},
        {"synth": 0.2, "slow": 0.3, "quiet": 0.2, "soft": 0.2, "calm": 0.2, "airy": 0.1, "spacey": 0.15, "space": 0.05,
         "drone": 0.1, "no beat": 0.15, "no drums": 0.1, "bells": 0.05, "water": 0.05, "birds": 0.05, "eerie": 0.05,
         "pop": 0.03},
        humanize_s=(0.0, 0.0)),
    "world": GenreSpec(
        {"indian": (60, 110, 0.3), "middle eastern": (85, 125, 0.3), "spanish": (100, 140, 0.2),
         "tribal": (90, 130, 0.2)},
        ("major",), (38, 46), _render_world,
        {"indian": ("indian", "sitar"), "middle eastern": ("middle eastern", "arabic", "oriental", "eastern"),
         "spanish": ("spanish", "world"), "tribal": ("tribal", "world")},
        {"world": 0.3, "foreign": 0.2, "eastern": 0.1, "percussion": 0.25, "drums": 0.15, "sitar": 0.05, "india": 0.1,
         "guitar": 0.1,
         "not english": 0.05, "drone": 0.1, "chanting": 0.05, "new age": 0.05, "ambient": 0.03, "pop": 0.02}),
}
_WORLD_SCALES = {"indian": ("bhairav", "yaman", "kafi"), "middle eastern": ("hijaz",), "spanish": ("phrygian",),
                 "tribal": ("minor", "dorian")}


def draw_song(genre: str, seed: int, track: int, sr: int, seconds: float) -> Song:
    """The musical frame of track `track` of `genre`: everything a track shares across its clips."""
    spec = GENRE_SPECS[genre]
    rng = np.random.default_rng([seed, GENRES.index(genre), track])
    weights = np.array([w for _, _, w in spec.styles.values()])
    style = tuple(spec.styles)[int(rng.choice(len(weights), p=weights / weights.sum()))]
    scales = _WORLD_SCALES[style] if genre == "world" else spec.scales
    celtic = style == "celtic"
    song = Song(rng, sr, seconds, _uniform(rng, spec.styles[style][:2]),
                int(rng.integers(spec.root_range[0], spec.root_range[1] + 1)),
                SCALES[_pick(rng, scales)], style=style,
                steps_per_beat=3 if celtic else 4, beats_per_bar=2 if celtic else 4,
                swing={"funk": 0.5, "blues": 0.64}.get(style) or _uniform(rng, spec.swing),
                swing_steps=spec.swing_steps, humanize_s=_uniform(rng, spec.humanize_s),
                rubato_s=_uniform(rng, spec.rubato_s))
    song.params.update(genre=genre, style=style, bpm=song.bpm, root=song.root, swing=song.swing)
    return song


def render_track(song: Song, loudness_dbfs, noise_dbfs) -> np.ndarray:
    """Render a song and master it: high-pass, a random tone tilt, a noise floor and a loudness
    drawn from ranges shared by every genre, then a soft limiter. float32 in [-1, 1]."""
    rng, sr = song.rng, song.sr
    audio = GENRE_SPECS[song.params["genre"]].render(song)
    audio = ms.highpass(audio, 30.0, sr)
    tone = _uniform(rng, (3500, 7800))
    audio = audio + _uniform(rng, (-0.5, 0.3)) * (audio - ms.lowpass(audio, tone, sr))   # brighter or duller master
    audio = audio / (np.sqrt(np.mean(audio ** 2)) + 1e-9) * _db(_uniform(rng, loudness_dbfs))
    hiss = ms.lowpass(rng.standard_normal(len(audio), dtype=np.float32), _uniform(rng, (3000, 7900)), sr)
    audio = audio + _db(_uniform(rng, noise_dbfs)) * hiss
    audio = np.tanh(audio / 0.9) * 0.9   # soft limiter: peaks above ~0.6 are rounded off, never clipped
    return audio.astype(np.float32)


# ================================================================ tags and names

def genre_of_tags(tags, genre_tags=GENRE_TAGS, priority=GENRE_PRIORITY):
    tagset = set(tags)
    return next((g for g in priority if tagset.intersection(genre_tags[g])), None)


def clip_tags(genre: str, style: str, rng: np.random.Generator) -> list[str]:
    """Tags one annotator might give a clip: one or two of the sub-style's genre tags (rarely one
    of the genre's other tags), then instrument / mood tags; never a tag of a genre that would
    out-rank this one."""
    spec = GENRE_SPECS[genre]
    main = spec.style_tags[style]
    tags = {main[0] if rng.uniform() < 0.8 or len(main) == 1 else main[1]}
    for tag in main[1:]:
        if rng.uniform() < 0.35:
            tags.add(tag)
    if rng.uniform() < 0.1:
        tags.add(_pick(rng, GENRE_TAGS[genre]))
    for tag, prob in spec.tags.items():
        if rng.uniform() < prob:
            tags.add(tag)
    outranking = {t for g in GENRE_PRIORITY[: GENRE_PRIORITY.index(genre)] for t in GENRE_TAGS[g]}
    tags = {t for t in tags if t in MTAT_TAGS and t not in outranking}
    assert genre_of_tags(tags) == genre, (genre, tags)
    return sorted(tags, key=MTAT_TAGS.index)


def untagged_clip_tags(genre: str, style: str, rng: np.random.Generator) -> list[str]:
    """A clip nobody gave a genre tag: a few instrument / mood tags at most (or none)."""
    tags = {t for t, p in GENRE_SPECS[genre].tags.items() if rng.uniform() < p / 2}
    all_genre_tags = {t for ts in GENRE_TAGS.values() for t in ts}
    return sorted((t for t in tags if t in MTAT_TAGS and t not in all_genre_tags), key=MTAT_TAGS.index)


_FIRST = "john mary carl anna lisa mark paul nina omar ravi sofia leo ella ivan yuki kofi maria tom jean dora".split()
_LAST = """hale moreno carter vance okafor lindqvist brennan ashford kowalski tanaka mendes sharma novak
reyes hart""".split()
_WORDS = """night river stone glass echo shadow silver morning velvet ember golden hollow wild quiet
electric blue iron paper summer winter distant broken open lost northern southern crimson
paper lantern harbor desert mountain ocean city garden rain fire light smoke dream road""".split()
_CLASSICAL_TITLES = "sonata partita suite prelude fugue aria cantata nocturne etude concerto minuet sarabande".split()


def _slug(text: str) -> str:
    """MTAT file-name style: lower case, anything but letters and digits becomes '_'."""
    return re.sub(r"[^a-z0-9]", "_", text.lower())


def _name(rng: np.random.Generator, genre: str, kind: str) -> str:
    if kind == "artist":
        if rng.uniform() < 0.5:
            return f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)}"
        return f"the {_pick(rng, _WORDS)} {_pick(rng, _WORDS)}s"
    if genre == "classical" and kind == "title":
        movement = _pick(rng, ("i", "ii", "iii", "iv"))
        tempo = _pick(rng, ("allegro", "adagio", "andante", "presto", "largo"))
        return f"{_pick(rng, _CLASSICAL_TITLES)} no. {int(rng.integers(1, 30))}, {movement}. {tempo}"
    return " ".join(_pick(rng, _WORDS) for _ in range(int(rng.integers(1, 4))))


def segment_bounds(index: int, clip_seconds: float) -> tuple[int, int]:
    """Whole-second (start, end) of a track's `index`-th clip as in MTAT names (0-29, 30-59,
    59-88, ...): a clip spans `clip_seconds` from `start` (clip 0 starts at 0, clip k at 1 + 29k)."""
    length = int(clip_seconds)
    start = 0 if index == 0 else 1 + length * index
    return start, start + length


# ================================================================ the corpus

def check_config(cfg: dict) -> None:
    unknown = set(cfg) - CONFIG_KEYS
    if unknown:
        raise UserError(f"unknown keys in params data.embedded_music: {sorted(unknown)}")
    missing = CONFIG_KEYS - set(cfg)
    if missing:
        raise UserError(f"params data.embedded_music lacks {sorted(missing)}")
    for key in ("clips_per_genre", "clips_per_track", "workers"):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise UserError(f"data.embedded_music.{key} must be an integer >= 1, got {cfg[key]!r}")
    for key in ("untagged_clips", "missing_clips", "corrupt_clips"):
        if not isinstance(cfg[key], int) or cfg[key] < 0:
            raise UserError(f"data.embedded_music.{key} must be an integer >= 0, got {cfg[key]!r}")
    if not 1.0 <= float(cfg["clip_seconds"]) <= 120.0:
        raise UserError(f"data.embedded_music.clip_seconds must be in [1, 120], got {cfg['clip_seconds']!r}")
    for key in ("loudness_dbfs", "noise_dbfs"):
        pair = cfg[key]
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and pair[0] <= pair[1] <= 0):
            raise UserError(f"data.embedded_music.{key} must be [low, high] dBFS with low <= high <= 0, got {pair!r}")
    if not (isinstance(cfg["compression_level"], (int, float)) and 0.0 <= cfg["compression_level"] <= 1.0):
        raise UserError(f"data.embedded_music.compression_level must be in [0, 1], got {cfg['compression_level']!r}")
    if str(cfg["bitrate_mode"]).lower() not in BITRATE_MODES:
        raise UserError(f"data.embedded_music.bitrate_mode must be one of {sorted(BITRATE_MODES)}, "
                        f"got {cfg['bitrate_mode']!r}")
    if cfg["missing_clips"] + cfg["corrupt_clips"] > (len(GENRES) - 1) * cfg["clips_per_genre"]:
        raise UserError("data.embedded_music: more missing + corrupt clips than non-hip-hop clips")


def plan_corpus(cfg: dict, seed: int) -> pd.DataFrame:
    """One row per clip: track, genre, style, names, clip_id, segment, mp3_path, tags, and its
    `fate` (ok / missing / corrupt). Pure bookkeeping: nothing is synthesised here."""
    rng = np.random.default_rng([seed, 7919])
    per_track = cfg["clips_per_track"]
    tracks = []
    for g, genre in enumerate(GENRES):
        n_tracks = -(-cfg["clips_per_genre"] // per_track)
        for k in range(n_tracks):
            clips = min(per_track, cfg["clips_per_genre"] - k * per_track)
            tracks.append({"genre": genre, "track": k, "clips": clips, "tagged": True})
    non_anchor = [g for g in GENRES if g != "hip-hop"]
    for k in range(cfg["untagged_clips"]):   # extra tracks nobody tagged with a genre
        tracks.append({"genre": non_anchor[k % len(non_anchor)], "track": 100_000 + k, "clips": 1, "tagged": False})

    # artists with albums of up to four tracks; each album sits in one folder, as in MTAT
    order = rng.permutation(len(tracks))
    used, rows, album, album_left, folder_cycle = set(), [], None, 0, 0
    for i in order:
        track = tracks[i]
        name_rng = np.random.default_rng([seed, GENRES.index(track["genre"]), track["track"], 31])
        if album_left == 0:
            while True:
                artist = _slug(_name(rng, track["genre"], "artist"))
                album_name = _slug(_name(rng, track["genre"], "album"))
                if (artist, album_name) not in used:
                    break
            used.add((artist, album_name))
            album = (artist, album_name, "0123456789abcdef"[folder_cycle % 16], iter(range(1, 99)))
            folder_cycle += 1
            album_left = int(rng.integers(1, 5))
        album_left -= 1
        artist, album_name, folder, numbers = album
        number = next(numbers)
        title = _name(name_rng, track["genre"], "title")
        song_style = draw_song(track["genre"], seed, track["track"], 16000, 1.0).style
        for c in range(track["clips"]):
            start, end = segment_bounds(c, float(cfg["clip_seconds"]))
            stem = f"{artist}-{album_name}-{number:02d}-{_slug(title)}"
            tag_rng = np.random.default_rng([seed, GENRES.index(track["genre"]), track["track"], c, 97])
            tagger = clip_tags if track["tagged"] else untagged_clip_tags
            tags = tagger(track["genre"], song_style, tag_rng)
            rows.append({**track, "style": song_style, "clip": c, "artist": artist, "album": album_name, "title": title,
                         "track_number": number, "segment_start": start, "segment_end": end,
                         "mp3_path": f"{folder}/{stem}-{start}-{end}.mp3", "tags": tags, "fate": "ok"})
    plan = pd.DataFrame(rows)
    plan["clip_id"] = 1 + np.cumsum(rng.integers(1, 4, len(plan)))   # sparse ids from 2 up, as in MTAT
    # one missing and one corrupt clip (never hip-hop, the scarce anchor genre), as in MTAT
    candidates = plan.index[(plan["genre"] != "hip-hop") & plan["tagged"]].to_numpy()
    broken = rng.choice(candidates, cfg["missing_clips"] + cfg["corrupt_clips"], replace=False)
    plan.loc[broken[: cfg["missing_clips"]], "fate"] = "missing"
    plan.loc[broken[cfg["missing_clips"]:], "fate"] = "corrupt"
    return plan.sort_values("clip_id").reset_index(drop=True)


def annotations_frame(plan: pd.DataFrame) -> pd.DataFrame:
    flags = np.zeros((len(plan), len(MTAT_TAGS)), dtype=np.int64)
    column = {t: i for i, t in enumerate(MTAT_TAGS)}
    for row, tags in enumerate(plan["tags"]):
        flags[row, [column[t] for t in tags]] = 1
    frame = pd.DataFrame(flags, columns=list(MTAT_TAGS))
    frame.insert(0, "clip_id", plan["clip_id"].to_numpy())
    frame["mp3_path"] = plan["mp3_path"].to_numpy()
    return frame


def clip_info_frame(plan: pd.DataFrame) -> pd.DataFrame:
    def url(row):
        return f"http://www.magnatune.com/artists/albums/{row.artist.replace('_', '')}-{row.album.replace('_', '')}/"

    def original(row):
        title, artist = row.title.replace(" ", "%20"), row.artist.replace("_", "%20")
        return f"http://he3.magnatune.com/all/{row.track_number:02d}-{title}-{artist}.mp3"

    return pd.DataFrame({
        "clip_id": plan["clip_id"], "track_number": plan["track_number"], "title": plan["title"],
        "artist": plan["artist"].str.replace("_", " "), "album": plan["album"].str.replace("_", " "),
        "url": [url(r) for r in plan.itertuples()], "segmentStart": plan["segment_start"],
        "segmentEnd": plan["segment_end"],
        "original_url": [original(r) for r in plan.itertuples()], "mp3_path": plan["mp3_path"],
    })


def write_mtat_csv(frame: pd.DataFrame, path: Path) -> None:
    """MTAT's CSV dialect: tab-separated, every field double-quoted, '\\n' line ends."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", quotechar='"', quoting=1, index=False, lineterminator="\n")


def _synthesise_track(job: dict) -> None:
    """Render one track, cut it into its clips and write each as MP3 (or as garbage / nothing)."""
    clips = job["clips"]
    seconds = max(c["segment_start"] for c in clips) + job["clip_seconds"]
    song = draw_song(job["genre"], job["seed"], job["track"], job["sample_rate"], seconds)
    audio = render_track(song, job["loudness_dbfs"], job["noise_dbfs"])
    clip_n = int(round(job["clip_seconds"] * job["sample_rate"]))
    for clip in clips:
        path = Path(job["mp3_dir"]) / clip["mp3_path"]
        if clip["fate"] == "missing":
            continue
        with atomic_path(path) as tmp:
            if clip["fate"] == "corrupt":   # garbage bytes with an MP3 name: no decoder accepts it
                garbage = np.random.default_rng([job["seed"], clip["clip_id"]]).integers(0, 256, 4096, dtype=np.uint8)
                tmp.write_bytes(b"\x00" * 16 + garbage.tobytes())
                continue
            start = clip["segment_start"] * job["sample_rate"]
            sf.write(str(tmp), audio[start: start + clip_n], job["sample_rate"], format="MP3", subtype="MPEG_LAYER_III",
                     bitrate_mode=job["bitrate_mode"], compression_level=job["compression_level"])


def synthesis_jobs(plan: pd.DataFrame, cfg: dict, sample_rate: int, seed: int, mp3_root: Path) -> list[dict]:
    jobs = []
    for (genre, track), rows in plan.groupby(["genre", "track"], sort=True):
        jobs.append({"genre": genre, "track": int(track), "seed": seed, "sample_rate": sample_rate,
                     "clip_seconds": float(cfg["clip_seconds"]), "loudness_dbfs": tuple(cfg["loudness_dbfs"]),
                     "noise_dbfs": tuple(cfg["noise_dbfs"]),
                     "bitrate_mode": BITRATE_MODES[str(cfg["bitrate_mode"]).lower()],
                     "compression_level": float(cfg["compression_level"]),
                     "mp3_dir": str(mp3_root),
                     "clips": rows[["clip_id", "mp3_path", "segment_start", "fate"]].to_dict("records")})
    return jobs


def build_embedded_mtat(root: str | Path, cfg: dict, sample_rate: int, seed: int) -> None:
    """Write the embedded corpus under `root` (absent or an empty folder): `mp3/<0..f>/*.mp3`,
    `annotations_final.csv`, `clip_info_final.csv`. All of it appears, or none of it."""
    check_config(cfg)
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UserError(f"{root} must be absent or an empty folder to build the embedded MagnaTagATune corpus")
    plan = plan_corpus(cfg, seed)
    with atomic_path(root) as tmp:
        mp3_root = tmp / "mp3"
        for folder in "0123456789abcdef":
            (mp3_root / folder).mkdir(parents=True)
        jobs = synthesis_jobs(plan, cfg, sample_rate, seed, mp3_root)
        # longest tracks first keeps both workers busy to the end
        jobs.sort(key=lambda j: -len(j["clips"]))
        if cfg["workers"] > 1 and len(jobs) > 1:
            with fork_pool(min(cfg["workers"], len(jobs))) as pool:
                for _ in pool.imap_unordered(_synthesise_track, jobs):
                    pass
        else:
            for job in jobs:
                _synthesise_track(job)
        write_mtat_csv(annotations_frame(plan), tmp / "annotations_final.csv")
        write_mtat_csv(clip_info_frame(plan), tmp / "clip_info_final.csv")
