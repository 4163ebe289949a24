"""The style encoder: log1p spectrogram -> harmonic filters (dB) -> BatchNorm -> 2D CNN -> embedding.

The harmonics are the CNN's input channels (Won et al. 2020), so 3x3 kernels see a local patch of
pitch x time at every harmonic at once. The CNN is a list of blocks from params: `conv` (3x3 conv,
BN, ReLU, max-pool: the paper's Conv_2d) and `res` (two 3x3 convs with a skip, then max-pool: its
Res_2d_mp); a global max (the paper's; optionally max and mean side by side) over frequency and
time and one Linear give the embedding. The original
project's size (6 -> 128, three res 128, 128 -> 256, two res 256 with pool (2, 3), Linear 256 +
sigmoid) is one `blocks` list away; the default is slimmer to fit the CPU budget.

A saved model follows `pipeline.models.checkpoints` (format tag and version, the `style.harmonic`
and `style.encoder` configs, the front end, weights); `load_style_encoder` rebuilds it without
reading params.yaml. Bad arguments raise ValueError; entry points turn it into one line.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pipeline.audio import FrontEnd
from pipeline.config import BlockConfig, HarmonicConfig, StyleCnnConfig, StyleConfig, parse, to_dict
from pipeline.models.checkpoints import load_checkpoint, save_checkpoint
from pipeline.models.harmonic_filters import HarmonicFilters

CHECKPOINT = ("style_encoder", 2)  # format tag, version (1: before the shared checkpoint layout)


class ConvBlock(nn.Sequential):
    """(B, C_in, F, T) -> (B, C_out, ceil(F / pf), ceil(T / pt)): 3x3 conv, BN, ReLU, max-pool."""

    def __init__(self, in_channels: int, out_channels: int, pool: tuple[int, int]):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            # ceil_mode: a short crop never pools a dimension down to zero
            nn.MaxPool2d(pool, ceil_mode=True),
        )


class ResidualBlock(nn.Module):
    """(B, C, F, T) -> (B, C, ceil(F / pf), ceil(T / pt)): x + BN(conv(ReLU(BN(conv(x))))), ReLU, max-pool."""

    def __init__(self, channels: int, pool: tuple[int, int]):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.pool = nn.Sequential(nn.ReLU(), nn.MaxPool2d(pool, ceil_mode=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x + self.body(x))


def build_cnn(in_channels: int, blocks: tuple[BlockConfig, ...]) -> tuple[nn.Sequential, int]:
    """The block stack and its output channel count (the config checked kinds and channels)."""
    layers, channels = [], in_channels
    for block in blocks:
        if block.kind == "conv":
            layers.append(ConvBlock(channels, block.channels, block.pool))
        else:
            layers.append(ResidualBlock(channels, block.pool))
        channels = block.channels
    return nn.Sequential(*layers), channels


class StyleEncoder(nn.Module):
    """log1p spectrogram -> style embedding.

    forward: (B, n_freq, T) log1p |STFT| from `front_end` (any T) -> (B, embedding_size).
    embed_waveform: (B, samples) at front_end.sample_rate -> (B, embedding_size).
    Takes the spectrogram (not audio) so the generator can backpropagate into the spectrogram it
    optimises.
    """

    def __init__(self, harmonic: HarmonicConfig, encoder: StyleCnnConfig, front_end: FrontEnd):
        super().__init__()
        for name, value, kind in (("harmonic", harmonic, HarmonicConfig), ("encoder", encoder, StyleCnnConfig)):
            if not isinstance(value, kind):
                raise TypeError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
        self.harmonic_config, self.config, self.front_end = harmonic, encoder, front_end
        self.spectrogram = front_end.spectrogram()
        self.harmonic = HarmonicFilters(front_end.sample_rate, front_end.n_freq, harmonic.n_harmonic,
                                        harmonic.semitone_scale, harmonic.initial_q, harmonic.learn_q,
                                        harmonic.min_amplitude, harmonic.time_pool)
        self.harmonic_norm = nn.BatchNorm2d(harmonic.n_harmonic)
        self.cnn, channels = build_cnn(harmonic.n_harmonic, encoder.blocks)
        pooled = channels * (2 if encoder.global_pool == "max_mean" else 1)
        self.project = nn.Linear(pooled, encoder.embedding_size)

    @classmethod
    def from_params(cls, style: StyleConfig, front_end: FrontEnd) -> "StyleEncoder":
        return cls(style.harmonic, style.encoder, front_end)

    def forward(self, log_spectrogram: torch.Tensor) -> torch.Tensor:
        return self.embed_last_map(self.cnn(self.harmonic_norm(self.harmonic(log_spectrogram))))

    def block_maps(self, log_spectrogram: torch.Tensor) -> list[torch.Tensor]:
        """Every CNN block's output, first to last: [(B, C_i, F_i, T_i)] (generation's Gram
        statistics). `embed_last_map(block_maps(x)[-1])` equals `forward(x)`."""
        x = self.harmonic_norm(self.harmonic(log_spectrogram))  # (B, H, level, T)
        maps = []
        for block in self.cnn:
            x = block(x)
            maps.append(x)
        return maps

    def embed_last_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's map (B, C, F', T') -> embedding (B, embedding_size)."""
        pooled = x.amax(dim=(-2, -1))                            # global max over pitch and time
        if self.config.global_pool == "max_mean":
            # the mean adds how often a pattern occurs, not only its strongest instance
            pooled = torch.cat([pooled, x.mean(dim=(-2, -1))], dim=1)
        x = self.project(pooled)
        return torch.sigmoid(x) if self.config.activation == "sigmoid" else x

    def embed_waveform(self, waveform: torch.Tensor) -> torch.Tensor:
        return self(self.spectrogram(waveform))

    @property
    def q(self) -> float:
        return float(self.harmonic.q.detach().reshape(-1)[0])


@torch.no_grad()
def embed(model: StyleEncoder, spectrograms: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N, F, T) -> (N, D) in eval mode, on the CPU; batches run on the model's device."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([model(spectrograms[i:i + batch_size].to(device)).cpu()
                     for i in range(0, len(spectrograms), batch_size)])
    model.train(was_training)
    return out


def save_style_encoder(model: StyleEncoder, path: str | Path) -> None:
    """Weights (plain tensors), both configs and the front end in one file; same model -> same bytes."""
    config = {"harmonic": to_dict(model.harmonic_config), "encoder": to_dict(model.config)}
    save_checkpoint(path, model, *CHECKPOINT, config)


def load_style_encoder(path: str | Path) -> StyleEncoder:
    """Rebuild a saved encoder in eval mode."""
    payload = load_checkpoint(path, *CHECKPOINT, stage="train_style")
    config = payload["config"]
    model = StyleEncoder(parse(HarmonicConfig, config["harmonic"], "harmonic"),
                         parse(StyleCnnConfig, config["encoder"], "encoder"), FrontEnd(**payload["front_end"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval()
