import gzip
import hashlib
import http.server
import multiprocessing
import re
import socket
import threading
import zipfile
from datetime import UTC, datetime
from functools import partial

import pytest
import yaml

from iotad.download import DownloadError, content_sha256, fetch, mirror_dirs
from iotad.registry import FileSpec, RegistryError, Source, load_registry

CONTENT = b"0,tcp,http,SF,181,5450,normal.\n" * 200
SHA = hashlib.sha256(CONTENT).hexdigest()


def spec(key="kdd/sample.gz", sha=SHA, urls=()):
    return FileSpec(key, sha, tuple(Source(*u) if isinstance(u, tuple) else Source(u) for u in urls))


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "mirror"
    (root / "kdd").mkdir(parents=True)
    return root


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on loopback serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir())


def test_gzip_mirror_copy_is_kept_byte_for_byte(mirror, tmp_path):
    (mirror / "kdd/sample.gz").write_bytes(gzip.compress(CONTENT, mtime=123))
    dest = tmp_path / "raw/kdd/sample.gz"
    origin = fetch(spec(), dest, [mirror])
    assert origin == str(mirror / "kdd/sample.gz")
    assert dest.read_bytes() == (mirror / "kdd/sample.gz").read_bytes()
    assert leftovers(dest.parent) == ["sample.gz"]


def test_plain_mirror_copy_is_compressed_and_verified_on_content(mirror, tmp_path):
    (mirror / "kdd/sample").write_bytes(CONTENT)  # the mirror may hold the uncompressed original
    dest = tmp_path / "raw/kdd/sample.gz"
    fetch(spec(), dest, [mirror])
    assert gzip.decompress(dest.read_bytes()) == CONTENT
    assert content_sha256(dest) == SHA


