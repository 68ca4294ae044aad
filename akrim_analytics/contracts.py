"""Keeping the contract register up to date in the app: create, edit and end one
contract (the xlsx import, ``importer/contracts.py``, handles whole registers).

Fields an analyst may set (``FIELDS``), as in the ``contracts`` table (migration 0001):

* ``contract_id`` (create only; left empty, the next ``K-<start year>-NNNN`` is used),
  ``name`` (required), ``responsible``;
* ``supplier_id``: an existing supplier, given by its id or its org number. An org
  number not yet registered creates the supplier in the same transaction when
  ``supplier_name`` is given too (the number must be a valid MOD11 org number);
* ``category`` / ``department``: an existing code (a category may also be given by name);
* ``start_date`` ≤ ``end_date``; ``estimated_value`` ≥ 0 (NOK excl. VAT);
* ``cpv``: 8 digits, ``45000000-7`` is accepted and stored without the check digit;
* ``labour_intensive``, ``foreign_workers``, ``own_sites``, ``wage_clause``,
  ``seriousness_clause``: yes / no / unknown (None);
* ``subcontractor_levels``, ``workers``: whole numbers ≥ 0 or unknown.

Every write needs role **analytiker** (deleting: **admin**, and only a contract with
no controls, findings or spend: otherwise end it), runs in one transaction, writes an
audit entry with the old and new value of each changed field, bumps the data version,
links the spend of the affected suppliers to their contracts again (dates or supplier
may have changed) and calls ``hooks.data_changed(con, user, "contracts")``, which
re-scores risk.

Invalid input raises ``ContractError`` (a ``ValueError``) whose message names the
field and says what to change; nothing is stored then.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import duckdb

from . import audit, db, fmt, hooks, linking, orgnr
from .auth import User, require
from .i18n import t

FIELDS = ("name", "supplier_id", "category", "department", "responsible", "start_date", "end_date",
          "estimated_value", "cpv", "labour_intensive", "subcontractor_levels", "foreign_workers", "own_sites",
          "workers", "wage_clause", "seriousness_clause")
BOOL_FIELDS = ("labour_intensive", "foreign_workers", "own_sites", "wage_clause", "seriousness_clause")
INT_FIELDS = ("subcontractor_levels", "workers")
# Extra input keys: the contract id on create, the name of a supplier to register.
EXTRA_KEYS = ("contract_id", "supplier_name")
REASON = "contracts"
MAX_ID_LENGTH = 64

_TRUE = {"true", "ja", "j", "yes", "y", "1", "x"}
_FALSE = {"false", "nei", "n", "no", "0"}
_CPV_RE = re.compile(r"^(\d{8})(-\d)?$")
_AUTO_ID_RE = r"^K-\d{4}-(\d+)$"


class ContractError(ValueError):
    """Invalid contract input. ``key`` is the i18n key of the message, ``field`` the field
    to correct; ``str(error)`` is the message in the current language."""

    def __init__(self, key: str, field: str | None = None, /, **params):
        self.key, self.field, self.params = key, field, params
        super().__init__(t(key, **params))

    def __str__(self) -> str:
        return t(self.key, **self.params)


def field_label(field: str) -> str:
    return t(f"contracts.field.{field}")


# ----------------------------------------------------------------------------- parsing

def _blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


def _text(value) -> str | None:
    return None if _blank(value) else str(value).strip()


def _date(value, field: str) -> dt.date | None:
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        for f in ("%Y-%m-%d", "%d.%m.%Y"):
            try:
                return dt.datetime.strptime(value.strip(), f).date()
            except ValueError:
                continue
    raise ContractError("contracts.err.bad_date", field, field=field_label(field), value=value)


def _bool(value, field: str) -> bool | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ContractError("contracts.err.bad_bool", field, field=field_label(field), value=value)


def _int(value, field: str) -> int | None:
    if _blank(value):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError
            n = int(value)
        else:
            n = int(str(value).strip().replace(" ", ""))
    except (TypeError, ValueError):
        raise ContractError("contracts.err.bad_int", field, field=field_label(field), value=value) from None
    if n < 0:
        raise ContractError("contracts.err.negative", field, field=field_label(field), value=value)
    return n


def _amount(value, field: str) -> Decimal | None:
    """An amount in NOK as typed (``fmt.parse_amount``: ``12 500 000``, ``1 234,50 kr``)."""
    try:
        d = fmt.parse_amount(value)
    except ValueError:
        raise ContractError("contracts.err.bad_amount", field, field=field_label(field), value=value) from None
    if d is not None and d < 0:
        raise ContractError("contracts.err.negative", field, field=field_label(field), value=value)
    return d


def clean_cpv(value) -> str | None:
    """CPV as 8 digits: ``'45000000-7'`` → ``'45000000'``; spaces are ignored.
    Raises ContractError for anything else (None/blank → None)."""
    if _blank(value):
        return None
    s = re.sub(r"\s", "", str(value))
    m = _CPV_RE.match(s)
    if not m:
        raise ContractError("contracts.err.bad_cpv", "cpv", field=field_label("cpv"), value=value)
    return m.group(1)


# ----------------------------------------------------------------------------- lookups

def _contract_row(con, contract_id) -> dict:
    cid = _text(contract_id)
    row = db.fetch_dict(con, "SELECT * FROM contracts WHERE contract_id = ?", [cid]) if cid else None
    if row is None:
        raise ContractError("contracts.err.no_contract", "contract_id", id=contract_id)
    return row


def _find_supplier(con, value) -> str | None:
    """The supplier_id for an id or an org number, None if unknown."""
    s = _text(value)
    if s is None:
        return None
    found = con.execute("SELECT supplier_id FROM suppliers WHERE supplier_id = ?", [s]).fetchone()
    if found:
        return found[0]
    number = orgnr.clean(s)
    if number:
        found = con.execute("SELECT supplier_id FROM suppliers WHERE orgnr = ? OR supplier_id = ? "
                            "ORDER BY supplier_id = ? DESC LIMIT 1", [number, number, number]).fetchone()
        if found:
            return found[0]
    return None


def _category(con, value) -> str | None:
    s = _text(value)
    if s is None:
        return None
    found = con.execute("SELECT code FROM categories WHERE code = ? OR lower(name_nb) = lower(?) "
                        "OR lower(name_en) = lower(?) ORDER BY code = ? DESC LIMIT 1", [s, s, s, s]).fetchone()
    if not found:
        raise ContractError("contracts.err.no_category", "category", field=field_label("category"), value=s)
    return found[0]


def _department(con, value) -> str | None:
    s = _text(value)
    if s is None:
        return None
    if not con.execute("SELECT count(*) FROM departments WHERE code = ?", [s]).fetchone()[0]:
        raise ContractError("contracts.err.no_department", "department", field=field_label("department"), value=s)
    return s


# ----------------------------------------------------------------------------- validation

def _normalise(con, values: dict, given: set[str]) -> tuple[dict, dict | None]:
    """Typed, checked values for every field in ``FIELDS`` (raises ContractError naming
    the field). ``given``: the fields the caller set; supplier, category and department
    are looked up only then (so an imported contract without a supplier, or with a
    department code not registered, can still be edited in its other fields). Returns the
    values and, when an unregistered org number is to be registered, the new supplier."""
    v: dict[str, Any] = {}
    name = _text(values.get("name"))
    if name is None:
        raise ContractError("contracts.err.required", "name", field=field_label("name"))
    v["name"] = name
    v["responsible"] = _text(values.get("responsible"))

    new_supplier = None
    sup_in = values.get("supplier_id")
    if "supplier_id" in given:
        if _blank(sup_in):
            raise ContractError("contracts.err.required", "supplier_id", field=field_label("supplier_id"))
        sid = _find_supplier(con, sup_in)
        if sid is None:
            number = orgnr.clean(sup_in)
            sup_name = _text(values.get("supplier_name"))
            if number is None:
                raise ContractError("contracts.err.no_supplier", "supplier_id", value=_text(sup_in))
            if sup_name is None:
                raise ContractError("contracts.err.supplier_needs_name", "supplier_name", value=number)
            new_supplier = {"supplier_id": number, "orgnr": number, "name": sup_name}
            sid = number
        v["supplier_id"] = sid
    else:
        v["supplier_id"] = _text(sup_in)

    # A stored code is kept as is (an import may hold a code not registered here); a
    # code the caller sets must exist.
    v["category"] = _category(con, values.get("category")) if "category" in given else _text(values.get("category"))
    v["department"] = (_department(con, values.get("department")) if "department" in given
                       else _text(values.get("department")))
    v["start_date"] = _date(values.get("start_date"), "start_date")
    v["end_date"] = _date(values.get("end_date"), "end_date")
    if v["start_date"] and v["end_date"] and v["end_date"] < v["start_date"]:
        raise ContractError("contracts.err.end_before_start", "end_date", end=v["end_date"].strftime("%d.%m.%Y"),
                            start=v["start_date"].strftime("%d.%m.%Y"))
    v["estimated_value"] = _amount(values.get("estimated_value"), "estimated_value")
    v["cpv"] = clean_cpv(values.get("cpv"))
    for f in BOOL_FIELDS:
        v[f] = _bool(values.get(f), f)
    for f in INT_FIELDS:
        v[f] = _int(values.get(f), f)
    return {k: v[k] for k in FIELDS}, new_supplier


def _check_keys(values: dict, allowed: tuple) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ContractError("contracts.err.unknown_field", unknown[0], field=unknown[0])


def next_contract_id(con: duckdb.DuckDBPyConnection, year: int) -> str:
    """The next free id in the register's ``K-<year>-NNNN`` series (numbered across years)."""
    n = con.execute("SELECT coalesce(max(CAST(regexp_extract(contract_id, ?, 1) AS BIGINT)), 0) FROM contracts "
                    "WHERE regexp_matches(contract_id, ?)", [_AUTO_ID_RE, _AUTO_ID_RE]).fetchone()[0]
    return f"K-{year}-{n + 1:04d}"


