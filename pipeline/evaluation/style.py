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

`ci95` holds 95% intervals of the first three: test tracks resampled within each genre
(`bootstrap.track_bootstrap`; a triplet belongs to its anchor segment's track).

Real audio (`style.evaluation.real_dirs`, label -> folders; never trained on, never written
anywhere but the metrics) is cut as `cut_clips` cuts the corpus and scored with the same model:
`real_hiphop_roc_auc` (the anchor genre's label against the rest, by the same centroid score) with
its interval over real tracks, and the kNN genre counts per label.
"""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, roc_auc_score, silhouette_score  # noqa: E402
from sklearn.metrics.pairwise import paired_distances  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.preprocessing import normalize  # noqa: E402

from pipeline.audio import AUDIO_SUFFIXES, audio_files, load_audio  # noqa: E402
from pipeline.config import ClipsConfig, StyleConfig  # noqa: E402
from pipeline.data.clips import segment_starts  # noqa: E402
from pipeline.data.mtat import track_of  # noqa: E402
from pipeline.data.segments import read_clips, split_segments  # noqa: E402
from pipeline.data.triplets import TripletSampler  # noqa: E402
from pipeline.errors import UserError  # noqa: E402
from pipeline.evaluation.bootstrap import track_bootstrap, weighted_mean  # noqa: E402
from pipeline.evaluation.figures import save_figure  # noqa: E402
from pipeline.fileio import rounded  # noqa: E402
from pipeline.losses import TripletLoss, rowwise_distance, triplet_scores  # noqa: E402
from pipeline.models.style_encoder import StyleEncoder, embed  # noqa: E402

SKLEARN_METRIC = {"cosine": "cosine", "l2": "euclidean"}


def centroid_scores(train_emb: np.ndarray, train_is_anchor: np.ndarray, test_emb: np.ndarray, distance: str) -> np.ndarray:
    """Similarity of each test embedding to the train anchor-genre centroid (higher = closer)."""
    members = train_emb[train_is_anchor]
    centroid = normalize(members).mean(0) if distance == "cosine" else members.mean(0)
    return -paired_distances(test_emb, np.broadcast_to(centroid, test_emb.shape), metric=SKLEARN_METRIC[distance])


def fit_knn(train_emb: np.ndarray, train_genres: np.ndarray, knn_k: int, distance: str) -> KNeighborsClassifier:
    """The kNN genre classifier over the train embeddings."""
    if knn_k < 1 or knn_k > len(train_emb):
        raise UserError(f"style.evaluation.knn_k must be in 1..{len(train_emb)}, got {knn_k}")
    knn = KNeighborsClassifier(n_neighbors=knn_k, metric=SKLEARN_METRIC[distance], algorithm="brute")
    return knn.fit(train_emb, train_genres)


def triplet_outcomes(embeddings: np.ndarray, triplets, distance: str) -> np.ndarray:
    """(n_triplets,) bool: is the positive closer to the anchor than the negative."""
    a, p, n = (torch.from_numpy(embeddings)[torch.from_numpy(t)] for t in triplets)
    d_ap, d_an = (rowwise_distance(a, other[:, None], distance)[:, 0] for other in (p, n))
    return (d_ap < d_an).numpy()


def style_metrics(train_emb: np.ndarray, train_genres: np.ndarray, test_emb: np.ndarray, test_genres: np.ndarray,
                  test_triplets, *, distance: str, anchor_genre: str, knn_k: int, test_tracks: np.ndarray | None = None,
                  resamples: int = 0, seed: int = 0) -> tuple[dict, np.ndarray]:
    """Metrics dict and the kNN genre predictions for the test split. With `test_tracks` and
    `resamples`, `ci95` holds the bootstrap intervals over test tracks (stratified by genre)."""
    if len(set(test_genres)) < 2 or anchor_genre not in set(test_genres):
        raise UserError(f"the test split needs {anchor_genre!r} and at least one other genre")
    predicted = fit_knn(train_emb, train_genres, knn_k, distance).predict(test_emb)
    is_anchor = test_genres == anchor_genre
    scores = centroid_scores(train_emb, train_genres == anchor_genre, test_emb, distance)
    metrics = {
        "triplet_accuracy": triplet_scores(torch.from_numpy(test_emb), test_triplets, distance, 0.0)[0],
        "hiphop_roc_auc": float(roc_auc_score(is_anchor, scores)),
        "knn_genre_accuracy": float(np.mean(predicted == test_genres)),
        "silhouette": float(silhouette_score(test_emb, test_genres, metric=SKLEARN_METRIC[distance])),
        "knn_accuracy_by_genre": {g: float(np.mean(predicted[test_genres == g] == g)) for g in sorted(set(test_genres))},
    }
    if test_tracks is not None and resamples > 0:
        triplet_share = weighted_mean(triplet_outcomes(test_emb, test_triplets, distance))
        anchors = np.asarray(test_triplets[0])
        statistics = {
            "triplet_accuracy": lambda weights: triplet_share(weights[anchors]),  # the anchor's track's draws
            "hiphop_roc_auc": lambda weights: float(roc_auc_score(is_anchor, scores, sample_weight=weights)),
            "knn_genre_accuracy": weighted_mean(predicted == test_genres),
        }
        metrics["ci95"] = track_bootstrap(test_tracks, test_genres, statistics, resamples, seed)
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
    save_figure(fig, path)


def plot_confusion(true: np.ndarray, predicted: np.ndarray, path: str | Path, knn_k: int) -> None:
    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay.from_predictions(true, predicted, labels=sorted(set(true) | set(predicted)), ax=ax,
                                            cmap="Blues", colorbar=False, xticks_rotation=45)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    ax.set_title(f"{knn_k}-NN genre on the test split (train embeddings as index)")
    save_figure(fig, path)


@dataclass
class StyleEvaluation:
    """What `evaluate_style` measured: the metrics (rounded) and what the figures draw."""
    metrics: dict
    test_embeddings: np.ndarray
    test_genres: np.ndarray
    predicted: np.ndarray


def evaluate_style(model: StyleEncoder, clips_csv: str | Path, style: StyleConfig, seed: int,
                   clips: ClipsConfig) -> StyleEvaluation:
    """Embed the train and test splits of `clips_csv` with `model` (on its device; its own saved
    front end, nothing guessed from params) and score the test split against the train index;
    then the real folders of `style.evaluation.real_dirs`, if any, cut as `clips` says."""
    evaluation, distance = style.evaluation, TripletLoss.from_params(style).distance
    real = read_real_clips(evaluation.real_dirs, model.front_end.sample_rate, clips)  # bad folders: before any work
    corpus = read_clips(clips_csv)
    train, test = (split_segments(corpus, split, model.front_end) for split in ("train", "test"))
    for name, part in (("train", train), ("test", test)):
        if part is None:
            raise UserError(f"{clips_csv} has no {name} segments (a genre needs >= 3 tracks to have a test split)")
    train_emb = embed(model, train.spectrograms, evaluation.batch_size).numpy()
    test_emb = embed(model, test.spectrograms, evaluation.batch_size).numpy()
    sampler = TripletSampler(test.genres, test.tracks, style.anchor_genre, same_track_fallback=True)
    triplets = sampler.held_out(evaluation.triplets, np.random.default_rng(seed + 2))
    metrics, predicted = style_metrics(train_emb, train.genres, test_emb, test.genres, triplets, distance=distance,
                                       anchor_genre=style.anchor_genre, knn_k=evaluation.knn_k, test_tracks=test.tracks,
                                       resamples=evaluation.bootstrap_resamples, seed=seed + 3)
    metrics.update(q=model.q, test_segments=len(test), test_tracks=int(len(set(test.tracks))), distance=distance,
                   triplets_same_track=sampler.same_track)
    if real is not None:
        real_emb = embed_waves(model, real.waves, evaluation.batch_size)
        scored = real_metrics(train_emb, train.genres, real_emb, real.labels, real.tracks, distance=distance,
                              anchor_genre=style.anchor_genre, knn_k=evaluation.knn_k,
                              resamples=evaluation.bootstrap_resamples, seed=seed + 3)
        metrics.setdefault("ci95", {}).update(scored.pop("ci95", {}))
        metrics.update(scored)
    return StyleEvaluation(rounded(metrics), test_emb, test.genres, predicted)


@dataclass
class RealClips:
    """Segments of real audio: waves (each `clips.seconds` long), their folder's label, their track."""
    waves: list[np.ndarray]
    labels: np.ndarray
    tracks: np.ndarray


def read_real_clips(real_dirs: dict[str, tuple[str, ...]], sample_rate: int, clips: ClipsConfig) -> RealClips | None:
    """Every audio file under the labelled folders (relative to the working folder), cut into
    segments as `cut_clips` cuts the corpus (same length and hop, the same 16-bit FLAC round trip).
    Each file is a track, except MagnaTagATune clips of one song (`artist-album-nn-title-start-end`),
    which share one. None when no folder is listed."""
    if not real_dirs:
        return None
    segment, hop = int(round(clips.seconds * sample_rate)), int(round(clips.hop_seconds * sample_rate))
    waves, labels, tracks = [], [], []
    for label, folders in sorted(real_dirs.items()):
        for folder in map(Path, folders):
            where = f"style.evaluation.real_dirs: {label}: {folder}"
            if not folder.is_dir():
                raise UserError(f"{where} is not a folder")
            files = audio_files(folder)
            if not files:
                raise UserError(f"{where} holds no audio ({', '.join(sorted(AUDIO_SUFFIXES))})")
            before = len(waves)
            for path in files:
                samples = as_cut(load_audio(path, sample_rate), sample_rate)
                rel = path.relative_to(folder)
                track = f"{label}/{folder.as_posix()}/{(rel.parent / track_of(rel.name)).as_posix()}"
                for start in segment_starts(len(samples), segment, hop):
                    waves.append(samples[start:start + segment])
                    labels.append(label)
                    tracks.append(track)
            if len(waves) == before:
                raise UserError(f"{where} holds no audio of at least clips.seconds ({clips.seconds:g} s)")
    return RealClips(waves, np.array(labels), np.array(tracks))


def as_cut(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The samples as `cut_clips` stores and `load_audio` reads them back: 16-bit FLAC."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="FLAC", subtype="PCM_16")
    buffer.seek(0)
    return sf.read(buffer, dtype="float32")[0]


def embed_waves(model: StyleEncoder, waves: list[np.ndarray], batch_size: int) -> np.ndarray:
    """Equal-length waves -> (N, D) embeddings, the spectrograms computed a batch at a time."""
    spectrogram = model.front_end.spectrogram()
    with torch.no_grad():
        return torch.cat([embed(model, spectrogram(torch.from_numpy(np.stack(waves[i:i + batch_size]))), batch_size)
                          for i in range(0, len(waves), batch_size)]).numpy()


def real_metrics(train_emb: np.ndarray, train_genres: np.ndarray, real_emb: np.ndarray, labels: np.ndarray,
                 tracks: np.ndarray, *, distance: str, anchor_genre: str, knn_k: int, resamples: int,
                 seed: int) -> dict:
    """Real segments against the train index: kNN genre counts per label; with the anchor genre's
    label and another, `real_hiphop_roc_auc` (the anchor label against the rest) and, when every
    label has >= 2 tracks to resample, its interval over real tracks (stratified by label)."""
    predicted = fit_knn(train_emb, train_genres, knn_k, distance).predict(real_emb)
    metrics = {
        "real_segments": len(labels),
        "real_tracks": len(set(tracks)),
        "real_knn_genre_counts": {label: {str(g): n for g, n in sorted(Counter(predicted[labels == label]).items())}
                                  for label in sorted(set(labels))},
    }
    is_anchor = labels == anchor_genre
    if not is_anchor.any() or is_anchor.all():
        return metrics  # one class only: no ROC
    scores = centroid_scores(train_emb, train_genres == anchor_genre, real_emb, distance)
    metrics["real_hiphop_roc_auc"] = float(roc_auc_score(is_anchor, scores))
    if all(len(set(tracks[labels == label])) >= 2 for label in set(labels)):
        statistic = {"real_hiphop_roc_auc": lambda weights: float(roc_auc_score(is_anchor, scores, sample_weight=weights))}
        metrics["ci95"] = track_bootstrap(tracks, labels, statistic, resamples, seed)
    return metrics
