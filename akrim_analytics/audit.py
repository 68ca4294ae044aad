"""Append-only audit trail: who did what, and when.

The core never updates or deletes audit rows; write functions call ``log`` inside
their own transaction so the entry and the change are stored together or not at all."""
from __future__ import annotations

import json
import math
import re
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


def _names(prefix: str) -> tuple[list[str], list[str]]:
    """(codes, "nb-name en-name") of the translated actions or object types, so the text
    search also finds an entry by the name the page shows ("innlogging", "kontrakt")."""
    from .i18n import strings

    pairs = sorted((k[len(prefix):], " ".join(v.values())) for k, v in strings().items() if k.startswith(prefix))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _value_pattern(needle: str | None) -> str | None:
    """A regular expression for the stored details whose coded values the page shows by
    a name containing ``needle`` ("feil passord" → entries with ``"reason":
    "wrong_password"``; roles too, also as a change's old or new value), or None when no
    name contains it. Built from the translation files only: the search text is compared
    in Python, never put into the pattern."""
    if needle is None:
        return None
    from .i18n import strings

    alts = []
    for k, texts in strings().items():
        if k.startswith("auth.log.value.") and k.count(".") >= 4:
            field, code = k[len("auth.log.value."):].split(".", 1)
        elif k.startswith("auth.role."):
            field, code = "role", k[len("auth.role."):]
        else:
            continue
        if not any(needle in str(v).lower() for v in texts.values()):
            continue
        code = code.strip('"')
        # stored as "settings v3" (_SETTINGS_REASON); everything else as it is coded
        value = _SETTINGS_REASON.pattern if (field, code) == ("reason", "settings") else re.escape(code)
        # the value itself, or inside a change ({"old": …, "new": …})
        alts.append(f'"{re.escape(field)}"\\s*:\\s*(\\{{[^{{}}]*)?"{value}"')
    return "|".join(sorted(alts)) or None


def _where(action, actions, username, date_from, date_to, text) -> tuple[str, list]:
    # A fixed predicate; every value is a bound parameter.
    acts = list(actions) if actions else None
    needle = text.strip().lower() if text and text.strip() else None
    act_codes, act_names = _names("auth.action.")
    obj_codes, obj_names = _names("auth.log.object.")
    values = _value_pattern(needle)
    return (
        """(CAST(? AS VARCHAR) IS NULL OR action = ?)
           AND (CAST(? AS VARCHAR[]) IS NULL OR list_contains(CAST(? AS VARCHAR[]), action))
           AND (CAST(? AS VARCHAR) IS NULL OR username = ?)
           AND (CAST(? AS DATE) IS NULL OR logged_at >= CAST(? AS DATE))
           AND (CAST(? AS DATE) IS NULL OR logged_at < CAST(? AS DATE) + INTERVAL 1 DAY)
           AND (CAST(? AS VARCHAR) IS NULL OR contains(lower(concat_ws(' ', username, action, object_type,
                object_id, CAST(details AS VARCHAR),
                list_extract(CAST(? AS VARCHAR[]), list_position(CAST(? AS VARCHAR[]), action)),
                list_extract(CAST(? AS VARCHAR[]), list_position(CAST(? AS VARCHAR[]), object_type)))), ?)
                OR (CAST(? AS VARCHAR) IS NOT NULL
                    AND regexp_matches(CAST(details AS VARCHAR), CAST(? AS VARCHAR))))""",
        [action, action, acts, acts, username, username, date_from, date_from, date_to, date_to, needle,
         act_names, act_codes, obj_names, obj_codes, needle, values, values],
    )


def actions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every action name that occurs in the log, alphabetically."""
    return [r[0] for r in con.execute("SELECT DISTINCT action FROM audit_log ORDER BY action").fetchall()]


def usernames(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every user that occurs in the log, alphabetically."""
    return [r[0] for r in con.execute("SELECT DISTINCT username FROM audit_log ORDER BY username").fetchall()]


# --------------------------------------------------------------------------- readable text

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")
_SETTINGS_REASON = re.compile(r"settings v(\d+)")
_MAX_ITEMS = 12      # list items and changed fields shown per value; the rest is counted
_MAX_TEXT = 2000     # one entry's readable details at most (the JSON keeps everything)


def _known(key: str) -> bool:
    from .i18n import strings

    return key in strings()


def action_label(action: str, lang: str = "nb") -> str:
    """The action's name in ``lang`` (``login_failed`` → "Mislykket innlogging"); an
    action without a translation is shown as stored."""
    from .i18n import t

    key = f"auth.action.{action}"
    return t(key, lang) if _known(key) else action


def object_label(object_type: str | None, object_id: str | None, lang: str = "nb") -> str:
    """``("risk_run", "11")`` → "Risikoberegning 11"; unknown types as stored."""
    from .i18n import t

    kind = ""
    if object_type:
        key = f"auth.log.object.{object_type}"
        kind = t(key, lang) if _known(key) else object_type
    return " ".join(x for x in (kind, object_id or "") if x)


def _key_label(key: str, lang: str, object_type: str | None) -> str:
    from .i18n import t

    # the audit log's own names first, then the field names of the forms that wrote them
    forms = ("followup", "contracts") if object_type in ("control", "finding") else ("contracts", "followup")
    for k in (f"auth.log.key.{key}", *(f"{f}.field.{key}" for f in forms)):
        if _known(k):
            return t(k, lang)
    return str(key).replace("_", " ")


