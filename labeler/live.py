"""Labels and predictions of every image, held in memory for the browser UI.

One `LiveModel` per open project is shared by every browser session of a server. It keeps the
expert labels as an array over the project's cached vectors and refits the default head whenever
the labels change (in this process or any other: the store's label version is checked on each
read), so each click sees fresh predictions without rebuilding anything per image.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from labeler.calibrate import top2_scores
from labeler.heads import DEFAULT_HEAD, create_head
from labeler.store import Store

ACCEPTED_SUFFIX = " (accepted auto)"  # appended to the annotator of bulk-accepted predictions
NO_CLASS = -1


def accepted_annotator(annotator: str) -> str:
    """The annotator recorded for predictions that `annotator` accepted in bulk."""
    return annotator + ACCEPTED_SUFFIX


@dataclass(frozen=True)
class Snapshot:
    """Labels and predictions at one label version. Arrays are (N,), rows of `LiveModel.paths`.

    label: class index of the expert label, NO_CLASS where unlabeled.
    accepted: True where the label is a bulk-accepted prediction.
    pred: predicted class index, NO_CLASS while fewer than two classes have labels.
    conf: calibrated probability of `pred` (NaN without predictions); margin: top-1 minus top-2.
    proba: (N, C) probabilities, columns in `classes` order; None without predictions.
    """

    classes: tuple[str, ...]  # in use, in order of creation: number keys 1-9 follow it
    label: np.ndarray
    accepted: np.ndarray
    pred: np.ndarray
    conf: np.ndarray
    margin: np.ndarray
    proba: np.ndarray | None
    version: tuple[int, str]
    fit_seconds: float = 0.0

    @property
    def has_predictions(self) -> bool:
        return self.proba is not None

    @property
    def labeled(self) -> np.ndarray:
        return self.label != NO_CLASS

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
    """

    def __init__(
        self, store: Store, item_ids: np.ndarray, paths: list[str], vectors: np.ndarray
    ) -> None:
        self.store = store
        self.item_ids = item_ids
        self.paths = paths
        self.vectors = vectors
        self.row_of_id = {int(i): r for r, i in enumerate(item_ids.tolist())}
        self.row_of_path = {p: r for r, p in enumerate(paths)}
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        """The current snapshot, refitted first if labels or classes changed since the last."""
        version = self.store.label_version()
        snap = self._snapshot
        if snap is not None and snap.version == version:
            return snap
        with self._lock:
            version = self.store.label_version()
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = self._refit(version)
            return self._snapshot

    def _labels(self, version: tuple[int, str]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """Classes, label and accepted arrays at `version`: the last snapshot's updated with
        the label events since, or read afresh when the classes changed."""
        prev = self._snapshot
        if prev is not None and prev.version[1] == version[1]:
            classes, label, accepted = prev.classes, prev.label.copy(), prev.accepted.copy()
            index = {name: k for k, name in enumerate(classes)}
            for _, item_id, name, annotator in self.store.label_events_since(prev.version[0]):
                row = self.row_of_id.get(item_id)
                if row is not None:  # a class made and deleted meanwhile counts as no label
                    label[row] = NO_CLASS if name is None else index.get(name, NO_CLASS)
                    accepted[row] = annotator.endswith(ACCEPTED_SUFFIX)
            return classes, label, accepted
        classes = tuple(self.store.classes())
        index = {name: k for k, name in enumerate(classes)}
        label = np.full(len(self.paths), NO_CLASS, dtype=np.int32)
        accepted = np.zeros(len(self.paths), dtype=bool)
        for lab in self.store.labels():
            row = self.row_of_id.get(lab.item_id)
            if row is not None:
                label[row] = index[lab.label]
                accepted[row] = lab.annotator.endswith(ACCEPTED_SUFFIX)
        return classes, label, accepted

    def _refit(self, version: tuple[int, str]) -> Snapshot:
        start = time.perf_counter()
        classes, label, accepted = self._labels(version)
        index = {name: k for k, name in enumerate(classes)}
        n = len(self.paths)
        pred = np.full(n, NO_CLASS, dtype=np.int32)
        conf = np.full(n, np.nan, dtype=np.float32)
        margin = np.full(n, np.nan, dtype=np.float32)
        proba = None
        rows = np.flatnonzero(label != NO_CLASS)
        if len(np.unique(label[rows])) >= 2:
            names = [classes[k] for k in label[rows]]
            head = create_head(DEFAULT_HEAD).fit(self.vectors[rows], names, X_pool=self.vectors)
            columns = np.array([index[str(c)] for c in head.classes_])
            proba = np.zeros((n, len(classes)), dtype=np.float32)
            proba[:, columns] = head.predict_proba(self.vectors)
            top, conf, margin, _ = top2_scores(proba)
            pred = top.astype(np.int32)
        return Snapshot(
            classes=classes,
            label=label,
            accepted=accepted,
            pred=pred,
            conf=conf.astype(np.float32),
            margin=margin.astype(np.float32),
            proba=proba,
            version=version,
            fit_seconds=time.perf_counter() - start,
        )
