"""The hip-hop judge: a scikit-learn logistic regression on librosa clip statistics, so that
`hiphop_probability` is not the style encoder grading its own space. Never used in any loss.

Features of one clip (`clip_features`; deterministic, one fixed-length vector for any length):
the waveform scaled to a fixed RMS (loudness never decides) and passed through the corpus's codec
(`codec`: MP3 at 32 kbit/s, so the codec never decides either), then from one STFT (`n_fft`,
`hop_length`): means and standard deviations over frames of `n_mfcc` MFCCs, 12 chroma bins and
7 spectral-contrast bands; onset strength (mean, standard deviation, peak over mean); tempo
(librosa's estimate); and the onset envelope's normalised autocorrelation (its peak within
`tempo_bpm` and that peak's tempo). Inputs longer than `segment_seconds` are scored in windows of
that length (the last one ending at the input's end) and the window probabilities averaged.

Saved as one JSON file: a format tag and version, the sample rate, the feature and window
settings, the feature names and the fitted parameters of the sklearn pipeline (rebuilt on load).
"""
from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pipeline.audio import resample
from pipeline.config import HiphopFeatureConfig, HiphopJudgeConfig, parse, to_dict
from pipeline.fileio import atomic_path
from pipeline.models.checkpoints import check_format, require_file
from pipeline.parallel import fork_pool

FORMAT = ("hiphop_judge", 1)
TARGET_RMS = 0.1
SILENCE_RMS = 1e-8  # below this a clip is silence and is left as it is (all-zero features but finite)


def feature_names(cfg: HiphopFeatureConfig) -> list[str]:
    """Names of `clip_features`' entries, in order."""
    stats = lambda name, n: [f"{name}{i}_{s}" for s in ("mean", "std") for i in range(n)]
    return (stats("mfcc", cfg.n_mfcc) + stats("chroma", 12) + stats("contrast", 7)
            + ["onset_mean", "onset_std", "onset_peak_ratio", "tempo_bpm", "onset_ac_peak", "onset_ac_peak_bpm"])


def rms_of(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


def to_rms(y: np.ndarray) -> np.ndarray:
    """`y` scaled to TARGET_RMS (silence left as it is)."""
    rms = rms_of(y)
    return y * np.float32(TARGET_RMS / rms) if rms > SILENCE_RMS else y


def codec_round_trip(y: np.ndarray, sample_rate: int, cfg: HiphopFeatureConfig) -> np.ndarray:
    """`y` encoded with `cfg.codec` and decoded again, in memory (libsndfile's MP3 writer, as
    the corpus is written); `none` returns it unchanged. Peaks are kept below full scale first."""
    if cfg.codec == "none":
        return y
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    scale = 0.99 / peak if peak > 0.99 else 1.0
    buffer = io.BytesIO()
    sf.write(buffer, y * np.float32(scale), sample_rate, format="MP3", subtype="MPEG_LAYER_III",
             bitrate_mode=cfg.mp3_bitrate_mode.upper(), compression_level=cfg.mp3_compression_level)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    return decoded / np.float32(scale)


def clip_features(samples: np.ndarray, sample_rate: int, cfg: HiphopFeatureConfig) -> np.ndarray:
    """Mono samples (n,) at `sample_rate` -> (len(feature_names(cfg)),) float64."""
    y = np.asarray(samples, dtype=np.float32)
    if len(y) < cfg.n_fft:
        y = np.pad(y, (0, cfg.n_fft - len(y)))
    y = to_rms(codec_round_trip(to_rms(y), sample_rate, cfg))
    magnitude = np.abs(librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length))
    power = magnitude ** 2
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=cfg.n_mels))
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=cfg.n_mfcc)
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate, n_fft=cfg.n_fft, tuning=0.0)
    contrast = librosa.feature.spectral_contrast(S=magnitude, sr=sample_rate, n_fft=cfg.n_fft)
    onset = librosa.onset.onset_strength(S=log_mel, sr=sample_rate)
    tempo = float(librosa.feature.tempo(onset_envelope=onset, sr=sample_rate, hop_length=cfg.hop_length)[0])
    ac_peak, ac_bpm = autocorrelation_peak(onset, sample_rate, cfg)
    frame_stats = [np.concatenate([m.mean(axis=1), m.std(axis=1)]) for m in (mfcc, chroma, contrast)]
    onset_mean = float(onset.mean())
    rhythm = [onset_mean, float(onset.std()), float(onset.max()) / max(onset_mean, 1e-8), tempo, ac_peak, ac_bpm]
    return np.concatenate(frame_stats + [np.array(rhythm)]).astype(np.float64)


def autocorrelation_peak(onset: np.ndarray, sample_rate: int, cfg: HiphopFeatureConfig) -> tuple[float, float]:
    """The onset envelope's autocorrelation (mean removed, lag 0 = 1): its highest value at lags
    within `tempo_bpm`, and that lag as beats per minute. (0, 0) when the clip is too short."""
    frames_per_minute = 60 * sample_rate / cfg.hop_length
    low_lag = int(np.ceil(frames_per_minute / cfg.tempo_bpm[1]))
    high_lag = int(np.floor(frames_per_minute / cfg.tempo_bpm[0]))
    ac = librosa.autocorrelate(onset - onset.mean())
    if ac[0] <= 0 or len(ac) <= low_lag:
        return 0.0, 0.0
    window = ac[low_lag:high_lag + 1] / ac[0]
    best = int(np.argmax(window))
    return float(window[best]), float(frames_per_minute / (low_lag + best))


