"""Content encoder pieces on hand-made cases: text encoding, greedy CTC decoding, CER / WER,
exact padded batches, batching, the model config, and the optimiser and learning-rate schedule
both trainings share."""
import contextlib
import dataclasses

import numpy as np
import pytest
import torch

from pipeline.audio import FrontEnd
from pipeline.config import ConfigError, ContentModelConfig, load_params, parse
from pipeline.models.content_encoder import (ALPHABET, BLANK, ContentEncoder, encode_text, freeze, input_gradient_mode,
                                             greedy_decode, reverse_within_lengths, utterance_mean_norm)
from pipeline.training.content import error_rate, length_batches
from pipeline.training.optim import adamw, one_cycle

TINY_MODEL = {"conv_channels": [4, 4], "conv_kernels": [[41, 11], [21, 11]], "conv_strides": [[2, 2], [2, 1]],
              "head_stride": 1, "rnn_type": "gru", "rnn_hidden": 16, "rnn_layers": 2, "content_layers": [1, 2]}
TINY = parse(ContentModelConfig, TINY_MODEL, "content.model")


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
    with pytest.raises(ValueError, match="outside the alphabet"):
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


@pytest.mark.parametrize("head_stride, expected_lengths, input_norm", [(1, [60, 39], "none"), (2, [30, 20], "none"),
                                                                    (1, [60, 39], "utterance_mean")])
def test_padded_batch_gives_each_item_what_it_gets_alone(head_stride, expected_lengths, input_norm):
    torch.manual_seed(0)
    model = freeze(ContentEncoder(FrontEnd(), dataclasses.replace(TINY, head_stride=head_stride, input_norm=input_norm)))
    long, short = torch.rand(161, 120), torch.rand(161, 77)
    batch = torch.zeros(2, 161, 120)
    batch[0], batch[1, :, :77] = long, short
    log_probs, lengths = model(batch, torch.tensor([120, 77]))
    alone, alone_lengths = model(short[None], torch.tensor([77]))
    assert lengths.tolist() == expected_lengths and alone_lengths.tolist() == expected_lengths[1:]
    n = expected_lengths[1]
    torch.testing.assert_close(log_probs[:n, 1], alone[:, 0], atol=1e-5, rtol=0)


def test_utterance_mean_norm_removes_each_bins_mean_over_the_valid_frames_only():
    spectrogram = torch.rand(2, 161, 50)
    lengths = torch.tensor([50, 30])
    normed = utterance_mean_norm(spectrogram, lengths)
    torch.testing.assert_close(normed[0].mean(dim=-1), torch.zeros(161), atol=1e-6, rtol=0)
    torch.testing.assert_close(normed[1, :, :30].mean(dim=-1), torch.zeros(161), atol=1e-6, rtol=0)
    assert torch.equal(normed[1, :, 30:], torch.zeros(161, 20))
    torch.testing.assert_close(utterance_mean_norm(spectrogram[:1]), normed[:1])


def test_with_utterance_mean_norm_a_fixed_spectral_envelope_leaves_the_content_unchanged():
    """A voice's or a room's average envelope (a per-bin offset in the log spectrogram) is not
    content: the maps the content loss matches ignore it."""
    torch.manual_seed(0)
    model = freeze(ContentEncoder(FrontEnd(), dataclasses.replace(TINY, input_norm="utterance_mean")))
    spectrogram, envelope = torch.rand(1, 161, 200), torch.linspace(0.0, 2.0, 161)[None, :, None]
    for plain, coloured in zip(model.content_features(spectrogram), model.content_features(spectrogram + envelope)):
        torch.testing.assert_close(coloured, plain, atol=1e-5, rtol=0)
    plain = freeze(ContentEncoder(FrontEnd(), TINY)).content_features
    assert not torch.allclose(plain(spectrogram)[0], plain(spectrogram + envelope)[0], atol=1e-3)


