"""Versioned configuration of the risk model.

The default lives in ``data/risk_config.toml``. An admin's changes are stored as new
versions in ``risk_config_versions`` (the whole effective configuration as JSON, so a
version can always be re-applied); the newest version is the one in force. Every
change is audit-logged and re-scores all contracts and suppliers.

A configuration is a plain dict (JSON types only: dates are ISO strings). Keys the
default file has but a stored version lacks (an indicator added in a later release)
are filled from the default, so old versions keep working.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import math
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb

from .. import audit, db
from ..auth import User, require

DEFAULT_PATH = db.DATA_DIR / "risk_config.toml"
LEVELS = ("lav", "middels", "høy")
AUTHORITIES = ("municipal", "state")
NACE_VERSIONS = ("SN2007", "SN2025")
ALLMENNGJORT = ("ja", "delvis", "nei")
DEFAULT_NOTE = "default"  # note prefix of versions taken from the default file


class ConfigError(ValueError):
    """The configuration is invalid; ``errors`` lists every problem, one per line."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return value


def parse_toml(text: str) -> dict:
    """A configuration from TOML text (dates become ISO strings). Raises ConfigError."""
    try:
        return _jsonable(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"TOML: {e}"]) from None


@lru_cache(maxsize=4)
def _parsed(path: str, mtime_ns: int, size: int) -> dict:
    """The parsed file, cached per (path, modification time, size): every scoring run
    needs the default (to fill missing keys and to notice a changed default file) and
    parsing the TOML each time cost a noticeable part of a re-score."""
    return parse_toml(Path(path).read_text(encoding="utf-8"))


def default_config(path: Path | None = None) -> dict:
    """The default configuration from ``data/risk_config.toml`` (a fresh copy each call;
    the parsed file is cached until the file changes)."""
    p = Path(path or DEFAULT_PATH).resolve()
    st = p.stat()
    return copy.deepcopy(_parsed(str(p), st.st_mtime_ns, st.st_size))


def merge_defaults(cfg: dict, default: dict | None = None) -> dict:
    """``cfg`` with any key it lacks taken from the default (recursively for tables)."""
    default = default_config() if default is None else default
    out = copy.deepcopy(cfg)
    for k, v in default.items():
        if k not in out:
            out[k] = copy.deepcopy(v)
        elif isinstance(v, dict) and isinstance(out[k], dict):
            out[k] = merge_defaults(out[k], v)
    return out


# ---------------------------------------------------------------------------- validation

