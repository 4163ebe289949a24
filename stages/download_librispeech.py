"""DVC stage download_librispeech: -> data/raw/librispeech (source.json + the corpus, or only
source.json for a `local` corpus). `data.librispeech.source` picks embedded | download | local."""
from pathlib import Path

from pipeline.data.download import claim_for_download
from pipeline.data.librispeech import check_subsets, download_librispeech, prepare_librispeech
from pipeline.data.sources import check_source, write_source
from pipeline.errors import exit_on_user_error
from pipeline.fileio import atomic_path
from pipeline.params import load_params
from pipeline.tracking import stage_run

OUT_DIR = Path("data/raw/librispeech")


@exit_on_user_error
def main() -> int:
    params = load_params()
    cfg = params["data"]["librispeech"]
    source = check_source("librispeech", cfg)
    subsets = sorted({name for names in cfg["splits"].values() for name in names})
    with stage_run("download_librispeech", cfg, params["tracking"]["experiment"]) as run:
        if source == "embedded":
            from pipeline.data.embedded_speech import build_embedded_librispeech

            with atomic_path(OUT_DIR) as tmp:
                tmp.mkdir(parents=True)
                build_embedded_librispeech(root=tmp, cfg=params["data"]["embedded_speech"], splits=cfg["splits"],
                                           sample_rate=params["audio"]["sample_rate"], seed=params["seed"])
                utterances = prepare_librispeech(tmp, subsets)
                write_source(tmp, "embedded")
        elif source == "download":
            download_librispeech(claim_for_download(OUT_DIR), check_subsets(subsets), base_url=cfg["base_url"],
                                 keep_archives=cfg.get("keep_archives", True))
            utterances = prepare_librispeech(OUT_DIR, subsets)
            write_source(OUT_DIR, "download")
        else:
            root = Path(cfg["root"]).expanduser()
            utterances = prepare_librispeech(root, subsets)  # validates; never copies
            with atomic_path(OUT_DIR) as tmp:
                tmp.mkdir(parents=True)
                write_source(tmp, "local", root)
        counts = utterances.groupby("subset").size()
        run.log_metrics({"utterances_total": len(utterances),
                         "hours_total": round(float(utterances["seconds"].sum()) / 3600, 4),
                         "speakers_total": int(utterances["speaker"].nunique()),
                         **{f"utterances.{name}": int(n) for name, n in counts.items()}})
    print(f"download_librispeech ({source}): {len(utterances)} utterances in {', '.join(subsets)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
