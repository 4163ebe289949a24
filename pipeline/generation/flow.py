"""Beat-aligned flow (`generate.method.flow: beat`): before optimisation, the speech's onsets
(librosa onset detection) are moved onto a beat grid by time-stretching the stretch between
each kept onset and the next (librosa's phase vocoder), so the words keep their order and pitch
and only their timing moves.

The grid is the beat under the speech: its tempo (librosa's estimate refined by a comb over the
onset envelope, or `generate.flow.bpm`) and phase (the comb's), `grid_per_beat` points a beat
(3: eighth-note triplets, rap's triplet flow, nearest the pace of speech at hip-hop tempos).
Each onset moves toward the grid point nearest where the speech's own pace would put it, until
it is within `snap_seconds` of it, and no segment is stretched or squeezed past `max_stretch`;
onsets closer together than that allows ride along with the one before. The first onset is
delayed to its grid point by silence in front (never by stretching the lead-in); after the last
one the speech runs on at its own pace. So the output can come out
longer or shorter than the input, by at most `max_stretch`.

    grid = beat_grid(beat, 16000, config)                  # seconds, from the beat's first beat on
    timed = flow_to_grid(speech, 16000, grid, config)      # -> Timed(samples, onsets, targets)
    beat_alignment(timed.samples, 16000, grid, config)     # share of onsets within 50 ms of the grid
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import librosa
import numpy as np

from pipeline.config import FlowConfig


def onset_envelope(samples: np.ndarray, sample_rate: int, hop_length: int) -> np.ndarray:
    """librosa's spectral flux on mel frames of 4 hops: its default 2048-sample frames (128 ms at
    16 kHz) place onsets up to 10 ms early; 4 x 128 samples keeps them within ~6 ms."""
    return librosa.onset.onset_strength(y=np.asarray(samples, dtype=np.float32), sr=sample_rate, hop_length=hop_length,
                                        n_fft=4 * hop_length)


def detect_onsets(samples: np.ndarray, sample_rate: int, config: FlowConfig) -> np.ndarray:
    """(K,) onset times in seconds: peaks of `onset_envelope` (not backtracked) at least
    `onset_wait_seconds` apart and `onset_delta` above the local mean (librosa's peak picking):
    syllable and word onsets, not every flicker of a consonant."""
    if not np.any(samples):
        return np.zeros(0)
    return librosa.onset.onset_detect(onset_envelope=onset_envelope(samples, sample_rate, config.onset_hop),
                                      sr=sample_rate, hop_length=config.onset_hop, units="time",
                                      wait=int(round(config.onset_wait_seconds * sample_rate / config.onset_hop)),
                                      delta=config.onset_delta)


@dataclass
class Grid:
    """A regular beat grid: `period` seconds between grid points, the first at `phase` (0 <= phase <
    period); `bpm` of the beat it came from."""
    bpm: float
    period: float
    phase: float

    def distance(self, times: np.ndarray) -> np.ndarray:
        """(K,) seconds from each time to its nearest grid point."""
        offset = np.mod(np.asarray(times, dtype=float) - self.phase, self.period)
        return np.minimum(offset, self.period - offset)


def pulse_fit(envelope: np.ndarray, frames_per_second: float, periods: np.ndarray) -> tuple[float, float]:
    """(period, phase) in seconds of the regular pulse that best fits an onset envelope (T,): for
    each candidate period and every phase on the envelope's frames, the mean envelope at phase +
    k * period over the clip (a comb); the strongest wins. The phase lands on the beat's heaviest
    hits (kick and snare), not on the lighter off-beats."""
    times = np.arange(len(envelope)) / frames_per_second
    best = (-np.inf, 0.0, 0.0)
    for period in np.atleast_1d(periods):
        pulses = np.arange(max(int((times[-1] - period) // period) + 1, 1))
        phases = np.arange(0.0, period, 1.0 / frames_per_second)
        score = np.interp(phases[:, None] + period * pulses[None, :], times, envelope).mean(axis=1)
        if score.max() > best[0]:
            best = (float(score.max()), float(period), float(phases[np.argmax(score)]))
    return best[1], best[2]


def beat_grid(beat: np.ndarray | None, sample_rate: int, config: FlowConfig) -> Grid:
    """The grid of a beat: `config.grid_per_beat` points a beat of its regular pulse. The tempo is
    `config.bpm`, or librosa's tempo estimate (prior `config.start_bpm`: librosa's default 120
    reads some 91 BPM boom-bap as 127) refined to 0.05% by `pulse_fit` within 4% of it (librosa's
    tempo bins drift by ~0.04 s over 30 beats; its beat tracker follows a syncopated kick off the
    pulse); the phase is `pulse_fit`'s. Without a beat the grid starts at 0 and needs `config.bpm`."""
    if beat is None or not np.any(beat):
        if config.bpm is None:
            raise ValueError("flow: beat needs a beat to follow or generate.flow.bpm")
        beat_period, phase = 60.0 / config.bpm, 0.0
    else:
        envelope = onset_envelope(beat, sample_rate, config.onset_hop)
        frames_per_second = sample_rate / config.onset_hop
        if config.bpm:
            periods = np.array([60.0 / config.bpm])
        else:
            tempo = float(librosa.feature.tempo(onset_envelope=envelope, sr=sample_rate, hop_length=config.onset_hop,
                                                start_bpm=config.start_bpm)[0])
            if not tempo > 0:
                raise ValueError("flow: no tempo found in the beat: set generate.flow.bpm")
            periods = 60.0 / tempo * np.linspace(0.96, 1.04, 161)
        beat_period, phase = pulse_fit(envelope, frames_per_second, periods)
    period = beat_period / config.grid_per_beat
    return Grid(60.0 / beat_period, period, float(np.mod(phase, period)))


