"""The facade: one labeling project on disk. The CLI and the UI call only this.

A project is a folder holding `labeler.sqlite` (items, labels, predictions), the vector cache
`vectors/` keyed by content hash and model, `index.faiss` over the current vectors, and
`skipped.csv` listing the files that could not be used and why.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shutil
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from labeler import config
from labeler.active import create_strategy, make_pool
from labeler.active.stopping import AccuracyEstimate, estimate_auto_label_accuracy
from labeler.autolabel import (
    DEFAULT_TARGET_PRECISION,
    auto_label,
    cached_pool_graph,
    fit_on_pool,
    head_options,
)
from labeler.classnames import check_new_class_names
from labeler.errors import LabelerError, ProjectNotFound, os_reason
from labeler.export import check_outside_project, write_csv, write_embeddings
from labeler.export.rows import EXTRA_COLUMNS, export_rows
from labeler.heads import DEFAULT_HEAD, DEFAULT_METHOD, Head, KnnGraph, create_head
from labeler.heads.propagation import remember_pool_graph
from labeler.index import FaissIndex, l2_normalize
from labeler.labelcsv import encoding_note, is_windows_path, path_spellings, read_label_csv
from labeler.live import is_accepted
from labeler.store import Store, UnfinishedDatabase, check_annotator
from labeler.update import CLEARED_NAME, SKIPPED_NAME, InitReport, update_images

if TYPE_CHECKING:
    from labeler.finetune import FinetuneReport
    from labeler.workbench import Workbench

__all__ = [
    "CLEARED_NAME",
    "EXTRA_COLUMNS",
    "SKIPPED_NAME",
    "InitReport",
    "PredictReport",
    "Project",
    "ProjectStatus",
]

INDEX_NAME = "index.faiss"
DEFAULT_ANNOTATOR = "expert"
TRAINED_ON_META = "trained_on"  # meta key prefix: labels a model's weights were fine-tuned on
NO_PREDICTION = "never (run `labeler predict`)"  # status' last_prediction before any
NO_ESTIMATE = "none yet (it needs two labels in each of two classes, then predict)"


@dataclass
class PredictReport:
    method: str
    model: str
    labeled: int
    predicted: int
    classes: list[str]
    temperature: float
    estimate: AccuracyEstimate | None = None  # of the auto-labels' accuracy, from the labels
    choice: str = ""  # what the head chose (auto: which heads, blended how, and why)
    target_precision: float = 0.0
    threshold: float = float("inf")  # confidence to auto-accept at for target_precision
    coverage: float = 0.0  # estimated share of the predicted images accepted at it
    ood: int = 0  # images flagged as fitting no class
    ood_short: int = 0  # labels still needed before any image can be flagged (0: flags work)
    set_size: float | None = None  # mean classes in a conformal prediction set, when asked for
    uncalibrated: list[str] = field(default_factory=list)  # classes with one hand label
    seen_by_backbone: int = 0  # hand labels the backbone was fine-tuned on (checks optimistic)


class ProjectStatus(TypedDict):
    """`Project.status()`, in the order `labeler status` prints it; no value is ever None."""

    images: int  # present, embedded images
    images_root: str  # the folder they are scanned from
    model: str  # the embedder that made the vectors, e.g. 'efficientnet_lite0@112'
    labeled: int  # images with a label (expert or accepted)
    classes: list[str]  # class names in use, in order of creation
    skipped: int  # files that could not be used (listed in PROJECT/skipped.csv)
    last_prediction: str  # 'METHOD at TIME' of the latest `predict`, or NO_PREDICTION
    estimated_accuracy: str  # '0.78 (95% interval 0.70-0.85) from 40 labels', or NO_ESTIMATE
    fine_tuned_on: int  # labels the backbone was fine-tuned on; checks on them are optimistic


@dataclass(frozen=True)
class ImportReport:
    changed: int  # labels set or changed
    unlabeled: list[int]  # lines of the CSV with a path but no label, skipped
    new_classes: list[str] = field(default_factory=list)  # classes the file created
    encoding: str = "utf-8"  # what the CSV was read as (`labelcsv.LabelRows.encoding`)


@dataclass
class _Vectors:
    """Vectors of the present, embedded items, in path order."""

    item_ids: np.ndarray  # (N,) int64
    paths: list[str]  # (N,)
    raw: np.ndarray  # (N, D) float32, as the embedder gave them
    unit: np.ndarray  # (N, D) float32, L2-normalised
    graph: KnnGraph | None = None  # their kNN graph, once a transductive head needed it


class Project:
    """A labeling project folder. Create with `Project.init`, reopen with `Project(path)`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        db = self.path / config.DB_NAME
        if not db.is_file():
            resume = (self.path / config.VECTORS_DIR).is_dir()
            raise ProjectNotFound(
                f"no labeler project at {self.path}"
                + (" (only the vectors of an interrupted init)" if resume else "")
                + f"; {'finish' if resume else 'create'} it with "
                f"`labeler init {self.path} --images DIR`"
            )
        try:
            self._attach(Store(db))
        except UnfinishedDatabase as e:
            raise self._never_finished() from e
        try:
            if self.store.get_meta("model_key") is None:  # recorded once the images are embedded
                raise self._never_finished()
        except BaseException:
            self.close()
            raise

    def _attach(self, store: Store) -> None:
        self.store = store
        self._cache: _Vectors | None = None
        self._workbench: Workbench | None = None

    def _never_finished(self) -> ProjectNotFound:
        return ProjectNotFound(
            f"{self.path} was never finished: run `labeler init {self.path} --images DIR` again"
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- settings ----------------------------------------------------------------------------------

    @property
    def images_root(self) -> Path:
        return Path(self.store.get_meta("images_root"))

    @property
    def model_key(self) -> str:
        """The embedder identity that made the current vectors, e.g. 'efficientnet_lite0@112'."""
        return self.store.get_meta("model_key")

    # -- init / update -----------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        path: Path | str,
        *,
        images: Path | str,
        backbone: str | None = None,
        checkpoint: Path | str | None = None,
        device: str = "auto",
        batch_size: int = config.DEFAULT_BATCH_SIZE,
        image_size: int | None = None,
        progress: bool = True,
    ) -> tuple[Project, InitReport]:
        """Create the project at `path`, or update it (see `update`): scan `images`, embed new
        files, index."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise LabelerError(f"project path {path} exists and is not a folder; choose another")
        with _undone_on_failure(path):
            project = cls.__new__(cls)
            project.path = path
            project._attach(_create_store(path))
            try:
                report = project.update(
                    images,
                    backbone=backbone,
                    checkpoint=checkpoint,
                    device=device,
                    batch_size=batch_size,
                    image_size=image_size,
                    progress=progress,
                )
            except BaseException:
                project.close()
                raise
        return project, report

    def update(
        self,
        images: Path | str,
        *,
        backbone: str | None = None,
        checkpoint: Path | str | None = None,
        device: str = "auto",
        batch_size: int = config.DEFAULT_BATCH_SIZE,
        image_size: int | None = None,
        progress: bool = True,
    ) -> InitReport:
        """Scan `images` (this project's folder, or one it moves to), embed the files whose
        content was not embedded before, and index the vectors anew. None for backbone,
        checkpoint or image_size: the project's current setting."""
        images = Path(images).expanduser().resolve()
        if not images.is_dir():
            raise LabelerError(f"images folder {images} does not exist or is not a folder")
        if batch_size < 1:
            raise LabelerError(f"--batch-size must be at least 1, got {batch_size}")
        report = update_images(
            self.path,
            self.store,
            images,
            backbone=backbone,
            checkpoint=checkpoint,
            device=device,
            batch_size=batch_size,
            image_size=image_size,
            progress=progress,
        )
        self._cache = None
        self._save_index()
        return report

    # -- vectors and index -------------------------------------------------------------------------

    def _vectors(self) -> _Vectors:
        if self._cache is None:
            from labeler.embed import VectorCache

            items = self.store.items()
            cache = VectorCache(self.path / config.VECTORS_DIR, self.model_key)
            raw, found = cache.get([it.hash for it in items])
            if not found.all():
                raise self._vectors_missing(int((~found).sum()), len(items))
            self._cache = _Vectors(
                item_ids=np.array([it.id for it in items], dtype=np.int64),
                paths=[it.path for it in items],
                raw=raw,
                unit=l2_normalize(raw),
            )
        return self._cache

    def _vectors_missing(self, missing: int, total: int) -> LabelerError:
        images = self.store.get_meta("images_root", "DIR")
        return LabelerError(
            f"the vectors of {missing} of the project's {total} images are missing from "
            f"{self.path / config.VECTORS_DIR} (deleted, or the project was copied without that "
            f"folder); embed them again with `labeler init {self.path} --images {images}` "
            "(labels are kept)"
        )

    def _save_index(self) -> None:
        v = self._vectors()
        if len(v.item_ids) == 0:
            (self.path / INDEX_NAME).unlink(missing_ok=True)
            return
        index = FaissIndex(dim=v.raw.shape[1])
        index.add(v.item_ids, v.unit)
        index.save(self.path / INDEX_NAME)

    def index(self) -> FaissIndex:
        """The FAISS index of the current vectors, loaded from disk (rebuilt if stale)."""
        file = self.path / INDEX_NAME
        v = self._vectors()
        if file.is_file():
            index = FaissIndex.load(file)
            if np.array_equal(np.sort(index.ids()), np.sort(v.item_ids)):
                return index
        self._save_index()
        return FaissIndex.load(file)

    def similar(self, path: str, *, k: int = 10) -> list[tuple[str, float]]:
        """The k images most similar to `path` (itself excluded), as (path, cosine similarity)."""
        v = self._vectors()
        row = self._rows([path])[0]
        sims, ids = self.index().search(v.unit[row : row + 1], k + 1)
        by_id = dict(zip(v.item_ids.tolist(), v.paths, strict=True))
        return [
            (by_id[i], float(s))
            for s, i in zip(sims[0], ids[0], strict=True)
            if i >= 0 and by_id[i] != path
        ][:k]

    def _rows(self, paths: Sequence[str], *, csv_cells: bool = False) -> list[int]:
        """Rows of `_vectors()` for image paths (relative, or absolute inside the images root),
        each found as given, else in Unicode NFC (see `_path_finder`).

        csv_cells: the paths are path cells of a label CSV, each also tried in its other
        spellings (`path_spellings`: without surrounding spaces, with / for \\); a cell whose
        spellings name two different images is refused rather than guessed.
        """
        v = self._vectors()
        find = _path_finder(v.paths)
        rows, unknown = [], []
        for p in paths:
            named = (find(self._relative(s)) for s in _spellings(p, csv_cells=csv_cells))
            found = list(dict.fromkeys(row for row in named if row is not None))
            if len(found) > 1:
                raise LabelerError(
                    f"the path {p!r} names more than one image, "
                    f"{' and '.join(repr(v.paths[r]) for r in found)} (a path is read as written, "
                    "and also without the spaces around it and with / for \\); rename one of "
                    "these files (then run `labeler init` again) or label it in the browser"
                )
            if found:
                rows.append(found[0])
            else:
                unknown.append(p)
        if unknown:
            raise self._unknown_paths(unknown, csv_cells=csv_cells)
        return rows

    def _unknown_paths(self, unknown: Sequence[str], *, csv_cells: bool) -> LabelerError:
        """The error for `unknown` paths (one at least), naming why the first is unknown where
        the project knows (skipped, gone) and any that is a path on a Windows machine."""
        skipped = dict(self.store.skipped())
        first = unknown[0]
        spelt = [self._relative(s) for s in _spellings(first, csv_cells=csv_cells)]
        reason = next((skipped[rel] for rel in spelt if rel in skipped), None)
        windows = next((p for p in unknown if is_windows_path(p)), None)
        on_windows = "a path on a Windows machine, which names no file here"
        why = elsewhere = ""
        if reason:
            why = f" (it was skipped: {reason})"
        elif set(spelt) & set(self.store.gone_paths()):
            why = (
                " (it is gone from the images folder; its labels come back with it: bring "
                "it back and run `labeler init` again)"
            )
        elif windows == first:
            why = f" ({on_windows})"
        if windows not in (None, first):
            elsewhere = f"; {windows!r} is {on_windows}"
        more = f"; also {', '.join(map(repr, unknown[1:4]))}" if len(unknown) > 1 else ""
        return LabelerError(
            f"{len(unknown)} path(s) are not images of this project, e.g. {first!r}{why}"
            f"{more}{' …' if len(unknown) > 4 else ''}{elsewhere}; paths must be relative to "
            f"{self.images_root} or absolute inside it"
        )

    def _relative(self, p: str) -> str:
        """Image path `p` relative to the images root, normalised ('./a.png', 'a//b.png' ->
        'a.png', 'a/b.png'); an absolute path outside the root as given."""
        candidate = Path(p)
        if candidate.is_absolute():
            try:
                return candidate.resolve().relative_to(self.images_root).as_posix()
            except ValueError:
                return p
        return posixpath.normpath(p)

    # -- labels ------------------------------------------------------------------------------------

    def label(
        self,
        assignments: Sequence[tuple[str, str]],
        *,
        annotator: str = DEFAULT_ANNOTATOR,
        csv_cells: bool = False,
    ) -> int:
        """Set expert labels, as (path, class name); all or nothing. Returns how many changed.

        Two spellings of one image's path (relative, absolute, './…') count as one image: with
        the same label it is set once, with different labels nothing is set. csv_cells: the
        paths are cells of a label CSV, matched leniently (see `_rows`).
        """
        check_annotator(annotator)
        spelt = check_new_class_names({name for _, name in assignments}, self.store.classes())
        assignments = [(path, spelt[name]) for path, name in assignments]
        v = self._vectors()
        rows = self._rows([p for p, _ in assignments], csv_cells=csv_cells)
        chosen: dict[int, tuple[str, str]] = {}  # row -> (path as given, label)
        for row, (path, name) in zip(rows, assignments, strict=True):
            first, label = chosen.setdefault(row, (path, name))
            if label != name:
                raise LabelerError(
                    f"image {v.paths[row]!r} is labeled both {label!r} (as {first!r}) and "
                    f"{name!r} (as {path!r}); keep one of them and import again"
                )
        return self.store.set_labels(
            [(int(v.item_ids[r]), name) for r, (_, name) in chosen.items()], annotator=annotator
        )

    def import_labels(
        self, csv_path: Path | str, *, annotator: str = DEFAULT_ANNOTATOR
    ) -> ImportReport:
        """`label` the rows of a label CSV (see `read_label_csv`); all or nothing. A refusal
        names the file; the report names the classes the file created."""
        rows = read_label_csv(csv_path)
        before = set(self.store.classes())
        try:
            changed = self.label(rows.pairs, annotator=annotator, csv_cells=True)
        except LabelerError as e:
            note = encoding_note(rows.encoding)
            read_as = f" (the file was {note})" if note else ""
            raise LabelerError(f"{csv_path}: {e}; nothing was imported{read_as}") from e
        new = [c for c in self.store.classes() if c not in before]
        return ImportReport(changed, rows.unlabeled, new_classes=new, encoding=rows.encoding)

    def _labeled(self, *, hand_only: bool = False) -> tuple[np.ndarray, list[str]]:
        """Rows of `_vectors()` with a label (K,) int64, ascending, and their labels.

        hand_only: leave out predictions accepted in bulk. Heads are fitted and calibrated on
        hand labels only: accepted predictions are the easy cases, and would inflate confidence.
        """
        rows, labels, hand = self._label_rows()
        return _hand_only(rows, labels, hand) if hand_only else (rows, labels)

    def _label_rows(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Rows of `_vectors()` with a label (K,) int64, ascending; their labels; and (K,) bool,
        True for a hand label (False: a prediction accepted in bulk)."""
        v = self._vectors()
        row_of = {int(i): r for r, i in enumerate(v.item_ids)}
        triples = sorted(
            (row_of[lab.item_id], lab.label, not is_accepted(lab.annotator))
            for lab in self.store.labels()
            if lab.item_id in row_of
        )
        return (
            np.array([r for r, _, _ in triples], dtype=np.int64),
            [lab for _, lab, _ in triples],
            np.array([h for _, _, h in triples], dtype=bool),
        )

    # -- predict -----------------------------------------------------------------------------------

    def _fit(self, method: str, rows: np.ndarray, labels: list[str]) -> tuple[np.ndarray, Head]:
        """Fit `method` on the hand labels `rows` (K,) and `labels` (K,) (`_labeled(hand_only=
        True)`): (N, C) proba of every row, and the head."""
        if len(set(labels)) < 2:
            raise LabelerError(
                f"predicting needs expert labels of at least two classes; found "
                f"{len(set(labels))} ({', '.join(sorted(set(labels))) or 'none'}); "
                "label more images with `labeler label`"
            )
        head, proba = self.fit_rows(method, rows, labels)
        return proba, head

    def fit_rows(
        self, method: str, rows: np.ndarray, labels: Sequence[str]
    ) -> tuple[Head, np.ndarray]:
        """Fit head `method` on rows (K,) int64 of `_vectors()` labeled `labels` (K,), with every
        image as its pool (and the cached kNN graph for a transductive head): the fitted head
        and (N, C) float32 calibrated probabilities of every row. `predict` and the UI's live
        predictions both fit here, so they agree."""
        head = create_head(method, **self._head_options(method, labels))
        graph = self._graph() if head.transductive else None
        return fit_on_pool(head, self._vectors().raw, rows, labels, graph=graph)

    def _head_options(self, method: str, labels: Sequence[str]) -> dict:
        """What head `method` needs from this project for classes `labels` (`head_options`)."""
        return head_options(
            method,
            backbone=self.store.get_meta("backbone", config.DEFAULT_BACKBONE),
            checkpoint=self.store.get_meta("checkpoint"),
            classes=sorted(set(labels)),
        )

    def _graph(self) -> KnnGraph:
        """The kNN graph of `_vectors()` (cached in PROJECT/knn_graph.npz), read once; kept as
        `pool_graph`'s answer for these vectors (the live model's OOD flags ask it there)."""
        v = self._vectors()
        if v.graph is None:
            v.graph = cached_pool_graph(self.path, self.model_key, v.item_ids, v.raw)
        else:
            remember_pool_graph(v.raw, v.graph)
        return v.graph

    def live_method(self) -> str:
        """The head of the browser UI's live predictions: `predict`'s default, so that what is
        shown is what is exported, up to `config.LIVE_METHOD_MAX_IMAGES` images; above, the
        fast default head (the UI then says that the export may differ)."""
        if len(self._vectors().paths) <= config.LIVE_METHOD_MAX_IMAGES:
            return DEFAULT_METHOD
        return DEFAULT_HEAD

    def predict(
        self,
        *,
        method: str = DEFAULT_METHOD,
        target_precision: float = DEFAULT_TARGET_PRECISION,
        conformal_alpha: float | None = None,
    ) -> PredictReport:
        """Fit the head on all expert labels and store a prediction for every other image, with
        its out-of-distribution flag (and conformal prediction set when conformal_alpha is set);
        report the confidence to auto-accept at for `target_precision`."""
        v = self._vectors()
        labeled, every_label, hand = self._label_rows()
        rows, labels = _hand_only(labeled, every_label, hand)
        proba, head = self._fit(method, rows, labels)
        unlabeled, auto = auto_label(
            head,
            proba,
            v.raw,
            rows,
            labels,
            target_precision=target_precision,
            conformal_alpha=conformal_alpha,
            labeled=labeled,
            graph=self._graph() if head.transductive else None,  # for the OOD seed share
        )
        self.store.add_run(
            method=method,
            model=self.model_key,
            params={
                "temperature": head.temperature_,
                "labels": len(labels),
                "choice": head.describe(),
                "target_precision": target_precision,
                "threshold": auto.threshold,
                "coverage": auto.coverage,
                "conformal_alpha": conformal_alpha,
            },
            item_ids=v.item_ids[unlabeled],
            labels=auto.labels,
            confidence=auto.confidence,
            margin=auto.margin,
            entropy=auto.entropy,
            ood=auto.ood,
            prediction_sets=auto.sets,
        )
        return PredictReport(
            method=method,
            model=self.model_key,
            labeled=len(labels),
            predicted=len(unlabeled),
            classes=[str(c) for c in head.classes_],
            temperature=head.temperature_,
            estimate=self._record_estimate(
                method, rows, labels, auto.confidence, key=self._estimate_key(method, rows, labels)
            ),
            choice=head.describe(),
            target_precision=target_precision,
            threshold=auto.threshold,
            coverage=auto.coverage,
            ood=int(auto.ood.sum()),
            ood_short=auto.ood_short,
            set_size=None if auto.sets is None else float(np.mean([len(s) for s in auto.sets])),
            uncalibrated=sorted(c for c, n in Counter(labels).items() if n == 1),
            seen_by_backbone=len(set(self.trained_on()) & set(v.item_ids[rows].tolist())),
        )

    def finetune(
        self,
        *,
        steps: int | None = None,
        minutes: float | None = None,
        blocks: int | None = None,
        device: str = "auto",
        progress: bool = True,
    ) -> tuple[InitReport, FinetuneReport]:
        """Fine-tune the backbone on the expert labels (defaults: labeler.finetune; blocks -1:
        the whole backbone), save the weights in PROJECT/finetuned/, re-embed every image."""
        from labeler.finetune.checkpoint import finetune_checkpoint
        from labeler.finetune.trainer import FINETUNE_STEPS, TRAIN_BLOCKS

        v = self._vectors()
        rows, labels = self._labeled(hand_only=True)
        if len(set(labels)) < 2:
            raise LabelerError("fine-tuning needs expert labels of at least two classes")
        path, report = finetune_checkpoint(
            self.path,
            [self.images_root / v.paths[r] for r in rows],
            labels,
            **self._weights(),
            device=device,
            steps=FINETUNE_STEPS if steps is None else steps,
            time_limit_s=None if minutes is None else 60.0 * minutes,
            blocks=TRAIN_BLOCKS if blocks is None else (None if blocks < 0 else blocks),
            progress=progress,
        )
        seen = set(self.trained_on()) | {int(v.item_ids[r]) for r in rows}
        init = self._reembed(path, device=device, progress=progress, trained_on=seen)
        return init, report

    def adapt(
        self,
        *,
        sample: int | None = None,
        layers: int | None = None,
        device: str = "auto",
        progress: bool = True,
    ) -> InitReport:
        """Re-estimate the backbone's last batch-norm statistics on this project's images (no
        labels needed; defaults in labeler.finetune.adapt), save the weights in
        PROJECT/adapted/, and re-embed every image with them."""
        from labeler.finetune.adapt import (
            ADAPT_BN_LAYERS,
            ADAPT_SAMPLE,
            adapt_checkpoint,
            sample_files,
        )

        v = self._vectors()
        if not v.paths:
            raise LabelerError(f"project {self.path} has no images to adapt to; add images first")
        files = [self.images_root / p for p in v.paths]
        path = adapt_checkpoint(
            self.path,
            sample_files(files, size=ADAPT_SAMPLE if sample is None else sample),
            **self._weights(),
            device=device,
            layers=ADAPT_BN_LAYERS if layers is None else layers,
            progress=progress,
        )
        return self._reembed(path, device=device, progress=progress, trained_on=self.trained_on())

    def _weights(self) -> dict:
        """The network the vectors come from: backbone, image_size, checkpoint (Path or None)."""
        checkpoint = self.store.get_meta("checkpoint")
        return {
            "backbone": self.store.get_meta("backbone", config.DEFAULT_BACKBONE),
            "image_size": int(self.store.get_meta("image_size")),
            "checkpoint": None if checkpoint is None else Path(checkpoint),
        }

    def trained_on(self) -> list[int]:
        """Item ids (ascending) whose labels the current backbone's weights were fine-tuned on:
        its held-out checks on those labels (temperature, thresholds, accuracy) are optimistic."""
        return self.store.get_meta(f"{TRAINED_ON_META}:{self.model_key}", [])

    def _reembed(
        self, checkpoint: Path, *, device: str, progress: bool, trained_on: Iterable[int]
    ) -> InitReport:
        """Embed every image again with new weights of the project's backbone (a new model key:
        the old vectors stay cached), derived from weights fine-tuned on the labels of items
        `trained_on` (recorded for the new key)."""
        weights = self._weights()
        report = self.update(
            self.images_root,
            backbone=weights["backbone"],
            checkpoint=checkpoint,
            device=device,
            batch_size=int(self.store.get_meta("batch_size", config.DEFAULT_BATCH_SIZE)),
            image_size=weights["image_size"],
            progress=progress,
        )
        if trained_on:
            self.store.set_meta(**{f"{TRAINED_ON_META}:{self.model_key}": sorted(trained_on)})
        return report

    # -- knowing when to stop ----------------------------------------------------------------------

    def _record_estimate(
        self,
        method: str,
        rows: np.ndarray,
        labels: list[str],
        confidence: np.ndarray,
        *,
        key: str,
    ) -> AccuracyEstimate | None:
        """Estimate the accuracy of auto-labels with these (M,) confidences; store it as the
        learning-curve point of the current labels under `key` (`_estimate_key` of method, rows
        and labels), unless one was made from the same hand labels (a bulk accept, or its undo,
        changes the labels but not the estimate)."""
        state = self.store.label_version()[0]
        if len(confidence) == 0:
            return None
        est = estimate_auto_label_accuracy(
            self._vectors().raw,
            rows,
            labels,
            confidence,
            head=method,
            options=self._head_options(method, labels),
        )
        if est is not None and not self._has_estimate(key):
            self.store.add_estimate(
                label_state=state,
                method=method,
                n_labels=est.n_labels,
                accuracy=est.accuracy,
                low=est.low,
                high=est.high,
                labels_key=key,
            )
        return est

    def _estimate_key(self, method: str, rows: np.ndarray, labels: Sequence[str]) -> str:
        """What an accuracy estimate is made from: the head, the model (vectors) and the hand
        labels, as (K,) rows of `_vectors()` and their classes."""
        ids = self._vectors().item_ids[rows].tolist()
        text = json.dumps([method, self.model_key, sorted(zip(ids, labels, strict=True))])
        return hashlib.sha256(text.encode()).hexdigest()

    def _has_estimate(self, key: str) -> bool:
        """Whether an estimate was recorded under `key` (an `_estimate_key`)."""
        return any(e.labels_key == key for e in self.store.estimates())

    def learning_curve(self, *, method: str | None = None) -> list[tuple[int, float, float, float]]:
        """(n_labels, estimated accuracy, low, high) of the auto-labels of head `method` (default:
        the browser's, `live_method`) after each change of the labels, oldest first, with a point
        for the current labels (fitted now if none of this head was recorded for them). Points
        of other heads are left out: one curve, one head. Estimates come from the expert's labels
        alone; low..high is a 95% interval. Empty until two classes have two labels each."""
        method = method or self.live_method()
        rows, labels = self._labeled(hand_only=True)
        key = self._estimate_key(method, rows, labels)
        if not self._has_estimate(key):
            try:
                proba, _ = self._fit(method, rows, labels)
            except LabelerError:
                pass  # fewer than two classes: nothing to estimate yet
            else:
                rest = np.setdiff1d(np.arange(len(proba)), rows)
                self._record_estimate(method, rows, labels, proba[rest].max(axis=1), key=key)
        return [
            (e.n_labels, e.accuracy, e.low, e.high)
            for e in self.store.estimates()
            if e.method == method
        ]

    # -- suggest -----------------------------------------------------------------------------------

    def suggest(self, n: int, *, strategy: str = "auto", seed: int = 0) -> list[dict]:
        """Up to n images to label next, most useful first, each with the reason it was chosen.

        Uncertainty comes from the head the browser shows (`live_method`), fitted on the hand
        labels; predictions accepted in bulk are never suggested but do not train it."""
        v = self._vectors()
        chooser = create_strategy(strategy)
        rows, labels, hand = self._label_rows()
        method = self.live_method()
        pool = make_pool(
            v.raw,
            rows,
            labels,
            fit=lambda r, names: self.fit_rows(method, r, names),
            trained=hand,
            committee=chooser.needs_committee,
            seed=seed,
            unit=v.unit,
        )
        out = []
        for s in chooser.suggest(pool, n):
            row = {"path": v.paths[s.index], "reason": s.reason, "score": round(s.score, 6)}
            if pool.proba is not None:
                p = pool.proba[s.index]
                row |= {"predicted": pool.classes[int(p.argmax())], "confidence": float(p.max())}
            out.append(row)
        return out

    # -- export ------------------------------------------------------------------------------------

    def export_rows(self) -> list[dict]:
        """One dict per present, embedded image, in path order, keyed by the export columns."""
        v = self._vectors()
        return export_rows(self.store, v.item_ids, v.paths)

    def export_csv(self, out: Path | str) -> int:
        """Write the export CSV to `out` (not inside the project folder but for its exports/)."""
        check_outside_project(Path(out), self.path)
        return write_csv(Path(out), self.export_rows(), extra_columns=EXTRA_COLUMNS)

    def export_embeddings(self, out: Path | str) -> int:
        """Write the vectors as .npz to `out` (where `export_csv` may write)."""
        check_outside_project(Path(out), self.path)
        v = self._vectors()
        write_embeddings(Path(out), v.paths, v.raw)
        return len(v.paths)

    # -- browser UI support (labeler.workbench; the UI in labeler.ui calls only these) -------------

    def workbench(self) -> Workbench:
        """The browser UI's view of this project: live predictions, paging, edits with undo.

        One per open project, shared by all browser sessions; rebuilt after a rescan.
        """
        from labeler.workbench import Workbench

        v = self._vectors()
        if self._workbench is None or self._workbench.vectors is not v:
            self._workbench = Workbench(self, v)
        return self._workbench

    def rescan(self, *, progress: bool = True) -> InitReport:
        """Scan the images folder again with this project's settings; embed only new images."""
        return self.update(
            self.images_root,
            batch_size=int(self.store.get_meta("batch_size", config.DEFAULT_BATCH_SIZE)),
            progress=progress,
        )

    # -- summary -----------------------------------------------------------------------------------

    def status(self) -> ProjectStatus:
        """A summary of the project, every value set (see `ProjectStatus`)."""
        v = self._vectors()
        run = self.store.latest_run()
        return ProjectStatus(
            images=len(v.paths),
            images_root=str(self.images_root),
            model=self.model_key,
            labeled=len(self.store.labels()),
            classes=self.store.classes(),
            skipped=len(self.store.skipped()),
            last_prediction=NO_PREDICTION if run is None else f"{run.method} at {run.created_at}",
            estimated_accuracy=_last_estimate(self.store.estimates()),
            fine_tuned_on=len(self.trained_on()),
        )


def _create_store(path: Path) -> Store:
    """The database of project folder `path`, with the folder made if need be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LabelerError(
            f"cannot create the project folder {path} ({os_reason(e)}); "
            "choose a folder you can write to"
        ) from e
    return Store(path / config.DB_NAME, create=True)


# What `init` writes into a project folder; a failed first init removes those it created.
_PROJECT_FILES = (config.DB_NAME, config.VECTORS_DIR, INDEX_NAME, SKIPPED_NAME, CLEARED_NAME)


@contextmanager
def _undone_on_failure(path: Path) -> Iterator[None]:
    """Around a first `init` of `path` (no database there yet): if it fails or is interrupted,
    remove what it created, so no half-made project is left behind: the folders it made, or, in
    a folder that existed, the project files that were not there before. The vectors written
    before a Ctrl-C are kept (see `_kept_vectors`): they are no project, and a second init
    reuses them. A folder that already held a database is never touched."""
    if (path / config.DB_NAME).exists():
        yield
        return
    made = None  # the outermost folder that init will make
    for folder in (path, *path.parents):
        if folder.exists() or folder.is_symlink():
            break
        made = folder
    before = set() if made else {p.name for p in path.iterdir()}
    try:
        yield
    except BaseException as e:
        keep = {config.VECTORS_DIR} if _kept_vectors(path, e) else set()
        if made and not keep:
            shutil.rmtree(made, ignore_errors=True)
        else:
            for p in path.iterdir():
                if p.name not in before | keep and _is_project_file(p.name):
                    _remove(p)
        raise


def _kept_vectors(path: Path, e: BaseException) -> bool:
    """Whether a first init of `path` stopped by `e` keeps its vectors: when the user interrupted
    it (Ctrl-C) after some were written, so that running init again goes on from there."""
    vectors = path / config.VECTORS_DIR
    return isinstance(e, KeyboardInterrupt) and any(vectors.rglob("shard-*.npz"))


def _is_project_file(name: str) -> bool:
    return name in _PROJECT_FILES or name.startswith(f"{config.DB_NAME}-")  # -wal, -shm


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def _last_estimate(estimates: list) -> str:
    """'0.78 (95% interval 0.70-0.85) from 40 labels', of the latest estimate, or NO_ESTIMATE."""
    if not estimates:
        return NO_ESTIMATE
    e = estimates[-1]
    return f"{e.accuracy:.2f} (95% interval {e.low:.2f}-{e.high:.2f}) from {e.n_labels} labels"


def _spellings(path: str, *, csv_cells: bool) -> list[str]:
    """The spellings of image `path` to look for: the cell's (`path_spellings`) for a label CSV's
    path cell, else the path alone."""
    return path_spellings(path) if csv_cells else [path]


def _path_finder(paths: Sequence[str]) -> Callable[[str], int | None]:
    """A function: relative path -> its index in `paths`, or None. A path is found as given,
    else by its NFC form where no two of `paths` share that form (the same name typed in another
    Unicode form, as macOS writes 'u' + '¨')."""
    index = {p: i for i, p in enumerate(paths)}
    by_nfc: dict[str, int] | None = None  # made only for a path not found as given

    def find(rel: str) -> int | None:
        nonlocal by_nfc
        if rel in index:
            return index[rel]
        by_nfc = _unique_nfc(paths) if by_nfc is None else by_nfc
        return by_nfc.get(_nfc(rel))

    return find


def _nfc(path: str) -> str:
    return unicodedata.normalize("NFC", path)


def _unique_nfc(paths: Sequence[str]) -> dict[str, int]:
    """{NFC form: index} of `paths`, leaving out forms that two paths share."""
    forms = [_nfc(p) for p in paths]
    count = Counter(forms)
    return {form: i for i, form in enumerate(forms) if count[form] == 1}


def _hand_only(
    rows: np.ndarray, labels: list[str], hand: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """The rows (K,) and labels of `_label_rows()` that are hand labels ((K,) bool `hand`)."""
    return rows[hand], [lab for lab, h in zip(labels, hand, strict=True) if h]
