"""Looking at a snapshot of labels and predictions: filtered, sorted pages; counts per class;
what a confidence threshold would accept. Pure functions on arrays: the UI's per-click reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from labeler.errors import LabelerError
from labeler.live import NO_CLASS, Snapshot
from labeler.wording import plural

UNCERTAIN_MARGIN = 0.2  # an unlabeled image is "uncertain" when top-1 minus top-2 is below this
HISTOGRAM_BINS = 20  # confidence bins over [0, 1]

FITS_NO_CLASS = "fits no class"  # unlabeled images flagged out of distribution (labeler.ood)
SHOW = ("unlabeled", "uncertain", FITS_NO_CLASS, "labeled", "all")
SORTS = {  # name -> (key, descending)
    "file name": (None, False),
    "confidence, lowest first": ("conf", False),
    "confidence, highest first": ("conf", True),
    "margin, lowest first": ("margin", False),
    "margin, highest first": ("margin", True),
}
ANY_CLASS = ""


@dataclass(frozen=True)
class Query:
    """Which images to list. `cls` matches the label of labeled images and the prediction of
    unlabeled ones; `rows`, when given, restricts and orders the list (e.g. nearest neighbours).
    """

    show: str = "unlabeled"
    cls: str = ANY_CLASS
    sort: str = "file name"
    page: int = 1
    page_size: int = 48
    rows: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.show not in SHOW:
            raise LabelerError(f"unknown filter {self.show!r}; choose one of {', '.join(SHOW)}")
        if self.sort not in SORTS:
            raise LabelerError(f"unknown sort {self.sort!r}; choose one of {', '.join(SORTS)}")
        if self.page_size < 1:
            raise LabelerError(f"page size must be at least 1, got {self.page_size}")


@dataclass(frozen=True)
class Tile:
    row: int
    path: str
    label: str | None  # expert label
    accepted: bool  # the label is a bulk-accepted prediction
    pred: str | None  # predicted class
    conf: float | None  # its calibrated probability
    ood: bool = False  # unlabeled and fits no class: the prediction is a forced guess


@dataclass(frozen=True)
class Page:
    tiles: list[Tile]
    page: int  # 1-based, clamped to the pages there are
    pages: int
    total: int  # images matching the query


def matching_rows(snap: Snapshot, query: Query) -> np.ndarray:
    """Rows matching `query`, in its order."""
    n = len(snap.label)
    rows = np.arange(n) if query.rows is None else np.asarray(query.rows, dtype=np.int64)
    labeled = snap.label[rows] != NO_CLASS
    if query.show == "unlabeled":
        keep = ~labeled
    elif query.show == "uncertain":
        keep = ~labeled & (snap.margin[rows] < UNCERTAIN_MARGIN)
    elif query.show == FITS_NO_CLASS:
        keep = snap.fits_no_class[rows]
    elif query.show == "labeled":
        keep = labeled
    else:
        keep = np.ones(len(rows), dtype=bool)
    if query.cls != ANY_CLASS:
        k = snap.class_index(query.cls)
        shown = np.where(labeled, snap.label[rows], snap.pred[rows])
        keep &= (shown == k) & (k != NO_CLASS)
    rows = rows[keep]
    key, descending = SORTS[query.sort]
    if key is not None and snap.has_predictions:
        values = getattr(snap, key)[rows]
        order = np.argsort(-values if descending else values, kind="stable")
        rows = rows[order]
    return rows


def page(snap: Snapshot, paths: list[str], query: Query) -> Page:
    """One page of the images matching `query`."""
    rows = matching_rows(snap, query)
    pages = _pages(len(rows), query)
    number = min(max(1, query.page), pages)
    start = (number - 1) * query.page_size
    return _page(snap, paths, rows[start : start + query.page_size], number, pages, len(rows))


@dataclass(frozen=True)
class Trail:
    """The pages of a list turned through, as shown: what ◀ and ▶ go over.

    "The page after the one on screen" is no fixed place in the list: images labeled on a page
    leave an "unlabeled" list (the next page by number would skip as many), and sorted by
    confidence or margin every label refits the model and reorders the list. Turning on shows
    the first images of the list, in its order of now, that no page of the trail showed (the
    least sure left, lowest first); turning back, the trail's pages as they were shown, labeled
    images in their place (a click aimed at a tile lands on it). Turning on skips nothing and
    shows nothing twice.
    """

    query: Query  # the list's query, at page 1: another query starts another trail
    pages: tuple[tuple[int, ...], ...]  # rows of each page, in order shown
    at: int = 0  # the page on screen, 0-based

    @classmethod
    def start(cls, query: Query, rows: Sequence[int]) -> Trail:
        return cls(replace(query, page=1), (tuple(int(r) for r in rows),))

    def follows(self, query: Query) -> bool:
        return self.query == replace(query, page=1)

    @property
    def rows(self) -> tuple[int, ...]:
        return self.pages[self.at]

    def turned(self, snap: Snapshot, *, forward: bool) -> Trail:
        """The trail one page on or back; on from its last page: a new page of the images no
        page showed, or the last page again when there are none."""
        if not forward:
            return replace(self, at=max(0, self.at - 1))
        if self.at + 1 < len(self.pages):
            return replace(self, at=self.at + 1)
        fresh = self._unseen(snap)[: self.query.page_size]
        if not len(fresh):
            return self
        return replace(self, pages=(*self.pages, tuple(fresh.tolist())), at=len(self.pages))

    def redrawn(self, snap: Snapshot, *, back: Sequence[int] = ()) -> Trail:
        """The trail with the rows `back` (an undo brought them back into the list) that no
        page shows put on the page on screen, each before the first tile after it in the list:
        there, not on a page turned past, the expert sees what the undo did. The page's last
        tiles make room, and come on the next new page."""
        unseen = set(back).difference(*self.pages)
        if not unseen:  # no undo, or its images are on a page: nothing to sort (every refit)
            return self
        rank = _ranks(snap, self.query)
        listed = set(matching_rows(snap, self.query).tolist())
        coming = sorted(unseen & listed, key=lambda r: rank[r])
        if not coming:
            return self
        merged: list[int] = []
        for r in self.rows:
            while coming and rank[coming[0]] < rank[r]:
                merged.append(coming.pop(0))
            merged.append(r)
        rows = (merged + coming)[: max(self.query.page_size, len(self.rows))]
        pages = list(self.pages)
        pages[self.at] = tuple(rows)
        return replace(self, pages=tuple(pages))

    def page(self, snap: Snapshot, paths: list[str]) -> Page:
        """The page on screen, numbered along the trail: "page k of n" with n − k pages to turn
        on, the trail's later pages and then the images no page has shown."""
        total = len(matching_rows(snap, self.query))
        pages = len(self.pages) + -(-len(self._unseen(snap)) // self.query.page_size)
        return _page(snap, paths, self.rows, self.at + 1, pages, total)

    def _unseen(self, snap: Snapshot) -> np.ndarray:
        """Rows of the list, in its order of now, that no page of the trail showed."""
        rows = matching_rows(snap, self.query)
        seen = np.fromiter((r for p in self.pages for r in p), dtype=np.int64)
        return rows[~np.isin(rows, seen)]


def _ranks(snap: Snapshot, query: Query) -> np.ndarray:
    """Each row's place in the query's order with no filter (-1: not in it, as rows outside
    `query.rows`); a filtered list is in the same order."""
    everything = matching_rows(snap, replace(query, show="all", cls=ANY_CLASS))
    rank = np.full(len(snap.label), -1, dtype=np.int64)
    rank[everything] = np.arange(len(everything))
    return rank


def _pages(total: int, query: Query) -> int:
    return max(1, -(-total // query.page_size))


def _page(
    snap: Snapshot, paths: list[str], rows: Sequence[int], number: int, pages: int, total: int
) -> Page:
    return Page([tile(snap, paths, int(r)) for r in rows], page=number, pages=pages, total=total)


def tile(snap: Snapshot, paths: list[str], row: int) -> Tile:
    label = int(snap.label[row])
    pred = int(snap.pred[row])
    return Tile(
        row=row,
        path=paths[row],
        label=None if label == NO_CLASS else snap.classes[label],
        accepted=bool(snap.accepted[row]),
        pred=None if pred == NO_CLASS else snap.classes[pred],
        conf=None if pred == NO_CLASS else float(snap.conf[row]),
        ood=bool(snap.fits_no_class[row]),
    )


def top_predictions(snap: Snapshot, row: int, k: int = 3) -> list[tuple[str, float]]:
    """The k most probable classes of one image, as (class, probability)."""
    if snap.proba is None:
        return []
    p = snap.proba[row]
    return [(snap.classes[c], float(p[c])) for c in np.argsort(-p)[:k] if p[c] > 0]


@dataclass(frozen=True)
class ClassCount:
    name: str
    human: int  # labeled by hand
    accepted: int  # bulk-accepted predictions
    auto: int  # unlabeled images predicted as this class


def class_counts(snap: Snapshot) -> list[ClassCount]:
    """Per class: hand labels, accepted predictions, and auto-labels as the export gives them
    (not the guesses of images that fit no class, exported with no label)."""
    c = len(snap.classes)
    hand = snap.labeled & ~snap.accepted
    auto = ~snap.labeled & (snap.pred != NO_CLASS) & ~snap.fits_no_class
    human = np.bincount(snap.label[hand], minlength=c)
    accepted = np.bincount(snap.label[snap.accepted], minlength=c)
    predicted = np.bincount(snap.pred[auto], minlength=c)
    return [
        ClassCount(name, int(human[k]), int(accepted[k]), int(predicted[k]))
        for k, name in enumerate(snap.classes)
    ]


@dataclass(frozen=True)
class Acceptance:
    """What accepting every unlabeled prediction at or above `threshold` would do."""

    threshold: float
    rows: np.ndarray  # (M,) rows that would be accepted
    per_class: dict[str, tuple[int, float]]  # class -> (count, estimated precision)
    uncalibrated: tuple[str, ...] = ()  # predicted classes with a single hand label
    ood: int = 0  # images at or above the threshold left out: they fit no class
    ood_short: int = 0  # labels still needed before any image can fit no class (Snapshot)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def needs_confirmation(self) -> bool:
        """Whether the estimated precision may be far off, so that a bulk accept must be
        confirmed: images of unlabeled kinds cannot be left out yet, or some class's confidences
        are uncalibrated. (In a QA run on a pool of kinds nobody had labeled, 47 images were
        offered at an estimated 96% precision; none was right.)"""
        return bool(self.ood_short or self.uncalibrated)

    @property
    def caution(self) -> str:
        """Why the estimated precision may be far off, '' when it is not."""
        why = [ood_off(self.ood_short)] if self.ood_short else []
        if self.uncalibrated:
            one = ", ".join(self.uncalibrated)
            why.append(
                f"{one} {'has one label' if len(self.uncalibrated) == 1 else 'have one label each'}"
            )
        return "; ".join(why)

    @property
    def precision(self) -> float:
        """Estimated precision: the mean calibrated confidence of the accepted predictions."""
        total = sum(n for n, _ in self.per_class.values())
        if total == 0:
            return float("nan")
        return sum(n * p for n, p in self.per_class.values()) / total


def acceptance(snap: Snapshot, threshold: float, cls: str = ANY_CLASS) -> Acceptance:
    """Unlabeled predictions with confidence >= threshold (of one class, or all), except images
    that fit no class (`predict` flags them too: they are not forced into one; until enough
    labels are held out, none can be flagged, and `ood_short` says how many more)."""
    if not 0.0 <= threshold <= 1.0:
        raise LabelerError(f"the threshold must be between 0 and 1, got {threshold}")
    keep = ~snap.labeled & (snap.pred != NO_CLASS) & (snap.conf >= threshold)
    if cls != ANY_CLASS:
        keep &= snap.pred == snap.class_index(cls)
    ood = keep & snap.fits_no_class
    rows = np.flatnonzero(keep & ~ood)
    per_class = {}
    for k, name in enumerate(snap.classes):
        mine = rows[snap.pred[rows] == k]
        if len(mine):
            per_class[name] = (len(mine), float(snap.conf[mine].mean()))
    return Acceptance(
        threshold=threshold,
        rows=rows,
        per_class=per_class,
        uncalibrated=uncalibrated(snap),
        ood=int(ood.sum()),
        ood_short=snap.ood_short,
    )


def ood_off(short: int) -> str:
    """What says that no image can be flagged as fitting no class yet (`Snapshot.ood_short`)."""
    return f"{FITS_NO_CLASS} is off until {plural(short, 'more label')}"


def uncalibrated(snap: Snapshot) -> tuple[str, ...]:
    """Classes the model predicts from a single hand label. A class's labels are checked (and
    the confidences calibrated) on held-out labels, which needs two labels of the class."""
    if not snap.has_predictions:
        return ()
    hand = np.bincount(snap.label[snap.labeled & ~snap.accepted], minlength=len(snap.classes))
    return tuple(name for name, n in zip(snap.classes, hand, strict=True) if n == 1)


def confidence_histograms(snap: Snapshot) -> dict[str, np.ndarray]:
    """Per class, (HISTOGRAM_BINS,) counts of unlabeled images predicted as it, by confidence."""
    if not snap.has_predictions:
        return {}
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    auto = ~snap.labeled
    return {
        name: np.histogram(snap.conf[auto & (snap.pred == k)], bins=edges)[0]
        for k, name in enumerate(snap.classes)
    }
