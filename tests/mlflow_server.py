"""A real `mlflow server` on loopback for tests: sqlite backend and artifacts in a given directory,
the same command as `make mlflow-server`. Stopped by pid when the block ends, also on failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def mlflow_server(directory: Path, timeout_s: float = 120):
    """Yield the server's URI (http://127.0.0.1:<port>) once it answers /health."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--backend-store-uri",
        f"sqlite:///{directory.resolve() / 'mlflow.db'}",
        "--artifacts-destination",
        str(directory.resolve() / "artifacts"),
    ]
    log = open(directory / "server.log", "w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start: see {directory / 'server.log'}")
            time.sleep(0.5)
        yield uri
    finally:
        stop(server)
        log.close()


def stop(server: subprocess.Popen) -> None:
    """TERM to the server's process group (it and its workers), KILL if it lingers."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
