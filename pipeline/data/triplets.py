"""Triplets for the style encoder: which segments serve as anchor, positive and negatives.

Anchor and positive are segments of one genre from different tracks; negatives are segments of
other genres, every genre equally likely. Training draws fresh triplets every epoch; evaluation
draws one fixed held-out set.
"""
from __future__ import annotations

import math

import numpy as np

from pipeline.errors import UserError


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
