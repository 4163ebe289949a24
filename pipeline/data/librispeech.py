"""LibriSpeech (OpenSLR 12): download, prepare, and the speech manifest with its statistics.

Layout: `<root>/LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`, one
`<speaker>-<chapter>.trans.txt` per chapter (`<utt-id> <TRANSCRIPT>`, split on the first space),
and `LibriSpeech/SPEAKERS.TXT` (`;` comments, then `ID | SEX | SUBSET | MINUTES | NAME`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from pipeline.config import SplitsConfig
from pipeline.errors import UserError
from pipeline.fileio import project_path

MANIFEST_COLUMNS = ["utt_id", "path", "transcript", "speaker", "split", "seconds"]

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


def speech_manifest(utterances: pd.DataFrame, splits: SplitsConfig, project_root: str | Path | None = None) -> pd.DataFrame:
    """`utterances` from `prepare_librispeech` -> the speech manifest DataFrame(utt_id, path,
    transcript, speaker, split, seconds): each subset's split from `splits`, paths relative to
    `project_root` (default: the current folder) when inside it, absolute otherwise (a `local`
    corpus), seconds to 0.1 ms."""
    frame = utterances.assign(
        split=utterances["subset"].map(splits.split_of()),
        path=[project_path(p, project_root) for p in utterances["path"]],
        seconds=np.round(utterances["seconds"].astype(float), 4),
    )
    return frame[MANIFEST_COLUMNS].reset_index(drop=True)


def speech_stats(utterances: pd.DataFrame) -> dict:
    """Utterances, hours and speakers per subset of `prepare_librispeech`'s table (the speech
    metrics)."""
    by_subset = utterances.groupby("subset")
    return {"utterances": {k: int(v) for k, v in by_subset.size().items()},
            "hours": {k: round(float(v) / 3600, 4) for k, v in by_subset["seconds"].sum().items()},
            "speakers": {k: int(v) for k, v in by_subset["speaker"].nunique().items()}}


# Official archives: https://www.openslr.org/resources/12/md5sum.txt (sizes in bytes).
LIBRISPEECH_MD5 = {
    "dev-clean": "42e2234ba48799c1f50f24a7926300a1",
    "dev-other": "c8d0bcc9cca99d4f8b62fcc847357931",
    "test-clean": "32fa31d27d2e1cad72775fee3f4849a9",
    "test-other": "fb5a50374b501bb3bac4815ee91d3135",
    "train-clean-100": "2a93770f6d5c6c964bc36631d331a522",
    "train-clean-360": "c0e676e450a7ff2f54aeade5171606fa",
    "train-other-500": "d1a0fd59409feb2c614ce4d30c387708",
}
LIBRISPEECH_BYTES = {
    "dev-clean": 337_926_286,
    "dev-other": 314_305_928,
    "test-clean": 346_663_984,
    "test-other": 328_757_843,
    "train-clean-100": 6_387_309_499,
    "train-clean-360": 23_049_477_885,
    "train-other-500": 30_593_501_606,
}
COMPLETE_MARKER = ".complete"


def check_subsets(subsets: list[str]) -> list[str]:
    """The requested subsets, deduplicated in order; ValueError on an unknown name."""
    if not subsets:
        raise ValueError(f"no LibriSpeech subset given: choose among {', '.join(SUBSETS)}")
    unknown = [s for s in subsets if s not in SUBSETS]
    if unknown:
        raise ValueError(f"unknown LibriSpeech subset {', '.join(map(repr, unknown))}: "
                        f"valid ones are {', '.join(SUBSETS)}")
    return list(dict.fromkeys(subsets))


def download_librispeech(root: str | Path, subsets: list[str], base_url: str,
                         md5: str | dict[str, str] | None = None, keep_archives: bool = True) -> Path:
    """Fetch `<base_url>/<subset>.tar.gz` for each subset into `<root>/archives/`, verify its md5
    (the official one, or `md5`: one hex string for a single subset, or {subset: md5}), extract it
    safely into `<root>` (-> `<root>/LibriSpeech/<subset>/...`) and mark the subset complete.
    Complete subsets are skipped without any request. Returns `root`."""
    from pipeline.data.download import check_md5, fetch, forget, safe_extract_tar

    root = Path(root)
    subsets = check_subsets(subsets)
    if isinstance(md5, str) and len(subsets) > 1:
        raise ValueError("one --md5 given for several LibriSpeech subsets: give one subset at a time")
    for subset in subsets:
        folder = root / "LibriSpeech" / subset
        marker = folder / COMPLETE_MARKER
        if marker.is_file():
            continue
        expected = md5 if isinstance(md5, str) else (md5 or {}).get(subset, LIBRISPEECH_MD5[subset])
        expected = check_md5(expected)
        size = LIBRISPEECH_BYTES[subset] if expected == LIBRISPEECH_MD5[subset] else None
        print(f"LibriSpeech {subset}: downloading" + (f" {size / 1e9:.2f} GB" if size else ""), flush=True)
        archive = fetch(f"{base_url.rstrip('/')}/{subset}.tar.gz", root / "archives" / f"{subset}.tar.gz", md5=expected)
        print(f"LibriSpeech {subset}: extracting", flush=True)
        safe_extract_tar(archive, root)
        if not folder.is_dir():
            raise UserError(f"{archive.name} holds no LibriSpeech/{subset}/ folder: wrong archive?")
        marker.write_text(f"{expected}  {subset}.tar.gz\n")  # written last: the subset is whole
        if not keep_archives:
            forget(archive)
    return root
