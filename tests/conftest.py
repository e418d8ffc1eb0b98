"""Shared fixtures: the fake embedder is registered as backbone "fake" for every test."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import register_fake
from imagegen import write_colour_set

register_fake()


@pytest.fixture
def colour_images(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder of 3 planted colour classes x 8 images, and {relative path: class}."""
    folder = tmp_path / "images"
    return folder, write_colour_set(folder, 8)


@pytest.fixture
def project(tmp_path: Path, colour_images):
    """A project initialised on colour_images with the fake embedder."""
    from labeler.project import Project

    folder, _ = colour_images
    p, _ = Project.init(tmp_path / "proj", images=folder, backbone="fake", progress=False)
    yield p
    p.close()


@pytest.fixture
def proj(tmp_path: Path, colour_images, capsys) -> Path:
    """A project made by `labeler init` (in-process, fake embedder) on colour_images."""
    from labeler.cli import main

    folder, _ = colour_images
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--images", str(folder), "--backbone", "fake"]) == 0
    capsys.readouterr()
    return proj


@pytest.fixture
def error_line(capsys):
    """() → the one `labeler: error` line that a failed command printed on stderr."""

    def read() -> str:
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("labeler: error: "), err
        return err[0]

    return read
