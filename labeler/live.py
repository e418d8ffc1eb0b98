"""Labels and predictions of every image, held in memory for the browser UI.

One `LiveModel` per open project is shared by every browser session of a server. It keeps the
expert labels as an array over the project's cached vectors and refits a head whenever the labels
change (in this process or any other: the store's label version is checked on each read), so each
click sees fresh predictions without rebuilding anything per image. The project passes the fit
it uses for `predict` (`Project.fit_rows`), so what the UI shows is what the export holds.
Predictions accepted in bulk are labels, but the head is fitted on hand labels only: accepted
predictions are the easy cases, and training or calibrating on them would inflate confidence.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from labeler.autolabel import Fitter
from labeler.calibrate import top2_scores
from labeler.heads import pool_graph
from labeler.ood import OodDetector
from labeler.store import Store
from labeler.store.annotator import is_accepted

NO_CLASS = -1


@dataclass(frozen=True)
class Snapshot:
    """Labels and predictions at one label version. Arrays are (N,), rows of `LiveModel.paths`.

    slots: per class, a small number that stays its own while it is in use (`class_slots`):
        the UI colours a class by it, so deleting a class recolours no other.
    label: class index of the expert label, NO_CLASS where unlabeled.
    accepted: True where the label is a bulk-accepted prediction.
    pred: predicted class index, NO_CLASS while fewer than two classes have labels.
    conf: calibrated probability of `pred` (NaN without predictions); margin: top-1 minus top-2.
    proba: (N, C) probabilities, columns in `classes` order; None without predictions.
    fitted: False when the labels moved on since the predictions were made (see `deferred`).
    method: what made the predictions (the head's `describe()`), "" without predictions.
    ood: (N,) bool, images that fit no class (`labeler.ood`); None without predictions.
    ood_short: how many more labels the OOD flags need before any image can be flagged
        (`OodDetector.labels_short`, as `predict` reports it); 0 once they can, or without
        predictions.
    """

    classes: tuple[str, ...]  # in use, in order of creation: number keys 1-9 follow it
    slots: tuple[int, ...]
    label: np.ndarray
    accepted: np.ndarray
    pred: np.ndarray
    conf: np.ndarray
    margin: np.ndarray
    proba: np.ndarray | None
    version: tuple[int, str]
    fitted: bool = True
    fit_seconds: float = 0.0
    method: str = ""
    ood: np.ndarray | None = None
    ood_short: int = 0

    @property
    def has_predictions(self) -> bool:
        return self.proba is not None

    @property
    def labeled(self) -> np.ndarray:
        return self.label != NO_CLASS

    @cached_property
    def fits_no_class(self) -> np.ndarray:
        """(N,) bool: unlabeled images flagged as fitting no class (none without flags)."""
        if self.ood is None:
            return np.zeros(len(self.label), dtype=bool)
        return self.ood & ~self.labeled

    @cached_property
    def slot_of(self) -> dict[str, int]:
        """{class name: its slot}."""
        return dict(zip(self.classes, self.slots, strict=True))

    def class_index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            return NO_CLASS


class LiveModel:
    """Refit-on-change predictions over fixed vectors; thread-safe.

    Args:
        store: the project's store (labels and classes are read from it).
        item_ids: (N,) int64 item ids of the rows; paths: (N,) their relative paths.
        vectors: (N, D) float32 raw embeddings, as the heads expect them.
        fit: how to fit on labeled rows (the project's `fit_rows` with its live head).
    """

    def __init__(
        self,
        store: Store,
        item_ids: np.ndarray,
        paths: list[str],
        vectors: np.ndarray,
        *,
        fit: Fitter,
    ) -> None:
        self.store = store
        self.item_ids = item_ids
        self.paths = paths
        self.vectors = vectors
        self.row_of_id = {int(i): r for r, i in enumerate(item_ids.tolist())}
        self.row_of_path = {p: r for r, p in enumerate(paths)}
        self._lock = threading.Lock()  # guards swapping `_snapshot`
        self._fit_lock = threading.Lock()  # one refit at a time
        self._deferring = threading.local()
        self._snapshot: Snapshot | None = None
        self._fit_rows = fit

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Within, `snapshot()` brings the labels up to date but keeps the last predictions
        (`fitted` False), so a click shows its label at once; a later `snapshot()` refits."""
        self._deferring.on = True
        try:
            yield
        finally:
            self._deferring.on = False

    def refit_within(self, seconds: float) -> bool:
        """Refit to the labels now, in a thread of its own; whether it was done within
        `seconds`. Either way it runs to its end, and a `snapshot()` meanwhile waits for it (a
        failed refit is raised there, by the refit that `snapshot()` then tries itself)."""
        worker = threading.Thread(target=self._refit_quietly, daemon=True)
        worker.start()
        worker.join(seconds)
        return not worker.is_alive()

    def _refit_quietly(self) -> None:
        with suppress(Exception):
            self.snapshot()

    def snapshot(self) -> Snapshot:
        """The current snapshot, refitted first if labels or classes changed since the last."""
        version = self.store.label_version()
        snap = self._snapshot
        defer = getattr(self._deferring, "on", False)
        if snap is not None and snap.version == version and (snap.fitted or defer):
            return snap
        if defer:
            with self._lock:
                self._snapshot = self._relabel(version)
                return self._snapshot
        with self._fit_lock:
            version = self.store.label_version()
            with self._lock:
                snap = self._snapshot
                if snap is not None and snap.version == version and snap.fitted:
                    return snap
                bare = self._labels(version)
            fitted = self._fit(bare)
            with self._lock:
                current = self._snapshot
                if current is not snap and current is not None:  # labels moved on meanwhile
                    fitted = _with_predictions(current, fitted)
                self._snapshot = fitted
            return fitted

    def _relabel(self, version: tuple[int, str]) -> Snapshot:
        """The labels at `version` with the last snapshot's predictions."""
        bare = self._labels(version)
        return bare if self._snapshot is None else _with_predictions(bare, self._snapshot)

    def _labels(self, version: tuple[int, str]) -> Snapshot:
        """The classes and labels at `version`, without predictions (not fitted): the last
        snapshot's updated with the label events since, or read afresh when the classes
        changed."""
        prev = self._snapshot
        if prev is not None and prev.version[1] == version[1]:
            classes, slots = prev.classes, prev.slots
            label, accepted = prev.label.copy(), prev.accepted.copy()
            index = {name: k for k, name in enumerate(classes)}
            for _, item_id, name, annotator in self.store.label_events_since(prev.version[0]):
                row = self.row_of_id.get(item_id)
                if row is not None:  # a class made and deleted meanwhile counts as no label
                    label[row] = NO_CLASS if name is None else index.get(name, NO_CLASS)
                    accepted[row] = is_accepted(annotator)
        else:
            named = class_slots(self.store.class_lifetimes())
            classes, slots = tuple(named), tuple(named.values())
            index = {name: k for k, name in enumerate(classes)}
            label = np.full(len(self.paths), NO_CLASS, dtype=np.int32)
            accepted = np.zeros(len(self.paths), dtype=bool)
            for lab in self.store.labels():
                row = self.row_of_id.get(lab.item_id)
                if row is not None:
                    label[row] = index[lab.label]
                    accepted[row] = is_accepted(lab.annotator)
        n = len(label)
        return Snapshot(
            classes=classes,
            slots=slots,
            label=label,
            accepted=accepted,
            pred=np.full(n, NO_CLASS, dtype=np.int32),
            conf=np.full(n, np.nan, dtype=np.float32),
            margin=np.full(n, np.nan, dtype=np.float32),
            proba=None,
            version=version,
            fitted=False,
        )

    def _fit(self, bare: Snapshot) -> Snapshot:
        """`bare` with predictions: fitted on the hand labels (not the accepted ones)."""
        start = time.perf_counter()
        classes, label = bare.classes, bare.label
        index = {name: k for k, name in enumerate(classes)}
        n = len(self.paths)
        conf = np.full(n, np.nan, dtype=np.float32)
        margin = np.full(n, np.nan, dtype=np.float32)
        pred, proba, method, ood, ood_short = bare.pred, None, "", None, 0
        rows = np.flatnonzero(bare.labeled & ~bare.accepted)
        if len(np.unique(label[rows])) >= 2:
            names = [classes[k] for k in label[rows]]
            head, head_proba = self._fit_rows(rows, names)
            graph = pool_graph(self.vectors) if head.transductive else None  # remembered: no build
            detector = OodDetector().fit(
                self.vectors[rows], names, X_pool=self.vectors, graph=graph
            )
            ood, ood_short = detector.pool_flags(), detector.labels_short
            columns = np.array([index[str(c)] for c in head.classes_])
            proba = np.zeros((n, len(classes)), dtype=np.float32)
            proba[:, columns] = head_proba
            top, conf, margin, _ = top2_scores(proba)
            pred, method = top.astype(np.int32), head.describe()
        return replace(
            bare,
            pred=pred,
            conf=conf.astype(np.float32),
            margin=margin.astype(np.float32),
            proba=proba,
            fitted=True,
            fit_seconds=time.perf_counter() - start,
            method=method,
            ood=ood,
            ood_short=ood_short,
        )


def _with_predictions(labels: Snapshot, fitted: Snapshot) -> Snapshot:
    """`labels` with the predictions of `fitted` (kept where its classes are a prefix of the
    current ones, as after a new class), marked not fitted to its labels."""
    k = len(fitted.classes)
    if fitted.proba is None or labels.classes[:k] != fitted.classes:
        return replace(labels, fitted=False)
    proba = np.pad(fitted.proba, ((0, 0), (0, len(labels.classes) - k)))
    return replace(
        labels,
        pred=fitted.pred,
        conf=fitted.conf,
        margin=fitted.margin,
        proba=proba,
        fitted=False,
        fit_seconds=fitted.fit_seconds,
        method=fitted.method,
        ood=fitted.ood,
        ood_short=fitted.ood_short,
    )


def class_slots(lifetimes: list[tuple[str, str, str | None]]) -> dict[str, int]:
    """{name: slot} of the classes in use, in order of creation, from every class ever made as
    (name, created at, deleted at or None while in use), oldest first, as the store lists them.

    Each class took, when it was made, the lowest slot that no class in use held then: a slot
    stays a class's own while it lives, and classes in use at once never share one (up to a
    deleted class brought back, which keeps its old slot). A deletion frees its slot for the
    classes made at a later second (the store's times are to the second): one made in the same
    second may have been made before the deletion, and must keep the slot it was shown with.
    """
    held: dict[int, str | None] = {}  # slot -> when its class was deleted (None: in use)
    slots = {}
    for name, created, deleted in lifetimes:
        held = {s: gone for s, gone in held.items() if gone is None or gone >= created}
        slot = next(s for s in itertools.count() if s not in held)
        held[slot] = deleted
        if deleted is None:
            slots[name] = slot
    return slots
