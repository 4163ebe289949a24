"""Pretrain the content encoder as a CTC speech recogniser: one readable loop.

Length-bucketed batches, AdamW (decay on weights only) with the one-cycle schedule both
trainings share, gradient clipping, optional SpecAugment, best weights by dev CER, greedy CTC
decoding, CER / WER by edit distance. The budget is a fixed number of epochs (never wall-clock),
so a run is reproducible.
"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torchaudio

from pipeline.audio import FrontEnd, load_audio
from pipeline.config import ContentConfig, ContentModelConfig, DistributedConfig, ContentTrainConfig, SpecAugmentConfig
from pipeline.data.augment import MusicBank, SpeechAugment, with_music
from pipeline.devices import pick_device
from pipeline.distributed import DataParallel
from pipeline.parallel import fork_pool
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


def load_waveforms(frame: pd.DataFrame, sample_rate: int) -> list[np.ndarray]:
    """The audio of each manifest row (path), mono float32 at `sample_rate`."""
    return [load_audio(path, sample_rate) for path in frame["path"]]


def utterances_from_waveforms(waveforms: list[np.ndarray], frame: pd.DataFrame, front_end: FrontEnd) -> Utterances:
    """Waveforms of manifest rows (transcript, speaker) -> spectrograms from the shared front end."""
    spectrogram = front_end.spectrogram()
    specs = []
    for waveform in waveforms:
        with torch.no_grad():
            specs.append(spectrogram(torch.from_numpy(waveform)).to(torch.float16))
    return Utterances(specs, [encode_text(t) for t in frame["transcript"]],
                      [" ".join(t.upper().split()) for t in frame["transcript"]], [str(s) for s in frame["speaker"]])


def load_utterances(frame: pd.DataFrame, front_end: FrontEnd) -> Utterances:
    """Rows of the speech manifest (path, transcript, speaker) -> spectrograms from the shared front end."""
    return utterances_from_waveforms(load_waveforms(frame, front_end.sample_rate), frame, front_end)


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
                          build_model: Callable[[], torch.nn.Module] | None = None,
                          epoch_data: Callable[[int], Utterances] | None = None,
                          parallel: DataParallel | None = None) -> tuple[ContentEncoder, list[dict], int]:
    """Train from scratch. Returns the model with its best-dev-CER weights (frozen, eval mode),
    one curve row per epoch (epoch, train_loss, dev_cer, dev_wer, lr) and the epoch kept (ties:
    the earlier). `on_epoch` gets each row plus the epoch's wall seconds. `build_model` (called
    after seeding) makes another CTC recogniser with the same `forward(spectrogram, lengths) ->
    (log_probs, out_lengths)` contract, trained by the same loop (the ASR judge); default: a
    ContentEncoder from `model_cfg`. `epoch_data(epoch)` gives the train set an epoch sees (the
    utterances augmented afresh, `SpeechData.train_epoch`); default: `train` every epoch.
    `parallel` (under torchrun): every rank draws the same batches from the same seed and trains
    on its slice of each inside DDP; the curves' train_loss is the ranks' mean; every rank scores
    dev on the same (synchronised) weights."""
    parallel = parallel or DataParallel.single(device)
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    net = (build_model() if build_model else ContentEncoder(front_end, model_cfg)).to(device)
    model = parallel.wrap(net)  # `net` itself in a plain run
    optimizer = adamw(net, cfg.lr, cfg.weight_decay, fused=True)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    schedule = one_cycle(optimizer, cfg.lr, steps_per_epoch * cfg.epochs, cfg.warmup_fraction, cfg.final_lr_fraction,
                         cfg.cycle_momentum)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    best_cer, best_state, best_epoch, curves = math.inf, None, 0, []
    for epoch in range(1, cfg.epochs + 1):
        started, losses = time.perf_counter(), []
        if epoch_data:
            train = epoch_data(epoch)
        model.train()
        shortest_first = epoch == 1 and cfg.sortagrad
        for index in parallel.shard(length_batches(train.frames, cfg.batch_size, cfg.bucket_frames, rng, shortest_first)):
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
        scores = evaluate(net, dev, cfg.eval_batch_size, device)
        row = {"epoch": epoch, "train_loss": round(parallel.mean(float(np.mean(losses))), 6), "dev_cer": round(scores["cer"], 6),
               "dev_wer": round(scores["wer"], 6), "lr": round(lr, 8)}
        curves.append(row)  # no timings in the curves: they are an output and must not vary
        if on_epoch:
            on_epoch({**row, "epoch_seconds": round(time.perf_counter() - started, 2)})
        if scores["cer"] < best_cer:
            best_cer, best_state, best_epoch = scores["cer"], copy.deepcopy(net.state_dict()), epoch
    net.load_state_dict(best_state)
    return freeze(net), curves, best_epoch


def unseen_speaker_mask(test: pd.DataFrame, train: pd.DataFrame) -> np.ndarray:
    """True for test utterances whose speaker never occurs in train."""
    return ~test["speaker"].astype(str).isin(set(train["speaker"].astype(str))).to_numpy()


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def music_condition(snr_db: float) -> str:
    return f"music_{snr_db:g}db".replace("-", "minus")


class SpeechData:
    """A speech manifest ready for a CTC recogniser: the splits, dev as spectrograms, the train
    audio (augmented afresh each epoch when `cfg.augment` is set, with music from the music
    train split), and the test sets: clean, and with music-test-split excerpts underneath at
    each of `cfg.music_test_snr_db`. The content encoder and the ASR judge share it, so both
    hear the same augmentation and are scored on the same mixtures."""

    def __init__(self, speech: pd.DataFrame, front_end: FrontEnd, cfg: ContentConfig, seed: int,
                 music_clips: pd.DataFrame | None = None):
        self.front_end, self.cfg, self.seed = front_end, cfg, seed
        self.workers = max(1, min(8, os.cpu_count() or 1))
        self.parts = split_manifest(speech, cfg.train)
        needs_music = (cfg.augment and cfg.augment.music_probability > 0) or cfg.music_test_snr_db
        if needs_music and music_clips is None:
            raise UserError("content.augment / content.music_test_snr_db need the music clips manifest")
        rate = front_end.sample_rate
        self.train_waves = load_waveforms(self.parts["train"], rate)
        self.train = utterances_from_waveforms(self.train_waves, self.parts["train"], front_end)
        self.dev = load_utterances(self.parts["dev"], front_end)
        test_waves = load_waveforms(self.parts["test"], rate)
        self.tests = {"": utterances_from_waveforms(test_waves, self.parts["test"], front_end)}
        if cfg.music_test_snr_db:
            bank = MusicBank.from_clips(music_clips, "test", rate)
            for snr in cfg.music_test_snr_db:
                mixed = with_music(test_waves, bank, snr, seed)
                self.tests[music_condition(snr)] = utterances_from_waveforms(mixed, self.parts["test"], front_end)
        self.augment = None
        if cfg.augment:
            music = (MusicBank.from_clips(music_clips, "train", rate, cfg.augment.music_segments, seed)
                     if cfg.augment.music_probability > 0 else None)
            self.augment = SpeechAugment(cfg.augment, rate, music)

    def train_epoch(self, epoch: int) -> Utterances:
        """The train set epoch `epoch` sees: utterance i augmented with draws from (seed, epoch, i),
        so the result is the same whatever the worker count. Augmenting costs ~4 ms an utterance
        on one core: forked workers, each single-threaded (threads would only spin here)."""
        if self.augment is None:
            return self.train
        global _AUGMENTING
        _AUGMENTING = self, epoch  # read by the forked children: nothing big is pickled their way
        chunks = np.array_split(np.arange(len(self.train_waves)), self.workers)
        with fork_pool(self.workers) as pool:
            specs = [torch.from_numpy(spec) for packed in pool.map(_augment_chunk, chunks) for spec in _unpack(*packed)]
        return Utterances(specs, self.train.targets, self.train.transcripts, self.train.speakers)

    def train_model(self, device: torch.device, on_epoch: Callable[[dict], None] | None = None,
                    build_model: Callable[[], torch.nn.Module] | None = None, seed: int | None = None,
                    parallel: DataParallel | None = None):
        """`train_content_encoder` on this data (the model from `build_model`, else a content encoder)."""
        return train_content_encoder(self.train, self.dev, self.front_end, self.cfg.model, self.cfg.train,
                                     self.seed if seed is None else seed, device, on_epoch, build_model,
                                     self.train_epoch if self.augment else None, parallel)

    def test_metrics(self, model: torch.nn.Module, device: torch.device) -> dict:
        """CER / WER / count on the test split, each condition (clean and each music SNR) scored
        for speakers heard in training (`test_*`, the embedded corpus's main condition), speakers
        never heard (`test_unseen_speaker_*`) and the whole split (`test_all_*`). Real LibriSpeech
        test speakers are all new: there the first and the last are the whole split."""
        unseen = unseen_speaker_mask(self.parts["test"], self.parts["train"])
        seen = ~unseen if (~unseen).any() else np.ones_like(unseen)
        metrics = {}
        for condition, data in self.tests.items():
            tag = f"_{condition}" if condition else ""
            hypotheses = data.transcripts, transcribe_all(model, data, self.cfg.train.eval_batch_size, device)
            for group, keep in (("test", seen), ("test_unseen_speaker", unseen if unseen.any() else None),
                                ("test_all", np.ones_like(unseen))):
                result = score(*hypotheses, keep=keep) if keep is not None else None
                metrics.update({f"{group}{tag}_cer": round(result["cer"], 6) if result else None,
                                f"{group}{tag}_wer": round(result["wer"], 6) if result else None,
                                f"{group}{tag}_utterances": result["utterances"] if result else 0})
        return metrics


_AUGMENTING: tuple[SpeechData, int] | None = None


def _pack(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Arrays of one dtype -> one flat array and their shapes: a worker's result goes back as
    one pickle, not thousands (~1 s an epoch on 2 cores)."""
    return (np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)), [a.shape for a in arrays]


