"""What the genre recipes are written with: a track's musical frame (`Song`: tempo grid with
swing and timing jitter, key, scale), the mixer (`Mix`), helpers that turn drum patterns, chord
progressions and motifs into hits and notes (`play_drums`, `steps`, `progression_notes`,
`melody`, `play`), and `GenreSpec`, what a genre draws its tracks from."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from librosa import midi_to_hz

from pipeline.data.embedded_music import synth as ms

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10), "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "hijaz": (0, 1, 4, 5, 7, 8, 10), "bhairav": (0, 1, 4, 5, 7, 8, 11), "yaman": (0, 2, 4, 6, 7, 9, 11),
    "kafi": (0, 2, 3, 5, 7, 9, 10), "lydian": (0, 2, 4, 6, 7, 9, 11),
}


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


def db(value: float) -> float:
    return 10.0 ** (value / 20.0)


class Mix:
    """Parts (track-long arrays) with gains in dB and a reverb send, summed by `render`."""

    def __init__(self, song: Song):
        self.song = song
        self.dry = np.zeros(song.n)
        self.send = np.zeros(song.n)

    def add(self, part: np.ndarray, gain_db: float, send: float = 0.0) -> None:
        peak = np.max(np.abs(part)) + 1e-9
        part = part / peak * db(gain_db + self.song.rng.uniform(-2.5, 2.5))  # a per-track mix
        self.dry += part
        self.send += send * part

    def render(self, reverb_s: float, wet: float) -> np.ndarray:
        if wet > 0 and np.any(self.send):
            tail = ms.reverb(self.send, self.song.sr, self.song.rng, reverb_s, 1.0)
            return self.dry + wet * tail
        return self.dry


def uniform(rng, low_high) -> float:
    return float(rng.uniform(*low_high))


def pick(rng, options):
    return options[int(rng.integers(len(options)))]


def play(r: ms.Renderer, song: Song, name: str, notes, render) -> None:
    """notes: (time_s, dur_s, midi, gain); render(freq, n) -> samples, cached per (name, midi, n)."""
    # librosa's midi_to_hz is the textbook 440 * 2 ** ((m - 69) / 12), equal to the last bit
    for at, dur, midi, gain in notes:
        r.note((name, midi), at, dur, gain, lambda n, m=midi: render(midi_to_hz(m), n))


def play_drums(r: ms.Renderer, song: Song, kit: dict, pattern_of_bar) -> None:
    """pattern_of_bar(bar) -> {voice: [(step, gain), ...]}; each hit gets a little gain jitter."""
    for bar in song.bars():
        for voice, hits in pattern_of_bar(bar).items():
            for step, gain in hits:
                r.place(kit[voice], song.t(bar, step), gain * song.rng.uniform(0.85, 1.0))


def steps(at, gain=1.0):
    """Drum hits at steps `at`, all of one gain: a pattern's entry for one voice."""
    return [(s, gain) for s in at]


def progression_notes(song: Song, progression, bars_per_chord: int, rhythm, octave: int, size: int,
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


def melody(song: Song, motif_bars: int, rhythms, low: int, high: int, octave: int, rest: float = 0.15,
           leap: float = 0.2, vary: float = 0.25):
    """A motif of `motif_bars` bars (random walk on scale degrees over rhythm cells), repeated with
    small variations through the track, as a hook or a riff is."""
    rng = song.rng
    motif, degree = [], int(rng.integers(low, high + 1))
    for bar in range(motif_bars):
        cell = pick(rng, rhythms)
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


@dataclass(frozen=True)
class GenreSpec:
    """How a genre's tracks are drawn: tempo range per sub-style, scales, register, swing and
    tags (genre tags by sub-style, other tags with their probability per clip)."""

    styles: dict                    # sub-style -> (bpm low, bpm high, how often)
    scales: tuple
    root_range: tuple               # MIDI range of the tonic in the bass register
    style_tags: dict                # sub-style -> genre tags most used for it
    tags: dict                      # instrument / mood / lower-priority genre tag -> probability
    swing: tuple = (0.5, 0.5)
    swing_steps: int = 1
    humanize_s: tuple = (0.002, 0.008)
    rubato_s: tuple = (0.0, 0.0)
    voice: str = "sung"             # on its vocal tracks: rap | sung | choir (see `vocals`)

