"""What the report reads, checked before anything is written: every stage's metrics, the
training curves, the style figures, the converted clips (samples/clips.csv) with their
spectrogram images, and optionally the trade-off sweep."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.errors import UserError

CLIP_COLUMNS = ("utt_id", "condition", "input", "transcript", "method", "baseline")


def other_runs_of(table: pd.DataFrame) -> list[str]:
    """Columns of further runs the generate stage wrote (`flow_<name>`: the method under the other flow)."""
    return [c for c in table.columns if c.startswith("flow_") and not c.endswith(("_heard", "_cer", "_probability"))]


@dataclass(frozen=True)
class ReportInputs:
    """Paths of everything the page shows. `metrics` and `curves` map a stage's name to its
    file; `tradeoff` is None when no sweep has been run."""
    metrics: dict[str, Path]
    curves: dict[str, Path]
    style_plots: Path
    generate_plots: Path
    samples: Path
    tradeoff: Path | None = None


@dataclass
class Clip:
    """One converted clip: its row of samples/clips.csv and the files it plays and shows."""
    row: dict
    input_audio: Path
    method_audio: Path
    baseline_audio: Path
    spectrograms: Path
    other_runs: dict[str, Path] = field(default_factory=dict)  # e.g. {"flow_beat": samples/flow_beat/<utt>.wav}: the method under another flow


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} is missing: run `dvc repro` first") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON: {err}") from None


def read_table(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise UserError(f"{path} ({what}) is missing: run `dvc repro` first") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise UserError(f"{path} ({what}) is not a readable CSV: {err}") from None


def existing(path: Path, what: str) -> Path:
    if not path.is_file():
        raise UserError(f"{path} ({what}) is missing: run `dvc repro` first")
    return path


def read_clips(samples: Path, generate_plots: Path, project_root: Path) -> list[Clip]:
    """samples/clips.csv (written by `generate`) -> Clips whose every file exists. Input paths
    in the table are relative to the project root (or absolute, for a `local` corpus)."""
    table = read_table(samples / "clips.csv", "the generate stage's list of clips")
    missing = [c for c in CLIP_COLUMNS if c not in table.columns]
    if missing:
        raise UserError(f"{samples / 'clips.csv'} lacks columns {missing}: rerun `dvc repro generate`")
    clips = []
    for row in table.to_dict(orient="records"):
        others = {run: existing(samples / row[run], f"{run} sample") for run in other_runs_of(table)}
        clips.append(Clip(row, existing(project_root / row["input"], "input speech"),
                          existing(samples / row["method"], "generated sample"),
                          existing(samples / row["baseline"], "baseline sample"),
                          existing(generate_plots / f"{row['utt_id']}.png", "spectrograms"), others))
    return clips
