"""`params.yaml`, strictly: one frozen dataclass per section, built by one converter.

An unknown key (`content.model.rnn_hiden`), a value of the wrong type or one out of range is a
`ConfigError` naming the dotted key, raised by `load_params` before a stage does any work; stages
and the CLI print it as one `error:` line and exit 2. Lists in YAML become tuples, so a config is
hashable and can't be changed by accident; `to_dict` gives plain YAML-like data back (MLflow
params, checkpoints).

    params = load_params()            # Params
    params.content.train.lr           # 0.006
    parse(StyleConfig, {...}, "style")  # one section from a dict (tests, checkpoints)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import yaml

from pipeline.audio import FrontEnd
from pipeline.config_data import (  # noqa: F401  (re-exported: one place to import any section from)
    SplitsConfig, CorpusSourceConfig, LibriSpeechConfig, MtatConfig, EmbeddedSpeechConfig,
    EmbeddedMusicConfig, DataConfig, SubsetConfig, ClipsConfig, TrackingConfig)
from pipeline.errors import UserError
from pipeline.strict import ConfigError, check, knob, parse, to_dict

__all__ = ["ConfigError", "Params", "check", "deep_merge", "knob", "load_params", "parse", "read_yaml", "to_dict"]

Device = Literal["auto", "cpu", "cuda"]


# --- content encoder -------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ContentModelConfig:
    conv_channels: tuple[int, ...] = knob(ge=1)
    conv_kernels: tuple[tuple[int, int], ...] = knob(ge=1)
    conv_strides: tuple[tuple[int, int], ...] = knob(ge=1)
    head_stride: int = knob(1, ge=1)
    rnn_type: Literal["lstm", "gru"] = "lstm"
    rnn_hidden: int = knob(ge=1)
    rnn_layers: int = knob(ge=1)
    content_layers: tuple[int, ...] = knob(ge=1)
    input_norm: Literal["none", "utterance_mean"] = "none"

    def __post_init__(self):
        n = len(self.conv_channels)
        check(n >= 1 and len(self.conv_kernels) == n and len(self.conv_strides) == n,
              "conv_channels, conv_kernels and conv_strides need one entry per conv layer")
        check(self.content_layers and max(self.content_layers) <= n,
              f"content_layers must name conv layers 1..{n}, got {list(self.content_layers)}")


@dataclass(frozen=True, kw_only=True)
class SpecAugmentConfig:
    freq_masks: int = knob(0, ge=0)
    freq_width: int = knob(0, ge=0)
    time_masks: int = knob(0, ge=0)
    time_width: int = knob(0, ge=0)


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """What both trainings share (`pipeline.training.optim`): AdamW with `weight_decay` on weights
    only, and the one-cycle schedule to `lr` and down to `lr * final_lr_fraction`."""
    lr: float = knob(gt=0)
    weight_decay: float = knob(ge=0)
    warmup_fraction: float = knob(ge=0, lt=1)
    final_lr_fraction: float = knob(gt=0, le=1)
    cycle_momentum: bool = knob()


@dataclass(frozen=True, kw_only=True)
class ContentTrainConfig(OptimConfig):
    epochs: int = knob(ge=1)
    batch_size: int = knob(ge=1)
    eval_batch_size: int = knob(ge=1)
    bucket_frames: int = knob(ge=1)
    sortagrad: bool = True
    grad_clip: float = knob(gt=0)
    spec_augment: Optional[SpecAugmentConfig] = None
    max_seconds: Optional[float] = knob(None, gt=0)
    max_train_utterances: Optional[int] = knob(None, ge=1)


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    """Train-time speech augmentation (`pipeline.data.augment`), drawn afresh every epoch."""
    speeds: tuple[float, ...] = knob((0.9, 1.0, 1.1), gt=0.5, lt=2)
    reverb_probability: float = knob(0.0, ge=0, le=1)
    reverb_seconds: tuple[float, float] = knob((0.2, 0.8), gt=0, le=3)
    music_probability: float = knob(0.0, ge=0, le=1)
    music_snr_db: tuple[float, float] = knob((0.0, 30.0), ge=-20, le=60)
    music_segments: int = knob(256, ge=1)   # train-split music segments held in memory
    noise_probability: float = knob(0.0, ge=0, le=1)
    noise_snr_db: tuple[float, float] = knob((10.0, 40.0), ge=-20, le=80)

    def __post_init__(self):
        check(self.speeds, "speeds must not be empty")
        for name in ("reverb_seconds", "music_snr_db", "noise_snr_db"):
            low, high = getattr(self, name)
            check(low <= high, f"{name} must be [low, high] with low <= high")


@dataclass(frozen=True, kw_only=True)
class ContentConfig:
    device: Device
    threads: int = knob(ge=0)
    model: ContentModelConfig = knob()
    train: ContentTrainConfig = knob()
    augment: Optional[AugmentConfig] = None
    # test CER with held-out music (the music test split) underneath at each SNR
    music_test_snr_db: tuple[float, ...] = knob((), ge=-20, le=60)


# --- style encoder ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class HarmonicConfig:
    """Won et al. 2020 filters on the front end's linear bins."""
    n_harmonic: int = knob(6, ge=1)
    semitone_scale: int = knob(2, ge=1)
    initial_q: float = knob(1.0, gt=0)
    learn_q: bool = True
    min_amplitude: float = knob(1e-4, gt=0)
    time_pool: int = knob(1, ge=1)


