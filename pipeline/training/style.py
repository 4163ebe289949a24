"""Triplet training of the style encoder: one batched step and one training loop.

An epoch makes every training segment of the anchor genre (hip-hop) an anchor once, `batch_size`
of them a step (plus `other_anchors` triplets anchored on the other genres, which keep those
genres apart too), each step one batched forward of anchors + positives + negatives (the original
fed one triplet at a time); `pipeline.data.triplets` draws them. Training sees random time crops;
validation embeds whole segments. The checkpoint kept is the epoch with the best sum of the two
valid triplet accuracies, hip-hop-anchored and every-genre-anchored (ties: the lower hip-hop valid
hinge, then the earlier epoch).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from pipeline.audio import FrontEnd
from pipeline.config import DistributedConfig, StyleConfig
from pipeline.data.segments import Segments, random_crops
from pipeline.data.triplets import TripletSampler
from pipeline.devices import pick_device
from pipeline.distributed import DataParallel
from pipeline.losses import TripletLoss, triplet_scores
from pipeline.models.style_encoder import StyleEncoder, embed
from pipeline.seeding import seed_everything
from pipeline.training.optim import adamw, one_cycle


def _masks(genres: np.ndarray, tracks: np.ndarray, anchors, positives, negatives):
    """Over the pool cat(anchors, positives, negatives) of the loss: positive_ok (B, N) same genre,
    other track; negative_ok (B, N) other genre."""
    pool = np.concatenate([anchors, positives, negatives.reshape(-1)])
    same_genre = genres[anchors][:, None] == genres[pool][None, :]
    other_track = tracks[anchors][:, None] != tracks[pool][None, :]
    return torch.from_numpy(same_genre & other_track), torch.from_numpy(~same_genre)


def triplet_step(model: StyleEncoder, loss_fn: TripletLoss, train: Segments, sampler: TripletSampler,
                 anchors: np.ndarray, negatives_per_anchor: int, crop_frames: int, rng: np.random.Generator,
                 part: np.ndarray | None = None) -> torch.Tensor:
    """One batched forward: complete the anchors' triplets, crop, embed all B (2 + K) segments at
    once, return the loss (backward is the caller's). `part` (data-parallel ranks): positions of
    the triplets this rank embeds; the whole batch is still drawn and cropped, so `rng` moves
    alike on every rank, and the loss mines within this rank's triplets only."""
    positives, negatives = sampler.complete(anchors, negatives_per_anchor, rng)
    indices = np.concatenate([anchors, positives, negatives.reshape(-1)])
    device = next(model.parameters()).device  # segments stay in host memory; only the crops move
    crops = random_crops(train.spectrograms, indices, crop_frames, rng)
    if part is not None:
        k, b = negatives_per_anchor, len(anchors)
        rows = np.concatenate([part, b + part, 2 * b + (part[:, None] * k + np.arange(k)).reshape(-1)])
        crops, anchors, positives, negatives = crops[torch.from_numpy(rows)], anchors[part], positives[part], negatives[part]
    emb = model(crops.to(device))
    b = len(anchors)
    positive_ok, negative_ok = (m.to(device) for m in _masks(train.genres, train.tracks, anchors, positives, negatives))
    return loss_fn(emb[:b], emb[b:2 * b], emb[2 * b:].reshape(b, negatives_per_anchor, -1), positive_ok, negative_ok)


def train_style_encoder(train: Segments, valid: Segments | None, style: StyleConfig, front_end: FrontEnd, seed: int,
                        on_epoch=None, distributed: DistributedConfig | None = None) -> tuple[StyleEncoder, list[dict], int]:
    """Train from the `style` params section on `style.device`. Returns the best-on-valid model
    (eval mode, on the CPU), one curve row per epoch and the epoch kept. With no valid split
    (`valid` None: a tiny corpus) the last epoch is kept and the valid columns are NaN.
    `on_epoch(row: dict)` is called after each epoch (MLflow logging). `distributed` (under
    torchrun): every rank draws the same batches and triplets, embeds its slice of the triplets
    inside DDP (batch-hard mining within the slice, so not the single-process loss), and scores
    valid on the same synchronised weights; train_loss is the ranks' mean."""
    parallel = DataParallel(distributed, pick_device(style.device, "style.device"))
    device = parallel.device
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    loss_fn = TripletLoss.from_params(style)
    model = StyleEncoder.from_params(style, front_end).to(device)
    trained = parallel.wrap(model)  # `model` itself in a plain run
    train_sampler = TripletSampler(train.genres, train.tracks, style.anchor_genre)
    if valid is not None:
        valid_sampler = TripletSampler(valid.genres, valid.tracks, style.anchor_genre, same_track_fallback=True)
        n_valid = style.evaluation.triplets
        valid_triplets = valid_sampler.held_out(n_valid, np.random.default_rng(seed + 1))
        valid_genre_triplets = valid_sampler.held_out(n_valid, np.random.default_rng(seed + 1), every_genre=True)
    optimizer = adamw(model, style.lr, style.weight_decay)
    steps = style.epochs * len(train_sampler.epoch(style.batch_size, np.random.default_rng(0)))
    schedule = one_cycle(optimizer, style.lr, steps, style.warmup_fraction, style.final_lr_fraction,
                         style.cycle_momentum)
    rows, best, best_state, best_epoch = [], None, None, None
    for epoch in range(1, style.epochs + 1):
        trained.train()
        losses = []
        for anchors in train_sampler.epoch(style.batch_size, rng, style.other_anchors):
            part = parallel.shard([np.arange(len(anchors))]) if parallel.active else None
            if part is not None and not part:
                continue  # fewer triplets than ranks: DataParallel.shard drops such a batch on every rank
            loss = triplet_step(trained, loss_fn, train, train_sampler, anchors, style.negatives_per_anchor,
                                style.crop_frames, rng, part[0] if part else None)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        accuracy = hinge = genre_accuracy = float("nan")
        if valid is not None:
            valid_emb = embed(model, valid.spectrograms, style.evaluation.batch_size)
            accuracy, hinge = triplet_scores(valid_emb, valid_triplets, loss_fn.distance, loss_fn.margin)
            genre_accuracy, _ = triplet_scores(valid_emb, valid_genre_triplets, loss_fn.distance, loss_fn.margin)
        row = {"epoch": epoch, "train_loss": round(parallel.mean(float(np.mean(losses))), 6), "valid_triplet_accuracy": round(accuracy, 6),
               "valid_genre_triplet_accuracy": round(genre_accuracy, 6), "valid_loss": round(hinge, 6),
               "q": round(model.q, 6)}
        rows.append(row)
        if on_epoch:
            on_epoch(row)
        score = (round(accuracy + genre_accuracy, 6), -hinge)
        if valid is None or best is None or score > best:
            best, best_state, best_epoch = score, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    return model.cpu().eval(), rows, best_epoch
