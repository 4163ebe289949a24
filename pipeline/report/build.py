"""The whole report: check the inputs, copy and draw the assets, write index.html, all inside
a temporary folder renamed onto the report folder at the end (nothing half-written)."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

import pandas as pd

from pipeline.errors import UserError
from pipeline.fileio import atomic_path
from pipeline.report.assets import Assets
from pipeline.report.curves import plot_tradeoff, plot_training_curves
from pipeline.report.inputs import Clip, ReportInputs, existing, read_clips, read_json, read_table
from pipeline.report.page import SampleCard, Section, figure, render_page, sample_card
from pipeline.report.tables import frame_table, generation_table, metrics_table

TITLE = "Fake Rapper Helper: report"
CURVE_TITLES = {"content": "content encoder (CTC recogniser)", "style": "style encoder (triplet loss)",
                "judges": "ASR judge"}
METRIC_TITLES = {"speech": "speech corpus", "data": "music subset", "content": "content encoder",
                 "style": "style encoder", "judges": "judges"}
TRADEOFF_COLUMNS = ("style_weight", "content_cer", "hiphop_probability")


def run_label(run: str) -> str:
    """`flow_beat` -> "ours, flow: beat"."""
    return f"ours, flow: {run.removeprefix('flow_')}" if run.startswith("flow_") else run


def sample_cards(clips: list[Clip], assets: Assets, sample_rate: int) -> list[SampleCard]:
    cards = []
    for clip in clips:
        row, name = clip.row, clip.row["utt_id"]
        audio = {"input speech": assets.as_wav(clip.input_audio, f"{name}-input.wav", sample_rate),
                 "ours": assets.copy(clip.method_audio, "audio", f"{name}-ours.wav"),
                 "baseline (original's settings)": assets.copy(clip.baseline_audio, "audio", f"{name}-baseline.wav")}
        others = {run: run_label(run) for run in clip.other_runs}
        audio.update({others[run]: assets.copy(path, "audio", f"{name}-{run}.wav")
                      for run, path in clip.other_runs.items()})
        runs = (("input", "input speech"), ("method", "ours"), ("baseline", "baseline"), *others.items())
        scores = [(label, row[f"{key}_heard"], float(row[f"{key}_cer"]), float(row[f"{key}_hiphop_probability"]))
                  for key, label in runs if f"{key}_heard" in row]
        cards.append(SampleCard(name, row["condition"], row["transcript"], audio,
                                assets.copy(clip.spectrograms, "figures", f"{name}-spectrograms.png"), scores))
    return cards


def read_tradeoff(path: Path) -> pd.DataFrame:
    try:
        sweep = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"{path} (the trade-off sweep) is missing: run `dvc repro tradeoff` first") from None
    missing = [c for c in TRADEOFF_COLUMNS if c not in sweep.columns]
    if missing or sweep.empty:
        raise UserError(f"{path} needs rows with columns {list(TRADEOFF_COLUMNS)} (missing: {missing})")
    return sweep


def tradeoff_section(sweep: pd.DataFrame | None, assets: Assets) -> Section:
    if sweep is None:
        body = '<p class="note">No trade-off sweep in this build (the <code>tradeoff</code> stage has not run).</p>'
    else:
        plot_tradeoff(sweep, assets.figure("tradeoff.png"))
        body = figure(assets.link(assets.figure("tradeoff.png")),
                      "each style weight's words kept (CER) against style gained (p(hip-hop))") + frame_table(sweep)
    return Section("tradeoff", "Trade-off: words against style", body)


@dataclass
class Collected:
    """Everything the page shows, read and checked: metrics by stage, curves by training, the
    clips, the style figures' paths, the trade-off sweep (or None)."""
    metrics: dict[str, dict]
    curves: dict[str, pd.DataFrame]
    clips: list[Clip]
    style_figures: dict[str, Path]
    tradeoff: pd.DataFrame | None


def collect(inputs: ReportInputs, project_root: Path) -> Collected:
    """Read and check every input (UserError naming the first bad one) before anything is written."""
    metrics = {name: read_json(path) for name, path in inputs.metrics.items()}
    if "generation" not in metrics:
        raise UserError("the report needs the generation metrics")
    curves = {name: read_table(path, f"{name} curves") for name, path in inputs.curves.items()}
    clips = read_clips(inputs.samples, inputs.generate_plots, project_root)
    style_figures = {name: existing(inputs.style_plots / f"{name}.png", f"style {name} figure") for name in ("tsne", "confusion")}
    tradeoff = None if inputs.tradeoff is None else read_tradeoff(inputs.tradeoff)
    return Collected(metrics, curves, clips, style_figures, tradeoff)


def build_report(inputs: ReportInputs, report: Path, project_root: Path, sample_rate: int) -> dict:
    """`collect` then `write_report`."""
    return write_report(collect(inputs, project_root), report, sample_rate)


def write_report(collected: Collected, report: Path, sample_rate: int) -> dict:
    """Write `report`/index.html and its assets. Returns counts for the stage's output line:
    {"clips", "audio", "images"}."""
    metrics, curves, clips, style_figures = collected.metrics, collected.curves, collected.clips, collected.style_figures
    with atomic_path(report) as tmp:
        assets = Assets(tmp)
        cards = sample_cards(clips, assets, sample_rate)
        sections = [Section("samples", "Samples: input, ours, baseline",
                            f'<div class="grid">{"".join(sample_card(c) for c in cards)}</div>'),
                    Section("generation", "Generation scores", generation_table(metrics["generation"])),
                    tradeoff_section(collected.tradeoff, assets)]
        style = "".join(figure(assets.copy(style_figures[name], "figures", f"style-{name}.png"), caption) for name, caption in
                        (("tsne", "t-SNE map of held-out style embeddings"), ("confusion", "kNN genre confusion matrix")))
        sections.append(Section("style", "Style embedding", f'<div class="grid">{style}</div>'))
        drawn = []
        for name, frame in curves.items():
            plot_training_curves(frame, CURVE_TITLES.get(name, name), assets.figure(f"curves-{name}.png"))
            drawn.append(figure(assets.link(assets.figure(f"curves-{name}.png")), f"{CURVE_TITLES.get(name, name)}: per epoch"))
        sections.append(Section("training", "Training curves", f'<div class="grid">{"".join(drawn)}</div>'))
        tables = "".join(f'<div><h3>{escape(METRIC_TITLES.get(n, n))} <span class="note">metrics/{escape(n)}.json</span></h3>'
                         f"{metrics_table(m)}</div>" for n, m in metrics.items() if n != "generation")
        sections.append(Section("metrics", "Every stage's metrics", f'<div class="grid">{tables}</div>'))
        intro = (f"{len(cards)} held-out utterances converted to hip-hop by our method and by the baseline; "
                 "scores from judges that no loss ever saw. Everything on this page is in this folder.")
        (tmp / "index.html").write_text(render_page(TITLE, intro, sections), encoding="utf-8")
        counts = {"clips": len(cards), "audio": len(list((tmp / "assets/audio").glob("*"))),
                  "images": len(list((tmp / "assets/figures").glob("*")))}
    return counts
