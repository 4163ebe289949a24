"""DVC stage pretrain_content: data/speech.csv -> models/content_encoder.pt (the CTC-pretrained
content encoder), metrics/content.json and the per-epoch curves metrics/content_curves.csv."""
import pandas as pd
import torch

from pipeline.audio import FrontEnd
from pipeline.errors import UserError, exit_on_user_error
from pipeline.fileio import write_csv, write_json
from pipeline.models.content_encoder import save_content_encoder
from pipeline.params import load_params
from pipeline.seeding import seed_everything
from pipeline.tracking import stage_run
from pipeline.training.content import pretrain_content

SPEECH, MODEL = "data/speech.csv", "models/content_encoder.pt"
METRICS, CURVES = "metrics/content.json", "metrics/content_curves.csv"


@exit_on_user_error
def main() -> int:
    params = load_params()
    cfg = params["content"]
    seed_everything(params["seed"])
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg["threads"]))
    front_end = FrontEnd.from_params(params["audio"])
    try:
        speech = pd.read_csv(SPEECH, dtype={"utt_id": str, "speaker": str, "transcript": str})
    except FileNotFoundError:
        raise UserError(f"{SPEECH} is missing: run `dvc repro cut_clips` first") from None
    with stage_run("pretrain_content", cfg, params["tracking"]["experiment"]) as run:
        model, metrics, curves = pretrain_content(
            speech, front_end, cfg, params["seed"],
            on_epoch=lambda row: run.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"]))
        save_content_encoder(model, MODEL)
        write_json(METRICS, metrics)
        write_csv(CURVES, pd.DataFrame(curves))
        run.log_metrics({k: v for k, v in metrics.items() if k.startswith(("dev_", "test_")) or k == "train_seconds"})
        run.log_artifact(METRICS)
        run.log_artifact(CURVES)
    print(f"pretrain_content: test CER {metrics['test_cer']:.3f} (unseen sentences), unseen-speaker CER "
          f"{metrics['test_unseen_speaker_cer']}, whole test split {metrics['test_all_cer']:.3f}; "
          f"{metrics['train_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
