"""The MLflow helper every stage logs through: where the store is, and what a run holds."""
from pathlib import Path

import pytest

from pipeline.config import HarmonicConfig, load_params
from pipeline.tracking import flatten, stage_run, tracking_uri


def test_store_follows_mlflow_uri_then_dvc_root_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "repo"))
    assert tracking_uri() == f"sqlite:///{(tmp_path / 'repo').resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert tracking_uri() == "sqlite:///elsewhere.db"


def test_flatten_nests_with_dots():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}) == {"a.b": 1, "a.c.d": [1, 2], "e": "x"}
    assert flatten({"a": None, "b": {"c": True}}) == {"a": None, "b.c": True}
    assert flatten({}) == {}


def test_flatten_takes_a_config_dataclass():
    assert flatten(HarmonicConfig(time_pool=4)) == {"n_harmonic": 6, "semitone_scale": 2, "initial_q": 1.0,
                                                    "learn_q": True, "min_amplitude": 1e-4, "time_pool": 4}
    style = load_params().style
    flat = flatten(style)
    assert flat["harmonic.n_harmonic"] == style.harmonic.n_harmonic and flat["loss"] == style.loss
    assert flat["evaluation.knn_k"] == style.evaluation.knn_k and flat["margin"] == style.margin
    # lists stay whole (tuples become lists), one key each
    assert flat["encoder.blocks"] == [{"kind": b.kind, "channels": b.channels, "pool": list(b.pool)}
                                      for b in style.encoder.blocks]


def test_flatten_keeps_ints_beside_floats():
    flat = flatten({"size": 60, "valid_fraction": 0.15})
    assert flat == {"size": 60, "valid_fraction": 0.15} and isinstance(flat["size"], int)


def test_stage_run_logs_params_metrics_artifacts_and_the_stage_tag(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("DVC_EXP_NAME", "exp-test")
    monkeypatch.chdir(tmp_path)
    artifact = Path("report.json")
    artifact.write_text("{}")
    with stage_run("build_subset", {"size": 60, "genres": {"rock": ["rock"]}}, experiment="tests") as run:
        run.log_metrics({"clips": 60, "nested": {"ok": 0.5}, "label": "skipped", "flag": True})
        run.log_metrics({"loss": 1.5}, step=3)
        run.log_artifact(artifact)
    runs = mlflow.search_runs(experiment_names=["tests"], output_format="list")
    assert len(runs) == 1
    data = runs[0].data
    assert data.tags["dvc_stage"] == "build_subset" and data.tags["dvc_exp_name"] == "exp-test"
    assert data.params == {"size": "60", "genres.rock": "['rock']"}
    assert data.metrics == {"clips": 60.0, "nested.ok": 0.5, "loss": 1.5}  # strings and booleans are not metrics
    artifacts = mlflow.artifacts.list_artifacts(run_id=runs[0].info.run_id)
    assert [a.path for a in artifacts] == ["report.json"]


def test_stage_run_logs_a_config_section_as_flat_params(tmp_path, monkeypatch):
    import mlflow

    style = load_params().style  # from the project root, before leaving it
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.chdir(tmp_path)
    with stage_run("train_style", style, experiment="tests"):
        pass
    (run,) = mlflow.search_runs(experiment_names=["tests"], output_format="list")
    params = run.data.params
    assert params["loss"] == style.loss and params["harmonic.time_pool"] == str(style.harmonic.time_pool)
    assert params["evaluation.knn_k"] == str(style.evaluation.knn_k) and params["lr"] == str(style.lr)
    assert set(params) == set(flatten(style))


def test_a_failing_stage_marks_its_run_failed(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError):
        with stage_run("train_style", {}, experiment="tests"):
            raise RuntimeError("boom")
    (run,) = mlflow.search_runs(experiment_names=["tests"], output_format="list")
    assert run.info.status == "FAILED"


def test_run_tags_name_the_commit_in_a_git_root_and_skip_it_without_git(tmp_path, monkeypatch):
    import subprocess

    from pipeline.tracking import run_tags

    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    assert "git_commit" not in run_tags("cut_clips")  # no repository: no tag, no failure
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "f").write_text("x")
    subprocess.run(["git", "add", "f"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    tags = run_tags("cut_clips")
    assert tags["git_commit"] == tags["mlflow.source.git.commit"] == head and tags["dvc_stage"] == "cut_clips"


def test_run_group_honours_the_env_and_is_fresh_outside_dvc(monkeypatch):
    from pipeline.tracking import run_group

    for var in ("DVC_ROOT", "DVC_STAGE", "FRH_RUN_GROUP"):
        monkeypatch.delenv(var, raising=False)
    first, second = run_group(), run_group()
    assert first.startswith("solo-") and first != second
    monkeypatch.setenv("FRH_RUN_GROUP", "nightly-42")
    assert run_group() == "nightly-42"


def test_a_log_call_failing_mid_run_warns_once_and_tracking_stops(capsys):
    from pipeline.tracking import StageRun

    class FailingStore:
        calls = 0

        def log_metrics(self, *args, **kwargs):
            self.calls += 1
            raise ConnectionError("store went away\nsecond line")

        def end_run(self, status):
            pass

    store = FailingStore()
    run = StageRun(store, "train_style", ["metrics/style_curves.csv"])
    for step in range(3):
        run.log_metrics({"loss": 1.0}, step=step)
    run.log_artifact("anything")
    run.end("FINISHED")
    assert store.calls == 1 and not run.tracking
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: MLflow at " + tracking_uri() + " failed (store went away): tracking off for this stage "
                   "(train_style); its metrics are in metrics/style_curves.csv"]


def test_stages_of_one_dvc_repro_share_a_group_and_the_next_repro_gets_another(tmp_path):
    """Two trivial stages that write `run_group()`: one group per `dvc repro`, a new one per command."""
    import os
    import subprocess
    import sys

    import yaml

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "FRH_"))}
    env.update(PYTHONPATH=str(root), DVC_NO_ANALYTICS="1", HOME=str(tmp_path))
    write = f"{sys.executable} -c \"from pipeline.tracking import run_group; print(run_group())\""
    stages = {name: {"cmd": f"{write} > {name}.txt", "outs": [f"{name}.txt"]} for name in ("one", "two")}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    dvc = [sys.executable, "-m", "dvc"]
    for cmd in (["git", "init", "-q"], [*dvc, "init", "-q"], [*dvc, "repro", "-q"]):
        subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    first = {name: (tmp_path / f"{name}.txt").read_text().strip() for name in stages}
    subprocess.run([*dvc, "repro", "-q", "--force"], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    second = {name: (tmp_path / f"{name}.txt").read_text().strip() for name in stages}
    assert first["one"] == first["two"] and first["one"].startswith("dvc-")
    assert second["one"] == second["two"] and second["one"] != first["one"]
