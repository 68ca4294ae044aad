"""Append-only audit trail: who did what, and when.

The core never updates or deletes audit rows; write functions call ``log`` inside
their own transaction so the entry and the change are stored together or not at all."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from .auth import User


def plain(v: Any) -> Any:
    """A JSON-friendly value for audit details (dates as ISO text, decimals as floats)."""
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def diff(old: dict, new: dict, fields) -> dict:
    """{field: {"old", "new"}} for the fields whose (plain) value changed."""
    return {f: {"old": plain(old.get(f)), "new": plain(new.get(f))}
            for f in fields if plain(old.get(f)) != plain(new.get(f))}


def log(con: duckdb.DuckDBPyConnection, user: User | str, action: str,
        object_type: str | None = None, object_id: Any = None, details: dict | None = None) -> None:
    username = user.username if isinstance(user, User) else str(user)
    con.execute(
        "INSERT INTO audit_log (username, action, object_type, object_id, details) VALUES (?, ?, ?, ?, ?)",
        [username, action, object_type, None if object_id is None else str(object_id),
         json.dumps(details, ensure_ascii=False, default=str) if details is not None else None],
    )


def entries(con: duckdb.DuckDBPyConnection, *, action: str | None = None, username: str | None = None,
            limit: int = 1000, actions: list[str] | tuple[str, ...] | None = None,
            date_from: date | None = None, date_to: date | None = None, text: str | None = None):
    """The newest entries first, optionally filtered, as a DataFrame.

    ``action``/``actions``: one or several action names; ``username``: exact user;
    ``date_from``/``date_to``: inclusive dates; ``text``: case-insensitive substring of
    the object type, object id, user or details."""
    where, params = _where(action, actions, username, date_from, date_to, text)
    return con.execute(
        f"""SELECT audit_id, logged_at, username, action, object_type, object_id, details
           FROM audit_log WHERE {where}
           ORDER BY audit_id DESC LIMIT ?""",
        [*params, int(limit)],
    ).df()


def count(con: duckdb.DuckDBPyConnection, *, action: str | None = None, username: str | None = None,
          actions: list[str] | tuple[str, ...] | None = None, date_from: date | None = None,
          date_to: date | None = None, text: str | None = None) -> int:
    """How many entries match the same filters as ``entries`` (without the limit)."""
    where, params = _where(action, actions, username, date_from, date_to, text)
    return con.execute(f"SELECT count(*) FROM audit_log WHERE {where}", params).fetchone()[0]


def _where(action, actions, username, date_from, date_to, text) -> tuple[str, list]:
    # A fixed predicate; every value is a bound parameter.
    acts = list(actions) if actions else None
    needle = text.strip().lower() if text and text.strip() else None
    return (
        """(CAST(? AS VARCHAR) IS NULL OR action = ?)
           AND (CAST(? AS VARCHAR[]) IS NULL OR list_contains(CAST(? AS VARCHAR[]), action))
           AND (CAST(? AS VARCHAR) IS NULL OR username = ?)
           AND (CAST(? AS DATE) IS NULL OR logged_at >= CAST(? AS DATE))
           AND (CAST(? AS DATE) IS NULL OR logged_at < CAST(? AS DATE) + INTERVAL 1 DAY)
           AND (CAST(? AS VARCHAR) IS NULL OR contains(lower(concat_ws(' ', username, object_type,
                object_id, CAST(details AS VARCHAR))), ?))""",
        [action, action, acts, acts, username, username, date_from, date_from, date_to, date_to, needle, needle],
    )


def actions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every action name that occurs in the log, alphabetically."""
    return [r[0] for r in con.execute("SELECT DISTINCT action FROM audit_log ORDER BY action").fetchall()]


def usernames(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every user that occurs in the log, alphabetically."""
    return [r[0] for r in con.execute("SELECT DISTINCT username FROM audit_log ORDER BY username").fetchall()]


def export_workbook(con: duckdb.DuckDBPyConnection, user: User, *, lang: str = "nb", limit: int = 100_000,
                    **filters) -> bytes:
    """The filtered log as an Excel workbook (cells neutralised); the export is itself logged."""
    from . import export
    from .auth import require
    from .i18n import t

    require(user, "admin", "export the audit log")
    df = entries(con, limit=limit, **filters)
    cols = {"audit_id": "ID", "logged_at": t("auth.log.col_time", lang), "username": t("auth.log.col_user", lang),
            "action": t("auth.log.col_action", lang), "object_type": t("auth.log.col_object", lang),
            "object_id": "ID " + t("auth.log.col_object", lang).lower(), "details": t("auth.log.col_details", lang)}
    data = export.excel_bytes({t("auth.log.title", lang): df.rename(columns=cols)})
    export.record_export(con, user, "audit_log", "xlsx", rows=len(df),
                         details={k: str(v) for k, v in filters.items() if v})
    return data