@dataclass(frozen=True, kw_only=True)
class BlockConfig:
    """One CNN block: `conv` (3x3 conv, BN, ReLU, max-pool) or `res` (residual pair, max-pool)."""
    kind: Literal["conv", "res"]
    channels: int = knob(ge=1)
    pool: tuple[int, int] = knob(ge=1)  # (frequency, time)


@dataclass(frozen=True, kw_only=True)
class StyleCnnConfig:
    blocks: tuple[BlockConfig, ...]
    embedding_size: int = knob(256, ge=1)
    activation: Literal["none", "sigmoid"] = "none"
    global_pool: Literal["max", "max_mean"] = "max"

    def __post_init__(self):
        check(len(self.blocks) >= 1, "blocks must list at least one block")
        channels = None
        for i, block in enumerate(self.blocks):
            check(block.kind != "res" or block.channels == channels,
                  f"blocks[{i}]: a res block keeps its input's {channels} channels, got {block.channels}")
            channels = block.channels


@dataclass(frozen=True, kw_only=True)
class StyleEvaluationConfig:
    triplets: int = knob(ge=1)
    knn_k: int = knob(ge=1)
    batch_size: int = knob(ge=1)
    tsne_perplexity: float = knob(gt=0)
    bootstrap_resamples: int = knob(1000, ge=10)   # track resamples behind every 95% interval
    # Labelled folders of real audio scored (never trained on): label -> folders. The anchor
    # genre's label scores real_hiphop_roc_auc; every label gets kNN genre counts.
    real_dirs: dict[str, tuple[str, ...]] = knob({})


@dataclass(frozen=True, kw_only=True)
class StyleConfig(OptimConfig):
    device: Device
    anchor_genre: str
    loss: Literal["cosine", "l2"]
    margin: float = knob(ge=0)
    mining: Literal["max_negatives", "batch_hard", "semi_hard"] = "semi_hard"
    negatives_per_anchor: int = knob(ge=1)
    batch_size: int = knob(ge=1)
    other_anchors: int = knob(ge=0)
    epochs: int = knob(ge=1)
    crop_frames: int = knob(ge=1)
    harmonic: HarmonicConfig = knob()
    encoder: StyleCnnConfig = knob()
    evaluation: StyleEvaluationConfig = knob()


# --- judges (independent scorers; never in any loss) -------------------------------------------
@dataclass(frozen=True, kw_only=True)
class AsrJudgeModelConfig:
    """The ASR judge (`pipeline.judges.asr`): log-mel of the shared magnitude, per-utterance mean
    and variance normalisation, a Conv1d subsampling stack (odd kernels, "same" padding), a
    bidirectional GRU and a CTC output over the content encoder's alphabet."""
    n_mels: int = knob(ge=8)
    f_min: float = knob(0.0, ge=0)
    conv_channels: tuple[int, ...] = knob(ge=1)
    conv_kernels: tuple[int, ...] = knob(ge=1)
    conv_strides: tuple[int, ...] = knob(ge=1)
    rnn_hidden: int = knob(ge=1)
    rnn_layers: int = knob(ge=1)

    def __post_init__(self):
        n = len(self.conv_channels)
        check(n >= 1 and len(self.conv_kernels) == n and len(self.conv_strides) == n,
              "conv_channels, conv_kernels and conv_strides need one entry per conv layer")
        check(all(k % 2 == 1 for k in self.conv_kernels), "conv_kernels must be odd (same padding)")


@dataclass(frozen=True, kw_only=True)
class AsrJudgeConfig:
    model: AsrJudgeModelConfig = knob()
    train: ContentTrainConfig = knob()   # the content encoder's loop and its knobs


