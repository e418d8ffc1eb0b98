"""What the browser UI does with a project, as plain methods that unit tests reach directly.

A `Workbench` (from `Project.workbench()`) is shared by every browser session of one server: it
holds the live predictions (`labeler.live`) and the 2-D map, pages through images
(`labeler.browse`), and makes label and class edits that can be undone (`labeler.edits`).
Per-user and per-session state (the undo history, the review queue) belongs to the caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from labeler import browse, edits
from labeler.active import Pool, Suggestion, create_strategy
from labeler.active.strategies import UNCERTAIN
from labeler.datamap import Projection, project_2d
from labeler.errors import LabelerError
from labeler.estimates import AccuracyCheck
from labeler.heads import DEFAULT_METHOD
from labeler.live import LiveModel, Snapshot
from labeler.store.annotator import accepted_annotator
from labeler.wording import plural

if TYPE_CHECKING:
    from labeler.project import Project
    from labeler.vectors import Vectors

_GENERATIONS = itertools.count()  # each workbench's number: sessions notice a rebuilt one


@dataclass(frozen=True)
class Details:
    """One image, for the large preview."""

    row: int
    path: str
    label: str | None
    accepted: bool
    top: list[tuple[str, float]]  # most probable classes first
    ood: bool  # unlabeled and fits no class (browse.Tile.ood)
    history: list[tuple[str | None, str, str]]  # (label or None if removed, annotator, at)


@dataclass(frozen=True)
class ReviewItem:
    row: int
    path: str
    picked: Suggestion  # the active-learning strategy's pick, with why it was chosen

    def reason(self, top: Sequence[tuple[str, float]]) -> str:
        """Why it was chosen, with the model's view written from `top` (class, probability),
        most probable first: the prediction shown beside it, which refits change since. Picked
        for the model's doubt, it says so of the pick ("uncertain when picked; model now: …"):
        the model may be sure of it by now."""
        uncertain = self.picked.lead == UNCERTAIN
        lead = f"{UNCERTAIN} when picked; model now" if uncertain else None
        return self.picked.reason_with(top, percent=True, lead=lead)


@dataclass(frozen=True)
class Undone:
    """What an undo did: a sentence saying so, and the rows of the images whose labels it
    restored (to show them: the expert undid to look at them again)."""

    said: str
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Counts:
    """The header's and the Classes table's counts, as the export has them.

    classes: per class in use; `auto` counts only the predictions the export gives as its
        label, not those of images that fit no class.
    fits_no_class: unlabeled images that fit no class: exported as auto rows with no label.
    """

    classes: list[browse.ClassCount]
    fits_no_class: int


def class_counts(snap: Snapshot) -> Counts:
    """The counts of `snap` (see `Counts`)."""
    return Counts(classes=browse.class_counts(snap), fits_no_class=int(snap.fits_no_class.sum()))


class Workbench:
    def __init__(self, project: Project, vectors: Vectors) -> None:
        self.project = project
        self.vectors = vectors
        self.method = project.live_method()
        self.live = LiveModel(
            project.store,
            vectors.item_ids,
            vectors.paths,
            vectors.raw,
            fit=partial(project.fit_rows, self.method),
        )
        self._sides = {it.path: max(it.width, it.height) for it in project.store.items()}
        self._copies = _copies(vectors.hashes)
        self._projection: Projection | None = None
        self.generation = next(_GENERATIONS)
        self.missing_files = 0  # as of the last check_files()

    @property
    def paths(self) -> list[str]:
        return self.live.paths

    def snapshot(self) -> Snapshot:
        return self.live.snapshot()

    def row(self, path: str) -> int:
        try:
            return self.live.row_of_path[path]
        except KeyError:
            raise LabelerError(f"{path!r} is not an image of this project") from None

    def has(self, path: str) -> bool:
        return path in self.live.row_of_path

    def check_files(self) -> int:
        """Count (and remember in `missing_files`) the images gone from the folder since the
        last scan. A stat per image: run on page load, not per edit."""
        root = self.project.images_root
        self.missing_files = sum(not (root / p).is_file() for p in self.paths)
        return self.missing_files

    def longest_side(self, path: str) -> int:
        """Width or height of the image, whichever is larger, in pixels."""
        return self._sides.get(path, 0)

    def image_file(self, path: str) -> Path | None:
        """The file of image `path` if it is one of this project's and inside its images root."""
        if not self.has(path):
            return None
        root = self.project.images_root.resolve()
        file = (root / path).resolve()
        return file if file.is_relative_to(root) and file.is_file() else None

    # -- reading -----------------------------------------------------------------------------------

    def page(self, query: browse.Query) -> browse.Page:
        return browse.page(self.snapshot(), self.paths, query)

    def details(self, path: str) -> Details:
        row = self.row(path)
        snap = self.snapshot()
        t = browse.tile(snap, self.paths, row)
        history = self.project.store.label_history(int(self.live.item_ids[row]))
        return Details(
            row=row,
            path=path,
            label=t.label,
            accepted=t.accepted,
            top=browse.top_predictions(snap, row),
            ood=t.ood,
            history=[tuple(h) for h in history],
        )

    def similar_rows(self, path: str, k: int) -> tuple[int, ...]:
        """Rows of the k images nearest `path` in the FAISS index, nearest first."""
        return tuple(self.row(p) for p, _ in self.project.similar(path, k=k))

    def projection(self) -> Projection:
        if self._projection is None:
            self._projection = project_2d(self.vectors.unit)
        return self._projection

    def accuracy_check(self) -> AccuracyCheck:
        """The check of the auto-labels of the head on screen from the hand labels now (made
        and recorded first if it is new: refits out of fold, slow), with the learning curve."""
        return self.project.accuracy_check(method=self.method)

    def review_batch(self, n: int, *, exclude: Sequence[str] = ()) -> list[ReviewItem]:
        """Up to n unlabeled images, skipping `exclude`: those of the project's `suggest`, picked
        from the predictions on screen (the same fit on the hand labels, not a second one)."""
        snap = self.snapshot()
        labels = snap.label.astype(np.int64)
        pool = Pool(self.vectors.unit, snap.labeled, snap.proba, snap.classes, labels=labels)
        skip = [self.row(p) for p in exclude if self.has(p)]
        got = create_strategy().suggest(pool, n, exclude=skip)
        return [ReviewItem(s.index, self.paths[s.index], s) for s in got]

    # -- editing -----------------------------------------------------------------------------------

    def _item(self, row: int) -> int:
        return int(self.live.item_ids[row])

    def assign(self, paths: Sequence[str], name: str, *, annotator: str) -> edits.Edit:
        """Label the images `paths` as class `name` (created if new). An edit of one image
        names it ("labeled img_0007.png as coat"), and so does its undo."""
        changes = [(self._item(self.row(p)), name) for p in paths]
        edit = edits.assign(self.project.store, changes, annotator=annotator)
        if len(edit.previous) == 1:
            ((item, was, label),) = edit.previous
            path = self.paths[self.live.row_of_id[item]]
            note = f" (it was {was})" if was not in (None, label) else ""
            edit = replace(edit, description=f"labeled {path} as {label}{note}")
        return edit

    def replaced_unseen(
        self, seen: Mapping[int, str | None], edit: edits.Edit
    ) -> list[tuple[str, str | None]]:
        """(path, label it had) of each label `edit` replaced that was not the one a page
        showed, `seen` ({row: label as drawn}): another session set it since the page was
        drawn (a second tab, another expert)."""
        row_of = self.live.row_of_id
        return [
            (self.paths[row_of[item]], was)
            for item, was, _ in edit.previous
            if row_of.get(item) in seen and seen[row_of[item]] != was
        ]

    def accept(
        self,
        threshold: float,
        cls: str,
        *,
        annotator: str,
        confirmed: bool = False,
        seen: tuple[int, str] | None = None,
    ) -> edits.Edit:
        """Turn every unlabeled prediction >= threshold (of class `cls`, or all) into a label
        whose annotator records that it was accepted, not labeled by hand. Where the estimated
        precision may be far off (`Acceptance.needs_confirmation`), only when `confirmed`.
        `seen`: the label version of the figures the expert decided on (`Snapshot.version`);
        refused when the labels changed since, which refit the model: the count and precision
        on screen are no longer what would be accepted."""
        snap = self.snapshot()
        if seen is not None and tuple(seen) != snap.version:
            raise LabelerError(
                "the labels changed after the figures on screen were drawn (another expert, or "
                "the command line), and the model was refitted: what would be accepted is not "
                "what they show. Look at the figures drawn now, then accept again"
            )
        a = browse.acceptance(snap, threshold, cls)
        rows = a.rows
        if len(rows) == 0:
            raise LabelerError(f"no unlabeled prediction has confidence ≥ {threshold:.2f}")
        if a.needs_confirmation and not confirmed:
            raise LabelerError(
                f"the estimated precision may be far off ({a.caution}): tick 'Accept anyway' "
                "once you have looked for images of kinds you have not labeled"
            )
        changes = [(self._item(int(r)), snap.classes[snap.pred[r]]) for r in rows]
        return edits.assign(
            self.project.store,
            changes,
            annotator=accepted_annotator(annotator),
            description=(
                f"accepted {plural(len(rows), 'prediction')} with confidence ≥ {threshold:.2f}"
            ),
        )

    def copies_labeled_otherwise(self, edit: edits.Edit) -> list[tuple[str, str, str]]:
        """(path, copy's path, copy's label) for each image that `edit` labeled whose content, byte
        for byte, is also in a file labeled as another class (one of the two labels is wrong,
        and the heads are fitted on both); the first such copy of each image."""
        row_of, hashes = self.live.row_of_id, self.vectors.hashes
        given = {row_of[i]: label for i, _, label in edit.previous if label and i in row_of}
        mates = {
            r: [m for m in self._copies[hashes[r]] if m != r]
            for r in given
            if hashes[r] in self._copies
        }
        now = self.project.store.labels_of([self._item(m) for ms in mates.values() for m in ms])
        out = []
        for r, ms in mates.items():
            other = [
                (m, now[self._item(m)]) for m in ms if now.get(self._item(m), given[r]) != given[r]
            ]
            if other:
                out.append((self.paths[r], self.paths[other[0][0]], other[0][1]))
        return out

    def create_class(self, name: str) -> edits.Edit:
        return edits.create_class(self.project.store, name)

    def rename_class(self, old: str, new: str, *, annotator: str) -> edits.Edit:
        return edits.rename_class(self.project.store, old, new, annotator=annotator)

    def merge_classes(self, source: str, target: str, *, annotator: str) -> edits.Edit:
        return edits.merge_classes(self.project.store, source, target, annotator=annotator)

    def delete_class(self, name: str, *, annotator: str) -> edits.Edit:
        return edits.delete_class(self.project.store, name, annotator=annotator)

    def undo(self, edit: edits.Edit, *, annotator: str) -> Undone:
        store, ids = self.project.store, self.live.row_of_id
        said = edits.undo(store, edit, annotator=annotator)
        now = store.labels_of([i for i, _, _ in edit.previous])  # another's label was kept
        rows = tuple(ids[i] for i, was, _ in edit.previous if i in ids and now.get(i) == was)
        return Undone(said[0].upper() + said[1:], rows)

    # -- export ------------------------------------------------------------------------------------

    def _predictions_current(self) -> bool:
        """Whether the stored run is what `predict` (its defaults) would store now."""
        run = self.project.store.latest_run()
        return (
            run is not None
            and run.method == DEFAULT_METHOD
            and self.project.stale_predictions() is None
        )

    def export(self, out: Path | str) -> int:
        """Store `predict`'s predictions from the current labels (when two classes have some,
        unless the stored ones are those already: a refit of a big project takes a while), then
        write the export CSV; returns its row count."""
        snap = self.snapshot()
        if len(np.unique(snap.label[snap.labeled])) >= 2 and not self._predictions_current():
            self.project.predict(progress=False)  # a server's log is no terminal
        return self.project.export_csv(out)


def _copies(hashes: Sequence[str]) -> dict[str, list[int]]:
    """{content hash: its rows} of the contents that more than one file holds."""
    rows: dict[str, list[int]] = {}
    for r, h in enumerate(hashes):
        rows.setdefault(h, []).append(r)
    return {h: r for h, r in rows.items() if len(r) > 1}
