"""Bootstrap intervals over tracks: segments of one track are not independent, so a test split
of 30 tracks is resampled track by track (a cluster bootstrap), within each genre (stratified, so
every resample keeps the anchor genre and the class balance that ROC-AUC needs).

A statistic takes per-segment weights (how often each segment was drawn) and returns a number:
sklearn's scores take them as `sample_weight`, a mean takes them as weights.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Statistic = Callable[[np.ndarray], float]


def track_bootstrap(tracks: np.ndarray, strata: np.ndarray, statistics: dict[str, Statistic], resamples: int,
                    seed: int, level: float = 0.95) -> dict[str, dict[str, float]]:
    """{name: {"low", "high"}}: percentile intervals of each statistic over `resamples` draws of
    whole tracks with replacement within each stratum (e.g. genre). `tracks`, `strata`: (N,) per
    segment. With fewer than 2 tracks in every stratum there is nothing to resample: the interval
    is the point value."""
    tracks, strata = np.asarray(tracks), np.asarray(strata)
    segments_of = {t: np.flatnonzero(tracks == t) for t in np.unique(tracks)}
    stratum_tracks = [np.unique(tracks[strata == s]) for s in np.unique(strata)]
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in statistics}
    for _ in range(resamples):
        weights = np.zeros(len(tracks))
        for members in stratum_tracks:
            for track in rng.choice(members, size=len(members), replace=True):
                weights[segments_of[track]] += 1
        for name, statistic in statistics.items():
            draws[name].append(statistic(weights))
    tail = (1 - level) / 2 * 100
    intervals = {}
    for name, values in draws.items():
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [tail, 100 - tail]) if len(values) else (np.nan, np.nan)
        intervals[name] = {"low": float(low), "high": float(high)}
    return intervals


def weighted_mean(values: np.ndarray) -> Statistic:
    """The statistic 'share of segments with `values` true' (or their mean)."""
    values = np.asarray(values, dtype=float)
    return lambda weights: float(np.average(values, weights=weights)) if weights.sum() else np.nan
