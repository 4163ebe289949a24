"""The optimisation: a batch of target windows against the frozen encoders.

`Objective` holds what stays fixed (the speech's content maps, the reference Grams and centroid)
and scores a target batch term by term; `optimise` runs Adam or L-BFGS on the target's log1p
magnitude. Targets are read through `clamp_min(0)` (a log1p magnitude is never negative).

Not inside `content_encoder.input_gradient_mode()`: with torch 2.14 on this project's 2-core
machine, switching oneDNN off makes the content encoder's forward + backward to the input ~10x
*slower* (10 s clip, trained 8-channel encoder: 0.216 s vs 0.022 s a step; a whole 10 s clip at
the defaults 23.9 s vs 4.9 s), the opposite of what that context was measured to do before, so
generation leaves oneDNN on (see `benchmarks/bench_generate.py`).
"""
from __future__ import annotations

import sys

import torch
from torch import nn
from tqdm import tqdm

from pipeline.config import GenerationMethodConfig
from pipeline.generation.losses import centroid_loss, content_loss, gram_loss, total_variation
from pipeline.generation.targets import StyleTargets
from pipeline.models.content_encoder import ContentEncoder
from pipeline.models.style_encoder import StyleEncoder

TERMS = ("content", "style", "centroid", "tv")


class Objective(nn.Module):
    """target (B, F, W) log1p magnitudes -> {term: (B,)} unweighted losses, and their weighted
    total (a scalar, summed over windows so each window's gradient is its own).

    speech: (B, F, W) the speech's windows (content reference). Terms with weight 0 are not run,
    so the baseline (content only) never pays for the style encoder. With `crop_frames`, the
    style terms see one random crop of every window per call (`crop_start` picks it)."""

    def __init__(self, content_encoder: ContentEncoder, style_encoder: StyleEncoder, speech: torch.Tensor,
                 targets: StyleTargets, method: GenerationMethodConfig):
        super().__init__()
        self.content_encoder, self.style_encoder, self.method = content_encoder, style_encoder, method
        self.weights = {"content": method.content_weight, "style": method.style_weight,
                        "centroid": method.centroid_weight, "tv": method.tv_weight}
        n_blocks = len(targets.grams)
        if max(method.style_blocks) > n_blocks:
            raise ValueError(f"generate.method.style_blocks names block {max(method.style_blocks)}, "
                             f"the style encoder has {n_blocks}")
        self.blocks = [b - 1 for b in method.style_blocks]
        self.grams = [targets.grams[b] for b in self.blocks]
        self.centroid = targets.centroid
        with torch.no_grad():
            self.speech_maps = [m.detach() for m in content_encoder.content_features(speech)]

    def crop_width(self, frames: int) -> int:
        crop = self.method.style_crop_frames
        return frames if crop is None else min(crop, frames)

    def terms(self, target: torch.Tensor, crop_start: int = 0) -> dict[str, torch.Tensor]:
        target = target.clamp_min(0)
        out = {}
        if self.weights["content"]:
            out["content"] = content_loss(self.content_encoder.content_features(target), self.speech_maps)
        if self.weights["style"] or self.weights["centroid"]:
            crop = target[..., crop_start:crop_start + self.crop_width(target.shape[-1])]
            maps = self.style_encoder.block_maps(crop)
            if self.weights["style"]:
                out["style"] = gram_loss([maps[b] for b in self.blocks], self.grams)
            if self.weights["centroid"]:
                out["centroid"] = centroid_loss(self.style_encoder.embed_last_map(maps[-1]), self.centroid)
        if self.weights["tv"]:
            out["tv"] = total_variation(target)
        return out

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights[name] * value.sum() for name, value in terms.items())


def optimise(objective: Objective, start: torch.Tensor, method: GenerationMethodConfig, generator: torch.Generator,
             progress: bool = False) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """Run `method.steps` steps from `start` (B, F, W). Returns the optimised (clamped) target and
    one row of summed terms (and `total`) per step, scored before that step's update."""
    # contiguous: an STFT's output is a transposed view, and L-BFGS flattens the gradient with view()
    target = start.clone(memory_format=torch.contiguous_format).requires_grad_(True)
    history: list[dict[str, float]] = []
    if method.steps == 0 or not any(objective.weights.values()):
        return start.clamp_min(0), history
    if method.optimizer == "adam":
        optimizer = torch.optim.Adam([target], lr=method.lr)
    else:
        optimizer = torch.optim.LBFGS([target], lr=method.lr, max_iter=1, history_size=20, line_search_fn="strong_wolfe")
    frames = start.shape[-1]
    span = frames - objective.crop_width(frames) + 1
    for _ in tqdm(range(method.steps), desc="generate", unit="step", file=sys.stderr, disable=not progress):
        crop_start = int(torch.randint(span, (1,), generator=generator))
        scored = {}

        def closure():
            optimizer.zero_grad()
            terms = objective.terms(target, crop_start)
            loss = objective.total(terms)
            loss.backward()
            if not scored:  # the first evaluation of the step: the target as it stood
                scored.update({k: float(v.detach().sum()) for k, v in terms.items()}, total=float(loss.detach()))
            return loss

        optimizer.step(closure)
        history.append(scored)
    return target.detach().clamp_min(0), history