def _value_text(v: Any, lang: str, object_type: str | None, key: str | None = None) -> str:
    from . import fmt
    from .i18n import t

    if v is None:
        return "–"
    if isinstance(v, bool):
        return t("auth.log.yes" if v else "auth.log.no", lang)
    if isinstance(v, int):
        plain_int = key is not None and (key in ("year", "seed", "quarter", "edition") or key.endswith("_id")
                                         or "version" in key)
        return str(v) if plain_int else fmt.number(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return fmt.number(v, 0 if v == int(v) else 2)
    if isinstance(v, str):
        if _ISO_DATE.fullmatch(v):
            try:
                return fmt.date(v)
            except ValueError:
                return v
        if _ISO_TIME.match(v):
            try:
                return fmt.datetime(datetime.fromisoformat(v))
            except ValueError:
                return v
        if key == "role" and _known(f"auth.role.{v}"):
            return t(f"auth.role.{v}", lang)
        if key and _known(f"auth.log.value.{key}.{v}"):
            return t(f"auth.log.value.{key}.{v}", lang)
        m = _SETTINGS_REASON.fullmatch(v) if key == "reason" else None
        if m:   # a re-score after a settings change (risk.config.save_config)
            return t("auth.log.value.reason.settings", lang, version=m[1])
        return v
    if isinstance(v, dict):
        if set(v) == {"old", "new"}:
            return f"{_value_text(v['old'], lang, object_type, key)} → {_value_text(v['new'], lang, object_type, key)}"
        return _capped([f"{_key_label(k, lang, object_type)}: {_value_text(x, lang, object_type, k)}"
                        for k, x in list(v.items())[:_MAX_ITEMS]], len(v), "; ", lang)
    if isinstance(v, (list, tuple)):
        def item(x):
            # a configuration change: {"path": "weights.industry", "old": 2, "new": 3}
            if isinstance(x, dict) and set(x) == {"path", "old", "new"}:
                return f"{x['path']}: " + _value_text({"old": x["old"], "new": x["new"]}, lang, object_type)
            return _value_text(x, lang, object_type, key)
        return _capped([item(x) for x in v[:_MAX_ITEMS]], len(v),
                       "; " if any(isinstance(x, dict) for x in v) else ", ", lang)
    return str(v)


def _capped(parts: list[str], total: int, sep: str, lang: str) -> str:
    """The first ``_MAX_ITEMS`` parts, then "… og N til" for the rest of ``total``."""
    from .i18n import t

    more = [t("auth.log.more", lang, n=total - _MAX_ITEMS)] if total > _MAX_ITEMS else []
    return sep.join(parts + more)


# actions whose details give each changed field as [before, after]
_PAIR_ACTIONS = {"user_changed"}


def describe(details: str | dict | None, lang: str = "nb", object_type: str | None = None,
             action: str | None = None) -> str:
    """An entry's details as one line of plain text for people: labelled in ``lang``,
    dates and numbers in Norwegian form, changes as "before → after", codes translated
    (``{"method": "local", "reason": "wrong_password"}`` → "Innloggingsmåte: passord ·
    Grunn: feil passord"). Text that is not a JSON object is returned as it is; the
    stored JSON stays the record (the Excel export has both)."""
    if details is None or (isinstance(details, float) and math.isnan(details)):
        return ""
    if isinstance(details, str):
        if not details.strip():
            return ""
        try:
            details = json.loads(details)
        except ValueError:
            return details
    if not isinstance(details, dict):
        return _value_text(details, lang, object_type)
    if action in _PAIR_ACTIONS:
        details = {k: {"old": v[0], "new": v[1]} if isinstance(v, list) and len(v) == 2 else v
                   for k, v in details.items()}
    text = " · ".join(f"{_key_label(k, lang, object_type)}: {_value_text(v, lang, object_type, k)}"
                      for k, v in details.items() if v is not None)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT - 1] + "…"


def readable(df, lang: str = "nb") -> dict[str, list]:
    """The columns the Revisjonslogg page shows for ``entries(...)``, headed in ``lang``:
    time (to the second), user, action, object and readable details."""
    from . import fmt
    from .i18n import t

    def when(v) -> str:
        v = v.to_pydatetime() if hasattr(v, "to_pydatetime") else v
        return fmt.datetime(v) + v.strftime(":%S")

    return {
        t("auth.log.col_time", lang): [when(v) for v in df["logged_at"]],
        t("auth.log.col_user", lang): df["username"].tolist(),
        t("auth.log.col_action", lang): [action_label(a, lang) for a in df["action"]],
        t("auth.log.col_object", lang): [object_label(o, i, lang) for o, i in
                                         zip(_texts(df["object_type"]), _texts(df["object_id"]))],
        t("auth.log.col_details", lang): _described(df, lang),
    }


def _texts(column) -> list[str | None]:
    """A text column of ``entries`` with its missing values (None, NaN) as None."""
    return [v if isinstance(v, str) else None for v in column]


def _described(df, lang: str) -> list[str]:
    """``describe`` of every entry of ``entries(...)`` (the page's column and the export's)."""
    return [describe(d, lang, o, a) for d, o, a in zip(_texts(df["details"]), _texts(df["object_type"]), df["action"])]


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
            "object_id": "ID " + t("auth.log.col_object", lang).lower(), "details": t("auth.log.col_details_json", lang)}
    out = df.rename(columns=cols)
    # the readable details beside the stored JSON (the record)
    out.insert(len(out.columns) - 1, t("auth.log.col_details", lang), _described(df, lang))
    data = export.excel_bytes({t("auth.log.title", lang): out})
    export.record_export(con, user, "audit_log", "xlsx", rows=len(df),
                         details={k: str(v) for k, v in filters.items() if v})
    return data
