"""Fetch and unpack public corpora: resumable, md5-verified HTTP downloads and archive extraction
that refuses to write outside its target folder; and a dataset stage's output folder, whatever
its source (`provide_dataset`).

A file appears at its final name only once it is whole and verified; an archive's content
appears in its target folder only once every member has been checked and extracted.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import json
import lzma
import os
import re
import shutil
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from pipeline.data.sources import SOURCE_FILE, write_source
from pipeline.errors import UserError
from pipeline.fileio import atomic_path, md5_of

CHUNK_BYTES = 1 << 20
_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)")


# --- checksums ------------------------------------------------------------------------------

def check_md5(value: str) -> str:
    """Normalise an md5 given by a user (hex, any case) or raise UserError."""
    hex_md5 = str(value).strip().lower()
    if not _MD5_HEX.match(hex_md5):
        raise UserError(f"{value!r} is not an md5 (32 hex digits)")
    return hex_md5


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".md5")


def remember_md5(path: Path, md5: str) -> None:
    """Record that `path` has this md5, so re-runs need not rehash GBs. The sidecar holds no
    timestamp (outputs stay byte-identical); it is trusted only while the size matches and the
    file is not newer than the sidecar."""
    _sidecar(path).write_text(f"{md5} {path.stat().st_size}\n")


def verified(path: Path, md5: str) -> bool:
    """True if `path` exists and has `md5` (from the sidecar when it is still valid)."""
    if not path.is_file():
        return False
    sidecar = _sidecar(path)
    if (sidecar.is_file() and sidecar.stat().st_mtime_ns >= path.stat().st_mtime_ns
            and sidecar.read_text().strip() == f"{md5} {path.stat().st_size}"):
        return True
    if md5_of(path) != md5:
        return False
    remember_md5(path, md5)
    return True


def forget(path: Path) -> None:
    """Delete a file and its md5 sidecar (if any)."""
    for p in (path, _sidecar(path)):
        p.unlink(missing_ok=True)


# --- HTTP -----------------------------------------------------------------------------------

class _Retry(Exception):
    """A transient failure: the transfer is tried again after a pause."""


def fetch(url: str, dest: str | os.PathLike, md5: str | None = None, retries: int = 5,
          backoff: float = 2.0, timeout: float = 60.0) -> Path:
    """Download `url` to `dest`, resuming `dest.part` with a Range request after any interruption.

    Transient failures (connection errors, timeouts, HTTP 5xx, truncated bodies) are retried up
    to `retries` times in a row, pausing `backoff * 2**k` seconds (at most 5 minutes); an
    attempt that made progress resets the count and resumes at once. HTTP 4xx and a wrong md5
    raise UserError at once (a wrong md5 deletes the partial file). With `md5`, an existing
    `dest` that verifies is kept and nothing is transferred; `dest` appears only once verified.
    """
    dest = Path(dest)
    md5 = check_md5(md5) if md5 else None
    if dest.is_file():
        if md5 is None or verified(dest, md5):
            return dest
        raise UserError(f"{dest} exists but its md5 is not {md5}: delete it to download it again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures = 0
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            _transfer(url, part, timeout)
            break
        except _Retry as err:
            progressed = (part.stat().st_size if part.exists() else 0) > before
            failures = 0 if progressed else failures + 1
            if failures > retries:
                raise UserError(f"download of {url} failed {failures} times in a row: {err}") from None
            # A drop after progress resumes at once; failures in a row back off exponentially.
            pause = min(backoff * 2 ** (failures - 1), 300.0) if failures else 0.0
            print(f"download of {dest.name} interrupted ({err}); retrying in {pause:.0f} s", file=sys.stderr)
            time.sleep(pause)
    if md5 is not None:
        actual = md5_of(part)
        if actual != md5:
            part.unlink()
            raise UserError(f"md5 mismatch for {dest.name}: expected {md5}, got {actual}")
    os.replace(part, dest)
    if md5 is not None:
        remember_md5(dest, md5)
    return dest


def _transfer(url: str, part: Path, timeout: float) -> None:
    """One attempt: append the rest of `url` to `part`. Raises _Retry on transient failures."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "fake-rapper-helper/1", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        with err:
            if err.code == 416 and offset:
                return _check_unsatisfied_range(err, part, offset)
            if 400 <= err.code < 500:
                raise UserError(f"HTTP {err.code} {err.reason} for {url}") from None
            raise _Retry(f"HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _Retry(str(getattr(err, "reason", err)) or type(err).__name__) from None
    with response:
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                # A range we did not ask for: start over rather than splice wrong bytes.
                part.unlink(missing_ok=True)
                raise _Retry("server answered an unexpected range; restarting")
            total = int(match.group(3)) if match.group(3) != "*" else None
        else:
            # 200: the server ignores Range (or there was none): the body is the whole file.
            offset = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        _copy_body(response, part, offset, total)


def _check_unsatisfied_range(err: urllib.error.HTTPError, part: Path, offset: int) -> None:
    """416 to `bytes=offset-`: the part is already whole, or longer than the file (then restart)."""
    match = _UNSATISFIED_RANGE.match(err.headers.get("Content-Range", ""))
    if match and int(match.group(1)) == offset:
        return
    part.unlink()
    raise _Retry("partial file does not match the remote file; restarting")


def _copy_body(response, part: Path, offset: int, total: int | None) -> None:
    received = offset
    with open(part, "ab" if offset else "wb") as out, \
            tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                 desc=part.name.removesuffix(".part"), disable=None, leave=False) as bar:
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as err:  # reset, timeout: retry
                raise _Retry(f"connection lost after {received} bytes ({err or type(err).__name__})") from None
            if not chunk:
                break
            out.write(chunk)  # a disk error here is not transient: let it propagate
            received += len(chunk)
            bar.update(len(chunk))
    if total is not None and received < total:
        raise _Retry(f"connection closed after {received} of {total} bytes")