def test_checksum_mismatch_names_file_and_expected_hash_and_writes_nothing(mirror, tmp_path):
    (mirror / "kdd/sample.gz").write_bytes(gzip.compress(CONTENT.replace(b"normal", b"smurf!")))
    dest = tmp_path / "raw/kdd/sample.gz"
    with pytest.raises(DownloadError, match=rf"checksum mismatch for kdd/sample.gz .*expected sha256 {SHA}"):
        fetch(spec(), dest, [mirror])
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_truncated_gzip_is_reported_and_writes_nothing(mirror, tmp_path):
    data = gzip.compress(CONTENT)
    (mirror / "kdd/sample.gz").write_bytes(data[: len(data) // 2])
    dest = tmp_path / "raw/kdd/sample.gz"
    with pytest.raises(
        DownloadError, match=rf"kdd/sample.gz from .*\(expected sha256 {SHA}\): .*truncated or corrupt gzip"
    ):
        fetch(spec(), dest, [mirror])
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_urls_are_tried_in_order_and_zip_members_are_extracted(server, tmp_path):
    www, base = server
    with zipfile.ZipFile(www / "bundle.zip", "w") as zf:
        zf.writestr("inner/sample.csv", CONTENT)
    s = spec(urls=[f"{base}/missing.gz", (f"{base}/bundle.zip", "inner/sample.csv")])
    dest = tmp_path / "raw/kdd/sample.gz"
    assert fetch(s, dest, [], retries=0) == f"{base}/bundle.zip"
    assert content_sha256(dest) == SHA


def test_unreachable_source_lists_every_attempt_and_writes_nothing(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dest = tmp_path / "raw/kdd/sample.gz"
    url = f"http://127.0.0.1:{port}/sample.gz"
    with pytest.raises(DownloadError) as err:
        fetch(spec(urls=[url]), dest, [], retries=0, timeout=2)
    message = str(err.value)
    assert "could not obtain kdd/sample.gz" in message and SHA in message and url in message
    assert not dest.exists() and leftovers(dest.parent) == []


def test_unpinned_file_is_accepted_and_its_hash_logged(mirror, tmp_path, caplog):
    (mirror / "kdd/sample.gz").write_bytes(gzip.compress(CONTENT))
    fetch(spec(sha=None), tmp_path / "sample.gz", [mirror])
    assert SHA in caplog.text and "no pinned sha256" in caplog.text


def test_mirror_dirs_env_first_then_config(monkeypatch, tmp_path):
    monkeypatch.setenv("IOTAD_DATA_MIRROR", f"{tmp_path}/a")
    assert mirror_dirs([f"{tmp_path}/b", f"{tmp_path}/a"]) == [tmp_path / "a", tmp_path / "b"]


class GzipEncodingHandler(http.server.BaseHTTPRequestHandler):
    """Serves CONTENT with Content-Encoding: gzip, as raw.githubusercontent.com does for text."""

    def do_GET(self):
        body = gzip.compress(CONTENT)
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_content_encoded_transfer_is_decoded_and_verified(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GzipEncodingHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        dest = tmp_path / "raw/kdd/sample.gz"
        fetch(spec(urls=[f"http://127.0.0.1:{httpd.server_address[1]}/KDDTest%2B.txt"]), dest, [], retries=0)
    finally:
        httpd.shutdown()
    assert content_sha256(dest) == SHA


# --- pin on first use: files without a registry sha256 are pinned in a lock file -----------------

OTHER = CONTENT.replace(b"normal", b"smurf!")
OTHER_SHA = hashlib.sha256(OTHER).hexdigest()


def lock_entries(lock):
    return yaml.safe_load(lock.read_text())


def test_first_fetch_of_an_unpinned_file_pins_it_in_the_lock(mirror, tmp_path):
    (mirror / "kdd/sample.gz").write_bytes(gzip.compress(CONTENT))
    lock = tmp_path / "datasets.lock.yaml"
    fetch(spec(sha=None), tmp_path / "raw/kdd/sample.gz", [mirror], lock=lock)
    today = datetime.now(UTC).date().isoformat()
    assert lock_entries(lock) == {
        "kdd/sample.gz": {"sha256": SHA, "origin": str(mirror / "kdd/sample.gz"), "pinned": today}
    }
    assert lock.read_text().startswith("#")  # says what the file is, for whoever finds it in a checkout
    assert leftovers(tmp_path) == ["datasets.lock.yaml", "mirror", "raw"]


def test_a_later_fetch_verifies_against_the_lock(mirror, tmp_path):
    (mirror / "kdd/sample.gz").write_bytes(gzip.compress(CONTENT))
    lock, dest = tmp_path / "datasets.lock.yaml", tmp_path / "raw/kdd/sample.gz"
    fetch(spec(sha=None), dest, [mirror], lock=lock)
    pinned = lock.read_text()
    dest.unlink()
    fetch(spec(sha=None), dest, [mirror], lock=lock)  # the same content: accepted, lock untouched
    assert lock.read_text() == pinned

    (mirror / "kdd/sample.gz").write_bytes(gzip.compress(OTHER))  # upstream changed (or was tampered with)
    dest.unlink()
    with pytest.raises(DownloadError) as err:
        fetch(spec(sha=None), dest, [mirror], lock=lock)
    message = str(err.value)
    assert "\n" not in message
    for part in ("kdd/sample.gz", str(lock), SHA, OTHER_SHA, "delete"):
        assert part in message
    assert not dest.exists() and leftovers(dest.parent) == []
    assert lock.read_text() == pinned


def test_a_changed_file_from_a_url_fails_against_the_lock(server, tmp_path):
    www, base = server
    (www / "sample").write_bytes(OTHER)
    lock = tmp_path / "datasets.lock.yaml"
    lock.write_text(yaml.safe_dump({"kdd/sample.gz": {"sha256": SHA, "origin": "x", "pinned": "2026-01-01"}}))
    dest = tmp_path / "raw/kdd/sample.gz"
    with pytest.raises(DownloadError, match=rf"kdd/sample.gz.*{OTHER_SHA}.*{SHA}.*{re.escape(str(lock))}"):
        fetch(spec(sha=None, urls=[f"{base}/sample"]), dest, [], retries=0, lock=lock)
    assert not dest.exists() and leftovers(dest.parent) == []


def test_an_unpinned_download_over_http_is_pinned_with_its_url_and_warned_about(server, tmp_path, caplog):
    www, base = server
    (www / "sample").write_bytes(CONTENT)
    lock = tmp_path / "datasets.lock.yaml"
    url = f"{base}/sample"
    fetch(
        FileSpec("kdd/sample.gz", None, (Source(url, insecure="test server"),)),
        tmp_path / "raw/kdd/sample.gz",
        [],
        retries=0,
        lock=lock,
    )
    assert lock_entries(lock)["kdd/sample.gz"]["origin"] == url
    assert "plain http" in caplog.text and "test server" in caplog.text


def test_registry_hash_wins_over_the_lock(mirror, tmp_path):
    (mirror / "kdd/sample.gz").write_bytes(gzip.compress(CONTENT))
    lock, dest = tmp_path / "datasets.lock.yaml", tmp_path / "raw/kdd/sample.gz"
    fetch(spec(), dest, [mirror], lock=lock)  # pinned in the registry: the lock is not written
    assert not lock.exists()
    # A lock entry that contradicts the registry (pinned there since) is an error naming both.
    lock.write_text(yaml.safe_dump({"kdd/sample.gz": {"sha256": OTHER_SHA, "origin": "x", "pinned": "2026-01-01"}}))
    dest.unlink()
    with pytest.raises(DownloadError) as err:
        fetch(spec(), dest, [mirror], lock=lock)
    assert all(part in str(err.value) for part in ("kdd/sample.gz", str(lock), SHA, OTHER_SHA, "registry"))
    assert not dest.exists()


def test_a_malformed_lock_file_is_an_error_naming_it(mirror, tmp_path):
    (mirror / "kdd/sample.gz").write_bytes(gzip.compress(CONTENT))
    lock = tmp_path / "datasets.lock.yaml"
    lock.write_text(yaml.safe_dump({"kdd/sample.gz": {"sha256": "not-a-hash"}}))
    with pytest.raises(DownloadError, match=re.escape(str(lock))):
        fetch(spec(sha=None), tmp_path / "raw/kdd/sample.gz", [mirror], lock=lock)


def _fetch_many(mirror, out, lock, keys, barrier):
    barrier.wait()  # start together: the lock's read-merge-write races if it is not serialized
    for key in keys:
        fetch(FileSpec(key, None, ()), out / key, [mirror], lock=lock)


def test_concurrent_first_uses_all_land_in_the_lock(mirror, tmp_path):
    workers, per_worker = 6, 8
    keys = [[f"kdd/w{w}-{i}.csv" for i in range(per_worker)] for w in range(workers)]
    every = [key for worker_keys in keys for key in worker_keys]
    for key in every:
        (mirror / key).write_bytes(key.encode())
    lock = tmp_path / "datasets.lock.yaml"
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers)
    procs = [ctx.Process(target=_fetch_many, args=(mirror, tmp_path / "raw", lock, k, barrier)) for k in keys]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * workers
    entries = lock_entries(lock)
    assert list(entries) == sorted(every)
    assert all(entries[k]["sha256"] == hashlib.sha256(k.encode()).hexdigest() for k in entries)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datasets.lock.yaml", "mirror", "raw"]  # no temp files


def write_registry(path, url, **source):
    path.write_text(
        yaml.safe_dump(
            {"files": {"kdd/sample.gz": {"sha256": None, "urls": [dict(url=url, **source)]}}, "datasets": {}}
        )
    )
    return path


def test_a_plain_http_url_must_be_marked_insecure(tmp_path):
    with pytest.raises(RegistryError, match=r"kdd/sample.gz.*http://example.org/x.*insecure"):
        load_registry(write_registry(tmp_path / "a.yaml", "http://example.org/x"))
    marked = load_registry(write_registry(tmp_path / "b.yaml", "http://example.org/x", insecure="no https there"))
    assert marked.file("kdd/sample.gz").sources[0].insecure == "no https there"
    with pytest.raises(RegistryError, match=r"kdd/sample.gz.*https://example.org/x.*insecure"):
        load_registry(write_registry(tmp_path / "c.yaml", "https://example.org/x", insecure="stale mark"))
    with pytest.raises(RegistryError, match=r"kdd/sample.gz.*ftp://example.org/x"):
        load_registry(write_registry(tmp_path / "d.yaml", "ftp://example.org/x"))


def test_the_shipped_registry_uses_https_but_for_marked_sources():
    plain = {s.url.split("/")[2] for f in load_registry().files.values() for s in f.sources if s.insecure}
    assert plain == {"205.174.165.80"}  # CIC-IDS2017's server has no https