def onset_targets(onsets: np.ndarray, grid: Grid, max_stretch: float, snap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Kept onsets (K,) and where each goes (K,), both in seconds. Each onset goes toward the grid
    point nearest where the speech's own pace would put it (the previous target plus the speech's
    own gap), but only until it is within `snap` seconds of that point: every millisecond moved
    is a local change of tempo that costs the words a little, and an onset 30 ms off the grid still
    sounds (and scores) on it. No gap is stretched or squeezed past `max_stretch`; onsets closer
    than one grid step / max_stretch to the last kept one are not targets (they move with it). The
    first onset is only ever delayed."""
    min_gap = grid.period / max_stretch
    kept = []
    for onset in np.sort(np.asarray(onsets, dtype=float)):
        if not kept or onset - kept[-1] >= min_gap:
            kept.append(onset)
    if not kept:
        return np.zeros(0), np.zeros(0)
    kept = np.array(kept)
    first = grid.phase + grid.period * math.ceil((kept[0] - grid.phase) / grid.period - 1e-9)
    targets = [max(kept[0], first - snap)]
    for gap in np.diff(kept):
        natural = targets[-1] + gap
        point = grid.phase + grid.period * round((natural - grid.phase) / grid.period)
        target = point + min(max(natural - point, -snap), snap)
        targets.append(min(max(target, targets[-1] + gap / max_stretch), targets[-1] + gap * max_stretch))
    return kept, np.array(targets)


@dataclass
class Timed:
    """samples: (n',) the speech on the grid; onsets / targets: (K,) seconds, where the kept onsets
    were and where they now are."""
    samples: np.ndarray
    onsets: np.ndarray
    targets: np.ndarray


def stretch_to(samples: np.ndarray, length: int, config: FlowConfig) -> np.ndarray:
    """`samples` time-stretched (librosa's phase vocoder, pitch kept) to exactly `length` samples."""
    if length == len(samples) or len(samples) < config.stretch_n_fft:
        return librosa.util.fix_length(librosa.resample(samples, orig_sr=len(samples), target_sr=length)
                                       if length != len(samples) else samples, size=length)
    stretched = librosa.effects.time_stretch(samples, rate=len(samples) / length, n_fft=config.stretch_n_fft,
                                             hop_length=config.stretch_n_fft // 4)
    return librosa.util.fix_length(stretched, size=length)


def pieces_of(source: np.ndarray, placed: np.ndarray, n_samples: int, before: int, after: int) -> list[tuple]:
    """(source start, source end, output start, output end) in samples, in order: the lead-in up
    to `before` samples ahead of the first onset (delayed, as it is); per onset its attack, from
    `before` ahead of it to `after` past it, as it is; between two attacks the body, stretched to
    fill; the tail after the last attack as it is. Bodies never hold an attack, so the phase
    vocoder cannot smear one early, and every onset lands exactly where it was placed."""
    delay = placed[0] - source[0]
    pieces = [(0, source[0] - before, 0, placed[0] - before)] if source[0] > before else []
    for k in range(len(source)):
        pieces.append((source[k] - before, source[k] + after, placed[k] - before, placed[k] + after))
        if k + 1 < len(source):
            pieces.append((source[k] + after, source[k + 1] - before, placed[k] + after, placed[k + 1] - before))
    pieces.append((source[-1] + after, n_samples, placed[-1] + after, placed[-1] + n_samples - source[-1]))
    if delay and pieces[0][0] == 0 and pieces[0][2] == 0:
        a, b, _, stop = pieces[0]
        pieces[0] = (a, b, delay, stop)
    return [(max(a, 0), min(b, n_samples), max(c, 0), d) for a, b, c, d in pieces if b > a and d > c]


def flow_to_grid(speech: np.ndarray, sample_rate: int, grid: Grid, config: FlowConfig) -> Timed:
    """Mono speech -> the same words with their onsets on `grid` (see the module's docstring and
    `pieces_of`). Each piece but the first starts `crossfade_seconds` early, fading in over the
    end of the one before."""
    speech = np.asarray(speech, dtype=np.float32)
    onsets, targets = onset_targets(detect_onsets(speech, sample_rate, config), grid, config.max_stretch,
                                     config.snap_seconds)
    if len(onsets) == 0:
        return Timed(speech, onsets, targets)
    source = np.round(onsets * sample_rate).astype(int)
    placed = np.round(targets * sample_rate).astype(int)
    before = 2 * config.onset_hop  # detected onsets trail the first rise by up to ~one hop
    after = int(round(config.attack_seconds * sample_rate))
    pieces = pieces_of(source, placed, len(speech), before, after)
    out = np.zeros(pieces[-1][3], dtype=np.float32)
    fade = int(round(config.crossfade_seconds * sample_rate))
    for i, (a, b, start, stop) in enumerate(pieces):
        rate = (b - a) / (stop - start)
        lead = min(fade, start, int(a / rate)) if i else 0  # output samples before the piece's start
        piece = stretch_to(speech[a - int(round(lead * rate)):b], lead + stop - start, config).astype(np.float32)
        if lead:
            ramp = np.linspace(0, 1, lead, endpoint=False, dtype=np.float32)
            piece[:lead] *= ramp
            out[start - lead:start] *= 1 - ramp
        out[start - lead:stop] += piece
    return Timed(out, onsets, targets)


def beat_alignment(samples: np.ndarray, sample_rate: int, grid: Grid, config: FlowConfig) -> float:
    """Share of the onsets of `samples` within `config.tolerance_seconds` of the grid (0 when there
    are none)."""
    onsets = detect_onsets(samples, sample_rate, config)
    if len(onsets) == 0:
        return 0.0
    return float(np.mean(grid.distance(onsets) <= config.tolerance_seconds + 1e-9))
