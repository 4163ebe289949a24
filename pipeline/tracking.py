"""MLflow tracking for every stage: one run per stage execution, tagged so a whole pipeline run
can be found together, and never a stage's undoing.

Store: `$MLFLOW_TRACKING_URI` when set, else `sqlite:///<root>/mlflow.db` with artifacts in
`<root>/mlartifacts/`, where root is `$DVC_ROOT` (set by DVC for stage commands) or the current
folder. The store is never a DVC output and never in git.

Tags on every run: `dvc_stage`, `run_group` (shared by every stage of one `dvc repro` /
`dvc exp run`, see `run_group`), `dvc_exp_name` under `dvc exp run`, `git_commit` (and MLflow's
own `mlflow.source.git.commit`) when the root is a git checkout.

An unreachable store (a server that is down, a bad URI) or a failing log call turns tracking off
for the rest of the stage with one warning on stderr: the stage's work and outputs never depend
on tracking.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterable

import pandas as pd

from pipeline.config import to_dict

# Offline hygiene even when called outside the Makefile.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

GROUP_ENV = "FRH_RUN_GROUP"  # set it to file runs of several commands under one group
# The first contact with an http(s) server: MLflow's defaults (7 retries, 120 s timeout) would
# hold a stage for minutes before it learns the server is down. A user's own settings win.
PROBE_HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


def project_root() -> Path:
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def tracking_uri() -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{project_root() / 'mlflow.db'}"


def use_store(mlflow_module, experiment: str) -> None:
    """Point MLflow at `tracking_uri()` and select `experiment`, creating it when missing. With
    the default store its artifacts go to `<root>/mlartifacts` (MLflow's own default would be
    `./mlruns` under whatever folder the command ran in); a user's store keeps its own rules.
    Raises whatever MLflow raises when the store cannot be reached."""
    default_store = not os.environ.get("MLFLOW_TRACKING_URI")  # read first: set_tracking_uri exports it
    mlflow_module.set_tracking_uri(tracking_uri())
    with short_http_retries(tracking_uri()):
        found = mlflow_module.get_experiment_by_name(experiment)  # the probe: fails fast when unreachable
    if default_store and found is None:
        mlflow_module.create_experiment(experiment, artifact_location=(project_root() / "mlartifacts").as_uri())
    mlflow_module.set_experiment(experiment)


@contextlib.contextmanager
def short_http_retries(uri: str):
    """Within the block, MLflow's HTTP client gives up at once (no retries, 5 s timeout) on an
    http(s) `uri`, unless the user set those variables. Other stores are untouched."""
    if not uri.startswith(("http://", "https://")):
        yield
        return
    added = {k: v for k, v in PROBE_HTTP_ENV.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def dvc_ancestor():
    """The nearest ancestor process that is a `dvc` command (the one running this stage), or
    None outside DVC or without psutil (a DVC dependency)."""
    try:
        import psutil
        parents = psutil.Process().parents()
    except Exception:
        return None
    for process in parents:
        try:
            argv = process.cmdline()
        except Exception:  # gone, or not ours to read
            continue
        # `dvc ...`, `python /path/bin/dvc ...` or `python -m dvc ...`
        head = [Path(a).name for a in argv[:2]]
        if "dvc" in head or argv[1:3] == ["-m", "dvc"]:
            return process
    return None


def run_group() -> str:
    """One id for every stage of one pipeline run: `$FRH_RUN_GROUP` when set; under DVC the
    host, pid and start time of the `dvc repro` / `dvc exp run` process running the stages
    (shared by its stages, new for the next command); else a fresh id for this process alone."""
    if os.environ.get(GROUP_ENV):
        return os.environ[GROUP_ENV]
    process = dvc_ancestor() if os.environ.get("DVC_STAGE") or os.environ.get("DVC_ROOT") else None
    if process is not None:
        return f"dvc-{socket.gethostname()}-{process.pid}-{process.create_time():.2f}"
    return f"solo-{uuid.uuid4().hex[:12]}"


def git_commit(root: Path) -> str | None:
    """`git rev-parse HEAD` in `root`; None when there is no git or no commit."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def run_tags(stage: str) -> dict[str, str]:
    """The tags of `stage`'s run (see the module docstring)."""
    tags = {"dvc_stage": stage, "run_group": run_group()}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
    commit = git_commit(project_root())
    if commit:
        tags["git_commit"] = tags["mlflow.source.git.commit"] = commit
    return tags


