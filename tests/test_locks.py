"""The weights lock across processes: refused while another process holds it, free once that
process has ended, however it ended (no stale lock)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labeler.errors import LabelerError
from labeler.locks import weights_lock

# A process that takes the lock, says so, and holds it until its stdin closes (or, with "die",
# ends at once without letting it go: os._exit skips the clean-up, as a kill -9 would).
HOLDER = """
import os, sys
from pathlib import Path
from labeler.locks import weights_lock
with weights_lock(Path(sys.argv[1]), command="finetune"):
    print("held", flush=True)
    if sys.argv[2] == "die":
        os._exit(0)
    sys.stdin.read()
"""


def _holder(folder: Path, how: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "held\n"
    return process


def test_a_lock_held_by_another_process_is_refused_and_names_it(tmp_path: Path) -> None:
    holder = _holder(tmp_path, "hold")
    try:
        with pytest.raises(LabelerError) as e, weights_lock(tmp_path, command="adapt"):
            pass
        assert str(e.value).startswith(
            f"another `labeler finetune` (process {holder.pid}) is changing this project's weights"
        )
    finally:
        holder.communicate("")  # closes its stdin: it lets the lock go and ends
    with weights_lock(tmp_path, command="adapt"):
        pass


def test_the_lock_of_a_process_that_died_is_free(tmp_path: Path) -> None:
    holder = _holder(tmp_path, "die")
    assert holder.wait() == 0
    with weights_lock(tmp_path, command="adapt"):
        pass
