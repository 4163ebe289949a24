"""The `generate` stage's experiment: held-out test utterances (speakers heard in training and
never heard) converted by the method and by the baseline (the original's settings) in one run,
written as WAVs, read back and scored beside the untouched speech and the corpus's hip-hop test
segments (the floor and the ceiling)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from pipeline.audio import load_audio, save_audio  # noqa: E402
from pipeline.config import GenerateConfig  # noqa: E402
from pipeline.errors import UserError  # noqa: E402
from pipeline.evaluation.generation import ClipScores, as_input_floor, frechet_distance, score_clips, summarise  # noqa: E402
from pipeline.evaluation.figures import save_figure  # noqa: E402
from pipeline.fileio import write_csv  # noqa: E402
from pipeline.generation.generator import Generated, Generator, default_beat  # noqa: E402
from pipeline.models.style_encoder import embed  # noqa: E402
from pipeline.training.content import unseen_speaker_mask  # noqa: E402

RUNS = ("method", "baseline")


def pick_utterances(speech: pd.DataFrame, count: int, seed: int) -> pd.DataFrame:
    """`count` test utterances, half (rounded down) by speakers never heard in training when
    there are any, drawn with `seed`; a `condition` column says which (seen / unseen)."""
    test, train = speech[speech["split"] == "test"], speech[speech["split"] == "train"]
    if test.empty:
        raise UserError("the speech manifest has no test utterances")
    test = test.assign(condition=np.where(unseen_speaker_mask(test, train), "unseen", "seen")).sort_values("utt_id")
    rng = np.random.default_rng(seed)
    wanted = {"unseen": count // 2, "seen": count - count // 2}
    picked = []
    for condition, rows in test.groupby("condition"):
        n = min(len(rows), wanted[condition] if len(test["condition"].unique()) > 1 else count)
        picked.append(rows.iloc[np.sort(rng.choice(len(rows), n, replace=False))])
    return pd.concat(picked).sort_values("utt_id").reset_index(drop=True)


def plot_spectrograms(panels: dict[str, torch.Tensor], path: Path, title: str, frames_per_second: float) -> None:
    """One row per log1p magnitude (F, T), same colour scale."""
    top = max(float(p.max()) for p in panels.values())
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.2 * len(panels)), sharex=True)
    for ax, (name, panel) in zip(np.atleast_1d(axes), panels.items()):
        ax.imshow(panel.numpy(), origin="lower", aspect="auto", vmin=0, vmax=top, cmap="magma",
                  extent=(0, panel.shape[-1] / frames_per_second, 0, panel.shape[0]))
        ax.set_ylabel(f"{name}\nbin")
    np.atleast_1d(axes)[-1].set_xlabel("seconds")
    fig.suptitle(title)
    save_figure(fig, path)


@dataclass
class Reference:
    """The corpus's hip-hop test segments: waveforms (the judge's ceiling) and style embeddings."""
    waveforms: list[np.ndarray]
    embeddings: np.ndarray


def load_reference(clips: pd.DataFrame, anchor_genre: str, generator: Generator) -> Reference:
    rows = clips[(clips["split"] == "test") & (clips["genre"] == anchor_genre)].sort_values("clip_path")
    if len(rows) < 2:
        raise UserError(f"need at least 2 {anchor_genre} test segments as the reference, the manifest has {len(rows)}")
    rate = generator.front_end.sample_rate
    waves = [load_audio(p, rate) for p in rows["clip_path"]]
    return Reference(waves, style_embeddings(generator, waves))


def style_embeddings(generator: Generator, waveforms: list[np.ndarray]) -> np.ndarray:
    """(N, D): clips of any lengths, one at a time."""
    spectrogram = generator.front_end.spectrogram()
    with torch.no_grad():
        return torch.cat([embed(generator.style_encoder, spectrogram(torch.from_numpy(w))[None], 1)
                          for w in waveforms]).numpy()


def clip_table(utterances: pd.DataFrame, per_clip: dict[str, ClipScores]) -> pd.DataFrame:
    """One row per converted clip: ids, the input file and transcript, where its outputs are
    (relative to the samples folder), and per scored set (input, method, baseline) what the ASR
    judge heard, that clip's CER and p(hip-hop)."""
    table = pd.DataFrame({"utt_id": utterances["utt_id"], "speaker": utterances["speaker"],
                          "condition": utterances["condition"], "input": utterances["path"],
                          "transcript": utterances["transcript"],
                          "method": [f"{u}.wav" for u in utterances["utt_id"]],
                          "baseline": [f"baseline/{u}.wav" for u in utterances["utt_id"]]})
    for name, scores in per_clip.items():
        table[f"{name}_heard"] = scores.heard
        table[f"{name}_cer"] = np.round(scores.cer, 6)
        table[f"{name}_hiphop_probability"] = np.round(scores.hiphop, 6)
    return table


