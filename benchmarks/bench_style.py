"""Style encoder speed: batched triplet training vs the original's batch-size-1 loop, and one
forward + backward through the encoder (what each generation step pays).

Both loops train the same model (params.yaml `style`) on the same synthetic spectrograms with the
same sampler; throughput counts segments embedded per second (forward + backward + step).
- ours: `triplet_step` as the training loop runs it (batch_size + other_anchors anchors, K
  negatives each, random crops of crop_frames);
- original: one triplet a step (1 anchor, 1 positive, 4 negatives, max-over-negatives hinge), each
  segment its own forward of the whole 10 s segment, as the original notebook;
- batch-1 on crops: the original loop on our crops, to show what batching alone buys.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from pipeline.audio import FrontEnd
from pipeline.config import Params, load_params
from pipeline.data.segments import Segments, random_crops
from pipeline.data.triplets import TripletSampler
from pipeline.losses import TripletLoss
from pipeline.models.style_encoder import StyleEncoder
from pipeline.training.optim import adamw
from pipeline.training.style import triplet_step

SEGMENT_FRAMES = 1001  # 10 s at hop 160, 16 kHz
TARGET_SPEEDUP = 10.0


def _segments(front_end: FrontEnd, names: list[str], per_genre: int = 6) -> Segments:
    gen = torch.Generator().manual_seed(0)
    n = per_genre * len(names)
    specs = torch.log1p(torch.rand(n, front_end.n_freq, SEGMENT_FRAMES, generator=gen) * 5)
    genres = np.repeat(names, per_genre)
    tracks = np.array([f"{g}-{i % 3}" for g, i in zip(genres, range(n))])
    return Segments(specs, genres, tracks)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _throughput(step, device: torch.device, seconds: float = 8.0, warmup: int = 2) -> float:
    """Segments per second of `step() -> segments done`, over at least `seconds`."""
    for _ in range(warmup):
        step()
    _sync(device)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += step()
    _sync(device)
    return done / (time.perf_counter() - start)


def measure(params: Params, device: torch.device) -> dict[str, float]:
    """The three training loops and one generation-style gradient, on `device`."""
    style, front_end = params.style, params.audio
    data = _segments(front_end, list(params.subset.genres))
    sampler = TripletSampler(data.genres, data.tracks, style.anchor_genre)
    rng = np.random.default_rng(0)
    model = StyleEncoder.from_params(style, front_end).to(device).train()
    optimizer = adamw(model, 1e-4, style.weight_decay)
    loss_fn = TripletLoss.from_params(style)
    k, crop = style.negatives_per_anchor, style.crop_frames
    n_anchors = style.batch_size + style.other_anchors

    def batched() -> int:
        anchors = rng.choice(sampler.anchors, n_anchors)  # anchor genre only: same cost per segment
        loss = triplet_step(model, loss_fn, data, sampler, anchors, k, crop, rng)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return n_anchors * (2 + k)

    original_loss = TripletLoss(loss_fn.distance, loss_fn.margin, "max_negatives")

    def one_at_a_time(frames: int):
        def step() -> int:
            anchor = rng.choice(sampler.anchors, 1)
            positive, negatives = sampler.complete(anchor, 4, rng)
            indices = np.concatenate([anchor, positive, negatives[0]])
            emb = torch.cat([model(random_crops(data.spectrograms, indices[i:i + 1], frames, rng).to(device))
                             for i in range(6)])
            loss = original_loss(emb[:1], emb[1:2], emb[None, 2:])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return 6
        return step

    ours = _throughput(batched, device)
    original = _throughput(one_at_a_time(SEGMENT_FRAMES), device)
    batch1_crops = _throughput(one_at_a_time(crop), device)

    # One generation step: gradient of the embedding w.r.t. a 10 s spectrogram, frozen encoder.
    model.eval()
    spec = data.spectrograms[:1].to(device).requires_grad_(True)
    times = []
    for _ in range(6):
        _sync(device)
        start = time.perf_counter()
        model(spec).sum().backward()
        _sync(device)
        times.append(time.perf_counter() - start)
    return {"ours": ours, "original": original, "batch1_crops": batch1_crops, "step_s": float(np.median(times[1:]))}


def run() -> list[dict]:
    """CPU rows always; CUDA rows when a GPU is present. The 10x target is judged on the GPU: on
    the 2-core CPU the slim CNN is compute-bound, a frame costs about the same at batch 1 as in a
    batch, so batching cannot buy 10x there (README, "Style encoder speed")."""
    params = load_params()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        m, tag = measure(params, device), f" [{device.type}]"
        speedup = m["ours"] / m["original"]
        on_gpu = device.type == "cuda"
        rows += [
            {"benchmark": "style train, batched (ours)" + tag, "value": m["ours"], "unit": "segments/s", "target": "", "ok": None},
            {"benchmark": "style train, batch 1, 10 s (original)" + tag, "value": m["original"], "unit": "segments/s",
             "target": "", "ok": None},
            {"benchmark": "style train, batch 1, our crops" + tag, "value": m["batch1_crops"], "unit": "segments/s",
             "target": "", "ok": None},
            {"benchmark": "style train speed-up vs original" + tag, "value": speedup, "unit": "x",
             "target": f">= {TARGET_SPEEDUP:g}x" if on_gpu else "(judged on GPU)",
             "ok": speedup >= TARGET_SPEEDUP if on_gpu else None},
            {"benchmark": "style encoder fwd+bwd, one 10 s spectrogram" + tag, "value": m["step_s"], "unit": "s",
             "target": "", "ok": None},
        ]
    if len(devices) == 1:
        rows.append({"benchmark": "style train speed-up vs original [cuda]", "value": "no CUDA device", "unit": "",
                     "target": f">= {TARGET_SPEEDUP:g}x", "ok": None})
    return rows