def _insert_supplier(con, user: User, sup: dict, via: str | None) -> None:
    con.execute("INSERT INTO suppliers (supplier_id, orgnr, name) VALUES (?, ?, ?)",
                [sup["supplier_id"], sup["orgnr"], sup["name"]])
    audit.log(con, user, "supplier_create", "supplier", sup["supplier_id"],
              {"new": sup, **({"contract_id": via} if via else {})})


def _after_write(con, user: User, supplier_ids) -> None:
    linking.relink_suppliers(con, supplier_ids)
    db.bump_data_version(con)
    hooks.data_changed(con, user, REASON)


# ----------------------------------------------------------------------------- writes

def create_supplier(con: duckdb.DuckDBPyConnection, user: User, orgnr_value, name: str) -> str:
    """Register a supplier by its org number (must be a valid MOD11 number not yet
    registered) and name; returns its supplier_id (the org number). Register facts
    (NACE, employees, …) come later from an Enhetsregisteret import."""
    require(user, "analytiker", "register a supplier")
    number = orgnr.clean(orgnr_value)
    if number is None:
        raise ContractError("contracts.err.bad_orgnr", "orgnr", value=_text(orgnr_value) or "")
    sup_name = _text(name)
    if sup_name is None:
        raise ContractError("contracts.err.supplier_needs_name", "supplier_name", value=number)
    with db.transaction(con):
        if _find_supplier(con, number) is not None:
            raise ContractError("contracts.err.supplier_exists", "orgnr", value=number)
        _insert_supplier(con, user, {"supplier_id": number, "orgnr": number, "name": sup_name}, None)
        _after_write(con, user, [number])
    return number


