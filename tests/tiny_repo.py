"""The project in a fresh git repository with the `tiny` profile (params.yaml = defaults +
tests/tiny_params.yaml), as a user would check it out, and `dvc repro` run there. The session's
one shared build is the `tiny_repo` fixture (tests/conftest.py); tests that change a workspace
copy it first (`copy_repo`)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline.config import deep_merge

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["dvc.yaml", ".dvcignore", ".gitignore", ".dvc/config", ".dvc/.gitignore", "pipeline", "stages"]


def run(cmd: list[str], cwd: Path, env: dict) -> str:
    """stdout of a command that must succeed (its output tails in the failure message)."""
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def write_real_folders(root: Path) -> dict:
    """A small labelled folder of 'real' audio to score (12 s WAVs: noise bursts on a beat, and
    held tones), standing in for ../shared/real-music-dev."""
    import numpy as np
    import soundfile as sf

    rng, sr, t = np.random.default_rng(0), 16000, np.arange(12 * 16000) / 16000
    for label, count in (("hip-hop", 2), ("other", 2)):
        (root / label).mkdir(parents=True)
        for i in range(count):
            if label == "hip-hop":
                audio = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 1.5 * t) > 0.9)
            else:
                audio = np.sin(2 * np.pi * (220 + 50 * i) * t)
            sf.write(str(root / label / f"clip{i}.wav"), 0.3 * audio, sr)
    return {"hip-hop": ["real/hip-hop"], "other": ["real/other"]}


def repo_env(home: Path) -> dict:
    """The environment DVC runs in: the venv's python first, no telemetry, a git identity (for
    commits and `dvc exp`), no MLflow / DVC settings inherited from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "DVC_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", DVC_NO_ANALYTICS="1",
               MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1", GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="t@example.com", HOME=str(home))
    return env


def build_tiny_repo(repo: Path) -> tuple[Path, dict]:
    """Copy the project into `repo` (an empty folder), commit it, `dvc repro`. Returns (repo, env)."""
    for name in PROJECT_FILES:
        source, target = ROOT / name, repo / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    params = deep_merge(yaml.safe_load((ROOT / "params.yaml").read_text()),
                        yaml.safe_load((ROOT / "tests/tiny_params.yaml").read_text()))
    params["style"]["evaluation"]["real_dirs"] = write_real_folders(repo / "real")
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = repo_env(repo)
    run(["git", "init", "-q", "-b", "main"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "tiny project"], repo, env)
    run(["dvc", "repro"], repo, env)
    return repo, env


def copy_repo(repo: Path, target: Path) -> tuple[Path, dict]:
    """A copy of a built repo (workspace, git history, DVC cache, MLflow store) with its results
    committed as the project commits them (dvc.lock and metrics/ in git): the baseline for
    experiments and for a remote."""
    shutil.copytree(repo, target, symlinks=True)
    env = repo_env(target)
    run(["git", "add", "dvc.lock", "metrics"], target, env)
    run(["git", "commit", "-qm", "tiny results"], target, env)
    return target, env


def lock_outs(repo: Path) -> dict[str, str]:
    """{stage: {output path: md5}} of every output in a repo's dvc.lock."""
    stages = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {stage: {out["path"]: out["md5"] for out in entry.get("outs", [])} for stage, entry in stages.items()}
