import gzip
import hashlib
import http.server
import socket
import threading
import zipfile
from functools import partial

import pytest

from iotad.download import DownloadError, content_sha256, fetch, mirror_dirs
from iotad.registry import FileSpec, Source

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
    with pytest.raises(DownloadError, match=rf"kdd/sample.gz from .*\(expected sha256 {SHA}\): .*truncated or corrupt gzip"):
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
