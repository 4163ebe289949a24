"""Content encoder speed: training throughput (utterance-seconds per wall second) and the
encoder forward + backward-to-the-input for one 10 s clip (what generation pays per step)."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch

from pipeline.config import Params, load_params
from pipeline.models.content_encoder import ContentEncoder, freeze, input_gradient_mode
from pipeline.training.optim import adamw

TRAIN_BUDGET_S = 200   # of the stage's 4 minutes; the rest loads audio and scores dev / test
UTTERANCE_S = 3.1      # mean embedded utterance length (measured), for the synthetic batches


def train_audio_seconds(params: Params) -> float:
    """Train audio of the current corpus: from data/speech.csv when built, else estimated."""
    if Path("data/speech.csv").is_file():
        speech = pd.read_csv("data/speech.csv")
        return float(speech.loc[speech["split"] == "train", "seconds"].sum())
    cfg = params.data.embedded_speech
    return cfg.utterances * (1 - cfg.dev_fraction - cfg.test_fraction) * UTTERANCE_S


def timed(function, repeats: int) -> float:
    function()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


def run() -> list[dict]:
    params = load_params()
    cfg = params.content
    front_end = params.audio
    model = ContentEncoder(front_end, cfg.model)
    optimizer = adamw(model, 1e-4, cfg.train.weight_decay, fused=True)  # the training's optimiser; a small lr keeps it stable
    ctc = torch.nn.CTCLoss(zero_infinity=True)

    batch_size = cfg.train.batch_size
    frames = front_end.n_frames(int(UTTERANCE_S * front_end.sample_rate))
    specs = torch.rand(batch_size, front_end.n_freq, frames) * 3
    lengths = torch.full((batch_size,), frames)
    targets = torch.randint(1, 29, (batch_size * 45,))  # ~45 characters per utterance
    target_lengths = torch.full((batch_size,), 45)

    def train_step():
        log_probs, out_lengths = model(specs, lengths)
        loss = ctc(log_probs, targets, out_lengths, target_lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    model.train()
    throughput = batch_size * UTTERANCE_S / timed(train_step, 3)
    needed = cfg.train.epochs * train_audio_seconds(params) / TRAIN_BUDGET_S

    encoder = freeze(ContentEncoder(front_end, cfg.model))
    clip = torch.rand(1, front_end.n_freq, front_end.n_frames(10 * front_end.sample_rate)) * 3

    def generation_step():
        spectrogram = clip.clone().requires_grad_(True)
        with input_gradient_mode():
            sum(f.pow(2).mean() for f in encoder.content_features(spectrogram)).backward()

    step_s = timed(generation_step, 5)
    return [
        {"benchmark": "content: training throughput", "value": round(throughput, 2), "unit": "utt-s / s",
         "target": f">= {needed:.1f} ({cfg.train.epochs} epochs in {TRAIN_BUDGET_S} s)", "ok": throughput >= needed},
        {"benchmark": "content: encoder fwd+bwd to the input, 10 s clip", "value": round(step_s, 4), "unit": "s",
         "target": "", "ok": None},
    ]
