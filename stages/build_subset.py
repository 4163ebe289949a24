"""DVC stage build_subset: the hip-hop-enriched music subset of the MagnaTagATune corpus in --mtat.

--subset gets the chosen clips (clip_id, path, genre, track, split), --metrics their counts
per genre and split and the broken or untagged clips left out (its `music` block).
"""
from pipeline.data.mtat import prepare_mtat
from pipeline.data.sources import dataset_root
from pipeline.data.subset import build_subset, subset_counts
from pipeline.errors import exit_on_user_error
from pipeline.fileio import project_path, write_csv, write_json
from pipeline.stage import stage_params, stage_paths
from pipeline.tracking import stage_run


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "mtat", "subset", "metrics", argv=argv)
    params = stage_params()
    with stage_run("build_subset", params.subset, params.tracking.experiment, [paths.metrics]) as run:
        clips = prepare_mtat(dataset_root(paths.mtat))
        subset, stats = build_subset(clips, params.subset, seed=params.seed)
        subset["path"] = [project_path(p) for p in subset["path"]]
        write_csv(paths.subset, subset)
        write_json(paths.metrics, {"music": {**subset_counts(subset), **stats}})
        run.log_metrics({"clips_total": len(subset), "broken_clips_skipped": stats["broken_clips_skipped"]})
        run.log_artifact(paths.metrics)
    print(f"build_subset: {len(subset)} clips, {stats['broken_clips_skipped']} broken skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
