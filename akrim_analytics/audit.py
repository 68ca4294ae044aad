"""Append-only audit trail: who did what, and when.

The core never updates or deletes audit rows; write functions call ``log`` inside
their own transaction so the entry and the change are stored together or not at all."""
from __future__ import annotations

import json
from typing import Any

import duckdb

from .auth import User


def log(con: duckdb.DuckDBPyConnection, user: User | str, action: str,
        object_type: str | None = None, object_id: Any = None, details: dict | None = None) -> None:
    username = user.username if isinstance(user, User) else str(user)
    con.execute(
        "INSERT INTO audit_log (username, action, object_type, object_id, details) VALUES (?, ?, ?, ?, ?)",
        [username, action, object_type, None if object_id is None else str(object_id),
         json.dumps(details, ensure_ascii=False, default=str) if details is not None else None],
    )


def entries(con: duckdb.DuckDBPyConnection, *, action: str | None = None, username: str | None = None,
            limit: int = 1000):
    """The newest entries first, optionally filtered, as a DataFrame."""
    return con.execute(
        """SELECT audit_id, logged_at, username, action, object_type, object_id, details
           FROM audit_log
           WHERE (? IS NULL OR action = ?) AND (? IS NULL OR username = ?)
           ORDER BY audit_id DESC LIMIT ?""",
        [action, action, username, username, limit],
    ).df()
