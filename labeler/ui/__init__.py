"""The browser UI (Gradio Blocks): layout and wiring only; every handler calls the facade.

This first page shows the project's state and a paged gallery of images with their labels, and
downloads the export CSV.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from labeler.project import Project

PAGE_SIZE = 48  # images sent to the browser at once

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _status_markdown(project: Project) -> str:
    s = project.status()
    classes = ", ".join(s["classes"]) or "none yet"
    return (
        f"**{s['images']}** images in `{s['images_root']}` · model `{s['model']}` · "
        f"**{s['labeled']}** labeled · classes: {classes} · {s['skipped']} files skipped · "
        f"last prediction: {s['last_prediction'] or 'none'}"
    )


def _gallery_page(project: Project, page: int) -> list[tuple[str, str]]:
    rows = project.export_rows()
    start = max(0, int(page) - 1) * PAGE_SIZE
    root = project.images_root
    out = []
    for row in rows[start : start + PAGE_SIZE]:
        caption = row.get("label") or "unlabeled"
        if row.get("source") == "auto":
            caption = f"{caption} ({row['confidence']:.0%})"
        out.append((str(root / row["path"]), caption))
    return out


def build_app(project: Project):
    """The Blocks app for one open project."""
    import gradio as gr

    n_pages = max(1, -(-project.status()["images"] // PAGE_SIZE))
    with gr.Blocks(title="labeler") as app:
        gr.Markdown("## labeler")
        status = gr.Markdown(_status_markdown(project))
        page = gr.Slider(1, n_pages, value=1, step=1, label="Page")
        gallery = gr.Gallery(
            value=_gallery_page(project, 1), columns=8, height="auto", object_fit="contain"
        )
        with gr.Row():
            export_btn = gr.Button("Export CSV")
            export_file = gr.File(label="Export", interactive=False)

        page.change(lambda p: _gallery_page(project, p), page, gallery)

        def export() -> tuple[str, str]:
            out = Path(tempfile.mkdtemp(prefix="labeler-export-")) / "labels.csv"
            project.export_csv(out)
            return str(out), _status_markdown(project)

        export_btn.click(export, None, [export_file, status])
    return app


def serve(project: Project, *, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the UI until interrupted; only the project's images folder is served."""
    build_app(project).launch(
        server_name=host,
        server_port=port,
        allowed_paths=[str(project.images_root)],
        footer_links=[],
    )
