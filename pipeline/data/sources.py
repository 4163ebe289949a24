"""Where a dataset stage's output points: its own folder (embedded, download) or, for `local`,
an existing copy elsewhere that is validated and never copied."""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import UserError

SOURCE_FILE = "source.json"


def write_source(out_dir: Path, source: str, root: Path | None = None) -> None:
    """Record in `out_dir` where the data lives (`root` only for `local`)."""
    info = {"source": source, "root": str(Path(root).resolve()) if root else "."}
    (Path(out_dir) / SOURCE_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def dataset_root(out_dir: str | Path) -> Path:
    """The folder that holds the data a download stage produced in `out_dir`."""
    out_dir = Path(out_dir)
    marker = out_dir / SOURCE_FILE
    if not marker.is_file():
        raise UserError(f"{out_dir} holds no prepared dataset ({SOURCE_FILE} missing): run its download stage first")
    root = json.loads(marker.read_text())["root"]
    return out_dir if root == "." else Path(root)
