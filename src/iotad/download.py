"""Fetch raw dataset files: mirror directories first, then the registry's URLs; verify; write atomically.

The stored file keeps the registry's name: a ``.gz`` name holds a gzip stream (a plain source is
compressed on the way in), any other name holds the plain content (a gzip source is decompressed).
The sha256 is always checked on the *content*, so a copy re-gzipped elsewhere verifies too.
Nothing reaches ``dest`` unless it verified.

A file the registry does not pin (no published checksum) is pinned on first use: the sha256 of its
first download goes to a lock file the user can commit, and later downloads verify against it.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import requests
import yaml
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .io import atomic_path
from .registry import FileSpec

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
MIRROR_ENV = "IOTAD_DATA_MIRROR"


class DownloadError(RuntimeError):
    """A raw file could not be obtained or did not verify."""


def mirror_dirs(configured: str | list[str] | None = None) -> list[Path]:
    """Mirror directories to try, in order: ``$IOTAD_DATA_MIRROR`` (os.pathsep-separated), then config."""
    dirs: list[str] = []
    env = os.environ.get(MIRROR_ENV, "")
    dirs += [d for d in env.split(os.pathsep) if d]
    if isinstance(configured, str):
        configured = [configured]
    dirs += [d for d in (configured or []) if d]
    return [Path(d).expanduser() for d in dict.fromkeys(dirs)]


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def content_sha256(path: Path) -> str:
    """sha256 of the file's content, decompressing gzip; a truncated archive raises DownloadError."""
    digest = hashlib.sha256()
    opener = gzip.open if is_gzip(path) else open
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DownloadError(f"{path}: truncated or corrupt gzip archive ({exc})") from exc
    return digest.hexdigest()


@contextmanager
def _content_stream(path: Path, member: str | None):
    """Open the content of a local source: a zip member, a gzip stream's content, or the plain file."""
    if member:
        try:
            with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
                yield fh
        except (zipfile.BadZipFile, KeyError, EOFError) as exc:
            raise DownloadError(f"{path}: cannot read member {member!r} ({exc})") from exc
    elif is_gzip(path):
        with gzip.open(path, "rb") as fh:
            yield fh
    else:
        with open(path, "rb") as fh:
            yield fh


def _materialize(local: Path, member: str | None, out: Path, want_gzip: bool) -> None:
    """Write ``local``'s content to ``out`` in the form the registry name asks for."""
    if want_gzip and not member and is_gzip(local):
        shutil.copyfile(local, out)  # keep an original gzip byte for byte
        return
    try:
        with _content_stream(local, member) as src:
            if want_gzip:
                # mtime=0 and no name: re-compressing the same content gives the same bytes.
                with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
            else:
                with open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DownloadError(f"{local}: truncated or corrupt gzip archive ({exc})") from exc


def _session(retries: int) -> requests.Session:
    session = requests.Session()
    retry = Retry(total=retries, backoff_factor=2.0, status_forcelist=(429, 500, 502, 503, 504))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = "iotad (+https://github.com/iotad)"
    return session


def _http_get(session: requests.Session, url: str, out: Path, timeout: float) -> None:
    with session.get(url, stream=True, timeout=timeout) as resp:
        resp.raise_for_status()
        # Content-Length counts the bytes on the wire; with Content-Encoding they are compressed
        # and iter_content yields more, so the length can only be checked on identity transfers.
        encoded = resp.headers.get("Content-Encoding", "identity") != "identity"
        expected = None if encoded else resp.headers.get("Content-Length")
        written = 0
        with open(out, "wb") as fh:
            for chunk in resp.iter_content(CHUNK):
                fh.write(chunk)
                written += len(chunk)
    if expected is not None and written != int(expected):
        raise DownloadError(f"{url}: transfer cut short ({written} of {expected} bytes)")


def _http_get_retrying(session, url: str, out: Path, timeout: float, retries: int) -> None:
    """The session's Retry covers refused connections and 5xx answers; this covers bodies cut short."""
    for attempt in range(retries + 1):
        try:
            return _http_get(session, url, out, timeout)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, DownloadError) as exc:
            if attempt == retries:
                raise
            log.warning("%s: attempt %d failed (%s); retrying", url, attempt + 1, exc)


LOCK_HEADER = """\
# sha256 of dataset files the registry (src/iotad/datasets.yaml) does not pin, taken from their
# first download (origin, date) and checked on every later download. Commit it. If an upstream
# file legitimately changed, delete its entry: the next download pins the new content.
"""
SHA256_HEX = set("0123456789abcdef")


def read_lock(lock: Path) -> dict[str, dict]:
    """The lock file's entries (none if it is absent or empty); a malformed file is an error."""
    try:
        entries = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise DownloadError(f"{lock}: not a readable lock file ({exc})") from exc
    if not isinstance(entries, dict):
        raise DownloadError(f"{lock}: not a lock file (a mapping of file key -> sha256, origin, pinned)")
    for key, entry in entries.items():
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        if not (isinstance(sha, str) and len(sha) == 64 and set(sha) <= SHA256_HEX):
            raise DownloadError(f"{lock}: entry {key!r} needs a sha256 of 64 lower-case hex digits")
    return entries


