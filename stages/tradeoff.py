"""DVC stage tradeoff: the method at every style weight x flow of `params.yaml: tradeoff` on a
few held-out utterances -> metrics/tradeoff.csv (content_cer against hiphop_probability, a DVC
plot), scored by the same judges as `generate`."""
import pandas as pd
import torch

from pipeline.config import to_dict
from pipeline.data.segments import read_clips
from pipeline.devices import pick_device
from pipeline.errors import exit_on_user_error
from pipeline.fileio import write_csv
from pipeline.generation.generator import load_generator
from pipeline.generation.heldout import load_reference, pick_utterances
from pipeline.generation.tradeoff import sweep
from pipeline.judges import load_judges
from pipeline.stage import read_speech, stage_params, stage_paths
from pipeline.tracking import stage_run


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "speech", "clips", "content-model", "style-model", "targets", "judges", "table",
                        argv=argv)
    params = stage_params()
    config, tradeoff = params.generate, params.tradeoff
    if config.threads:
        torch.set_num_threads(config.threads)
    speech = read_speech(paths.speech)
    logged = {"tradeoff": to_dict(tradeoff), "method": to_dict(config.method), "flow": to_dict(config.flow)}
    with stage_run("tradeoff", logged, params.tracking.experiment, [paths.table]) as run:
        generator = load_generator(paths.content_model, paths.style_model, paths.targets, config,
                                   pick_device(config.device, "generate.device"))
        utterances = pick_utterances(speech, tradeoff.utterances, params.seed)
        reference = load_reference(read_clips(paths.clips), params.style.anchor_genre, generator)
        table = sweep(utterances, generator, load_judges(paths.judges), reference, config.method, tradeoff,
                      params.seed, progress=True).round(6)
        write_csv(paths.table, table)
        for i, row in table.iterrows():
            run.log_metrics({f"{row.flow}.{k}": row[k] for k in ("content_cer", "hiphop_probability", "style_distance",
                                                                 "beat_alignment") if pd.notna(row[k])}, step=i)
        run.log_artifact(paths.table)
    print(f"tradeoff: {len(table)} points on {len(utterances)} utterances -> {paths.table}")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