def _unpack(flat: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """`_pack`'s inverse: contiguous views of `flat`."""
    pieces = np.split(flat, np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1])
    return [piece.reshape(shape) for piece, shape in zip(pieces, shapes)]


def _augment_chunk(indices: np.ndarray) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Forked child: the augmented spectrograms (float16 (n_freq, T)) of train utterances
    `indices`, packed (`_pack`)."""
    data, epoch = _AUGMENTING
    spectrogram = data.front_end.spectrogram()
    specs = []
    for i in indices:
        waveform = data.augment(data.train_waves[i], np.random.default_rng([data.seed, epoch, int(i)]))
        with torch.no_grad():
            specs.append(spectrogram(torch.from_numpy(waveform)).to(torch.float16).numpy())
    return _pack(specs)


def pretrain_content(speech: pd.DataFrame, front_end: FrontEnd, cfg: ContentConfig, seed: int,
                     on_epoch: Callable[[dict], None] | None = None,
                     music_clips: pd.DataFrame | None = None, distributed: DistributedConfig | None = None
                     ) -> tuple[ContentEncoder, dict, list[dict], float]:
    """The whole `pretrain_content` job on a speech manifest (utt_id, path, transcript, speaker,
    split, seconds) and, for augmentation and the music-underneath test, the music clips manifest:
    load, train, pick the best dev epoch, score test. Returns (frozen model, metrics, curves,
    seconds to load and train). The seconds stay out of the metrics, which must not change from
    run to run. Test speakers absent from train are the "unseen speaker" set. `distributed`: the
    params section, acted on under torchrun (`pipeline.distributed`); every rank returns the same
    model and metrics, and only rank 0 should write them."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    parallel = DataParallel(distributed, pick_device(cfg.device, "content.device"))
    device = parallel.device
    started = time.perf_counter()
    data = SpeechData(speech, front_end, cfg, seed, music_clips)
    model, curves, best_epoch = data.train_model(device, on_epoch, parallel=parallel)
    train_seconds = time.perf_counter() - started
    best = curves[best_epoch - 1]
    metrics = {"dev_cer": best["dev_cer"], "dev_wer": best["dev_wer"], **data.test_metrics(model, device)}
    metrics.update({
        "params": count_parameters(model), "best_epoch": best_epoch, "device": device.type,
        "utterances": {name: len(part) for name, part in data.parts.items()},
        "speakers": {name: int(part["speaker"].nunique()) for name, part in data.parts.items()},
        "train_audio_hours": round(float(data.parts["train"]["seconds"].sum()) / 3600, 4),
    })
    return model.cpu(), metrics, curves, round(train_seconds, 1)
