"""Content encoder pieces on hand-made cases: text encoding, greedy CTC decoding, CER / WER,
exact padded batches, batching and the learning-rate schedule."""
import contextlib

import numpy as np
import pytest
import torch

from pipeline.audio import FrontEnd
from pipeline.errors import UserError
from pipeline.models.content_encoder import (ALPHABET, BLANK, ContentEncoder, encode_text, freeze, input_gradient_mode,
                                             greedy_decode, reverse_within_lengths)
from pipeline.training.content import error_rate, learning_rate, length_batches

TINY = {"conv_channels": [4, 4], "conv_kernels": [[41, 11], [21, 11]], "conv_strides": [[2, 2], [2, 1]], "head_stride": 1,
        "rnn_type": "gru", "rnn_hidden": 16, "rnn_layers": 2, "content_layers": [1, 2]}


def one_hot_path(path: list[int], classes: int = len(ALPHABET) + 1) -> torch.Tensor:
    """A (T, 1, classes) log-prob tensor whose argmax follows `path`."""
    log_probs = torch.full((len(path), 1, classes), -10.0)
    log_probs[torch.arange(len(path)), 0, torch.tensor(path)] = 0.0
    return log_probs


def ids(text: str) -> list[int]:
    return encode_text(text)


def test_encode_text_maps_to_one_based_classes_and_rejects_other_characters():
    assert encode_text("it's a") == [ALPHABET.index(c) + 1 for c in "IT'S A"]
    assert encode_text("  two   spaces ") == encode_text("TWO SPACES")
    with pytest.raises(UserError, match="outside the alphabet"):
        encode_text("café 42")


@pytest.mark.parametrize("path, expected", [
    ([BLANK, *ids("C"), *ids("C"), BLANK, *ids("A"), *ids("T"), *ids("T"), BLANK], "CAT"),
    ([*ids("L"), BLANK, *ids("L")], "LL"),          # a blank separates a real double letter
    ([*ids("L"), *ids("L"), *ids("L")], "L"),        # repeats without a blank merge
    ([BLANK, BLANK, BLANK], ""),
    ([*ids("A"), ALPHABET.index(" ") + 1, *ids("'S")], "A 'S"),
])
def test_greedy_decode_merges_repeats_and_drops_blanks(path, expected):
    assert greedy_decode(one_hot_path(path), torch.tensor([len(path)])) == [expected]


def test_greedy_decode_stops_at_each_items_length():
    path = [*ids("H"), *ids("I"), *ids("X"), *ids("X")]
    assert greedy_decode(one_hot_path(path), torch.tensor([2])) == ["HI"]


@pytest.mark.parametrize("refs, hyps, unit, expected", [
    (["ABC"], ["ABD"], "char", 1 / 3),             # one substitution
    (["ABC"], ["ABC"], "char", 0.0),
    (["AB", "CD"], ["A", "CDE"], "char", 2 / 4),    # a deletion and an insertion over 4 characters
    (["ABC"], [""], "char", 1.0),
    (["A"], ["AAAA"], "char", 3.0),                 # insertions can push CER over 1
    (["THE CAT SAT"], ["THE BAT SAT"], "word", 1 / 3),
    (["THE CAT SAT"], ["THE CAT SAT ON"], "word", 1 / 3),
])
def test_error_rate_on_hand_made_cases(refs, hyps, unit, expected):
    assert error_rate(refs, hyps, unit) == pytest.approx(expected)


def test_reverse_within_lengths_keeps_padding_at_the_end():
    x = torch.arange(5.0).reshape(5, 1, 1).repeat(1, 2, 1)  # (T=5, B=2, D=1)
    out = reverse_within_lengths(x, torch.tensor([5, 3]))
    assert out[:, 0, 0].tolist() == [4, 3, 2, 1, 0]
    assert out[:, 1, 0].tolist() == [2, 1, 0, 3, 4]
    assert torch.equal(reverse_within_lengths(out, torch.tensor([5, 3])), x)


@pytest.mark.parametrize("head_stride, expected_lengths", [(1, [60, 39]), (2, [30, 20])])
def test_padded_batch_gives_each_item_what_it_gets_alone(head_stride, expected_lengths):
    torch.manual_seed(0)
    model = freeze(ContentEncoder(FrontEnd(), **{**TINY, "head_stride": head_stride}))
    long, short = torch.rand(161, 120), torch.rand(161, 77)
    batch = torch.zeros(2, 161, 120)
    batch[0], batch[1, :, :77] = long, short
    log_probs, lengths = model(batch, torch.tensor([120, 77]))
    alone, alone_lengths = model(short[None], torch.tensor([77]))
    assert lengths.tolist() == expected_lengths and alone_lengths.tolist() == expected_lengths[1:]
    n = expected_lengths[1]
    torch.testing.assert_close(log_probs[:n, 1], alone[:, 0], atol=1e-5, rtol=0)


def test_content_features_are_the_chosen_conv_maps_and_pass_gradients_to_the_input():
    model = freeze(ContentEncoder(FrontEnd(), **TINY))
    spectrogram = torch.rand(1, 161, 1001, requires_grad=True)
    first, second = model.content_features(spectrogram)
    assert first.shape == (1, 4, 81, 501) and second.shape == (1, 4, 41, 501)
    second.pow(2).mean().backward()
    assert spectrogram.grad is not None and spectrogram.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


def test_input_gradient_mode_gives_the_same_gradient():
    """It only swaps oneDNN's conv kernels for ATen's: same maps, same gradient (to float error)."""
    model = freeze(ContentEncoder(FrontEnd(), **TINY))
    base = torch.rand(1, 161, 300)
    grads = []
    for fast in (False, True):
        spectrogram = base.clone().requires_grad_(True)
        with input_gradient_mode() if fast else contextlib.nullcontext():
            model.content_features(spectrogram)[-1].pow(2).mean().backward()
        grads.append(spectrogram.grad)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)


def test_bad_model_config_is_a_user_error():
    with pytest.raises(UserError, match="content_layers"):
        ContentEncoder(FrontEnd(), **{**TINY, "content_layers": [3]})


def test_length_batches_cover_everything_once_and_repeat_with_the_seed():
    frames = np.array([50, 300, 120, 125, 310, 55, 500, 90, 130, 60])
    batches = length_batches(frames, 3, 50, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    again = length_batches(frames, 3, 50, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    # Similar lengths together: batches, put back in bucket order, hold non-decreasing buckets.
    key = lambda b: ((frames[b] // 50).min(), (frames[b] // 50).max())  # noqa: E731
    buckets = [np.sort(frames[b] // 50) for b in sorted(batches, key=key)]
    assert np.all(np.diff(np.concatenate(buckets)) >= 0)


def test_learning_rate_warms_up_then_decays_to_the_floor():
    cfg = {"lr": 1.0, "warmup_fraction": 0.1, "final_lr_fraction": 0.05}
    rates = [learning_rate(step, 100, cfg) for step in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert max(rates) == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))
    assert rates[-1] == pytest.approx(0.05, abs=0.01)