def run_heldout(utterances: pd.DataFrame, generator: Generator, judges, reference: Reference, config: GenerateConfig,
                seed: int, samples: Path, plots: Path, on_clip=None) -> dict:
    """Convert every utterance with `config.method` (-> samples/<utt_id>.wav) and
    `config.baseline` (-> samples/baseline/<utt_id>.wav), plot input / output / baseline
    spectrograms (-> plots/<utt_id>.png), read the WAVs back and score them; list the clips with
    their inputs and per-clip scores in samples/clips.csv (what the report shows). Returns the metrics.
    `on_clip(utt_id, {run: Generated})` is called after each clip (MLflow curves)."""
    rate = generator.front_end.sample_rate
    frames_per_second = rate / generator.front_end.hop_length
    written = {run: [] for run in RUNS}
    speech_waves, stats = [], {run: {"convergence": [], "seconds": []} for run in RUNS}
    for i, row in enumerate(utterances.itertuples()):
        speech = load_audio(row.path, rate)
        speech_waves.append(speech)
        results: dict[str, Generated] = {}
        for run, method in (("method", config.method), ("baseline", config.baseline)):
            results[run] = generator.generate(speech, method, seed + i, beat=default_beat(generator.targets, i))
            path = samples / (f"{row.utt_id}.wav" if run == "method" else f"baseline/{row.utt_id}.wav")
            save_audio(path, results[run].waveform, rate)
            written[run].append(load_audio(path, rate))  # scored as a listener gets it: the 16-bit file
            stats[run]["convergence"].append(results[run].spectral_convergence)
            stats[run]["seconds"].append(results[run].seconds)
        plot_spectrograms({"speech": results["method"].input_spectrogram, "output": results["method"].output_spectrogram,
                           "baseline": results["baseline"].output_spectrogram}, plots / f"{row.utt_id}.png",
                          f"{row.utt_id} ({row.condition} speaker): {row.transcript.lower()}", frames_per_second)
        if on_clip:
            on_clip(row.utt_id, results)
    conditions, transcripts = utterances["condition"].to_numpy(), list(utterances["transcript"])
    summary, per_clip = {}, {}
    for run in RUNS:
        scores = per_clip[run] = score_clips(judges, written[run], transcripts, rate)
        summary[run] = {**summarise(scores, conditions, config.bootstrap_resamples, seed),
                        "style_distance": frechet_distance(style_embeddings(generator, written[run]), reference.embeddings),
                        "spectral_convergence": float(np.mean(stats[run]["convergence"])),
                        "seconds_per_clip": float(np.mean(stats[run]["seconds"]))}
    per_clip["input"] = score_clips(judges, speech_waves, transcripts, rate)
    floor = as_input_floor(summarise(per_clip["input"], conditions, config.bootstrap_resamples, seed))
    write_csv(samples / "clips.csv", clip_table(utterances, per_clip))
    ceiling = np.asarray(judges.hiphop_probability(reference.waveforms, rate), dtype=float)
    metrics = {**summary["method"], **{k: v for k, v in floor.items() if k != "ci95"}}
    metrics["ci95"] = {**summary["method"]["ci95"], **floor["ci95"]}
    metrics.update(reference_hiphop_probability=float(ceiling.mean()), reference_segments=len(ceiling),
                   input_style_distance=frechet_distance(style_embeddings(generator, speech_waves), reference.embeddings),
                   clips=len(utterances), unseen_speaker_clips=int((conditions == "unseen").sum()),
                   audio_seconds_per_clip=float(np.mean([len(w) / rate for w in speech_waves])),
                   baseline=summary["baseline"])
    return metrics
