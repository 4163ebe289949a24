"""DVC stage download_mtat: builds, downloads or points at the MagnaTagATune corpus in --out.

--out gets source.json plus the corpus (embedded, download) or only source.json (local: an
existing copy, validated and never copied). `data.mtat.source` picks embedded | download | local.
"""
from pathlib import Path

from pipeline.data.download import provide_dataset
from pipeline.data.embedded_music import build_embedded_mtat
from pipeline.data.mtat import ANNOTATIONS, download_mtat, prepare_mtat
from pipeline.errors import UserError, exit_on_user_error
from pipeline.stage import stage_params, stage_paths
from pipeline.tracking import stage_run


def validated_clips(root: Path):
    """prepare_mtat, plus a check that the audio is there (a few clips are known to be missing)."""
    clips = prepare_mtat(root)
    present = sum(Path(p).is_file() for p in clips["path"])
    if len(clips) and not present:
        raise UserError(f"none of the {len(clips)} clips listed in {root / ANNOTATIONS} is under {root} (mp3/<0..f>/)")
    return clips, len(clips) - present


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "out", argv=argv)
    params = stage_params()
    cfg = params.data.mtat
    with stage_run("download_mtat", cfg, params.tracking.experiment) as run:
        clips, missing = provide_dataset(
            paths.out, cfg,
            build=lambda folder: build_embedded_mtat(folder, params.data.embedded_music, params.subset,
                                                     params.audio.sample_rate, params.seed),
            download=lambda folder: download_mtat(folder, base_url=cfg.base_url, keep_archives=cfg.keep_archives),
            prepare=validated_clips)
        run.log_metrics({"clips_total": len(clips), "clips_missing_audio": missing,
                         "tracks_total": int(clips["track"].nunique())})
    print(f"download_mtat ({cfg.source}): {len(clips)} clips, {missing} without audio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
