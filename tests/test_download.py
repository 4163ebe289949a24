"""Dataset downloads against a local HTTP server: resume, retries, md5, safe extraction, the real
LibriSpeech / MagnaTagATune layouts, the `python -m pipeline download` CLI and the two stages."""
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from pipeline.config import deep_merge
from pipeline.data import librispeech, mtat
from pipeline.data.download import claim_for_download, concatenate, fetch, md5_of, safe_extract_tar, safe_extract_zip
from pipeline.data.librispeech import download_librispeech, prepare_librispeech
from pipeline.data.mtat import download_mtat, prepare_mtat
from pipeline.data.sources import dataset_root, write_source
from pipeline.errors import UserError

REPO = Path(__file__).resolve().parents[1]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- a small HTTP server: Range requests, one cut transfer, forced error statuses, a stall ----

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        if srv.errors.get(self.path):
            self.send_error(srv.errors[self.path].pop(0))
            return
        if self.path in srv.stall:
            srv.release.wait(10)
            return
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start, wanted = 0, self.headers.get("Range")
        if wanted and not srv.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", wanted).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.path in srv.cut_once:  # announce everything, send half, hang up
            srv.cut_once.discard(self.path)
            payload = payload[: len(payload) // 2]
        self.wfile.write(payload)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files, self.requests, self.errors = {}, [], {}
        self.cut_once, self.stall, self.ignore_range = set(), set(), False
        self.release = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def requests_for(self, path):
        return [r for p, r in self.requests if p == path]


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


# --- fetch -------------------------------------------------------------------------------------

DATA = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()


def test_fetch_resumes_a_cut_transfer_with_a_range_request(server, tmp_path):
    server.files["/big.bin"] = DATA
    server.cut_once.add("/big.bin")
    dest = fetch(f"{server.url}/big.bin", tmp_path / "big.bin", md5=md5(DATA), backoff=0)
    assert server.requests_for("/big.bin") == [None, f"bytes={len(DATA) // 2}-"]
    assert dest.read_bytes() == DATA and md5_of(dest) == md5(DATA)
    assert not (tmp_path / "big.bin.part").exists()


def test_fetch_restarts_when_the_server_ignores_range(server, tmp_path):
    server.files["/big.bin"] = DATA
    server.cut_once.add("/big.bin")
    server.ignore_range = True  # answers 200 with the whole body to a Range request
    dest = fetch(f"{server.url}/big.bin", tmp_path / "big.bin", md5=md5(DATA), backoff=0)
    assert server.requests_for("/big.bin")[1] is not None
    assert dest.read_bytes() == DATA


def test_fetch_accepts_a_part_that_is_already_whole(server, tmp_path):
    server.files["/big.bin"] = DATA
    (tmp_path / "big.bin.part").write_bytes(DATA)
    fetch(f"{server.url}/big.bin", tmp_path / "big.bin", md5=md5(DATA), backoff=0)  # server: 416
    assert server.requests_for("/big.bin") == [f"bytes={len(DATA)}-"]
    assert (tmp_path / "big.bin").read_bytes() == DATA


def test_fetch_md5_mismatch_leaves_nothing(server, tmp_path):
    server.files["/big.bin"] = DATA
    with pytest.raises(UserError, match=f"md5 mismatch for big.bin: expected {'0' * 32}, got {md5(DATA)}"):
        fetch(f"{server.url}/big.bin", tmp_path / "big.bin", md5="0" * 32, backoff=0)
    assert list(tmp_path.iterdir()) == []


def test_fetch_http_404_is_a_user_error(server, tmp_path):
    with pytest.raises(UserError, match=r"HTTP 404 .*/missing\.bin"):
        fetch(f"{server.url}/missing.bin", tmp_path / "missing.bin", backoff=0)
    assert len(server.requests) == 1 and list(tmp_path.iterdir()) == []


def test_fetch_retries_server_errors_then_gives_up(server, tmp_path):
    server.files["/big.bin"] = DATA
    server.errors["/big.bin"] = [500, 503]
    assert fetch(f"{server.url}/big.bin", tmp_path / "a.bin", md5=md5(DATA), backoff=0).read_bytes() == DATA
    server.errors["/big.bin"] = [500] * 5
    with pytest.raises(UserError, match="failed 3 times in a row: HTTP 500"):
        fetch(f"{server.url}/big.bin", tmp_path / "b.bin", retries=2, backoff=0)


def test_fetch_never_hangs_on_a_silent_server(server, tmp_path):
    server.stall.add("/slow.bin")
    started = time.monotonic()
    with pytest.raises(UserError, match="failed 2 times"):
        fetch(f"{server.url}/slow.bin", tmp_path / "slow.bin", retries=1, backoff=0, timeout=0.3)
    assert time.monotonic() - started < 5


def test_fetch_skips_a_present_verified_file(server, tmp_path):
    server.files["/big.bin"] = DATA
    dest = tmp_path / "big.bin"
    fetch(f"{server.url}/big.bin", dest, md5=md5(DATA))
    assert (tmp_path / "big.bin.md5").read_text().startswith(md5(DATA))  # cached verification
    fetch(f"{server.url}/big.bin", dest, md5=md5(DATA))
    (tmp_path / "big.bin.md5").unlink()  # without the cache: rehash, still no transfer
    fetch(f"{server.url}/big.bin", dest, md5=md5(DATA))
    assert len(server.requests) == 1
    with pytest.raises(UserError, match="exists but its md5"):  # a different file is never deleted
        fetch(f"{server.url}/big.bin", dest, md5="f" * 32)
    assert dest.read_bytes() == DATA and len(server.requests) == 1
    fetch(f"{server.url}/big.bin", dest, md5=md5(DATA))  # sidecar back
    dest.write_bytes(bytes(len(DATA)))  # same size, changed after the sidecar: not trusted
    os.utime(dest, ns=(time.time_ns() + 10**9,) * 2)
    with pytest.raises(UserError, match="exists but its md5"):
        fetch(f"{server.url}/big.bin", dest, md5=md5(DATA))


def test_concatenate_joins_in_order(tmp_path):
    parts = []
    for i, chunk in enumerate([b"abc", b"", b"defg"]):
        parts.append(tmp_path / f"p{i}")
        parts[-1].write_bytes(chunk)
    assert concatenate(parts, tmp_path / "all") == md5(b"abcdefg")
    assert (tmp_path / "all").read_bytes() == b"abcdefg"


# --- safe extraction ---------------------------------------------------------------------------

def make_tar(path, members):
    """members: (name, kind, data_or_link) with kind file | symlink | hardlink."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = payload
                tar.addfile(info)
    return path


EVIL_TARS = {
    "dotdot": [("ok.txt", "file", b"ok"), ("../evil", "file", b"x")],
    "absolute": [("ok.txt", "file", b"ok"), ("{outside}/abs", "file", b"x")],
    "symlink_out": [("ok.txt", "file", b"ok"), ("link", "symlink", "../outside_target")],
    "symlink_absolute": [("link", "symlink", "/etc")],
    "symlink_chain": [("l", "symlink", "."), ("l/l/x", "symlink", "../.."), ("l/l/x/evil", "file", b"x")],
    "write_through_link": [("d", "symlink", "sub/../.."), ("d/evil", "file", b"x")],
    "hardlink_out": [("ok.txt", "file", b"ok"), ("hard", "hardlink", "../outside_target")],
}


@pytest.mark.parametrize("case", sorted(EVIL_TARS))
def test_tar_escaping_members_are_refused_before_writing(tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    members = [(n.format(outside=outside), k, p) for n, k, p in EVIL_TARS[case]]
    archive = make_tar(tmp_path / "evil.tar.gz", members)
    root = tmp_path / "root"
    with pytest.raises(UserError, match="refusing to extract evil.tar.gz: member"):  # our check, not the filter's
        safe_extract_tar(archive, root)
    assert not root.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz", "outside"]
    assert list(outside.iterdir()) == []


def test_tar_with_inner_links_extracts_and_merges(tmp_path):
    root = tmp_path / "root"
    (root / "top" / "keep").mkdir(parents=True)
    (root / "top" / "keep" / "old.txt").write_text("old")
    archive = make_tar(tmp_path / "good.tar.gz", [("top/a/b.txt", "file", b"b"), ("top/a/c", "symlink", "b.txt"),
                                                   ("top/a/h", "hardlink", "top/a/b.txt")])
    safe_extract_tar(archive, root)
    assert (root / "top/a/c").read_text() == "b" and (root / "top/a/h").read_text() == "b"
    assert (root / "top/keep/old.txt").read_text() == "old"  # merged into, not replaced
    assert sorted(p.name for p in root.iterdir()) == ["top"]  # no staging folder left


def test_extraction_follows_folders_the_user_symlinked_in_root(tmp_path):
    (tmp_path / "big_disk").mkdir()
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "top").symlink_to(tmp_path / "big_disk")
    safe_extract_tar(make_tar(tmp_path / "a.tar.gz", [("top/x.txt", "file", b"x")]), tmp_path / "root")
    assert (tmp_path / "big_disk" / "x.txt").read_text() == "x"


def test_corrupt_archives_are_user_errors(tmp_path):
    good = make_tar(tmp_path / "good.tar.gz", [("a.txt", "file", DATA)])
    (tmp_path / "cut.tar.gz").write_bytes(good.read_bytes()[:5000])
    for name, extract in [("cut.tar.gz", safe_extract_tar), ("good.tar.gz", safe_extract_zip)]:
        with pytest.raises(UserError, match="not a readable"):
            extract(tmp_path / name, tmp_path / "root")
    assert not (tmp_path / "root").exists() or list((tmp_path / "root").iterdir()) == []


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/abs/evil.txt"])
def test_zip_escaping_members_are_refused(tmp_path, name):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "ok")
        zf.writestr(zipfile.ZipInfo(name), "x")
    root = tmp_path / "root"
    with pytest.raises(UserError, match="refusing to extract evil.zip: member"):
        safe_extract_zip(archive, root)
    assert not root.exists()
    assert not (tmp_path / "evil.txt").exists()


# --- LibriSpeech: a tiny archive in the real layout ---------------------------------------------

SPEAKERS = """; SPEAKERS.TXT
;ID  |SEX| SUBSET           |MINUTES| NAME
84   | F | dev-clean        | 8.02  | Christie Nowak
"""
TRANSCRIPTS = {"84-121123-0000": "GO DO YOU HEAR",
               "84-121123-0001": "BUT IN LESS THAN FIVE MINUTES THE STAIRCASE GROANED"}


def librispeech_archive(tmp_path, subset="dev-clean") -> bytes:
    src = tmp_path / "src"
    chapter = src / "LibriSpeech" / subset / "84" / "121123"
    chapter.mkdir(parents=True)
    for utt_id in TRANSCRIPTS:
        sf.write(chapter / f"{utt_id}.flac", np.zeros(1600, dtype=np.float32), 16000)
    (chapter / "84-121123.trans.txt").write_text("".join(f"{k} {v}\n" for k, v in TRANSCRIPTS.items()))
    (src / "LibriSpeech" / "SPEAKERS.TXT").write_text(SPEAKERS)
    (src / "LibriSpeech" / "README.TXT").write_text("LibriSpeech ASR corpus\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(src / "LibriSpeech", arcname="LibriSpeech")
    return buffer.getvalue()


def test_download_librispeech_end_to_end(server, tmp_path):
    archive = librispeech_archive(tmp_path)
    server.files["/dev-clean.tar.gz"] = archive
    server.cut_once.add("/dev-clean.tar.gz")
    root = tmp_path / "data"
    assert download_librispeech(root, ["dev-clean"], base_url=server.url + "/", md5=md5(archive)) == root
    utterances = prepare_librispeech(root, ["dev-clean"])
    assert dict(zip(utterances["utt_id"], utterances["transcript"])) == TRANSCRIPTS
    assert set(utterances["speaker"]) == {"84"} and (utterances["seconds"] == 0.1).all()
    assert librispeech.read_speakers(root)["name"].tolist() == ["Christie Nowak"]
    assert (root / "LibriSpeech/dev-clean/.complete").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["LibriSpeech", "archives"]
    requests = len(server.requests)
    download_librispeech(root, ["dev-clean"], base_url=server.url, md5=md5(archive))  # complete: skip
    assert len(server.requests) == requests


def test_download_librispeech_wrong_md5_leaves_no_subset(server, tmp_path):
    server.files["/dev-clean.tar.gz"] = librispeech_archive(tmp_path)
    root = tmp_path / "data"
    with pytest.raises(UserError, match="md5 mismatch for dev-clean.tar.gz"):
        download_librispeech(root, ["dev-clean"], base_url=server.url, md5="0" * 32)
    assert not (root / "LibriSpeech").exists() and list((root / "archives").iterdir()) == []


def test_download_librispeech_checks_names_and_official_md5s(tmp_path):
    with pytest.raises(ValueError, match="unknown LibriSpeech subset 'dev-dirty'.*dev-clean, dev-other"):
        download_librispeech(tmp_path, ["dev-dirty"], base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="one --md5 given for several"):
        download_librispeech(tmp_path, ["dev-clean", "test-clean"], base_url="http://127.0.0.1:9", md5="0" * 32)
    assert list(tmp_path.iterdir()) == []
    assert set(librispeech.LIBRISPEECH_MD5) == set(librispeech.LIBRISPEECH_BYTES) == set(librispeech.SUBSETS)
    assert librispeech.LIBRISPEECH_MD5["dev-clean"] == "42e2234ba48799c1f50f24a7926300a1"
    assert librispeech.LIBRISPEECH_BYTES["train-other-500"] == 30_593_501_606


# --- MagnaTagATune: tiny split zip + CSVs in the real layout -------------------------------------

MP3S = ["0/artist_a-album-01-song-0-29.mp3", "0/artist_a-album-01-song-30-59.mp3", "c/artist_b-lp-03-tune-88-117.mp3"]


def mtat_files() -> tuple[dict[str, bytes], dict[str, str]]:
    """The five served files plus the expected md5s (-> download_mtat(md5s=...))."""
    audio = io.BytesIO()
    sf.write(audio, np.zeros(1600, dtype=np.float32), 16000, format="WAV")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in MP3S:
            zf.writestr(name, audio.getvalue())
    joined = buffer.getvalue()
    third = len(joined) // 3
    annotations = '"clip_id"\t"hip hop"\t"rock"\t"guitar"\t"mp3_path"\n' + "".join(
        f'"{i + 2}"\t"{int(i < 2)}"\t"{int(i == 2)}"\t"1"\t"{name}"\n' for i, name in enumerate(MP3S))
    clip_info = '"clip_id"\t"track_number"\t"title"\t"artist"\n"2"\t"1"\t"song"\t"artist a"\n'
    files = {"mp3.zip.001": joined[:third], "mp3.zip.002": joined[third:2 * third], "mp3.zip.003": joined[2 * third:],
             "annotations_final.csv": annotations.encode(), "clip_info_final.csv": clip_info.encode()}
    md5s = {name: md5(data) for name, data in files.items()} | {"mp3.zip": md5(joined)}
    return files, md5s


def test_download_mtat_end_to_end(server, tmp_path):
    files, md5s = mtat_files()
    server.files.update({f"/{name}": data for name, data in files.items()})
    server.cut_once.add("/mp3.zip.002")
    root = tmp_path / "mtat"
    assert download_mtat(root, base_url=server.url, md5s=md5s) == root
    clips = prepare_mtat(root)
    assert clips["clip_id"].tolist() == [2, 3, 4]
    assert clips["tags"].tolist() == [["hip hop", "guitar"], ["hip hop", "guitar"], ["rock", "guitar"]]
    assert clips["track"].nunique() == 2 and all(Path(p).is_file() for p in clips["path"])
    assert (root / "mp3" / MP3S[2]).is_file() and (root / "clip_info_final.csv").is_file()
    assert sorted(p.name for p in (root / "archives").iterdir() if not p.name.endswith(".md5")) == \
        ["mp3.zip.001", "mp3.zip.002", "mp3.zip.003"]  # parts kept by default, joined zip removed
    requests = len(server.requests)
    download_mtat(root, base_url=server.url, md5s=md5s)  # complete: skip
    assert len(server.requests) == requests


def test_prepare_mtat_reads_a_heldout_list_and_rejects_a_bad_one(tmp_path):
    root = tmp_path / "mtat"
    root.mkdir()
    (root / "annotations_final.csv").write_bytes(mtat_files()[0]["annotations_final.csv"])
    assert not prepare_mtat(root)["heldout"].any()   # no list: nothing held out (the real corpus)
    track = mtat.track_of(MP3S[2])
    (root / mtat.HELDOUT_TRACKS).write_text(f"track\n{track}\n")
    clips = prepare_mtat(root)
    assert clips.loc[clips["heldout"], "track"].tolist() == [track]
    (root / mtat.HELDOUT_TRACKS).write_text("track\nno-such-track\n")
    with pytest.raises(UserError, match="1 track.*no clip in annotations_final.csv.*no-such-track"):
        prepare_mtat(root)
    (root / mtat.HELDOUT_TRACKS).write_text("name,split\nx,test\n")
    with pytest.raises(UserError, match="one column, track"):
        prepare_mtat(root)


def test_download_mtat_wrong_joined_md5_extracts_nothing(server, tmp_path):
    files, md5s = mtat_files()
    server.files.update({f"/{name}": data for name, data in files.items()})
    root = tmp_path / "mtat"
    with pytest.raises(UserError, match="md5 mismatch for mp3.zip"):
        download_mtat(root, base_url=server.url, md5s=md5s | {"mp3.zip": "0" * 32})
    assert not (root / "mp3").exists() and not (root / ".complete").exists()
    download_mtat(root, base_url=server.url, md5s=md5s, keep_archives=False)  # fixed: no re-fetch
    assert len(server.requests) == 5 and list((root / "archives").iterdir()) == []
    with pytest.raises(UserError, match="unknown MagnaTagATune file mp3.zip.004"):
        download_mtat(tmp_path / "other", base_url=server.url, md5s={"mp3.zip.004": "0" * 32})


def test_mtat_official_md5s():
    assert mtat.MTAT_FILES == {
        "mp3.zip.001": "179c91c8c2a6e9b3da3d4e69d306fd3b", "mp3.zip.002": "acf8265ff2e35c6ff22210e46457a824",
        "mp3.zip.003": "582dc649cabb8cd991f09e14b99349a5", "annotations_final.csv": "f04fa01752a8cc64f6e1ca142a0fef1d",
        "clip_info_final.csv": "03ef3cb8ddcfe53fdcdb8e0cda005be2"}
    assert mtat.MP3_ZIP_MD5 == "f12add0eb4cd6c2a3ab7e4afaf7b7467"


# --- CLI contract --------------------------------------------------------------------------------

def cli(*args):
    return subprocess.run([sys.executable, "-m", "pipeline", "download", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_cli_download_librispeech(server, tmp_path):
    archive = librispeech_archive(tmp_path)
    server.files["/dev-clean.tar.gz"] = archive
    bad = cli("librispeech", "--subset", "dev-clean", "--root", str(tmp_path / "bad"), "--base-url", server.url,
              "--md5", "0" * 32)
    assert bad.returncode != 0
    assert len(bad.stderr.strip().splitlines()) == 1 and bad.stderr.startswith("error: md5 mismatch")
    assert not (tmp_path / "bad" / "LibriSpeech" / "dev-clean").exists()
    good = cli("librispeech", "--subset", "dev-clean", "--root", str(tmp_path / "good"), "--base-url", server.url,
               "--md5", md5(archive))
    assert good.returncode == 0, good.stderr
    assert len(prepare_librispeech(tmp_path / "good", ["dev-clean"])) == 2


def test_cli_download_mtat_http_error(server, tmp_path):
    result = cli("mtat", "--root", str(tmp_path / "mtat"), "--base-url", server.url)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: HTTP 404")


def test_cli_download_base_url_defaults_to_params(monkeypatch, tmp_path):
    """Without --base-url the corpus's `data.<corpus>.base_url` of ./params.yaml is used."""
    from pipeline import cli as cli_module

    calls = []
    monkeypatch.setattr(librispeech, "download_librispeech", lambda root, subsets, base_url, md5: calls.append(base_url))
    monkeypatch.setattr(mtat, "download_mtat", lambda root, base_url: calls.append(base_url))
    monkeypatch.chdir(REPO)
    params = yaml.safe_load((REPO / "params.yaml").read_text())["data"]
    assert cli_module.main(["download", "librispeech", "--subset", "dev-clean", "--root", str(tmp_path)]) == 0
    assert cli_module.main(["download", "mtat", "--root", str(tmp_path)]) == 0
    assert cli_module.main(["download", "mtat", "--root", str(tmp_path), "--base-url", "http://mirror"]) == 0
    assert calls == [params["librispeech"]["base_url"], params["mtat"]["base_url"], "http://mirror"]
    monkeypatch.chdir(tmp_path)  # no params.yaml here: --base-url is needed
    assert cli_module.main(["download", "mtat", "--root", str(tmp_path)]) == 2
    assert calls[3:] == []


# --- the DVC stages ------------------------------------------------------------------------------

def test_claim_for_download_clears_only_other_builds(tmp_path):
    out = tmp_path / "out"
    claim_for_download(out)
    assert out.is_dir()
    (out / "partial.tar.gz.part").write_bytes(b"x")
    write_source(out, "download")
    claim_for_download(out)  # a download resumes; source.json waits for the end
    assert [p.name for p in out.iterdir()] == ["partial.tar.gz.part"]
    write_source(out, "embedded")
    claim_for_download(out)
    assert list(out.iterdir()) == []


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder `tmp_path/project` (the current one) with its own MLflow store; returns a
    writer of its params.yaml: the repository's, with the given sections merged in."""
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    defaults = yaml.safe_load((REPO / "params.yaml").read_text())

    def write(override: dict) -> None:
        (tmp_path / "project" / "params.yaml").write_text(yaml.safe_dump(deep_merge(defaults, override)))
    return write


SPEECH_STAGE = ["--out", "data/raw/librispeech", "--manifest", "data/speech.csv", "--metrics", "metrics/speech.json"]
DEV_ONLY = {"train": ["dev-clean"], "dev": ["dev-clean"], "test": ["dev-clean"]}


def test_stages_download_and_local(server, tmp_path, project, monkeypatch, capsys):
    from stages import download_librispeech as speech_stage
    from stages import download_mtat as music_stage

    archive = librispeech_archive(tmp_path)
    server.files["/dev-clean.tar.gz"] = archive
    monkeypatch.setitem(librispeech.LIBRISPEECH_MD5, "dev-clean", md5(archive))
    out = Path("data/raw/librispeech")
    out.mkdir(parents=True)
    write_source(out, "embedded")  # an earlier embedded build is replaced by the download
    (out / "stale.txt").write_text("x")
    project({"data": {"librispeech": {"source": "download", "base_url": server.url, "splits": DEV_ONLY}}})
    assert speech_stage.main(SPEECH_STAGE) == 0
    assert json.loads((out / "source.json").read_text())["source"] == "download"
    assert not (out / "stale.txt").exists()
    assert len(prepare_librispeech(dataset_root(out), ["dev-clean"])) == 2
    # the manifest and the statistics, from the one reading of the corpus
    speech = pd.read_csv("data/speech.csv", dtype=str)
    assert list(speech.columns) == ["utt_id", "path", "transcript", "speaker", "split", "seconds"]
    assert speech["path"].tolist() == [f"data/raw/librispeech/LibriSpeech/dev-clean/84/121123/{u}.flac" for u in TRANSCRIPTS]
    assert dict(zip(speech["utt_id"], speech["transcript"])) == TRANSCRIPTS and set(speech["seconds"]) == {"0.1"}
    assert json.loads(Path("metrics/speech.json").read_text()) == {
        "utterances": {"dev-clean": 2}, "hours": {"dev-clean": 0.0001}, "speakers": {"dev-clean": 1}}

    # local (the archive's source folder, outside the project): the manifest lists the audio
    # where it lies, by absolute path, and nothing is copied
    project({"data": {"librispeech": {"source": "local", "root": str(tmp_path / "src"), "splits": DEV_ONLY}}})
    assert speech_stage.main(SPEECH_STAGE) == 0
    assert [p.name for p in out.iterdir()] == ["source.json"]
    chapter = (tmp_path / "src/LibriSpeech/dev-clean/84/121123").resolve()
    assert pd.read_csv("data/speech.csv")["path"].tolist() == [str(chapter / f"{u}.flac") for u in TRANSCRIPTS]
    project({"data": {"librispeech": {"source": "local", "root": str(tmp_path / "nowhere"), "splits": DEV_ONLY}}})
    assert speech_stage.main(SPEECH_STAGE) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {tmp_path / 'nowhere'} does not hold a LibriSpeech/ folder"

    project({"data": {"mtat": {"source": "local", "root": str(tmp_path / "nowhere")}}})
    assert music_stage.main(["--out", "data/raw/mtat"]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: ") and not Path("data/raw/mtat").exists()
    files, md5s = mtat_files()
    server.files.update({f"/{name}": data for name, data in files.items()})
    music_root = download_mtat(tmp_path / "mtat_copy", base_url=server.url, md5s=md5s)
    project({"data": {"mtat": {"source": "local", "root": str(music_root)}}})
    assert music_stage.main(["--out", "data/raw/mtat"]) == 0
    assert [p.name for p in Path("data/raw/mtat").iterdir()] == ["source.json"]
    assert len(prepare_mtat(dataset_root("data/raw/mtat"))) == 3
