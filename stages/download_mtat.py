"""DVC stage download_mtat: -> data/raw/mtat (source.json + the corpus, or only source.json for a
`local` corpus). `data.mtat.source` picks embedded | download | local."""
from pathlib import Path

from pipeline.data.download import claim_for_download
from pipeline.data.mtat import ANNOTATIONS, download_mtat, prepare_mtat
from pipeline.data.sources import check_source, write_source
from pipeline.errors import UserError, exit_on_user_error
from pipeline.fileio import atomic_path
from pipeline.params import load_params
from pipeline.tracking import stage_run

OUT_DIR = Path("data/raw/mtat")


def validated_clips(root: Path):
    """prepare_mtat, plus a check that the audio is there (a few clips are known to be missing)."""
    clips = prepare_mtat(root)
    present = sum(Path(p).is_file() for p in clips["path"])
    if len(clips) and not present:
        raise UserError(f"none of the {len(clips)} clips listed in {root / ANNOTATIONS} is under {root} (mp3/<0..f>/)")
    return clips, len(clips) - present


@exit_on_user_error
def main() -> int:
    params = load_params()
    cfg = params["data"]["mtat"]
    source = check_source("mtat", cfg)
    with stage_run("download_mtat", cfg, params["tracking"]["experiment"]) as run:
        if source == "embedded":
            from pipeline.data.embedded_music import build_embedded_mtat

            with atomic_path(OUT_DIR) as tmp:
                tmp.mkdir(parents=True)
                build_embedded_mtat(root=tmp, cfg=params["data"]["embedded_music"],
                                    sample_rate=params["audio"]["sample_rate"], seed=params["seed"])
                clips, missing = validated_clips(tmp)
                write_source(tmp, "embedded")
        elif source == "download":
            download_mtat(claim_for_download(OUT_DIR), base_url=cfg["base_url"],
                          keep_archives=cfg.get("keep_archives", True))
            clips, missing = validated_clips(OUT_DIR)
            write_source(OUT_DIR, "download")
        else:
            root = Path(cfg["root"]).expanduser()
            clips, missing = validated_clips(root)  # validates; never copies
            with atomic_path(OUT_DIR) as tmp:
                tmp.mkdir(parents=True)
                write_source(tmp, "local", root)
        run.log_metrics({"clips_total": len(clips), "clips_missing_audio": missing,
                         "tracks_total": int(clips["track"].nunique())})
    print(f"download_mtat ({source}): {len(clips)} clips, {missing} without audio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