# --- archives -------------------------------------------------------------------------------

def concatenate(parts: list[str | os.PathLike], dest: str | os.PathLike) -> str:
    """Write the files `parts` one after the other into `dest` (atomically); return its md5."""
    dest = Path(dest)
    digest = hashlib.md5()
    tmp = dest.with_name(dest.name + ".part")
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest()


def _unsafe_name(name: str) -> str | None:
    """Why an archive member name may not be extracted as given, or None when it is fine."""
    unix = name.replace("\\", "/")
    if unix.startswith("/") or re.match(r"^[A-Za-z]:", unix):
        return "absolute path"
    if ".." in PurePosixPath(unix).parts:
        return "'..' component"
    return None


def _resolve(name: str, symlinks: dict[str, str], depth: int = 0) -> list[str] | None:
    """Where `name` (relative to the extraction root) really lands once the archive's own
    symlinks exist: its path components, or None if it leaves the root. Resolving through the
    links matters: `l -> .` then `l/l/x -> ../..` looks inside lexically but escapes."""
    if depth > 40:
        return None  # a symlink loop: treat as escaping
    parts: list[str] = []
    for component in PurePosixPath(name.replace("\\", "/")).parts:
        if component in ("", ".", "/"):
            continue
        if component == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(component)
        target = symlinks.get("/".join(parts))
        if target is not None:
            if _unsafe_name(target) == "absolute path":
                return None
            resolved = _resolve("/".join(parts[:-1] + [target]), symlinks, depth + 1)
            if resolved is None:
                return None
            parts = resolved
    return parts


def _check_members(archive: Path, entries: list[tuple[str, str, str | None]]) -> None:
    """entries: (name, kind, link) with kind in file | dir | symlink | hardlink | special.
    Raise UserError on the first member that would land outside the root."""
    symlinks = {PurePosixPath(n.replace("\\", "/")).as_posix().rstrip("/"): link
                for n, kind, link in entries if kind == "symlink"}
    for name, kind, link in entries:
        reason = _unsafe_name(name)
        if reason is None and kind == "special":
            reason = "device or fifo"
        if reason is None and _resolve(name, symlinks) is None:
            reason = "path leads outside the target folder"
        if reason is None and kind == "symlink":
            if _unsafe_name(link) == "absolute path":
                reason = f"symlink to absolute path {link!r}"
            elif _resolve(str(PurePosixPath(name).parent / link), symlinks) is None:
                reason = f"symlink to {link!r} leaves the target folder"
        if reason is None and kind == "hardlink":
            if _unsafe_name(link) is not None or _resolve(link, symlinks) is None:
                reason = f"hard link to {link!r} leaves the target folder"
        if reason:
            raise UserError(f"refusing to extract {archive.name}: member {name!r}: {reason}")


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.isdir():
        return "dir"
    if member.isfile():
        return "file"
    return "special"


def _zip_kind(info: zipfile.ZipInfo) -> str:
    if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):  # 3: made on Unix
        return "symlink"
    return "dir" if info.is_dir() else "file"


