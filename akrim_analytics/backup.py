"""Backup and restore of the whole database (DuckDB ``EXPORT DATABASE`` to Parquet).

A backup is a directory: DuckDB's ``schema.sql`` + ``load.sql`` + one Parquet file per
table, and our ``manifest.json`` with the schema version, the row count and a content
fingerprint of every table and the spend total. It is written to ``<dir>.partial`` and
renamed when complete, so a directory without that suffix is always a whole backup.

A restore never overwrites in place: it imports into ``<db>.restoring``, checks every
table against the manifest, applies migrations newer than the backup, and only then
moves the old file aside (``<db>.before-restore-<time>``) and the new one into place.
"""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import duckdb

from . import audit, db
from .auth import SYSTEM, User, require

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        """SELECT table_name FROM information_schema.tables
           WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name""").fetchall()]


def fingerprint(con: duckdb.DuckDBPyConnection) -> dict:
    """Row count and an order-independent content hash of every table, plus the spend total.

    Table names come from the database's own catalogue, never from input."""
    out: dict = {"tables": {}}
    for name in tables(con):
        n, h = con.execute(f"SELECT count(*), coalesce(bit_xor(hash(t)), 0) FROM {_ident(name)} t").fetchone()
        out["tables"][name] = {"rows": int(n), "hash": str(h)}
    if "spend" in out["tables"]:
        total = con.execute("SELECT coalesce(sum(amount), 0) FROM spend").fetchone()[0]
        out["spend_total"] = str(total)
    out["schema_version"] = db.schema_version(con)
    return out


