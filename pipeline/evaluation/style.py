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

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402
from sklearn.metrics import confusion_matrix, roc_auc_score, silhouette_score  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402

from pipeline.errors import UserError  # noqa: E402
from pipeline.fileio import atomic_path  # noqa: E402

SKLEARN_METRIC = {"cosine": "cosine", "l2": "euclidean"}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def distances(x: np.ndarray, y: np.ndarray, distance: str) -> np.ndarray:
    """Row-wise distance between (N, D) arrays -> (N,): 1 - cos, or Euclidean."""
    if distance == "cosine":
        return 1.0 - (_unit(x) * _unit(y)).sum(-1)
    return np.linalg.norm(x - y, axis=-1)


def triplet_accuracy(embeddings: np.ndarray, triplets, distance: str) -> float:
    a, p, n = (embeddings[t] for t in triplets)
    return float(np.mean(distances(a, p, distance) < distances(a, n, distance)))


def centroid_scores(train_emb: np.ndarray, train_is_anchor: np.ndarray, test_emb: np.ndarray, distance: str) -> np.ndarray:
    """Similarity of each test embedding to the train anchor-genre centroid (higher = closer)."""
    members = train_emb[train_is_anchor]
    centroid = _unit(members).mean(0) if distance == "cosine" else members.mean(0)
    return -distances(test_emb, np.broadcast_to(centroid, test_emb.shape), distance)


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
        "triplet_accuracy": triplet_accuracy(test_emb, test_triplets, distance),
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
    labels = sorted(set(true) | set(predicted))
    matrix = confusion_matrix(true, predicted, labels=labels)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(matrix, cmap="Blues")
    for (r, c), count in np.ndenumerate(matrix):
        ax.text(c, r, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
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
