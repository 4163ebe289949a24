"""Generation speed on one 10 s clip at the default settings (`params.yaml: generate.method`),
with the per-step breakdown (content encoder, style encoder, optimiser update, the whole step)
and Griffin-Lim, and the baseline (the original's settings) beside it.

The encoders are built from params.yaml with fresh weights: the cost is the architecture's, so
the bench needs no trained models. The clip is a synthetic voiced signal over a click beat.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from benchmarks.bench_content import timed
from pipeline.config import GenerationMethodConfig, load_params
from pipeline.generation.flow import beat_grid, flow_to_grid
from pipeline.generation.generator import Generator
from pipeline.generation.init import initial_spectrogram
from pipeline.generation.optimise import Objective
from pipeline.generation.targets import reference_statistics
from pipeline.models.content_encoder import ContentEncoder, input_gradient_mode
from pipeline.models.style_encoder import StyleEncoder

CLIP_S = 10.0
CLIP_TARGET_S = 20.0
STEP_TARGET_S = 0.1


def synthetic_clip(seconds: float, rate: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(speech-like, beat-like) mono samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    voiced = sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 10)) * (np.sin(2 * np.pi * 3.5 * t) > 0)
    beat = rng.standard_normal(len(t)) * np.exp(-((t * 1.5) % 1) * 25) + 0.2 * np.sin(2 * np.pi * 50 * t)
    return (0.1 * voiced).astype(np.float32), (0.2 * beat).astype(np.float32)


def step_parts(generator: Generator, speech: np.ndarray, beat: np.ndarray, method: GenerationMethodConfig,
               repeats: int = 5) -> dict[str, float]:
    """Seconds per step of each term's forward + backward to the target, and of the Adam update."""
    front_end = generator.front_end
    speech_spectrogram = front_end.spectrogram()(torch.from_numpy(speech))[None]
    start = initial_spectrogram(speech, method.init, method.beat_level, front_end, beat)[None].contiguous()
    objective = Objective(generator.content_encoder, generator.style_encoder, speech_spectrogram, generator.targets,
                          method)
    target = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([target], lr=method.lr)
    parts = {}
    for name in ("content", "style"):
        weights = {k: (v if k == name or (name == "style" and k == "centroid") else 0.0)
                   for k, v in objective.weights.items()}
        saved, objective.weights = objective.weights, weights
        parts[name] = timed(lambda: objective.total(objective.terms(target)).backward(), repeats) \
            if any(weights.values()) else 0.0
        objective.weights = saved
    with input_gradient_mode():  # oneDNN off, as the content encoder's docstring advises: measured slower here
        parts["content_onednn_off"] = timed(lambda: content_only(objective, target).backward(), repeats)
    target.grad = torch.ones_like(target)
    parts["optimiser"] = timed(optimizer.step, repeats)
    return parts


def content_only(objective: Objective, target: torch.Tensor) -> torch.Tensor:
    return objective.content_encoder.content_features(target)[0].pow(2).mean()


def run() -> list[dict]:
    params = load_params()
    config, front_end = params.generate, params.audio
    torch.manual_seed(0)
    content = ContentEncoder(front_end, params.content.model)
    style = StyleEncoder.from_params(params.style, front_end)
    speech, beat = synthetic_clip(CLIP_S, front_end.sample_rate)
    with torch.no_grad():
        targets = reference_statistics(style.eval(), [front_end.spectrogram()(torch.from_numpy(beat))])
    generator = Generator(content, style, targets, config)
    rows = []
    for name, method in (("method", config.method), ("baseline", config.baseline)):
        parts = step_parts(generator, speech, beat, method)
        result = generator.generate(speech, method, seed=0, beat=beat)
        griffin_lim = timed(lambda: generator.front_end.griffin_lim(method.griffin_lim_iterations,
                                                                    momentum=method.griffin_lim_momentum)(
            result.output_spectrogram, length=len(speech)), 2)
        step = (result.seconds - griffin_lim) / max(method.steps, 1)
        label = f"generate ({name}): "
        rows += [
            {"benchmark": label + "content encoder fwd+bwd, 10 s", "value": round(parts["content"], 4), "unit": "s / step",
             "target": "", "ok": None},
            {"benchmark": label + "  same inside input_gradient_mode (oneDNN off)",
             "value": round(parts["content_onednn_off"], 4), "unit": "s / step", "target": "not used", "ok": None},
            {"benchmark": label + "style encoder fwd+bwd (Gram + centroid)", "value": round(parts["style"], 4),
             "unit": "s / step", "target": "", "ok": None},
            {"benchmark": label + "optimiser update", "value": round(parts["optimiser"], 5), "unit": "s / step",
             "target": "", "ok": None},
            {"benchmark": label + f"whole step ({method.steps} steps)", "value": round(step, 4), "unit": "s / step",
             "target": f"<= {STEP_TARGET_S} (aim)" if name == "method" else "", "ok": None},
            {"benchmark": label + f"Griffin-Lim ({method.griffin_lim_iterations} it.)", "value": round(griffin_lim, 3),
             "unit": "s", "target": "", "ok": None},
            {"benchmark": label + "one 10 s clip, end to end", "value": round(result.seconds, 2), "unit": "s",
             "target": f"<= {CLIP_TARGET_S:g}" if name == "method" else "",
             "ok": result.seconds <= CLIP_TARGET_S if name == "method" else None},
        ]
    # beat-aligned flow: the onset analysis and stretch before the optimisation, and the whole clip with it
    flow_method = dataclasses.replace(config.method, flow="beat")
    grid = beat_grid(beat, front_end.sample_rate, config.flow)
    stretch = timed(lambda: flow_to_grid(speech, front_end.sample_rate, grid, config.flow), 2)
    result = generator.generate(speech, flow_method, seed=0, beat=beat)
    rows += [
        {"benchmark": "generate (flow: beat): onsets + stretch onto the grid, 10 s", "value": round(stretch, 3),
         "unit": "s", "target": "", "ok": None},
        {"benchmark": "generate (flow: beat): one 10 s clip, end to end", "value": round(result.seconds, 2), "unit": "s",
         "target": f"<= {CLIP_TARGET_S:g}", "ok": result.seconds <= CLIP_TARGET_S},
    ]
    return rows
