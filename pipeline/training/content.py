"""Pretrain the content encoder as a CTC speech recogniser: one readable loop.

Length-bucketed batches, AdamW (decay on weights only) with the one-cycle schedule both
trainings share, gradient clipping, optional SpecAugment, best weights by dev CER, greedy CTC
decoding, CER / WER by edit distance. The budget is a fixed number of epochs (never wall-clock),
so a run is reproducible.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torchaudio

from pipeline.audio import FrontEnd, load_audio
from pipeline.config import ContentConfig, ContentModelConfig, ContentTrainConfig, SpecAugmentConfig
from pipeline.devices import pick_device
from pipeline.errors import UserError
from pipeline.models.content_encoder import ContentEncoder, encode_text, freeze, greedy_decode
from pipeline.seeding import seed_everything
from pipeline.training.optim import adamw, one_cycle


# --- metrics -----------------------------------------------------------------------------------
def error_rate(references: list[str], hypotheses: list[str], unit: str = "char") -> float:
    """Total edit distance over total reference length: CER (`unit="char"`) or WER ("word")."""
    split = (lambda s: list(s)) if unit == "char" else (lambda s: s.split())
    errors = sum(torchaudio.functional.edit_distance(split(r), split(h)) for r, h in zip(references, hypotheses))
    total = sum(len(split(r)) for r in references)
    return errors / max(total, 1)


# --- data --------------------------------------------------------------------------------------
@dataclass
class Utterances:
    """Spectrograms (float16 to halve memory; each (n_freq, T)) and their targets."""
    spectrograms: list[torch.Tensor]
    targets: list[list[int]]
    transcripts: list[str]
    speakers: list[str]

    @property
    def frames(self) -> np.ndarray:
        return np.array([s.shape[-1] for s in self.spectrograms])

    def __len__(self) -> int:
        return len(self.targets)


def load_utterances(frame: pd.DataFrame, front_end: FrontEnd) -> Utterances:
    """Rows of the speech manifest (path, transcript, speaker) -> spectrograms from the shared front end."""
    spectrogram = front_end.spectrogram()
    specs, targets = [], []
    for path, transcript in zip(frame["path"], frame["transcript"]):
        with torch.no_grad():
            spec = spectrogram(torch.from_numpy(load_audio(path, front_end.sample_rate)))
        specs.append(spec.to(torch.float16))
        targets.append(encode_text(transcript))
    return Utterances(specs, targets, [" ".join(t.upper().split()) for t in frame["transcript"]],
                      [str(s) for s in frame["speaker"]])


def split_manifest(speech: pd.DataFrame, cfg: ContentTrainConfig) -> dict[str, pd.DataFrame]:
    """train / dev / test rows; train drops utterances over `max_seconds` and is capped at
    `max_train_utterances` (a seeded-free, order-preserving head: the manifest order is fixed)."""
    missing = {"utt_id", "path", "transcript", "speaker", "split", "seconds"} - set(speech.columns)
    if missing:
        raise UserError(f"speech manifest lacks columns {sorted(missing)}")
    parts = {name: speech[speech["split"] == name].reset_index(drop=True) for name in ("train", "dev", "test")}
    for name, part in parts.items():
        if part.empty:
            raise UserError(f"speech manifest has no {name} utterances")
    train = parts["train"]
    if cfg.max_seconds:
        train = train[train["seconds"] <= cfg.max_seconds]
    if cfg.max_train_utterances:
        train = train.head(cfg.max_train_utterances)
    parts["train"] = train.reset_index(drop=True)
    return parts


def length_batches(frames: np.ndarray, batch_size: int, bucket_frames: int, rng: np.random.Generator,
                   shortest_first: bool = False) -> list[np.ndarray]:
    """Shuffle, then group utterances of similar length (buckets of `bucket_frames`) into batches;
    batch order shuffled, or shortest first (SortaGrad: CTC leaves its blank-only plateau sooner on
    short utterances). Little padding, yet new batch mixes every epoch."""
    order = rng.permutation(len(frames))
    order = order[np.argsort(frames[order] // max(bucket_frames, 1), kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return batches if shortest_first else [batches[i] for i in rng.permutation(len(batches))]


def collate(data: Utterances, index: np.ndarray, device: torch.device):
    """-> spectrograms (B, n_freq, T_max) zero-padded (log1p of silence), lengths (B,),
    concatenated targets, target lengths (B,)."""
    specs = [data.spectrograms[i] for i in index]
    lengths = torch.tensor([s.shape[-1] for s in specs])
    batch = torch.zeros(len(specs), specs[0].shape[0], int(lengths.max()))
    for row, spec in enumerate(specs):
        batch[row, :, :spec.shape[-1]] = spec.float()
    targets = torch.tensor([c for i in index for c in data.targets[i]], dtype=torch.long)
    target_lengths = torch.tensor([len(data.targets[i]) for i in index])
    return batch.to(device), lengths.to(device), targets, target_lengths


def spec_augment(batch: torch.Tensor, cfg: SpecAugmentConfig) -> torch.Tensor:
    """SpecAugment masks (value 0 = silence in log1p), drawn from torch's seeded generator."""
    x = batch.unsqueeze(1)
    for _ in range(cfg.freq_masks):
        x = torchaudio.functional.mask_along_axis_iid(x, cfg.freq_width, 0.0, axis=2)
    for _ in range(cfg.time_masks):
        x = torchaudio.functional.mask_along_axis_iid(x, cfg.time_width, 0.0, axis=3)
    return x.squeeze(1)


