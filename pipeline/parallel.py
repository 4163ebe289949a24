"""Process pools for the data stages: forked workers, each single-threaded in torch.

Forking a process whose torch already ran an OpenMP parallel region (any earlier tensor work, as
in a test session) leaves the child with libgomp's thread pool state but none of its threads:
the child's first parallel op (say, a resample) then waits forever. With one torch thread, ATen
runs every op inline and never enters an OpenMP region; one thread per worker process is what a
pool wants anyway.
"""
from __future__ import annotations

import multiprocessing


def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


def fork_pool(workers: int, **kwargs) -> multiprocessing.pool.Pool:
    """A `fork` Pool of `workers` processes (kwargs as for `Pool`, e.g. maxtasksperchild)."""
    return multiprocessing.get_context("fork").Pool(workers, initializer=_one_torch_thread, **kwargs)
