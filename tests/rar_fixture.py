"""Write small RAR 4.x archives for tests.

No free tool can *create* RAR archives (``rar`` is non-free; ``unar`` and
``rarfile`` only read them), yet the N-BaIoT data ships as ``.rar`` files and
the loader reads them through ``rarfile`` + ``unar``.  To exercise that path
with a real archive, this module writes the uncompressed ("store", method
0x30) variant of the RAR 1.5-4 format described in RARLAB's technote:
marker block, main header (0x73), one file header (0x74) + data per member,
and the end-of-archive block (0x7b).
"""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

MARKER = b"Rar!\x1a\x07\x00"
HOST_WIN32, UNP_VER, METHOD_STORE, ATTR_ARCHIVE = 2, 20, 0x30, 0x20
LONG_BLOCK, SKIP_IF_UNKNOWN = 0x8000, 0x4000


def _block(head_type: int, flags: int, body: bytes) -> bytes:
    """Header block: HEAD_CRC, then HEAD_TYPE, HEAD_FLAGS, HEAD_SIZE, body."""
    rest = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest


def _dos_time(t: float) -> int:
    y, mo, d, h, mi, s = time.localtime(t)[:6]
    return (max(y - 1980, 0) << 25) | (mo << 21) | (d << 16) | (h << 11) | (mi << 5) | (s // 2)


def write_stored_rar(path, members: dict[str, bytes]) -> None:
    """Write ``members`` (archive name -> bytes) to ``path`` as a stored RAR 4.x archive."""
    out = [MARKER, _block(0x73, 0, b"\x00" * 6)]  # RESERVED1 (2) + RESERVED2 (4)
    ftime = _dos_time(time.time())
    for name, data in members.items():
        raw = name.replace("/", "\\").encode("ascii")  # RAR 4 stores "\" separators
        if len(data) >= 2**32:
            raise ValueError(f"{name}: members >= 4 GiB are not supported")
        body = (
            struct.pack(
                "<IIBIIBBHI",
                len(data),
                len(data),
                HOST_WIN32,
                zlib.crc32(data),
                ftime,
                UNP_VER,
                METHOD_STORE,
                len(raw),
                ATTR_ARCHIVE,
            )
            + raw
        )
        out += [_block(0x74, LONG_BLOCK, body), data]
    out.append(_block(0x7B, SKIP_IF_UNKNOWN, b""))
    Path(path).write_bytes(b"".join(out))
