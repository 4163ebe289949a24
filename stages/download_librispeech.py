"""DVC stage download_librispeech: LibriSpeech in --out, its speech manifest and statistics.

--out gets source.json plus the corpus, built (embedded) or downloaded, or only source.json
(local: an existing copy, validated and never copied). `data.librispeech.source` picks embedded | download |
local. The corpus is read once: --manifest gets the speech manifest (utt_id, path, transcript,
speaker, split, seconds; paths relative to the working folder, absolute for a `local` corpus
outside it), --metrics the utterances, hours and speakers of each subset.
"""
from pipeline.data.download import provide_dataset
from pipeline.data.embedded_speech import build_embedded_librispeech
from pipeline.data.librispeech import download_librispeech, prepare_librispeech, speech_manifest, speech_stats
from pipeline.errors import exit_on_user_error
from pipeline.fileio import write_csv, write_json
from pipeline.stage import stage_params, stage_paths
from pipeline.tracking import stage_run


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "out", "manifest", "metrics", argv=argv)
    params = stage_params()
    cfg = params.data.librispeech
    subsets = cfg.splits.subsets()
    with stage_run("download_librispeech", cfg, params.tracking.experiment, [paths.metrics]) as run:
        utterances = provide_dataset(
            paths.out, cfg,
            build=lambda folder: build_embedded_librispeech(folder, params.data.embedded_speech, cfg.splits,
                                                            params.audio.sample_rate, params.seed),
            download=lambda folder: download_librispeech(folder, subsets, base_url=cfg.base_url,
                                                         keep_archives=cfg.keep_archives),
            prepare=lambda root: prepare_librispeech(root, subsets))
        stats = speech_stats(utterances)
        write_csv(paths.manifest, speech_manifest(utterances, cfg.splits))
        write_json(paths.metrics, stats)
        run.log_metrics({"utterances_total": len(utterances),
                         "hours_total": round(float(utterances["seconds"].sum()) / 3600, 4),
                         "speakers_total": int(utterances["speaker"].nunique()),
                         **{f"utterances.{name}": n for name, n in stats["utterances"].items()}})
        run.log_artifact(paths.metrics)
    print(f"download_librispeech ({cfg.source}): {len(utterances)} utterances in {', '.join(subsets)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
