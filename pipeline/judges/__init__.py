"""The judges of generation: independent scorers trained by `train_judges`, never used in any loss.

    judges = load_judges()                                   # models/judges/{asr.pt, hiphop.json}
    judges.transcribe(waveform)                              # float32 mono at 16 kHz -> "UPPER CASE TEXT"
    judges.hiphop_probability([w1, w2], sample_rate=16000)   # -> (2,) p(hip-hop)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import UserError
from pipeline.judges.asr import AsrJudge, load_asr_judge
from pipeline.judges.hiphop import HiphopJudge, load_hiphop_judge

ASR_FILE, HIPHOP_FILE = "asr.pt", "hiphop.json"


@dataclass
class Judges:
    asr: AsrJudge
    hiphop: HiphopJudge

    def transcribe(self, waveform: np.ndarray) -> str:
        """Mono float samples at the ASR judge's rate (16 kHz by default) -> upper-case transcript."""
        return self.asr.transcribe(waveform)

    def hiphop_probability(self, waveforms: list[np.ndarray], sample_rate: int) -> np.ndarray:
        """Mono clips (any length, resampled as needed) -> (N,) p(hip-hop) in [0, 1]."""
        return self.hiphop.probability(waveforms, sample_rate)


def load_judges(folder: str | Path = "models/judges", device: str = "cpu") -> Judges:
    """Both judges from `folder`. Missing files: UserError saying to run `make repro` first."""
    folder = Path(folder)
    missing = [name for name in (ASR_FILE, HIPHOP_FILE) if not (folder / name).is_file()]
    if missing:
        raise UserError(f"no judges in {folder} (missing {', '.join(missing)}): run `make repro` first "
                        "(or `dvc repro train_judges`)")
    return Judges(load_asr_judge(folder / ASR_FILE, device), load_hiphop_judge(folder / HIPHOP_FILE))
