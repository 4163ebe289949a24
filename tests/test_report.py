"""The report page, built from a tiny fake project folder (the committed metrics and curves,
synthetic audio and figures): self-contained, escaped, with the comparison table and the
optional trade-off curve; the stage's bad input; and the page in a real headless Chromium."""
from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.audio import save_audio
from pipeline.errors import UserError
from pipeline.report.build import build_report
from pipeline.report.inputs import ReportInputs
from browser_check import ARTIFACTS, assert_page_works, chromium_path

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000
HOSTILE = "<script>alert('x')</script> & \"quotes\""
UTTERANCES = {"1-10-0000": "seen", "2-20-0001": "unseen"}


def tiny_png(path: Path, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pipeline.evaluation.figures import save_figure

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.imshow(np.random.default_rng(seed).random((8, 16)))
    save_figure(fig, path)


def tone(seconds: float, hz: float) -> np.ndarray:
    return (0.2 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype("float32")


def fake_project(root: Path) -> ReportInputs:
    """What the report's upstream stages leave: metrics, curves, figures, samples/clips.csv."""
    (root / "metrics").mkdir(parents=True)
    for path in sorted((ROOT / "metrics").glob("*")):
        if path.stem in ("speech", "data", "content", "style", "judges", "generation") or path.name.endswith("_curves.csv"):
            shutil.copy(path, root / "metrics" / path.name)
    generation = json.loads((root / "metrics/generation.json").read_text())
    generation["flow"], generation["baseline"]["flow"] = 0.5, 0.25  # a score added later shows by itself
    (root / "metrics/generation.json").write_text(json.dumps(generation))
    for name in ("tsne", "confusion"):
        tiny_png(root / "plots/style" / f"{name}.png", 0)
    rows = []
    for i, (utt, condition) in enumerate(UTTERANCES.items()):
        save_audio(root / "data/raw" / f"{utt}.flac", tone(1.0 + i, 220), RATE)
        save_audio(root / "samples" / f"{utt}.wav", tone(1.0 + i, 330), RATE)
        save_audio(root / "samples/baseline" / f"{utt}.wav", tone(1.0 + i, 440), RATE)
        save_audio(root / "samples/flow_beat" / f"{utt}.wav", tone(1.2 + i, 330), RATE)
        tiny_png(root / "plots/generate" / f"{utt}.png", i)
        rows.append({"utt_id": utt, "speaker": utt.split("-")[0], "condition": condition, "input": f"data/raw/{utt}.flac",
                     "transcript": HOSTILE if i == 0 else "A PLAIN LINE", "method": f"{utt}.wav",
                     "baseline": f"baseline/{utt}.wav", "input_heard": "a plain line", "input_cer": 0.1,
                     "input_hiphop_probability": 0.01, "method_heard": "a pain lie", "method_cer": 0.3,
                     "method_hiphop_probability": 0.4, "baseline_heard": "a plain", "baseline_cer": 0.2,
                     "baseline_hiphop_probability": 0.05, "flow_beat": f"flow_beat/{utt}.wav",
                     "flow_beat_heard": "a plane line", "flow_beat_cer": 0.25, "flow_beat_hiphop_probability": 0.45})
    pd.DataFrame(rows).to_csv(root / "samples/clips.csv", index=False)
    pd.DataFrame({"style_weight": [0.0, 1.0, 10.0], "flow": [0.5] * 3, "content_cer": [0.1, 0.2, 0.5],
                  "hiphop_probability": [0.01, 0.2, 0.6], "style_distance": [80.0, 50.0, 30.0],
                  "beat_alignment": [0.1, 0.3, 0.5]}).to_csv(root / "metrics/tradeoff.csv", index=False)
    return ReportInputs(metrics={n: root / "metrics" / f"{n}.json" for n in ("speech", "data", "content", "style", "judges", "generation")},
                        curves={n: root / "metrics" / f"{n}_curves.csv" for n in ("content", "style", "judges")},
                        style_plots=root / "plots/style", generate_plots=root / "plots/generate", samples=root / "samples",
                        tradeoff=root / "metrics/tradeoff.csv")


class Links(HTMLParser):
    """Every src / href on a page, and the tags that carry them."""

    def __init__(self):
        super().__init__()
        self.links, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [(tag, value) for name, value in attrs if name in ("src", "href")]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, ReportInputs]:
    root = tmp_path_factory.mktemp("project")
    return root, fake_project(root)


@pytest.fixture(scope="module")
def page(project) -> Path:
    root, inputs = project
    counts = build_report(inputs, root / "reports", root, RATE)
    assert counts == {"clips": 2, "audio": 8, "images": 2 + 2 + 3 + 1}  # spectrograms, style, curves, trade-off
    return root / "reports/index.html"


def test_every_link_is_relative_and_inside_the_report_folder(page):
    from urllib.parse import unquote

    parser = Links()
    parser.feed(page.read_text())
    folder = page.parent.resolve()
    files = [(tag, link) for tag, link in parser.links if not link.startswith(("#", "data:"))]
    assert sum(tag == "audio" for tag, _ in files) == 8 and sum(tag == "img" for tag, _ in files) == 8
    for tag, link in files:
        assert "://" not in link and not link.startswith("/"), link
        target = (folder / unquote(link)).resolve()
        assert target.is_relative_to(folder) and target.is_file() and target.stat().st_size > 0, link
    assert "script" not in parser.tags  # a static page, and the hostile transcript did not become a tag
    assert sorted(p.name for p in folder.iterdir()) == ["assets", "index.html"]


def test_strings_from_data_are_escaped(page):
    html = page.read_text()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in html


class Cells(HTMLParser):
    """Every table on a page as rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables, self.cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_generation_table_sets_ours_beside_baseline_floor_and_ceiling(page):
    parser = Cells()
    parser.feed(page.read_text())
    header, *rows = next(t for t in parser.tables if t and t[0][:2] == ["score", "ours"])
    table = {row[0]: dict(zip(header[1:], row[1:])) for row in rows}
    generation = json.loads((page.parents[1] / "metrics/generation.json").read_text())
    assert header[1:] == ["ours", "baseline (original's settings)", "floor (input speech)", "ceiling (hip-hop reference)"]
    cer = generation["ci95"]["content_cer"]
    assert table["content_cer"]["ours"] == f"{generation['content_cer']:.4g} [{cer['low']:.4g}, {cer['high']:.4g}]"
    assert table["content_cer"]["floor (input speech)"].startswith(f"{generation['input_cer']:.4g} [")
    assert table["content_cer"]["ceiling (hip-hop reference)"] == "\u2013"  # no ceiling measured for CER
    assert table["hiphop_probability"]["ceiling (hip-hop reference)"] == f"{generation['reference_hiphop_probability']:.4g}"
    assert table["style_distance"]["floor (input speech)"] == f"{generation['input_style_distance']:.4g}"
    assert table["flow"]["ours"] == "0.5" and table["flow"]["baseline (original's settings)"] == "0.25"


def test_the_tradeoff_curve_is_drawn_when_there_is_a_sweep_and_optional_otherwise(project, page, tmp_path):
    assert (page.parent / "assets/figures/tradeoff.png").is_file() and "style_weight" in page.read_text()
    root, inputs = project
    without = ReportInputs(**{**inputs.__dict__, "tradeoff": None})
    build_report(without, tmp_path / "reports", root, RATE)
    assert "has not run" in (tmp_path / "reports/index.html").read_text()
    assert not (tmp_path / "reports/assets/figures/tradeoff.png").exists()


def test_the_same_inputs_give_the_same_bytes(project, page, tmp_path):
    root, inputs = project
    build_report(inputs, tmp_path / "again", root, RATE)
    before = {p.relative_to(page.parent): p.read_bytes() for p in sorted(page.parent.rglob("*")) if p.is_file()}
    after = {p.relative_to(tmp_path / "again"): p.read_bytes() for p in sorted((tmp_path / "again").rglob("*")) if p.is_file()}
    assert before == after


def test_a_missing_input_is_one_line_and_leaves_no_report(project, tmp_path):
    root, inputs = project
    broken = ReportInputs(**{**inputs.__dict__, "samples": tmp_path / "no-samples"})
    with pytest.raises(UserError, match="clips.csv"):
        build_report(broken, tmp_path / "reports", root, RATE)
    assert not (tmp_path / "reports").exists() and list(tmp_path.iterdir()) == []


def test_the_stage_reports_bad_input_as_one_line_exit_2(project, tmp_path, monkeypatch, capsys):
    from stages.report import CURVES, METRICS, main

    root, _ = project
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    argv = [arg for n in METRICS for arg in (f"--{n}-metrics", str(root / "metrics" / f"{n}.json"))]
    argv += [arg for n in CURVES for arg in (f"--{n}-curves", str(root / "metrics" / f"{n}_curves.csv"))]
    argv += ["--style-plots", str(root / "plots/style"), "--generate-plots", str(root / "plots/generate"),
             "--samples", str(tmp_path / "missing"), "--report", str(tmp_path / "reports")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "clips.csv" in err
    assert not (tmp_path / "reports").exists()


def test_the_page_works_in_headless_chromium(page, tmp_path):
    """Every <audio> loads with a positive duration, every image decodes, nothing is requested
    from outside the page's folder, the console stays clean, no sideways scrolling on a phone;
    the full-page screenshot is kept (test-artifacts/report.png)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium binary found (install Debian's `chromium`; .ci/run does when it can)")
    seen = assert_page_works(page, tmp_path / "report.png", executable)
    assert len(seen["audio"]) == 8 and len(seen["images"]) == 8
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "report.png", ARTIFACTS / "report.png")
