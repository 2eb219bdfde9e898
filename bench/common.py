"""Shared by the benchmark scripts: run Python code in a fresh process and read its peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run_child(code: str, *args: str) -> tuple[dict, float]:
    """Run ``code`` with ``args`` in a fresh interpreter; return (the JSON it prints, peak RSS in MiB)."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child alone
    out = proc.stdout.read()
    proc.stdout.close()
    if status != 0:
        raise SystemExit(f"benchmark child {args} failed (status {status})")
    return json.loads(out), usage.ru_maxrss / 1024  # ru_maxrss is KiB on Linux
