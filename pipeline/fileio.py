"""Outputs appear whole or not at all: write to a temporary name beside the target, then rename."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside `target` (file or folder); rename it onto `target` on
    success, delete it on any error."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_json(path: str | os.PathLike, data) -> None:
    """Write JSON atomically, keys sorted, so identical data gives identical bytes."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def rounded(value):
    """Six decimals: stable bytes in a metrics file across platforms' last-bit differences."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(value, 6) if isinstance(value, float) else value


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")


def project_path(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """`path` relative to the project root (default: the current folder) when inside it, so
    manifests are portable across clones; absolute otherwise (e.g. a `local` dataset)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path(root or Path.cwd()).resolve()).as_posix()
    except ValueError:
        return str(path)


def md5_of(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """md5 hex digest of a file, read in chunks (works for files of any size)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