@dataclass(frozen=True, kw_only=True)
class HiphopFeatureConfig:
    """librosa features of one clip (`pipeline.judges.hiphop.clip_features`)."""
    n_fft: int = knob(ge=64)
    hop_length: int = knob(ge=1)
    n_mels: int = knob(ge=8)
    n_mfcc: int = knob(ge=1)
    tempo_bpm: tuple[float, float] = knob(gt=0)   # lag range searched for the onset autocorrelation peak
    # Every clip passes through this codec before its features (training and scoring alike), so
    # the codec never tells classes apart: the music corpus is MP3, speech and generated audio are not.
    codec: Literal["none", "mp3"] = "none"
    mp3_bitrate_mode: Literal["constant", "variable", "average"] = "constant"
    mp3_compression_level: float = knob(0.84, ge=0, le=1)

    def __post_init__(self):
        check(self.n_mfcc <= self.n_mels, "n_mfcc must be <= n_mels")
        check(self.tempo_bpm[0] < self.tempo_bpm[1], "tempo_bpm must be [low, high] with low < high")


@dataclass(frozen=True, kw_only=True)
class HiphopJudgeConfig:
    """Logistic regression on standardised clip features: the anchor genre against the other
    genres and plain speech. Music segments also enter as random crops of speech-like lengths,
    so clip length never tells speech from music."""
    segment_seconds: float = knob(gt=0)             # longer inputs: scored in windows of this, averaged
    speech_negatives: Optional[int] = knob(None, ge=1)   # speech train utterances used (null: all)
    crops_per_segment: int = knob(ge=0)
    crop_seconds: tuple[float, float] = knob(gt=0)
    c: float = knob(gt=0)                           # inverse L2 strength (sklearn's C)
    class_weight: Literal["balanced", "none"] = "balanced"
    max_iter: int = knob(ge=1)
    workers: int = knob(ge=1)                       # processes computing features (same numbers for any)
    features: HiphopFeatureConfig = knob()

    def __post_init__(self):
        check(self.crop_seconds[0] <= self.crop_seconds[1] <= self.segment_seconds,
              "crop_seconds must be [low, high] with low <= high <= segment_seconds")


@dataclass(frozen=True, kw_only=True)
class JudgesConfig:
    seed: int = knob(ge=0)        # their own seed: not the encoders'
    device: Device
    threads: int = knob(ge=0)
    asr: AsrJudgeConfig = knob()
    hiphop: HiphopJudgeConfig = knob()


# --- generation ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class GenerationMethodConfig:
    """One way to turn speech into music (`pipeline.generation`): the start, the losses and their
    weights, the optimiser, and the reconstruction. The method's defaults and the original's
    settings (the baseline) are two of these."""
    init: Literal["speech", "noise", "mix"]
    beat_level: float = knob(ge=0)        # mix / noise: beat (or noise) RMS over the speech's RMS
    steps: int = knob(ge=0)
    optimizer: Literal["adam", "lbfgs"] = "adam"
    lr: float = knob(gt=0)
    content_weight: float = knob(ge=0)
    style_weight: float = knob(ge=0)      # Gram statistics of the style encoder's blocks
    centroid_weight: float = knob(ge=0)   # style embedding toward the hip-hop train centroid
    tv_weight: float = knob(ge=0)         # total variation over time
    style_blocks: tuple[int, ...] = knob(ge=1)   # style encoder CNN blocks (1-based) for the Gram term
    style_crop_frames: Optional[int] = knob(None, ge=16)   # style terms on a random crop per step (null: whole window)
    griffin_lim_iterations: int = knob(ge=1)
    griffin_lim_momentum: float = knob(ge=0, lt=1)
    random_phase: bool = False            # Griffin-Lim from random phase (the original) or zero phase
    flow: Literal["none", "beat"] = "none"   # beat: onsets time-stretched onto the beat grid first

    def __post_init__(self):
        check(self.style_blocks, "style_blocks must name at least one block")


