"""Triplet sampler and training loop on synthetic tensors (no audio, a few seconds)."""
import collections
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.audio import FrontEnd
from pipeline.config import ConfigError, StyleConfig, parse
from pipeline.data.segments import Segments, random_crops
from pipeline.data.triplets import TripletSampler
from pipeline.errors import UserError
from pipeline.models.style_encoder import StyleEncoder, save_style_encoder
from pipeline.training.optim import adamw
from pipeline.training.style import _masks, train_style_encoder

GENRES = ["hip-hop", "rock", "jazz", "pop"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_style_params(**overrides) -> dict:
    """A tiny `style` section as params.yaml holds it."""
    style = {
        "device": "cpu", "anchor_genre": "hip-hop", "loss": "cosine", "margin": 0.5, "mining": "batch_hard",
        "negatives_per_anchor": 2, "batch_size": 4, "other_anchors": 2, "epochs": 2, "crop_frames": 16,
        "lr": 3e-3, "warmup_fraction": 0.3, "final_lr_fraction": 0.1, "cycle_momentum": True, "weight_decay": 1e-4,
        "harmonic": {"n_harmonic": 6, "semitone_scale": 2, "initial_q": 1.0, "learn_q": True,
                     "min_amplitude": 1e-4, "time_pool": 2},
        "encoder": {"blocks": [{"kind": "conv", "channels": 4, "pool": [4, 2]},
                               {"kind": "conv", "channels": 8, "pool": [4, 2]}],
                    "embedding_size": 8, "activation": "none", "global_pool": "max_mean"},
        "evaluation": {"triplets": 20, "knn_k": 3, "batch_size": 8, "tsne_perplexity": 5},
    }
    style.update(overrides)
    return style


def tiny_style(**overrides) -> StyleConfig:
    """The tiny `style` section, checked."""
    return parse(StyleConfig, tiny_style_params(**overrides), "style")


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


def test_training_learns_and_is_deterministic(tmp_path, device):
    train, valid = tiny_segments(np.random.default_rng(0)), tiny_segments(np.random.default_rng(1))
    style = tiny_style(epochs=3, device=device)
    model, rows, best_epoch = train_style_encoder(train, valid, style, FrontEnd(), seed=0)
    curves = pd.DataFrame(rows)
    assert list(curves.columns) == ["epoch", "train_loss", "valid_triplet_accuracy", "valid_genre_triplet_accuracy",
                                    "valid_loss", "q"]
    assert curves["epoch"].tolist() == [1, 2, 3]
    assert curves["valid_triplet_accuracy"].max() >= 0.9  # the genres are trivially separable
    kept = curves.set_index("epoch").loc[best_epoch]
    assert kept["valid_triplet_accuracy"] + kept["valid_genre_triplet_accuracy"] == pytest.approx(
        (curves["valid_triplet_accuracy"] + curves["valid_genre_triplet_accuracy"]).max(), abs=1e-6)
    assert not model.training and next(model.parameters()).device.type == "cpu"
    again, rows_again, best_again = train_style_encoder(train, valid, style, FrontEnd(), seed=0)
    save_style_encoder(model, tmp_path / "a.pt")
    save_style_encoder(again, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert rows_again == rows and best_again == best_epoch


@pytest.mark.parametrize("mining", ["max_negatives", "semi_hard"])
def test_training_runs_every_mining_without_valid(mining):
    train = tiny_segments(np.random.default_rng(0))
    style = tiny_style(epochs=1, mining=mining, loss="l2", margin=5.0, other_anchors=0)
    model, rows, best_epoch = train_style_encoder(train, None, style, FrontEnd(), seed=0)
    curves = pd.DataFrame(rows)
    assert len(curves) == 1 and curves["valid_triplet_accuracy"].isna().all() and best_epoch == 1  # no valid: the last
    assert np.isfinite(curves["train_loss"]).all()


def test_bad_training_params():
    # params.yaml's checks name the key before any training starts...
    for bad, match in [({"epochs": 0}, r"^style\.epochs: must be >= 1"),
                       ({"mining": "hardest"}, r"^style\.mining: must be one of"),
                       ({"device": "tpu"}, r"^style\.device: must be one of auto, cpu, cuda"),
                       ({"final_lr_fraction": 0}, r"^style\.final_lr_fraction: must be > 0"),
                       ({"warmup_fraction": 1.5}, r"^style\.warmup_fraction: must be < 1")]:
        with pytest.raises(ConfigError, match=match):
            tiny_style(**bad)
    # ...and the loop still refuses what a hand-replaced config lets through
    train = tiny_segments(np.random.default_rng(0))
    style = tiny_style()
    with pytest.raises(ValueError, match="style.mining"):
        train_style_encoder(train, None, dataclasses.replace(style, mining="hardest"), FrontEnd(), seed=0)
    with pytest.raises(UserError, match="style.device must be auto, cpu or cuda"):
        train_style_encoder(train, None, dataclasses.replace(style, device="tpu"), FrontEnd(), seed=0)
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="style.device is cuda but no CUDA device"):
            train_style_encoder(train, None, tiny_style(device="cuda"), FrontEnd(), seed=0)


def test_adamw_decays_only_weight_matrices_and_kernels_of_the_style_encoder():
    model = StyleEncoder.from_params(tiny_style(), FrontEnd())
    optimizer = adamw(model, lr=1e-3, weight_decay=0.1)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    names = {id(p): name for name, p in model.named_parameters()}
    decayed, plain = ({names[id(p)] for p in group["params"]} for group in optimizer.param_groups)
    assert decayed.isdisjoint(plain) and decayed | plain == set(names.values())
    params = dict(model.named_parameters())
    assert all(params[n].ndim > 1 for n in decayed) and all(params[n].ndim <= 1 for n in plain)
    assert {"cnn.0.0.weight", "cnn.1.0.weight", "project.weight"} <= decayed
    # the harmonic filters' Q, every BatchNorm (after the filters and in each block) and the bias
    assert {"harmonic.q", "harmonic_norm.weight", "harmonic_norm.bias", "cnn.0.1.weight", "cnn.0.1.bias",
            "cnn.1.1.weight", "cnn.1.1.bias", "project.bias"} <= plain
    # a fixed Q is a buffer, in neither group
    fixed_q = {**tiny_style_params()["harmonic"], "learn_q": False}
    fixed = StyleEncoder.from_params(tiny_style(harmonic=fixed_q), FrontEnd())
    assert sum(len(g["params"]) for g in adamw(fixed, 1e-3, 0.1).param_groups) == len(list(fixed.parameters()))
