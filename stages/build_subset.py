"""DVC stage build_subset: data/raw/mtat (+ data/raw/librispeech for its counts) ->
data/subset.csv, metrics/data.json."""
from pathlib import Path

from pipeline.data.librispeech import prepare_librispeech
from pipeline.data.mtat import prepare_mtat
from pipeline.data.sources import dataset_root
from pipeline.data.subset import build_subset, subset_counts
from pipeline.errors import exit_on_user_error
from pipeline.fileio import project_path, write_csv, write_json
from pipeline.params import load_params
from pipeline.tracking import stage_run


@exit_on_user_error
def main() -> int:
    params = load_params()
    cfg = params["subset"]
    with stage_run("build_subset", cfg, params["tracking"]["experiment"]) as run:
        clips = prepare_mtat(dataset_root("data/raw/mtat"))
        subset, stats = build_subset(clips, cfg, seed=params["seed"])
        subset["path"] = [project_path(p) for p in subset["path"]]
        splits = params["data"]["librispeech"]["splits"]
        utterances = prepare_librispeech(dataset_root("data/raw/librispeech"), sorted({s for v in splits.values() for s in v}))
        by_subset = utterances.groupby("subset")["seconds"]
        metrics = {
            "music": {**subset_counts(subset), **stats},
            "speech": {"utterances": {k: int(v) for k, v in by_subset.size().items()},
                       "hours": {k: round(float(v) / 3600, 4) for k, v in by_subset.sum().items()},
                       "speakers": {k: int(v) for k, v in utterances.groupby("subset")["speaker"].nunique().items()}},
        }
        write_csv("data/subset.csv", subset)
        write_json("metrics/data.json", metrics)
        run.log_metrics({"clips_total": len(subset), "broken_clips_skipped": stats["broken_clips_skipped"],
                         "utterances_total": len(utterances)})
        run.log_artifact(Path("metrics/data.json"))
    print(f"build_subset: {len(subset)} clips, {stats['broken_clips_skipped']} broken skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
