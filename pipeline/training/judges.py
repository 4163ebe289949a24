"""Train the two judges of `train_judges` and score them on held-out data. Never used in any loss.

The ASR judge trains through the content encoder's own data path, augmentation, loop and test
conditions (`pipeline.training.content.SpeechData`: `train_model`, `test_metrics`); only the
model, its training knobs and its seed differ. The hip-hop judge is fitted on the music
train split plus plain speech from the speech train split (`pipeline.judges.hiphop`).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from pipeline.audio import FrontEnd, load_audio
from pipeline.config import ContentConfig, DistributedConfig, HiphopJudgeConfig, JudgesConfig
from pipeline.devices import pick_device
from pipeline.distributed import DataParallel
from pipeline.errors import UserError
from pipeline.judges.asr import AsrJudge
from pipeline.judges.hiphop import HiphopJudge, feature_matrix, fit_hiphop_judge
from pipeline.training.content import SpeechData, count_parameters


def judge_speech_config(content: ContentConfig, cfg: JudgesConfig) -> ContentConfig:
    """The content encoder's speech settings with the judge's own training knobs: the same
    augmentation (music from the music train split included) and the same music-underneath
    test conditions, so both recognisers hear the same speech and are scored on the same mixtures."""
    return dataclasses.replace(content, device=cfg.device, threads=cfg.threads, train=cfg.asr.train)


def train_asr_judge(speech: pd.DataFrame, music_clips: pd.DataFrame, front_end: FrontEnd, content: ContentConfig,
                    cfg: JudgesConfig, seed: int, on_epoch: Callable[[dict], None] | None = None,
                    distributed: DistributedConfig | None = None) -> tuple[AsrJudge, dict, list[dict], float]:
    """Speech manifest (+ the music clips for augmentation and the music test) -> (frozen judge on
    the CPU, metrics, per-epoch curves, wall seconds of loading + training). Data, loop and test
    conditions are the content encoder's (`SpeechData` from the pipeline's `seed`: the very test
    mixtures the content encoder is scored on); the judge's own seed (`judges.seed`) drives its
    initialisation and batches. `distributed`: data-parallel under torchrun, as `pretrain_content`."""
    parallel = DataParallel(distributed, pick_device(cfg.device, "judges.device"))
    device = parallel.device
    started = time.perf_counter()
    data = SpeechData(speech, front_end, judge_speech_config(content, cfg), seed, music_clips)
    model, curves, best_epoch = data.train_model(device, on_epoch, build_model=lambda: AsrJudge(front_end, cfg.asr.model),
                                                 seed=cfg.seed, parallel=parallel)
    seconds = time.perf_counter() - started
    best = curves[best_epoch - 1]
    metrics = {"dev_cer": best["dev_cer"], "dev_wer": best["dev_wer"], **data.test_metrics(model, device),
               "params": count_parameters(model), "best_epoch": best_epoch, "device": device.type,
               "utterances": {name: len(part) for name, part in data.parts.items()}}
    return model.cpu(), metrics, curves, seconds


# --- the hip-hop judge ---------------------------------------------------------------------------
def random_crop(samples: np.ndarray, seconds: tuple[float, float], sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A crop of a length drawn uniformly from `seconds`, at a uniform start."""
    length = min(len(samples), int(round(rng.uniform(*seconds) * sample_rate)))
    start = int(rng.integers(0, len(samples) - length + 1))
    return samples[start:start + length]


def judge_clips(clips: pd.DataFrame, speech: pd.DataFrame, split: str, anchor: str, cfg: HiphopJudgeConfig,
                sample_rate: int, rng: np.random.Generator, speech_limit: int | None = None) -> dict[str, list[np.ndarray]]:
    """One split's audio by kind: `hiphop` and `other` music segments, `hiphop_crops` and
    `other_crops` (`crops_per_segment` random crops of each segment, `crop_seconds` long) and
    plain `speech` (a seeded sample of `speech_limit` utterances; all without it)."""
    music = clips[clips["split"] == split]
    rows = speech[speech["split"] == split]
    if music.empty or rows.empty:
        raise UserError(f"no {split} {'music segments' if music.empty else 'speech'} for the hip-hop judge")
    if speech_limit and speech_limit < len(rows):
        rows = rows.iloc[np.sort(rng.choice(len(rows), speech_limit, replace=False))]
    out: dict[str, list[np.ndarray]] = {"speech": [load_audio(p, sample_rate) for p in rows["path"]]}
    for kind, part in (("hiphop", music[music["genre"] == anchor]), ("other", music[music["genre"] != anchor])):
        out[kind] = [load_audio(p, sample_rate) for p in part["clip_path"]]
        out[f"{kind}_crops"] = [random_crop(w, cfg.crop_seconds, sample_rate, rng)
                                for w in out[kind] for _ in range(cfg.crops_per_segment)]
    return out