def safe_extract_tar(archive: str | os.PathLike, root: str | os.PathLike) -> Path:
    """Extract a tar (any compression) into `root` after checking every member.

    Refuses (UserError, nothing written) absolute names, `..` components, devices and fifos, and
    links that would resolve outside `root`. Extracts into a temporary folder inside `root`, then
    moves the result into place, so a failure never leaves a half-extracted tree at its final
    name. A .tar.gz is decompressed twice (check, then extract): safety first.
    """
    archive, root = Path(archive), Path(root)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            _check_members(archive, [(m.name, _tar_kind(m), m.linkname or None) for m in members])
            with _staging(root, archive) as staging:
                # The stdlib "data" filter re-checks each member against the real disk state.
                tar.extractall(staging, members=members, filter="data")
                _move_into(staging, root)
    except tarfile.FilterError as err:
        raise UserError(f"refusing to extract {archive.name}: {err}") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as err:
        raise UserError(f"{archive} is not a readable tar archive ({err})") from None
    return root


def safe_extract_zip(archive: str | os.PathLike, root: str | os.PathLike) -> Path:
    """Extract a zip into `root` after checking every member (same rules as safe_extract_tar)."""
    archive, root = Path(archive), Path(root)
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = []
            for info in zf.infolist():
                kind = _zip_kind(info)
                # zipfile writes a symlink entry as a small file holding its target: check the
                # target anyway, in case another tool unpacks the same archive.
                link = zf.read(info).decode("utf-8", "replace") if kind == "symlink" else None
                entries.append((info.filename, kind, link))
            _check_members(archive, entries)
            with _staging(root, archive) as staging:
                zf.extractall(staging)
                _move_into(staging, root)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as err:
        raise UserError(f"{archive} is not a readable zip archive ({err})") from None
    return root


@contextlib.contextmanager
def _staging(root: Path, archive: Path):
    """A fresh temporary folder inside `root`, removed on exit whatever happens."""
    path = root / f".extract-{archive.name}.tmp"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _move_into(src: Path, dst: Path) -> None:
    """Move the content of folder `src` into folder `dst`, merging folders that already exist
    (e.g. a second LibriSpeech subset into LibriSpeech/) and replacing files. Folders the user
    symlinked in `dst` (say LibriSpeech/ -> a bigger disk) are followed: only the archive's
    content is untrusted, and it has been checked."""
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir():
            _move_into(entry, target)
        elif target.is_dir():
            raise UserError(f"cannot extract {entry.name}: {target} is a folder")
        else:
            shutil.move(entry, target)  # a rename; a copy only across file systems


def claim_for_download(out_dir: str | os.PathLike) -> Path:
    """Ready a download stage's output folder: an embedded or local build there is cleared, a
    (possibly partial) download is kept so it resumes. Its source.json is removed until the
    download is whole again, so downstream stages never read a half-fetched corpus."""
    out_dir = Path(out_dir)
    marker = out_dir / SOURCE_FILE
    if marker.is_file():
        try:
            source = json.loads(marker.read_text()).get("source")
        except (ValueError, AttributeError):
            source = None
        if source in ("embedded", "local"):
            shutil.rmtree(out_dir)
        else:  # a download, or unreadable: keep the data, never delete what may be GBs
            marker.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def provide_dataset(out_dir: str | os.PathLike, cfg, build, download, prepare):
    """A dataset stage's output folder `out_dir`, by `cfg.source` (`cfg`: a corpus's config,
    with `source` and `root`):

    - embedded: `build(folder)` writes the corpus into a fresh empty folder that replaces
      `out_dir` whole;
    - download: `download(out_dir)` fetches into `out_dir`, resuming a partial download
      (`claim_for_download`);
    - local: the corpus stays at `cfg.root`, and `out_dir` only points at it.

    Then `prepare(corpus_root)` reads (and so validates) the corpus; only once it succeeds is
    `out_dir/source.json` written, so downstream stages never read a corpus that failed. Returns
    what `prepare` returned."""
    out_dir = Path(out_dir)
    if cfg.source == "embedded":
        with atomic_path(out_dir) as tmp:
            tmp.mkdir(parents=True)
            build(tmp)
        root = out_dir
    elif cfg.source == "download":
        root = out_dir
        download(claim_for_download(out_dir))
    else:
        root = Path(cfg.root).expanduser()
    prepared = prepare(root)
    if cfg.source == "local":
        with atomic_path(out_dir) as tmp:  # replaces whatever was there: never the user's data
            tmp.mkdir(parents=True)
            write_source(tmp, "local", root)
    else:
        write_source(out_dir, cfg.source)
    return prepared
