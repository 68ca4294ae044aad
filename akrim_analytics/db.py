"""Database access: one DuckDB file, schema managed by numbered SQL migrations.

Migrations live in ``akrim_analytics/migrations/NNNN_name.sql``. Each runs once, in
its own transaction, and is recorded in ``schema_version``. ``connect`` applies
whatever is missing, so every entry point (app, CLI, tests) sees the current schema.
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DATA_DIR = REPO_DIR / "data"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
DEFAULT_DB = DATA_DIR / "demo.duckdb"

_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_migrate_lock = threading.Lock()


def db_path(path: str | os.PathLike | None = None) -> Path:
    """The database path: the argument, else ``$AKRIM_DB``, else the demo database."""
    if path is not None:
        return Path(path)
    env = os.environ.get("AKRIM_DB")
    return Path(env) if env else DEFAULT_DB


def migrations() -> list[tuple[int, str, Path]]:
    """All migration files, ordered by number. Numbers must be unique."""
    found = []
    for p in MIGRATIONS_DIR.iterdir():
        m = _MIGRATION_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), m.group(2), p))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"duplicate migration numbers in {MIGRATIONS_DIR}")
    return found


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection, *, until: int | None = None,
            found: list[tuple[int, str, Path]] | None = None) -> list[int]:
    """Apply every migration not yet applied (only those numbered up to ``until`` when
    given: a database as an older release left it, for upgrade tests); return the
    numbers applied now. ``found``: the migrations already listed by the caller."""
    applied_now: list[int] = []
    with _migrate_lock:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
            " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
        done = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
        for number, name, path in (migrations() if found is None else found):
            if number in done or (until is not None and number > until):
                continue
            sql = path.read_text(encoding="utf-8")
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(sql)
                con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [number, name])
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            applied_now.append(number)
    return applied_now


class DatabaseInUse(Exception):
    """Another process holds the database file (DuckDB allows one process at a time)."""


class DatabaseUnreadable(Exception):
    """The file cannot be used: not a DuckDB database, damaged, written by a newer DuckDB
    (``kind`` "unreadable"), its write-ahead log (``FILE.wal``) belongs to another copy of
    the file ("wal"), or its schema is newer than this version of the program knows
    ("newer": opening it could misread or damage what the newer version wrote)."""

    _ADVICE = {
        "wal": " The write-ahead log {path}.wal belongs to another copy of this file (left behind when the "
               "file was copied or restored without it): move it away (do not delete it) and try again.",
        "newer": " Run the newer version of akrim-analytics, or restore a backup taken with this one.",
        "unreadable": " Check that the path names an akrim-analytics database; a damaged file can be replaced "
                      "from a backup (`restore`).",
    }

    def __init__(self, path: Path, detail: str, kind: str | None = None, **facts):
        self.path, self.detail, self.facts = path, detail, facts    # facts: for the page's own wording
        self.kind = kind or ("wal" if ".wal" in detail.lower() or "wal file" in detail.lower() else "unreadable")
        advice = self._ADVICE[self.kind].format(path=path)
        super().__init__(f"The database {path} cannot be opened: {detail}.{advice} Nothing was changed.")


def latest_schema() -> int:
    """The highest migration number this version of the program has."""
    return migrations()[-1][0]


def _refuse_newer_schema(con: duckdb.DuckDBPyConnection, p: Path, known: int) -> None:
    have = schema_version(con)
    if have > known:
        con.close()
        raise DatabaseUnreadable(p, f"its schema is version {have}, made by a newer version of akrim-analytics "
                                    f"(this one knows up to {known})", "newer", have=have, known=known)


def connect(path: str | os.PathLike | None = None, *, read_only: bool = False,
            migrate_schema: bool = True) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database and bring its schema up to date."""
    p = db_path(path)
    if str(p) != ":memory:":
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(p), read_only=read_only)
    except duckdb.IOException as e:
        if _locked(e):
            raise _in_use(p, "DuckDB lets one process open a database file at a time: stop that process, or "
                             "run this on a copy.") from e
        raise DatabaseUnreadable(p, _detail(e)) from e
    except (duckdb.SerializationException, duckdb.InvalidInputException) as e:   # e.g. a newer storage format
        raise DatabaseUnreadable(p, _detail(e)) from e
    # No progress bar: it would print into the CLI's JSON output and the server log.
    con.execute("SET enable_progress_bar = false")
    found = migrations()   # listed once per open
    _refuse_newer_schema(con, p, found[-1][0])
    if migrate_schema and not read_only:
        migrate(con, found=found)
    return con


