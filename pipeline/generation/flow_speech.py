"""The flow's own cost, measured on many utterances (`metrics/generation.json: flow_speech`):
every test utterance re-timed by each flow, with no optimisation after, then the ASR judge's CER
on it and the share of its onsets on the beat grid. `generate` converts a few clips, where one clip
moves a mean by hundredths; the flow itself is cheap (~20 ms an utterance), so what `flow: beat`
costs the words and gains in alignment is measured here on the whole test split, with 95%
intervals over speakers, the differences paired (the same utterances, the same draws).

    utterances = speech_sample(labelled_test_split(speech), generate.flow.speech_utterances, seed)
    flow_speech(utterances, generator, judges, Grids(generator), ["none", "beat"], 1000, seed)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.audio import load_audio
from pipeline.evaluation.bootstrap import track_bootstrap, weighted_mean
from pipeline.evaluation.generation import char_edits, pooled_cer
from pipeline.generation.flow import beat_alignment, flow_to_grid


def speech_sample(test: pd.DataFrame, count: int | None, seed: int) -> pd.DataFrame:
    """All of `test`, or `count` of its rows drawn with `seed`, in their order."""
    if count is None or count >= len(test):
        return test.reset_index(drop=True)
    return test.iloc[np.sort(np.random.default_rng(seed).choice(len(test), count, replace=False))].reset_index(drop=True)


def flow_speech(utterances: pd.DataFrame, generator, judges, grids, flows: list[str], resamples: int,
                seed: int) -> dict | None:
    """{"utterances", "speakers", <flow>: {"content_cer", "beat_alignment"}, "beat_minus_none": the
    same as differences (when both flows are asked for), "ci95": {"<flow>.<score>": {"low", "high"}}}.
    Utterance i gets the grid `grids(i)` (the beat `generate` lays under clip i). None when there
    is no grid (no beats and no `generate.flow.bpm`): there is nothing to align to."""
    config, rate = generator.config.flow, generator.front_end.sample_rate
    if len(utterances) == 0 or grids(0) is None:
        return None
    edits = {flow: [] for flow in flows}
    on_grid = {flow: [] for flow in flows}
    for i, row in enumerate(utterances.itertuples()):
        speech, grid = load_audio(row.path, rate), grids(i)
        for flow in flows:
            timed = flow_to_grid(speech, rate, grid, config).samples if flow == "beat" else speech
            edits[flow].append(char_edits(row.transcript, judges.transcribe(timed)))
            on_grid[flow].append(beat_alignment(timed, rate, grid, config))
    characters = np.array([len(t) for t in utterances["transcript"]])
    statistics = {}
    for flow in flows:
        statistics[f"{flow}.content_cer"] = pooled_cer(np.array(edits[flow]), characters)
        statistics[f"{flow}.beat_alignment"] = weighted_mean(np.array(on_grid[flow]))
    if {"none", "beat"} <= set(flows):
        for score in ("content_cer", "beat_alignment"):
            beat, none = statistics[f"beat.{score}"], statistics[f"none.{score}"]
            statistics[f"beat_minus_none.{score}"] = lambda w, beat=beat, none=none: beat(w) - none(w)
    ones = np.ones(len(utterances))
    metrics: dict = {"utterances": len(utterances), "speakers": int(utterances["speaker"].nunique())}
    for name, statistic in statistics.items():
        part, score = name.split(".")
        metrics.setdefault(part, {})[score] = statistic(ones)
    metrics["ci95"] = track_bootstrap(utterances["speaker"].to_numpy(), utterances["condition"].to_numpy(),
                                      statistics, resamples, seed)
    return metrics
