"""`make clean` removes everything the pipeline and its tracking write, and nothing tracked."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WRITTEN = ["data/raw/mtat/x.mp3", "data/subset.csv", "models/style_encoder.pt", "plots/style/tsne.png",
           "samples/a.wav", "reports/index.html", "test-artifacts/report.png", "mlflow.db", "mlruns/0/meta.yaml", "mlartifacts/1/run/artifacts/data.json", ".dvc/tmp/rwlock"]
KEPT = ["metrics/data.json", "dvc.lock", "params.yaml", ".dvc/config", "pipeline/tracking.py"]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_clean_leaves_only_tracked_files(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in WRITTEN + KEPT:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    subprocess.run(["make", "-s", "clean"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    assert [n for n in WRITTEN if (tmp_path / n).exists()] == []
    assert not any((tmp_path / top).exists() for top in ("data", "models", "plots", "samples", "reports", "mlruns", "mlartifacts"))
    assert all((tmp_path / n).is_file() for n in KEPT)