def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate(cfg: dict) -> list[str]:
    """Every problem in ``cfg`` as a readable line naming the setting; [] when valid."""
    errs: list[str] = []
    if not isinstance(cfg, dict):
        return ["the configuration must be a table"]
    g = cfg.get("general", {})
    if g.get("authority") not in AUTHORITIES:
        errs.append(f"general.authority must be one of {', '.join(AUTHORITIES)}")
    if g.get("nace_version_when_missing") not in NACE_VERSIONS:
        errs.append(f"general.nace_version_when_missing must be one of {', '.join(NACE_VERSIONS)}")
    for key in ("window_months", "ended_within_months"):
        v = g.get(key)
        if not (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 120):
            errs.append(f"general.{key} must be a whole number of months from 1 to 120")
    if not isinstance(g.get("allmenngjort_any_value"), bool):
        errs.append("general.allmenngjort_any_value must be true or false")
    if not (isinstance(g.get("goods_nace_prefixes"), list)
            and all(isinstance(p, str) and p for p in g.get("goods_nace_prefixes", []))):
        errs.append("general.goods_nace_prefixes must be a list of NACE prefixes")

    s = cfg.get("scoring", {})
    for key in ("likelihood_bands", "consequence_bands"):
        b = s.get(key)
        if not (isinstance(b, list) and len(b) == 4 and all(_num(x) for x in b)):
            errs.append(f"scoring.{key} must be four numbers")
        elif any(b[i] >= b[i + 1] for i in range(3)):
            errs.append(f"scoring.{key} must be strictly ascending")

    m = cfg.get("levels", {}).get("matrix")
    if not (isinstance(m, list) and len(m) == 5 and all(isinstance(r, list) and len(r) == 5 for r in m)):
        errs.append("levels.matrix must have 5 rows of 5 cells")
    else:
        for i, row in enumerate(m, 1):
            for j, cell in enumerate(row, 1):
                if cell not in LEVELS:
                    errs.append(f"levels.matrix likelihood {i}, consequence {j}: {cell!r} is not one of "
                                f"{', '.join(LEVELS)}")
    c = cfg.get("control", {})
    for lvl in LEVELS:
        if c.get(lvl) not in (1, 2, 3) or isinstance(c.get(lvl), bool):
            errs.append(f"control.{lvl} must be 1, 2 or 3 (DFØ Trinn)")

    th = cfg.get("thresholds")
    if not (isinstance(th, list) and th):
        errs.append("thresholds must list at least one threshold")
    else:
        prev = None
        for i, t in enumerate(th, 1):
            try:
                d = dt.date.fromisoformat(str(t.get("from")))
            except (ValueError, AttributeError):
                errs.append(f"thresholds row {i}: 'from' must be a date (YYYY-MM-DD)")
                continue
            for key in AUTHORITIES:
                if not (_num(t.get(key)) and t.get(key) > 0):
                    errs.append(f"thresholds row {i}: {key} must be a positive amount")
            if not isinstance(t.get("verified"), bool):
                errs.append(f"thresholds row {i}: verified must be true or false")
            if prev is not None and d <= prev:
                errs.append(f"thresholds row {i}: dates must be ascending")
            prev = d

    inds = cfg.get("industries")
    if not isinstance(inds, list):
        errs.append("industries must be a list")
    else:
        keys = set()
        for i, ind in enumerate(inds, 1):
            k = ind.get("key")
            if not (isinstance(k, str) and k):
                errs.append(f"industries row {i}: key is missing")
            elif k in keys:
                errs.append(f"industries row {i}: key {k!r} is used twice")
            keys.add(k)
            for lang in ("name_nb", "name_en"):
                if not (isinstance(ind.get(lang), str) and ind.get(lang).strip()):
                    errs.append(f"industries row {i} ({k}): {lang} is missing")
            for ver in ("sn2007", "sn2025"):
                codes = ind.get(ver)
                if not (isinstance(codes, list) and all(isinstance(x, str) and _nace_prefix_ok(x) for x in codes)):
                    errs.append(f"industries row {i} ({k}): {ver} must be a list of NACE prefixes like '43' or '81.21'")
            if ind.get("allmenngjort") not in ALLMENNGJORT:
                errs.append(f"industries row {i} ({k}): allmenngjort must be one of {', '.join(ALLMENNGJORT)}")
            if not _num(ind.get("points")):
                errs.append(f"industries row {i} ({k}): points must be a number")
    cpv = cfg.get("cpv_risk")
    if not isinstance(cpv, list):
        errs.append("cpv_risk must be a list")
    else:
        for i, row in enumerate(cpv, 1):
            p = row.get("prefix")
            if not (isinstance(p, str) and p.isdigit() and 1 <= len(p) <= 8):
                errs.append(f"cpv_risk row {i}: prefix must be 1–8 digits")
            if not _num(row.get("points")):
                errs.append(f"cpv_risk row {i}: points must be a number")
            for lang in ("name_nb", "name_en"):
                if not (isinstance(row.get(lang), str) and row.get(lang).strip()):
                    errs.append(f"cpv_risk row {i}: {lang} is missing")

    from .indicators import INDICATORS  # late: indicators import this module

    settings = cfg.get("indicators", {})
    for ind in INDICATORS:
        sec = settings.get(ind.key, {})
        if not isinstance(sec, dict):
            errs.append(f"indicators.{ind.key} must be a table")
            continue
        if "enabled" in sec and not isinstance(sec["enabled"], bool):
            errs.append(f"indicators.{ind.key}.enabled must be true or false")
        for name, value in sec.items():
            if name == "enabled":
                continue
            if name == "bands":
                if not (isinstance(value, list) and all(
                        isinstance(b, list) and len(b) == 2 and _num(b[0]) and _num(b[1]) for b in value)):
                    errs.append(f"indicators.{ind.key}.bands must be a list of [from, points] pairs")
                elif any(value[i][0] >= value[i + 1][0] for i in range(len(value) - 1)):
                    errs.append(f"indicators.{ind.key}.bands must be ascending")
            elif isinstance(value, list):
                if not all(isinstance(x, str) for x in value):
                    errs.append(f"indicators.{ind.key}.{name} must be a list of texts")
            elif not _num(value):
                errs.append(f"indicators.{ind.key}.{name} must be a number")
            elif name.endswith(("_days", "_months", "months", "limit", "due_month", "min_invoiced")) and value < 0:
                errs.append(f"indicators.{ind.key}.{name} must not be negative")
        if "due_month" in sec and _num(sec["due_month"]) and not 1 <= sec["due_month"] <= 12:
            errs.append(f"indicators.{ind.key}.due_month must be 1–12")
        for name in ("fade_days", "closed_fade_days"):
            if name in sec and _num(sec[name]) and sec[name] <= 0:
                errs.append(f"indicators.{ind.key}.{name} must be positive")
    return errs


