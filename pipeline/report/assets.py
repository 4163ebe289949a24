"""Copies of everything the page plays or shows, inside the report folder (reports/assets/...),
so the folder alone opens from disk, travels as one DVC output and one MLflow artifact."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from pipeline.audio import load_audio, save_audio


def safe_name(text: str) -> str:
    """A file name from data (an utterance id): letters, digits, '.', '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".") or "_"


class Assets:
    """Writes files under `<report>/assets/` and returns each one's link relative to the page."""

    def __init__(self, report: Path):
        self.report = report

    def _target(self, kind: str, name: str) -> Path:
        target = self.report / "assets" / kind / safe_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def link(self, target: Path) -> str:
        return target.relative_to(self.report).as_posix()

    def copy(self, source: Path, kind: str, name: str) -> str:
        target = self._target(kind, name)
        shutil.copyfile(source, target)
        return self.link(target)

    def as_wav(self, source: Path, name: str, sample_rate: int) -> str:
        """Any audio libsndfile reads (the corpus's FLAC) as a 16-bit WAV, which every browser
        plays; WAVs are copied as they are."""
        if source.suffix.lower() == ".wav":
            return self.copy(source, "audio", name)
        target = self._target("audio", name)
        save_audio(target, load_audio(source, sample_rate), sample_rate, subtype="PCM_16")
        return self.link(target)

    def figure(self, name: str) -> Path:
        """Where a figure drawn for the report goes (write it there, then `link` it)."""
        return self._target("figures", name)
