"""DVC stage train_judges: the speech manifest and the music segments -> the two independent
judges of generation (an ASR judge and a hip-hop judge, never used in any loss) under
`models/judges/`, their test metrics and the ASR judge's per-epoch curves."""
import pandas as pd

from pipeline.data.segments import read_clips
from pipeline.distributed import is_main_process, main_process_run, relaunch_under_torchrun
from pipeline.errors import exit_on_user_error
from pipeline.fileio import atomic_path, write_csv, write_json
from pipeline.judges import ASR_FILE, HIPHOP_FILE
from pipeline.judges.asr import save_asr_judge
from pipeline.judges.hiphop import save_hiphop_judge
from pipeline.stage import read_speech, stage_params, stage_paths
from pipeline.training.judges import train_judges


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    paths = stage_paths(__doc__, "speech", "clips", "judges", "metrics", "curves", argv=argv)
    params = stage_params()
    speech = read_speech(paths.speech)
    clips = read_clips(paths.clips)
    relaunched = relaunch_under_torchrun(params.distributed, "stages.train_judges", argv)
    if relaunched is not None:  # params asked for several processes: torchrun ran them
        return relaunched
    with main_process_run("train_judges", params.judges, params.tracking.experiment,
                          [paths.metrics, paths.curves]) as run:
        asr, hiphop, metrics, curves, seconds = train_judges(
            speech, clips, params.audio, params.content, params.judges, params.subset.anchor_genre, params.seed,
            on_epoch=lambda row: run.log_metrics({f"asr_{k}": v for k, v in row.items() if k != "epoch"},
                                                 step=row["epoch"]),
            distributed=params.distributed)
        if not is_main_process():  # rank 0 alone writes
            return 0
        with atomic_path(paths.judges) as folder:
            folder.mkdir()
            save_asr_judge(asr, folder / ASR_FILE)
            save_hiphop_judge(hiphop, folder / HIPHOP_FILE)
        write_json(paths.metrics, metrics)
        write_csv(paths.curves, pd.DataFrame(curves))
        run.log_metrics({**metrics, "seconds": seconds})  # wall times: MLflow and the line below, not the file
        run.log_artifact(paths.metrics)
        run.log_artifact(paths.curves)
    asr_m, hip = metrics["asr"], metrics["hiphop"]
    print(f"train_judges: ASR judge test CER {asr_m['test_cer']:.3f} (unseen speaker {asr_m['test_unseen_speaker_cer']}, "
          f"music at 10 dB {asr_m.get('test_all_music_10db_cer')}); "
          f"hip-hop judge ROC-AUC {hip['roc_auc']:.3f} (music only {hip['roc_auc_music']:.3f}), ceiling "
          f"{hip['ceiling']:.3f}, speech floor {hip['floor']:.3f}; {seconds['asr_train']:.0f} s + {seconds['hiphop_fit_and_score']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
