"""Beat-aligned flow (pipeline/generation/flow.py): onsets of a click track with known times land
on the grid, words keep their order, and beat_alignment measures what it says."""
import numpy as np
import pytest

from pipeline.config import FlowConfig
from pipeline.generation.flow import Grid, beat_alignment, beat_grid, detect_onsets, flow_to_grid, onset_targets

RATE = 16000
# snap 0: onsets go exactly onto the grid, so the test sees the stretch's own precision
CONFIG = FlowConfig(bpm=None, start_bpm=95.0, grid_per_beat=2, max_stretch=1.5, snap_seconds=0.0, onset_hop=128,
                    onset_wait_seconds=0.2, onset_delta=0.2, stretch_n_fft=256, attack_seconds=0.03,
                    crossfade_seconds=0.005, tolerance_seconds=0.05)


def click_track(times: list[float], seconds: float, hz: float = 1000.0) -> np.ndarray:
    """Decaying tone bursts starting at `times` (seconds), with a little noise floor."""
    samples = np.random.default_rng(0).normal(0, 1e-4, int(seconds * RATE)).astype(np.float32)
    t = np.arange(int(0.06 * RATE)) / RATE
    burst = (0.5 * np.sin(2 * np.pi * hz * t) * np.exp(-t / 0.012)).astype(np.float32)
    for time in times:
        start = int(round(time * RATE))
        samples[start:start + len(burst)] += burst[:len(samples) - start]
    return samples


def test_onsets_of_a_click_track_are_found_where_they_are():
    times = [0.21, 0.55, 0.83, 1.37, 1.62, 2.11]
    found = detect_onsets(click_track(times, 2.6), RATE, CONFIG)
    assert len(found) == len(times)
    assert np.max(np.abs(found - times)) <= 0.010


def test_the_stretch_lands_known_onsets_within_10_ms_of_the_grid():
    times = [0.21, 0.55, 0.83, 1.37, 1.62, 2.11, 2.40]  # off any 90 BPM grid
    grid = Grid(bpm=90.0, period=60 / 90 / 2, phase=0.1)
    timed = flow_to_grid(click_track(times, 3.0), RATE, grid, CONFIG)
    assert len(timed.onsets) == len(times) and np.max(grid.distance(timed.targets)) < 1e-9
    after = detect_onsets(timed.samples, RATE, CONFIG)
    assert len(after) == len(times)  # order and number kept: nothing dropped, nothing doubled
    assert np.max(np.abs(after - timed.targets)) <= 0.010
    assert np.max(grid.distance(after)) <= 0.010
    assert beat_alignment(timed.samples, RATE, grid, CONFIG) == 1.0
    assert beat_alignment(click_track(times, 3.0), RATE, grid, CONFIG) < 0.5


@pytest.mark.parametrize("snap", [0.0, 0.03])
def test_targets_keep_order_and_never_stretch_past_the_limit(snap):
    rng = np.random.default_rng(1)
    onsets = np.cumsum(rng.uniform(0.05, 0.9, 60))
    grid = Grid(bpm=97.0, period=60 / 97 / 2, phase=0.05)
    kept, targets = onset_targets(onsets, grid, 1.5, snap)
    assert np.all(np.diff(targets) > 0) and targets[0] >= kept[0]
    ratios = np.diff(targets) / np.diff(kept)
    assert ratios.min() >= 1 / 1.5 - 1e-9 and ratios.max() <= 1.5 + 1e-9
    assert np.all(np.diff(kept) >= grid.period / 1.5 - 1e-9)  # closer onsets ride along
    assert set(np.round(onsets, 9)) >= set(np.round(kept, 9))
    assert np.mean(grid.distance(targets) <= snap + 1e-9) >= 0.9  # on the grid (to snap) unless the limit holds it off


