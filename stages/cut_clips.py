"""DVC stage cut_clips: data/subset.csv -> data/clips/ (10 s FLAC segments), data/clips.csv,
and the speech manifest data/speech.csv."""
import pandas as pd

from pipeline.data.clips import cut_clips, speech_manifest
from pipeline.data.librispeech import prepare_librispeech
from pipeline.data.sources import dataset_root
from pipeline.errors import exit_on_user_error
from pipeline.fileio import atomic_path, write_csv
from pipeline.params import load_params
from pipeline.tracking import stage_run


@exit_on_user_error
def main() -> int:
    params = load_params()
    cfg, sample_rate = params["clips"], params["audio"]["sample_rate"]
    splits = params["data"]["librispeech"]["splits"]
    with stage_run("cut_clips", cfg, params["tracking"]["experiment"]) as run:
        subset = pd.read_csv("data/subset.csv", dtype={"clip_id": str})
        with atomic_path("data/clips") as tmp:
            segments = cut_clips(subset, tmp, sample_rate, cfg["seconds"], cfg["hop_seconds"], listed_as="data/clips")
        write_csv("data/clips.csv", segments)
        utterances = prepare_librispeech(dataset_root("data/raw/librispeech"), sorted({s for v in splits.values() for s in v}))
        speech = speech_manifest(utterances, splits)
        write_csv("data/speech.csv", speech)
        run.log_metrics({"segments": len(segments), "utterances": len(speech),
                         "music_hours": len(segments) * cfg["seconds"] / 3600})
    print(f"cut_clips: {len(segments)} segments of {cfg['seconds']} s, {len(speech)} utterances")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
