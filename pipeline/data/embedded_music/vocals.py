"""Voices over the music: rap on the beat grid, sung lines, choir vowels.

Real MagnaTagATune hip-hop is a voice over a beat. A style encoder trained on instrumental
hip-hop learns this synthesiser's boom-bap instead (measured: real hip-hop ranked below every other
genre, ROC-AUC 0.00), and if only hip-hop had a voice it would learn "a voice = hip-hop". So
hip-hop tracks are rapped and the other genres carry voices at their own rates
(`data.embedded_music.vocals`).

- rap: espeak-ng reads words of the speech corpus's vocabulary in one of many voices (base voice
  x variant x pitch). Every word starts exactly on a step of the track's own grid (8ths and
  16ths, no swing or jitter), a word of k syllables spans k steps, phrases run whole bars with a
  breath closing each four, a second voice answers some line ends and drops ad-libs into the
  gaps. It is mixed forward: compressed, brightened, louder than the beat.
- sung: espeak-ng lines too, in a wide, sing-song pitch range, slower, transposed within the key
  and free in time: the same engine as the rap, so the encoder can only tell rap from singing by
  its delivery, not by a synthetic timbre only hip-hop has.
- choir: sustained vowels on the chord tones (classical, some tracks).
"""
from __future__ import annotations

import re

import numpy as np
from librosa import midi_to_hz
from scipy import signal

from pipeline.audio import resample
from pipeline.data.embedded_music import synth as ms
from pipeline.data.embedded_music.arrangement import Song, db, pick, uniform
from pipeline.data.embedded_speech import sentence, vocabulary

RAP_VOCABULARY = 600  # words of the speech corpus's grammar (the same sentences people hear)

# espeak-ng voice variants that combine with any base voice (`en-us+m3`): rap voices are drawn
# from base x variant x pitch, so two tracks rarely share one.
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3")
AD_LIBS = ("yeah", "uh", "come on", "let's go", "what", "yo", "okay", "right", "huh", "check it")



# --- rap ---------------------------------------------------------------------------------------
MAX_RATE = 450  # espeak-ng's fastest words per minute


class WordSynth:
    """espeak-ng words at the music's sample rate, silence trimmed, cached per (word, voice, rate)."""

    def __init__(self, engine, sr: int, seed: int):
        self.engine, self.sr, self.seed, self._cache = engine, sr, seed, {}

    def __call__(self, word: str, voice: str, pitch: int, rate: int) -> np.ndarray:
        key = (word, voice, pitch, rate)
        if key not in self._cache:
            raw = self.engine.synthesise(word, voice, pitch, rate, self.seed).astype(np.float32) / 32768.0
            self._cache[key] = trim(resample(raw, self.engine.sample_rate, self.sr), self.sr)
        return self._cache[key]

    def fitted(self, word: str, voice: str, pitch: int, rate: int, length: int) -> np.ndarray:
        """The word spoken into `length` samples: faster (espeak's own rate, pitch kept) when it
        runs long, cut with a 10 ms fade so the next word starts clean."""
        audio = self(word, voice, pitch, rate)
        if len(audio) > length * 1.08:
            audio = self(word, voice, pitch, min(MAX_RATE, int(rate * len(audio) / length) + 1))
        audio = audio[:length].copy()
        fade = min(len(audio), int(0.01 * self.sr))
        audio[len(audio) - fade:] *= np.linspace(1.0, 0.0, fade)
        return audio


