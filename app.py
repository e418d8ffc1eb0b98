"""Launch labeler's browser UI on the bundled demo images, or on a folder given as argument.

python app.py                 # demo: assets/demo
python app.py IMAGES_DIR      # project in .labeler/<folder name>-<hash of the folder's path>
python app.py IMAGES_DIR --project runs/cells --port 7861 --auth ana:secret
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PROJECTS = ROOT / ".labeler"  # where the projects of folders given without --project go
sys.path.insert(0, str(ROOT))

from labeler import config  # noqa: E402
from labeler.cli import EXIT_ERROR, check_serve  # noqa: E402
from labeler.cliargs import add_serve_arguments  # noqa: E402
from labeler.errors import LabelerError  # noqa: E402
from labeler.project import Project  # noqa: E402
from labeler.ui import serve  # noqa: E402

PATH_DIGEST_CHARS = 8  # of the SHA-256 of a folder's path, in the name of its default project


def default_project(images: Path, home: Path = PROJECTS) -> Path:
    """The project folder of the images folder `images` (resolved) under `home`: named after
    the folder and a hash of its whole path, so that folders of one name (…/2023/export and
    …/2024/export) get a project each. A project at the older place, home/<folder name>, stays
    in use when it was made on this very folder."""
    older = home / images.name
    if _images_root(older) == images:
        return older
    digest = hashlib.sha256(os.fsencode(images)).hexdigest()[:PATH_DIGEST_CHARS]
    return home / f"{images.name}-{digest}"


def _images_root(project: Path) -> Path | None:
    """The images folder that the project at `project` was made on; None if there is none."""
    if not (project / config.DB_NAME).is_file():
        return None
    try:
        with Project(project) as p:
            return p.images_root
    except LabelerError:  # never finished, damaged: not a project to go on with
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "images",
        nargs="?",
        default=str(ROOT / "assets" / "demo"),
        help="folder of images (default: the bundled demo set)",
    )
    parser.add_argument(
        "--project",
        default=None,
        help=f"project folder (default: in {PROJECTS}, named after the images folder)",
    )
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    images = Path(args.images).expanduser().resolve()
    project_dir = Path(args.project) if args.project else default_project(images)
    try:
        accounts = check_serve(args)  # before the scan, which can take minutes
        project, report = Project.init(project_dir, images=images)
        print(f"{report.images} images ready in {project_dir}", file=sys.stderr)
        with project:
            serve(project, host=args.host, port=args.port, auth=accounts)
    except LabelerError as e:
        print(f"labeler: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