# --- the loop ----------------------------------------------------------------------------------
@torch.no_grad()
def transcribe_all(model: ContentEncoder, data: Utterances, batch_size: int, device: torch.device) -> list[str]:
    model.eval()
    order = np.argsort(data.frames, kind="stable")
    texts: list[str] = [""] * len(data)
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        specs, lengths, _, _ = collate(data, index, device)
        log_probs, out_lengths = model(specs, lengths)
        for i, text in zip(index, greedy_decode(log_probs, out_lengths)):
            texts[i] = text
    return texts


def score(references: list[str], hypotheses: list[str], keep: np.ndarray | None = None) -> dict[str, float]:
    """CER, WER and count over the items where `keep` is True (all items without it)."""
    if keep is not None:
        references = [r for r, k in zip(references, keep) if k]
        hypotheses = [h for h, k in zip(hypotheses, keep) if k]
    return {"cer": error_rate(references, hypotheses, "char"), "wer": error_rate(references, hypotheses, "word"),
            "utterances": len(references)}


def evaluate(model: ContentEncoder, data: Utterances, batch_size: int, device: torch.device) -> dict[str, float]:
    return score(data.transcripts, transcribe_all(model, data, batch_size, device))


def train_content_encoder(train: Utterances, dev: Utterances, front_end: FrontEnd, model_cfg: ContentModelConfig,
                          cfg: ContentTrainConfig, seed: int, device: torch.device,
                          on_epoch: Callable[[dict], None] | None = None,
                          build_model: Callable[[], torch.nn.Module] | None = None) -> tuple[ContentEncoder, list[dict], int]:
    """Train from scratch. Returns the model with its best-dev-CER weights (frozen, eval mode),
    one curve row per epoch (epoch, train_loss, dev_cer, dev_wer, lr) and the epoch kept (ties:
    the earlier). `on_epoch` gets each row plus the epoch's wall seconds. `build_model` (called
    after seeding) makes another CTC recogniser with the same `forward(spectrogram, lengths) ->
    (log_probs, out_lengths)` contract, trained by the same loop (the ASR judge); default: a
    ContentEncoder from `model_cfg`."""
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    model = (build_model() if build_model else ContentEncoder(front_end, model_cfg)).to(device)
    optimizer = adamw(model, cfg.lr, cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    schedule = one_cycle(optimizer, cfg.lr, steps_per_epoch * cfg.epochs, cfg.warmup_fraction, cfg.final_lr_fraction,
                         cfg.cycle_momentum)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    frames = train.frames
    best_cer, best_state, best_epoch, curves = math.inf, None, 0, []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        started, losses = time.perf_counter(), []
        shortest_first = epoch == 1 and cfg.sortagrad
        for index in length_batches(frames, cfg.batch_size, cfg.bucket_frames, rng, shortest_first):
            specs, lengths, targets, target_lengths = collate(train, index, device)
            if cfg.spec_augment:
                specs = spec_augment(specs, cfg.spec_augment)
            log_probs, out_lengths = model(specs, lengths)
            # CTC on the CPU: its CUDA backward has no deterministic implementation.
            loss = ctc(log_probs.float().cpu(), targets, out_lengths.cpu(), target_lengths)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            lr = optimizer.param_groups[0]["lr"]  # the rate this step used
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        scores = evaluate(model, dev, cfg.eval_batch_size, device)
        row = {"epoch": epoch, "train_loss": round(float(np.mean(losses)), 6), "dev_cer": round(scores["cer"], 6),
               "dev_wer": round(scores["wer"], 6), "lr": round(lr, 8)}
        curves.append(row)  # no timings in the curves: they are an output and must not vary
        if on_epoch:
            on_epoch({**row, "epoch_seconds": round(time.perf_counter() - started, 2)})
        if scores["cer"] < best_cer:
            best_cer, best_state, best_epoch = scores["cer"], copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    return freeze(model), curves, best_epoch


def unseen_speaker_mask(test: pd.DataFrame, train: pd.DataFrame) -> np.ndarray:
    """True for test utterances whose speaker never occurs in train."""
    return ~test["speaker"].astype(str).isin(set(train["speaker"].astype(str))).to_numpy()


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def pretrain_content(speech: pd.DataFrame, front_end: FrontEnd, cfg: ContentConfig, seed: int,
                     on_epoch: Callable[[dict], None] | None = None) -> tuple[ContentEncoder, dict, list[dict]]:
    """The whole `pretrain_content` job on a speech manifest (utt_id, path, transcript, speaker,
    split, seconds): load, train, pick the best dev epoch, score test. Returns (frozen model,
    metrics, curves). Test speakers absent from train are the "unseen speaker" set."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device, "content.device")
    parts = split_manifest(speech, cfg.train)
    started = time.perf_counter()
    data = {name: load_utterances(part, front_end) for name, part in parts.items()}
    model, curves, best_epoch = train_content_encoder(data["train"], data["dev"], front_end, cfg.model, cfg.train,
                                                      seed, device, on_epoch)
    train_seconds = time.perf_counter() - started
    batch = cfg.train.eval_batch_size
    best = curves[best_epoch - 1]
    # Test once, then score its conditions: unseen sentences read by speakers heard in training
    # (`test_cer`, the embedded corpus's main condition) and by speakers never heard
    # (`test_unseen_speaker_cer`). Real LibriSpeech test speakers are all new: both are the whole split.
    unseen = unseen_speaker_mask(parts["test"], parts["train"])
    seen = ~unseen if (~unseen).any() else np.ones_like(unseen)
    test = data["test"].transcripts, transcribe_all(model, data["test"], batch, device)
    conditions = {"test": score(*test, keep=seen), "test_unseen_speaker": score(*test, keep=unseen) if unseen.any() else None,
                  "test_all": score(*test)}
    metrics = {"dev_cer": best["dev_cer"], "dev_wer": best["dev_wer"]}
    for name, result in conditions.items():
        metrics.update({f"{name}_cer": round(result["cer"], 6) if result else None,
                        f"{name}_wer": round(result["wer"], 6) if result else None,
                        f"{name}_utterances": result["utterances"] if result else 0})
    metrics.update({
        "params": count_parameters(model), "best_epoch": best_epoch, "device": device.type,
        "utterances": {name: len(part) for name, part in parts.items()},
        "train_audio_hours": round(float(parts["train"]["seconds"].sum()) / 3600, 4),
        "train_seconds": round(train_seconds, 1),  # load + train; the one figure that varies run to run
    })
    return model.cpu(), metrics, curves
