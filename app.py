"""Launch labeler's browser UI on the bundled demo images, or on a folder given as argument.

    python app.py                 # demo: assets/demo, project in .labeler/demo
    python app.py IMAGES_DIR      # project in .labeler/<folder name>
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from labeler.errors import LabelerError  # noqa: E402
from labeler.project import Project  # noqa: E402
from labeler.ui import serve  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="?", default=str(ROOT / "assets" / "demo"))
    parser.add_argument("--project", default=None, help="project folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    images = Path(args.images).resolve()
    project_dir = Path(args.project) if args.project else ROOT / ".labeler" / images.name
    try:
        project, report = Project.init(project_dir, images=images)
        print(f"{report.images} images ready in {project_dir}", file=sys.stderr)
        with project:
            serve(project, host=args.host, port=args.port)
    except LabelerError as e:
        print(f"labeler: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
