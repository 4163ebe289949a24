"""The content encoder: a DeepSpeech2-style convolutional front end over the shared log1p |STFT|,
a bidirectional recurrent head (LSTM or GRU) and a CTC output over characters. Its conv feature maps are the content
representation that generation matches; the head only exists to train them (and to transcribe).

Checkpoints follow `pipeline.models.checkpoints` (format tag and version, config, front end,
weights) plus the alphabet, so loading guesses nothing and the same weights give the same bytes.
Bad arguments raise ValueError, as torchaudio's modules do; entry points turn it into one line.
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from pipeline.audio import FrontEnd
from pipeline.config import ContentModelConfig, parse, to_dict
from pipeline.models.checkpoints import checkpoint_bytes, load_checkpoint, save_checkpoint

# CTC classes: index 0 is the blank, then space, apostrophe and the letters (LibriSpeech's set).
ALPHABET = " 'ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BLANK = 0
RNN_TYPES = {"lstm": nn.LSTM, "gru": nn.GRU}
CHECKPOINT = ("content_encoder", 2)  # format tag, version (1: before the shared checkpoint layout)


def encode_text(text: str) -> list[int]:
    """Transcript -> class indices (1-based; 0 is the blank). Upper-cases; other characters
    raise ValueError."""
    text = " ".join(text.upper().split())
    bad = sorted(set(text) - set(ALPHABET))
    if bad:
        raise ValueError(f"transcript {text!r} has characters outside the alphabet: {''.join(bad)!r}")
    return [ALPHABET.index(c) + 1 for c in text]


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
    """Best path: argmax per frame, merge repeats, drop blanks.

    log_probs (T, B, classes); lengths (B,) valid frames per item. Returns B strings.
    """
    best = log_probs.argmax(dim=-1).T.cpu().numpy()  # (B, T)
    texts = []
    for path, n in zip(best, lengths.tolist()):
        path = path[:n]
        keep = np.ones(len(path), dtype=bool)
        keep[1:] = path[1:] != path[:-1]
        texts.append("".join(ALPHABET[i - 1] for i in path[keep] if i != BLANK))
    return texts


class ConvBlock(nn.Sequential):
    """Conv2d + BatchNorm2d + Hardtanh(0, 20), DeepSpeech2's front-end unit.

    Input (B, C_in, F, T); output (B, C_out, F', T') with "same"-style padding (kernel // 2), so
    F' = (F - 1) // stride_f + 1 and T' = (T - 1) // stride_t + 1.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int], stride: tuple[int, int]):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=(kernel[0] // 2, kernel[1] // 2), bias=False),
            nn.BatchNorm2d(out_channels),
            nn.Hardtanh(0.0, 20.0, inplace=True),
        )
        self.stride = tuple(stride)


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence's first `lengths[b]` frames, leaving its padding at the end.

    x (T, B, D); lengths (B,). Applying it twice gives x back.
    """
    frames = torch.arange(x.shape[0], device=x.device).unsqueeze(1)  # (T, 1)
    lengths = lengths.to(x.device).unsqueeze(0)  # (1, B)
    index = torch.where(frames < lengths, lengths - 1 - frames, frames)  # (T, B)
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


class BiRNN(nn.Module):
    """Stacked bidirectional LSTM or GRU on padded batches, exact for every length.

    On the CPU, LSTM training runs oneDNN's fused kernel, ~4x faster than GRU's step-by-step
    autograd at small batches. An RNN on a packed sequence is exact but ~2x slower on the CPU than
    on a padded tensor, where
    the backward direction would start in the padding. Here the backward direction runs on each
    sequence reversed within its own length, so padding never reaches a valid frame.
    Input (T, B, input_size), lengths (B,); output (T, B, 2 * hidden) (padding frames: garbage).
    """

    def __init__(self, input_size: int, hidden: int, layers: int, rnn_type: str = "gru"):
        super().__init__()
        if rnn_type not in RNN_TYPES:
            raise ValueError(f"content.model.rnn_type must be one of {sorted(RNN_TYPES)}, got {rnn_type!r}")
        cell = RNN_TYPES[rnn_type]
        sizes = [input_size] + [2 * hidden] * (layers - 1)
        self.forward_layers = nn.ModuleList(cell(size, hidden) for size in sizes)
        self.backward_layers = nn.ModuleList(cell(size, hidden) for size in sizes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        for forward_rnn, backward_rnn in zip(self.forward_layers, self.backward_layers):
            ahead, _ = forward_rnn(x)
            behind, _ = backward_rnn(reverse_within_lengths(x, lengths))
            x = torch.cat([ahead, reverse_within_lengths(behind, lengths)], dim=-1)
        return x


def valid_frames(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(B,) lengths -> (B, 1, frames) float mask, 1 on each item's own frames."""
    return (torch.arange(frames, device=lengths.device) < lengths.unsqueeze(1)).unsqueeze(1).float()


