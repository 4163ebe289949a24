"""The style encoder: log1p spectrogram -> harmonic filters (dB) -> BatchNorm -> 2D CNN -> embedding.

The harmonics are the CNN's input channels (Won et al. 2020), so 3x3 kernels see a local patch of
pitch x time at every harmonic at once. The CNN is a list of blocks from params: `conv` (3x3 conv,
BN, ReLU, max-pool: the paper's Conv_2d) and `res` (two 3x3 convs with a skip, then max-pool: its
Res_2d_mp); a global max (the paper's; optionally max and mean side by side) over frequency and
time and one Linear give the embedding. The original
project's size (6 -> 128, three res 128, 128 -> 256, two res 256 with pool (2, 3), Linear 256 +
sigmoid) is one `blocks` list away; the default is slimmer to fit the CPU budget.

A saved model holds its weights, its config and the front end's dict; `load_style_encoder`
rebuilds it without reading params.yaml.
"""
from __future__ import annotations

import io
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from pipeline.audio import FrontEnd
from pipeline.errors import UserError
from pipeline.fileio import atomic_path
from pipeline.models.harmonic_filters import HarmonicFilters

ACTIVATIONS = ("none", "sigmoid")
GLOBAL_POOLS = ("max", "max_mean")


@dataclass(frozen=True)
class Block:
    kind: str          # conv | res
    channels: int
    pool: tuple[int, int]  # (frequency, time)


@dataclass(frozen=True)
class StyleEncoderConfig:
    n_harmonic: int = 6
    semitone_scale: int = 2
    initial_q: float = 1.0
    learn_q: bool = True
    min_amplitude: float = 1e-4
    time_pool: int = 1
    blocks: tuple[Block, ...] = field(default_factory=tuple)
    embedding_size: int = 256
    activation: str = "none"
    global_pool: str = "max"

    @classmethod
    def from_params(cls, style: dict) -> "StyleEncoderConfig":
        """From the `style.harmonic` and `style.encoder` params."""
        harmonic, encoder = style["harmonic"], style["encoder"]
        try:
            blocks = tuple(Block(str(b["kind"]), int(b["channels"]), tuple(int(p) for p in b["pool"])) for b in encoder["blocks"])
            return cls(n_harmonic=int(harmonic["n_harmonic"]), semitone_scale=int(harmonic["semitone_scale"]),
                       initial_q=float(harmonic["initial_q"]), learn_q=bool(harmonic["learn_q"]),
                       min_amplitude=float(harmonic["min_amplitude"]), time_pool=int(harmonic["time_pool"]), blocks=blocks,
                       embedding_size=int(encoder["embedding_size"]), activation=str(encoder["activation"]),
                       global_pool=str(encoder["global_pool"]))
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"params style.harmonic / style.encoder: bad or missing value ({err})") from None

    @classmethod
    def from_dict(cls, data: dict) -> "StyleEncoderConfig":
        blocks = tuple(Block(b["kind"], b["channels"], tuple(b["pool"])) for b in data["blocks"])
        return cls(**{**data, "blocks": blocks})

    def to_dict(self) -> dict:
        data = asdict(self)
        data["blocks"] = [{"kind": b.kind, "channels": b.channels, "pool": list(b.pool)} for b in self.blocks]
        return data


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


def build_cnn(in_channels: int, blocks: tuple[Block, ...]) -> tuple[nn.Sequential, int]:
    """The block stack and its output channel count."""
    if not blocks:
        raise UserError("style.encoder.blocks must list at least one block")
    layers, channels = [], in_channels
    for i, block in enumerate(blocks):
        if block.channels < 1 or len(block.pool) != 2 or min(block.pool) < 1:
            raise UserError(f"style.encoder.blocks[{i}]: need channels >= 1 and pool [freq, time] >= 1")
        if block.kind == "conv":
            layers.append(ConvBlock(channels, block.channels, block.pool))
        elif block.kind == "res":
            if block.channels != channels:
                raise UserError(f"style.encoder.blocks[{i}]: a res block keeps its input's {channels} channels, got {block.channels}")
            layers.append(ResidualBlock(channels, block.pool))
        else:
            raise UserError(f"style.encoder.blocks[{i}].kind must be conv or res, got {block.kind!r}")
        channels = block.channels
    return nn.Sequential(*layers), channels


class StyleEncoder(nn.Module):
    """log1p spectrogram -> style embedding.

    forward: (B, n_freq, T) log1p |STFT| from `front_end` (any T) -> (B, embedding_size).
    embed_waveform: (B, samples) at front_end.sample_rate -> (B, embedding_size).
    Takes the spectrogram (not audio) so the generator can backpropagate into the spectrogram it
    optimises.
    """

    def __init__(self, config: StyleEncoderConfig, front_end: FrontEnd):
        super().__init__()
        if config.activation not in ACTIVATIONS:
            raise UserError(f"style.encoder.activation must be one of {list(ACTIVATIONS)}, got {config.activation!r}")
        if config.global_pool not in GLOBAL_POOLS:
            raise UserError(f"style.encoder.global_pool must be one of {list(GLOBAL_POOLS)}, got {config.global_pool!r}")
        if config.embedding_size < 1:
            raise UserError("style.encoder.embedding_size must be >= 1")
        self.config, self.front_end = config, front_end
        self.spectrogram = front_end.spectrogram()
        self.harmonic = HarmonicFilters(front_end.sample_rate, front_end.n_freq, config.n_harmonic,
                                        config.semitone_scale, config.initial_q, config.learn_q,
                                        config.min_amplitude, config.time_pool)
        self.harmonic_norm = nn.BatchNorm2d(config.n_harmonic)
        self.cnn, channels = build_cnn(config.n_harmonic, config.blocks)
        pooled = channels * (2 if config.global_pool == "max_mean" else 1)
        self.project = nn.Linear(pooled, config.embedding_size)

    def forward(self, log_spectrogram: torch.Tensor) -> torch.Tensor:
        x = self.harmonic_norm(self.harmonic(log_spectrogram))  # (B, H, level, T)
        x = self.cnn(x)                                          # (B, C, F', T')
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


def save_style_encoder(model: StyleEncoder, path: str | Path) -> None:
    """Weights (plain tensors), config and front end in one file; same model -> same bytes."""
    state = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
    payload = {"config": model.config.to_dict(), "front_end": model.front_end.to_dict(), "state_dict": state}
    buffer = io.BytesIO()  # a file-like target names the zip's root `archive`, not the temp file
    torch.save(payload, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_style_encoder(path: str | Path) -> StyleEncoder:
    """Rebuild a saved encoder in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no style encoder at {path}: run `dvc repro train_style` first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        model = StyleEncoder(StyleEncoderConfig.from_dict(payload["config"]), FrontEnd(**payload["front_end"]))
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError, EOFError, pickle.UnpicklingError) as err:
        raise UserError(f"{path} is not a style encoder checkpoint: {str(err).splitlines()[0]}") from None
    return model.eval()
