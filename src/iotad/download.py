"""Fetch raw dataset files: mirror directories first, then the registry's URLs; verify; write atomically.

The stored file keeps the registry's name: a ``.gz`` name holds a gzip stream (a plain source is
compressed on the way in), any other name holds the plain content (a gzip source is decompressed).
The sha256 is always checked on the *content*, so a copy re-gzipped elsewhere verifies too.
Nothing reaches ``dest`` unless it verified.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .registry import FileSpec, Source

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
) -> str:
    """Obtain ``spec`` into ``dest`` and return where it came from.

    A mirror copy that fails verification is an error (the mirror is meant to be trusted); a URL that
    fails is skipped for the next one, and the error lists every attempt.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    want_gzip = dest.name.endswith(".gz")
    expected = spec.sha256
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    staged = tmpdir / dest.name
    failures: list[str] = []

    def stage(local: Path, member: str | None, origin: str) -> None:
        """Materialize and verify; errors name the registry file and its expected hash."""
        try:
            _materialize(local, member, staged, want_gzip)
            actual = content_sha256(staged)
        except DownloadError as exc:
            raise DownloadError(f"{spec.key} from {origin} (expected sha256 {expected or 'not pinned'}): {exc}") from exc
        if expected is None:
            log.warning("%s: no pinned sha256 in the registry; accepted %s with sha256 %s", spec.key, origin, actual)
        elif actual != expected:
            raise DownloadError(
                f"checksum mismatch for {spec.key} from {origin}: expected sha256 {expected}, got {actual}"
            )

    try:
        local = next(iter(_local_candidates(spec, mirrors)), None)
        if local is not None:
            stage(local, None, str(local))
            os.replace(staged, dest)
            return str(local)

        session = _session(retries)
        for source in spec.sources:
            download = tmpdir / "download"
            try:
                _http_get_retrying(session, source.url, download, timeout, retries)
            except (requests.RequestException, DownloadError) as exc:
                failures.append(f"  {source.url}: {exc}")
                continue
            try:
                stage(download, source.member, source.url)
            except DownloadError as exc:
                failures.append(f"  {source.url}: {exc}")
                continue
            os.replace(staged, dest)
            return source.url
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    mirror_note = ", ".join(map(str, mirrors)) or f"none (set ${MIRROR_ENV} or data.mirror in config.yaml)"
    raise DownloadError(
        f"could not obtain {spec.key} (expected sha256 {expected or 'not pinned'}).\n"
        f"Mirror directories tried: {mirror_note}\nURLs tried:\n" + "\n".join(failures or ["  none"])
    )
