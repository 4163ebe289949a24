"""Speech in, music out: the whole generation for one clip, shared by the `generate` stage and
`python -m pipeline generate`.

    generator = Generator(content_encoder, style_encoder, targets, params.generate)
    result = generator.generate(speech, params.generate.method, seed, beat=targets.beats[0].samples)
    save_audio("out.wav", result.waveform, 16000)

Same speech, method, beat and seed give the same samples, bit for bit.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.config import GenerateConfig, GenerationMethodConfig
from pipeline.fileio import md5_of
from pipeline.generation.flow import Grid, beat_grid, flow_to_grid
from pipeline.generation.init import initial_spectrogram
from pipeline.generation.optimise import Objective, optimise
from pipeline.generation.render import normalise_loudness, reconstruct, spectral_convergence
from pipeline.generation.targets import StyleTargets, load_style_targets
from pipeline.generation.windows import join_windows, split_windows, window_starts
from pipeline.models.content_encoder import ContentEncoder, freeze, load_content_encoder
from pipeline.models.style_encoder import StyleEncoder, load_style_encoder
from pipeline.seeding import seed_everything

MIN_SECONDS = 0.5


@dataclass
class Generated:
    """waveform: (n,) float32 at the front end's rate, loudness-normalised, as long as `speech`;
    speech: the speech as laid into the output (the input, or with `flow: beat` the input with its
    onsets on `grid`, often a little longer); input_spectrogram / output_spectrogram: (F, T) log1p
    magnitudes (of `speech`; of the optimised target); history: one row of loss terms per step;
    seconds: wall time of the whole clip."""
    waveform: np.ndarray
    speech: np.ndarray
    grid: Grid | None
    input_spectrogram: torch.Tensor
    output_spectrogram: torch.Tensor
    spectral_convergence: float
    history: list[dict[str, float]]
    seconds: float


def freeze_style(model: StyleEncoder) -> StyleEncoder:
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


class Generator:
    """The frozen encoders, the hip-hop targets and the windowing / output settings of
    `params.yaml: generate`; `generate` runs one method on one clip."""

    def __init__(self, content_encoder: ContentEncoder, style_encoder: StyleEncoder, targets: StyleTargets,
                 config: GenerateConfig):
        if content_encoder.front_end != style_encoder.front_end:
            raise ValueError("the content and style encoders were trained on different front ends: retrain one")
        self.front_end = content_encoder.front_end
        self.content_encoder, self.style_encoder = freeze(content_encoder), freeze_style(style_encoder)
        self.targets, self.config = targets, config
        frames_per_second = self.front_end.sample_rate / self.front_end.hop_length
        self.window_frames = int(round(config.window_seconds * frames_per_second)) + 1
        self.overlap_frames = int(round(config.overlap_seconds * frames_per_second))

    def generate(self, speech: np.ndarray, method: GenerationMethodConfig, seed: int, beat: np.ndarray | None = None,
                 progress: bool = False, grid: Grid | None = None) -> Generated:
        """Mono speech samples at the front end's rate -> `Generated`. With `method.flow: beat` the
        speech's onsets first move onto the grid of `beat` (`pipeline.generation.flow`): `grid`
        where the caller has already analysed that beat (`beat_grid`'s), else analysed here."""
        started = time.perf_counter()
        speech = np.asarray(speech, dtype=np.float32)
        if len(speech) < MIN_SECONDS * self.front_end.sample_rate:
            raise ValueError(f"speech shorter than {MIN_SECONDS} s")
        if method.flow != "beat":
            grid = None
        elif grid is None:
            grid = beat_grid(beat, self.front_end.sample_rate, self.config.flow)
        if grid is not None:
            speech = flow_to_grid(speech, self.front_end.sample_rate, grid, self.config.flow).samples
        seed_everything(seed)
        generator = torch.Generator().manual_seed(seed)
        device = next(self.content_encoder.parameters()).device
        with torch.no_grad():
            speech_spectrogram = self.front_end.spectrogram()(torch.from_numpy(speech))
        start = initial_spectrogram(speech, method.init, method.beat_level, self.front_end, beat, generator)
        frames = speech_spectrogram.shape[-1]
        starts = window_starts(frames, self.window_frames, self.overlap_frames)
        windows = split_windows(start, starts, self.window_frames).to(device)
        speech_windows = split_windows(speech_spectrogram, starts, self.window_frames).to(device)
        objective = Objective(self.content_encoder, self.style_encoder, speech_windows, self.targets.to(device), method)
        optimised, history = optimise(objective, windows, method, generator, progress)
        output = join_windows(optimised.cpu(), starts, frames)
        waveform = reconstruct(output, self.front_end, len(speech), method.griffin_lim_iterations,
                               method.griffin_lim_momentum, method.random_phase)
        convergence = spectral_convergence(output, waveform, self.front_end)
        samples = normalise_loudness(waveform, self.front_end.sample_rate, self.config.loudness_lufs,
                                     self.config.peak_dbfs)
        return Generated(samples, speech, grid, speech_spectrogram, output, convergence, history,
                         time.perf_counter() - started)


def load_generator(content_path: str | Path, style_path: str | Path, targets_path: str | Path, config: GenerateConfig,
                   device: torch.device | str = "cpu") -> Generator:
    """The trained encoders and their style targets (checked to belong to that style encoder)."""
    content_encoder = load_content_encoder(content_path, device)
    style_encoder = load_style_encoder(style_path).to(device)
    targets = load_style_targets(targets_path, style_encoder.front_end, md5_of(style_path))
    return Generator(content_encoder, style_encoder, targets, config)


def default_beat(targets: StyleTargets, index: int) -> np.ndarray | None:
    """The `index`-th kept beat, cycling (None when the targets keep none)."""
    return targets.beats[index % len(targets.beats)].samples if targets.beats else None
