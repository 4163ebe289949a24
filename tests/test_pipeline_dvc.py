"""`dvc repro` of the whole pipeline in the `tiny` profile, in a fresh git repository, as a user
runs it: every stage's outputs appear, MLflow gets one run per stage in the repo's own store,
a rerun is a no-op, and forced reruns give byte-identical outputs (nothing downstream changes).
"""
import json

import pandas as pd
import pytest
import yaml

from tiny_repo import run


@pytest.fixture()
def repo(tiny_repo):
    """The session's shared tiny build (tests/conftest.py)."""
    return tiny_repo


def test_every_stage_writes_its_outputs(repo):
    repo, _ = repo
    for path in ["data/subset.csv", "data/clips.csv", "data/speech.csv", "models/content_encoder.pt",
                 "models/style_encoder.pt", "metrics/data.json", "metrics/speech.json", "metrics/content.json", "metrics/style.json",
                 "metrics/content_curves.csv", "metrics/style_curves.csv", "plots/style/tsne.png", "plots/style/confusion.png",
                 "models/judges/asr.pt", "models/judges/hiphop.json", "metrics/judges.json", "metrics/judges_curves.csv",
                 "models/style_targets.pt", "metrics/generation.json", "samples/clips.csv", "reports/index.html"]:
        assert (repo / path).is_file() and (repo / path).stat().st_size > 0, path
    data = json.loads((repo / "metrics/data.json").read_text())
    assert data["music"]["broken_clips_skipped"] == 2  # the corpus's missing and corrupt clips
    assert set(data["music"]["clips_per_genre"]) >= {"hip-hop", "rock", "classical"}
    clips = pd.read_csv(repo / "data/clips.csv")
    assert clips.groupby("track")["split"].nunique().max() == 1  # no track in two splits
    # the corpus's held-out tracks (one a genre in the tiny profile) are all in the test split
    held = pd.read_csv(repo / "data/raw/mtat/heldout_tracks.csv")["track"]
    assert data["music"]["heldout_tracks"] == len(held) == 10
    assert set(clips.loc[clips["track"].isin(held), "split"]) == {"test"}
    style = json.loads((repo / "metrics/style.json").read_text())
    assert 0.0 <= style["hiphop_roc_auc"] <= 1.0 and style["q"] > 0
    # the labelled real folders are scored, never mixed into the corpus
    assert 0.0 <= style["real_hiphop_roc_auc"] <= 1.0 and style["real_tracks"] == 4
    assert not clips["clip_path"].str.contains("real/").any()
    judges = json.loads((repo / "metrics/judges.json").read_text())
    assert 0.0 <= judges["asr"]["test_cer"] and 0.0 <= judges["hiphop"]["floor"] <= 1.0
    assert "seconds" not in judges  # wall times go to MLflow, so the file is the same on every rerun
    instrumentals = pd.read_csv(repo / "data/raw/mtat/instrumentals.csv")
    assert len(instrumentals) >= 1 and all((repo / "data/raw/mtat" / p).is_file() for p in instrumentals["path"])
    generation = json.loads((repo / "metrics/generation.json").read_text())
    assert generation["clips"] == 2 and generation["unseen_speaker_clips"] == 1
    for key in ("content_cer", "input_cer", "hiphop_probability", "input_hiphop_probability", "reference_hiphop_probability",
                "style_distance", "tempo_bpm", "beat_strength", "spectral_convergence"):
        assert key in generation and (key in ("input_cer", "input_hiphop_probability", "reference_hiphop_probability")
                                      or key in generation["baseline"]), key
    assert "seconds_per_clip" not in generation and "seconds_per_clip" not in generation["baseline"]  # MLflow's
    # both flows side by side, each with its CER and the words' beat alignment
    assert generation["flow"] == "none" and set(generation["flows"]) == {"none", "beat"}
    # the flow's own cost on the whole (tiny) test split, both flows and their paired difference
    on_speech = generation["flow_speech"]
    assert on_speech["utterances"] == len(pd.read_csv(repo / "data/speech.csv").query("split == 'test'"))
    assert {"none", "beat", "beat_minus_none"} <= set(on_speech) and "beat.beat_alignment" in on_speech["ci95"]
    for flow in generation["flows"].values():
        assert 0.0 <= flow["beat_alignment"] <= 1.0 and 0.0 <= flow["content_cer"]
    assert generation["flows"]["none"]["content_cer"] == generation["content_cer"]
    samples = sorted((repo / "samples").glob("*.wav"))
    assert len(samples) == 2 and len(list((repo / "samples/baseline").glob("*.wav"))) == 2
    assert len(list((repo / "samples/flow_beat").glob("*.wav"))) == 2
    # the trade-off sweep: every style weight x flow, drawn as a DVC plot and on the page
    tradeoff = pd.read_csv(repo / "metrics/tradeoff.csv")
    assert list(tradeoff.columns) == ["style_weight", "flow", "content_cer", "hiphop_probability", "style_distance",
                                      "beat_alignment"]
    assert sorted(zip(tradeoff["flow"], tradeoff["style_weight"])) == [("beat", 0.0), ("beat", 1.0), ("none", 0.0),
                                                                       ("none", 1.0)]
    assert tradeoff.notna().all().all()
    assert (repo / "reports/assets/figures/tradeoff.png").is_file()
    plots = run(["dvc", "plots", "show", "--json", "metrics/tradeoff.csv"], repo, _)
    assert "content_cer" in plots and "hiphop_probability" in plots
    assert len(list((repo / "plots/generate").glob("*.png"))) == 2
    listed = pd.read_csv(repo / "samples/clips.csv", dtype=str)
    assert sorted(listed["utt_id"] + ".wav") == [p.name for p in samples]
    assert all((repo / p).is_file() for p in listed["input"]) and set(listed["condition"]) == {"seen", "unseen"}
    assert len(list((repo / "reports/assets/audio").glob("*.wav"))) == 8  # input, ours, baseline, other flow per clip