@contextmanager
def _locked(lock: Path):
    """Hold an exclusive flock on the lock file itself, across processes (parallel download jobs).
    Writers replace the file, so a lock taken on a file since replaced guards nothing: open again
    until the file locked is the one at ``lock``."""
    while True:
        fh = open(lock, "a+")  # creates it if absent; "a" so that flock works over NFS too
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(fh.fileno()), os.stat(lock)):
                break
        except FileNotFoundError:
            pass
        fh.close()
    try:
        yield
    finally:
        fh.close()


def _mismatch(key: str, lock: Path, entry: dict, actual: str, origin: str) -> DownloadError:
    return DownloadError(
        f"{key} from {origin} has sha256 {actual}, but {lock} pinned {entry['sha256']} "
        f"(first downloaded from {entry.get('origin')} on {entry.get('pinned')}); if the upstream file "
        f"legitimately changed, delete the {key} entry from {lock} and run again (the next download is pinned)"
    )


def pin(lock: Path, key: str, sha256: str, origin: str) -> None:
    """Record ``key``'s first download in the lock file: re-read under the lock, merge, replace."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with _locked(lock):
        entries = read_lock(lock)
        if key in entries:  # pinned meanwhile by a run sharing the lock
            if entries[key]["sha256"] != sha256:
                raise _mismatch(key, lock, entries[key], sha256, origin)
            return
        entries[key] = {"sha256": sha256, "origin": origin, "pinned": datetime.now(UTC).date().isoformat()}
        with atomic_path(lock) as tmp:
            tmp.write_text(
                LOCK_HEADER + yaml.safe_dump(dict(sorted(entries.items())), sort_keys=False), encoding="utf-8"
            )


def _local_candidates(spec: FileSpec, mirrors: list[Path]) -> list[Path]:
    """Mirror paths for the file: as named, and with/without a .gz suffix."""
    alt = spec.key[:-3] if spec.key.endswith(".gz") else spec.key + ".gz"
    return [m / name for m in mirrors for name in (spec.key, alt) if (m / name).is_file()]


def fetch(
    spec: FileSpec,
    dest: str | Path,
    mirrors: list[Path] = (),
    *,
    retries: int = 3,
    timeout: float = 60.0,
    lock: str | Path | None = None,
) -> str:
    """Obtain ``spec`` into ``dest`` and return where it came from.

    A mirror copy that fails verification is an error (the mirror is meant to be trusted); a URL that
    fails is skipped for the next one, and the error lists every attempt. A file without a registry
    sha256 is verified against its ``lock`` entry, or pinned there by this first download.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    want_gzip = dest.name.endswith(".gz")
    lock = Path(lock) if lock is not None else None
    entry = read_lock(lock).get(spec.key) if lock else None
    if entry and spec.sha256 and entry["sha256"] != spec.sha256:
        raise DownloadError(
            f"{spec.key}: {lock} pins sha256 {entry['sha256']}, but the registry pins {spec.sha256} and the registry "
            f"wins: delete the {spec.key} entry from {lock}"
        )
    expected = spec.sha256 or (entry["sha256"] if entry else None)
    pinned_by_lock = spec.sha256 is None and entry is not None
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    staged = tmpdir / dest.name
    failures: list[str] = []

    def stage(local: Path, member: str | None, origin: str) -> str:
        """Materialize and verify; return the content's sha256. Errors name the file and its expected hash."""
        try:
            _materialize(local, member, staged, want_gzip)
            actual = content_sha256(staged)
        except DownloadError as exc:
            raise DownloadError(
                f"{spec.key} from {origin} (expected sha256 {expected or 'not pinned'}): {exc}"
            ) from exc
        if expected is None:
            log.warning(
                "%s: no pinned sha256 in the registry; accepted %s with sha256 %s%s",
                spec.key,
                origin,
                actual,
                f", pinned in {lock}" if lock else "",
            )
        elif actual != expected and pinned_by_lock:
            raise _mismatch(spec.key, lock, entry, actual, origin)
        elif actual != expected:
            raise DownloadError(
                f"checksum mismatch for {spec.key} from {origin}: expected sha256 {expected}, got {actual}"
            )
        return actual

    def accept(origin: str, actual: str) -> str:
        """First use: pin before the file reaches ``dest`` (a failed pin leaves no unverified file)."""
        if expected is None and lock:
            pin(lock, spec.key, actual, origin)
        os.replace(staged, dest)
        return origin

    try:
        local = next(iter(_local_candidates(spec, mirrors)), None)
        if local is not None:
            return accept(str(local), stage(local, None, str(local)))

        session = _session(retries)
        for source in spec.sources:
            download = tmpdir / "download"
            if source.url.lower().startswith("http://"):
                log.warning(
                    "%s: plain http (%s): anyone on the path can alter it; only the sha256 check protects it",
                    source.url,
                    source.insecure or "not marked insecure",
                )
            try:
                _http_get_retrying(session, source.url, download, timeout, retries)
            except (requests.RequestException, DownloadError) as exc:
                failures.append(f"  {source.url}: {exc}")
                continue
            try:
                actual = stage(download, source.member, source.url)
            except DownloadError as exc:
                failures.append(f"  {source.url}: {exc}")
                continue
            return accept(source.url, actual)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    mirror_note = ", ".join(map(str, mirrors)) or f"none (set ${MIRROR_ENV} or data.mirror in config.yaml)"
    raise DownloadError(
        f"could not obtain {spec.key} (expected sha256 {expected or 'not pinned'}).\n"
        f"Mirror directories tried: {mirror_note}\nURLs tried:\n" + "\n".join(failures or ["  none"])
    )