def test_content_features_are_the_chosen_conv_maps_and_pass_gradients_to_the_input():
    model = freeze(ContentEncoder(FrontEnd(), TINY))
    spectrogram = torch.rand(1, 161, 1001, requires_grad=True)
    first, second = model.content_features(spectrogram)
    assert first.shape == (1, 4, 81, 501) and second.shape == (1, 4, 41, 501)
    second.pow(2).mean().backward()
    assert spectrogram.grad is not None and spectrogram.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


def test_input_gradient_mode_gives_the_same_gradient():
    """It only swaps oneDNN's conv kernels for ATen's: same maps, same gradient (to float error)."""
    model = freeze(ContentEncoder(FrontEnd(), TINY))
    base = torch.rand(1, 161, 300)
    grads = []
    for fast in (False, True):
        spectrogram = base.clone().requires_grad_(True)
        with input_gradient_mode() if fast else contextlib.nullcontext():
            model.content_features(spectrogram)[-1].pow(2).mean().backward()
        grads.append(spectrogram.grad)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)


def test_bad_model_config_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"^content\.model: content_layers must name conv layers 1\.\.2"):
        parse(ContentModelConfig, {**TINY_MODEL, "content_layers": [3]}, "content.model")
    with pytest.raises(ConfigError, match="content.model: conv_channels, conv_kernels and conv_strides"):
        parse(ContentModelConfig, {**TINY_MODEL, "conv_channels": [4, 4, 4]}, "content.model")
    with pytest.raises(ConfigError, match=r"^content\.model\.rnn_type: must be one of lstm, gru"):
        parse(ContentModelConfig, {**TINY_MODEL, "rnn_type": "transformer"}, "content.model")
    with pytest.raises(ConfigError, match=r"^content\.model\.head_stride: must be >= 1"):
        parse(ContentModelConfig, {**TINY_MODEL, "head_stride": 0}, "content.model")
    with pytest.raises(ConfigError, match=r"^content\.model\.rnn_hiden: unknown key"):
        parse(ContentModelConfig, {**TINY_MODEL, "rnn_hiden": 16}, "content.model")
    with pytest.raises(TypeError, match="ContentModelConfig"):
        ContentEncoder(FrontEnd(), TINY_MODEL)  # a plain dict is not a checked config


def test_transcribe_rejects_audio_shorter_than_one_window():
    model = freeze(ContentEncoder(FrontEnd(), TINY))
    with pytest.raises(ValueError, match="too short"):
        model.transcribe(np.zeros(FrontEnd().win_length - 1, dtype=np.float32))
    assert isinstance(model.transcribe(np.zeros(FrontEnd().win_length, dtype=np.float32)), str)


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