def test_snapping_moves_onsets_less_and_keeps_them_within_the_snap():
    times = [0.21, 0.55, 0.83, 1.37, 1.62, 2.11, 2.40]
    grid = Grid(bpm=90.0, period=60 / 90 / 2, phase=0.1)
    exact = onset_targets(np.array(times), grid, 1.5, 0.0)[1]
    snapped = onset_targets(np.array(times), grid, 1.5, 0.03)[1]
    assert np.max(grid.distance(snapped)) <= 0.03 + 1e-9
    assert np.sum(np.abs(np.diff(snapped) - np.diff(times))) < np.sum(np.abs(np.diff(exact) - np.diff(times)))
    timed = flow_to_grid(click_track(times, 3.0), RATE, grid, FlowConfig(**{**CONFIG.__dict__, "snap_seconds": 0.03}))
    assert np.max(grid.distance(detect_onsets(timed.samples, RATE, CONFIG))) <= 0.03 + 0.010


def test_the_pitch_is_kept():
    """A sustained tone between two onsets, stretched 1.4x, keeps its frequency."""
    t = np.arange(int(1.2 * RATE)) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    tone[:int(0.3 * RATE)] *= 0.0
    tone[int(0.8 * RATE):int(0.85 * RATE)] = 0.0  # a gap, then a second onset
    grid = Grid(bpm=60.0, period=0.35, phase=0.0)
    timed = flow_to_grid(tone, RATE, grid, CONFIG)
    spectrum = np.abs(np.fft.rfft(timed.samples * np.hanning(len(timed.samples))))
    peak = np.argmax(spectrum) * RATE / len(timed.samples)
    assert abs(peak - 440) < 5


def test_the_grid_follows_a_beat():
    """Clicks at 96 BPM starting at 0.2 s: librosa's tempo and the phase of the first beat."""
    period = 60 / 96
    beat = click_track(list(0.2 + period * np.arange(30)), 20.0, hz=120.0)
    grid = beat_grid(beat, RATE, CONFIG)
    assert abs(grid.bpm - 96) < 2
    assert np.max(grid.distance(0.2 + period * np.arange(30))) <= 0.02
    fixed = beat_grid(beat, RATE, FlowConfig(**{**CONFIG.__dict__, "bpm": 96.0}))
    assert fixed.bpm == 96.0 and abs(fixed.period - period / 2) < 1e-12


def test_without_a_beat_the_grid_needs_a_tempo():
    with pytest.raises(ValueError, match="generate.flow.bpm"):
        beat_grid(None, RATE, CONFIG)
    assert beat_grid(None, RATE, FlowConfig(**{**CONFIG.__dict__, "bpm": 120.0})).phase == 0.0


def test_the_same_input_gives_the_same_samples():
    times = [0.3, 0.62, 1.1, 1.45]
    grid = Grid(bpm=90.0, period=1 / 3, phase=0.0)
    a = flow_to_grid(click_track(times, 2.0), RATE, grid, CONFIG).samples
    b = flow_to_grid(click_track(times, 2.0), RATE, grid, CONFIG).samples
    assert a.tobytes() == b.tobytes()


def test_the_grid_keeps_the_pulse_of_a_syncopated_beat():
    """Boom-bap at 91 BPM: kicks on 1 and the "and" of 2, snares on 2 and 4, light hats on the
    eighths. The grid must keep the 91 BPM pulse to 0.1% (librosa's beat tracker follows the
    syncopated kick here) with its points on the beats."""
    beat_period, bars = 60 / 91, 12
    starts = np.arange(bars) * 4 * beat_period
    kicks = np.concatenate([starts, starts + 1.5 * beat_period])
    snares = np.concatenate([starts + beat_period, starts + 3 * beat_period])
    hats = (np.arange(bars * 8) * beat_period / 2)
    seconds = bars * 4 * beat_period + 0.5
    beat = click_track(list(kicks), seconds, hz=80.0) + click_track(list(snares), seconds, hz=400.0) \
        + 0.3 * click_track(list(hats), seconds, hz=4000.0)
    grid = beat_grid(beat, RATE, CONFIG)
    assert abs(grid.bpm / 91 - 1) < 0.001
    assert np.max(grid.distance(np.arange(bars * 4) * beat_period)) <= 0.015
