"""Tests for labeler.store: schema and migrations, folder sync, labels with history, runs."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from labeler.errors import LabelerError
from labeler.store import (
    MAX_ANNOTATOR_CHARS,
    ClassesChanged,
    Store,
    SyncReport,
    UnfinishedDatabase,
    schema,
)
from labeler.store.annotator import CONTENT_CHANGED
from labeler.store.schema import SCHEMA_VERSION, migrate

TABLES = {
    "meta",
    "items",
    "skipped",
    "classes",
    "labels",
    "label_events",
    "runs",
    "predictions",
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "labeler.sqlite"


@pytest.fixture
def store(db: Path):
    with Store(db, create=True) as s:
        yield s


def _raw(db: Path) -> sqlite3.Connection:
    """A separate plain connection, to look at the file as another process would."""
    return sqlite3.connect(db)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _ids_by_path(store: Store) -> dict[str, int]:
    return {i.path: i.id for i in store.items()}


# ----- opening and schema -----------------------------------------------------------------------


def test_fresh_database_has_the_schema_in_wal_mode(db: Path) -> None:
    Store(db, create=True).close()
    with _raw(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert _tables(conn) >= TABLES


def test_missing_database_is_refused_without_creating_it(db: Path) -> None:
    with pytest.raises(LabelerError, match="no project database"):
        Store(db)
    assert not db.exists()


def test_a_file_that_is_not_a_database_is_refused(db: Path) -> None:
    db.write_bytes(b"this is not an SQLite file\n" * 200)
    with pytest.raises(LabelerError, match="not a readable project database"):
        Store(db)


def test_database_from_a_newer_labeler_is_refused(db: Path) -> None:
    with _raw(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(LabelerError, match="newer"):
        Store(db)
    with _raw(db) as conn:  # refused, not migrated or otherwise touched
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert "items" not in _tables(conn)


def test_version_zero_database_is_refused_untouched_and_migrated_by_create(db: Path) -> None:
    with _raw(db) as conn:  # an existing SQLite file at user_version 0, with an unrelated table
        conn.execute("CREATE TABLE unrelated (x INTEGER)")
        conn.execute("INSERT INTO unrelated VALUES (7)")
    before = db.read_bytes()
    with pytest.raises(UnfinishedDatabase, match=r"holds no project .* run `labeler init`"):
        Store(db)
    assert db.read_bytes() == before  # opening wrote nothing: no schema, no WAL mode
    with Store(db, create=True) as s:
        s.sync_items([("a.png", "h1", 1, 1)])
        assert [i.path for i in s.items()] == ["a.png"]
    with _raw(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert _tables(conn) >= TABLES | {"unrelated"}
        assert conn.execute("SELECT x FROM unrelated").fetchall() == [(7,)]


def test_empty_file_is_refused_without_writing_to_it(db: Path) -> None:
    db.touch()
    with pytest.raises(UnfinishedDatabase, match="holds no project"):
        Store(db)
    assert db.stat().st_size == 0
    assert sorted(p.name for p in db.parent.iterdir()) == [db.name]  # no -wal or -shm either


def test_database_damaged_mid_file_is_a_clear_error(db: Path) -> None:
    with Store(db, create=True) as s:
        s.set_meta(model_key="k")
    with _raw(db) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as f:  # page 2 holds the meta table, the first one created
        f.seek(page)
        f.write(b"\xff" * 3000)
    with Store(db) as s:  # the header is intact: the damage shows when a page is read
        for read_or_write in (lambda: s.get_meta("model_key"), lambda: s.set_meta(x=1)):
            with pytest.raises(LabelerError, match="is not a readable project database") as e:
                read_or_write()
            assert str(db) in str(e.value) and "backup" in str(e.value)


def test_bad_sql_stays_a_bug_not_a_user_error(store: Store) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        store._query("SELECT * FROM no_such_table")


def test_locked_database_is_a_clear_error_and_the_store_stays_usable(store: Store) -> None:
    store._conn.execute("PRAGMA busy_timeout=0")  # fail at once instead of waiting 10 s
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(LabelerError, match=r"cannot use the project database .*locked"):
            store.set_meta(a=1)
        other.execute("ROLLBACK")
    finally:
        other.close()
    store.set_meta(a=2)
    assert store.get_meta("a") == 2


def test_a_database_sqlite_cannot_open_says_the_folder_must_be_writable(
    store: Store, tmp_path: Path
) -> None:
    """On a read-only disk SQLite cannot make its -wal and -shm files, and every command failed
    with a traceback (SQLITE_CANTOPEN). A real CANTOPEN here: a file in a missing folder."""
    missing = tmp_path / "gone" / "x.sqlite"
    refused = pytest.raises(LabelerError, match=r"cannot open the project database .*writable")
    with refused, store._translated():
        store._conn.execute(f"ATTACH DATABASE '{missing}' AS other")


def test_migrate_runs_only_the_new_migrations_and_keeps_data(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(db, create=True) as s:
        s.sync_items([("a.png", "h1", 3, 4)])
        s.set_labels([(s.items()[0].id, "cat")], annotator="ann")
    extra = "ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT 'none';"
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, extra))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert migrate(conn) == SCHEMA_VERSION + 1
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("SELECT path, note FROM items").fetchall() == [("a.png", "none")]
        # Running it again is a no-op: the first migration would fail on existing tables.
        assert migrate(conn) == SCHEMA_VERSION + 1
    finally:
        conn.close()


def test_reopening_keeps_data_and_labels_are_committed_at_once(db: Path) -> None:
    first = Store(db, create=True)
    try:
        first.sync_items([("a.png", "h1", 10, 20), ("b.png", "h2", 30, 40)])
        first.set_meta(backbone="lite0", size=112)
        a = _ids_by_path(first)["a.png"]
        first.set_labels([(a, "cat")], annotator="ann")
        second = Store(db)  # while the first is still open
        try:
            assert [(r.item_id, r.label) for r in second.labels()] == [(a, "cat")]
            assert second.get_meta("backbone") == "lite0"
            assert second.get_meta("size") == 112
            assert second.get_meta("absent", "default") == "default"
            assert [(i.path, i.width, i.height) for i in second.items()] == [
                ("a.png", 10, 20),
                ("b.png", 30, 40),
            ]
        finally:
            second.close()
    finally:
        first.close()


# ----- sync_items --------------------------------------------------------------------------------


def test_sync_adds_new_files(store: Store) -> None:
    report = store.sync_items([("b.png", "h2", 2, 2), ("a.png", "h1", 1, 1)])
    assert report == SyncReport(added=2)
    assert [(i.path, i.hash) for i in store.items()] == [("a.png", "h1"), ("b.png", "h2")]
    # The same scan again changes nothing.
    assert store.sync_items([("b.png", "h2", 2, 2), ("a.png", "h1", 1, 1)]) == SyncReport()


def test_sync_rename_keeps_the_item_and_its_label(store: Store) -> None:
    store.sync_items([("old/a.png", "h1", 5, 6), ("b.png", "h2", 1, 1)])
    old_id = _ids_by_path(store)["old/a.png"]
    store.set_labels([(old_id, "cat")], annotator="ann")
    report = store.sync_items([("new/a.png", "h1", 5, 6), ("b.png", "h2", 1, 1)])
    assert report == SyncReport(renamed=1)
    ids = _ids_by_path(store)
    assert set(ids) == {"new/a.png", "b.png"}
    assert ids["new/a.png"] == old_id
    assert [(r.item_id, r.label) for r in store.labels()] == [(old_id, "cat")]


def test_sync_content_change_keeps_the_item_and_updates_its_hash(store: Store) -> None:
    store.sync_items([("a.png", "h1", 5, 6)])
    item_id = store.items()[0].id
    report = store.sync_items([("a.png", "h9", 7, 8)])
    assert report == SyncReport(changed=1)
    (item,) = store.items()
    assert (item.id, item.hash, item.width, item.height) == (item_id, "h9", 7, 8)


def test_sync_a_dicom_header_edit_keeps_the_item_and_its_label(store: Store) -> None:
    """New file bytes, the same pixel identity: the item (label and all) takes the new hash,
    where the same path also was, or where the file was renamed too; other pixels lose it."""
    store.sync_items(
        [("IM0", "h0", 4, 4), ("IM1", "h1", 4, 4), ("IM2", "h2", 4, 4), ("a.png", "ha", 1, 1)],
        pixels={"IM0": "p0", "IM1": "p1", "IM2": "p2"},
    )
    ids = _ids_by_path(store)
    store.set_labels([(ids[p], "cat") for p in ("IM0", "IM1", "IM2")], annotator="ann")
    report = store.sync_items(
        [("IM0", "h0x", 4, 4), ("anon/IM1", "h1x", 4, 4), ("IM2", "h2x", 4, 4)],
        pixels={"IM0": "p0", "anon/IM1": "p1", "IM2": "p9"},  # IM2: other pixels
    )
    assert replace(report, cleared=()) == SyncReport(renamed=1, changed=1, missing=1, reheadered=2)
    assert [c[:2] for c in report.cleared] == [("IM2", "cat")]
    now = {i.path: (i.id, i.hash, i.pixels) for i in store.items()}
    assert now == {
        "IM0": (ids["IM0"], "h0x", "p0"),
        "anon/IM1": (ids["IM1"], "h1x", "p1"),
        "IM2": (ids["IM2"], "h2x", "p9"),
    }
    assert {r.item_id for r in store.labels()} == {ids["IM0"], ids["IM1"]}


def test_sync_pixel_identity_prefers_the_item_at_the_files_path(store: Store) -> None:
    """Two items of the same pixels (a study and its de-identified copy): each file edited
    again keeps its own item, not the first one of those pixels."""
    store.sync_items(
        [("a/IM0", "h1", 4, 4), ("b/IM0", "h2", 4, 4)], pixels={"a/IM0": "p", "b/IM0": "p"}
    )
    ids = _ids_by_path(store)
    report = store.sync_items(
        [("a/IM0", "h3", 4, 4), ("b/IM0", "h4", 4, 4)], pixels={"a/IM0": "p", "b/IM0": "p"}
    )
    assert report == SyncReport(reheadered=2)
    assert _ids_by_path(store) == ids


def test_sync_records_the_pixel_identity_of_unchanged_files(store: Store) -> None:
    """Items of a project made before pixel identities have none: the next scan of the same
    bytes records it, so that a later header edit keeps the label."""
    store.sync_items([("IM0", "h0", 4, 4)])  # as an older project recorded it
    assert store.items()[0].pixels is None
    assert store.sync_items([("IM0", "h0", 4, 4)], pixels={"IM0": "p0"}) == SyncReport()
    assert store.items()[0].pixels == "p0"
    assert store.sync_items([("IM0", "h1", 4, 4)], pixels={"IM0": "p0"}) == SyncReport(reheadered=1)


def test_sync_missing_files_are_hidden_and_come_back(store: Store) -> None:
    store.sync_items([("a.png", "h1", 1, 1), ("b.png", "h2", 1, 1)])
    ids = _ids_by_path(store)
    store.set_labels([(ids["a.png"], "cat"), (ids["b.png"], "dog")], annotator="ann")
    report = store.sync_items([("b.png", "h2", 1, 1)])
    assert report == SyncReport(missing=1)
    assert store.gone_paths() == {"a.png"}
    assert [i.path for i in store.items()] == ["b.png"]
    assert [(r.item_id, r.label) for r in store.labels()] == [(ids["b.png"], "dog")]
    with _raw(store.path) as conn:
        assert conn.execute("SELECT present FROM items WHERE path = 'a.png'").fetchone() == (0,)
    assert store.sync_items([("b.png", "h2", 1, 1)]) == SyncReport()  # gone before, not now
    # The file comes back: same item, label visible again.
    assert store.sync_items([("a.png", "h1", 1, 1), ("b.png", "h2", 1, 1)]) == SyncReport(back=1)
    assert _ids_by_path(store) == ids
    assert {r.label for r in store.labels()} == {"cat", "dog"}


def test_sync_duplicate_content_gives_two_items(store: Store) -> None:
    report = store.sync_items([("a.png", "same", 1, 1), ("copy/a.png", "same", 1, 1)])
    assert report == SyncReport(added=2)
    ids = _ids_by_path(store)
    assert len(set(ids.values())) == 2
    # One of the two copies goes away: the other keeps its own item; nothing is "renamed".
    assert store.sync_items([("copy/a.png", "same", 1, 1)]) == SyncReport(missing=1)
    assert _ids_by_path(store) == {"copy/a.png": ids["copy/a.png"]}


def _labels_by_path(store: Store) -> dict[str, str]:
    path_of = {i.id: i.path for i in store.items()}
    return {path_of[r.item_id]: r.label for r in store.labels()}


def _two_labeled(store: Store) -> dict[str, int]:
    store.sync_items([("IM0", "h1", 1, 1), ("IM1", "h2", 1, 1)])
    ids = _ids_by_path(store)
    store.set_labels([(ids["IM0"], "cat"), (ids["IM1"], "dog")], annotator="ann")
    return ids


def test_sync_labels_follow_swapped_files(store: Store) -> None:
    ids = _two_labeled(store)
    report = store.sync_items([("IM0", "h2", 1, 1), ("IM1", "h1", 1, 1)])  # renumbered
    assert report == SyncReport(renamed=2)
    assert _labels_by_path(store) == {"IM0": "dog", "IM1": "cat"}
    assert _ids_by_path(store) == {"IM0": ids["IM1"], "IM1": ids["IM0"]}


def test_sync_new_content_under_a_labeled_name_loses_the_label(store: Store) -> None:
    ids = _two_labeled(store)
    report = store.sync_items([("IM0", "h9", 2, 3), ("IM1", "h2", 1, 1)])
    assert replace(report, cleared=()) == SyncReport(changed=1)
    assert [c[:3] for c in report.cleared] == [("IM0", "cat", "ann")]
    assert _labels_by_path(store) == {"IM1": "dog"}
    assert _ids_by_path(store) == ids  # the name keeps its item, with the new content
    assert [i.hash for i in store.items()] == ["h9", "h2"]
    removal = store.label_history(ids["IM0"])[-1]
    assert removal[:2] == (None, CONTENT_CHANGED)
    # An unlabeled image whose content changes has nothing to lose.
    assert store.sync_items([("IM0", "h8", 2, 3), ("IM1", "h2", 1, 1)]).cleared == ()


def test_sync_new_content_under_the_name_of_a_gone_image_keeps_its_label_waiting(
    store: Store,
) -> None:
    """A QA run lost a label so: the labeled image went (an unmounted share), another image
    took its file name, and the first came back under another name, unlabeled."""
    ids = _two_labeled(store)
    store.sync_items([("IM1", "h2", 1, 1)])  # IM0 gone: its label waits
    report = store.sync_items([("IM0", "h9", 2, 3), ("IM1", "h2", 1, 1)])  # new image at IM0
    assert report == SyncReport(added=1)  # a new item: nothing changed, cleared or back
    assert _labels_by_path(store) == {"IM1": "dog"} and store.gone_labeled() == 1
    report = store.sync_items(
        [("IM0", "h9", 2, 3), ("IM0-found.png", "h1", 1, 1), ("IM1", "h2", 1, 1)]
    )
    assert report.renamed == 1  # back, under another name
    assert _labels_by_path(store) == {"IM0-found.png": "cat", "IM1": "dog"}
    assert _ids_by_path(store)["IM0-found.png"] == ids["IM0"]


def test_sync_a_copy_over_a_labeled_file_loses_its_label(store: Store) -> None:
    _two_labeled(store)
    report = store.sync_items([("IM0", "h2", 1, 1), ("IM1", "h2", 1, 1)])  # IM1 copied onto IM0
    assert replace(report, cleared=()) == SyncReport(changed=1)
    assert [c[:3] for c in report.cleared] == [("IM0", "cat", "ann")]
    assert _labels_by_path(store) == {"IM1": "dog"}


def test_sync_a_gone_image_whose_name_is_reused_comes_back_by_content(store: Store) -> None:
    ids = _two_labeled(store)
    # IM1 renamed onto IM0: IM0's image is nowhere, its name now holds IM1's image.
    report = store.sync_items([("IM0", "h2", 1, 1)])
    assert report == SyncReport(renamed=1, missing=1)
    assert _labels_by_path(store) == {"IM0": "dog"}
    assert store.gone_paths() == set()  # its name holds another image: none to give
    # IM0's image comes back under a new name, with its label.
    report = store.sync_items([("IM0", "h2", 1, 1), ("back/IM0", "h1", 1, 1)])
    assert report == SyncReport(renamed=1)
    assert _labels_by_path(store) == {"IM0": "dog", "back/IM0": "cat"}
    assert _ids_by_path(store)["back/IM0"] == ids["IM0"]


def test_sync_is_all_or_nothing(store: Store) -> None:
    store.sync_items([("a.png", "h1", 1, 1)])
    with pytest.raises(sqlite3.IntegrityError):  # NOT NULL hash: the whole scan is undone
        store.sync_items([("b.png", "h2", 1, 1), ("c.png", None, 1, 1)])
    assert [i.path for i in store.items()] == ["a.png"]


# ----- labels ------------------------------------------------------------------------------------


def test_set_labels_writes_history_only_on_change(store: Store) -> None:
    store.sync_items([("a.png", "h1", 1, 1)])
    a = store.items()[0].id
    assert store.set_labels([(a, "cat")], annotator="ann", at="2026-01-01T00:00:00Z") == 1
    assert store.set_labels([(a, "dog")], annotator="bob", at="2026-01-02T00:00:00Z") == 1
    assert store.set_labels([(a, "dog")], annotator="eve", at="2026-01-03T00:00:00Z") == 0
    assert store.label_history(a) == [
        ("cat", "ann", "2026-01-01T00:00:00Z"),
        ("dog", "bob", "2026-01-02T00:00:00Z"),
    ]
    (row,) = store.labels()
    assert (row.item_id, row.label, row.annotator, row.labeled_at) == (
        a,
        "dog",
        "bob",
        "2026-01-02T00:00:00Z",
    )
    assert store.classes() == ["cat", "dog"]


def test_label_histories_read_many_items_at_once(store: Store) -> None:
    n = 1200  # more items than one query's ids: the reads come in chunks
    store.sync_items([(f"{i}.png", f"h{i}", 1, 1) for i in range(n)])
    ids = sorted(_ids_by_path(store).values())
    rng = np.random.default_rng(0)
    expected: dict[int, list[tuple[str | None, str]]] = {}  # what was done, event by event
    for step in range(3):  # interleaved events: each item's history must keep its own order
        changes = [(int(i), f"c{rng.integers(3)}") for i in rng.choice(ids, n // 2, replace=False)]
        store.set_labels(changes, annotator=f"a{step}")
        for i, label in changes:
            if expected.get(i, [(None, "")])[-1][0] != label:  # a label event only on change
                expected.setdefault(i, []).append((label, f"a{step}"))
    removed = {int(i) for i in rng.choice(ids, size=100, replace=False)}
    store.remove_labels(sorted(removed), annotator="bob")
    for i in removed & expected.keys():
        expected[i].append((None, "bob"))
    histories = store.label_histories([*ids, 99999])
    assert {i: [(label, who) for label, who, _ in h] for i, h in histories.items()} == expected
    assert histories[ids[0]] == store.label_history(ids[0])


def test_remove_labels_keeps_a_removal_event(store: Store) -> None:
    store.sync_items([("a.png", "h1", 1, 1), ("b.png", "h2", 1, 1)])
    ids = _ids_by_path(store)
    store.set_labels([(ids["a.png"], "cat"), (ids["b.png"], "cat")], annotator="ann")
    assert store.remove_labels([ids["a.png"], 12345], annotator="bob") == 1
    assert [r.item_id for r in store.labels()] == [ids["b.png"]]
    history = store.label_history(ids["a.png"])
    assert [(h[0], h[1]) for h in history] == [("cat", "ann"), (None, "bob")]
    assert store.remove_labels([ids["a.png"]], annotator="bob") == 0  # nothing left to remove
    assert len(store.label_history(ids["a.png"])) == 2


def test_failed_write_leaves_nothing_behind(store: Store) -> None:
    store.sync_items([("a.png", "h1", 1, 1)])
    a = store.items()[0].id
    with pytest.raises(sqlite3.IntegrityError):  # item 999 does not exist: foreign key
        store.set_labels([(a, "cat"), (999, "dog")], annotator="ann")
    assert store.labels() == []
    assert store.label_history(a) == []
    assert store.classes() == []  # the classes created inside the batch are rolled back too
    # The store is still usable afterwards (no transaction left open).
    assert store.set_labels([(a, "cat")], annotator="ann") == 1
    with Store(store.path) as other:
        assert [r.label for r in other.labels()] == ["cat"]


@pytest.mark.parametrize(
    "annotator",
    ["", "  ", " ana", "ana\nbob", "a" * (MAX_ANNOTATOR_CHARS + 1), "ana (accepted auto) x"],
)
def test_bad_annotator_names_are_refused_by_every_write(store: Store, annotator: str) -> None:
    store.sync_items([("a.png", "h1", 1, 1)])
    a = store.items()[0].id
    store.set_labels([(a, "cat")], annotator="ann")
    writes = (
        lambda: store.set_labels([(a, "dog")], annotator=annotator),
        lambda: store.apply_labels([(a, "dog")], annotator=annotator),
        lambda: store.remove_labels([a], annotator=annotator),
        lambda: store.retire_class("cat", annotator=annotator),
    )
    for write in writes:
        with pytest.raises(LabelerError, match="annotator name"):
            write()
    assert [(r.label, r.annotator) for r in store.labels()] == [("cat", "ann")]
    assert len(store.label_history(a)) == 1


def test_accepted_predictions_are_recorded_with_their_marker(store: Store) -> None:
    from labeler.store.annotator import accepted_annotator

    store.sync_items([("a.png", "h1", 1, 1)])
    a = store.items()[0].id
    assert store.apply_labels([(a, "cat")], annotator=accepted_annotator("ana")) == 1
    assert store.labels()[0].annotator == "ana (accepted auto)"
    with pytest.raises(LabelerError, match="contains '\\(accepted auto\\)'"):
        store.apply_labels([(a, "dog")], annotator="ana (accepted auto) (accepted auto)")
    assert accepted_annotator("ana (accepted auto)") == "ana (accepted auto)"  # marked once


def test_skipped_files_are_replaced_by_each_scan(store: Store) -> None:
    store.replace_skipped([("b.png", "truncated"), ("a.png", "not an image")])
    assert store.skipped() == [("a.png", "not an image"), ("b.png", "truncated")]
    store.replace_skipped([("c.png", "too big")])
    assert store.skipped() == [("c.png", "too big")]


# ----- prediction runs ---------------------------------------------------------------------------


def test_runs_and_predictions_round_trip(store: Store) -> None:
    assert store.latest_run() is None
    store.sync_items([(f"{i}.png", f"h{i}", 1, 1) for i in range(3)])
    ids = np.array(sorted(i.id for i in store.items()), dtype=np.int64)
    for name in ("cat", "dög", "dog"):
        store.add_class(name)
    params = {"temperature": 0.5, "k": [1, 2]}
    first = store.add_run(
        method="protonet",
        model="lite0@112",
        params=params,
        item_ids=ids,
        labels=["cat", "dög", "cat"],
        confidence=np.array([0.9, 0.6, 0.7], dtype=np.float32),
        margin=np.array([0.8, 0.2, 0.4], dtype=np.float32),
        entropy=np.array([0.1, 0.6, 0.5], dtype=np.float32),
    )
    run = store.latest_run()
    assert run is not None
    assert (run.id, run.method, run.model, run.params) == (first, "protonet", "lite0@112", params)
    rows = store.predictions(first)
    assert [(r[0], r[1]) for r in rows] == [(ids[0], "cat"), (ids[1], "dög"), (ids[2], "cat")]
    np.testing.assert_allclose(
        [r[2:] for r in rows], [[0.9, 0.8, 0.1], [0.6, 0.2, 0.6], [0.7, 0.4, 0.5]], rtol=1e-6
    )

    second = store.add_run(
        method="protonet",
        model="lite0@112",
        params={},
        item_ids=ids[:1],
        labels=["dog"],
        confidence=np.array([0.5]),
        margin=np.array([0.1]),
        entropy=np.array([0.7]),
    )
    assert second > first
    assert store.latest_run().id == second
    assert [r[:2] for r in store.predictions(second)] == [(ids[0], "dog")]
    assert store.predictions(first) == []  # older predictions are dropped


def test_add_run_with_mismatched_lengths_writes_nothing(store: Store) -> None:
    store.sync_items([("a.png", "h1", 1, 1), ("b.png", "h2", 1, 1)])
    ids = np.array([i.id for i in store.items()])
    store.add_class("cat")
    with pytest.raises(ValueError):
        store.add_run(
            method="m",
            model="x",
            params={},
            item_ids=ids,
            labels=["cat"],
            confidence=np.ones(2),
            margin=np.ones(2),
            entropy=np.ones(2),
        )
    assert store.latest_run() is None
    assert store.classes() == ["cat"]


def _run_of(store: Store, labels: list[str], **options) -> int:
    ids = np.array([i.id for i in store.items()][: len(labels)])
    scores = np.full(len(labels), 0.5)
    return store.add_run(
        method="m",
        model="x",
        params={},
        item_ids=ids,
        labels=labels,
        confidence=scores,
        margin=scores,
        entropy=scores,
        **options,
    )


def test_a_run_of_classes_changed_since_it_began_is_refused(store: Store) -> None:
    store.sync_items([("a.png", "h1", 1, 1), ("b.png", "h2", 1, 1)])
    store.set_labels([(store.items()[0].id, "cat")], annotator="ana")
    store.add_class("dog")
    _, classes = store.label_version()
    store.rename_class("dog", "wolf")  # in another process, while the head was fitted
    with pytest.raises(ClassesChanged, match=r"'dog' no longer in use.*predict again"):
        _run_of(store, ["dog", "cat"], classes_as_of=classes)
    with pytest.raises(ClassesChanged, match="classes changed"):  # predicted none of them
        _run_of(store, ["cat", "cat"], classes_as_of=classes)
    assert store.latest_run() is None
    assert store.classes() == ["cat", "wolf"]  # the old name is not made again
    _, classes = store.label_version()
    first = _run_of(store, ["wolf", "cat"], classes_as_of=classes)
    store.set_labels([(store.items()[1].id, "cat")], annotator="ana")  # a label: no class edit
    assert _run_of(store, ["cat"], classes_as_of=classes) > first