def decay_groups(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> tuple[set[str], set[str]]:
    """Names of the parameters in the decayed group and in the undecayed one."""
    names = {id(p): name for name, p in model.named_parameters()}
    decayed, plain = ({names[id(p)] for p in group["params"]} for group in optimizer.param_groups)
    return decayed, plain


def test_adamw_decays_only_weight_matrices_and_kernels_of_the_content_encoder():
    model = ContentEncoder(FrontEnd(), dataclasses.replace(load_params().content.model, rnn_type="lstm"))
    optimizer = adamw(model, lr=1e-3, weight_decay=0.1)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    decayed, plain = decay_groups(optimizer, model)
    assert decayed.isdisjoint(plain) and decayed | plain == {name for name, _ in model.named_parameters()}
    params = dict(model.named_parameters())
    assert all(params[n].ndim > 1 for n in decayed) and all(params[n].ndim <= 1 for n in plain)
    # conv kernels, LSTM weight matrices and the classifier's weight decay...
    assert {"conv.0.0.weight", "conv.1.0.weight", "rnn.forward_layers.0.weight_ih_l0",
            "rnn.backward_layers.1.weight_hh_l0", "classifier.weight"} <= decayed
    # ...LSTM biases, BatchNorm scales and shifts and the classifier's bias do not
    assert {"rnn.forward_layers.0.bias_ih_l0", "rnn.backward_layers.1.bias_hh_l0", "conv.0.1.weight",
            "conv.0.1.bias", "conv.1.1.weight", "conv.1.1.bias", "classifier.bias"} <= plain


def test_adamw_leaves_the_undecayed_group_alone():
    """With no gradient, AdamW moves a parameter only by its weight decay."""
    model = ContentEncoder(FrontEnd(), TINY)
    optimizer = adamw(model, lr=0.1, weight_decay=0.5)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for name, p in model.named_parameters():
        if p.ndim > 1:
            torch.testing.assert_close(p.detach(), before[name] * (1 - 0.1 * 0.5))
        else:
            assert torch.equal(p.detach(), before[name]), name


def one_cycle_rates(total: int, lr: float, warmup_fraction: float, final_lr_fraction: float,
                    cycle_momentum: bool = True) -> tuple[list[float], list[float]]:
    """The learning rate and Adam beta1 each of `total` optimiser steps runs at."""
    model = torch.nn.Linear(2, 2)
    optimizer = adamw(model, lr, 0.0)
    schedule = one_cycle(optimizer, lr, total, warmup_fraction, final_lr_fraction, cycle_momentum)
    rates, betas = [], []
    for _ in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        betas.append(optimizer.param_groups[0]["betas"][0])
        optimizer.step()
        schedule.step()
    return rates, betas


def test_one_cycle_cycles_beta1_only_when_asked():
    _, cycled = one_cycle_rates(20, 1.0, 0.25, 0.1, cycle_momentum=True)
    _, fixed = one_cycle_rates(20, 1.0, 0.25, 0.1, cycle_momentum=False)
    assert cycled[0] == pytest.approx(0.95) and min(cycled) == pytest.approx(0.85)
    assert set(fixed) == {0.9}


def test_one_cycle_warms_up_to_lr_then_decays_to_the_final_fraction():
    rates, _ = one_cycle_rates(100, lr=2.0, warmup_fraction=0.1, final_lr_fraction=0.05)
    assert rates[0] == pytest.approx(2.0 / 25)
    peak = 9  # the last step of the warm-up (10 % of 100 steps)
    assert rates[peak] == pytest.approx(2.0) and max(rates) == pytest.approx(2.0)
    assert all(a < b for a, b in zip(rates[:peak], rates[1:peak + 1]))      # rising through the warm-up
    assert all(a > b for a, b in zip(rates[peak:], rates[peak + 1:]))      # falling after it
    assert rates[-1] == pytest.approx(2.0 * 0.05)


@pytest.mark.parametrize("section", ["content", "style"])
def test_one_cycle_with_each_trainings_params(section):
    params = load_params()
    cfg = params.content.train if section == "content" else params.style
    total = 400
    rates, _ = one_cycle_rates(total, cfg.lr, cfg.warmup_fraction, cfg.final_lr_fraction, cfg.cycle_momentum)
    peak = round(total * cfg.warmup_fraction) - 1
    assert rates[peak] == pytest.approx(cfg.lr) and max(rates) == pytest.approx(cfg.lr)
    assert rates[-1] == pytest.approx(cfg.lr * cfg.final_lr_fraction)


def test_a_warm_up_over_every_step_is_refused_by_the_config():
    """OneCycleLR needs a decay phase: warmup_fraction 1.0 would divide by zero at the last step."""
    from pipeline.config import ConfigError, ContentTrainConfig, StyleConfig, load_params, parse, to_dict

    params = load_params()
    for cls, section, where in ((ContentTrainConfig, params.content.train, "content.train"), (StyleConfig, params.style, "style")):
        with pytest.raises(ConfigError, match=rf"{where}\.warmup_fraction: must be < 1"):
            parse(cls, {**to_dict(section), "warmup_fraction": 1.0}, where)
