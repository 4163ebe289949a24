"""Triplet training of the style encoder: segments, the triplet sampler, and one training loop.

Anchor and positive are segments of the anchor genre (hip-hop) from different tracks; negatives
are segments of the other genres, every genre equally likely. An epoch makes every training
segment of the anchor genre an anchor once, `batch_size` of them a step (plus `other_anchors`
triplets anchored on the other genres, which keep those genres apart too), each step one batched
forward of anchors + positives + negatives (the original fed one triplet at a time). Training
sees random time crops; validation embeds whole segments. The checkpoint kept is the epoch with
the best sum of the two valid triplet accuracies, hip-hop-anchored and every-genre-anchored
(ties: the lower hip-hop valid hinge, then the earlier epoch).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline.audio import FrontEnd, load_audio
from pipeline.devices import pick_device
from pipeline.errors import UserError
from pipeline.losses import TripletLoss, rowwise_distance
from pipeline.models.style_encoder import StyleEncoder, StyleEncoderConfig
from pipeline.seeding import seed_everything

CLIP_COLUMNS = ("clip_path", "genre", "track", "split")


@dataclass
class Segments:
    """Spectrograms of music segments with their labels.

    spectrograms: (N, n_freq, T) log1p |STFT| of whole segments; genres, tracks: (N,) str arrays.
    """

    spectrograms: torch.Tensor
    genres: np.ndarray
    tracks: np.ndarray

    def __len__(self) -> int:
        return len(self.genres)


def read_clips(path: str | Path = "data/clips.csv") -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: run `dvc repro cut_clips` first")
    frame = pd.read_csv(path, dtype={"clip_id": str, "track": str})
    missing = [c for c in CLIP_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks columns {missing}")
    return frame


def load_segments(frame: pd.DataFrame, front_end: FrontEnd, root: str | Path = ".", batch: int = 64) -> Segments:
    """Read every `clip_path` of `frame` (relative to `root`) and compute its spectrogram once.
    All segments must have the same length (cut_clips makes them so)."""
    if frame.empty:
        raise UserError("no segments to load (empty split?)")
    waves = [load_audio(Path(root) / p, front_end.sample_rate) for p in frame["clip_path"]]
    lengths = {len(w) for w in waves}
    if len(lengths) != 1:
        raise UserError(f"segments differ in length ({sorted(lengths)[:3]}... samples): re-run cut_clips")
    spectrogram = front_end.spectrogram()
    with torch.no_grad():
        specs = torch.cat([spectrogram(torch.from_numpy(np.stack(waves[i:i + batch]))) for i in range(0, len(waves), batch)])
    return Segments(specs, frame["genre"].astype(str).to_numpy(), frame["track"].astype(str).to_numpy())


class TripletSampler:
    """Draws triplet indices into one split's segments.

    Anchors are the anchor genre's segments (every one once per epoch) plus, optionally,
    `other_anchors` per batch from the other genres (genre-balanced), so the embedding also keeps
    the other genres apart (0: the original's hip-hop-only triplets). A positive shares its
    anchor's genre but never its track. An anchor's negatives are distinct genres other than its
    own, drawn from a fresh random order of those genres, so every genre is equally likely.
    """

    def __init__(self, genres: np.ndarray, tracks: np.ndarray, anchor_genre: str, same_track_fallback: bool = False):
        self.genres, self.tracks = np.asarray(genres), np.asarray(tracks)
        self.anchor_genre = anchor_genre
        self.all_genres = sorted(set(self.genres))
        self.by_genre = {g: np.flatnonzero(self.genres == g) for g in self.all_genres}
        anchors = self.by_genre.get(anchor_genre, np.empty(0, dtype=np.int64))
        n_tracks = len(set(self.tracks[anchors]))
        # Held-out splits of a tiny corpus may hold one anchor-genre track only: evaluation may then
        # pair two segments of that track (flagged by `same_track`). Training never does.
        self.same_track = n_tracks == 1 and same_track_fallback and len(anchors) >= 2
        if n_tracks < 2 and not self.same_track:
            raise UserError(f"need segments of {anchor_genre!r} from at least 2 tracks in a split, got {n_tracks}")
        if len(self.all_genres) < 2:
            raise UserError(f"need at least one genre besides {anchor_genre!r} in a split")
        self.anchors = anchors
        # other genres that can anchor a triplet: a positive needs a second track
        self.other_anchor_genres = [g for g in self.all_genres
                                    if g != anchor_genre and len(set(self.tracks[self.by_genre[g]])) >= 2]

    def epoch(self, batch_size: int, rng: np.random.Generator, other_anchors: int = 0) -> list[np.ndarray]:
        """Every anchor-genre segment once, shuffled, `batch_size` a batch (the last may be short),
        each batch followed by `other_anchors` segments of the other genres, genre-balanced."""
        order = rng.permutation(self.anchors)
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        if other_anchors <= 0 or not self.other_anchor_genres:
            return batches
        genres = self._genre_cycle(self.other_anchor_genres, other_anchors * len(batches), rng)
        others = np.array([rng.choice(self.by_genre[g]) for g in genres], dtype=np.int64).reshape(len(batches), other_anchors)
        return [np.concatenate([batch, extra]) for batch, extra in zip(batches, others)]

    def complete(self, anchors: np.ndarray, negatives_per_anchor: int, rng: np.random.Generator):
        """anchors (B,) -> positives (B,), negatives (B, K)."""
        positives = np.empty(len(anchors), dtype=np.int64)
        negatives = np.empty((len(anchors), negatives_per_anchor), dtype=np.int64)
        for i, a in enumerate(anchors):
            genre = self.genres[a]
            same_genre = self.by_genre[genre]
            candidates = same_genre[self.tracks[same_genre] != self.tracks[a]]
            if len(candidates) == 0 and self.same_track:
                candidates = same_genre[same_genre != a]
            positives[i] = rng.choice(candidates)
            other_genres = [g for g in self.all_genres if g != genre]
            for j, g in enumerate(self._genre_cycle(other_genres, negatives_per_anchor, rng)):
                negatives[i, j] = rng.choice(self.by_genre[g])
        return positives, negatives

    def held_out(self, n_triplets: int, rng: np.random.Generator, every_genre: bool = False):
        """A fixed evaluation set: anchors cycle over every anchor-genre segment (with
        `every_genre`, over the segments of every genre that has 2 tracks, genre after genre); one
        negative each. Returns anchors, positives, negatives, each (n_triplets,). Build the sampler
        with `same_track_fallback=True` to allow a split with a single anchor-genre track."""
        if every_genre:
            genres = self._genre_cycle([self.anchor_genre] + self.other_anchor_genres, n_triplets, rng)
            anchors = np.array([rng.choice(self.by_genre[g]) for g in genres], dtype=np.int64)
        else:
            anchors = np.resize(self.anchors, n_triplets)
        positives, negatives = self.complete(anchors, 1, rng)
        return anchors, positives, negatives[:, 0]

    @staticmethod
    def _genre_cycle(genres: list[str], n: int, rng: np.random.Generator) -> list[str]:
        """n genres from back-to-back random orders of `genres`: each appears n / len(genres) +-1 times."""
        rounds = math.ceil(n / len(genres))
        return [genres[i] for _ in range(rounds) for i in rng.permutation(len(genres))][:n]


def random_crops(spectrograms: torch.Tensor, indices: np.ndarray, frames: int, rng: np.random.Generator) -> torch.Tensor:
    """(N, F, T) -> (len(indices), F, frames), each from a random start; whole segments if frames >= T."""
    total = spectrograms.shape[-1]
    if frames >= total:
        return spectrograms[torch.from_numpy(indices)]
    starts = rng.integers(0, total - frames + 1, size=len(indices))
    return torch.stack([spectrograms[i, :, s:s + frames] for i, s in zip(indices, starts)])


@torch.no_grad()
def embed(model: StyleEncoder, spectrograms: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N, F, T) -> (N, D) in eval mode, on the CPU; batches run on the model's device."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([model(spectrograms[i:i + batch_size].to(device)).cpu()
                     for i in range(0, len(spectrograms), batch_size)])
    model.train(was_training)
    return out


def triplet_scores(embeddings: torch.Tensor, triplets, distance: str, margin: float) -> tuple[float, float]:
    """(accuracy: share with d(a, p) < d(a, n), mean hinge relu(d(a, p) - d(a, n) + margin))."""
    a, p, n = (embeddings[torch.from_numpy(t)] for t in triplets)
    d_ap = rowwise_distance(a, p[:, None], distance)[:, 0]
    d_an = rowwise_distance(a, n[:, None], distance)[:, 0]
    return float((d_ap < d_an).float().mean()), float(torch.relu(d_ap - d_an + margin).mean())


def _masks(genres: np.ndarray, tracks: np.ndarray, anchors, positives, negatives):
    """Over the pool cat(anchors, positives, negatives) of the loss: positive_ok (B, N) same genre,
    other track; negative_ok (B, N) other genre."""
    pool = np.concatenate([anchors, positives, negatives.reshape(-1)])
    same_genre = genres[anchors][:, None] == genres[pool][None, :]
    other_track = tracks[anchors][:, None] != tracks[pool][None, :]
    return torch.from_numpy(same_genre & other_track), torch.from_numpy(~same_genre)


def triplet_step(model: StyleEncoder, loss_fn: TripletLoss, train: Segments, sampler: TripletSampler,
                 anchors: np.ndarray, negatives_per_anchor: int, crop_frames: int, rng: np.random.Generator) -> torch.Tensor:
    """One batched forward: complete the anchors' triplets, crop, embed all B (2 + K) segments at
    once, return the loss (backward is the caller's)."""
    positives, negatives = sampler.complete(anchors, negatives_per_anchor, rng)
    indices = np.concatenate([anchors, positives, negatives.reshape(-1)])
    device = next(model.parameters()).device  # segments stay in host memory; only the crops move
    emb = model(random_crops(train.spectrograms, indices, crop_frames, rng).to(device))
    b = len(anchors)
    positive_ok, negative_ok = (m.to(device) for m in _masks(train.genres, train.tracks, anchors, positives, negatives))
    return loss_fn(emb[:b], emb[b:2 * b], emb[2 * b:].reshape(b, negatives_per_anchor, -1), positive_ok, negative_ok)


def train_style_encoder(train: Segments, valid: Segments | None, style: dict, front_end: FrontEnd, seed: int,
                        on_epoch=None) -> tuple[StyleEncoder, pd.DataFrame, int]:
    """Train from the `style` params section on `style.device`; returns the best-on-valid model (eval mode, on the CPU), the
    per-epoch curves and the epoch kept. With no valid split (`valid` None: a tiny corpus) the last epoch is kept and
    the valid columns are empty. `on_epoch(row: dict)` is called after each epoch (MLflow logging)."""
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    loss_fn = TripletLoss.from_params(style)
    device = pick_device(style["device"], "style.device")
    model = StyleEncoder(StyleEncoderConfig.from_params(style), front_end).to(device)
    train_sampler = TripletSampler(train.genres, train.tracks, style["anchor_genre"])
    if valid is not None:
        valid_sampler = TripletSampler(valid.genres, valid.tracks, style["anchor_genre"], same_track_fallback=True)
        n_valid = int(style["evaluation"]["triplets"])
        valid_triplets = valid_sampler.held_out(n_valid, np.random.default_rng(seed + 1))
        valid_genre_triplets = valid_sampler.held_out(n_valid, np.random.default_rng(seed + 1), every_genre=True)
    epochs, batch_size, k = int(style["epochs"]), int(style["batch_size"]), int(style["negatives_per_anchor"])
    if epochs < 1 or batch_size < 1 or k < 1:
        raise UserError("style.epochs, style.batch_size and style.negatives_per_anchor must be >= 1")

    # Q is a physical bandwidth factor, and BN / biases are offsets: no weight decay on them.
    decayed = [p for p in model.parameters() if p.ndim > 1]
    plain = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": float(style["weight_decay"])},
                                   {"params": plain, "weight_decay": 0.0}], lr=float(style["lr"]))
    steps = epochs * len(train_sampler.epoch(batch_size, np.random.default_rng(0)))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=float(style["lr"]), total_steps=steps,
                                                   pct_start=float(style["warmup_fraction"]))
    rows, best, best_state, best_epoch = [], None, None, None
    for epoch in range(1, epochs + 1):
        model.train()
        losses = []
        for anchors in train_sampler.epoch(batch_size, rng, int(style["other_anchors"])):
            loss = triplet_step(model, loss_fn, train, train_sampler, anchors, k, int(style["crop_frames"]), rng)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        accuracy = hinge = genre_accuracy = float("nan")
        if valid is not None:
            valid_emb = embed(model, valid.spectrograms, int(style["evaluation"]["batch_size"]))
            accuracy, hinge = triplet_scores(valid_emb, valid_triplets, loss_fn.distance, loss_fn.margin)
            genre_accuracy, _ = triplet_scores(valid_emb, valid_genre_triplets, loss_fn.distance, loss_fn.margin)
        row = {"epoch": epoch, "train_loss": round(float(np.mean(losses)), 6), "valid_triplet_accuracy": round(accuracy, 6),
               "valid_genre_triplet_accuracy": round(genre_accuracy, 6), "valid_loss": round(hinge, 6),
               "q": round(model.q, 6)}
        rows.append(row)
        if on_epoch:
            on_epoch(row)
        score = (round(accuracy + genre_accuracy, 6), -hinge)
        if valid is None or best is None or score > best:
            best, best_state, best_epoch = score, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    return model.cpu().eval(), pd.DataFrame(rows), best_epoch
