"""The ASR judge: a CTC recogniser built unlike the content encoder, so that `content_cer` is not
the optimiser grading itself. Never used in any loss.

Where the content encoder runs 2D convolutions over the linear log1p |STFT| into a BiLSTM, the
judge takes the same spectrogram, undoes the log1p (expm1), applies a torchaudio mel filterbank
to the power, takes the log, normalises each utterance per mel band (mean and variance over its
own frames, so loudness and channel do not matter), and runs a Conv1d subsampling stack (mel
bands as channels) into a bidirectional GRU of its own depth. It keeps the content encoder's
contract, `forward(spectrogram (B, n_freq, T) log1p, lengths (B,)) -> (log_probs (T', B,
classes), out_lengths (B,))`, and its alphabet, so the one training loop
(`pipeline.training.content.train_content_encoder(build_model=...)`) trains it.

Checkpoints follow `pipeline.models.checkpoints` (format tag `asr_judge`, version, config, front
end, weights, alphabet).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torchaudio
from torch import nn

from pipeline.audio import FrontEnd
from pipeline.config import AsrJudgeModelConfig
from pipeline.models.content_encoder import (ALPHABET, BiRNN, ContentEncoder, load_recogniser, recogniser_bytes,
                                             save_recogniser, valid_frames)

CHECKPOINT = ("asr_judge", 1)
LOG_FLOOR = 1e-6   # added to the mel power before the log (silence -> log(1e-6))
NORM_FLOOR = 1e-3  # added to each band's standard deviation (a constant band stays finite)


class LogMel(nn.Module):
    """log1p |STFT| (B, n_freq, T) -> log mel power normalised per utterance and band (B, n_mels, T).

    Mean and variance come from each item's first `lengths[b]` frames only; frames past them are
    zero, so a padded batch gives every item what it gets alone.
    """

    def __init__(self, front_end: FrontEnd, n_mels: int, f_min: float):
        super().__init__()
        fbanks = torchaudio.functional.melscale_fbanks(
            n_freqs=front_end.n_freq, f_min=f_min, f_max=front_end.sample_rate / 2, n_mels=n_mels,
            sample_rate=front_end.sample_rate, norm="slaney", mel_scale="slaney")  # (n_freq, n_mels)
        self.register_buffer("fbanks", fbanks, persistent=False)  # rebuilt from the config, never saved

    def forward(self, spectrogram: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        power = torch.expm1(spectrogram).clamp_min(0).square()
        mel = torch.log(torch.einsum("bft,fm->bmt", power, self.fbanks) + LOG_FLOOR)
        mask = valid_frames(lengths, mel.shape[-1])
        count = mask.sum(-1, keepdim=True).clamp_min(1)
        mean = (mel * mask).sum(-1, keepdim=True) / count
        std = (((mel - mean) * mask).square().sum(-1, keepdim=True) / count).sqrt()
        return (mel - mean) / (std + NORM_FLOOR) * mask


class Subsampling(nn.Module):
    """Conv1d + BatchNorm1d + GELU blocks over time, each with stride s_i and "same" padding:
    (B, n_mels, T) -> (B, C_last, T'), T' = ((T - 1) // s_1 + 1 ...). Frames past each item's
    length are zeroed after every block, as its own padding would be."""

    def __init__(self, in_channels: int, channels: tuple[int, ...], kernels: tuple[int, ...], strides: tuple[int, ...]):
        super().__init__()
        sizes = [in_channels, *channels]
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(sizes[i], sizes[i + 1], kernels[i], stride=strides[i], padding=kernels[i] // 2,
                                    bias=False), nn.BatchNorm1d(sizes[i + 1]), nn.GELU())
            for i in range(len(channels)))
        self.strides = tuple(strides)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for block, stride in zip(self.blocks, self.strides):
            x = block(x)
            lengths = torch.div(lengths - 1, stride, rounding_mode="floor") + 1
            x = x * valid_frames(lengths, x.shape[-1])
        return x, lengths


class AsrJudge(nn.Module):
    """log1p spectrogram -> normalised log-mel -> Conv1d subsampling -> BiGRU -> CTC log-probs.

    `forward(spectrogram (B, n_freq, T), lengths (B,))` -> (log_probs (T', B, classes), out_lengths (B,)).
    `transcribe(waveform)` -> upper-case text, as the content encoder's.
    """

    transcribe = ContentEncoder.transcribe  # the same decoding; it only uses the forward contract

    def __init__(self, front_end: FrontEnd, config: AsrJudgeModelConfig):
        super().__init__()
        if not isinstance(config, AsrJudgeModelConfig):
            raise TypeError(f"config must be an AsrJudgeModelConfig, got {type(config).__name__}")
        self.front_end, self.config = front_end, config
        self.mel = LogMel(front_end, config.n_mels, config.f_min)
        self.subsample = Subsampling(config.n_mels, config.conv_channels, config.conv_kernels, config.conv_strides)
        self.rnn = BiRNN(config.conv_channels[-1], config.rnn_hidden, config.rnn_layers, "gru")
        self.classifier = nn.Linear(2 * config.rnn_hidden, len(ALPHABET) + 1)

    def forward(self, spectrogram: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = lengths.to(spectrogram.device).clamp(min=1, max=spectrogram.shape[-1])
        x, out_lengths = self.subsample(self.mel(spectrogram, lengths), lengths)
        x = x.permute(2, 0, 1)  # (T', B, C)
        return self.classifier(self.rnn(x, out_lengths)).log_softmax(dim=-1), out_lengths


def asr_judge_bytes(model: AsrJudge) -> bytes:
    return recogniser_bytes(model, CHECKPOINT)


def save_asr_judge(model: AsrJudge, path: str | Path) -> None:
    save_recogniser(model, path, CHECKPOINT)


def load_asr_judge(path: str | Path, device: str | torch.device = "cpu") -> AsrJudge:
    """Load a saved judge, frozen in eval mode, on `device`."""
    return load_recogniser(path, AsrJudge, AsrJudgeModelConfig, CHECKPOINT, "train_judges", device)