def create_contract(con: duckdb.DuckDBPyConnection, user: User, fields: dict) -> str:
    """Add a contract to the register; returns its id. ``fields``: keys from ``FIELDS``
    plus ``contract_id`` (optional: the next ``K-<year>-NNNN``) and ``supplier_name``
    (registers a supplier given by a new org number)."""
    require(user, "analytiker", "edit contracts")
    values = dict(fields or {})
    _check_keys(values, FIELDS + EXTRA_KEYS)
    with db.transaction(con):
        new, new_supplier = _normalise(con, values, {"supplier_id", "category", "department"})
        cid = _text(values.get("contract_id"))
        if cid is None:
            cid = next_contract_id(con, (new["start_date"] or dt.date.today()).year)
        elif len(cid) > MAX_ID_LENGTH or any(ch in cid for ch in "\r\n\t"):
            raise ContractError("contracts.err.bad_id", "contract_id", field=field_label("contract_id"),
                                n=MAX_ID_LENGTH)
        if con.execute("SELECT count(*) FROM contracts WHERE contract_id = ?", [cid]).fetchone()[0]:
            raise ContractError("contracts.err.id_exists", "contract_id", id=cid)
        if new_supplier:
            _insert_supplier(con, user, new_supplier, cid)
        con.execute(
            f"""INSERT INTO contracts (contract_id, {', '.join(FIELDS)}, updated_at, updated_by)
                VALUES (?, {', '.join('?' * len(FIELDS))}, current_timestamp, ?)""",
            [cid] + [new[f] for f in FIELDS] + [user.username])
        audit.log(con, user, "contract_create", "contract", cid, {"new": {f: audit.plain(new[f]) for f in FIELDS}})
        _after_write(con, user, [new["supplier_id"]])
    return cid