def _locked(e: duckdb.IOException) -> bool:
    """DuckDB's error for a file another process holds."""
    return "lock" in str(e).lower()


def _detail(e: duckdb.Error) -> str:
    """DuckDB's message without its error-class prefix and trailing full stop."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    for prefix in ("IO Error: ", "Serialization Error: ", "Invalid Input Error: "):
        text = text.removeprefix(prefix)
    return text.rstrip(".!")


def _in_use(p: Path, advice: str) -> DatabaseInUse:
    return DatabaseInUse(f"The database {p} is in use by another process (is the dashboard running on it?). "
                         + advice)


class _NoHold:
    def close(self) -> None:
        pass


def hold_file(path: str | os.PathLike):
    """Hold DuckDB's lock on the database file ``path`` (returns something to ``close``),
    for a command about to replace the file (restore, the demo builder).

    A running dashboard keeps its database open; replacing the file under it would leave
    it writing to the old file while the new one looks current: lost writes. So a file
    another process holds raises DatabaseInUse. A missing file, or one DuckDB cannot read
    (a damaged file being replaced), holds nothing."""
    p = Path(path)
    if not p.exists():
        return _NoHold()
    try:
        return duckdb.connect(str(p))
    except duckdb.IOException as e:
        if _locked(e):
            raise _in_use(p, "Stop it first; nothing was changed.") from None
        return _NoHold()
    except duckdb.Error:
        return _NoHold()


# Write transactions in this process run one at a time. DuckDB's optimistic concurrency
# would otherwise abort one of two concurrent writers that touch the same row (every
# write bumps meta.data_version; imports upsert the same suppliers), and an analyst
# would see a "write-write conflict" error. Readers never wait: they see the last
# committed state (MVCC). Re-entrant, so a nested call gets DuckDB's own error, not a deadlock.
_write_lock = threading.RLock()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: all of it is stored, or none of it.

    Writers in one process are serialised (see ``_write_lock``), so two analysts
    importing at the same time both succeed, one after the other."""
    with _write_lock:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")


def sql_literal(value: str | os.PathLike) -> str:
    """A text as an SQL string literal, for the few places that cannot take a bound
    parameter (EXPORT/IMPORT DATABASE paths, fixed texts and field names of our own
    inside generated SQL); never for a value that comes from a user's cell or form."""
    return "'" + str(value).replace("'", "''") + "'"


def fetch_dict(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> dict | None:
    """The first row of a query as {column: value}, or None when there is none."""
    cur = con.execute(sql, params)
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row))


def get_meta(con: duckdb.DuckDBPyConnection, key: str, default: str | None = None) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def data_version(con: duckdb.DuckDBPyConnection) -> int:
    """A counter bumped by every write that changes what the dashboard shows.

    Caches key on it: an upload, an undo or a settings change invalidates them."""
    return int(get_meta(con, "data_version", "0"))


def bump_data_version(con: duckdb.DuckDBPyConnection) -> int:
    """Increase the data version; call inside the writing transaction."""
    con.execute(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS VARCHAR) WHERE key = 'data_version'"
    )
    return data_version(con)


def is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    """True for the bundled demo database (built by ``akrim_analytics demo``)."""
    return get_meta(con, "demo", "false") == "true"