@dataclass(frozen=True, kw_only=True)
class FlowConfig:
    """Beat-aligned flow (pipeline/generation/flow.py) and how beat alignment is measured."""
    bpm: Optional[float] = knob(None, gt=0)   # grid tempo; null: librosa's estimate of the beat's
    start_bpm: float = knob(gt=0)             # librosa's tempo prior (the grid's tempo is refined from it)
    grid_per_beat: int = knob(ge=1)           # grid points a beat (2: eighth notes, 3: eighth-note triplets)
    max_stretch: float = knob(gt=1)           # no segment stretched or squeezed past this factor
    snap_seconds: float = knob(ge=0)          # an onset moves until it is this close to its grid point
    onset_hop: int = knob(ge=16)              # librosa onset / beat analysis hop (samples)
    onset_wait_seconds: float = knob(ge=0)    # onsets at least this far apart...
    onset_delta: float = knob(ge=0)           # ...and this far above the envelope's local mean
    stretch_n_fft: int = knob(ge=64)          # phase vocoder FFT size (hop: a quarter)
    attack_seconds: float = knob(ge=0)        # kept as it is after each onset (never stretched)
    crossfade_seconds: float = knob(ge=0)     # between pieces
    tolerance_seconds: float = knob(gt=0)     # beat_alignment: an onset this close to the grid is on it
    speech_utterances: Optional[int] = knob(None, ge=1)  # the flow's own cost on this many test utterances (null: all)


@dataclass(frozen=True, kw_only=True)
class GenerateConfig:
    device: Device
    threads: int = knob(ge=0)
    utterances: int = knob(ge=1)          # held-out test utterances the stage converts (half unseen speakers)
    beats: int = knob(ge=1)               # default beats kept in the style targets (hip-hop train instrumentals)
    beat_seconds: float = knob(gt=0)      # of each kept beat (looped under longer speech)
    style_segments: Optional[int] = knob(None, ge=1)   # hip-hop train segments behind the targets (null: all)
    window_seconds: float = knob(ge=1)    # longer inputs: optimised in windows of this length...
    overlap_seconds: float = knob(ge=0)   # ...overlapping by this much, cross-faded
    loudness_lufs: float = knob(le=0)     # output loudness (ITU-R BS.1770)...
    peak_dbfs: float = knob(le=0)         # ...lowered further when its peak would pass this
    bootstrap_resamples: int = knob(ge=10)
    flow: FlowConfig = knob()
    method: GenerationMethodConfig = knob()
    baseline: GenerationMethodConfig = knob()

    def __post_init__(self):
        check(self.overlap_seconds < self.window_seconds / 2, "overlap_seconds must be below window_seconds / 2")


@dataclass(frozen=True, kw_only=True)
class TradeoffConfig:
    """The `tradeoff` stage's sweep: every style weight x flow on a few held-out utterances, the
    rest of the method as `generate.method`."""
    style_weights: tuple[float, ...] = knob(ge=0)
    flows: tuple[Literal["none", "beat"], ...] = knob()
    utterances: int = knob(ge=1)

    def __post_init__(self):
        check(self.style_weights and self.flows, "tradeoff needs at least one style weight and one flow")


# --- data-parallel training (pipeline/distributed.py) ---------------------------------------
@dataclass(frozen=True, kw_only=True)
class DistributedConfig:
    nproc_per_node: int = knob(1, ge=1)    # processes a node (one a GPU); 1 x 1: a plain run
    nnodes: int = knob(1, ge=1)
    node_rank: int = knob(0, ge=0)          # this machine's place among the nodes
    master_addr: str = knob("127.0.0.1")    # rank 0's node (several nodes only)
    master_port: int = knob(29500, ge=1, le=65535)
    backend: Literal["auto", "gloo", "nccl"] = knob("auto")   # auto: NCCL on CUDA, gloo on the CPU

    def __post_init__(self):
        check(self.node_rank < self.nnodes, "node_rank must be below nnodes")


# --- the file --------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Params:
    seed: int = knob(ge=0)
    audio: FrontEnd = knob()
    data: DataConfig = knob()
    subset: SubsetConfig = knob()
    clips: ClipsConfig = knob()
    tracking: TrackingConfig = knob()
    content: ContentConfig = knob()
    style: StyleConfig = knob()
    judges: JudgesConfig = knob()
    generate: GenerateConfig = knob()
    tradeoff: TradeoffConfig = knob()
    distributed: DistributedConfig = knob()

    def __post_init__(self):
        check(self.style.anchor_genre == self.subset.anchor_genre,
              "style.anchor_genre must equal subset.anchor_genre")


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: run from the project root")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must be a mapping of sections")
    return data


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and check the whole file: a bad key anywhere stops every stage before it starts."""
    try:
        return parse(Params, read_yaml(path), "")
    except ConfigError as err:
        raise ConfigError(f"{Path(path).name}: {err}") from None


def deep_merge(base: dict, override: dict) -> dict:
    """Return `base` with `override` merged in recursively (lists are replaced, not merged)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
