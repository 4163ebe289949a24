"""What every DVC stage script shares: its paths from the command line (`dvc.yaml` names each
path once, in the stage's `cmd`, beside its `deps` and `outs`), and the checked params."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from pipeline.config import Params, load_params
from pipeline.errors import UserError


def stage_paths(doc: str, *names: str, optional: tuple[str, ...] = (), argv: list[str] | None = None) -> argparse.Namespace:
    """Parse `--<name> PATH` for each of `names` (all required; `-` in a name, `_` in the
    attribute) and of `optional` (None when not given) into Paths. `doc` is the stage's
    docstring, shown by `--help`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    for name in names:
        parser.add_argument(f"--{name}", type=Path, required=True, metavar="PATH")
    for name in optional:
        parser.add_argument(f"--{name}", type=Path, default=None, metavar="PATH")
    return parser.parse_args(argv)


def stage_params(path: str | Path = "params.yaml") -> Params:
    """The whole params file, checked: a bad key anywhere stops the stage before any work."""
    return load_params(path)


def read_speech(path: Path) -> pd.DataFrame:
    """The speech manifest written by `download_librispeech` (ids, speakers, transcripts as text)."""
    try:
        return pd.read_csv(path, dtype={"utt_id": str, "speaker": str, "transcript": str})
    except FileNotFoundError:
        raise UserError(f"{path} is missing: run `dvc repro download_librispeech` first") from None