def backup(con: duckdb.DuckDBPyConnection, to: str | os.PathLike, user: User = SYSTEM, *,
           source: str | None = None) -> dict:
    """Write a complete backup of the database behind ``con``.

    ``to`` must not exist yet; when it is an existing directory, the backup goes into a new
    sub-directory named after the database and the time. Returns the manifest (with
    ``path``)."""
    require(user, "admin", "back up the database")
    to = Path(to)
    if to.exists():
        if not to.is_dir():
            raise BackupError(f"{to} is a file, not a directory.")
        if (to / MANIFEST).exists():
            raise BackupError(f"{to} holds a backup already: give a new directory, or its parent "
                              "(a dated sub-directory is then made in it).")
        stem = Path(source).stem if source else "akrim"
        to = to / f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"
        if to.exists():
            raise BackupError(f"{to} exists already.")
    partial = to.with_name(to.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    # One read transaction: the fingerprint and the exported files are the same snapshot.
    con.execute("BEGIN TRANSACTION")
    try:
        fp = fingerprint(con)
        # EXPORT/IMPORT DATABASE take no bound parameters: the path as a SQL literal
        con.execute(f"EXPORT DATABASE {db.sql_literal(partial)} (FORMAT parquet)")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        shutil.rmtree(partial, ignore_errors=True)
        raise
    manifest = {
        "format": FORMAT_VERSION,
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "created_by": user.username,
        "source": source,
        "duckdb_version": duckdb.__version__,
        **fp,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, to)
    with db.transaction(con):
        audit.log(con, user, "backup", "database", to.name,
                  {"path": str(to), "schema_version": fp["schema_version"],
                   "rows": sum(t["rows"] for t in fp["tables"].values())})
    return {**manifest, "path": str(to)}


def read_manifest(backup_dir: str | os.PathLike) -> dict:
    d = Path(backup_dir)
    if not d.is_dir():
        raise BackupError(f"{d} is not a directory.")
    if d.name.endswith(".partial"):
        raise BackupError(f"{d} is an unfinished backup (its name ends in .partial).")
    try:
        manifest = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{d} has no {MANIFEST}: it is not a backup made by this program.") from None
    except json.JSONDecodeError as e:
        raise BackupError(f"{d / MANIFEST} is damaged: {e}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"{d} has backup format {manifest.get('format')!r}; this program reads {FORMAT_VERSION}.")
    return manifest


def restore(backup_dir: str | os.PathLike, db_file: str | os.PathLike, *, force: bool = False,
            user: User = SYSTEM) -> dict:
    """Restore ``backup_dir`` into ``db_file``. An existing file is kept beside it
    (``.before-restore-<time>``) and only replaced when ``force`` is given."""
    require(user, "admin", "restore the database")
    src = Path(backup_dir)
    manifest = read_manifest(src)
    if int(manifest.get("schema_version") or 0) > db.latest_schema():
        raise BackupError(f"{src} was taken with a newer version of akrim-analytics (schema version "
                          f"{manifest['schema_version']}; this one knows up to {db.latest_schema()}): restore it "
                          "with that version. Nothing was changed.")
    target = Path(db_file)
    if target.exists() and not force:
        raise BackupError(f"{target} exists. Add --force to replace it "
                          "(the current file is kept as <name>.before-restore-<time>).")
    _hold(target).close()   # refuse at once when another process has the file open
    work = target.with_name(target.name + ".restoring")
    for p in (work, Path(str(work) + ".wal")):
        p.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(work))
    try:
        con.execute(f"IMPORT DATABASE {db.sql_literal(src)}")
        got = fingerprint(con)
        bad = [name for name, want in manifest["tables"].items() if got["tables"].get(name) != want]
        extra = sorted(set(got["tables"]) - set(manifest["tables"]))
        if bad or extra or got.get("spend_total") != manifest.get("spend_total"):
            raise BackupError(f"The restored data does not match the backup's manifest "
                              f"(tables {', '.join(bad + extra) or 'spend total'}); {target} was not touched.")
        applied = db.migrate(con)
        with db.transaction(con):
            audit.log(con, user, "restore", "database", src.name,
                      {"from": str(src), "backup_created_at": manifest.get("created_at"),
                       "schema_version": manifest["schema_version"], "migrations_applied": applied})
            db.bump_data_version(con)
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        for p in (work, Path(str(work) + ".wal")):
            p.unlink(missing_ok=True)
        raise
    con.close()
    kept = None
    guard = _hold(target)   # held while the files are swapped: no process opens the old one meanwhile
    try:
        if target.exists():
            kept = target.with_name(f"{target.name}.before-restore-{datetime.now():%Y%m%d-%H%M%S}")
            os.replace(target, kept)
            wal = Path(str(target) + ".wal")
            if wal.exists():
                os.replace(wal, Path(str(kept) + ".wal"))
        os.replace(work, target)
    except BaseException:
        for p in (work, Path(str(work) + ".wal")):
            p.unlink(missing_ok=True)
        raise
    finally:
        guard.close()
    return {"db": str(target), "from": str(src), "schema_version": manifest["schema_version"],
            "migrations_applied": applied, "previous_file_kept_as": str(kept) if kept else None,
            "rows": sum(t["rows"] for t in manifest["tables"].values())}


def _hold(target: Path):
    """``db.hold_file`` with the restore's own error (see there: a file another process
    holds is never replaced)."""
    try:
        return db.hold_file(target)
    except db.DatabaseInUse as e:
        raise BackupError(str(e)) from None


def default_dir(db_file: str | os.PathLike) -> Path:
    """Where backups taken from the app go: ``$AKRIM_BACKUP_DIR``, else ``backups/`` next
    to the database file."""
    env = os.environ.get("AKRIM_BACKUP_DIR")
    return Path(env) if env else Path(db_file).resolve().parent / "backups"


def list_backups(directory: str | os.PathLike) -> list[dict]:
    """The complete backups in ``directory`` (newest first): path, time, schema version, rows."""
    d = Path(directory)
    if not d.is_dir():
        return []
    out = []
    for sub in d.iterdir():
        if not sub.is_dir() or sub.name.endswith(".partial"):
            continue
        try:
            m = read_manifest(sub)
        except BackupError:
            continue
        out.append({"path": str(sub), "name": sub.name, "created_at": m.get("created_at"),
                    "created_by": m.get("created_by"), "schema_version": m.get("schema_version"),
                    "rows": sum(t["rows"] for t in m.get("tables", {}).values()),
                    "spend_total": m.get("spend_total")})
    return sorted(out, key=lambda b: b["created_at"] or "", reverse=True)


def backup_into(con: duckdb.DuckDBPyConnection, directory: str | os.PathLike, user: User, *,
                source: str | None = None) -> dict:
    """A backup in a new dated sub-directory of ``directory`` (created if needed)."""
    require(user, "admin", "back up the database")
    Path(directory).mkdir(parents=True, exist_ok=True)
    return backup(con, directory, user, source=source)
