"""The HTTP server: the Gradio page, plus a route that serves the project's images and nothing
else. Binds 127.0.0.1 unless told otherwise; with `auth`, images need the same login as the page.
"""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from starlette.routing import Mount

from labeler.export import EXPORTS_DIR
from labeler.ingest.decode import load_image
from labeler.project import Project
from labeler.ui import build_app
from labeler.ui.layout import KEY_CLASS
from labeler.ui.settings import (
    IMAGE_ROUTE,
    PALETTE,
    THUMBNAIL_SIDE,
    WEB_IMAGE_MAX_BYTES,
    WEB_IMAGE_SUFFIXES,
)
from labeler.ui.views import slot_class
from labeler.wording import plural

ASSETS = Path(__file__).parent / "assets"
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
IMAGE_HEADERS = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}


def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts only: the page loads no font from anywhere."""
    return gr.themes.Default(
        primary_hue="blue", neutral_hue="slate", font=SYSTEM_FONTS, font_mono=MONO_FONTS
    )


def key_css() -> str:
    """Each number-key button carries its class colour, as the grid's chips do: the handlers
    give it the CSS class of the class's slot (`views.slot_class`)."""
    return "\n".join(
        f"button.{KEY_CLASS}.{slot_class(slot)} {{ box-shadow: inset 4px 0 0 {colour}; }}"
        for slot, colour in enumerate(PALETTE)
    )


def image_response(file: Path) -> Response:
    """The file itself when browsers show it and it is small; else a PNG thumbnail."""
    if file.suffix.lower() in WEB_IMAGE_SUFFIXES and file.stat().st_size <= WEB_IMAGE_MAX_BYTES:
        return FileResponse(file, headers=IMAGE_HEADERS)
    image = load_image(file)
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Response(buffer.getvalue(), media_type="image/png", headers=IMAGE_HEADERS)


def _gradio_user(app: FastAPI, request: Request) -> str | None:
    """The user logged in to the mounted Gradio app (its login cookie), or None."""
    gradio_app = next(r.app for r in app.routes if isinstance(r, Mount))
    cookie_id = gradio_app.cookie_id
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )
    return gradio_app.tokens.get(token)


def create_server(project: Project, *, auth: list[tuple[str, str]] | None = None) -> FastAPI:
    """The ASGI app: GET /images/<relative path> for the project's images, the UI at /."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    project.workbench()  # built before the first request, not by two sessions at once

    @app.get(f"/{IMAGE_ROUTE}/{{path:path}}")
    def image(path: str, request: Request) -> Response:
        if auth and _gradio_user(app, request) is None:
            return Response("log in first", status_code=401)
        file = project.workbench().image_file(path)
        if file is None:
            return Response("not an image of this project", status_code=404)
        return image_response(file)

    exports = project.path / EXPORTS_DIR
    exports.mkdir(exist_ok=True)
    return gr.mount_gradio_app(
        app,
        build_app(project),
        path="",
        auth=auth,
        auth_message="labeler: log in; your name is recorded with each label you make.",
        allowed_paths=[str(exports.resolve())],
        footer_links=[],
        show_error=True,
        theme=theme(),
        css=key_css(),
        css_paths=[ASSETS / "style.css"],
        js=(ASSETS / "keys.js").read_text(encoding="utf-8"),
    )


def log_to_stderr() -> None:
    """The UI's log lines (a refused action is one line) on stderr, as "labeler: ..."."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("labeler: %(message)s"))
    logger = logging.getLogger("labeler.ui")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def run(
    project: Project, *, host: str, port: int, auth: list[tuple[str, str]] | None = None
) -> None:
    """Serve until interrupted."""
    app = create_server(project, auth=auth)
    log_to_stderr()
    shown = f"[{host}]" if ":" in host else host
    login = f", login required ({plural(len(auth), 'user')})" if auth else ""
    print(f"labeler: serving {project.path} on http://{shown}:{port}{login}", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
