"""The flow's own cost on many utterances (pipeline/generation/flow_speech.py): each flow's CER and
beat alignment, the paired difference, intervals over speakers, and nothing without a grid."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import soundfile as sf

from pipeline.generation.flow import Grid, beat_alignment
from pipeline.generation.flow_speech import flow_speech, speech_sample
from tests.test_flow import CONFIG, RATE, click_track

GRID = Grid(bpm=90.0, period=60 / 90 / 2, phase=0.1)
OFF_GRID = [[0.21, 0.55, 0.83, 1.37, 1.62, 2.11], [0.3, 0.62, 1.0, 1.29, 1.71, 2.2], [0.25, 0.5, 0.93, 1.2, 1.8, 2.3]]


class HearsHello:
    """An ASR judge that hears HELLO in anything (so the CERs follow from the transcripts)."""

    def transcribe(self, waveform):
        return "HELLO"


def utterances(tmp_path) -> pd.DataFrame:
    rows = []
    for i, times in enumerate(OFF_GRID * 2):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, click_track(times, 2.8), RATE)
        rows.append({"utt_id": f"u{i}", "path": str(path), "transcript": "HELLO" if i % 2 else "HELLX",
                     "speaker": str(i % 3), "condition": "seen" if i % 3 else "unseen"})
    return pd.DataFrame(rows)


def generator():
    return SimpleNamespace(config=SimpleNamespace(flow=CONFIG), front_end=SimpleNamespace(sample_rate=RATE))


def test_each_flow_is_scored_and_the_difference_is_paired(tmp_path):
    table = utterances(tmp_path)
    metrics = flow_speech(table, generator(), HearsHello(), lambda i: GRID, ["none", "beat"], 200, seed=0)
    assert metrics["utterances"] == 6 and metrics["speakers"] == 3
    # the judge hears HELLO everywhere: one edit in the three HELLX transcripts, whatever the flow
    assert metrics["none"]["content_cer"] == metrics["beat"]["content_cer"] == 3 / 30
    assert metrics["beat_minus_none"]["content_cer"] == 0
    untouched = np.mean([beat_alignment(click_track(t, 2.8), RATE, GRID, CONFIG) for t in OFF_GRID * 2])
    assert abs(metrics["none"]["beat_alignment"] - untouched) < 1e-9 and untouched < 0.7
    assert metrics["beat"]["beat_alignment"] == 1.0  # snap 0: every click onto the grid
    assert abs(metrics["beat_minus_none"]["beat_alignment"] - (1.0 - untouched)) < 1e-9
    for part in ("none", "beat", "beat_minus_none"):
        for score, value in metrics[part].items():
            interval = metrics["ci95"][f"{part}.{score}"]
            assert interval["low"] - 1e-9 <= value <= interval["high"] + 1e-9, (part, score)
    assert metrics["ci95"]["none.beat_alignment"]["low"] < metrics["ci95"]["none.beat_alignment"]["high"]


def test_no_grid_means_nothing_to_align_to(tmp_path):
    assert flow_speech(utterances(tmp_path), generator(), HearsHello(), lambda i: None, ["none", "beat"], 10, 0) is None


def test_speech_sample_draws_a_seeded_subset_in_order():
    test = pd.DataFrame({"utt_id": [f"u{i:02d}" for i in range(20)]})
    assert len(speech_sample(test, None, 0)) == 20 and len(speech_sample(test, 50, 0)) == 20
    picked = speech_sample(test, 5, 3)
    assert len(picked) == 5 and list(picked["utt_id"]) == sorted(picked["utt_id"])
    assert picked.equals(speech_sample(test, 5, 3)) and not picked.equals(speech_sample(test, 5, 4))
