"""DVC stage generate: held-out test utterances -> hip-hop-styled samples (the method, the method
under the other flow, and the original's settings as the baseline, in the same run), input /
output spectrogram images and metrics/generation.json scored by the judges on the written audio."""
import pandas as pd
import torch

from pipeline.data.segments import read_clips
from pipeline.devices import pick_device
from pipeline.errors import UserError, exit_on_user_error
from pipeline.fileio import atomic_path, rounded, write_json
from pipeline.generation.generator import load_generator
from pipeline.generation.flow_speech import flow_speech, speech_sample
from pipeline.generation.heldout import Grids, labelled_test_split, load_reference, pick_utterances, run_heldout
from pipeline.judges import load_judges
from pipeline.stage import stage_params, stage_paths
from pipeline.tracking import stage_run


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "speech", "clips", "content-model", "style-model", "targets", "judges", "samples",
                        "plots", "metrics", argv=argv)
    params = stage_params()
    config = params.generate
    if config.threads:
        torch.set_num_threads(config.threads)
    if not paths.speech.is_file():
        raise UserError(f"{paths.speech} not found: run `dvc repro download_librispeech` first")
    with stage_run("generate", config, params.tracking.experiment, [paths.metrics]) as run:
        generator = load_generator(paths.content_model, paths.style_model, paths.targets, config,
                                   pick_device(config.device, "generate.device"))
        judges = load_judges(paths.judges)
        speech = pd.read_csv(paths.speech, dtype={"utt_id": str, "speaker": str})
        utterances = pick_utterances(speech, config.utterances, params.seed)
        reference = load_reference(read_clips(paths.clips), params.style.anchor_genre, generator)

        def log_curves(utt_id, results):
            for step, row in enumerate(results["method"].history):
                run.log_metrics({f"loss.{utt_id}.{k}": v for k, v in row.items()}, step=step)

        grids = Grids(generator)  # each default beat analysed once, for the clips and for flow_speech
        with atomic_path(paths.samples) as samples, atomic_path(paths.plots) as plots:
            metrics, seconds = run_heldout(utterances, generator, judges, reference, config, params.seed, samples,
                                           plots, grids, on_clip=log_curves)
        # the flow's own cost on many utterances, beside generation's few clips
        tested = speech_sample(labelled_test_split(speech), config.flow.speech_utterances, params.seed)
        metrics["flow_speech"] = flow_speech(tested, generator, judges, grids, ["none", "beat"],
                                             config.bootstrap_resamples, params.seed)
        metrics = rounded(metrics)
        write_json(paths.metrics, metrics)
        run.log_metrics({**metrics, "seconds_per_clip": seconds})  # wall times: MLflow and the line below only
        for folder in (paths.samples, paths.plots):
            for path in sorted(folder.rglob("*.*")):
                run.log_artifact(path, str(path.parent.relative_to(folder.parent)))
        run.log_artifact(paths.metrics)
    base = metrics["baseline"]
    print(f"generate: {metrics['clips']} clips; content_cer {metrics['content_cer']:.3f} (input {metrics['input_cer']:.3f}, "
          f"baseline {base['content_cer']:.3f}); hiphop_probability {metrics['hiphop_probability']:.3f} "
          f"(input {metrics['input_hiphop_probability']:.3f}, reference {metrics['reference_hiphop_probability']:.3f}, "
          f"baseline {base['hiphop_probability']:.3f}); {seconds['method']:.1f} s / clip")
    for name, flow in metrics["flows"].items():
        print(f"  flow {name}: beat_alignment {flow['beat_alignment']} (input {metrics['input_beat_alignment']}), "
              f"content_cer {flow['content_cer']:.3f}, hiphop_probability {flow['hiphop_probability']:.3f}")
    on_speech = metrics["flow_speech"]
    if on_speech:
        print(f"  flows on {on_speech['utterances']} test utterances, no optimisation: " + "; ".join(
            f"{name} content_cer {on_speech[name]['content_cer']:.3f}, beat_alignment {on_speech[name]['beat_alignment']:.3f}"
            for name in ("none", "beat", "beat_minus_none") if name in on_speech))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
