"""Outputs are readable like any file the user writes: their mode follows the umask (mkstemp and
mkdtemp create 0600 / 0700, which colleagues on a shared cluster could not read)."""

import os
import stat

import pandas as pd
import pytest

from iotad.io import atomic_dir, write_json, write_parquet


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_and_directories_get_the_mode_a_plain_write_would(tmp_path, umask):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what the user's own tools would create: the oracle
    os.mkdir(tmp_path / "plain_dir")
    write_json({"a": 1}, tmp_path / "out.json")
    write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "out.parquet")
    with atomic_dir(tmp_path / "model") as directory:
        (directory / "weights.bin").write_bytes(b"w")
    assert mode(tmp_path / "out.json") == mode(plain) == 0o666 & ~umask
    assert mode(tmp_path / "out.parquet") == mode(plain)
    assert mode(tmp_path / "model") == mode(tmp_path / "plain_dir") == 0o777 & ~umask
    assert mode(tmp_path / "model" / "weights.bin") == mode(plain)


def test_a_killed_writers_temporaries_are_removed_by_the_next_write(tmp_path):
    from iotad.io import atomic_dir, atomic_path

    dest = tmp_path / "fig[1].png"  # glob characters in the name are taken literally
    (tmp_path / ".fig[1].png.ab12cd_3.tmp").write_bytes(b"half")
    (tmp_path / ".fig[1].png.ef34gh_4.tmp").mkdir()
    (tmp_path / ".other.png.ab12cd.tmp").write_bytes(b"another output's")
    (tmp_path / ".fig[1].png.meta.ab12cd12.tmp").write_bytes(b"the temporary of output fig[1].png.meta")
    with atomic_path(dest) as tmp:
        tmp.write_bytes(b"whole")
    model = tmp_path / "model"
    (tmp_path / ".model.zz99yy88.tmp").mkdir()
    with atomic_dir(model) as tmp:
        (tmp / "x").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".fig[1].png.meta.ab12cd12.tmp",
        ".other.png.ab12cd.tmp",
        "fig[1].png",
        "model",
    ]