def train_hiphop_judge(clips: pd.DataFrame, speech: pd.DataFrame, anchor: str, cfg: JudgesConfig,
                       sample_rate: int) -> tuple[HiphopJudge, dict]:
    """Fit on the music train split (anchor genre vs the rest, segments and crops) plus plain
    train speech as negatives; score the test splits of both. Returns (judge, metrics):
    `roc_auc_music` (test segments, anchor vs other genres), `roc_auc` (those plus test speech),
    `ceiling` (mean p of anchor test segments), `ceiling_crops` (of their speech-length crops),
    `floor` (mean p of untouched test speech), `other_music`, and `speech_over_half` (share of
    test speech above 0.5)."""
    hip = cfg.hiphop
    rng = np.random.default_rng(cfg.seed)
    train = judge_clips(clips, speech, "train", anchor, hip, sample_rate, rng, hip.speech_negatives)
    positives, negatives = ("hiphop", "hiphop_crops"), ("other", "other_crops", "speech")
    waves = [w for kind in positives + negatives for w in train[kind]]
    labels = np.array([kind in positives for kind in positives + negatives for _ in train[kind]], dtype=int)
    judge = fit_hiphop_judge(feature_matrix(waves, sample_rate, hip.features, hip.workers), labels, hip, sample_rate,
                             cfg.seed)
    test = judge_clips(clips, speech, "test", anchor, hip, sample_rate, rng)
    p = {kind: judge.probability(items, sample_rate, hip.workers) for kind, items in test.items()}
    music = np.concatenate([p["hiphop"], p["other"]])
    music_labels = np.r_[np.ones(len(p["hiphop"])), np.zeros(len(p["other"]))]
    mean = lambda x: round(float(x.mean()), 6) if len(x) else None
    all_labels, all_p = np.r_[music_labels, np.zeros(len(p["speech"]))], np.r_[music, p["speech"]]
    auc = lambda y, x: round(float(roc_auc_score(y, x)), 6) if 0 < y.sum() < len(y) else None  # needs both classes
    metrics = {
        "roc_auc_music": auc(music_labels, music), "roc_auc": auc(all_labels, all_p),
        "ceiling": mean(p["hiphop"]), "ceiling_crops": mean(p["hiphop_crops"]), "floor": mean(p["speech"]),
        "other_music": mean(p["other"]), "speech_over_half": mean(p["speech"] > 0.5),
        "train_clips": {kind: len(items) for kind, items in train.items()},
        "test_clips": {kind: len(items) for kind, items in test.items()},
    }
    return judge, metrics


# --- the stage's job -----------------------------------------------------------------------------
def train_judges(speech: pd.DataFrame, clips: pd.DataFrame, front_end: FrontEnd, content: ContentConfig,
                 cfg: JudgesConfig, anchor: str, seed: int, on_epoch: Callable[[dict], None] | None = None,
                 distributed: DistributedConfig | None = None
                 ) -> tuple[AsrJudge, HiphopJudge, dict, list[dict], dict]:
    """Both judges -> (ASR judge, hip-hop judge, metrics, the ASR judge's per-epoch curves, wall
    seconds). Metrics: `asr` and `hiphop`, deterministic for the params; the wall times, which vary
    run to run, come apart (`asr_train`, `hiphop_fit_and_score`) so the metrics file does not.
    `distributed`: the ASR judge data-parallel under torchrun (the hip-hop judge, a small sklearn
    fit, is fitted by every rank alike)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    hiphop, hiphop_metrics = train_hiphop_judge(clips, speech, anchor, cfg, front_end.sample_rate)
    hiphop_seconds = time.perf_counter() - started
    asr, asr_metrics, curves, asr_seconds = train_asr_judge(speech, clips, front_end, content, cfg, seed, on_epoch,
                                                            distributed)
    seconds = {"asr_train": round(asr_seconds, 1), "hiphop_fit_and_score": round(hiphop_seconds, 1)}
    return asr, hiphop, {"asr": asr_metrics, "hiphop": hiphop_metrics}, curves, seconds
