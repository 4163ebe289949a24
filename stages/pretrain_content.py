"""DVC stage pretrain_content: the speech manifest (and the music clips, laid under the speech
in training and in the test) -> the CTC-pretrained content encoder, its metrics and per-epoch
curves."""
import pandas as pd

from pipeline.data.segments import read_clips
from pipeline.distributed import is_main_process, main_process_run, relaunch_under_torchrun
from pipeline.errors import exit_on_user_error
from pipeline.fileio import write_csv, write_json
from pipeline.models.content_encoder import save_content_encoder
from pipeline.stage import read_speech, stage_params, stage_paths
from pipeline.training.content import pretrain_content


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "speech", "music", "model", "metrics", "curves", argv=argv)
    params = stage_params()
    speech = read_speech(paths.speech)
    music = read_clips(paths.music)
    relaunched = relaunch_under_torchrun(params.distributed, "stages.pretrain_content", argv)
    if relaunched is not None:  # params asked for several processes: torchrun ran them
        return relaunched
    with main_process_run("pretrain_content", params.content, params.tracking.experiment,
                          [paths.metrics, paths.curves]) as run:
        model, metrics, curves, seconds = pretrain_content(
            speech, params.audio, params.content, params.seed,
            on_epoch=lambda row: run.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"]),
            music_clips=music, distributed=params.distributed)
        if not is_main_process():  # rank 0 alone writes (same model and metrics on every rank)
            return 0
        save_content_encoder(model, paths.model)
        write_json(paths.metrics, metrics)
        write_csv(paths.curves, pd.DataFrame(curves))
        run.log_metrics({**{k: v for k, v in metrics.items() if k.startswith(("dev_", "test_"))}, "train_seconds": seconds})
        run.log_artifact(paths.metrics)
        run.log_artifact(paths.curves)
    print(f"pretrain_content: test CER {metrics['test_cer']:.3f} (unseen sentences), unseen-speaker CER "
          f"{metrics['test_unseen_speaker_cer']}, whole test split {metrics['test_all_cer']:.3f}; "
          f"with music at 10 dB {metrics.get('test_all_music_10db_cer')}; {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
