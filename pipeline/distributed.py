"""Data-parallel training under torchrun: launch, process group, sharding, the model wrapper.

With `distributed.nproc_per_node * distributed.nnodes == 1` (the default) none of this does
anything: no process group, no wrapper, the same batches in the same order, so the outputs stay
byte-identical to a plain run. Above 1, a stage re-executes itself under
`python -m torch.distributed.run` (`relaunch_under_torchrun`); each process then joins the group
(gloo on the CPU, NCCL on CUDA), trains on its slice of every global batch inside
DistributedDataParallel (gradients averaged, so the global batch stays `batch_size`), and only
rank 0 writes checkpoints, metrics, curves and MLflow runs (`is_main_process`).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import numpy as np
import torch

from pipeline.config import DistributedConfig
from pipeline.errors import USAGE_EXIT
from pipeline.tracking import stage_run


def world_size() -> int:
    """Processes in the job: torchrun's WORLD_SIZE, 1 outside torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def under_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def is_main_process() -> bool:
    """True on rank 0 and in a plain (single-process) run: the one process that writes."""
    return rank() == 0


def torchrun_command(cfg: DistributedConfig, module: str, argv: list[str]) -> list[str]:
    """`python -m torch.distributed.run ... -m <module> <argv>`. One node: `--standalone` (a
    free local port, no rendezvous server); several: static rendezvous at master_addr:master_port."""
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={cfg.nproc_per_node}"]
    if cfg.nnodes == 1:
        command.append("--standalone")
    else:
        command += [f"--nnodes={cfg.nnodes}", f"--node_rank={cfg.node_rank}", "--rdzv_backend=static",
                    f"--master_addr={cfg.master_addr}", f"--master_port={cfg.master_port}"]
    return command + ["-m", module, *argv]


def relaunch_under_torchrun(cfg: DistributedConfig, module: str, argv: list[str] | None = None) -> int | None:
    """When params ask for more than one process and this one is not already under torchrun,
    run the stage `module` again under torchrun with the same arguments and return its exit
    status (DVC still calls one command); otherwise None: carry on in this process. Stages call
    it once their inputs are read, so a missing file is reported before any process starts."""
    if cfg.nproc_per_node * cfg.nnodes == 1 or under_torchrun():
        return None
    command = torchrun_command(cfg, module, sys.argv[1:] if argv is None else list(argv))
    # stderr held back: on a user mistake every rank prints `error: ...` and torchrun adds its
    # failure report; the user sees the one line and exit 2, as from a plain run.
    result = subprocess.run(command, check=False, stderr=subprocess.PIPE, text=True)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    if result.returncode != 0 and errors:
        print(errors[0], file=sys.stderr)
        return USAGE_EXIT
    sys.stderr.write(result.stderr)
    return result.returncode


class DataParallel:
    """This process's place in the job; `world == 1` is the plain run and changes nothing."""

    def __init__(self, cfg: DistributedConfig | None, device: torch.device):
        """`cfg` None: a plain run whatever the environment (a library call, a test)."""
        self.world, self.rank = (world_size(), rank()) if cfg is not None else (1, 0)
        self.device = device
        if self.world == 1:
            return
        if device.type == "cuda":  # one GPU a process: torchrun's LOCAL_RANK picks it
            self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(self.device)
        backend = cfg.backend if cfg.backend != "auto" else ("nccl" if device.type == "cuda" else "gloo")
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group(backend)

    @classmethod
    def single(cls, device: torch.device) -> "DataParallel":
        return cls(None, device)

    @property
    def active(self) -> bool:
        return self.world > 1

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DDP around `model` (already on `self.device`); BatchNorm synchronised on CUDA
        (SyncBatchNorm has no CPU kernel: on the CPU each rank normalises its own slice).
        Returns `model` itself in a plain run."""
        if not self.active:
            return model
        if self.device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def shard(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        """Each global batch -> this rank's contiguous slice (`np.array_split`), so every rank takes
        the same number of steps and the averaged gradient is the global batch's. Batches smaller
        than the world are dropped (a rank would get nothing). Plain run: `batches` unchanged."""
        if not self.active:
            return batches
        return [np.array_split(b, self.world)[self.rank] for b in batches if len(b) >= self.world]

    def mean(self, value: float) -> float:
        """The mean of `value` over the ranks (per-rank train losses -> the job's)."""
        if not self.active:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)  # NCCL reduces GPU tensors only
        torch.distributed.all_reduce(tensor)
        return float(tensor.item() / self.world)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper (the model itself otherwise)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def finish() -> None:
    """Leave the process group (the end of a stage under torchrun); nothing in a plain run."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


class _SilentRun:
    """What ranks > 0 log through: nothing (rank 0 holds the job's one MLflow run)."""

    def log_params(self, params) -> None: ...
    def log_metrics(self, metrics: dict, step: int | None = None) -> None: ...
    def log_artifact(self, path, artifact_path: str | None = None) -> None: ...


@contextlib.contextmanager
def main_process_run(stage: str, params, experiment: str, results=None):
    """`pipeline.tracking.stage_run` on rank 0 (and in a plain run); a run that logs nothing on
    the other ranks. Leaves the process group on the way out."""
    try:
        if is_main_process():
            with stage_run(stage, params, experiment, results) as run:
                yield run
        else:
            yield _SilentRun()
    finally:
        finish()
