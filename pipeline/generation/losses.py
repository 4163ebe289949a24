"""The generation losses on a target log1p spectrogram. Each is zero when the target's statistics
equal the reference's and grows with the difference; weights come from
`params.yaml: generate.method`.

- content: MSE between the content encoder's conv maps of target and speech, over the speech
  maps' mean square (a relative error, so weights mean the same for any clip's loudness);
- Gram style: per chosen style-encoder block, MSE between the target's Gram matrix and the
  reference's, over the reference Gram's mean square (Gatys et al.; each block counts alike);
- centroid: 1 - cos(style embedding, hip-hop centroid), the style encoder's own training distance;
- total variation: mean absolute frame-to-frame change of the log-magnitude.
"""
from __future__ import annotations

import torch
from torch import nn


def gram_matrix(feature_map: torch.Tensor) -> torch.Tensor:
    """(B, C, F, T) -> (B, C, C): channel co-activations averaged over positions, so a crop and a
    whole clip are on the same scale."""
    batch, channels = feature_map.shape[:2]
    flat = feature_map.reshape(batch, channels, -1)
    return flat @ flat.transpose(1, 2) / flat.shape[-1]


def relative_mse(value: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """mean((value - reference)^2) / mean(reference^2) per batch item: (B, ...) -> (B,)."""
    dims = tuple(range(1, value.dim()))
    scale = reference.pow(2).mean(dim=dims).clamp_min(1e-12)
    return (value - reference).pow(2).mean(dim=dims) / scale


def content_loss(target_maps: list[torch.Tensor], speech_maps: list[torch.Tensor]) -> torch.Tensor:
    """Lists of (B, C, F, T) maps (`ContentEncoder.content_features`) -> (B,): relative MSE summed over layers."""
    return sum(relative_mse(t, s) for t, s in zip(target_maps, speech_maps))


def gram_loss(target_maps: list[torch.Tensor], reference_grams: list[torch.Tensor]) -> torch.Tensor:
    """Target block maps [(B, C_i, F_i, T_i)] and reference Grams [(C_i, C_i)] -> (B,): relative
    Gram MSE summed over the blocks."""
    return sum(relative_mse(gram_matrix(m), g.expand(m.shape[0], -1, -1)) for m, g in zip(target_maps, reference_grams))


def centroid_loss(embedding: torch.Tensor, centroid: torch.Tensor) -> torch.Tensor:
    """(B, D) embeddings, (D,) centroid -> (B,): cosine distance."""
    return 1.0 - nn.functional.cosine_similarity(embedding, centroid.expand_as(embedding), dim=-1)


def total_variation(log_magnitude: torch.Tensor) -> torch.Tensor:
    """(B, F, T) -> (B,): mean |x[t + 1] - x[t]|."""
    return (log_magnitude[..., 1:] - log_magnitude[..., :-1]).abs().mean(dim=(-2, -1))