def _nace_prefix_ok(code: str) -> bool:
    if len(code) < 2 or not code[:2].isdigit():
        return False
    if len(code) == 2:
        return True
    return code[2] == "." and code[3:].isdigit() and 1 <= len(code) - 3 <= 3


def check(cfg: dict) -> dict:
    """The configuration with defaults filled in; raises ConfigError if invalid."""
    full = merge_defaults(_jsonable(cfg))
    errs = validate(full)
    if errs:
        raise ConfigError(errs)
    return full


# ---------------------------------------------------------------------------- storage

def _latest_row(con: duckdb.DuckDBPyConnection):
    return con.execute(
        "SELECT version, config, note, created_at, created_by FROM risk_config_versions ORDER BY version DESC LIMIT 1"
    ).fetchone()


def load_config(con: duckdb.DuckDBPyConnection, version: int | None = None) -> dict:
    """The configuration in force (newest stored version), or a given version.

    Without any stored version this is the default file. Missing keys are filled
    from the default. Use ``config_version`` for the version number."""
    if version is None:
        row = _latest_row(con)
    else:
        row = con.execute("SELECT version, config FROM risk_config_versions WHERE version = ?", [version]).fetchone()
        if row is None:
            raise KeyError(f"risk configuration version {version} does not exist")
    if row is None:
        return default_config()
    return merge_defaults(json.loads(row[1]))


