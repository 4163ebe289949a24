"""The content / style trade-off (stage `tradeoff`): the method at every style weight x flow of
`params.yaml: tradeoff` on a few held-out utterances, the rest as `generate.method`, scored by
the same judges as `generate` on 16-bit audio (as the stage's WAVs are read back): one row a
point of the curve (`metrics/tradeoff.csv`, drawn by `dvc plots show` and the report)."""
from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from pipeline.audio import load_audio
from pipeline.config import GenerationMethodConfig, TradeoffConfig
from pipeline.evaluation.generation import frechet_distance, pooled_cer, score_clips
from pipeline.generation.generator import Generator, default_beat
from pipeline.generation.heldout import Grids, Reference, alignment, mean_of, style_embeddings

COLUMNS = ("style_weight", "flow", "content_cer", "hiphop_probability", "style_distance", "beat_alignment")


def as_16_bit(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """What a 16-bit WAV of `samples` reads back as."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    buffer.seek(0)
    return sf.read(buffer, dtype="float32")[0]


def sweep(utterances: pd.DataFrame, generator: Generator, judges, reference: Reference,
          method: GenerationMethodConfig, tradeoff: TradeoffConfig, seed: int, progress: bool = False) -> pd.DataFrame:
    """One row of `COLUMNS` per flow x style weight (in that order): the pooled CER over the
    utterances, their mean p(hip-hop), the style distance to the hip-hop test segments and the
    words' beat alignment (see `pipeline.generation.heldout`). Clip i gets seed + i and the
    i-th default beat, as in `generate`."""
    rate = generator.front_end.sample_rate
    speech = [load_audio(path, rate) for path in utterances["path"]]
    transcripts, grids = list(utterances["transcript"]), Grids(generator)
    points = [(flow, weight) for flow in tradeoff.flows for weight in tradeoff.style_weights]
    rows = []
    for flow, weight in tqdm(points, desc="tradeoff", unit="point", disable=not progress):
        point = dataclasses.replace(method, style_weight=weight, flow=flow)
        outputs, aligned = [], []
        for i, samples in enumerate(speech):
            grid = grids(i)
            result = generator.generate(samples, point, seed + i, beat=default_beat(generator.targets, i), grid=grid)
            outputs.append(as_16_bit(result.waveform, rate))
            aligned.append(alignment(result.speech, grid, generator))
        scores = score_clips(judges, outputs, transcripts, rate)
        rows.append({"style_weight": weight, "flow": flow,
                     "content_cer": pooled_cer(scores.edits, scores.characters)(np.ones(len(outputs))),
                     "hiphop_probability": float(scores.hiphop.mean()),
                     "style_distance": frechet_distance(style_embeddings(generator, outputs), reference.embeddings),
                     "beat_alignment": mean_of(aligned)})
    return pd.DataFrame(rows, columns=list(COLUMNS))
