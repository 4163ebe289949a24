"""DVC stage train_style: the clip manifest and its segments -> the triplet-trained style encoder
and its per-epoch curves (epoch, train_loss, valid accuracies, valid_loss, q)."""
import pandas as pd

from pipeline.data.segments import read_clips, split_segments
from pipeline.distributed import is_main_process, main_process_run, relaunch_under_torchrun
from pipeline.errors import UserError, exit_on_user_error
from pipeline.fileio import write_csv
from pipeline.models.style_encoder import save_style_encoder
from pipeline.stage import stage_params, stage_paths
from pipeline.training.style import train_style_encoder


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "clips", "model", "curves", argv=argv)
    params = stage_params()
    clips = read_clips(paths.clips)
    relaunched = relaunch_under_torchrun(params.distributed, "stages.train_style", argv)
    if relaunched is not None:  # params asked for several processes: torchrun ran them
        return relaunched
    style, front_end = params.style, params.audio
    with main_process_run("train_style", style, params.tracking.experiment, [paths.curves]) as run:
        train, valid = (split_segments(clips, split, front_end) for split in ("train", "valid"))
        if train is None:
            raise UserError(f"{paths.clips} has no train segments")
        if valid is None:
            print("train_style: no valid split (tiny corpus?): keeping the last epoch")
        model, curves, best_epoch = train_style_encoder(train, valid, style, front_end, params.seed,
                                                        on_epoch=lambda row: run.log_metrics(row, step=row["epoch"]),
                                                        distributed=params.distributed)
        if not is_main_process():  # rank 0 alone writes
            return 0
        save_style_encoder(model, paths.model)
        write_csv(paths.curves, pd.DataFrame(curves))
        best = curves[best_epoch - 1]
        run.log_metrics({"best_epoch": best_epoch, "best_valid_triplet_accuracy": best["valid_triplet_accuracy"],
                         "train_segments": len(train), "valid_segments": len(valid) if valid else 0})
        run.log_artifact(paths.curves)
    print(f"train_style: {len(curves)} epochs, best epoch {best_epoch} "
          f"(valid triplet accuracy {best['valid_triplet_accuracy']:.3f}), q = {model.q:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
