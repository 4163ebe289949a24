"""Data-parallel training (pipeline/distributed.py): the real `pretrain_content` stage asked for
2 CPU processes relaunches itself under torchrun (gloo), trains the same global batches as the
single-process run to within a stated tolerance, and writes one checkpoint and one MLflow run."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from pipeline.audio import FrontEnd
from pipeline.config import DistributedConfig, EmbeddedSpeechConfig, SplitsConfig, deep_merge, parse, read_yaml
from pipeline.data.embedded_speech import build_embedded_librispeech
from pipeline.data.librispeech import prepare_librispeech, speech_manifest
from pipeline.data.segments import CLIP_COLUMNS
from pipeline.distributed import DataParallel, relaunch_under_torchrun, torchrun_command
from pipeline.models.content_encoder import load_content_encoder

REPO = Path(__file__).resolve().parents[1]
SPLITS = {"train": ["train-clean-100"], "dev": ["dev-clean"], "test": ["test-clean"]}
CORPUS = {
    "utterances": 32, "dev_fraction": 0.15, "test_fraction": 0.2, "unseen_share_of_test": 0.5,
    "voices": ["en-us", "en-gb-x-rp", "en-029"], "variants": ["", "f3", "m2"], "speakers": 8,
    "unseen_voice": "en-gb-x-gbcwmd", "unseen_variants": ["m7"], "unseen_speakers": 2,
    "pitch": [40, 60], "pitch_range": [40, 60], "rate": [170, 180], "vocabulary_size": 500, "min_words": 2,
    "max_words": 3, "end_silence_seconds": 0.1,
}
# 16 train utterances in 2 global batches of 8: each of 2 ranks takes 4 of every batch, so both
# runs take the same 4 optimiser steps on the same utterances. No augmentation (its draws are
# per-process), threads 1 (2 cores for 2 ranks).
CONTENT = {"device": "cpu", "threads": 1, "augment": None, "music_test_snr_db": [],
           "model": {"conv_channels": [4, 4], "rnn_hidden": 16, "rnn_layers": 1},
           "train": {"epochs": 2, "batch_size": 8, "max_train_utterances": 16, "spec_augment": None}}
# BatchNorm: SyncBatchNorm has no CPU kernel, so each rank normalises its 4 utterances with their
# own statistics; that, not the float order of the all-reduce, is what separates the runs.
LOSS_TOLERANCE = 0.02      # relative, per-epoch mean train loss
WEIGHT_TOLERANCE = 0.05    # relative L2 distance of the final weights, over the whole model


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A folder laid out like the project for `pretrain_content`: data/speech.csv of a 32-utterance
    espeak-ng corpus, an empty music clip manifest (nothing here uses music) and params.yaml."""
    root = tmp_path_factory.mktemp("ddp")
    splits = parse(SplitsConfig, SPLITS, "data.librispeech.splits")
    build_embedded_librispeech(root / "corpus", parse(EmbeddedSpeechConfig, CORPUS, "data.embedded_speech"), splits,
                               16000, seed=0)
    (root / "data").mkdir()
    speech_manifest(prepare_librispeech(root / "corpus", splits.subsets()), splits).to_csv(root / "data/speech.csv",
                                                                                          index=False)
    pd.DataFrame(columns=list(CLIP_COLUMNS)).to_csv(root / "data/clips.csv", index=False)
    return root