def test_the_report_page_works_in_headless_chromium(repo, tmp_path):
    """The page `dvc repro` built, in a real browser (tests/test_report.py checks it in detail)."""
    from browser_check import assert_page_works, chromium_path

    repo, _ = repo
    if chromium_path() is None:
        pytest.skip("no chromium binary found (install Debian's `chromium`; .ci/run does when it can)")
    seen = assert_page_works(repo / "reports/index.html", tmp_path / "report.png", chromium_path())
    assert len(seen["audio"]) == 8


def test_each_stage_logged_one_mlflow_run_to_the_repo_store(repo):
    import mlflow

    repo, _ = repo
    assert (repo / "mlflow.db").is_file() and not (repo / "mlruns").exists()
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fake-rapper-helper"], output_format="list")
    stages = sorted(r.data.tags["dvc_stage"] for r in runs)
    assert stages == sorted(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])
    assert all(r.info.status == "FINISHED" for r in runs)
    evaluate = next(r for r in runs if r.data.tags["dvc_stage"] == "evaluate_style")
    assert evaluate.data.metrics["hiphop_roc_auc"] == json.loads((repo / "metrics/style.json").read_text())["hiphop_roc_auc"]
    artifacts = {a.path for a in mlflow.artifacts.list_artifacts(run_id=evaluate.info.run_id)}
    assert {"tsne.png", "confusion.png", "style.json"} <= artifacts
    assert evaluate.info.artifact_uri.startswith((repo / "mlartifacts").resolve().as_uri())
    # one `dvc repro`, one group; every run names the commit it ran on
    assert len({r.data.tags["run_group"] for r in runs}) == 1 and runs[0].data.tags["run_group"].startswith("dvc-")
    head = run(["git", "rev-parse", "HEAD"], repo, _).strip()
    assert all(r.data.tags["git_commit"] == head == r.data.tags["mlflow.source.git.commit"] for r in runs)
    generate = next(r for r in runs if r.data.tags["dvc_stage"] == "generate")
    samples = {a.path for a in mlflow.artifacts.list_artifacts(run_id=generate.info.run_id, artifact_path="samples")}
    assert {f"samples/{p.name}" for p in (repo / "samples").glob("*.wav")} <= samples
    assert len(mlflow.artifacts.list_artifacts(run_id=generate.info.run_id, artifact_path="generate")) == 2  # the plots


def test_outputs_stay_out_of_git_and_the_rerun_is_a_no_op(repo):
    repo, env = repo
    ignored = run(["git", "status", "--porcelain", "--ignored"], repo, env)
    for path in ("mlflow.db", "mlartifacts/", "data/", "models/", "plots/", "samples/", "reports/"):
        assert f"!! {path}" in ignored, path
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo, env)
    assert "didn't change, skipping" in run(["dvc", "repro"], repo, env)


@pytest.mark.slow  # a second build of every stage after download: 135 s on a slow 2-core machine
def test_forced_reruns_are_byte_identical(repo):
    """Same params, same machine, same bytes: a forced rerun of the data, training and generation stages
    leaves every later stage up to date."""
    repo, env = repo
    before = {p: (repo / p).read_bytes() for p in ("data/subset.csv", "models/content_encoder.pt", "models/style_encoder.pt",
                                                    "metrics/style.json", "models/judges/asr.pt", "models/judges/hiphop.json",
                                                    "metrics/judges_curves.csv", "models/style_targets.pt",
                                                    "metrics/tradeoff.csv",
                                                    *[p.relative_to(repo) for p in sorted((repo / "samples").rglob("*.wav"))],
                                                    *[p.relative_to(repo) for p in sorted((repo / "reports").rglob("*.*"))])}
    run(["dvc", "repro", "--force", "--single-item", "build_subset", "cut_clips", "pretrain_content", "train_style",
         "evaluate_style", "train_judges", "style_targets", "generate", "tradeoff", "report"], repo, env)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo, env)
    assert before == {p: (repo / p).read_bytes() for p in before}
    # the second `dvc repro` is a group of its own
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fake-rapper-helper"], output_format="list")
    groups = {}
    for r in sorted(runs, key=lambda r: r.info.start_time):
        groups.setdefault(r.data.tags["run_group"], set()).add(r.data.tags["dvc_stage"])
    first, second = groups.values()
    assert len(groups) == 2 and second == {"build_subset", "cut_clips", "pretrain_content", "train_style",
                                            "evaluate_style", "train_judges", "style_targets", "generate", "tradeoff", "report"} < first