def trim(audio: np.ndarray, sr: int, floor_db: float = -35.0) -> np.ndarray:
    """Cut leading and trailing silence (10 ms frames under `floor_db` of the peak), peak-normalise."""
    peak = np.max(np.abs(audio)) + 1e-9
    frame = max(1, int(0.01 * sr))
    frames = np.abs(audio[: len(audio) // frame * frame]).reshape(-1, frame).max(axis=1)
    loud = np.flatnonzero(frames > peak * db(floor_db))
    if len(loud):
        audio = audio[loud[0] * frame: (loud[-1] + 1) * frame]
    return audio / peak


def rap(song: Song, rng: np.random.Generator, words: WordSynth, voices: tuple[str, ...],
        start_bar: int = 0) -> tuple[np.ndarray, list[float]]:
    """The rap part of a track (float64, song.n samples) and its word onsets in seconds, every
    one on the grid (`song.t(bar, step, jitter=False)`).

    A line is one sentence of the speech corpus's grammar, spoken whole by espeak-ng (so words
    keep their coarticulation and the line its intonation) at the rate that fills its one or two
    bars; it is cut at espeak's word starts and each word moved to the nearest free 16th of the
    grid. Every fourth bar ends on beat 3, a breath the hype man may fill."""
    sr, engine, vocab = song.sr, words.engine, vocabulary(RAP_VOCABULARY)
    mc = f"{pick(rng, voices)}+{pick(rng, VARIANTS)}", int(rng.integers(15, 60)), int(rng.integers(170, 230))
    hype = f"{pick(rng, voices)}+{pick(rng, VARIANTS)}", int(rng.integers(30, 80)), mc[2]
    out, onsets, bar = np.zeros(song.n), [], start_bar
    while song.t(bar, 0, jitter=False) < song.seconds - song.bar_s / 2:
        bars = int(pick(rng, (1, 2, 2)))
        breath = (bar + bars - 1 - start_bar) % 4 == 3
        steps = bars * song.steps_per_bar - (6 if breath else 1)
        text = sentence(rng, vocab, int(rng.integers(3, 6)) * bars)
        target = steps * song.step_s
        natural, _ = engine.synthesise_words(text, *mc[:2], mc[2], words.seed)
        rate = int(np.clip(mc[2] * len(natural) / engine.sample_rate / target, 120, MAX_RATE))
        raw, starts = engine.synthesise_words(text, *mc[:2], rate, words.seed)
        audio = resample(raw.astype(np.float32) / 32768.0, engine.sample_rate, sr)
        audio /= np.max(np.abs(audio)) + 1e-9
        starts = [int(p * sr / engine.sample_rate) for p in starts] + [len(audio)]
        scale = target / (len(audio) / sr)
        slots, last = [], -1
        for begin in starts[:-1]:
            last = max(last + 1, int(round(begin / sr * scale / song.step_s)))
            slots.append(last)
        for i, slot in enumerate(slots):
            if slot >= bars * song.steps_per_bar:
                break   # a line that runs long loses its last words, never the next bar's downbeat
            at = song.t(bar + slot // song.steps_per_bar, slot % song.steps_per_bar, jitter=False)
            if at >= song.seconds - 0.05:
                break
            nxt = slots[i + 1] if i + 1 < len(slots) else steps + 1
            length = int(round((nxt - slot) * song.step_s * sr))
            chunk = audio[starts[i]: starts[i + 1]][:length].copy()
            fade = min(len(chunk), int(0.008 * sr))
            chunk[len(chunk) - fade:] *= np.linspace(1.0, 0.0, fade)
            _place(out, chunk * (1.0 if slot % 4 == 0 else 0.85), at, sr)
            onsets.append(at)
        if breath and rng.uniform() < 0.6:   # the hype man answers: the line's last word, or an ad-lib
            at = song.t(bar + bars - 1, 12, jitter=False)
            answer = text.split()[-1] if rng.uniform() < 0.5 else pick(rng, AD_LIBS)
            if at < song.seconds - 0.3:
                _place(out, 0.7 * words.fitted(answer, *hype, int(round(4 * song.step_s * sr))), at, sr)
                onsets.append(at)
        bar += bars
    return out, onsets


def _place(out: np.ndarray, audio: np.ndarray, at_s: float, sr: int) -> None:
    start = int(round(at_s * sr))
    end = min(start + len(audio), len(out))
    if 0 <= start < end:
        out[start:end] += audio[: end - start]


# --- singing ---------------------------------------------------------------------------------
def sung(song: Song, rng: np.random.Generator, engine, voices: tuple[str, ...], seed: int) -> np.ndarray:
    """A sung-style vocal: espeak-ng lines in a wide, sing-song pitch range, slower than speech,
    each pitched to a note of the track's key and free in time (phrases start near bar lines,
    words fall where the voice puts them). The same engine as the rap, so only delivery (free
    and melodic here, grid-locked and fast there), not timbre, tells rap from singing."""
    voice = f"{pick(rng, voices)}+{pick(rng, VARIANTS)}"
    pitch, rate, spread = int(rng.integers(35, 90)), int(rng.integers(110, 160)), int(rng.integers(70, 100))
    out, vocab, bar = np.zeros(song.n), vocabulary(RAP_VOCABULARY), int(rng.integers(0, 2))
    while song.t(bar, 0, jitter=False) < song.seconds - song.bar_s:
        text = sentence(rng, vocab, int(rng.integers(4, 9)))
        raw = engine.synthesise(text, voice, pitch, rate, seed, pitch_range=spread).astype(np.float32) / 32768.0
        # a whole-line transposition (read faster or slower): up to +-3 semitones, as a melody moves
        line = resample(raw, engine.sample_rate, song.sr)
        shift = 2 ** (int(rng.integers(-3, 4)) / 12)
        line = np.interp(np.arange(0, len(line) - 1, shift), np.arange(len(line)), line)
        _place(out, line / (np.max(np.abs(line)) + 1e-9), song.t(bar, 0) + rng.uniform(0.0, song.beat_s), song.sr)
        bar += int(np.ceil((len(line) / song.sr + song.beat_s) / song.bar_s)) + int(rng.integers(0, 2))
    return out


def choir_part(song: Song, rng: np.random.Generator) -> np.ndarray:
    """Sustained chord vowels, two bars a chord (a choir over the arrangement)."""
    r = ms.Renderer(song.n, song.sr)
    vowel = pick(rng, ("a", "o", "u", "e"))
    for bar in range(0, song.n_bars, 2):
        for midi in song.chord(int(rng.integers(0, 7)), 2, 3):
            r.note(("choir", midi), song.t(bar, 0), 2 * song.bar_s, 0.6,
                   lambda n, m=midi: ms.choir(midi_to_hz(m), n, song.sr, rng, vowel))
    return r.take()


# --- mixing ------------------------------------------------------------------------------------
def compress(x: np.ndarray, sr: int, threshold_db: float, ratio: float, release_s: float = 0.08) -> np.ndarray:
    """A feed-forward RMS compressor: gain from a smoothed level, above `threshold_db` cut by `ratio`."""
    level = signal.lfilter([1 - np.exp(-1 / (release_s * sr))], [1, -np.exp(-1 / (release_s * sr))], x ** 2)
    level_db = 10 * np.log10(level + 1e-10)
    over = np.maximum(level_db - threshold_db, 0.0)
    return x * 10 ** (-over * (1 - 1 / ratio) / 20)


def vocal_chain(vocal: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Vocal production: high-pass, a presence lift, compression and a short slapback."""
    vocal = ms.highpass(vocal, uniform(rng, (80, 140)), sr)
    vocal = vocal + uniform(rng, (0.2, 0.6)) * ms.bandpass(vocal, 2500, 6000, sr)
    peak = np.max(np.abs(vocal)) + 1e-9
    vocal = compress(vocal / peak, sr, uniform(rng, (-24, -16)), uniform(rng, (3, 6)))
    return ms.slapback(vocal, sr, uniform(rng, (0.07, 0.14)), uniform(rng, (0.05, 0.2)))


def lay_over(beat: np.ndarray, vocal: np.ndarray, level_db: float) -> np.ndarray:
    """The vocal over the beat at `level_db` of RMS relative to it (positive: forward)."""
    beat_rms = np.sqrt(np.mean(beat ** 2)) + 1e-9
    voiced = np.abs(vocal) > 1e-4
    vocal_rms = np.sqrt(np.mean(vocal[voiced] ** 2)) + 1e-9 if voiced.any() else 1.0
    return beat + vocal / vocal_rms * beat_rms * db(level_db)


def voice_part(song: Song, kind: str, rng: np.random.Generator, engine, rap_voices: tuple[str, ...], seed: int):
    """The vocal of a track (before production) and its onsets (rap only; [] otherwise).
    `engine` is an `Espeak` (only rap needs one)."""
    if kind == "rap":
        return rap(song, rng, WordSynth(engine, song.sr, seed), rap_voices, start_bar=int(rng.integers(0, 2)))
    if kind == "choir":
        return choir_part(song, rng), []
    return sung(song, rng, engine, rap_voices, seed), []