def windows(samples: np.ndarray, length: int) -> list[np.ndarray]:
    """Split into windows of `length` samples (the last ending at the end); shorter input: itself."""
    if len(samples) <= length:
        return [samples]
    starts = list(range(0, len(samples) - length + 1, length))
    if starts[-1] + length < len(samples):
        starts.append(len(samples) - length)
    return [samples[s:s + length] for s in starts]


@dataclass
class HiphopJudge:
    """p(hip-hop) of clips. `pipeline`: StandardScaler + LogisticRegression over `clip_features`."""
    pipeline: Pipeline
    features: HiphopFeatureConfig
    sample_rate: int
    segment_seconds: float

    def probability(self, waveforms: list[np.ndarray], sample_rate: int, workers: int = 1) -> np.ndarray:
        """Mono clips at `sample_rate` (any length) -> (N,) p(hip-hop) in [0, 1]."""
        length = int(round(self.segment_seconds * self.sample_rate))
        pieces, owner = [], []
        for i, waveform in enumerate(waveforms):
            clip = resample(np.asarray(waveform, dtype=np.float32), sample_rate, self.sample_rate)
            if clip.size == 0:
                raise ValueError("cannot score an empty clip")
            parts = windows(clip, length)
            pieces += parts
            owner += [i] * len(parts)
        if not pieces:
            return np.zeros(0)
        p = self.pipeline.predict_proba(feature_matrix(pieces, self.sample_rate, self.features, workers))[:, 1]
        return np.bincount(owner, weights=p, minlength=len(waveforms)) / np.bincount(owner, minlength=len(waveforms))


def feature_matrix(waveforms: list[np.ndarray], sample_rate: int, cfg: HiphopFeatureConfig, workers: int = 1) -> np.ndarray:
    """`clip_features` of each clip -> (N, features); `workers` processes (the same numbers for any)."""
    job = functools.partial(clip_features, sample_rate=sample_rate, cfg=cfg)
    if workers > 1 and len(waveforms) > 1:
        with fork_pool(min(workers, len(waveforms))) as pool:
            return np.stack(pool.map(job, waveforms, chunksize=8))
    return np.stack([job(w) for w in waveforms])


def fit_hiphop_judge(features: np.ndarray, labels: np.ndarray, cfg: HiphopJudgeConfig, sample_rate: int,
                     seed: int) -> HiphopJudge:
    """Fit on a feature matrix (N, features) of clips at `sample_rate` with labels (N,), 1 = hip-hop."""
    logistic = LogisticRegression(C=cfg.c, class_weight=None if cfg.class_weight == "none" else "balanced",
                                  max_iter=cfg.max_iter, random_state=seed)
    pipeline = Pipeline([("scale", StandardScaler()), ("logistic", logistic)]).fit(features, labels)
    return HiphopJudge(pipeline, cfg.features, sample_rate, cfg.segment_seconds)


def hiphop_judge_bytes(judge: HiphopJudge) -> bytes:
    """The file: JSON (keys sorted; floats written exactly, as Python's repr) holding the format
    tag and version, sample rate, window, feature settings and names, and the fitted parameters
    of both pipeline steps. Plain data, so loading runs no pickled code and the same fit always
    gives the same bytes."""
    scaler, logistic = judge.pipeline.named_steps["scale"], judge.pipeline.named_steps["logistic"]
    payload = {"format": FORMAT[0], "version": FORMAT[1], "sample_rate": judge.sample_rate,
               "segment_seconds": judge.segment_seconds, "features": to_dict(judge.features),
               "feature_names": feature_names(judge.features),
               "scale": {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},
               "logistic": {"coef": logistic.coef_.tolist(), "intercept": logistic.intercept_.tolist(),
                            "classes": logistic.classes_.tolist(), "params": logistic.get_params()}}
    return (json.dumps(payload, indent=1, sort_keys=True) + "\n").encode()


def pipeline_from(payload: dict) -> Pipeline:
    """The fitted sklearn pipeline back from its saved parameters."""
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = np.array(payload["scale"]["mean"]), np.array(payload["scale"]["scale"])
    scaler.var_ = scaler.scale_ ** 2
    logistic = LogisticRegression(**payload["logistic"]["params"])
    logistic.coef_, logistic.intercept_ = np.array(payload["logistic"]["coef"]), np.array(payload["logistic"]["intercept"])
    logistic.classes_ = np.array(payload["logistic"]["classes"])
    scaler.n_features_in_ = logistic.n_features_in_ = logistic.coef_.shape[1]
    return Pipeline([("scale", scaler), ("logistic", logistic)])


def save_hiphop_judge(judge: HiphopJudge, path: str | Path) -> None:
    data = hiphop_judge_bytes(judge)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def load_hiphop_judge(path: str | Path) -> HiphopJudge:
    """A missing file raises FileNotFoundError, a foreign one or another version ValueError."""
    path = require_file(path, FORMAT[0], "train_judges")
    try:
        payload = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:  # not JSON at all
        raise ValueError(f"{path} is not a {FORMAT[0]} checkpoint ({type(err).__name__})") from None
    payload = check_format(payload, path, *FORMAT, stage="train_judges")
    features = parse(HiphopFeatureConfig, payload["features"], "features")
    if payload["feature_names"] != feature_names(features):
        raise ValueError(f"{path} was fitted on other features than this code computes: retrain it (`dvc repro train_judges`)")
    return HiphopJudge(pipeline_from(payload), features, int(payload["sample_rate"]), float(payload["segment_seconds"]))