def config_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The version number in force; None until the first one is stored."""
    row = con.execute("SELECT max(version) FROM risk_config_versions").fetchone()
    return row[0]


def versions(con: duckdb.DuckDBPyConnection):
    """All stored versions, newest first (without the configuration itself)."""
    return con.execute(
        "SELECT version, created_at, created_by, note FROM risk_config_versions ORDER BY version DESC"
    ).df()


def _insert_version(con, username: str, cfg: dict, note: str | None) -> int:
    version = con.execute("SELECT coalesce(max(version), 0) + 1 FROM risk_config_versions").fetchone()[0]
    con.execute(
        "INSERT INTO risk_config_versions (version, created_by, config, note) VALUES (?, ?, ?, ?)",
        [version, username, json.dumps(cfg, ensure_ascii=False, sort_keys=True), note],
    )
    return version


def ensure_config(con: duckdb.DuckDBPyConnection) -> tuple[int, dict]:
    """The version in force and its configuration, storing the default as version 1
    on first use. If nobody has changed the model yet (the newest version came from
    the default file) and the default file has changed since, the new default is
    stored as a new version. Call inside the scoring transaction."""
    row = _latest_row(con)
    default = check(default_config())
    if row is None:
        return _insert_version(con, "system", default, f"{DEFAULT_NOTE}: data/risk_config.toml"), default
    stored = merge_defaults(json.loads(row[1]), default)
    if (row[2] or "").startswith(DEFAULT_NOTE) and row[4] == "system" and stored != default:
        return _insert_version(con, "system", default, f"{DEFAULT_NOTE}: data/risk_config.toml (updated)"), default
    return row[0], stored


def diff(old: Any, new: Any, path: str = "") -> list[dict]:
    """What changed between two configurations, as [{path, old, new}], for the audit log."""
    out: list[dict] = []
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new), key=str):
            out += diff(old.get(k), new.get(k), f"{path}.{k}" if path else str(k))
    elif (isinstance(old, list) and isinstance(new, list) and len(old) == len(new)
          and all(isinstance(x, dict) for x in old + new)):
        for i, (a, b) in enumerate(zip(old, new)):
            out += diff(a, b, f"{path}[{i}]")
    elif old != new:
        out.append({"path": path, "old": old, "new": new})
    return out


def save_config(con: duckdb.DuckDBPyConnection, user: User, new_config: dict, note: str | None = None,
                *, rescore: bool = True) -> int:
    """Store ``new_config`` as the version in force (admin only), audit-log what changed
    and re-score everything in the same transaction. Returns the version number; an
    unchanged configuration stores nothing and returns the current version.

    Raises ``auth.PermissionDenied`` for non-admins and ``ConfigError`` (listing every
    problem) for an invalid configuration; nothing is stored then."""
    require(user, "admin", "change the risk settings")
    cfg = check(new_config)
    from .engine import _transaction, score_all

    with _transaction(con):
        current_version = config_version(con)
        current = load_config(con) if current_version is not None else check(default_config())
        changes = diff(current, cfg)
        if current_version is not None and not changes:
            return current_version
        version = _insert_version(con, user.username, cfg, (note or "").strip() or None)
        audit.log(con, user, "settings", "risk_config", version,
                  {"previous_version": current_version, "note": note, "changes": changes[:200],
                   "n_changes": len(changes)})
        db.bump_data_version(con)
        if rescore:
            score_all(con, user, reason=f"settings v{version}")
    return version


# ---------------------------------------------------------------------------- TOML out

def _toml_key(k: str) -> str:
    return k if k and all(c.isalnum() and c.isascii() or c in "_-" for c in k) else json.dumps(k, ensure_ascii=False)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        try:
            if len(v) == 10 and v[4] == "-" and v[7] == "-":
                dt.date.fromisoformat(v)
                return v  # a TOML local date
        except ValueError:
            pass
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def to_toml(cfg: dict) -> str:
    """The configuration as TOML text that ``parse_toml`` reads back unchanged."""
    lines: list[str] = []

    def table(prefix: str, d: dict) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)
                   and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))}
        if prefix and scalars:
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in d.items():
            name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
            if isinstance(v, dict):
                table(name, v)
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                for item in v:
                    lines.append(f"\n[[{name}]]")
                    for ik, iv in item.items():
                        lines.append(f"{_toml_key(ik)} = {_toml_value(iv)}")

    table("", cfg)
    return "\n".join(lines).lstrip("\n") + "\n"


# ---------------------------------------------------------------------------- form rows
# The Settings page edits tables as rows; these turn rows back into configuration
# lists (validation then names any bad row).

def split_list(text: Any) -> list[str]:
    """'43, 81.2;78' → ['43', '81.2', '78'] (a list passes through, trimmed)."""
    if isinstance(text, (list, tuple)):
        items = text
    else:
        items = str(text or "").replace(";", ",").split(",")
    return [str(x).strip() for x in items if str(x).strip()]


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()) \
        or str(v) in ("NaT", "nan", "<NA>")


def _date_text(v: Any) -> Any:
    if _blank(v):
        return None
    if hasattr(v, "date") and callable(v.date):
        v = v.date()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)[:10]


def _number(v: Any) -> Any:
    if _blank(v):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() else f


def thresholds_from_rows(rows: list[dict]) -> list[dict]:
    """Threshold rows (from, state, municipal, verified, source) → ``thresholds``,
    ordered by date; entirely empty rows are dropped."""
    out = []
    for r in rows:
        if all(_blank(r.get(k)) for k in ("from", "state", "municipal")):
            continue
        out.append({"from": _date_text(r.get("from")), "state": _number(r.get("state")),
                    "municipal": _number(r.get("municipal")), "verified": bool(r.get("verified")) if not
                    _blank(r.get("verified")) else False, "source": "" if _blank(r.get("source")) else str(r["source"])})
    return sorted(out, key=lambda r: str(r["from"]))


def industries_from_rows(rows: list[dict]) -> list[dict]:
    """Industry rows (codes as comma-separated text) → ``industries``."""
    out = []
    for r in rows:
        if all(_blank(r.get(k)) for k in ("key", "name_nb", "sn2007", "sn2025")):
            continue
        out.append({"key": "" if _blank(r.get("key")) else str(r["key"]).strip(),
                    "name_nb": "" if _blank(r.get("name_nb")) else str(r["name_nb"]).strip(),
                    "name_en": "" if _blank(r.get("name_en")) else str(r["name_en"]).strip(),
                    "sn2007": split_list(r.get("sn2007")), "sn2025": split_list(r.get("sn2025")),
                    "allmenngjort": r.get("allmenngjort") or "nei", "points": _number(r.get("points"))})
    return out


def cpv_from_rows(rows: list[dict]) -> list[dict]:
    """CPV rows (prefix, name_nb, name_en, points) → ``cpv_risk``."""
    out = []
    for r in rows:
        if all(_blank(r.get(k)) for k in ("prefix", "name_nb", "points")):
            continue
        out.append({"prefix": "" if _blank(r.get("prefix")) else str(r["prefix"]).strip(),
                    "name_nb": "" if _blank(r.get("name_nb")) else str(r["name_nb"]).strip(),
                    "name_en": "" if _blank(r.get("name_en")) else str(r["name_en"]).strip(),
                    "points": _number(r.get("points"))})
    return out


def bands_from_rows(rows: list[dict]) -> list[list]:
    """[[from, points], …] from rows with 'from' and 'points', ordered by 'from'."""
    out = [[_number(r.get("from")), _number(r.get("points"))] for r in rows
           if not (_blank(r.get("from")) and _blank(r.get("points")))]
    return sorted(out, key=lambda b: (b[0] is None, b[0] if isinstance(b[0], (int, float)) else 0))
