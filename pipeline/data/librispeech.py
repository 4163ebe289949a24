"""LibriSpeech (OpenSLR 12): download and prepare.

Layout: `<root>/LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`, one
`<speaker>-<chapter>.trans.txt` per chapter (`<utt-id> <TRANSCRIPT>`, split on the first space),
and `LibriSpeech/SPEAKERS.TXT` (`;` comments, then `ID | SEX | SUBSET | MINUTES | NAME`).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import soundfile as sf

from pipeline.errors import UserError

SUBSETS = (
    "dev-clean", "dev-other", "test-clean", "test-other",
    "train-clean-100", "train-clean-360", "train-other-500",
)


def corpus_dir(root: str | Path) -> Path:
    """Accept either the folder that holds `LibriSpeech/` or `LibriSpeech/` itself."""
    root = Path(root)
    if (root / "LibriSpeech").is_dir():
        return root / "LibriSpeech"
    if root.name == "LibriSpeech" and root.is_dir():
        return root
    raise UserError(f"{root} does not hold a LibriSpeech/ folder")


def read_speakers(root: str | Path) -> pd.DataFrame:
    """SPEAKERS.TXT -> DataFrame(speaker, sex, subset, minutes, name)."""
    path = corpus_dir(root) / "SPEAKERS.TXT"
    if not path.is_file():
        raise UserError(f"{path} is missing")
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        # NAME may itself contain '|' (it does once in the real file): split at most 4 times.
        fields = [f.strip() for f in line.split("|", 4)]
        if len(fields) != 5:
            raise UserError(f"{path}: malformed line {line!r}")
        rows.append({"speaker": fields[0], "sex": fields[1], "subset": fields[2],
                     "minutes": float(fields[3]), "name": fields[4]})
    return pd.DataFrame(rows, columns=["speaker", "sex", "subset", "minutes", "name"])


def prepare_librispeech(root: str | Path, subsets: list[str]) -> pd.DataFrame:
    """Index the utterances of `subsets`.

    Returns DataFrame(utt_id, path, transcript, speaker, chapter, subset, seconds), sorted by
    subset then utt_id; `path` is absolute.
    """
    base = corpus_dir(root)
    rows = []
    for subset in subsets:
        folder = base / subset
        if not folder.is_dir():
            raise UserError(f"LibriSpeech subset {subset!r} not found under {base}")
        for trans in sorted(folder.glob("*/*/*.trans.txt")):
            for line in trans.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                utt_id, _, transcript = line.strip().partition(" ")
                audio = trans.parent / f"{utt_id}.flac"
                if not audio.is_file():
                    raise UserError(f"{trans}: {audio.name} listed but missing")
                speaker, chapter, _ = utt_id.split("-")
                rows.append({"utt_id": utt_id, "path": str(audio.resolve()), "transcript": transcript,
                             "speaker": speaker, "chapter": chapter, "subset": subset,
                             "seconds": sf.info(str(audio)).duration})
        if not any(r["subset"] == subset for r in rows):
            raise UserError(f"LibriSpeech subset {subset!r} under {base} has no transcripts")
    return pd.DataFrame(rows, columns=["utt_id", "path", "transcript", "speaker", "chapter", "subset", "seconds"])
