"""The `generate` stage's experiment: held-out test utterances (speakers heard in training and
never heard) converted by the method and by the baseline (the original's settings) in one run,
written as WAVs, read back and scored beside the untouched speech and the corpus's hip-hop test
segments (the floor and the ceiling)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from pipeline.audio import load_audio, save_audio  # noqa: E402
from pipeline.config import GenerateConfig, GenerationMethodConfig  # noqa: E402
from pipeline.errors import UserError  # noqa: E402
from pipeline.evaluation.generation import ClipScores, as_input_floor, frechet_distance, score_clips, summarise  # noqa: E402
from pipeline.evaluation.figures import save_figure  # noqa: E402
from pipeline.fileio import write_csv  # noqa: E402
from pipeline.generation.flow import Grid, beat_alignment, beat_grid  # noqa: E402
from pipeline.generation.generator import Generated, Generator, default_beat  # noqa: E402
from pipeline.models.style_encoder import embed  # noqa: E402
from pipeline.training.content import unseen_speaker_mask  # noqa: E402

FLOW_SCORES = ("content_cer", "hiphop_probability", "beat_alignment", "output_beat_alignment")


def labelled_test_split(speech: pd.DataFrame) -> pd.DataFrame:
    """The manifest's test utterances sorted by id, a `condition` column saying whether their
    speaker was heard in training (seen / unseen)."""
    test, train = speech[speech["split"] == "test"], speech[speech["split"] == "train"]
    if test.empty:
        raise UserError("the speech manifest has no test utterances")
    return test.assign(condition=np.where(unseen_speaker_mask(test, train), "unseen", "seen")).sort_values("utt_id")


def pick_utterances(speech: pd.DataFrame, count: int, seed: int) -> pd.DataFrame:
    """`count` test utterances, half (rounded down) by speakers never heard in training when
    there are any, drawn with `seed`; a `condition` column says which (seen / unseen)."""
    test = labelled_test_split(speech)
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


def runs_of(config: GenerateConfig) -> dict[str, GenerationMethodConfig]:
    """What the stage converts each clip with: the method, the baseline (the original's settings),
    and the method with the other flow, so `flow: none` and `flow: beat` stand side by side."""
    other = "beat" if config.method.flow == "none" else "none"
    return {"method": config.method, "baseline": config.baseline,
            f"flow_{other}": dataclasses.replace(config.method, flow=other)}


def sample_path(run: str, utt_id: str) -> str:
    """Where a run's output goes, relative to the samples folder."""
    return f"{utt_id}.wav" if run == "method" else f"{run}/{utt_id}.wav"


def clip_table(utterances: pd.DataFrame, per_clip: dict[str, ClipScores], runs: list[str]) -> pd.DataFrame:
    """One row per converted clip: ids, the input file and transcript, where each run's output is
    (relative to the samples folder), and per scored set (input and each run) what the ASR judge
    heard, that clip's CER and p(hip-hop)."""
    table = pd.DataFrame({"utt_id": utterances["utt_id"], "speaker": utterances["speaker"],
                          "condition": utterances["condition"], "input": utterances["path"],
                          "transcript": utterances["transcript"],
                          **{run: [sample_path(run, u) for u in utterances["utt_id"]] for run in runs}})
    for name, scores in per_clip.items():
        table[f"{name}_heard"] = scores.heard
        table[f"{name}_cer"] = np.round(scores.cer, 6)
        table[f"{name}_hiphop_probability"] = np.round(scores.hiphop, 6)
    return table


class Grids:
    """The beat grid under each clip (the clip's default beat's; None without beats or
    `generate.flow.bpm`), each beat analysed once."""

    def __init__(self, generator: Generator):
        self.generator, self.known = generator, {}

    def __call__(self, index: int) -> Grid | None:
        beats, flow = self.generator.targets.beats, self.generator.config.flow
        key = index % len(beats) if beats else None
        if key not in self.known:
            beat = default_beat(self.generator.targets, index)
            self.known[key] = (beat_grid(beat, self.generator.front_end.sample_rate, flow)
                               if beat is not None or flow.bpm else None)
        return self.known[key]


def alignment(samples: np.ndarray, grid: Grid | None, generator: Generator) -> float | None:
    """Share of onsets on the grid; None where there is no grid to be on."""
    if grid is None:
        return None
    return beat_alignment(samples, generator.front_end.sample_rate, grid, generator.config.flow)


def mean_of(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


def run_heldout(utterances: pd.DataFrame, generator: Generator, judges, reference: Reference, config: GenerateConfig,
                seed: int, samples: Path, plots: Path, grids: Grids, on_clip=None) -> tuple[dict, dict]:
    """Convert every utterance with each of `runs_of(config)` (-> `sample_path(run, utt_id)` under
    `samples`), plot the spectrograms (-> plots/<utt_id>.png), read the WAVs back and score them;
    list the clips with their inputs and per-clip scores in samples/clips.csv (what the report
    shows). Returns the metrics (the method's at the top, `baseline`, and `flows`: the method
    under each flow) and, apart, each run's wall seconds a clip (they vary run to run; the
    metrics do not). `beat_alignment` is measured on `grids(i)`, clip i's beat grid, on the words
    as laid into the output (the speech after the flow): the output also carries the beat's own drum hits, on the grid by construction
    for any flow, so `output_beat_alignment` (the whole mix) says less. `on_clip(utt_id, {run:
    Generated})` is called after each clip (MLflow curves)."""
    rate = generator.front_end.sample_rate
    frames_per_second = rate / generator.front_end.hop_length
    runs = runs_of(config)
    written = {run: [] for run in runs}
    speech_waves, stats = [], {run: {"convergence": [], "seconds": [], "words": [], "mix": []} for run in runs}
    input_alignment = []
    for i, row in enumerate(utterances.itertuples()):
        speech = load_audio(row.path, rate)
        speech_waves.append(speech)
        grid = grids(i)
        input_alignment.append(alignment(speech, grid, generator))
        results: dict[str, Generated] = {}
        for run, method in runs.items():
            results[run] = generator.generate(speech, method, seed + i, beat=default_beat(generator.targets, i),
                                              grid=grid)
            path = samples / sample_path(run, row.utt_id)
            save_audio(path, results[run].waveform, rate)
            written[run].append(load_audio(path, rate))  # scored as a listener gets it: the 16-bit file
            stats[run]["convergence"].append(results[run].spectral_convergence)
            stats[run]["seconds"].append(results[run].seconds)
            stats[run]["words"].append(alignment(results[run].speech, grid, generator))
            stats[run]["mix"].append(alignment(written[run][-1], grid, generator))
        panels = {"speech": results["method"].input_spectrogram, "output": results["method"].output_spectrogram}
        panels.update({run: results[run].output_spectrogram for run in runs if run != "method"})
        plot_spectrograms(panels, plots / f"{row.utt_id}.png",
                          f"{row.utt_id} ({row.condition} speaker): {row.transcript.lower()}", frames_per_second)
        if on_clip:
            on_clip(row.utt_id, results)
    conditions, transcripts = utterances["condition"].to_numpy(), list(utterances["transcript"])
    summary, per_clip = {}, {}
    for run in runs:
        scores = per_clip[run] = score_clips(judges, written[run], transcripts, rate)
        summary[run] = {**summarise(scores, conditions, config.bootstrap_resamples, seed),
                        "style_distance": frechet_distance(style_embeddings(generator, written[run]), reference.embeddings),
                        "beat_alignment": mean_of(stats[run]["words"]),
                        "output_beat_alignment": mean_of(stats[run]["mix"]),
                        "spectral_convergence": float(np.mean(stats[run]["convergence"]))}
    per_clip["input"] = score_clips(judges, speech_waves, transcripts, rate)
    floor = as_input_floor(summarise(per_clip["input"], conditions, config.bootstrap_resamples, seed))
    write_csv(samples / "clips.csv", clip_table(utterances, per_clip, list(runs)))
    ceiling = np.asarray(judges.hiphop_probability(reference.waveforms, rate), dtype=float)
    metrics = {**summary["method"], **{k: v for k, v in floor.items() if k != "ci95"}}
    metrics["ci95"] = {**summary["method"]["ci95"], **floor["ci95"]}
    other = next(run for run in runs if run.startswith("flow_"))
    flow_of = {"method": config.method.flow, other: runs[other].flow}
    metrics.update(flow=config.method.flow, input_beat_alignment=mean_of(input_alignment),
                   reference_hiphop_probability=float(ceiling.mean()), reference_segments=len(ceiling),
                   input_style_distance=frechet_distance(style_embeddings(generator, speech_waves), reference.embeddings),
                   clips=len(utterances), unseen_speaker_clips=int((conditions == "unseen").sum()),
                   audio_seconds_per_clip=float(np.mean([len(w) / rate for w in speech_waves])),
                   baseline=summary["baseline"],
                   flows={flow_of[run]: {k: summary[run][k] for k in FLOW_SCORES} | {"ci95": summary[run]["ci95"]}
                          for run in sorted(flow_of, key=lambda r: flow_of[r])})
    return metrics, {run: float(np.mean(stats[run]["seconds"])) for run in runs}
