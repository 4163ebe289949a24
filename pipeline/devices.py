"""Which torch device a stage runs on: one rule for every `<section>.device` param."""
from __future__ import annotations

import torch

from pipeline.errors import UserError


def pick_device(name: str, param: str = "device") -> torch.device:
    """`auto` (CUDA when present, else the CPU) | `cpu` | `cuda`; `param` names the key in errors."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise UserError(f"{param} must be auto, cpu or cuda, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError(f"{param} is cuda but no CUDA device is available")
    return torch.device(name)
