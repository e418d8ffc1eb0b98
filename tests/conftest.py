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
