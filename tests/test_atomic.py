"""Project files written atomically: a failed write names the file, leaves the old one as it was
and no temporary behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from labeler.atomic import atomic_file
from labeler.errors import LabelerError


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    file = tmp_path / "index.faiss"
    file.write_bytes(b"old")
    with pytest.raises(LabelerError) as e, atomic_file(file) as f:
        f.write(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(e.value) == (
        f"cannot write {file} (no space left on device); check that the project folder is "
        "writable and its disk not full, then run the command again"
    )
    assert file.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.faiss"]


def test_a_complete_write_replaces_the_file(tmp_path: Path) -> None:
    file = tmp_path / "knn_graph.npz"
    file.write_bytes(b"old")
    with atomic_file(file) as f:
        f.write(b"new")
    assert file.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["knn_graph.npz"]