def flatten(data) -> dict:
    """{"a": {"b": 1}} (or a config dataclass) -> {"a.b": 1}: MLflow keys are flat."""
    if dataclasses.is_dataclass(data):
        data = to_dict(data)
    return pd.json_normalize(data, sep=".").to_dict(orient="records")[0] if data else {}


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


class StageRun:
    """What a stage logs through: metrics (optionally per step), params, artifacts. The first
    failing call (store gone mid-run) warns once and turns every later call into a no-op.
    `mlflow_module` None: tracking is off from the start."""

    def __init__(self, mlflow_module, stage: str, results: Iterable[str | os.PathLike] = ()):
        self._mlflow = mlflow_module
        self.stage = stage
        self.results = [Path(p).as_posix() for p in results]

    @property
    def tracking(self) -> bool:
        return self._mlflow is not None

    def turn_off(self, what: str, err: BaseException) -> None:
        """Warn (once) that tracking stopped, and say where this stage's numbers are instead."""
        module, self._mlflow = self._mlflow, None
        if module is None:
            return
        with contextlib.suppress(Exception), short_http_retries(tracking_uri()):
            module.end_run(status="KILLED")  # drops the half-logged run from this process (KILLED when the store hears it)
        where = (f"its metrics are in {', '.join(self.results)}" if self.results
                 else "its outputs are written as usual and its numbers are in its summary line")
        print(f"warning: MLflow at {tracking_uri()} {what} ({first_line(err)}): tracking off for this stage "
              f"({self.stage}); {where}", file=sys.stderr, flush=True)

    def _call(self, name: str, *args, **kwargs) -> None:
        if self._mlflow is None:
            return
        try:
            getattr(self._mlflow, name)(*args, **kwargs)
        except Exception as err:  # tracking must never cost the stage its outputs
            self.turn_off("failed", err)

    def log_params(self, params) -> None:
        # MLflow caps a param value at 6000 characters.
        self._call("log_params", {k: str(v)[:6000] for k, v in flatten(params).items()})

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        numeric = {k: float(v) for k, v in flatten(metrics).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if numeric:
            self._call("log_metrics", numeric, step=step)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._call("log_artifact", str(path), artifact_path=artifact_path)

    def end(self, status: str) -> None:
        self._call("end_run", status=status)


@contextlib.contextmanager
def stage_run(stage: str, params, experiment: str = "fake-rapper-helper",
              results: Iterable[str | os.PathLike] = ()):
    """Open an MLflow run for `stage` with `run_tags`, log its params section (a config
    dataclass or a dict), yield a StageRun; the run ends FINISHED, or FAILED (KILLED on Ctrl-C)
    when the block raises. `results`: the stage's metrics files, named in the warning when
    tracking is off.

    >>> with stage_run("build_subset", params.subset, params.tracking.experiment, [paths.metrics]) as run:
    ...     run.log_metrics({"clips": 300})
    """
    import mlflow

    run = StageRun(mlflow, stage, results)
    try:
        use_store(mlflow, experiment)
        mlflow.start_run(run_name=stage, tags=run_tags(stage))
    except Exception as err:
        run.turn_off("unreachable", err)
    run.log_params(params)
    try:
        yield run
    except KeyboardInterrupt:
        run.end("KILLED")
        raise
    except BaseException:
        run.end("FAILED")
        raise
    run.end("FINISHED")
