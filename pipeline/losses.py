"""Triplet losses for the style encoder, batched.

A batch is B anchors, B positives (the same genre as their anchor, another track) and K negatives
per anchor. Distances: `cosine` is 1 - cos(a, x), so the hinge relu(d(a, p) - d(a, n) + margin)
is the original's relu(cos(a, n) - cos(a, p) + margin); `l2` is the Euclidean distance, the
original's relu(|a - p| - |a - n| + margin).

Mining (which positive and negative each anchor is judged by):
- `max_negatives`: the original's. The anchor's own positive; hinge for each of its own K
  negatives, then the max over them.
- `batch_hard`: the farthest valid positive and the closest valid negative in the whole batch
  (Hermans et al. 2017).
- `semi_hard`: the anchor's own positive and, from the whole batch, the closest negative that is
  still farther than that positive; when none is, the farthest negative (as FaceNet / TF Addons).
Batch mining looks at every embedding of the batch (anchors, positives and negatives alike);
validity masks say which may pair with which anchor (positive: same genre, other track;
negative: other genre). By default only the anchor's own positive, and every negative slot.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pipeline.config import StyleConfig

DISTANCES = ("cosine", "l2")
MININGS = ("max_negatives", "batch_hard", "semi_hard")


def pairwise_distance(x: torch.Tensor, y: torch.Tensor, distance: str) -> torch.Tensor:
    """(N, D), (M, D) -> (N, M)."""
    if distance == "cosine":
        x = torch.nn.functional.normalize(x, dim=-1)
        y = torch.nn.functional.normalize(y, dim=-1)
        return 1.0 - x @ y.T
    if distance == "l2":
        # the epsilon keeps the gradient finite when two embeddings coincide
        return ((x[:, None, :] - y[None, :, :]).pow(2).sum(-1) + 1e-12).sqrt()
    raise ValueError(f"style.loss must be one of {list(DISTANCES)}, got {distance!r}")


def rowwise_distance(x: torch.Tensor, y: torch.Tensor, distance: str) -> torch.Tensor:
    """(B, D), (B, K, D) -> (B, K): each row of x to its own K rows of y."""
    if distance == "cosine":
        x = torch.nn.functional.normalize(x, dim=-1)
        y = torch.nn.functional.normalize(y, dim=-1)
        return 1.0 - (x[:, None, :] * y).sum(-1)
    if distance == "l2":
        return ((x[:, None, :] - y).pow(2).sum(-1) + 1e-12).sqrt()
    raise ValueError(f"style.loss must be one of {list(DISTANCES)}, got {distance!r}")


def triplet_scores(embeddings: torch.Tensor, triplets: tuple[np.ndarray, np.ndarray, np.ndarray], distance: str,
                   margin: float) -> tuple[float, float]:
    """Held-out triplets (anchor, positive, negative index arrays into `embeddings` (N, D)) ->
    (accuracy: share with d(a, p) < d(a, n), mean hinge relu(d(a, p) - d(a, n) + margin))."""
    a, p, n = (embeddings[torch.from_numpy(t)] for t in triplets)
    d_ap = rowwise_distance(a, p[:, None], distance)[:, 0]
    d_an = rowwise_distance(a, n[:, None], distance)[:, 0]
    return float((d_ap < d_an).float().mean()), float(torch.relu(d_ap - d_an + margin).mean())


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor, *, distance: str,
                 margin: float, mining: str, positive_ok: torch.Tensor | None = None,
                 negative_ok: torch.Tensor | None = None) -> torch.Tensor:
    """Mean hinge over anchors.

    anchor, positive: (B, D); negatives: (B, K, D), row i holds anchor i's own negatives.
    Batch mining draws from the pool cat(anchor, positive, negatives.reshape(B * K, D)) of
    N = 2B + BK embeddings; positive_ok / negative_ok (B, N) bool say which pool members may serve
    anchor i as positive / negative. Defaults: its own positive; every negative slot.
    Returns a scalar.
    """
    if mining not in MININGS:
        raise ValueError(f"style.mining must be one of {list(MININGS)}, got {mining!r}")
    batch, k, dim = negatives.shape
    own_positive = rowwise_distance(anchor, positive[:, None, :], distance)[:, 0]  # (B,)
    if mining == "max_negatives":
        own_negatives = rowwise_distance(anchor, negatives, distance)  # (B, K)
        return torch.relu(own_positive[:, None] - own_negatives + margin).amax(dim=1).mean()

    pool = torch.cat([anchor, positive, negatives.reshape(batch * k, dim)])
    to_pool = pairwise_distance(anchor, pool, distance)  # (B, N)
    if negative_ok is None:
        negative_ok = torch.zeros_like(to_pool, dtype=torch.bool)
        negative_ok[:, 2 * batch:] = True
    if not bool(negative_ok.any(dim=1).all()):
        raise ValueError("triplet_loss: an anchor has no valid negative in the batch")
    if mining == "batch_hard":
        if positive_ok is None:
            positive_ok = torch.zeros_like(to_pool, dtype=torch.bool)
            positive_ok[:, batch:2 * batch] = torch.eye(batch, dtype=torch.bool, device=anchor.device)
        hardest_positive = to_pool.masked_fill(~positive_ok, float("-inf")).amax(dim=1)
        hardest_negative = to_pool.masked_fill(~negative_ok, float("inf")).amin(dim=1)
        return torch.relu(hardest_positive - hardest_negative + margin).mean()

    # semi_hard: the closest negative beyond the positive, else the farthest one
    farther = negative_ok & (to_pool > own_positive[:, None].detach())
    closest_farther = to_pool.masked_fill(~farther, float("inf")).amin(dim=1)
    farthest = to_pool.masked_fill(~negative_ok, float("-inf")).amax(dim=1)
    chosen = torch.where(farther.any(dim=1), closest_farther, farthest)
    return torch.relu(own_positive - chosen + margin).mean()


@dataclass(frozen=True)
class TripletLoss:
    """The loss as params choose it: `TripletLoss.from_params(params.style)` reads
    `style.loss` (the distance), `style.margin` and `style.mining`."""

    distance: str = "cosine"
    margin: float = 0.5
    mining: str = "max_negatives"

    def __post_init__(self):
        if self.distance not in DISTANCES:
            raise ValueError(f"style.loss must be one of {list(DISTANCES)}, got {self.distance!r}")
        if self.mining not in MININGS:
            raise ValueError(f"style.mining must be one of {list(MININGS)}, got {self.mining!r}")
        if not (isinstance(self.margin, (int, float)) and self.margin >= 0):
            raise ValueError(f"style.margin must be a number >= 0, got {self.margin!r}")

    @classmethod
    def from_params(cls, style: StyleConfig) -> "TripletLoss":
        return cls(distance=style.loss, margin=style.margin, mining=style.mining)

    def __call__(self, anchor, positive, negatives, positive_ok=None, negative_ok=None) -> torch.Tensor:
        return triplet_loss(anchor, positive, negatives, distance=self.distance, margin=self.margin,
                            mining=self.mining, positive_ok=positive_ok, negative_ok=negative_ok)
