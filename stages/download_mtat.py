"""DVC stage download_mtat: builds, downloads or points at the MagnaTagATune corpus in --out.

--out gets source.json plus the corpus (embedded, download) or only source.json (local: an
existing copy, validated and never copied). `data.mtat.source` picks embedded | download | local.
"""
from pathlib import Path

from pipeline.data.download import claim_for_download
from pipeline.data.mtat import ANNOTATIONS, download_mtat, prepare_mtat
from pipeline.data.sources import write_source
from pipeline.errors import UserError, exit_on_user_error
from pipeline.fileio import atomic_path
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
        if cfg.source == "embedded":
            from pipeline.data.embedded_music import build_embedded_mtat

            with atomic_path(paths.out) as tmp:
                tmp.mkdir(parents=True)
                build_embedded_mtat(root=tmp, cfg=params.data.embedded_music, taxonomy=params.subset,
                                    sample_rate=params.audio.sample_rate, seed=params.seed)
                clips, missing = validated_clips(tmp)
                write_source(tmp, "embedded")
        elif cfg.source == "download":
            download_mtat(claim_for_download(paths.out), base_url=cfg.base_url, keep_archives=cfg.keep_archives)
            clips, missing = validated_clips(paths.out)
            write_source(paths.out, "download")
        else:
            root = Path(cfg.root).expanduser()
            clips, missing = validated_clips(root)  # validates; never copies
            with atomic_path(paths.out) as tmp:
                tmp.mkdir(parents=True)
                write_source(tmp, "local", root)
        run.log_metrics({"clips_total": len(clips), "clips_missing_audio": missing,
                         "tracks_total": int(clips["track"].nunique())})
    print(f"download_mtat ({cfg.source}): {len(clips)} clips, {missing} without audio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
