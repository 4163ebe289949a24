"""How much of the words and how much of the style survive generation, scored by judges that
no loss ever saw (`pipeline.judges`), on the written audio read back from disk.

Per clip: the ASR judge's character edits against the transcript (`content_cer` pools them:
total edits over total characters), the hip-hop judge's p(hip-hop), tempo and beat strength
(librosa). Over the set: the Frechet distance between Gaussians fitted to the style embeddings
of the outputs and of the corpus's hip-hop test segments (`style_distance`: ours, in the space
the optimiser saw, so it sits beside the judges, not in place of them). 95% intervals resample
clips within each speaker condition (`bootstrap.track_bootstrap`, one clip per "track").
"""
from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import scipy.linalg
import torchaudio

from pipeline.evaluation.bootstrap import track_bootstrap, weighted_mean

TEMPO_RANGE_BPM = (60.0, 200.0)   # where a beat is looked for in the onset autocorrelation


def char_edits(reference: str, hypothesis: str) -> int:
    return int(torchaudio.functional.edit_distance(list(reference), list(hypothesis)))


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between Gaussians fitted to (N, D) and
    (M, D) embeddings; `eps` on the diagonals keeps small sets' singular covariances usable, and a
    set of one has no spread (zero covariance)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    eye = eps * np.eye(a.shape[1])

    def covariance(x):
        return (np.cov(x, rowvar=False) if len(x) > 1 else np.zeros((x.shape[1], x.shape[1]))) + eye

    cov_a, cov_b = covariance(a), covariance(b)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))


def tempo_and_beat_strength(samples: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """librosa's tempo estimate (BPM), and the beat strength: the peak of the onset envelope's
    normalised autocorrelation at lags of 60-200 BPM (1: a perfectly periodic pulse; near 0:
    none, as in plain speech)."""
    envelope = librosa.onset.onset_strength(y=samples, sr=sample_rate)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=envelope, sr=sample_rate))[0])
    centred = envelope - envelope.mean()
    correlation = librosa.autocorrelate(centred)
    if correlation[0] <= 0:
        return tempo, 0.0
    frames_per_second = sample_rate / 512  # librosa's default onset hop
    lags = np.arange(len(correlation)) / frames_per_second
    window = (lags >= 60 / TEMPO_RANGE_BPM[1]) & (lags <= 60 / TEMPO_RANGE_BPM[0])
    return tempo, float(correlation[window].max() / correlation[0]) if window.any() else 0.0


@dataclass
class ClipScores:
    """Per clip (N,): character edits and reference lengths, p(hip-hop), tempo, beat strength, and
    what the ASR judge heard (N strings)."""
    edits: np.ndarray
    characters: np.ndarray
    hiphop: np.ndarray
    tempo: np.ndarray
    beat_strength: np.ndarray
    heard: list[str]

    @property
    def cer(self) -> np.ndarray:
        """(N,) each clip's own character error rate."""
        return self.edits / np.maximum(self.characters, 1)


def score_clips(judges, waveforms: list[np.ndarray], transcripts: list[str], sample_rate: int) -> ClipScores:
    heard = [judges.transcribe(w) for w in waveforms]
    edits = [char_edits(t, h) for t, h in zip(transcripts, heard)]
    rhythm = np.array([tempo_and_beat_strength(w, sample_rate) for w in waveforms])
    return ClipScores(np.array(edits), np.array([len(t) for t in transcripts]),
                      np.asarray(judges.hiphop_probability(waveforms, sample_rate), dtype=float),
                      rhythm[:, 0], rhythm[:, 1], heard)


def pooled_cer(edits: np.ndarray, characters: np.ndarray):
    """The statistic 'total edits over total characters' under bootstrap weights."""
    return lambda weights: float(np.sum(weights * edits) / max(np.sum(weights * characters), 1))


def summarise(scores: ClipScores, conditions: np.ndarray, resamples: int, seed: int) -> dict:
    """content_cer and hiphop_probability (95% intervals under `ci95`), mean tempo_bpm and
    beat_strength of one scored set; `conditions` (N,) stratifies the resampling."""
    statistics = {"content_cer": pooled_cer(scores.edits, scores.characters),
                  "hiphop_probability": weighted_mean(scores.hiphop)}
    clips = np.arange(len(conditions))
    metrics = {name: statistic(np.ones(len(clips))) for name, statistic in statistics.items()}
    metrics.update(tempo_bpm=float(scores.tempo.mean()), beat_strength=float(scores.beat_strength.mean()),
                   ci95=track_bootstrap(clips, conditions, statistics, resamples, seed))
    return metrics


def as_input_floor(metrics: dict) -> dict:
    """The untouched speech's summary under the names of the floors: input_cer, input_hiphop_probability."""
    names = {"content_cer": "input_cer", "hiphop_probability": "input_hiphop_probability"}
    return {**{names[k]: metrics[k] for k in names}, "ci95": {names[k]: metrics["ci95"][k] for k in names}}
