"""Speech augmentation for the recognisers (the content encoder and the ASR judge): speed
perturbation, a synthetic room, additive noise and music from the music corpus underneath, each
drawn from one numpy Generator, so a seed gives the same audio. The transcript never changes:
speed perturbation (Kaldi's 0.9 / 1.0 / 1.1) moves pitch and tempo together, as a faster or
slower talker, and everything else only adds sound.

Music is what generation lays under the words, so a recogniser that has never heard speech over
a beat would read the beat, not the words; `MusicBank` holds segments of one split of the music
corpus (train for training, test for the evaluation at fixed SNRs).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torchaudio

from pipeline.audio import load_audio
from pipeline.config import AugmentConfig
from pipeline.data.rooms import room_convolve, room_impulse


def power(samples: np.ndarray) -> float:
    return float(np.mean(np.square(samples, dtype=np.float64)))


def mix_at_snr(speech: np.ndarray, background: np.ndarray, snr_db: float) -> np.ndarray:
    """`speech` plus `background` (cut or tiled to its length) scaled so that
    10 log10(P_speech / P_background) = `snr_db`; torchaudio's `add_noise`. Peaks above 1 are
    scaled down with the whole mix (never clipped). (n,) float32."""
    background = np.resize(background, speech.shape).astype(np.float32)
    if power(background) == 0 or power(speech) == 0:
        return speech.astype(np.float32)
    mixed = torchaudio.functional.add_noise(torch.from_numpy(speech.astype(np.float32))[None],
                                            torch.from_numpy(background)[None], torch.tensor([float(snr_db)]))[0].numpy()
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak * 0.99 if peak > 0.99 else mixed).astype(np.float32)


def speed_perturb(samples: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """Play `factor` times faster (pitch moves with it): torchaudio's `speed` (a resampling)."""
    if factor == 1.0:
        return samples
    out, _ = torchaudio.functional.speed(torch.from_numpy(np.ascontiguousarray(samples))[None], sample_rate, factor)
    return out[0].numpy().astype(np.float32)


def reverberate(samples: np.ndarray, impulse: np.ndarray) -> np.ndarray:
    """Convolve with a room impulse, keep the input's length and RMS."""
    wet = room_convolve(samples, impulse)
    return (wet * np.sqrt(power(samples) / max(power(wet), 1e-12))).astype(np.float32)


@dataclass
class MusicBank:
    """Music segments (float32 mono at one sample rate) to lay under speech."""
    segments: list[np.ndarray]

    @classmethod
    def from_clips(cls, clips: pd.DataFrame, split: str, sample_rate: int, limit: int | None = None,
                   seed: int = 0, root: str | Path = ".") -> "MusicBank":
        """Segments of `split` from a clips manifest (clip_path, split, ...): all, or `limit` of
        them drawn with `seed` (in manifest order, so the draw is the same on every machine)."""
        rows = clips[clips["split"] == split].reset_index(drop=True)
        if rows.empty:
            raise ValueError(f"the music clips have no {split} segments to lay under speech")
        if limit and limit < len(rows):
            rows = rows.iloc[np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))]
        return cls([load_audio(Path(root) / path, sample_rate) for path in rows["clip_path"]])

    def excerpt(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` samples of a random segment from a random offset (tiled when the segment is shorter)."""
        segment = self.segments[int(rng.integers(len(self.segments)))]
        start = int(rng.integers(max(1, len(segment) - n + 1)))
        return np.resize(segment[start:] if len(segment) - start >= n else segment, n)


class SpeechAugment:
    """One augmented rendering of an utterance per call: speed, then room, then music and noise.

    `augment(samples (n,), rng)` -> (n',) float32 with n' = n / speed. Draws from `rng` in a fixed
    order whatever is applied, so one choice never shifts the draws of the next utterance."""

    def __init__(self, cfg: AugmentConfig, sample_rate: int, music: MusicBank | None):
        if cfg.music_probability > 0 and music is None:
            raise ValueError("content.augment.music_probability > 0 needs music segments")
        self.cfg, self.sample_rate, self.music = cfg, sample_rate, music

    def __call__(self, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        cfg, sr = self.cfg, self.sample_rate
        factor = float(cfg.speeds[int(rng.integers(len(cfg.speeds)))])
        use_room, use_music, use_noise = rng.random(3) < (cfg.reverb_probability, cfg.music_probability,
                                                          cfg.noise_probability)
        room_rng, music_rng, noise_rng = rng.spawn(3)
        out = speed_perturb(samples, factor, sr)
        if use_room:
            out = reverberate(out, room_impulse(room_rng, sr, float(room_rng.uniform(*cfg.reverb_seconds))))
        if use_music:
            out = mix_at_snr(out, self.music.excerpt(len(out), music_rng), float(music_rng.uniform(*cfg.music_snr_db)))
        if use_noise:
            noise = noise_rng.standard_normal(len(out)).astype(np.float32)
            out = mix_at_snr(out, noise, float(noise_rng.uniform(*cfg.noise_snr_db)))
        return out.astype(np.float32)


def with_music(waveforms: list[np.ndarray], music: MusicBank, snr_db: float, seed: int) -> list[np.ndarray]:
    """Each waveform with a music excerpt underneath at exactly `snr_db` (the evaluation's mix:
    excerpts drawn from `seed`, the same for every SNR and every model)."""
    rng = np.random.default_rng(seed)
    return [mix_at_snr(w, music.excerpt(len(w), rng), snr_db) for w in waveforms]
