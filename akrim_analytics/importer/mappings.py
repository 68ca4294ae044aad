"""Saved column mappings: a mapping the analyst confirmed, stored under a name and
found again for the next file of the same shape (kind + set of normalised headers)."""
from __future__ import annotations

import json

import duckdb

from .. import audit, auth, db
from .errors import ImportRefused


def find_by_signature(con: duckdb.DuckDBPyConnection, kind: str, signature: str) -> dict | None:
    row = con.execute(
        """SELECT name, mapping FROM import_mappings WHERE kind = ? AND signature = ?
           ORDER BY coalesce(last_used_at, updated_at, created_at) DESC LIMIT 1""",
        [kind, signature]).fetchone()
    return {"name": row[0], "mapping": json.loads(row[1])} if row else None


def get(con: duckdb.DuckDBPyConnection, name: str) -> dict | None:
    row = con.execute("SELECT name, kind, signature, headers, mapping FROM import_mappings WHERE name = ?",
                      [name]).fetchone()
    if row is None:
        return None
    return {"name": row[0], "kind": row[1], "signature": row[2], "headers": json.loads(row[3]),
            "mapping": json.loads(row[4])}


def list_mappings(con: duckdb.DuckDBPyConnection, kind: str | None = None):
    return con.execute(
        """SELECT name, kind, mapping, created_by, created_at, updated_by, updated_at, last_used_at
           FROM import_mappings WHERE ? IS NULL OR kind = ? ORDER BY name""", [kind, kind]).df()


def save(con: duckdb.DuckDBPyConnection, user: auth.User, name: str, kind: str, signature: str,
         headers: list[str], mapping: dict[str, str], *, in_transaction: bool = False) -> None:
    """Create or replace the mapping ``name`` (analytiker). Audit-logged."""
    auth.require(user, "analytiker", "save an import mapping")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ImportRefused("mapping_name_invalid")

    def write():
        existing = con.execute("SELECT kind FROM import_mappings WHERE name = ?", [name]).fetchone()
        if existing:
            con.execute(
                """UPDATE import_mappings SET kind = ?, signature = ?, headers = ?, mapping = ?,
                          updated_by = ?, updated_at = current_timestamp, last_used_at = current_timestamp
                   WHERE name = ?""",
                [kind, signature, json.dumps(headers, ensure_ascii=False),
                 json.dumps(mapping, ensure_ascii=False), user.username, name])
        else:
            con.execute(
                """INSERT INTO import_mappings (name, kind, signature, headers, mapping, created_by, last_used_at)
                   VALUES (?, ?, ?, ?, ?, ?, current_timestamp)""",
                [name, kind, signature, json.dumps(headers, ensure_ascii=False),
                 json.dumps(mapping, ensure_ascii=False), user.username])
        audit.log(con, user, "mapping_save", "import_mapping", name,
                  {"kind": kind, "mapping": mapping, "replaced": bool(existing)})

    if in_transaction:
        write()
    else:
        with db.transaction(con):
            write()


def touch(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute("UPDATE import_mappings SET last_used_at = current_timestamp WHERE name = ?", [name])


def delete(con: duckdb.DuckDBPyConnection, user: auth.User, name: str) -> bool:
    """Delete a saved mapping (analytiker). Returns False when it did not exist."""
    auth.require(user, "analytiker", "delete an import mapping")
    with db.transaction(con):
        n = con.execute("SELECT count(*) FROM import_mappings WHERE name = ?", [name]).fetchone()[0]
        if not n:
            return False
        con.execute("DELETE FROM import_mappings WHERE name = ?", [name])
        audit.log(con, user, "mapping_delete", "import_mapping", name)
    return True
