"""What every DVC stage script shares: its paths from the command line (`dvc.yaml` names each
path once, in the stage's `cmd`, beside its `deps` and `outs`), and the checked params."""
from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.config import Params, load_params


def stage_paths(doc: str, *names: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse `--<name> PATH` for each of `names` (all required; `-` in a name, `_` in the
    attribute) into Paths. `doc` is the stage's docstring, shown by `--help`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    for name in names:
        parser.add_argument(f"--{name}", type=Path, required=True, metavar="PATH")
    return parser.parse_args(argv)


def stage_params(path: str | Path = "params.yaml") -> Params:
    """The whole params file, checked: a bad key anywhere stops the stage before any work."""
    return load_params(path)
