"""MLflow tracking for every stage: one run per stage execution, tagged with the DVC stage.

Store: `$MLFLOW_TRACKING_URI` when set, else `sqlite:///<root>/mlflow.db` with artifacts in
`<root>/mlartifacts/`, where root is `$DVC_ROOT` (set by DVC for stage commands) or the current
folder. The store is never a DVC output and never in git.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

import pandas as pd

from pipeline.config import to_dict

# Offline hygiene even when called outside the Makefile.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")


def project_root() -> Path:
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def tracking_uri() -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{project_root() / 'mlflow.db'}"


def use_store(mlflow_module, experiment: str) -> None:
    """Point MLflow at `tracking_uri()` and select `experiment`, creating it when missing. With
    the default store its artifacts go to `<root>/mlartifacts` (MLflow's own default would be
    `./mlruns` under whatever folder the command ran in); a user's store keeps its own rules."""
    default_store = not os.environ.get("MLFLOW_TRACKING_URI")  # read first: set_tracking_uri exports it
    mlflow_module.set_tracking_uri(tracking_uri())
    if default_store and mlflow_module.get_experiment_by_name(experiment) is None:
        mlflow_module.create_experiment(experiment, artifact_location=(project_root() / "mlartifacts").as_uri())
    mlflow_module.set_experiment(experiment)


def flatten(data) -> dict:
    """{"a": {"b": 1}} (or a config dataclass) -> {"a.b": 1}: MLflow keys are flat."""
    if dataclasses.is_dataclass(data):
        data = to_dict(data)
    return pd.json_normalize(data, sep=".").to_dict(orient="records")[0] if data else {}


class StageRun:
    """What a stage logs through: metrics (optionally per step), params, artifacts."""

    def __init__(self, mlflow_module):
        self._mlflow = mlflow_module

    def log_params(self, params) -> None:
        # MLflow caps a param value at 6000 characters.
        self._mlflow.log_params({k: str(v)[:6000] for k, v in flatten(params).items()})

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        numeric = {k: float(v) for k, v in flatten(metrics).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if numeric:
            self._mlflow.log_metrics(numeric, step=step)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._mlflow.log_artifact(str(path), artifact_path=artifact_path)


@contextlib.contextmanager
def stage_run(stage: str, params, experiment: str = "fake-rapper-helper"):
    """Open an MLflow run for `stage`, log its params section (a config dataclass or a dict),
    yield a StageRun.

    >>> with stage_run("build_subset", params.subset, params.tracking.experiment) as run:
    ...     run.log_metrics({"clips": 300})
    """
    import mlflow

    use_store(mlflow, experiment)
    tags = {"dvc_stage": stage}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
    with mlflow.start_run(run_name=stage, tags=tags):
        run = StageRun(mlflow)
        run.log_params(params)
        yield run
