"""cut_clips: exact segment lengths and starts, manifest, and the stage (music only)."""
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pipeline.data.clips import cut_clips, segment_starts
from test_download import project  # noqa: F401  (a fixture)


def test_segment_starts_are_whole_segments_only():
    assert segment_starts(291, 100, 50) == [0, 50, 100, 150]
    assert segment_starts(291, 100, 100) == [0, 100]
    assert segment_starts(99, 100, 50) == []
    with pytest.raises(ValueError):
        segment_starts(100, 100, 0)


@pytest.mark.parametrize("workers", [1, 2])
def test_cut_clips_writes_exact_lengths(tmp_path, workers):
    rate = 8000
    rows = []
    for i, seconds in enumerate([29.1, 12.0, 4.0]):
        path = tmp_path / f"src{i}.wav"
        # 44.1 kHz stereo source: resampled and mixed down on the way
        t = np.arange(int(seconds * 44100)) / 44100
        sf.write(path, np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1) * 0.5, 44100)
        rows.append({"clip_id": str(i), "path": str(path), "genre": "rock", "track": f"t{i}", "split": "train"})
    manifest = cut_clips(pd.DataFrame(rows), tmp_path / "clips", rate, seconds=10, hop_seconds=5, workers=workers)
    assert list(manifest.columns) == ["clip_path", "clip_id", "genre", "track", "split", "start_s"]
    # 29.1 s -> starts 0, 5, 10, 15; 12 s -> 0; 4 s -> none
    assert manifest.groupby("clip_id")["start_s"].apply(list).to_dict() == {"0": [0.0, 5.0, 10.0, 15.0], "1": [0.0]}
    for path in manifest["clip_path"]:
        info = sf.info(path)
        assert (info.frames, info.samplerate, info.channels) == (10 * rate, rate, 1)


def test_cut_clips_lists_final_folder(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros(16000 * 11, dtype=np.float32), 16000)
    subset = pd.DataFrame([{"clip_id": "7", "path": str(path), "genre": "jazz", "track": "t", "split": "test"}])
    manifest = cut_clips(subset, tmp_path / "tmpdir", 16000, 10, 10, listed_as="data/clips", workers=1)
    assert manifest["clip_path"].tolist() == ["data/clips/jazz/7-0000000.flac"]
    assert (tmp_path / "tmpdir" / "jazz" / "7-0000000.flac").is_file()


def test_stage_cuts_the_subset_without_any_speech(project, tmp_path):
    """cut_clips reads only --subset and its audio: no LibriSpeech, no data/raw at all."""
    from stages.cut_clips import main as stage

    project({"clips": {"seconds": 1, "hop_seconds": 0.5}})
    rows = []
    for i, (genre, seconds) in enumerate([("rock", 2.2), ("jazz", 1.2)]):
        path = tmp_path / f"music{i}.wav"  # outside the project, as a `local` corpus
        sf.write(path, np.zeros(int(seconds * 16000), dtype=np.float32), 16000)
        rows.append({"clip_id": f"{i}", "path": str(path), "genre": genre, "track": f"t{i}", "split": "train"})
    pd.DataFrame(rows).to_csv("subset.csv", index=False)
    assert stage(["--subset", "subset.csv", "--clips", "out/clips", "--manifest", "out/clips.csv"]) == 0
    manifest = pd.read_csv("out/clips.csv", dtype={"clip_id": str})
    assert manifest["clip_path"].tolist() == ["out/clips/rock/0-0000000.flac", "out/clips/rock/0-0000500.flac",
                                              "out/clips/rock/0-0001000.flac", "out/clips/jazz/1-0000000.flac"]
    assert all(sf.info(p).frames == 16000 for p in manifest["clip_path"])
    assert sorted(p.name for p in tmp_path.joinpath("project").iterdir()) == ["out", "params.yaml", "subset.csv"]