def utterance_mean_norm(spectrogram: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Subtract each item's mean over its frames, per frequency bin (cepstral mean normalisation
    on the log spectrogram): a voice's or a room's average spectral envelope is gone. Frames past
    `lengths` become 0, as the convs' own padding is.

    spectrogram (B, F, T); lengths (B,) -> (B, F, T)."""
    if lengths is None:
        return spectrogram - spectrogram.mean(dim=-1, keepdim=True)
    valid = valid_frames(lengths.to(spectrogram.device), spectrogram.shape[-1]).to(spectrogram.dtype)  # (B, 1, T)
    mean = (spectrogram * valid).sum(dim=-1, keepdim=True) / valid.sum(dim=-1, keepdim=True).clamp(min=1)
    return (spectrogram - mean) * valid


class ContentEncoder(nn.Module):
    """log1p spectrogram -> (each bin's utterance mean removed, with `input_norm`) -> conv feature
    maps (the content) -> BiRNN -> per-frame character log-probs.

    `forward(spectrogram (B, n_freq, T), lengths (B,))` -> (log_probs (T', B, classes), out_lengths (B,)).
    `content_features(spectrogram (B, n_freq, T))` -> [(B, C_i, F_i, T_i)] for `content_layers`.
    """

    def __init__(self, front_end: FrontEnd, config: ContentModelConfig):
        super().__init__()
        if not isinstance(config, ContentModelConfig):
            raise TypeError(f"config must be a ContentModelConfig, got {type(config).__name__}")
        self.front_end, self.config = front_end, config  # the config checked its own consistency
        channels = [1] + list(config.conv_channels)
        self.conv = nn.ModuleList(ConvBlock(channels[i], channels[i + 1], config.conv_kernels[i], config.conv_strides[i])
                                  for i in range(len(config.conv_channels)))
        # oneDNN runs these convs (above all the 1-channel first one) ~4x faster channels-last on the CPU.
        self.conv.to(memory_format=torch.channels_last)
        n_freq = front_end.n_freq
        for stride in config.conv_strides:
            n_freq = (n_freq - 1) // stride[0] + 1
        self.head_stride = config.head_stride
        self.rnn = BiRNN(channels[-1] * n_freq * config.head_stride, config.rnn_hidden, config.rnn_layers, config.rnn_type)
        self.classifier = nn.Linear(2 * config.rnn_hidden, len(ALPHABET) + 1)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        for block in self.conv:
            lengths = torch.div(lengths - 1, block.stride[1], rounding_mode="floor") + 1
        return torch.div(lengths - 1, self.head_stride, rounding_mode="floor") + 1

    def normalise_input(self, spectrogram: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The spectrogram the convs see: as it is, or with `input_norm: utterance_mean`, each
        bin's mean over the utterance (its first `lengths` frames) removed."""
        return utterance_mean_norm(spectrogram, lengths) if self.config.input_norm == "utterance_mean" else spectrogram

    def conv_maps(self, spectrogram: torch.Tensor, lengths: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Every conv block's output, first to last: [(B, C_i, F_i, T_i)]. With `lengths`, frames
        past each item's end are zeroed, as the next conv's own padding would be, so a padded
        batch gives every item exactly what it gets alone."""
        x = self.normalise_input(spectrogram, lengths).unsqueeze(1)
        maps = []
        for block in self.conv:
            x = block(x)
            if lengths is not None:
                lengths = torch.div(lengths - 1, block.stride[1], rounding_mode="floor") + 1
                x = x * valid_frames(lengths.to(x.device), x.shape[-1]).unsqueeze(1)  # (B, 1, 1, T_i)
            maps.append(x)
        return maps

    def content_features(self, spectrogram: torch.Tensor) -> list[torch.Tensor]:
        """The content representation: the maps of `content_layers` (1-based conv indices)."""
        needed = max(self.config.content_layers)
        x, maps = self.normalise_input(spectrogram).unsqueeze(1), []
        for block in self.conv[:needed]:  # stop early: generation pays for every layer it runs
            x = block(x)
            maps.append(x)
        return [maps[i - 1] for i in self.config.content_layers]

    def forward(self, spectrogram: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv_maps(spectrogram, lengths)[-1]
        batch, channels, n_freq, frames = x.shape
        x = x.reshape(batch, channels * n_freq, frames).permute(2, 0, 1)  # (T', B, features)
        if self.head_stride > 1:
            # Stack `head_stride` consecutive frames: the RNN, whose cost is per step, runs on fewer steps.
            pad = -frames % self.head_stride
            x = nn.functional.pad(x, (0, 0, 0, 0, 0, pad))
            frames = (frames + pad) // self.head_stride
            x = x.reshape(frames, self.head_stride, batch, -1).permute(0, 2, 1, 3).reshape(frames, batch, -1)
        out_lengths = self.output_lengths(lengths).clamp(min=1, max=frames)
        return self.classifier(self.rnn(x, out_lengths)).log_softmax(dim=-1), out_lengths

    @torch.no_grad()
    def transcribe(self, waveform: np.ndarray) -> str:
        """Mono float samples at `front_end.sample_rate` -> upper-case transcript."""
        samples = torch.as_tensor(np.asarray(waveform, dtype=np.float32)).reshape(1, -1)
        if samples.shape[1] < self.front_end.win_length:
            raise ValueError("audio too short to transcribe")
        device = next(self.parameters()).device
        spectrogram = self.front_end.spectrogram()(samples).to(device)
        lengths = torch.tensor([spectrogram.shape[-1]], device=device)
        log_probs, out_lengths = self(spectrogram, lengths)
        return greedy_decode(log_probs, out_lengths)[0]


@contextlib.contextmanager
def input_gradient_mode():
    """Context for steps that backpropagate to the input spectrogram (generation), forward and
    backward both inside it. oneDNN's gradient to the input of the wide first conv (one input
    channel, 41 x 11 kernel) is ~10x slower on the CPU than ATen's own kernel (10 s clip, 8
    channels: 3.5 s vs 0.35 s), so it is switched off there."""
    with warnings.catch_warnings():  # torch warns about TF32 on Intel GPUs whenever the flags change
        warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def freeze(model: ContentEncoder) -> ContentEncoder:
    """Eval mode (BatchNorm uses its running statistics) and no weight gradients; gradients can
    still flow to the input spectrogram, which is what generation needs."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def recogniser_bytes(model: nn.Module, checkpoint: tuple[str, int] = CHECKPOINT) -> bytes:
    """A CTC recogniser's checkpoint bytes (`checkpoint`: format tag, version), alphabet included."""
    return checkpoint_bytes(model, *checkpoint, to_dict(model.config), alphabet=ALPHABET)


def save_recogniser(model: nn.Module, path: str | Path, checkpoint: tuple[str, int] = CHECKPOINT) -> None:
    save_checkpoint(path, model, *checkpoint, to_dict(model.config), alphabet=ALPHABET)


def load_recogniser(path: str | Path, build: Callable, config_type: type, checkpoint: tuple[str, int], stage: str,
                    device: str | torch.device = "cpu") -> nn.Module:
    """`build(front_end, config)` with the weights of the `checkpoint` file at `path` (made by
    `stage`), frozen in eval mode, on `device`; its alphabet must be ours."""
    payload = load_checkpoint(path, *checkpoint, stage=stage)
    if payload.get("alphabet") != ALPHABET:
        raise ValueError(f"{path} was trained with another alphabet")
    model = build(FrontEnd(**payload["front_end"]), parse(config_type, payload["config"], "config"))
    model.load_state_dict(payload["state_dict"])
    return freeze(model.to(device))


def content_checkpoint_bytes(model: ContentEncoder) -> bytes:
    return recogniser_bytes(model)


def save_content_encoder(model: ContentEncoder, path: str | Path) -> None:
    save_recogniser(model, path)


def load_content_encoder(path: str | Path, device: str | torch.device = "cpu") -> ContentEncoder:
    """Load a saved encoder, frozen in eval mode, on `device`."""
    return load_recogniser(path, ContentEncoder, ContentModelConfig, CHECKPOINT, "pretrain_content", device)
