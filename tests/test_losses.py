"""Triplet losses: zero once triplets are separated by the margin, positive otherwise, for each
distance and mining mode; held-out triplet scores; and the params reach the loss the training
loop uses."""
import dataclasses

import numpy as np
import pytest
import torch

import pipeline.losses as losses
from pipeline.config import ConfigError, StyleConfig, load_params, parse, to_dict
from pipeline.losses import DISTANCES, MININGS, TripletLoss, triplet_loss, triplet_scores

MARGIN = {"cosine": 0.5, "l2": 5.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batch(separated: bool, distance: str):
    """4 anchors with their positives nearby; 3 negatives each, far away (separated) or with one
    negative farther than the positive but inside the margin (not separated: a violation every
    mining mode must see, semi-hard included)."""
    torch.manual_seed(0)
    dim = 8
    anchor = torch.zeros(4, dim)
    anchor[:, 0] = 10.0                                   # all anchors point along axis 0
    positive = anchor.clone()
    positive[:, 1] = 0.5                                  # small step away
    negatives = torch.zeros(4, 3, dim)
    negatives[:, :, 2] = 10.0                             # orthogonal: cos 0, |a - n| = 14.1
    if not separated:
        negatives[1, 2] = anchor[1]
        negatives[1, 2, 3] = 2.0                          # |a - n| = 2 < 0.5 + 5; 1 - cos = 0.019 < 0.5
    return anchor, positive, negatives


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("mining", MININGS)
def test_zero_when_separated_positive_otherwise(distance, mining):
    margin = MARGIN[distance]
    separated = triplet_loss(*_batch(True, distance), distance=distance, margin=margin, mining=mining)
    assert float(separated) == 0.0
    violated = triplet_loss(*_batch(False, distance), distance=distance, margin=margin, mining=mining)
    assert float(violated) > 0.0


@pytest.mark.parametrize("distance", DISTANCES)
def test_margin_decides(distance):
    # Separated by less than a too-large margin: positive loss for every mining mode.
    batch = _batch(True, distance)
    for mining in MININGS:
        assert float(triplet_loss(*batch, distance=distance, margin=100.0, mining=mining)) > 0


def test_semi_hard_falls_back_to_the_farthest_negative():
    anchor = torch.tensor([[1.0, 0.0]])
    positive = torch.tensor([[0.0, 1.0]])                 # d(a, p) = sqrt(2)
    negatives = torch.tensor([[[1.0, 0.1], [1.0, 0.0]]])  # both closer than the positive
    loss = triplet_loss(anchor, positive, negatives, distance="l2", margin=0.5, mining="semi_hard")
    assert float(loss) == pytest.approx(2 ** 0.5 - 0.1 + 0.5, abs=1e-5)


def test_original_hinge_takes_the_max_over_negatives():
    anchor = torch.tensor([[1.0, 0.0]])
    positive = torch.tensor([[1.0, 0.0]])
    # cos(a, n) = 0 and 0.6: hinges 0 - 1 + 0.5 -> 0, and 0.6 - 1 + 0.5 = 0.1
    negatives = torch.tensor([[[0.0, 1.0], [0.6, 0.8]]])
    loss = triplet_loss(anchor, positive, negatives, distance="cosine", margin=0.5, mining="max_negatives")
    assert float(loss) == pytest.approx(0.1, abs=1e-6)


def test_batch_hard_uses_masks_over_the_pool():
    anchor = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    positive = anchor.clone()
    negatives = torch.tensor([[[-1.0, 0.0]], [[0.0, -1.0]]])
    # pool = anchors (2), positives (2), negatives (2). Anchor 0 may use anchor 1 (orthogonal,
    # cosine distance 1) besides its own negative (distance 2): hinge 0 - 1 + 1.5 = 0.5. Anchor 1
    # only its own opposite negative: 0 - 2 + 1.5 -> 0.
    negative_ok = torch.tensor([[False, True, False, False, True, False],
                                [False, False, False, False, False, True]])
    loss = triplet_loss(anchor, positive, negatives, distance="cosine", margin=1.5, mining="batch_hard",
                        negative_ok=negative_ok)
    assert float(loss) == pytest.approx(0.25, abs=1e-6)


@pytest.mark.parametrize("mining", MININGS)
def test_gradients_flow(mining):
    anchor, positive, negatives = _batch(False, "cosine")
    anchor.requires_grad_(True)
    triplet_loss(anchor, positive, negatives, distance="cosine", margin=0.5, mining=mining).backward()
    assert torch.isfinite(anchor.grad).all() and float(anchor.grad.abs().sum()) > 0


def test_from_params_and_bad_params():
    style = load_params().style
    loss = TripletLoss.from_params(dataclasses.replace(style, loss="l2", margin=15.0, mining="semi_hard"))
    assert loss == TripletLoss(distance="l2", margin=15.0, mining="semi_hard")
    # a loss built by hand, or from a hand-replaced field, checks itself (ValueError)...
    for bad, match in [({"distance": "hamming"}, "style.loss"), ({"mining": "easy"}, "style.mining"),
                       ({"margin": -1}, "style.margin"), ({"margin": "wide"}, "style.margin")]:
        with pytest.raises(ValueError, match=match):
            TripletLoss(**{"distance": "cosine", "margin": 0.5, "mining": "batch_hard", **bad})
    with pytest.raises(ValueError, match="style.loss"):
        TripletLoss.from_params(dataclasses.replace(style, loss="hamming"))
    # ...and params.yaml's style section never gets that far: the config names the key
    plain = to_dict(style)
    for bad, match in [({"loss": "hamming"}, r"^style\.loss: must be one of cosine, l2"),
                       ({"mining": "easy"}, r"^style\.mining: must be one of"),
                       ({"margin": -1}, r"^style\.margin: must be >= 0"),
                       ({"margin": "wide"}, r"^style\.margin: must be a number")]:
        with pytest.raises(ConfigError, match=match):
            parse(StyleConfig, {**plain, **bad}, "style")
    del plain["margin"]
    with pytest.raises(ConfigError, match=r"^style\.margin: missing"):
        parse(StyleConfig, plain, "style")


def test_triplet_scores_count_correct_triplets_and_the_mean_hinge():
    emb = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    triplets = (np.array([0, 0]), np.array([1, 2]), np.array([2, 1]))
    accuracy, hinge = triplet_scores(emb, triplets, "cosine", 0.1)
    assert accuracy == 0.5 and hinge > 0
    # by hand: d(0, 1) = 1 - cos = 1 - 0.9 / |(0.9, 0.1)|, d(0, 2) = 1
    d01 = 1 - 0.9 / float(np.hypot(0.9, 0.1))
    assert hinge == pytest.approx((max(d01 - 1 + 0.1, 0) + max(1 - d01 + 0.1, 0)) / 2, abs=1e-6)
    accuracy, hinge = triplet_scores(emb, triplets, "l2", 0.0)
    assert accuracy == 0.5 and hinge == pytest.approx((2 ** 0.5 - float(np.hypot(0.1, 0.1))) / 2, abs=1e-6)


def test_params_reach_the_training_loss(monkeypatch):
    """The loop builds its loss from the style section: what `dvc exp run -S style.loss=l2
    -S style.margin=15 -S style.mining=semi_hard` sets is what the loss computes with."""
    from test_style_training import tiny_segments, tiny_style
    from pipeline.audio import FrontEnd
    from pipeline.training.style import train_style_encoder

    seen = []
    real = losses.triplet_loss

    def spy(*args, **kwargs):
        seen.append((kwargs["distance"], kwargs["margin"], kwargs["mining"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(losses, "triplet_loss", spy)
    style = tiny_style(loss="l2", margin=15.0, mining="semi_hard", epochs=1)
    assert isinstance(style, StyleConfig)
    train, valid = tiny_segments(np.random.default_rng(0)), tiny_segments(np.random.default_rng(1))
    train_style_encoder(train, valid, style, FrontEnd(), seed=0)
    assert seen and set(seen) == {("l2", 15.0, "semi_hard")}
