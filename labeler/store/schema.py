"""SQLite schema as an ordered list of migrations; `PRAGMA user_version` records how many ran."""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE items (
        id      INTEGER PRIMARY KEY,
        path    TEXT NOT NULL UNIQUE,          -- relative to the images root, forward slashes
        hash    TEXT NOT NULL,                 -- sha256 of the file bytes
        width   INTEGER NOT NULL,
        height  INTEGER NOT NULL,
        present INTEGER NOT NULL DEFAULT 1     -- 0 once the file has gone from the folder
    );
    CREATE INDEX items_hash ON items(hash);
    CREATE TABLE skipped (
        path   TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        seen_at TEXT NOT NULL
    );
    CREATE TABLE classes (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE labels (                      -- the current expert label of each item
        item_id    INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
        class_id   INTEGER NOT NULL REFERENCES classes(id),
        annotator  TEXT NOT NULL,
        labeled_at TEXT NOT NULL
    );
    CREATE TABLE label_events (                -- append-only history; class_id NULL = label removed
        id        INTEGER PRIMARY KEY,
        item_id   INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        class_id  INTEGER REFERENCES classes(id),
        annotator TEXT NOT NULL,
        at        TEXT NOT NULL
    );
    CREATE INDEX label_events_item ON label_events(item_id);
    CREATE TABLE runs (
        id         INTEGER PRIMARY KEY,
        method     TEXT NOT NULL,
        model      TEXT NOT NULL,
        params     TEXT NOT NULL,              -- JSON
        created_at TEXT NOT NULL
    );
    CREATE TABLE predictions (
        run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        item_id    INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        class_id   INTEGER NOT NULL REFERENCES classes(id),
        confidence REAL NOT NULL,
        margin     REAL NOT NULL,
        entropy    REAL NOT NULL,
        PRIMARY KEY (run_id, item_id)
    );
    """,
    # 2: classes can be deleted (or merged away) by the expert; their history stays readable.
    """
    ALTER TABLE classes ADD COLUMN deleted_at TEXT;  -- NULL while the class is in use
    """,
    # 3: the learning curve: estimated accuracy of the auto-labels, one point per label state.
    """
    CREATE TABLE estimates (
        id          INTEGER PRIMARY KEY,
        label_state INTEGER NOT NULL UNIQUE,   -- the last label_events id when it was estimated
        method      TEXT NOT NULL,             -- the head whose auto-labels were estimated
        n_labels    INTEGER NOT NULL,
        accuracy    REAL NOT NULL,             -- 0..1, with its 95% interval [low, high]
        low         REAL NOT NULL,
        high        REAL NOT NULL,
        created_at  TEXT NOT NULL
    );
    """,
    # 4: per prediction, an out-of-distribution flag and an optional conformal prediction set.
    """
    ALTER TABLE predictions ADD COLUMN ood INTEGER NOT NULL DEFAULT 0;  -- 1: fits no class
    ALTER TABLE predictions ADD COLUMN prediction_set TEXT;  -- JSON list of class names, or NULL
    """,
    # 5: what an estimate was made from (head, model, hand labels), so that the same hand labels
    # after a bulk accept or its undo reuse it instead of adding a second point to the curve.
    """
    ALTER TABLE estimates ADD COLUMN labels_key TEXT;
    """,
    # 6: a DICOM image's own identity (its pixel data and their description), which header edits
    # such as de-identification keep: the image keeps its label though the file's hash changed.
    # NULL for other files, and for DICOM items until a rescan reads their file.
    """
    ALTER TABLE items ADD COLUMN pixels TEXT;
    CREATE INDEX items_pixels ON items(pixels);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Run the migrations `conn` has not seen yet, each in its own transaction; return the version.

    A database written by a newer labeler (user_version > SCHEMA_VERSION) is refused by the caller.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        try:
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return max(version, len(MIGRATIONS))
