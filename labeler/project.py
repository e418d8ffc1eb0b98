"""The facade: one labeling project on disk. The CLI and the UI call only this.

A project is a folder holding `labeler.sqlite` (items, labels, predictions), the vector cache
`vectors/` keyed by content hash and model, `index.faiss` over the current vectors, and
`skipped.csv` listing the files that could not be used and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from labeler import config
from labeler.active import create_strategy, make_pool
from labeler.active.strategies import fits_no_class_reason
from labeler.autolabel import (
    DEFAULT_TARGET_PRECISION,
    auto_label,
    cached_pool_graph,
    fit_on_pool,
    head_options,
)
from labeler.classnames import ClassNameError, check_new_class_names
from labeler.errors import Interrupted, LabelerError, ProjectNotFound, interrupted_says
from labeler.estimates import (
    AccuracyCheck,
    by_label_count,
    estimate_key,
    record_estimate,
    recorded_curve,
    stored_estimate,
)
from labeler.export import (
    LABEL_FILE_COLUMNS,
    check_outside_project,
    dated,
    write_csv,
    write_embeddings,
    write_rows,
    write_table,
)
from labeler.export.rows import EXTRA_COLUMNS, export_rows
from labeler.heads import DEFAULT_HEAD, DEFAULT_METHOD, Head, KnnGraph, create_head
from labeler.heads.propagation import remember_pool_graph
from labeler.index import FaissIndex
from labeler.labelcsv import encoding_note, file_name, read_label_csv
from labeler.locks import replaces_weights
from labeler.ood import OodDetector
from labeler.paths import UnknownPaths, check_unchanged, image_rows
from labeler.projectfiles import (
    INDEX_NAME,
    check_new_project_folder,
    create_store,
    undone_on_failure,
)
from labeler.reports import (
    NO_ESTIMATE,
    NO_PREDICTION,
    ImportReport,
    PredictReport,
    ProjectStatus,
    estimate_text,
)
from labeler.store import ITEMS_VERSION, Run, Store, UnfinishedDatabase, check_annotator
from labeler.store.annotator import is_accepted
from labeler.update import (
    BEFORE_CLASS_EDIT_NAME,
    CLEARED_NAME,
    SKIPPED_NAME,
    InitReport,
    update_images,
)
from labeler.vectors import Vectors, load_vectors, save_index
from labeler.wording import images_folder_gone, line_numbers, plural, quoted, shell

if TYPE_CHECKING:
    from labeler.edits import Edit
    from labeler.finetune import FinetuneReport
    from labeler.workbench import Workbench

__all__ = [
    "CLEARED_NAME",
    "EXTRA_COLUMNS",
    "NO_ESTIMATE",
    "NO_PREDICTION",
    "SKIPPED_NAME",
    "ImportReport",
    "InitReport",
    "PredictReport",
    "Project",
    "ProjectStatus",
]

DEFAULT_ANNOTATOR = "expert"
ORIGINAL_META = "original_checkpoint"  # meta key: `Project.original_checkpoint`
_UNSET = object()  # a meta value never recorded
TRAINED_ON_META = "trained_on"  # meta key prefix: labels a model's weights were fine-tuned on
UNCHECKED_RUN_META = "unchecked_run"  # meta key: the predict run whose accuracy check was stopped
UNCALIBRATED_SHOWN = 5  # class names an export note lists, of those not calibrated


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
                f"`labeler init {shell(self.path)} --images DIR`"
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
        self._cache: Vectors | None = None
        self._cache_state: tuple[object, str | None] = (None, None)  # what `_cache` was read at
        self._workbench: Workbench | None = None

    def _never_finished(self) -> ProjectNotFound:
        return ProjectNotFound(
            f"{self.path} was never finished: run `labeler init {shell(self.path)} --images DIR` "
            "again"
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
        original_weights: bool = False,
        progress: bool = True,
    ) -> tuple[Project, InitReport]:
        """Create the project at `path`, or update it (see `update`): scan `images`, embed new
        files, index."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise LabelerError(f"project path {path} exists and is not a folder; choose another")
        if not (path / config.DB_NAME).exists():
            check_new_project_folder(path, Path(images).expanduser().resolve())
        with undone_on_failure(path):
            project = cls.__new__(cls)
            project.path = path
            project._attach(create_store(path))
            try:
                report = project.update(
                    images,
                    backbone=backbone,
                    checkpoint=checkpoint,
                    device=device,
                    batch_size=batch_size,
                    image_size=image_size,
                    original_weights=original_weights,
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
        original_weights: bool = False,
        derived: bool = False,
        progress: bool = True,
    ) -> InitReport:
        """Scan `images` (this project's folder, or one it moves to), embed the files whose
        content was not embedded before, and index the vectors anew. None for backbone,
        checkpoint or image_size: the project's current setting.

        original_weights: embed with `original_checkpoint()` again, undoing `finetune` and
        `adapt` (their vectors stay cached, so going back and forth embeds nothing anew).
        derived: `checkpoint` was derived here from the current weights (`finetune`, `adapt`),
        so the original weights stay those recorded; otherwise a checkpoint or backbone given
        becomes the original."""
        images = Path(images).expanduser().resolve()
        if not images.is_dir():
            raise LabelerError(f"images folder {images} does not exist or is not a folder")
        if batch_size < 1:
            raise LabelerError(f"--batch-size must be at least 1, got {batch_size}")
        original = self.original_checkpoint()
        if original_weights:
            if backbone is not None or checkpoint is not None:
                raise LabelerError(
                    "--original-weights goes back to the weights the project's images were "
                    "first embedded with; give it without --backbone or --checkpoint"
                )
            checkpoint = original
        chosen = checkpoint is not None or backbone not in (None, self.store.get_meta("backbone"))
        report = update_images(
            self.path,
            self.store,
            images,
            backbone=backbone,
            checkpoint=checkpoint,
            own_weights=original_weights and original is None,
            device=device,
            batch_size=batch_size,
            image_size=image_size,
            progress=progress,
        )
        kept = self.store.get_meta("checkpoint") if chosen and not derived else original
        self.store.set_meta(**{ORIGINAL_META: None if kept is None else str(kept)})
        self._cache = None
        self._save_index()
        return report

    def original_checkpoint(self) -> Path | None:
        """The weights file the project's images were first embedded with, before `finetune` or
        `adapt` derived others from it here: the `--checkpoint` given to init, or None for the
        backbone's own weights."""
        recorded = self.store.get_meta(ORIGINAL_META, _UNSET)
        if recorded is _UNSET:  # a project made before this was recorded: the weights now, ...
            recorded = self.store.get_meta("checkpoint")
            if recorded is not None and self.path.resolve() in Path(recorded).resolve().parents:
                recorded = None  # ... unless derived here (in finetuned/ or adapted/)
        return None if recorded is None else Path(recorded)

    # -- vectors and index -------------------------------------------------------------------------

    def _vectors(self) -> Vectors:
        """The vectors of the project's images (`load_vectors`), read once, until an update
        here or in another process (a `labeler init` or `finetune` beside a running server)."""
        state = (self.store.get_meta(ITEMS_VERSION), self.model_key)
        if self._cache is None or self._cache_state != state:
            self._cache = load_vectors(self.path, self.store, self.model_key)
            self._cache_state = state
        return self._cache

    def _save_index(self) -> None:
        save_index(self.path / INDEX_NAME, self._vectors())

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
        row = image_rows([path], v.paths, root=self.images_root, store=self.store)[0]
        sims, ids = self.index().search(v.unit[row : row + 1], k + 1)
        by_id = dict(zip(v.item_ids.tolist(), v.paths, strict=True))
        return [
            (by_id[i], float(s))
            for s, i in zip(sims[0], ids[0], strict=True)
            if i >= 0 and by_id[i] != path
        ][:k]

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
        paths are cells of a label CSV, matched leniently (see `labeler.paths.image_rows`).
        """
        return self._set_labels(assignments, annotator=annotator, csv_cells=csv_cells)[0]

    def _set_labels(
        self,
        assignments: Sequence[tuple[str, str]],
        *,
        annotator: str,
        csv_cells: bool,
        provenance: Sequence[tuple[str | None, str | None]] = (),
    ) -> tuple[int, list[tuple[str, str, str, str]], int, int]:
        """`label`: how many labels changed; (path, old label, its annotator, new label) of the
        labels replaced, in path order; how many images already had the label given; and how
        many of the images are gone from the folder.
        provenance: per assignment, as in `Store.set_labels`. A label CSV (`csv_cells`) may
        also label images gone from the folder: kept, as their labels are, until they return
        (an undo file of a class edit names them)."""
        check_annotator(annotator)
        spelt = check_new_class_names({name for _, name in assignments}, self.store.classes())
        assignments = [(path, spelt[name]) for path, name in assignments]
        v = self._vectors()
        gone = self.store.gone_items() if csv_cells else {}
        known = [*v.paths, *gone]  # rows past the present images are gone ones
        item_ids = [*v.item_ids.tolist(), *gone.values()]
        rows = image_rows(
            [p for p, _ in assignments],
            known,
            root=self.images_root,
            store=self.store,
            csv_cells=csv_cells,
        )
        present = [r for r in rows if r < len(v.paths)]
        check_unchanged(
            present, v.paths, v.hashes, root=self.images_root, project=self.path, then="label again"
        )
        # row -> (path as given, label, provenance), as first given
        chosen: dict[int, tuple[str, str, tuple[str | None, str | None]]] = {}
        for n, (row, (path, name)) in enumerate(zip(rows, assignments, strict=True)):
            by = provenance[n] if provenance else (None, None)
            first, label, _ = chosen.setdefault(row, (path, name, by))
            if label != name:
                raise LabelerError(
                    f"image {quoted(known[row])} is labeled both {label!r} (as {quoted(first)}) "
                    f"and {name!r} (as {quoted(path)}); keep one of them and import again"
                )
        given = {item_ids[r]: (known[r], name) for r, (_, name, _) in chosen.items()}
        kept = [by for _, _, by in chosen.values()] if provenance else None
        had = self.store.labels_and_annotators_of(list(given))
        replaced = sorted(
            (path, had[i][0], had[i][1], name)
            for i, (path, name) in given.items()
            if i in had and had[i][0] != name
        )
        changed = self.store.set_labels(
            [(i, name) for i, (_, name) in given.items()], annotator=annotator, provenance=kept
        )
        gone_given = sum(r >= len(v.paths) for r in chosen)
        return changed, replaced, len(given) - changed, gone_given

    def import_labels(
        self, csv_path: Path | str, *, annotator: str = DEFAULT_ANNOTATOR
    ) -> ImportReport:
        """`label` the rows of a label CSV (see `read_label_csv`); all or nothing. A refusal
        names the file; the report names the classes the file created and the labels it
        replaced."""
        check_annotator(annotator)  # the option's, before the file is blamed for it
        try:
            rows = read_label_csv(csv_path)
        except LabelerError as e:
            raise LabelerError(f"{e}; nothing was imported") from e
        before = set(self.store.classes())
        try:
            changed, replaced, unchanged, gone = self._set_labels(
                rows.pairs, annotator=annotator, csv_cells=True, provenance=rows.provenance
            )
        except LabelerError as e:
            note = encoding_note(rows.encoding)
            read_as = f" (the file was {note})" if note else ""
            lines = (
                rows.lines_of(e.names)
                if isinstance(e, ClassNameError)
                else rows.lines_of_paths(e.cells)
                if isinstance(e, UnknownPaths)
                else []
            )
            where = f", {line_numbers(lines)}" if lines else ""
            raise LabelerError(
                f"{file_name(csv_path)}{where}: {e}; nothing was imported{read_as}"
            ) from e
        new = [c for c in self.store.classes() if c not in before]
        return ImportReport(
            changed,
            len(self.store.labels()),
            rows.unlabeled,
            new_classes=new,
            encoding=rows.encoding,
            replaced=replaced,
            unchanged=unchanged,
            gone=gone,
            rows=len(rows.pairs),
            kept_annotator=sum(who is not None for who, _ in rows.provenance),
            kept_time=sum(when is not None for _, when in rows.provenance),
            unread_times=rows.unread_times,
            disagreeing_copies=self.disagreeing_copies(),
        )

    def disagreeing_copies(self) -> list[tuple[str, str, str, str]]:
        """(path, label, other path, other label) for each pair of labeled images that hold the
        same content byte for byte (one vector for both) but another label: one of the two is
        wrong, and the heads are fitted on both. Each pair once."""
        v = self._vectors()
        rows, labels = self._labeled()
        first: dict[str, tuple[str, str]] = {}  # content hash -> (path, label) seen first
        out = []
        for r, label in zip(rows.tolist(), labels, strict=True):
            path = v.paths[r]
            seen = first.setdefault(v.hashes[r], (path, label))
            if seen[1] != label:
                out.append((*seen, path, label))
        return out

    def every_image_labeled(self) -> bool:
        """Whether every image present has a label (and there is one): nothing to auto-label."""
        n = len(self._vectors().paths)
        return n > 0 and len(self._labeled()[0]) == n

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
        progress: bool = True,
    ) -> PredictReport:
        """Fit the head on all expert labels and store a prediction for every other image, with
        its out-of-distribution flag (and conformal prediction set when conformal_alpha is set);
        report the confidence to auto-accept at for `target_precision`. `progress`: a bar on
        stderr of the accuracy check's refits, the slow part on a big project."""
        v = self._vectors()
        # Read before the labels: a later label edit makes the run stale, a class edit void.
        label_state, classes_state = self.store.label_version()
        labeled, every_label, hand = self._label_rows()
        rows, labels = _hand_only(labeled, every_label, hand)
        proba, head = self._fit(method, rows, labels)
        uncalibrated = sorted(c for c, n in Counter(labels).items() if n == 1)
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
        run_id = self.store.add_run(
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
                "label_state": label_state,
                "uncalibrated": uncalibrated,
            },
            item_ids=v.item_ids[unlabeled],
            labels=auto.labels,
            confidence=auto.confidence,
            margin=auto.margin,
            entropy=auto.entropy,
            ood=auto.ood,
            prediction_sets=auto.sets,
            classes_as_of=classes_state,
        )
        try:
            estimate = record_estimate(
                self.store,
                v.raw,
                method,
                rows,
                labels,
                auto.confidence,
                key=estimate_key(method, self.model_key, v.item_ids[rows], labels),
                options=partial(self._head_options, method, labels),
                progress=progress,
            )
        except KeyboardInterrupt:
            self.store.set_meta(**{UNCHECKED_RUN_META: run_id})  # `status` says why no estimate
            raise Interrupted(
                f"while checking the labels: the {plural(len(unlabeled), 'prediction')} are "
                "saved (export has them), without an estimate of their accuracy; run predict "
                "again to make it"
            ) from None
        return PredictReport(
            method=method,
            model=self.model_key,
            labeled=len(labels),
            predicted=len(unlabeled),
            classes=[str(c) for c in head.classes_],
            temperature=head.temperature_,
            estimate=estimate,
            choice=head.describe(),
            target_precision=target_precision,
            threshold=auto.threshold,
            coverage=auto.coverage,
            ood=int(auto.ood.sum()),
            ood_short=auto.ood_short,
            set_size=None if auto.sets is None else float(np.mean([len(s) for s in auto.sets])),
            uncalibrated=uncalibrated,
            seen_by_backbone=len(set(self.trained_on()) & set(v.item_ids[rows].tolist())),
        )

    @replaces_weights
    def finetune(
        self,
        *,
        steps: int | None = None,
        minutes: float | None = None,
        blocks: int | None = None,
        from_original: bool = False,
        device: str = "auto",
        progress: bool = True,
    ) -> tuple[InitReport, FinetuneReport]:
        """Fine-tune the backbone on the expert labels (defaults: labeler.finetune; blocks -1:
        the whole backbone), save the weights in PROJECT/finetuned/, re-embed every image.
        It starts from the weights now, fine-tuned or adapted before; from_original: from
        `original_checkpoint()` instead. Refused while another finetune or adapt of the project
        runs (`replaces_weights`)."""
        from labeler.finetune.checkpoint import finetune_checkpoint
        from labeler.finetune.trainer import FINETUNE_STEPS, TRAIN_BLOCKS

        v = self._vectors()
        rows, labels = self._labeled(hand_only=True)
        if len(set(labels)) < 2:
            raise LabelerError("fine-tuning needs expert labels of at least two classes")
        self._check_images_folder("fine-tune")
        start = self._weights()
        if from_original:
            start["checkpoint"] = self.original_checkpoint()
        check_unchanged(
            rows,
            v.paths,
            v.hashes,
            root=self.images_root,
            project=self.path,
            then="fine-tune again",
            need_files=True,
        )
        files = [self.images_root / v.paths[r] for r in rows]
        with interrupted_says(
            "while training: nothing was saved, and the project keeps its weights and vectors; "
            "run finetune again (--steps or --minutes make it shorter)"
        ):
            path, report = finetune_checkpoint(
                self.path,
                files,
                labels,
                **start,
                device=device,
                steps=FINETUNE_STEPS if steps is None else steps,
                time_limit_s=None if minutes is None else 60.0 * minutes,
                blocks=TRAIN_BLOCKS if blocks is None else (None if blocks < 0 else blocks),
                progress=progress,
            )
        seen = {int(v.item_ids[r]) for r in rows}
        if not from_original:  # the weights started from were trained on those too
            seen |= set(self.trained_on())
        init = self._reembed(path, device=device, progress=progress, trained_on=seen)
        return init, report

    def _check_images_folder(self, doing: str) -> None:
        """Refuse to `doing` (fine-tune, adapt), which reads the images, when their folder is
        gone: a rescan (`init` without --images) would look for them there again."""
        root = self.images_root
        if not root.is_dir():
            raise LabelerError(
                f"the images folder {root} is not found ({images_folder_gone(self.path)}); "
                f"then {doing} again"
            )

    @replaces_weights
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
        PROJECT/adapted/, and re-embed every image with them. Refused while another finetune or
        adapt of the project runs (`replaces_weights`)."""
        from labeler.finetune.adapt import (
            ADAPT_BN_LAYERS,
            ADAPT_SAMPLE,
            adapt_checkpoint,
            sample_files,
        )

        v = self._vectors()
        if not v.paths:
            raise LabelerError(f"project {self.path} has no images to adapt to; add images first")
        self._check_images_folder("adapt")
        files = [self.images_root / p for p in v.paths]
        with interrupted_says(
            "while adapting: nothing was saved, and the project keeps its weights and vectors; "
            "run adapt again (--sample makes it shorter)"
        ):
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
        recorded = self.store.get_meta(self._trained_on_key())
        # (Projects fine-tuned before the key left out the input size recorded it under the
        # whole model key.)
        return recorded or self.store.get_meta(f"{TRAINED_ON_META}:{self.model_key}", [])

    def _trained_on_key(self) -> str:
        """The meta key of the labels the current weights were fine-tuned on: by the weights
        (backbone and checkpoint), not the input size, which re-embedding at another size
        (`init --image-size`) leaves them as they were."""
        return f"{TRAINED_ON_META}:{self.model_key.rsplit('@', 1)[0]}"

    def _reembed(
        self, checkpoint: Path, *, device: str, progress: bool, trained_on: Iterable[int]
    ) -> InitReport:
        """Embed every image again with new weights of the project's backbone (a new model key:
        the old vectors stay cached), derived from weights fine-tuned on the labels of items
        `trained_on` (recorded for the new key)."""
        weights = self._weights()
        with interrupted_says(
            f"while embedding the images with the new weights ({checkpoint}): the project keeps "
            "its weights and vectors; run the command again to make and use new ones"
        ):
            report = self.update(
                self.images_root,
                backbone=weights["backbone"],
                checkpoint=checkpoint,
                device=device,
                batch_size=int(self.store.get_meta("batch_size", config.DEFAULT_BATCH_SIZE)),
                image_size=weights["image_size"],
                derived=True,
                progress=progress,
            )
        if trained_on:
            self.store.set_meta(**{self._trained_on_key(): sorted(trained_on)})
        return report

    # -- knowing when to stop ----------------------------------------------------------------------

    def learning_curve(self, *, method: str | None = None) -> list[tuple[int, float, float, float]]:
        """(n_labels, estimated accuracy, low, high) of the auto-labels of head `method` (default:
        the browser's, `live_method`), one point per number of hand labels, fewest first: the
        latest recorded of each, and for the labels now their own (fitted now if none of this
        head was recorded for them; after an undo, the one recorded when they were last the
        labels). Points of other heads are left out: one curve, one head. Estimates come from
        the expert's labels alone; low..high is a 95% interval. Empty until two classes have two
        labels each."""
        return self.accuracy_check(method=method).curve

    def accuracy_check(self, *, method: str | None = None) -> AccuracyCheck:
        """`learning_curve`, with the number of hand labels it was made from and their own
        estimate: all from one reading of the labels, so that a label given while the estimate
        is fitted (slow) cannot make the check look as if none could be made."""
        method = method or self.live_method()
        rows, labels = self._labeled(hand_only=True)
        v = self._vectors()
        key = estimate_key(method, self.model_key, v.item_ids[rows], labels)
        if stored_estimate(self.store, key) is None:
            try:
                proba, _ = self._fit(method, rows, labels)
            except LabelerError:
                pass  # fewer than two classes: nothing to estimate yet
            else:
                rest = np.setdiff1d(np.arange(len(proba)), rows)
                record_estimate(
                    self.store,
                    v.raw,
                    method,
                    rows,
                    labels,
                    proba[rest].max(axis=1),
                    key=key,
                    options=partial(self._head_options, method, labels),
                )
        current = self._estimate_of(key)
        curve = by_label_count(recorded_curve(self.store, method), current)
        return AccuracyCheck(len(rows), current, curve)

    def current_estimate(self, method: str) -> tuple[int, float, float, float] | None:
        """(n_labels, estimated accuracy, low, high) of head `method` recorded for exactly the
        hand labels now (by `predict` or `learning_curve`), or None when none was."""
        rows, labels = self._labeled(hand_only=True)
        return self._estimate_of(
            estimate_key(method, self.model_key, self._vectors().item_ids[rows], labels)
        )

    def _estimate_of(self, key: str) -> tuple[int, float, float, float] | None:
        e = stored_estimate(self.store, key)
        return None if e is None else (e.n_labels, e.accuracy, e.low, e.high)

    # -- suggest -----------------------------------------------------------------------------------

    def suggest(self, n: int, *, strategy: str = "auto", seed: int = 0) -> list[dict]:
        """Up to n images to label next, most useful first, each with the reason it was chosen.

        Uncertainty comes from the head the browser shows (`live_method`), fitted on the hand
        labels; predictions accepted in bulk are never suggested but do not train it. Images
        that fit no class by the same hand labels (`labeler.ood`, as the browser flags them)
        are said to in their reason, whether or not `predict` has run since the labels."""
        v = self._vectors()
        chooser = create_strategy(strategy)
        rows, labels, hand = self._label_rows()
        method = self.live_method()
        flagged = self._fits_no_class(method, *_hand_only(rows, labels, hand))
        rows, labels, hand = _with_copies(v.hashes, rows, labels, hand)
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
            reason = fits_no_class_reason(s) if flagged[s.index] else s.reason
            row = {"path": v.paths[s.index], "reason": reason, "score": round(s.score, 6)}
            if pool.proba is not None:
                p = pool.proba[s.index]
                row |= {"predicted": pool.classes[int(p.argmax())], "confidence": float(p.max())}
            out.append(row)
        return out

    def _fits_no_class(self, method: str, rows: np.ndarray, labels: list[str]) -> np.ndarray:
        """(N,) bool: the images of `_vectors()` that fit no class by rows (K,) int64 labeled
        `labels`, with the kNN graph where head `method` is transductive, as the browser's live
        view flags them; none with fewer than two classes."""
        v = self._vectors()
        if len(set(labels)) < 2:
            return np.zeros(len(v.paths), dtype=bool)
        graph = self._graph() if create_head(method).transductive else None
        return OodDetector().fit(v.raw[rows], labels, X_pool=v.raw, graph=graph).pool_flags()

    # -- export ------------------------------------------------------------------------------------

    def export_rows(self) -> list[dict]:
        """One dict per present, embedded image, in path order, keyed by the export columns."""
        v = self._vectors()
        return export_rows(self.store, v.item_ids, v.paths)

    def export_csv(self, out: Path | str, *, excel: bool = False) -> int:
        """Write the export CSV to `out` (not inside the project folder but for its exports/),
        UTF-8; excel: behind a byte-order mark, so that Excel reads accented letters right."""
        check_outside_project(Path(out), self.path, images=self.images_root)
        return write_csv(Path(out), self.export_rows(), extra_columns=EXTRA_COLUMNS, excel=excel)

    def write_export(self, f: TextIO, *, excel: bool = False, lineterminator: str = "\r\n") -> int:
        """The export CSV, as `export_csv` writes it, to the text stream `f` (stdout, say);
        returns its row count."""
        return write_rows(
            f,
            self.export_rows(),
            extra_columns=EXTRA_COLUMNS,
            excel=excel,
            lineterminator=lineterminator,
        )

    def stale_predictions(self) -> str | None:
        """Why the latest `predict`'s predictions are out of date, in a sentence with the fix, or
        None while they are current (or there are none): see `_stale_reasons`."""
        run = self.store.latest_run()
        why = [] if run is None else self._stale_reasons(run)
        if not why:
            return None
        return (
            f"the predictions of {run.method} at {run.created_at} are out of date: "
            f"{'; '.join(why)}. Run `labeler predict` to bring them up to date"
        )

    def _stale_reasons(self, run: Run) -> list[str]:
        """Why `run`'s predictions are out of date, a clause each; none while current: labels
        changed since, images with no prediction (added since, or predicted as a class merged
        or deleted since), or vectors of another model (re-embedded since)."""
        v = self._vectors()
        why = []
        state = run.params.get("label_state")  # absent in runs made before it was recorded
        changes = 0 if state is None else len(self.store.label_events_since(state))
        if changes:
            why.append(f"{plural(changes, 'label change')} came after them")
        hand = {lab.item_id for lab in self.store.labels()}
        predicted = {p[0] for p in self.store.predictions(run.id)}
        missing = sum(i not in hand and i not in predicted for i in v.item_ids.tolist())
        if missing:
            why.append(
                f"{plural(missing, 'unlabeled image')} {'has' if missing == 1 else 'have'} none "
                "(added since, or predicted as a class merged or deleted since)"
            )
        if run.model != self.model_key:
            why.append(
                f"they are of the vectors of {run.model}, the images' are now of {self.model_key}"
            )
        return why

    def _gone_note(self) -> str:
        """That the labels of images gone from the folder are not exported; '' for none."""
        gone = self.store.gone_labeled()
        if not gone:
            return ""
        return (
            f"{plural(gone, 'label')} of images gone from {self.images_root} "
            f"{'is' if gone == 1 else 'are'} not in this file (an export lists the images "
            "present): they are kept, and come back when the images do and `labeler init` "
            "rescans"
        )

    def _unpredicted_note(self) -> str:
        """That no `predict` has run, so the unlabeled images are exported with no label; ''
        when every image has a label, or `predict` could not run yet (labels of fewer than two
        classes)."""
        labels = self.store.labels()
        hand = {lab.item_id for lab in labels}
        left = sum(i not in hand for i in self._vectors().item_ids.tolist())
        if not left or len({lab.label for lab in labels}) < 2:
            return ""
        return (
            f"no predictions yet: {plural(left, 'unlabeled image')} "
            f"{'has' if left == 1 else 'have'} no label in this file. Run `labeler predict` (or "
            "Export CSV in the app), then export again"
        )

    def export_notes(self) -> list[str]:
        """What a reader of the export should know, a sentence each: that labels of images gone
        from the folder are not in it, that there are no predictions yet, or that they are out of
        date (`stale_predictions`), and which classes' confidences are not calibrated (a single hand
        label; their rows have calibrated = 0)."""
        run = self.store.latest_run()
        unpredicted = "" if run is not None else self._unpredicted_note()
        notes = [n for n in [self._gone_note(), unpredicted, self.stale_predictions()] if n]
        uncalibrated = [] if run is None else run.params.get("uncalibrated", [])
        if uncalibrated:
            shown = ", ".join(map(repr, uncalibrated[:UNCALIBRATED_SHOWN]))
            more = " …" if len(uncalibrated) > UNCALIBRATED_SHOWN else ""
            notes.append(
                f"the confidences of {plural(len(uncalibrated), 'class', 'classes')} with a single "
                f"hand label ({shown}{more}) are not calibrated (column calibrated = 0): label a "
                "second image of each, then run `labeler predict`"
            )
        return notes

    def export_embeddings(self, out: Path | str) -> int:
        """Write the vectors as .npz to `out` (where `export_csv` may write)."""
        check_outside_project(Path(out), self.path, images=self.images_root)
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

    def save_labels_before(self, edit: Edit) -> Path | None:
        """Write the labels that `edit` (a class merge or delete) took away, with who gave each
        and when, as a label CSV at PROJECT/labels-before-class-edit-DATE-TIME.csv, which
        `labeler label` reads to put them back (the command line's undo); None, and nothing
        written, when it took none."""
        taken = [(i, before) for i, before, _ in edit.previous if before is not None]
        if not taken:
            return None
        ids = [i for i, _ in taken]
        paths, histories = self.store.paths_of(ids), self.store.label_histories(ids)
        rows = sorted(
            (paths[i], label, *_labeled_by(histories.get(i, []), label)) for i, label in taken
        )
        out = dated(self.path, BEFORE_CLASS_EDIT_NAME)
        write_table(out, LABEL_FILE_COLUMNS, rows)
        return out

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
        labels = self.store.labels()
        counts = Counter(row.label for row in labels)
        stale = [] if run is None else self._stale_reasons(run)
        return ProjectStatus(
            images=len(v.paths),
            images_root=str(self.images_root),
            model=self.model_key,
            labeled=len(labels),
            gone_labeled=self.store.gone_labeled(),
            classes={name: counts[name] for name in self.store.classes()},
            skipped=self.store.skipped(),
            last_prediction=NO_PREDICTION if run is None else _last_prediction(run, stale),
            estimated_accuracy=estimate_text(
                self.current_estimate(DEFAULT_METHOD if run is None else run.method),
                any_recorded=bool(self.store.estimates()),
                every_labeled=self.every_image_labeled(),
                check_interrupted=(
                    run is not None
                    and not stale
                    and self.store.get_meta(UNCHECKED_RUN_META) == run.id
                ),
            ),
            fine_tuned_on=len(self.trained_on()),
        )


def _with_copies(
    hashes: list[str], rows: np.ndarray, labels: list[str], hand: np.ndarray
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """`_label_rows()` with the unlabeled files that hold a labeled image (byte for byte) added,
    as labeled alike but not by hand: never suggested, and not fitted on twice."""
    label_of = {hashes[r]: label for r, label in zip(rows.tolist(), labels, strict=True)}
    taken = set(rows.tolist())
    copies = [r for r, h in enumerate(hashes) if h in label_of and r not in taken]
    if not copies:
        return rows, labels, hand
    every = np.concatenate([rows, copies])
    named = [*labels, *(label_of[hashes[r]] for r in copies)]
    order = np.argsort(every, kind="stable")  # ascending rows, as `_label_rows` gives them
    return (
        every[order],
        [named[i] for i in order],
        np.concatenate([hand, np.zeros(len(copies), dtype=bool)])[order],
    )


def _hand_only(
    rows: np.ndarray, labels: list[str], hand: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """The rows (K,) and labels of `_label_rows()` that are hand labels ((K,) bool `hand`)."""
    return rows[hand], [lab for lab, h in zip(labels, hand, strict=True) if h]


def _last_prediction(run: Run, stale: list[str]) -> str:
    """'METHOD at TIME' of the latest run, with why it is out of date where it is."""
    when = f"{run.method} at {run.created_at}"
    return f"{when} (out of date: {'; '.join(stale)}; run `labeler predict`)" if stale else when


def _labeled_by(history: list[tuple[str | None, str, str]], label: str) -> tuple[str, str]:
    """(annotator, time) of the event of `history` (an item's, oldest first) that gave it
    `label`, before its latest event (the class edit that took it away); empty if none."""
    return next(((who, at) for was, who, at in reversed(history[:-1]) if was == label), ("", ""))
