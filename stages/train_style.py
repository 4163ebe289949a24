"""DVC stage train_style: data/clips.csv + data/clips/ -> models/style_encoder.pt and the curves
metrics/style_curves.csv (epoch, train_loss, valid_triplet_accuracy, valid_loss, q)."""
from pathlib import Path

from pipeline.audio import FrontEnd
from pipeline.errors import UserError, exit_on_user_error
from pipeline.fileio import write_csv
from pipeline.models.style_encoder import save_style_encoder
from pipeline.params import load_params, section
from pipeline.tracking import stage_run
from pipeline.training.style import load_segments, read_clips, train_style_encoder


@exit_on_user_error
def main() -> int:
    params = load_params()
    style, front_end = section(params, "style"), FrontEnd.from_params(section(params, "audio"))
    with stage_run("train_style", style, params["tracking"]["experiment"]) as run:
        clips = read_clips("data/clips.csv")
        if not (clips["split"] == "train").any():
            raise UserError("data/clips.csv has no train segments")
        train = load_segments(clips[clips["split"] == "train"], front_end)
        valid_clips = clips[clips["split"] == "valid"]
        if valid_clips.empty:
            print("train_style: no valid split (tiny corpus?): keeping the last epoch")
        valid = load_segments(valid_clips, front_end) if not valid_clips.empty else None
        model, curves, best_epoch = train_style_encoder(train, valid, style, front_end, params["seed"],
                                            on_epoch=lambda row: run.log_metrics(row, step=row["epoch"]))
        save_style_encoder(model, "models/style_encoder.pt")
        write_csv("metrics/style_curves.csv", curves)
        best = curves.set_index("epoch").loc[best_epoch]
        run.log_metrics({"best_epoch": best_epoch, "best_valid_triplet_accuracy": float(best["valid_triplet_accuracy"]),
                         "train_segments": len(train), "valid_segments": len(valid_clips)})
        run.log_artifact(Path("metrics/style_curves.csv"))
    print(f"train_style: {len(curves)} epochs, best epoch {best_epoch} "
          f"(valid triplet accuracy {best['valid_triplet_accuracy']:.3f}), q = {model.q:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
