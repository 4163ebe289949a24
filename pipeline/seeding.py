"""Seed every generator from params.yaml and make torch deterministic."""
from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int) -> None:
    import torch

    # cuBLAS needs this for deterministic matmuls on CUDA; harmless on the CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
