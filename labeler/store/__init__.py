"""The project store: SQLite in WAL mode, the only module that holds SQL.

Every write is its own committed transaction, so a label is on disk the moment it is made and a
crash never leaves half of an operation behind.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from labeler.errors import LabelerError
from labeler.store.annotator import (
    CONTENT_CHANGED,
    MAX_ANNOTATOR_CHARS,
    accepted_annotator,
    check_annotator,
    is_accepted,
)
from labeler.store.schema import SCHEMA_VERSION, migrate

# The classes in use as one string, 'id:name/…': changes with any class edit (`label_version`).
_CLASSES_STATE = (
    "SELECT IFNULL(GROUP_CONCAT(id || ':' || name, '/'), '') FROM "
    "(SELECT id, name FROM classes WHERE deleted_at IS NULL ORDER BY id)"
)
_SQL_CHUNK = 500  # host parameters per query, well under SQLite's limit
# SQLite error names (extended ones start with these) of a damaged file, and of one that cannot
# be used now (locked by another program, read-only, disk full or failing).
_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_UNUSABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_FULL")


__all__ = [
    "MAX_ANNOTATOR_CHARS",
    "Estimate",
    "Item",
    "LabelRow",
    "Run",
    "Store",
    "SyncReport",
    "UnfinishedDatabase",
    "check_annotator",
    "utc_now",
]


class ClassesChanged(LabelerError):
    """Predictions made for classes renamed, merged or deleted since: not stored."""

    def __init__(self, gone: Sequence[str]) -> None:
        which = f" ({', '.join(map(repr, gone))} no longer in use)" if gone else ""
        super().__init__(
            f"the classes changed while the predictions were made{which}, by a class rename, "
            "merge or delete elsewhere: nothing was stored; predict again"
        )


class UnfinishedDatabase(LabelerError):
    """The database file holds no project schema: empty, foreign, or its init never finished."""


def utc_now() -> str:
    """Current time as ISO 8601 UTC with seconds, e.g. '2026-11-24T07:04:37Z'."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Item:
    id: int
    path: str
    hash: str  # sha256 of the file bytes
    width: int
    height: int
    pixels: str | None  # a DICOM image's pixel identity (see `sync_items`); None for others


@dataclass(frozen=True)
class LabelRow:
    item_id: int
    label: str
    annotator: str
    labeled_at: str


@dataclass(frozen=True)
class Run:
    id: int
    method: str
    model: str
    params: dict
    created_at: str


@dataclass(frozen=True)
class Estimate:
    """One point of the learning curve: accuracy of the auto-labels estimated from labels."""

    label_state: int
    method: str
    n_labels: int
    accuracy: float
    low: float
    high: float
    created_at: str
    labels_key: str | None = None  # what it was made from (estimates.estimate_key); None: older


# Meta key of a counter that `sync_items` moves whenever the items change: a process holding
# the images in memory (the browser UI's server) reads it to see that another one rescanned.
ITEMS_VERSION = "items_version"


@dataclass(frozen=True)
class SyncReport:
    """What a folder scan changed: counts of items added, renamed (moved), changed in content
    in place, gone; and the labels that changed content cost."""

    added: int = 0
    renamed: int = 0
    changed: int = 0
    missing: int = 0  # present before this scan, not found by it
    back: int = 0  # gone before this scan, found again at its path (elsewhere: renamed)
    reheadered: int = 0  # DICOM files of new bytes holding a known image: labels kept
    # (path, label, annotator, labeled at) of the labels lost to new content
    cleared: tuple[tuple[str, str, str, str], ...] = ()


