"""How good is a style embedding, in numbers, on tracks never seen in training.

- triplet_accuracy: share of held-out (anchor, positive, negative) triplets with the positive
  closer than the negative (anchor/positive: anchor-genre segments of different test tracks);
- hiphop_roc_auc: anchor genre vs the rest, scored by similarity to the anchor-genre centroid of
  the train split;
- knn_genre_accuracy: k-nearest-neighbour genre over all genres, train embeddings as the index;
- silhouette: by genre, on the test split;
- q: the learned bandwidth factor of the harmonic filters.
Distances are the training loss's (cosine or l2). Figures: a t-SNE map of the test split coloured
by genre with the anchor genre highlighted, and the kNN confusion matrix.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, roc_auc_score, silhouette_score  # noqa: E402
from sklearn.metrics.pairwise import paired_distances  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.preprocessing import normalize  # noqa: E402

from pipeline.config import StyleConfig  # noqa: E402
from pipeline.data.segments import read_clips, split_segments  # noqa: E402
from pipeline.data.triplets import TripletSampler  # noqa: E402
from pipeline.errors import UserError  # noqa: E402
from pipeline.fileio import atomic_path  # noqa: E402
from pipeline.losses import TripletLoss, triplet_scores  # noqa: E402
from pipeline.models.style_encoder import StyleEncoder, embed  # noqa: E402

SKLEARN_METRIC = {"cosine": "cosine", "l2": "euclidean"}


def centroid_scores(train_emb: np.ndarray, train_is_anchor: np.ndarray, test_emb: np.ndarray, distance: str) -> np.ndarray:
    """Similarity of each test embedding to the train anchor-genre centroid (higher = closer)."""
    members = train_emb[train_is_anchor]
    centroid = normalize(members).mean(0) if distance == "cosine" else members.mean(0)
    return -paired_distances(test_emb, np.broadcast_to(centroid, test_emb.shape), metric=SKLEARN_METRIC[distance])


def style_metrics(train_emb: np.ndarray, train_genres: np.ndarray, test_emb: np.ndarray, test_genres: np.ndarray,
                  test_triplets, *, distance: str, anchor_genre: str, knn_k: int) -> tuple[dict, np.ndarray]:
    """Metrics dict and the kNN genre predictions for the test split."""
    if len(set(test_genres)) < 2 or anchor_genre not in set(test_genres):
        raise UserError(f"the test split needs {anchor_genre!r} and at least one other genre")
    if knn_k < 1 or knn_k > len(train_emb):
        raise UserError(f"style.evaluation.knn_k must be in 1..{len(train_emb)}, got {knn_k}")
    metric = SKLEARN_METRIC[distance]
    knn = KNeighborsClassifier(n_neighbors=knn_k, metric=metric, algorithm="brute").fit(train_emb, train_genres)
    predicted = knn.predict(test_emb)
    is_anchor = test_genres == anchor_genre
    metrics = {
        "triplet_accuracy": triplet_scores(torch.from_numpy(test_emb), test_triplets, distance, 0.0)[0],
        "hiphop_roc_auc": float(roc_auc_score(is_anchor, centroid_scores(train_emb, train_genres == anchor_genre, test_emb, distance))),
        "knn_genre_accuracy": float(np.mean(predicted == test_genres)),
        "silhouette": float(silhouette_score(test_emb, test_genres, metric=metric)),
        "knn_accuracy_by_genre": {g: float(np.mean(predicted[test_genres == g] == g)) for g in sorted(set(test_genres))},
    }
    return metrics, predicted


def plot_tsne(embeddings: np.ndarray, genres: np.ndarray, anchor_genre: str, path: str | Path, perplexity: float,
              seed: int, distance: str) -> None:
    """2D t-SNE of the embeddings, one colour per genre, the anchor genre drawn large and outlined."""
    perplexity = min(float(perplexity), (len(embeddings) - 1) / 3)
    points = TSNE(n_components=2, perplexity=perplexity, metric=SKLEARN_METRIC[distance], init="pca",
                  random_state=seed).fit_transform(embeddings)
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab10")
    for i, genre in enumerate(sorted(set(genres))):
        sel = genres == genre
        anchor = genre == anchor_genre
        ax.scatter(points[sel, 0], points[sel, 1], s=60 if anchor else 14, color=cmap(i % 10), label=genre,
                   edgecolors="black" if anchor else "none", linewidths=1.2, zorder=3 if anchor else 2)
    ax.set_title(f"style embeddings, test split (t-SNE, {distance}); {anchor_genre} outlined")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, loc="best", markerscale=1.2)
    _save(fig, path)


def plot_confusion(true: np.ndarray, predicted: np.ndarray, path: str | Path, knn_k: int) -> None:
    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay.from_predictions(true, predicted, labels=sorted(set(true) | set(predicted)), ax=ax,
                                            cmap="Blues", colorbar=False, xticks_rotation=45)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    ax.set_title(f"{knn_k}-NN genre on the test split (train embeddings as index)")
    _save(fig, path)


def _save(fig, path: str | Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        # no metadata: the same figure gives the same bytes
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


@dataclass
class StyleEvaluation:
    """What `evaluate_style` measured: the metrics (rounded) and what the figures draw."""
    metrics: dict
    test_embeddings: np.ndarray
    test_genres: np.ndarray
    predicted: np.ndarray


def evaluate_style(model: StyleEncoder, clips_csv: str | Path, style: StyleConfig, seed: int) -> StyleEvaluation:
    """Embed the train and test splits of `clips_csv` with `model` (on its device; its own saved
    front end, nothing guessed from params) and score the test split against the train index."""
    clips = read_clips(clips_csv)
    train, test = (split_segments(clips, split, model.front_end) for split in ("train", "test"))
    for name, part in (("train", train), ("test", test)):
        if part is None:
            raise UserError(f"{clips_csv} has no {name} segments (a genre needs >= 3 tracks to have a test split)")
    evaluation, distance = style.evaluation, TripletLoss.from_params(style).distance
    train_emb = embed(model, train.spectrograms, evaluation.batch_size).numpy()
    test_emb = embed(model, test.spectrograms, evaluation.batch_size).numpy()
    sampler = TripletSampler(test.genres, test.tracks, style.anchor_genre, same_track_fallback=True)
    triplets = sampler.held_out(evaluation.triplets, np.random.default_rng(seed + 2))
    metrics, predicted = style_metrics(train_emb, train.genres, test_emb, test.genres, triplets, distance=distance,
                                       anchor_genre=style.anchor_genre, knn_k=evaluation.knn_k)
    metrics.update(q=model.q, test_segments=len(test), test_tracks=int(len(set(test.tracks))), distance=distance,
                   triplets_same_track=sampler.same_track)
    return StyleEvaluation(rounded(metrics), test_emb, test.genres, predicted)


def rounded(value):
    """Six decimals: stable bytes in a metrics file across platforms' last-bit differences."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(value, 6) if isinstance(value, float) else value
