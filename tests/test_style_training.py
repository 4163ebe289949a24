"""Triplet sampler and training loop on synthetic tensors (no audio, a few seconds)."""
import collections

import numpy as np
import pytest
import torch

from pipeline.audio import FrontEnd
from pipeline.errors import UserError
from pipeline.models.style_encoder import save_style_encoder
from pipeline.training.style import (Segments, TripletSampler, _masks, random_crops, train_style_encoder,
                                     triplet_scores)

GENRES = ["hip-hop", "rock", "jazz", "pop"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_style(**overrides) -> dict:
    style = {
        "device": "cpu", "anchor_genre": "hip-hop", "loss": "cosine", "margin": 0.5, "mining": "batch_hard",
        "negatives_per_anchor": 2, "batch_size": 4, "other_anchors": 2, "epochs": 2, "crop_frames": 16,
        "lr": 3e-3, "warmup_fraction": 0.3, "weight_decay": 1e-4,
        "harmonic": {"n_harmonic": 6, "semitone_scale": 2, "initial_q": 1.0, "learn_q": True,
                     "min_amplitude": 1e-4, "time_pool": 2},
        "encoder": {"blocks": [{"kind": "conv", "channels": 4, "pool": [4, 2]},
                               {"kind": "conv", "channels": 8, "pool": [4, 2]}],
                    "embedding_size": 8, "activation": "none", "global_pool": "max_mean"},
        "evaluation": {"triplets": 20, "knn_k": 3, "batch_size": 8, "tsne_perplexity": 5},
    }
    style.update(overrides)
    return style


def tiny_segments(rng: np.random.Generator, tracks_per_genre: int = 3, segments_per_track: int = 2,
                  frames: int = 24) -> Segments:
    """Each genre is loud in its own band of STFT bins; tracks differ a little."""
    specs, genres, tracks = [], [], []
    for g, genre in enumerate(GENRES):
        for t in range(tracks_per_genre):
            for _ in range(segments_per_track):
                spec = rng.random((161, frames)) * 0.5
                spec[10 + 30 * g: 25 + 30 * g] += 3.0 + 0.3 * t
                specs.append(spec)
                genres.append(genre)
                tracks.append(f"{genre}-{t}")
    return Segments(torch.tensor(np.stack(specs), dtype=torch.float32), np.array(genres), np.array(tracks))


def test_sampler_never_pairs_a_track_with_itself():
    data = tiny_segments(np.random.default_rng(0), tracks_per_genre=3, segments_per_track=4)
    sampler = TripletSampler(data.genres, data.tracks, "hip-hop")
    rng = np.random.default_rng(0)
    negative_genres = collections.Counter()
    for _ in range(20):
        batches = sampler.epoch(batch_size=5, rng=rng, other_anchors=3)
        hiphop = np.concatenate([b[:-3] for b in batches])
        assert sorted(hiphop) == sorted(sampler.anchors)  # every hip-hop segment anchors once an epoch
        for anchors in batches:
            positives, negatives = sampler.complete(anchors, 3, rng)
            assert (data.tracks[anchors] != data.tracks[positives]).all()
            assert (data.genres[anchors] == data.genres[positives]).all()
            for a, row in zip(anchors, negatives):
                assert data.genres[a] not in set(data.genres[row])
                assert len(set(data.genres[row])) == len(row)  # distinct genres per anchor
                if data.genres[a] == "hip-hop":
                    negative_genres.update(data.genres[row])
    counts = np.array(list(negative_genres.values()))
    assert len(counts) == 3 and counts.min() > 0.8 * counts.max()  # balanced across genres


def test_sampler_needs_two_anchor_tracks_unless_held_out():
    data = tiny_segments(np.random.default_rng(0), tracks_per_genre=1, segments_per_track=3)
    with pytest.raises(UserError, match="at least 2 tracks"):
        TripletSampler(data.genres, data.tracks, "hip-hop")
    held_out = TripletSampler(data.genres, data.tracks, "hip-hop", same_track_fallback=True)
    assert held_out.same_track
    a, p, n = held_out.held_out(10, np.random.default_rng(0))
    assert (a != p).all() and (data.genres[n] != "hip-hop").all()
    with pytest.raises(UserError, match="at least 2 tracks"):
        TripletSampler(data.genres, data.tracks, "polka")


def test_held_out_triplets_are_fixed_by_seed():
    data = tiny_segments(np.random.default_rng(0))
    sampler = TripletSampler(data.genres, data.tracks, "hip-hop")
    first = sampler.held_out(30, np.random.default_rng(7))
    again = sampler.held_out(30, np.random.default_rng(7))
    for x, y in zip(first, again):
        np.testing.assert_array_equal(x, y)
    assert (data.tracks[first[0]] != data.tracks[first[1]]).all()


def test_masks_follow_genre_and_track():
    genres = np.array(["hip-hop", "hip-hop", "rock", "rock"])
    tracks = np.array(["h1", "h2", "r1", "r2"])
    positive_ok, negative_ok = _masks(genres, tracks, np.array([0, 2]), np.array([1, 3]), np.array([[2], [0]]))
    # pool = anchors [0, 2], positives [1, 3], negatives [2, 0]
    assert positive_ok.tolist() == [[False, False, True, False, False, False],
                                    [False, False, False, True, False, False]]
    assert negative_ok.tolist() == [[False, True, False, True, True, False],
                                    [True, False, True, False, False, True]]


def test_random_crops():
    specs = torch.arange(2 * 3 * 10, dtype=torch.float32).reshape(2, 3, 10)
    crops = random_crops(specs, np.array([1, 0, 1]), 4, np.random.default_rng(0))
    assert crops.shape == (3, 3, 4)
    assert torch.equal(random_crops(specs, np.array([1]), 50, np.random.default_rng(0)), specs[1:])


def test_triplet_scores():
    emb = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    accuracy, hinge = triplet_scores(emb, (np.array([0, 0]), np.array([1, 2]), np.array([2, 1])), "cosine", 0.1)
    assert accuracy == 0.5 and hinge > 0


def test_training_learns_and_is_deterministic(tmp_path, device):
    train, valid = tiny_segments(np.random.default_rng(0)), tiny_segments(np.random.default_rng(1))
    style = tiny_style(epochs=3, device=device)
    model, curves, best_epoch = train_style_encoder(train, valid, style, FrontEnd(), seed=0)
    assert list(curves.columns) == ["epoch", "train_loss", "valid_triplet_accuracy", "valid_genre_triplet_accuracy",
                                    "valid_loss", "q"]
    assert curves["epoch"].tolist() == [1, 2, 3]
    assert curves["valid_triplet_accuracy"].max() >= 0.9  # the genres are trivially separable
    kept = curves.set_index("epoch").loc[best_epoch]
    assert kept["valid_triplet_accuracy"] + kept["valid_genre_triplet_accuracy"] == pytest.approx(
        (curves["valid_triplet_accuracy"] + curves["valid_genre_triplet_accuracy"]).max(), abs=1e-6)
    assert not model.training and next(model.parameters()).device.type == "cpu"
    again, curves_again, _ = train_style_encoder(train, valid, style, FrontEnd(), seed=0)
    save_style_encoder(model, tmp_path / "a.pt")
    save_style_encoder(again, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert curves.equals(curves_again)


@pytest.mark.parametrize("mining", ["max_negatives", "semi_hard"])
def test_training_runs_every_mining_without_valid(mining):
    train = tiny_segments(np.random.default_rng(0))
    style = tiny_style(epochs=1, mining=mining, loss="l2", margin=5.0, other_anchors=0)
    model, curves, best_epoch = train_style_encoder(train, None, style, FrontEnd(), seed=0)
    assert len(curves) == 1 and curves["valid_triplet_accuracy"].isna().all() and best_epoch == 1  # no valid: the last
    assert np.isfinite(curves["train_loss"]).all()


def test_bad_training_params():
    train = tiny_segments(np.random.default_rng(0))
    with pytest.raises(UserError, match="epochs"):
        train_style_encoder(train, None, tiny_style(epochs=0), FrontEnd(), seed=0)
    with pytest.raises(UserError, match="style.mining"):
        train_style_encoder(train, None, tiny_style(mining="hardest"), FrontEnd(), seed=0)
    with pytest.raises(UserError, match="style.device must be auto, cpu or cuda"):
        train_style_encoder(train, None, tiny_style(device="tpu"), FrontEnd(), seed=0)
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="style.device is cuda but no CUDA device"):
            train_style_encoder(train, None, tiny_style(device="cuda"), FrontEnd(), seed=0)
