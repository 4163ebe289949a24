"""`python -m pipeline generate` and `transcribe` on a user's files, with the tiny models: every
bad input is one `error:` line, exit status 2 and no output file; any rate and channel count
is accepted; the same seed writes the same bytes."""
import shutil

import numpy as np
import pytest
import soundfile as sf
import yaml

from pipeline.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RATE = 16000


def tone(seconds: float, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.2 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


@pytest.fixture()
def project(tmp_path, monkeypatch, tiny_models_dir):
    """A project folder: params.yaml with a short method for the tiny style encoder, models/, a speech clip."""
    params = yaml.safe_load(open("params.yaml"))
    params["generate"]["method"].update(steps=3, style_blocks=[1, 2])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copytree(tiny_models_dir, tmp_path / "models")
    sf.write(tmp_path / "speech.wav", tone(1.2), RATE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def bad_files(folder):
    """name -> (path, expected message fragment) for every kind of bad input."""
    (folder / "notes.wav").write_text("not audio at all")
    sf.write(folder / "empty.wav", np.zeros(0), RATE)
    sf.write(folder / "silent.wav", np.zeros(RATE), RATE)
    sf.write(folder / "short.wav", tone(0.3), RATE)
    nan = tone(1.0).astype(np.float32)
    nan[100] = np.nan
    sf.write(folder / "nan.wav", nan, RATE, subtype="FLOAT")
    inf = tone(1.0).astype(np.float32)
    inf[100] = np.inf
    sf.write(folder / "inf.wav", inf, RATE, subtype="FLOAT")
    return {"missing": (folder / "absent.wav", "no such audio file"), "non-audio": (folder / "notes.wav", "cannot read audio"),
            "empty": (folder / "empty.wav", "is empty"), "silent": (folder / "silent.wav", "is silent"),
            "short": (folder / "short.wav", "need at least 0.5 s"), "nan": (folder / "nan.wav", "NaN or infinite"),
            "inf": (folder / "inf.wav", "NaN or infinite")}


def one_error_line(capsys, fragment: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and fragment in err[0], err


@pytest.mark.parametrize("case", ["missing", "non-audio", "empty", "silent", "short", "nan", "inf"])
def test_generate_refuses_bad_speech(project, capsys, case):
    path, fragment = bad_files(project)[case]
    assert main(["generate", str(path), "-o", "out.wav"]) == 2
    one_error_line(capsys, fragment)
    assert not (project / "out.wav").exists()


@pytest.mark.parametrize("option", ["--beat", "--style"])
def test_generate_refuses_a_bad_beat_or_style_clip(project, capsys, option):
    path, fragment = bad_files(project)["silent"]
    assert main(["generate", "speech.wav", "-o", "out.wav", option, str(path)]) == 2
    one_error_line(capsys, fragment)
    assert not (project / "out.wav").exists()


def test_generate_without_models_says_run_make_repro(project, capsys):
    (project / "models" / "style_targets.pt").unlink()
    assert main(["generate", "speech.wav", "-o", "out.wav"]) == 2
    one_error_line(capsys, "run `make repro` first")
    assert not (project / "out.wav").exists()


@pytest.mark.parametrize("output, fragment", [("a_file.txt/out.wav", "is not a writable folder"),
                                              ("out.ogg", "use a .wav"), ("a_folder.wav", "it is a folder")])
def test_generate_refuses_an_output_it_cannot_write(project, capsys, output, fragment):
    (project / "a_file.txt").write_text("x")
    (project / "a_folder.wav").mkdir()
    assert main(["generate", "speech.wav", "-o", output]) == 2
    one_error_line(capsys, fragment)
    assert sorted(p.name for p in project.iterdir()) == ["a_file.txt", "a_folder.wav", "models", "params.yaml", "speech.wav"]


def test_generate_takes_44k_stereo_and_keeps_its_duration(project, capsys):
    sf.write(project / "stereo.flac", tone(1.5, 44100, channels=2), 44100)
    assert main(["generate", "stereo.flac", "-o", "out.wav", "--steps", "2", "--style-weight", "0.5"]) == 0
    samples, rate = sf.read(project / "out.wav")
    assert rate == RATE and samples.ndim == 1 and len(samples) == int(1.5 * RATE)
    assert "wrote out.wav" in capsys.readouterr().err


def test_generate_same_seed_same_bytes_and_own_beat_and_style(project):
    sf.write(project / "beat.wav", tone(2.0) * 0.5, RATE)
    runs = [["--seed", "3"], ["--seed", "3"], ["--seed", "3", "--beat", "beat.wav", "--style", "beat.wav"]]
    written = []
    for i, extra in enumerate(runs):
        assert main(["generate", "speech.wav", "-o", f"out{i}.wav", *extra]) == 0
        written.append((project / f"out{i}.wav").read_bytes())
    assert written[0] == written[1] and written[2] != written[0]


def test_generate_flow_beat_follows_the_beat_and_may_change_its_length(project, capsys):
    from conftest import click_track

    sf.write(project / "beat.wav", click_track(6.0, bpm=92.0), RATE)
    assert main(["generate", "speech.wav", "-o", "timed.wav", "--beat", "beat.wav", "--flow", "beat"]) == 0
    samples, rate = sf.read(project / "timed.wav")
    # re-timed: longer or shorter than the 1.2 s of speech, within the stretch limit (1.5) and a lead-in
    assert rate == RATE and int(1.2 * RATE / 1.5) <= len(samples) <= int(1.2 * RATE * 1.5) + RATE // 2
    assert len(samples) != int(1.2 * RATE)
    assert "s from 1.20 s of speech" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:  # argparse: usage, then `error: argument --flow: invalid choice`
        main(["generate", "speech.wav", "-o", "bad.wav", "--flow", "swing"])
    assert stopped.value.code == 2 and "invalid choice: 'swing'" in capsys.readouterr().err
    assert not (project / "bad.wav").exists()


@pytest.mark.parametrize("case", ["missing", "non-audio", "empty", "silent", "short", "nan", "inf"])
def test_transcribe_refuses_bad_audio_with_exit_2(project, capsys, case):
    path, fragment = bad_files(project)[case]
    assert main(["transcribe", str(path)]) == 2
    one_error_line(capsys, fragment)


def test_transcribe_without_a_model_says_run_make_repro(project, capsys):
    assert main(["transcribe", "speech.wav", "--model", "models/absent.pt"]) == 2
    one_error_line(capsys, "run `make repro` first")