class Store:
    """One project database. Thread-safe: one connection guarded by a lock (Gradio uses threads)."""

    def __init__(self, path: Path | str, *, create: bool = False) -> None:
        """Open the project database at `path`; with `create`, make it (or finish its schema).

        Without `create`, a missing file, or one that holds no project schema (empty, or left
        by an init that never finished), is refused and not written to.
        """
        path = Path(path)
        if not create and not path.is_file():
            raise LabelerError(
                f"no project database at {path}; create the project with `labeler init`"
            )
        self.path = path
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as e:
            raise LabelerError(
                f"cannot open the project database {path} ({e}); check that its folder exists "
                "and is writable"
            ) from e
        try:
            with self._translated():
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise LabelerError(
                        f"project database {path} has schema version {version}, newer than this "
                        f"labeler understands ({SCHEMA_VERSION}); upgrade labeler"
                    )
                if version == 0 and not create:  # checked before any write, WAL mode included
                    raise UnfinishedDatabase(
                        f"{path} holds no project (it is empty or its creation never finished); "
                        "run `labeler init` on it again"
                    )
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA foreign_keys=ON")
                self._conn.execute("PRAGMA busy_timeout=10000")
                try:
                    migrate(self._conn)
                except sqlite3.OperationalError as e:
                    raise LabelerError(
                        f"cannot upgrade the project database {path} ({e}); restore it from a "
                        "backup"
                    ) from e
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn SQLite errors of a damaged or unusable database file into a LabelerError naming
        it; the rest (constraint violations, bad SQL) stay as they are: they are bugs."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            name = e.sqlite_errorname or ""
            if name.startswith(_DAMAGED):
                raise self._damaged(e) from e
            if name.startswith("SQLITE_CANTOPEN"):  # a read-only disk or share, say
                raise LabelerError(
                    f"cannot open the project database {self.path} ({e}): SQLite writes its "
                    "-wal and -shm files beside it, so the project folder must be writable, "
                    "also to read it; copy the project to a writable folder and use that copy"
                ) from e
            if name.startswith(_UNUSABLE):
                raise LabelerError(
                    f"cannot use the project database {self.path} ({e}); check that the disk is "
                    "not full, that the file is writable and that no other program holds it, "
                    "then retry"
                ) from e
            raise

    def _damaged(self, e: sqlite3.Error) -> LabelerError:
        return LabelerError(
            f"{self.path} is not a readable project database ({e}); restore it from a backup, "
            "or delete it and run `labeler init` again"
        )

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed on success and rolled back on any exception."""
        with self._lock, self._translated():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:  # SQLite may have rolled back already
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock, self._translated():
            return self._conn.execute(sql, params).fetchall()

    # -- meta ------------------------------------------------------------------------------------

    def get_meta(self, key: str, default: object = None) -> object:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_meta(self, **values: object) -> None:
        with self._tx() as c:
            c.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    # -- items -----------------------------------------------------------------------------------

    def items(self) -> list[Item]:
        """Items whose file is present, ordered by path."""
        rows = self._query(
            "SELECT id, path, hash, width, height, pixels FROM items WHERE present = 1 "
            "ORDER BY path"
        )
        return [Item(*r) for r in rows]

    def gone_paths(self) -> set[str]:
        """The last paths of items whose file is gone (those whose path another file took are
        left out)."""
        return set(self.gone_items())

    def gone_items(self) -> dict[str, int]:
        """{last path: item id} of the items whose file is gone, as `gone_paths`."""
        rows = self._query("SELECT path, id FROM items WHERE present = 0 ORDER BY path")
        return {path: i for path, i in rows if not path.startswith(_FREE_PREFIX)}

    def sync_items(
        self,
        files: Sequence[tuple[str, str, int, int]],
        *,
        pixels: Mapping[str, str] | None = None,
        other_folder: bool = False,
    ) -> SyncReport:
        """Make the present items exactly `files`, given as (path, hash, width, height);
        `pixels`: {path: pixel identity} of the DICOM files among them; `other_folder`: the
        files are of another folder than the items (paths there say nothing of what they held
        here: no item is changed in place, each waits for its content).

        An item is an image: its labels follow its content, never just its file name.
        - A file whose path and content are both known keeps its item.
        - A file holding the content of an item that is no longer at its own path (renamed,
          moved, files swapped or renumbered, as PACS re-exports do) is that item, moved.
        - A DICOM file of new bytes whose pixel identity is that of an item not otherwise found
          (at its path first, else anywhere) is that item, its header edited (de-identified,
          re-exported): it keeps its label, and takes the new hash (its vector is new).
        - The path of an item present until now, holding new content, keeps its item with the
          new content, which loses its label: the image the expert labeled is no longer there
          (reported in `cleared`, and a removal in the label history, by CONTENT_CHANGED). New
          content at the path of an item already gone is a new item: the gone one waits,
          label and all, for its content.
        - Anything else is added. Items whose content is nowhere are marked not present and
          come back, labels and all, when their content does.
        """
        with self._tx() as c:
            pixels = pixels or {}
            known = c.execute("SELECT id, path, hash, present, pixels FROM items").fetchall()
            was_present = {i: bool(present) for i, _, _, present, _ in known}
            plan = _plan_sync(
                [row[:3] for row in known],
                [f[:2] for f in files],
                present=set() if other_folder else {i for i, was in was_present.items() if was},
                pixels_of={i: p for i, *_, p in known if p is not None},
                pixels=pixels,
            )
            # Paths first: the moved items, and the gone ones whose path a file now holds, go
            # to a free name, so that two items may trade paths (files swapped).
            moved = [(path, i) for path, i in plan.items.items() if i in plan.moved]
            for item_id in [*plan.moved, *plan.evicted]:
                c.execute("UPDATE items SET path = ? WHERE id = ?", (_free_path(item_id), item_id))
            c.executemany("UPDATE items SET path = ? WHERE id = ?", moved)
            c.executemany("UPDATE items SET present = 0 WHERE id = ?", [(i,) for i in plan.gone])
            cleared = self._clear_changed(c, plan.changed)
            for path, h, width, height in files:
                item_id = plan.items.get(path)
                if item_id is None:
                    c.execute(
                        "INSERT INTO items(path, hash, width, height, pixels) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (path, h, width, height, pixels.get(path)),
                    )
                else:
                    c.execute(
                        "UPDATE items SET hash = ?, width = ?, height = ?, pixels = ?, "
                        "present = 1 WHERE id = ?",
                        (h, width, height, pixels.get(path), item_id),
                    )
            report = SyncReport(
                added=len(files) - len(plan.items),
                renamed=len(plan.moved),
                changed=len(plan.changed),
                missing=sum(was_present[i] for i in plan.gone),
                back=sum(not was_present[i] for i in plan.items.values() if i not in plan.moved),
                reheadered=len(plan.reheadered),
                cleared=cleared,
            )
            if report != SyncReport():  # other processes (a running server) see it changed
                c.execute(
                    "INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT(key) "
                    "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
                    (ITEMS_VERSION,),
                )
        return report

    def _clear_changed(
        self, c: sqlite3.Connection, changed: Sequence[int]
    ) -> tuple[tuple[str, str, str, str], ...]:
        """Remove the labels of items whose content changed in place; their (path, label,
        annotator, labeled at)."""
        at = utc_now()
        cleared = []
        for item_id in changed:
            row = c.execute(
                "SELECT i.path, c.name, l.annotator, l.labeled_at FROM labels l "
                "JOIN classes c ON c.id = l.class_id JOIN items i ON i.id = l.item_id "
                "WHERE l.item_id = ?",
                (item_id,),
            ).fetchone()
            if row:
                self._write_label(c, item_id, None, annotator=CONTENT_CHANGED, at=at)
                cleared.append(tuple(row))
        return tuple(sorted(cleared))

    def replace_skipped(self, rows: Sequence[tuple[str, str]]) -> None:
        """Record the files the last scan or embedding could not use, as (path, reason)."""
        now = utc_now()
        with self._tx() as c:
            c.execute("DELETE FROM skipped")
            c.executemany(
                "INSERT OR REPLACE INTO skipped(path, reason, seen_at) VALUES (?, ?, ?)",
                [(p, r, now) for p, r in rows],
            )

    def skipped(self) -> list[tuple[str, str]]:
        return self._query("SELECT path, reason FROM skipped ORDER BY path")

    # -- classes ---------------------------------------------------------------------------------

    def classes(self) -> list[str]:
        """Names of the classes in use (not deleted), in order of creation."""
        return [
            r[0]
            for r in self._query("SELECT name FROM classes WHERE deleted_at IS NULL ORDER BY id")
        ]

    def class_lifetimes(self) -> list[tuple[str, str, str | None]]:
        """Every class ever made, deleted ones too, as (name, created at, deleted at or None
        while in use), in order of creation."""
        return self._query("SELECT name, created_at, deleted_at FROM classes ORDER BY id")

    @staticmethod
    def _class_id(c: sqlite3.Connection, name: str) -> int:
        """The id of class `name`, created, or restored if it was deleted."""
        row = c.execute("SELECT id, deleted_at FROM classes WHERE name = ?", (name,)).fetchone()
        if row:
            if row[1] is not None:
                c.execute("UPDATE classes SET deleted_at = NULL WHERE id = ?", (row[0],))
            return row[0]
        return c.execute(
            "INSERT INTO classes(name, created_at) VALUES (?, ?)", (name, utc_now())
        ).lastrowid

    def add_class(self, name: str) -> None:
        with self._tx() as c:
            self._class_id(c, name)

    # -- labels ----------------------------------------------------------------------------------

    @staticmethod
    def _write_label(
        c: sqlite3.Connection,
        item_id: int,
        class_id: int | None,
        *,
        annotator: str,
        at: str,
        given: tuple[str, str] | None = None,
    ) -> None:
        """Set (or, with class_id None, remove) one item's label and append it to the history,
        under `annotator` at `at`; `given`: (annotator, time) that the label itself carries
        instead (an undo gives a label back as it was given, and records who undid)."""
        if class_id is None:
            c.execute("DELETE FROM labels WHERE item_id = ?", (item_id,))
        else:
            c.execute(
                "INSERT INTO labels(item_id, class_id, annotator, labeled_at) VALUES (?,?,?,?) "
                "ON CONFLICT(item_id) DO UPDATE SET class_id = excluded.class_id, "
                "annotator = excluded.annotator, labeled_at = excluded.labeled_at",
                (item_id, class_id, *(given or (annotator, at))),
            )
        c.execute(
            "INSERT INTO label_events(item_id, class_id, annotator, at) VALUES (?,?,?,?)",
            (item_id, class_id, annotator, at),
        )

    def set_labels(
        self,
        assignments: Sequence[tuple[int, str]],
        *,
        annotator: str,
        at: str | None = None,
        provenance: Sequence[tuple[str | None, str | None]] | None = None,
    ) -> int:
        """Label items, as (item_id, class name); return how many labels actually changed.

        Re-assigning the same class is a no-op and writes no history, except over a prediction
        accepted in bulk by a hand label: the expert confirms it, and the heads may train on
        it from now on. provenance: per assignment, (annotator, time) to record instead of
        `annotator` and `at` where not None (an import of an export keeps who labeled each
        image, and when).
        """
        check_annotator(annotator, accepted=True)
        at = at or utc_now()
        by = [(who or annotator, when or at) for who, when in provenance or ()]
        for who, _ in by:
            check_annotator(who, accepted=True)
        if by and len(by) != len(assignments):
            raise ValueError(f"{len(by)} provenance pairs for {len(assignments)} assignments")
        changed = 0
        with self._tx() as c:
            for n, (item_id, name) in enumerate(assignments):
                class_id = self._class_id(c, name)
                row = c.execute(
                    "SELECT class_id, annotator FROM labels WHERE item_id = ?", (item_id,)
                ).fetchone()
                who, when = by[n] if by else (annotator, at)
                confirmed = row and is_accepted(row[1]) and not is_accepted(who)
                if row and row[0] == class_id and not confirmed:
                    continue
                self._write_label(c, item_id, class_id, annotator=who, at=when)
                changed += 1
        return changed

    def remove_labels(self, item_ids: Sequence[int], *, annotator: str) -> int:
        """Remove the expert label of these items (history keeps a removal event)."""
        check_annotator(annotator, accepted=True)
        at = utc_now()
        removed = 0
        with self._tx() as c:
            for item_id in item_ids:
                if c.execute("DELETE FROM labels WHERE item_id = ?", (item_id,)).rowcount:
                    c.execute(
                        "INSERT INTO label_events(item_id, class_id, annotator, at) "
                        "VALUES (?, NULL, ?, ?)",
                        (item_id, annotator, at),
                    )
                    removed += 1
        return removed

    def labels(self) -> list[LabelRow]:
        """Current expert labels of present items, ordered by item id."""
        rows = self._query(
            "SELECT l.item_id, c.name, l.annotator, l.labeled_at FROM labels l "
            "JOIN classes c ON c.id = l.class_id JOIN items i ON i.id = l.item_id "
            "WHERE i.present = 1 ORDER BY l.item_id"
        )
        return [LabelRow(*r) for r in rows]

    def gone_labeled(self) -> int:
        """How many items whose file is gone keep a label (it comes back with the file)."""
        rows = self._query(
            "SELECT COUNT(*) FROM labels l JOIN items i ON i.id = l.item_id WHERE i.present = 0"
        )
        return rows[0][0]

    def label_history(self, item_id: int) -> list[tuple[str | None, str, str]]:
        """(label or None for removed, annotator, at) for one item, oldest first."""
        return self.label_histories([item_id]).get(item_id, [])

    def label_histories(
        self, item_ids: Sequence[int]
    ) -> dict[int, list[tuple[str | None, str, str]]]:
        """{item id: its `label_history`} of those of `item_ids` with any event, in a few queries
        (a class of 100 000 labels is read at once, not image by image)."""
        rows = self._query_ids(
            "SELECT e.item_id, c.name, e.annotator, e.at FROM label_events e "
            "LEFT JOIN classes c ON c.id = e.class_id WHERE e.item_id IN ({ids}) ORDER BY e.id",
            item_ids,
        )
        histories: dict[int, list[tuple[str | None, str, str]]] = {}
        for item_id, *event in sorted(rows, key=lambda row: row[0]):
            histories.setdefault(item_id, []).append(tuple(event))
        return histories

    # -- prediction runs -------------------------------------------------------------------------

    def add_run(
        self,
        *,
        method: str,
        model: str,
        params: dict,
        item_ids: np.ndarray,
        labels: Sequence[str],
        confidence: np.ndarray,
        margin: np.ndarray,
        entropy: np.ndarray,
        ood: np.ndarray | None = None,
        prediction_sets: Sequence[Sequence[str] | None] | None = None,
        classes_as_of: str | None = None,
    ) -> int:
        """Store one prediction run: per item (M,) the predicted label and its scores; optionally
        (M,) out-of-distribution flags and conformal prediction sets (lists of class names).

        The classes named must be in use. `classes_as_of`: the classes part of `label_version()`
        read before the predictions were made; when the classes changed since (a rename, merge
        or delete in another process while the head was fitted), nothing is stored and a
        `ClassesChanged` error says to predict again.
        """
        count = len(item_ids)
        flags = np.zeros(count, dtype=bool) if ood is None else np.asarray(ood, dtype=bool)
        sets = [None] * count if prediction_sets is None else prediction_sets
        with self._tx() as c:
            in_use = dict(c.execute("SELECT name, id FROM classes WHERE deleted_at IS NULL"))
            gone = sorted(set(labels) - in_use.keys())
            if gone or classes_as_of not in (None, c.execute(_CLASSES_STATE).fetchone()[0]):
                raise ClassesChanged(gone)
            run_id = c.execute(
                "INSERT INTO runs(method, model, params, created_at) VALUES (?, ?, ?, ?)",
                (method, model, json.dumps(params), utc_now()),
            ).lastrowid
            class_ids = {name: in_use[name] for name in set(labels)}
            c.executemany(
                "INSERT INTO predictions(run_id, item_id, class_id, confidence, margin, entropy, "
                "ood, prediction_set) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                zip(
                    [run_id] * count,
                    map(int, item_ids),
                    [class_ids[n] for n in labels],
                    map(float, confidence),
                    map(float, margin),
                    map(float, entropy),
                    map(int, flags),
                    [None if s is None else json.dumps(list(s), ensure_ascii=False) for s in sets],
                    strict=True,
                ),
            )
            # Only the latest run is read; older predictions are dropped to keep the file small.
            c.execute("DELETE FROM predictions WHERE run_id <> ?", (run_id,))
        return run_id

    def latest_run(self) -> Run | None:
        rows = self._query(
            "SELECT id, method, model, params, created_at FROM runs ORDER BY id DESC LIMIT 1"
        )
        if not rows:
            return None
        run_id, method, model, params, created_at = rows[0]
        return Run(run_id, method, model, json.loads(params), created_at)

    def prediction_extras(self, run_id: int) -> dict[int, tuple[bool, list[str] | None]]:
        """item_id → (out-of-distribution flag, prediction set or None) of one run."""
        rows = self._query(
            "SELECT item_id, ood, prediction_set FROM predictions WHERE run_id = ?", (run_id,)
        )
        return {i: (bool(o), None if s is None else json.loads(s)) for i, o, s in rows}

    def predictions(self, run_id: int) -> list[tuple[int, str, float, float, float]]:
        """(item_id, label, confidence, margin, entropy) of one run, ordered by item id."""
        return self._query(
            "SELECT p.item_id, c.name, p.confidence, p.margin, p.entropy FROM predictions p "
            "JOIN classes c ON c.id = p.class_id WHERE p.run_id = ? ORDER BY p.item_id",
            (run_id,),
        )

    # -- browser UI: label edits with undo, class edits, change detection (labeler.edits) --------

    def label_version(self) -> tuple[int, str]:
        """Changes whenever a label or a class changes, in this process or any other: (latest
        label event, the classes in use as 'id:name/…')."""
        rows = self._query(
            f"SELECT (SELECT IFNULL(MAX(id), 0) FROM label_events), ({_CLASSES_STATE})"
        )
        return rows[0][0], rows[0][1]

    def label_events_since(self, event_id: int) -> list[tuple[int, int, str | None, str]]:
        """Label history after event `event_id`, oldest first: (event id, item id, label or
        None where it was removed, annotator)."""
        return self._query(
            "SELECT e.id, e.item_id, c.name, e.annotator FROM label_events e "
            "LEFT JOIN classes c ON c.id = e.class_id WHERE e.id > ? ORDER BY e.id",
            (event_id,),
        )

    def labels_of(self, item_ids: Sequence[int]) -> dict[int, str]:
        """{item id: current label} of those of `item_ids` that have one."""
        return {i: label for i, (label, _) in self.labels_and_annotators_of(item_ids).items()}

    def labels_and_annotators_of(self, item_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """{item id: (current label, its annotator)} of those of `item_ids` that have one."""
        return {i: (label, who) for i, (label, who, _) in self.label_records_of(item_ids).items()}

    def label_records_of(self, item_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
        """{item id: (current label, its annotator, labeled at)} of those of `item_ids` that
        have one."""
        rows = self._query_ids(
            "SELECT l.item_id, c.name, l.annotator, l.labeled_at FROM labels l "
            "JOIN classes c ON c.id = l.class_id WHERE l.item_id IN ({ids})",
            item_ids,
        )
        return {i: (label, who, at) for i, label, who, at in rows}

    def paths_of(self, item_ids: Sequence[int]) -> dict[int, str]:
        """{item id: path} of `item_ids`, whether or not the file is present."""
        return dict(self._query_ids("SELECT id, path FROM items WHERE id IN ({ids})", item_ids))

    def _query_ids(self, sql: str, item_ids: Sequence[int]) -> list[tuple]:
        """Rows of `sql`, whose `{ids}` is filled with the ids, asked _SQL_CHUNK ids at a time
        (SQLite limits the parameters of one statement)."""
        ids, rows = list(item_ids), []
        for start in range(0, len(ids), _SQL_CHUNK):
            chunk = ids[start : start + _SQL_CHUNK]
            rows += self._query(sql.format(ids=",".join("?" * len(chunk))), chunk)
        return rows

    def apply_labels(
        self,
        changes: Sequence[tuple[int, str | None]],
        *,
        annotator: str,
        accepted: Collection[int] = (),
        given: Mapping[int, tuple[str, str]] | None = None,
    ) -> int:
        """Set (item_id, class name) or remove (item_id, None) labels in one transaction.

        Returns how many labels changed. A label already set by the same annotator (the one
        `given`, where given) is left alone and writes no history; by another annotator, it is
        set again in their name.
        accepted: items whose label is set as a prediction accepted in bulk (an undo puts
        such a label back as it was), recorded under `annotator` with ACCEPTED_SUFFIX.
        given: {item id: (annotator, labeled at)} that the label set on that item carries, as
        when it was first given (an undo); its history event is still `annotator`'s, now.
        """
        check_annotator(annotator, accepted=True)
        at = utc_now()
        changed = 0
        with self._tx() as c:
            for item_id, name in changes:
                who = accepted_annotator(annotator) if item_id in accepted else annotator
                back = (given or {}).get(item_id)
                row = c.execute(
                    "SELECT class_id, annotator FROM labels WHERE item_id = ?", (item_id,)
                ).fetchone()
                if name is None:
                    if row is None:
                        continue
                    class_id = None
                else:
                    class_id = self._class_id(c, name)
                    if row and tuple(row) == (class_id, who if back is None else back[0]):
                        continue
                self._write_label(c, item_id, class_id, annotator=who, at=at, given=back)
                changed += 1
        return changed

    def rename_class(self, old: str, new: str) -> None:
        """Give class `old` the unused name `new`; its labels and history follow."""
        with self._tx() as c:
            if c.execute("SELECT 1 FROM classes WHERE name = ?", (new,)).fetchone():
                raise LabelerError(f"a class named {new!r} exists already; merge into it instead")
            if not c.execute(
                "UPDATE classes SET name = ? WHERE name = ? AND deleted_at IS NULL", (new, old)
            ).rowcount:
                raise LabelerError(f"there is no class {old!r} to rename")

    def retire_class(
        self, name: str, *, annotator: str, into: str | None = None
    ) -> tuple[dict[int, tuple[str, str]], set[int]]:
        """Delete class `name`, or merge it `into` another class (created if need be).

        Its labels are removed (or moved, each keeping who gave it and when, as a rename does),
        each with a history event under `annotator` (marked accepted where the label was a
        prediction accepted in bulk); its predictions are dropped. Returns {item id: (annotator,
        labeled at)} of the labels it held, and the items whose label was an accepted
        prediction.
        """
        check_annotator(annotator, accepted=True)
        at = utc_now()
        with self._tx() as c:
            row = c.execute(
                "SELECT id FROM classes WHERE name = ? AND deleted_at IS NULL", (name,)
            ).fetchone()
            if row is None:
                raise LabelerError(f"there is no class {name!r}")
            class_id = row[0]
            target = None if into is None else self._class_id(c, into)
            if target == class_id:
                raise LabelerError(f"cannot merge class {name!r} into itself")
            held = c.execute(
                "SELECT item_id, annotator, labeled_at FROM labels WHERE class_id = ? "
                "ORDER BY item_id",
                (class_id,),
            ).fetchall()
            items = {i: (given_by, given_at) for i, given_by, given_at in held}
            accepted = {i for i, (given_by, _) in items.items() if is_accepted(given_by)}
            who = {i: accepted_annotator(annotator) if i in accepted else annotator for i in items}
            if target is None:
                c.execute("DELETE FROM labels WHERE class_id = ?", (class_id,))
            else:
                c.execute("UPDATE labels SET class_id = ? WHERE class_id = ?", (target, class_id))
            c.executemany(
                "INSERT INTO label_events(item_id, class_id, annotator, at) VALUES (?,?,?,?)",
                [(i, target, annotator if target is None else who[i], at) for i in items],
            )
            c.execute("DELETE FROM predictions WHERE class_id = ?", (class_id,))
            c.execute("UPDATE classes SET deleted_at = ? WHERE id = ?", (at, class_id))
        return items, accepted

    # -- learning curve: accuracy estimates (labeler.active.stopping) ----------------------------

    def add_estimate(
        self,
        *,
        label_state: int,
        method: str,
        n_labels: int,
        accuracy: float,
        low: float,
        high: float,
        labels_key: str | None = None,
    ) -> None:
        """Record the estimated accuracy after the labels of `label_state`, made from what
        `labels_key` names; replaces an older estimate of the same labels."""
        with self._tx() as c:
            c.execute(
                "INSERT INTO estimates(label_state, method, n_labels, accuracy, low, high, "
                "created_at, labels_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(label_state) DO UPDATE SET "
                "method = excluded.method, n_labels = excluded.n_labels, "
                "accuracy = excluded.accuracy, low = excluded.low, high = excluded.high, "
                "created_at = excluded.created_at, labels_key = excluded.labels_key",
                (label_state, method, n_labels, accuracy, low, high, utc_now(), labels_key),
            )

    def estimates(self) -> list[Estimate]:
        """Every recorded estimate, oldest labels first."""
        rows = self._query(
            "SELECT label_state, method, n_labels, accuracy, low, high, created_at, labels_key "
            "FROM estimates ORDER BY label_state"
        )
        return [Estimate(*r) for r in rows]


@dataclass
class _SyncPlan:
    """How the files of a scan map onto known items (see `Store.sync_items`)."""

    items: dict[str, int] = field(default_factory=dict)  # file path -> the known item it is
    moved: set[int] = field(default_factory=set)  # items now at another path
    reheadered: set[int] = field(default_factory=set)  # DICOM items found by pixel identity
    changed: list[int] = field(default_factory=list)  # items whose path holds new content
    gone: list[int] = field(default_factory=list)  # items whose content is nowhere
    evicted: list[int] = field(default_factory=list)  # gone items whose path a file now holds


def _plan_sync(
    known: Sequence[tuple[int, str, str]],
    files: Sequence[tuple[str, str]],
    *,
    present: set[int],
    pixels_of: Mapping[int, str],
    pixels: Mapping[str, str],
) -> _SyncPlan:
    """Match scanned (path, hash) `files` to `known` (id, path, hash) items: same path and
    content first, then content found at another path (the item moved), then a DICOM image
    (`pixels`: {path: identity}; `pixels_of`: {item id: identity}) known by its pixels, then
    the path of an item `present` until now with new content (changed in place). New content at
    the path of an item gone before is a new item: the gone one keeps its label until its
    content is back."""
    plan = _SyncPlan()
    at_path = {path: (item_id, h) for item_id, path, h in known}
    by_hash: dict[str, list[int]] = {}
    for item_id, _, h in sorted(known):
        by_hash.setdefault(h, []).append(item_id)
    claimed: set[int] = set()
    rest = []
    for path, h in files:
        item_id, old = at_path.get(path, (None, None))
        if old == h:
            plan.items[path] = item_id
            claimed.add(item_id)
        else:
            rest.append((path, h))
    later = []
    for path, h in rest:
        free = [i for i in by_hash.get(h, ()) if i not in claimed]
        if free:
            plan.items[path] = free[0]
            plan.moved.add(free[0])
            claimed.add(free[0])
        else:
            later.append(path)
    later = _match_pixels(later, plan, at_path, claimed, pixels_of, pixels)
    for path in later:
        item_id, _ = at_path.get(path, (None, None))
        if item_id is not None and item_id not in claimed and item_id in present:
            plan.items[path] = item_id
            plan.changed.append(item_id)
            claimed.add(item_id)
    plan.gone = [i for i, _, _ in known if i not in claimed]
    scanned = {path for path, _ in files}
    plan.evicted = [i for i, path, _ in known if i not in claimed and path in scanned]
    return plan


def _match_pixels(
    paths: list[str],
    plan: _SyncPlan,
    at_path: Mapping[str, tuple[int, str]],
    claimed: set[int],
    pixels_of: Mapping[int, str],
    pixels: Mapping[str, str],
) -> list[str]:
    """Give each of `paths` that holds a DICOM image of a known, unclaimed item (by pixel
    identity; the item at that path first) that item, in `plan`; -> the paths left."""
    by_pixels: dict[str, list[int]] = {}
    for item_id, identity in sorted(pixels_of.items()):
        by_pixels.setdefault(identity, []).append(item_id)
    left = []
    for path in paths:
        free = [i for i in by_pixels.get(pixels.get(path), ()) if i not in claimed]
        if not free:
            left.append(path)
            continue
        here = at_path.get(path, (None, None))[0]
        item_id = here if here in free else free[0]
        plan.items[path] = item_id
        plan.reheadered.add(item_id)
        if item_id != here:
            plan.moved.add(item_id)
        claimed.add(item_id)
    return left


_FREE_PREFIX = "//gone/"  # no scanned path starts so: scans never give '//'


def _free_path(item_id: int) -> str:
    """A path no scanned file has: where an item waits while paths are reassigned, or stays
    when gone and its path now holds another item."""
    return f"{_FREE_PREFIX}{item_id}"