def update_contract(con: duckdb.DuckDBPyConnection, user: User, contract_id: str, changes: dict) -> dict:
    """Change fields of a contract (keys from ``FIELDS``, plus ``supplier_name`` to
    register a new supplier); returns ``{field: {"old": …, "new": …}}`` (empty when
    nothing changed: no write then)."""
    require(user, "analytiker", "edit contracts")
    changes = dict(changes or {})
    _check_keys(changes, FIELDS + ("supplier_name",))
    with db.transaction(con):
        old = _contract_row(con, contract_id)
        merged = {f: old[f] for f in FIELDS}
        merged.update(changes)
        # Unchanged references are not looked up again (see _normalise).
        given = {f for f in changes if f not in ("supplier_id", "category", "department")
                 or _text(changes[f]) != old[f]}
        new, new_supplier = _normalise(con, merged, given)
        diff = audit.diff(old, new, FIELDS)
        if not diff:
            return {}
        if new_supplier:
            _insert_supplier(con, user, new_supplier, old["contract_id"])
        con.execute(f"UPDATE contracts SET {', '.join(f'{f} = ?' for f in diff)}, updated_by = ?, "
                    "updated_at = current_timestamp WHERE contract_id = ?",
                    [new[f] for f in diff] + [user.username, old["contract_id"]])
        audit.log(con, user, "contract_update", "contract", old["contract_id"], {"changes": diff})
        _after_write(con, user, [old["supplier_id"], new["supplier_id"]])
    return diff


def end_contract(con: duckdb.DuckDBPyConnection, user: User, contract_id: str, end_date, reason: str) -> dict:
    """End a contract early (terminated, or expired before its registered end): sets
    the end date, which must not be before the start nor after the registered end (to
    extend a contract, edit it). The reason is kept in the audit entry. Spend after the
    new end date is no longer linked to the contract."""
    require(user, "analytiker", "edit contracts")
    why = _text(reason)
    if why is None:
        raise ContractError("contracts.err.required", "reason", field=field_label("reason"))
    end = _date(end_date, "end_date")
    if end is None:
        raise ContractError("contracts.err.required", "end_date", field=field_label("end_date"))
    with db.transaction(con):
        old = _contract_row(con, contract_id)
        if old["start_date"] and end < old["start_date"]:
            raise ContractError("contracts.err.end_before_start", "end_date", end=end.strftime("%d.%m.%Y"),
                                start=old["start_date"].strftime("%d.%m.%Y"))
        if old["end_date"] and end > old["end_date"]:
            raise ContractError("contracts.err.end_after_end", "end_date", end=end.strftime("%d.%m.%Y"),
                                old=old["end_date"].strftime("%d.%m.%Y"))
        diff = audit.diff(old, dict(old, end_date=end), FIELDS)
        con.execute("UPDATE contracts SET end_date = ?, updated_by = ?, updated_at = current_timestamp "
                    "WHERE contract_id = ?", [end, user.username, old["contract_id"]])
        audit.log(con, user, "contract_end", "contract", old["contract_id"], {"changes": diff, "reason": why})
        _after_write(con, user, [old["supplier_id"]])
    return diff


def delete_contract(con: duckdb.DuckDBPyConnection, user: User, contract_id: str) -> None:
    """Delete a contract registered by mistake (admin only). Refused when it has
    controls, findings or linked spend: such a contract is ended instead. The audit
    entry keeps every deleted value."""
    require(user, "admin", "delete contracts")
    with db.transaction(con):
        old = _contract_row(con, contract_id)
        cid = old["contract_id"]
        n_controls, n_findings, n_spend = con.execute(
            """SELECT (SELECT count(*) FROM controls WHERE contract_id = ?),
                      (SELECT count(*) FROM findings WHERE contract_id = ?),
                      (SELECT count(*) FROM spend WHERE contract_id = ?)""", [cid, cid, cid]).fetchone()
        if n_controls or n_findings or n_spend:
            raise ContractError("contracts.err.in_use", "contract_id", id=cid, controls=n_controls + n_findings,
                                spend=n_spend)
        con.execute("DELETE FROM contracts WHERE contract_id = ?", [cid])
        audit.log(con, user, "contract_delete", "contract", cid, {"old": {k: audit.plain(v) for k, v in old.items()}})
        _after_write(con, user, [old["supplier_id"]])


# ----------------------------------------------------------------------------- reads

def contract_values(con: duckdb.DuckDBPyConnection, contract_id: str) -> dict | None:
    """The editable values of a contract (for a form), None if it does not exist."""
    row = db.fetch_dict(con, f"SELECT {', '.join(FIELDS)} FROM contracts WHERE contract_id = ?", [contract_id])
    return row