def run_stage(project: Path, name: str, nproc: int) -> Path:
    """Run the real stage with `distributed.nproc_per_node = nproc` in its own copy of the
    project, MLflow in a store of its own; returns that folder."""
    folder = project / name
    folder.mkdir()
    (folder / "data").symlink_to(project / "data")
    for outs in ("models", "metrics"):
        (folder / outs).mkdir()
    params = deep_merge(deep_merge(read_yaml(REPO / "params.yaml"), read_yaml(REPO / "tests/tiny_params.yaml")),
                        {"content": CONTENT, "distributed": {"nproc_per_node": nproc}})
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
           "OMP_NUM_THREADS": "1"}
    env.pop("DVC_ROOT", None)
    result = subprocess.run(
        [sys.executable, "-m", "stages.pretrain_content", "--speech", "data/speech.csv", "--music", "data/clips.csv",
         "--model", "models/content_encoder.pt", "--metrics", "metrics/content.json",
         "--curves", "metrics/content_curves.csv"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def runs(project) -> dict[int, Path]:
    return {nproc: run_stage(project, f"nproc{nproc}", nproc) for nproc in (1, 2)}


def mlflow_runs(folder: Path) -> pd.DataFrame:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return pd.DataFrame([r.info.run_name for r in client.search_runs(experiments)], columns=["run_name"])


@pytest.mark.slow  # ~45 s of CPU, 2 min wall on a busy 2-core machine (espeak corpus + 3 processes)
def test_two_processes_match_one_within_tolerance(runs):
    one, two = (pd.read_csv(runs[n] / "metrics/content_curves.csv") for n in (1, 2))
    assert list(one["epoch"]) == list(two["epoch"]) == [1, 2]
    assert np.allclose(two["lr"], one["lr"], rtol=1e-6)  # same number of steps: the same schedule
    loss_gap = np.abs(two["train_loss"] - one["train_loss"]) / one["train_loss"]
    assert (loss_gap < LOSS_TOLERANCE).all(), loss_gap.tolist()
    weights = [load_content_encoder(runs[n] / "models/content_encoder.pt").state_dict() for n in (1, 2)]
    learned = [k for k, v in weights[0].items() if v.is_floating_point() and "running" not in k]
    w1 = torch.cat([weights[0][k].flatten() for k in learned])
    w2 = torch.cat([weights[1][k].flatten() for k in learned])
    gap = float((w2 - w1).norm() / w1.norm())
    assert 0 < gap < WEIGHT_TOLERANCE, gap  # not identical (it did shard), yet close
    print(f"2 ranks vs 1: train loss gap {loss_gap.max():.2e} (relative), weights gap {gap:.2e} (relative L2)")


@pytest.mark.slow
def test_only_rank_zero_writes(runs):
    folder = runs[2]
    assert sorted(p.name for p in (folder / "models").iterdir()) == ["content_encoder.pt"]
    assert sorted(p.name for p in (folder / "metrics").iterdir()) == ["content.json", "content_curves.csv"]
    names = mlflow_runs(folder)["run_name"].tolist()
    assert names == ["pretrain_content"]


def test_shard_gives_every_rank_its_slice_of_each_batch(monkeypatch):
    batches = [np.arange(8), np.arange(8, 13), np.array([13])]
    assert DataParallel.single(torch.device("cpu")).shard(batches) is batches  # a plain run: untouched
    monkeypatch.setattr(DataParallel, "__init__", lambda self, cfg, device: None)
    parts = []
    for rank in (0, 1):
        parallel = DataParallel(None, None)
        parallel.world, parallel.rank, parallel.device = 2, rank, torch.device("cpu")
        parts.append(parallel.shard(batches))
    assert [len(p) for p in parts] == [2, 2]  # the 1-utterance batch dropped on both ranks
    assert sorted(np.concatenate([np.concatenate(p) for p in parts]).tolist()) == list(range(13))


def test_launch_command_and_plain_run(monkeypatch):
    for key in ("LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    assert relaunch_under_torchrun(DistributedConfig(), "stages.train_style", ["--x", "y"]) is None
    one_node = torchrun_command(DistributedConfig(nproc_per_node=4), "stages.train_style", ["--clips", "c.csv"])
    assert one_node[1:] == ["-m", "torch.distributed.run", "--nproc_per_node=4", "--standalone",
                            "-m", "stages.train_style", "--clips", "c.csv"]
    nodes = torchrun_command(DistributedConfig(nproc_per_node=8, nnodes=2, node_rank=1, master_addr="10.0.0.1"),
                             "stages.pretrain_content", [])
    assert {"--nnodes=2", "--node_rank=1", "--master_addr=10.0.0.1", "--master_port=29500"} <= set(nodes)
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert relaunch_under_torchrun(DistributedConfig(nproc_per_node=2), "stages.train_style", []) is None


@pytest.mark.slow  # 2 torchrun workers start and import torch + MLflow: ~1 min on a busy 2-core machine
def test_a_user_mistake_under_torchrun_is_one_line_and_exit_2(tmp_path):
    """A bad manifest found inside training (every rank fails alike): one `error:` line, exit 2,
    no torchrun failure report, nothing written."""
    params = deep_merge(read_yaml(REPO / "params.yaml"), {"distributed": {"nproc_per_node": 2}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    pd.DataFrame({"utt_id": ["a"], "path": ["a.flac"]}).to_csv(tmp_path / "speech.csv", index=False)
    pd.DataFrame(columns=list(CLIP_COLUMNS)).to_csv(tmp_path / "clips.csv", index=False)
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "stages.pretrain_content", "--speech", "speech.csv", "--music", "clips.csv",
         "--model", "model.pt", "--metrics", "m.json", "--curves", "c.csv"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: speech manifest lacks columns "
                                                  "['seconds', 'speaker', 'split', 'transcript']"]
    assert not (tmp_path / "model.pt").exists()


def test_style_rank_slice_draws_the_whole_batch_and_embeds_its_part():
    """A rank's `triplet_step(part=...)` moves the generator exactly as the whole batch does (ranks
    stay in step) and scores only its triplets: all positions = the plain step's loss."""
    from test_style_training import tiny_segments, tiny_style

    from pipeline.losses import TripletLoss
    from pipeline.models.style_encoder import StyleEncoder
    from pipeline.training.style import triplet_step
    from pipeline.data.triplets import TripletSampler

    style = tiny_style()
    train = tiny_segments(np.random.default_rng(0))
    sampler = TripletSampler(train.genres, train.tracks, style.anchor_genre)
    torch.manual_seed(0)
    model = StyleEncoder.from_params(style, FrontEnd()).eval()
    loss_fn = TripletLoss.from_params(style)
    anchors = sampler.epoch(style.batch_size, np.random.default_rng(1), style.other_anchors)[0]
    k, b = style.negatives_per_anchor, len(anchors)

    def step(part):
        rng = np.random.default_rng(2)
        with torch.no_grad():
            loss = triplet_step(model, loss_fn, train, sampler, anchors, k, style.crop_frames, rng, part)
        return float(loss), rng.integers(1 << 30)

    whole, after = step(None)
    assert step(np.arange(b)) == (whole, after)
    halves = [step(np.array_split(np.arange(b), 2)[r]) for r in (0, 1)]
    assert all(next_draw == after for _, next_draw in halves)
    assert all(np.isfinite(loss) for loss, _ in halves)
