"""A real stage (build_subset, the cheapest that logs params, metrics and an artifact) tracked
three ways: to a local sqlite store, to a real `mlflow server` on 127.0.0.1, and to a server that
is not there. The outputs are the same bytes every time; only the last warns, once."""
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from stages import build_subset

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ("subset.csv", "data.json")


def write_fake_mtat(root: Path) -> Path:
    """A MagnaTagATune-layout folder small enough to index in a second: three genres of four
    one-clip tracks (2 s MP3s), tagged as the real corpus is."""
    rng, rows, tags = np.random.default_rng(0), [], ("hip hop", "rock", "classical")
    for g, tag in enumerate(tags):
        for t in range(4):
            rel = f"{g}/artist{g}-album{t}-0{t + 1}-song_{t}-0-29.mp3"
            (root / "mp3" / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(root / "mp3" / rel), 0.2 * rng.standard_normal(32000), 16000, format="MP3")
            rows.append((len(rows) + 1, tag, rel))
    lines = ["\t".join(f'"{c}"' for c in ("clip_id", *tags, "mp3_path"))]
    lines += ["\t".join([f'"{i}"', *(f'"{int(t == tag)}"' for t in tags), f'"{rel}"']) for i, tag, rel in rows]
    (root / "annotations_final.csv").write_text("\n".join(lines) + "\n")
    (root / "source.json").write_text(json.dumps({"root": ".", "source": "embedded"}))
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("stage")
    shutil.copy(ROOT / "params.yaml", work / "params.yaml")
    write_fake_mtat(work / "data/raw/mtat")
    return work


def run_stage(work: Path, name: str, uri: str, monkeypatch) -> tuple[int, dict]:
    """build_subset in `work`, its outputs named after `name`, tracked at `uri`: (exit code, output bytes)."""
    monkeypatch.chdir(work)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for var in ("DVC_ROOT", "DVC_STAGE", "DVC_EXP_NAME", "FRH_RUN_GROUP"):
        monkeypatch.delenv(var, raising=False)
    out = work / name
    code = build_subset.main(["--mtat", "data/raw/mtat", "--subset", f"{name}/subset.csv", "--metrics", f"{name}/data.json"])
    return code, {f: (out / f).read_bytes() for f in OUTPUTS if (out / f).is_file()}


@pytest.fixture(scope="module")
def tracked_locally(workdir) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        code, outputs = run_stage(workdir, "local", f"sqlite:///{workdir / 'local.db'}", mp)
    assert code == 0 and set(outputs) == set(OUTPUTS)
    return outputs


@pytest.fixture()
def mlflow_server(tmp_path):
    """`mlflow server` on 127.0.0.1 at a free port with its own backend store and artifact root;
    stopped (and reaped) whatever the test does."""
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", (tmp_path / "artifacts").as_uri()],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a loaded 2-core machine: over 90 s seen
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-500:]}")
            time.sleep(0.5)
        yield uri, tmp_path / "artifacts"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_a_stage_logs_params_metrics_and_artifacts_to_a_real_server(workdir, tracked_locally, mlflow_server, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri, artifacts = mlflow_server
    code, outputs = run_stage(workdir, "served", uri, monkeypatch)
    assert code == 0 and outputs == tracked_locally
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("fake-rapper-helper").experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["dvc_stage"] == "build_subset"
    assert run.data.tags["run_group"].startswith("solo-")  # outside DVC: a group of its own
    assert run.data.params["size"] == "6000" and run.data.params["anchor_genre"] == "hip-hop"
    metrics = json.loads(outputs["data.json"])["music"]
    assert run.data.metrics == {"clips_total": 12.0, "broken_clips_skipped": float(metrics["broken_clips_skipped"])}
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["data.json"]
    # served: the bytes went through the server into its own artifact root
    assert Path(client.download_artifacts(run.info.run_id, "data.json", str(workdir))).read_bytes() == outputs["data.json"]
    assert any(artifacts.rglob("data.json"))


def test_an_unreachable_server_costs_the_stage_nothing_but_one_warning(workdir, tracked_locally, monkeypatch, capsys):
    port = free_port()  # bound then closed: nothing listens there
    started = time.monotonic()
    code, outputs = run_stage(workdir, "untracked", f"http://127.0.0.1:{port}", monkeypatch)
    seconds = time.monotonic() - started
    assert code == 0 and outputs == tracked_locally
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, warnings
    assert f"MLflow at http://127.0.0.1:{port} unreachable" in warnings[0]
    assert warnings[0].endswith("tracking off for this stage (build_subset); its metrics are in untracked/data.json")
    assert seconds < 30  # no minutes of HTTP retries
