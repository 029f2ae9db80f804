import os
import stat

import pytest

from vidseg.core.atomic import atomic_path


def test_complete_file_with_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "sub" / "out.bin") as tmp:
            assert os.path.dirname(tmp) == str(tmp_path / "sub")
            open(tmp, "wb").write(b"data")
            assert not (tmp_path / "sub" / "out.bin").exists()
    finally:
        os.umask(old)
    target = tmp_path / "sub" / "out.bin"
    assert target.read_bytes() == b"data" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(tmp_path / "sub") == ["out.bin"]


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            open(tmp, "wb").write(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]


def test_a_writer_killed_mid_write_leaves_the_old_file_and_the_next_write_cleans_up(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "table.parquet"
    target.write_bytes(b"old")
    code = (
        "import os, signal\n"
        "from vidseg.core.atomic import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    open(tmp, 'wb').write(b'half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -9
    left = [p.name for p in tmp_path.iterdir() if p.name != "table.parquet"]
    assert target.read_bytes() == b"old" and len(left) == 1 and left[0].startswith(".table.parquet.")
    with atomic_path(target) as tmp:
        open(tmp, "wb").write(b"new")
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["table.parquet"]
