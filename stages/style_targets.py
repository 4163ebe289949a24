"""DVC stage style_targets: the hip-hop train segments and instrumentals -> what generation
matches (Gram matrices per style-encoder block, the embedding centroid) and the default beats,
in one file, so the CLI never rereads the corpus."""
from pipeline.data.segments import read_clips
from pipeline.errors import exit_on_user_error
from pipeline.fileio import md5_of
from pipeline.generation.targets import corpus_style_targets, save_style_targets
from pipeline.models.style_encoder import load_style_encoder
from pipeline.stage import stage_params, stage_paths
from pipeline.tracking import stage_run


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "clips", "mtat", "style-model", "targets", argv=argv)
    params = stage_params()
    with stage_run("style_targets", params.generate, params.tracking.experiment) as run:
        model = load_style_encoder(paths.style_model)
        targets = corpus_style_targets(read_clips(paths.clips), paths.mtat, model, params.style.anchor_genre,
                                       params.generate, params.seed)
        save_style_targets(paths.targets, targets, model.front_end, md5_of(paths.style_model))
        run.log_metrics({"reference_segments": targets.segments, "beats": len(targets.beats)})
    beats = ", ".join(f"{b.track} ({b.bpm:.0f} BPM)" for b in targets.beats) or "none (bring your own: --beat)"
    print(f"style_targets: {targets.segments} reference segments, {len(targets.grams)} blocks; beats: {beats}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
