"""DVC stage cut_clips: cuts the music subset's clips into fixed-length FLAC segments.

--subset is build_subset's table; --clips gets the segments (`<genre>/<clip>-<start ms>.flac`),
--manifest lists them (clip_path, clip_id, genre, track, split, start_s).
"""
import pandas as pd

from pipeline.data.clips import cut_clips
from pipeline.errors import exit_on_user_error
from pipeline.fileio import atomic_path, write_csv
from pipeline.stage import stage_params, stage_paths
from pipeline.tracking import stage_run


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "subset", "clips", "manifest", argv=argv)
    params = stage_params()
    cfg = params.clips
    with stage_run("cut_clips", cfg, params.tracking.experiment) as run:
        subset = pd.read_csv(paths.subset, dtype={"clip_id": str})
        with atomic_path(paths.clips) as tmp:
            segments = cut_clips(subset, tmp, params.audio.sample_rate, cfg.seconds, cfg.hop_seconds,
                                 listed_as=paths.clips.as_posix())
        write_csv(paths.manifest, segments)
        run.log_metrics({"segments": len(segments), "music_hours": len(segments) * cfg.seconds / 3600})
    print(f"cut_clips: {len(segments)} segments of {cfg.seconds:g} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
