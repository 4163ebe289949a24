"""Self-describing checkpoints, one convention for every model.

A checkpoint is one `torch.save` file holding plain data only (loadable with
`weights_only=True`): `format` (which model), `version` (of that model's layout), `front_end`
(`FrontEnd.to_dict()`), `config` (the model's config as plain data), `state_dict` (CPU tensors)
and any `extra` fields a model needs (the content encoder's alphabet). Loading rebuilds the model
from the file alone: nothing is guessed from params.yaml. The same weights give the same bytes.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from pipeline.fileio import atomic_path


def checkpoint_bytes(model: torch.nn.Module, kind: str, version: int, config: dict, **extra) -> bytes:
    """The file's bytes. Saved through a buffer: torch.save names the zip's records after the file
    it writes, so saving to a temporary file name would change the bytes."""
    state = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in model.state_dict().items()}
    return payload_bytes({"format": kind, "version": version, "front_end": model.front_end.to_dict(), "config": config,
                          "state_dict": state, **extra})


def payload_bytes(payload: dict) -> bytes:
    """Plain data -> torch.save bytes, through a buffer (the same data gives the same bytes)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_payload(path: str | Path, payload: dict) -> None:
    """Write a plain-data payload (with its `format` and `version`) atomically: a failed save
    leaves no file. For artifacts that are not models (generation's style targets)."""
    write_bytes(path, payload_bytes(payload))


def save_checkpoint(path: str | Path, model: torch.nn.Module, kind: str, version: int, config: dict, **extra) -> None:
    """Write atomically: a failed save leaves no file."""
    write_bytes(path, checkpoint_bytes(model, kind, version, config, **extra))


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def load_checkpoint(path: str | Path, kind: str, version: int, stage: str) -> dict:
    """The payload of a `kind` checkpoint of `version`. A missing file raises FileNotFoundError
    naming the `stage` that makes it; a foreign or truncated file, or another version, ValueError
    (entry points print either as one line)."""
    path = require_file(path, kind, stage)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: torch raises many kinds
        raise ValueError(f"{path} is not a {kind} checkpoint ({type(err).__name__})") from None
    return check_format(payload, path, kind, version, stage)


def require_file(path: str | Path, kind: str, stage: str) -> Path:
    """`path` as a Path; FileNotFoundError naming the `stage` that makes it when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} at {path}: run `dvc repro {stage}` (or `make repro`) first")
    return path


def check_format(payload, path: Path, kind: str, version: int, stage: str) -> dict:
    """`payload` when it is a dict tagged `format: kind` of `version`; ValueError otherwise (any
    saved model, torch or not, carries these two fields)."""
    if not isinstance(payload, dict) or payload.get("format") != kind:
        raise ValueError(f"{path} is not a {kind} checkpoint")
    if payload.get("version") != version:
        raise ValueError(f"{path} is a {kind} checkpoint of version {payload.get('version')}, this code reads "
                        f"version {version}: retrain it (`dvc repro {stage}`)")
    return payload
