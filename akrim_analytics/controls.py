"""The control log ("kontrollogg"): every control of a contract, its documents, its
findings and the actions and sanctions that followed ("husk å dokumentere").

A **control** is one DFØ step carried out (or planned) for one contract:

* ``step`` 1 = Trinn 1 self-report + risk assessment, 2 = Trinn 2 document review,
  3 = Trinn 3 on-site inspection (domain.md §1.2);
* ``planned_date``, ``done_date`` (when it was carried out; never in the future),
  ``performed_by``;
* ``documents_requested`` / ``documents_received``: codes from ``DOCUMENTS``; what was
  requested and not received is shown as missing;
* ``outcome``: ``clean`` | ``findings`` | ``not_done`` (NULL while not finished);
* ``status``: ``planned`` (not started) | ``open`` (started, or with open findings) |
  ``closed`` (finished: needs an outcome, a done date unless not carried out, and no
  open finding).

A **finding** belongs to a control: ``finding_type`` (``FINDING_TYPES``), ``severity``
(low | medium | high), a description, the **action or sanction** (DFØ ch. 6:
correction, action plan with a deadline, daily fines, withheld payment, termination;
``sanction_amount`` is NOK per day for daily fines and NOK withheld for withheld
payment) and its status (open | closed, with opened and closed dates). Recording a
finding sets the control's outcome to ``findings``; an open finding keeps the control
open.

Every write function takes the acting user, needs role **analytiker** (a leder reads
only), runs in one transaction, writes an audit entry whose details hold the old and
new values of every changed field, bumps the data version, and calls
``hooks.data_changed(con, user, "controls")`` in the same transaction: findings feed
the risk model ("previous findings"), which re-scores there.

Invalid input raises ``ControlError`` (a ``ValueError``) whose message names the field
and says what to change; nothing is stored then.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import duckdb
import pandas as pd

from . import audit, db, fmt, hooks
from .auth import User, require
from .i18n import t

STEPS = (1, 2, 3)
# Documents that can be requested (domain.md §1.2 Trinn 2 table and §8), in display order.
DOCUMENTS = ("egenrapport", "arbeidsavtaler", "timelister", "lonnsslipper", "bankbetaling", "otp",
             "hms_kort", "underleverandorer", "skatteattest")
FINDING_TYPES = ("wage", "working_time", "pension", "hms_card", "chain", "documentation", "other")
SEVERITIES = ("low", "medium", "high")
ACTIONS = ("correction", "action_plan", "daily_fines", "withheld_payment", "termination")
AMOUNT_ACTIONS = ("daily_fines", "withheld_payment")
CONTROL_STATUSES = ("planned", "open", "closed")
OUTCOMES = ("clean", "findings", "not_done")
FINDING_STATUSES = ("open", "closed")

CONTROL_FIELDS = ("contract_id", "step", "planned_date", "done_date", "performed_by", "documents_requested",
                  "documents_received", "outcome", "status", "note")
FINDING_FIELDS = ("finding_type", "severity", "description", "action", "action_deadline", "sanction_amount",
                  "status", "opened_date", "closed_date")
REASON = "controls"


class ControlError(ValueError):
    """Invalid control-log input. ``key`` is the i18n key of the message, ``field`` the
    field to correct; ``str(error)`` is the message in the current language."""

    def __init__(self, key: str, field: str | None = None, /, **params):
        self.key, self.field, self.params = key, field, params
        super().__init__(t(key, **params))

    def __str__(self) -> str:
        return t(self.key, **self.params)


# ----------------------------------------------------------------------------- helpers

def _today(today: dt.date | None) -> dt.date:
    return today or dt.date.today()


def _date(value, field: str) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
        return value.to_pydatetime().date()
    if isinstance(value, str):
        s = value.strip()
        for fmt_ in ("%Y-%m-%d", "%d.%m.%Y"):
            try:
                return dt.datetime.strptime(s[:10], fmt_).date()
            except ValueError:
                continue
    raise ControlError("followup.err.bad_date", field, field=_field_label(field), value=value)


def _text(value) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _docs(values: Iterable[str] | None, field: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out = []
    for v in values:
        if v is None:
            continue
        code = str(v).strip()
        if code not in DOCUMENTS:
            raise ControlError("followup.err.bad_document", field, field=_field_label(field), value=code,
                               allowed=", ".join(DOCUMENTS))
        if code not in out:
            out.append(code)
    return sorted(out, key=DOCUMENTS.index)


def _choice(value, allowed: tuple, field: str, *, optional: bool = False):
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise ControlError("followup.err.required", field, field=_field_label(field))
    if isinstance(value, str):
        value = value.strip()
    if allowed == STEPS:
        try:
            value = int(value)
        except (TypeError, ValueError):
            pass
    if value not in allowed:
        raise ControlError("followup.err.bad_choice", field, field=_field_label(field), value=value,
                           allowed=", ".join(str(a) for a in allowed))
    return value


def _field_label(field: str) -> str:
    return t(f"followup.field.{field}")


def _control_row(con, control_id) -> dict:
    try:
        cid = int(control_id)
    except (TypeError, ValueError):
        raise ControlError("followup.err.no_control", "control_id", id=control_id) from None
    row = db.fetch_dict(con, "SELECT * FROM controls WHERE control_id = ?", [cid])
    if row is None:
        raise ControlError("followup.err.no_control", "control_id", id=control_id)
    row["documents_requested"] = list(row["documents_requested"] or [])
    row["documents_received"] = list(row["documents_received"] or [])
    return row


def _finding_row(con, finding_id) -> dict:
    try:
        fid = int(finding_id)
    except (TypeError, ValueError):
        raise ControlError("followup.err.no_finding", "finding_id", id=finding_id) from None
    row = db.fetch_dict(con, "SELECT * FROM findings WHERE finding_id = ?", [fid])
    if row is None:
        raise ControlError("followup.err.no_finding", "finding_id", id=finding_id)
    return row


def _open_findings(con, control_id: int) -> int:
    return con.execute("SELECT count(*) FROM findings WHERE control_id = ? AND status = 'open'",
                       [control_id]).fetchone()[0]


def _after_write(con, user: User) -> None:
    db.bump_data_version(con)
    hooks.data_changed(con, user, REASON)


# ----------------------------------------------------------------------------- validation

def _normalise_control(con, values: dict, today: dt.date, *, open_findings: int = 0) -> dict:
    """Typed, checked control values (raises ControlError naming the field)."""
    v = dict(values)
    contract_id = _text(v.get("contract_id"))
    if contract_id is None:
        raise ControlError("followup.err.required", "contract_id", field=_field_label("contract_id"))
    if not con.execute("SELECT count(*) FROM contracts WHERE contract_id = ?", [contract_id]).fetchone()[0]:
        raise ControlError("followup.err.no_contract", "contract_id", id=contract_id)
    v["contract_id"] = contract_id
    v["step"] = _choice(v.get("step"), STEPS, "step")
    v["planned_date"] = _date(v.get("planned_date"), "planned_date")
    v["done_date"] = _date(v.get("done_date"), "done_date")
    v["performed_by"] = _text(v.get("performed_by"))
    v["note"] = _text(v.get("note"))
    v["documents_requested"] = _docs(v.get("documents_requested"), "documents_requested")
    v["documents_received"] = _docs(v.get("documents_received"), "documents_received")
    v["outcome"] = _choice(v.get("outcome"), OUTCOMES, "outcome", optional=True)
    status = _choice(v.get("status"), CONTROL_STATUSES, "status", optional=True)
    if status is None:
        if v["done_date"] is None and v["outcome"] is None:
            status = "planned"
        elif v["outcome"] in ("clean", "not_done") and not open_findings:
            status = "closed"
        else:
            status = "open"
    v["status"] = status

    if v["done_date"] is not None and v["done_date"] > today:
        raise ControlError("followup.err.done_in_future", "done_date", date=v["done_date"].strftime("%d.%m.%Y"))
    if v["planned_date"] is None and v["done_date"] is None:
        raise ControlError("followup.err.need_a_date", "planned_date")
    if status == "planned" and (v["done_date"] is not None or v["outcome"] is not None):
        raise ControlError("followup.err.planned_but_done", "status")
    if v["outcome"] in ("clean", "findings") and v["done_date"] is None:
        raise ControlError("followup.err.outcome_needs_done", "done_date")
    if status == "closed":
        if v["outcome"] is None:
            raise ControlError("followup.err.closed_needs_outcome", "outcome")
        if open_findings:
            raise ControlError("followup.err.closed_open_findings", "status", n=open_findings)
    if v["outcome"] == "clean" and open_findings:
        raise ControlError("followup.err.clean_with_findings", "outcome", n=open_findings)
    return {k: v[k] for k in CONTROL_FIELDS}


def _normalise_finding(values: dict, today: dt.date, control: dict) -> dict:
    v = dict(values)
    v["finding_type"] = _choice(v.get("finding_type"), FINDING_TYPES, "finding_type")
    v["severity"] = _choice(v.get("severity"), SEVERITIES, "severity")
    v["description"] = _text(v.get("description"))
    v["action"] = _choice(v.get("action"), ACTIONS, "action", optional=True)
    v["action_deadline"] = _date(v.get("action_deadline"), "action_deadline")
    try:   # as typed: 5 000, 1 234,50 kr (fmt.parse_amount)
        amount = fmt.parse_amount(v.get("sanction_amount"))
    except ValueError:
        raise ControlError("followup.err.bad_amount", "sanction_amount", value=v.get("sanction_amount")) from None
    if amount is not None:
        if amount < 0:
            raise ControlError("followup.err.bad_amount", "sanction_amount", value=v.get("sanction_amount"))
        if v["action"] not in AMOUNT_ACTIONS:
            raise ControlError("followup.err.amount_without_sanction", "sanction_amount")
    v["sanction_amount"] = amount
    if v["action"] == "action_plan" and v["action_deadline"] is None:
        raise ControlError("followup.err.plan_needs_deadline", "action_deadline")
    v["status"] = _choice(v.get("status") or "open", FINDING_STATUSES, "status")
    v["opened_date"] = _date(v.get("opened_date"), "opened_date") or control.get("done_date") or today
    v["closed_date"] = _date(v.get("closed_date"), "closed_date")
    if v["status"] == "closed" and v["closed_date"] is None:
        v["closed_date"] = today
    if v["status"] == "open":
        v["closed_date"] = None
    if v["opened_date"] > today:
        raise ControlError("followup.err.done_in_future", "opened_date", date=v["opened_date"].strftime("%d.%m.%Y"))
    if v["closed_date"] is not None:
        if v["closed_date"] > today:
            raise ControlError("followup.err.done_in_future", "closed_date",
                               date=v["closed_date"].strftime("%d.%m.%Y"))
        if v["closed_date"] < v["opened_date"]:
            raise ControlError("followup.err.closed_before_opened", "closed_date")
    return {k: v[k] for k in FINDING_FIELDS}


# ----------------------------------------------------------------------------- control writes

def create_control(con: duckdb.DuckDBPyConnection, user: User, contract_id: str, step: int, *,
                   planned_date=None, done_date=None, performed_by: str | None = None,
                   documents_requested: Iterable[str] | None = None,
                   documents_received: Iterable[str] | None = None, outcome: str | None = None,
                   status: str | None = None, note: str | None = None, plan_id: int | None = None,
                   today: dt.date | None = None) -> int:
    """Record a control (planned or done) for a contract; returns its control_id.

    ``status`` defaults from the other values: planned without a done date, closed
    when done with a clean result, otherwise open."""
    require(user, "analytiker", "edit the control log")
    values = {"contract_id": contract_id, "step": step, "planned_date": planned_date, "done_date": done_date,
              "performed_by": performed_by, "documents_requested": documents_requested,
              "documents_received": documents_received, "outcome": outcome, "status": status, "note": note}
    with db.transaction(con):
        new = _normalise_control(con, values, _today(today))
        cid = con.execute(
            """INSERT INTO controls (contract_id, step, planned_date, done_date, performed_by, documents_requested,
                                     documents_received, outcome, status, note, plan_id, created_by, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp) RETURNING control_id""",
            [new[k] for k in CONTROL_FIELDS] + [plan_id, user.username]).fetchone()[0]
        audit.log(con, user, "control_create", "control", cid,
                  {"contract_id": new["contract_id"], "new": {k: audit.plain(new[k]) for k in CONTROL_FIELDS},
                   **({"plan_id": plan_id} if plan_id is not None else {})})
        _after_write(con, user)
    return cid


def update_control(con: duckdb.DuckDBPyConnection, user: User, control_id: int, changes: dict, *,
                   today: dt.date | None = None) -> dict:
    """Change fields of a control (keys from ``CONTROL_FIELDS``); returns the changes
    as ``{field: {"old": …, "new": …}}`` (empty when nothing changed: no write then)."""
    require(user, "analytiker", "edit the control log")
    changes = dict(changes or {})
    unknown = set(changes) - set(CONTROL_FIELDS)
    if unknown:
        raise ControlError("followup.err.unknown_field", sorted(unknown)[0], field=sorted(unknown)[0])
    with db.transaction(con):
        old = _control_row(con, control_id)
        merged = {k: old[k] for k in CONTROL_FIELDS}
        merged.update(changes)
        if "status" not in changes and ({"done_date", "outcome"} & set(changes)):
            merged["status"] = None  # re-derive from the new values
        new = _normalise_control(con, merged, _today(today), open_findings=_open_findings(con, old["control_id"]))
        diff = audit.diff(old, new, CONTROL_FIELDS)
        if not diff:
            return {}
        sets = ", ".join(f"{f} = ?" for f in diff)
        con.execute(f"UPDATE controls SET {sets}, updated_by = ?, updated_at = current_timestamp WHERE control_id = ?",
                    [new[f] for f in diff] + [user.username, old["control_id"]])
        audit.log(con, user, "control_update", "control", old["control_id"],
                  {"contract_id": new["contract_id"], "changes": diff})
        _after_write(con, user)
    return diff


def close_control(con: duckdb.DuckDBPyConnection, user: User, control_id: int, *, outcome: str | None = None,
                  done_date=None, today: dt.date | None = None) -> dict:
    """Close a control (all its findings must be closed). ``outcome`` defaults to the
    recorded one, else ``findings`` if it has findings, else ``clean``; ``done_date``
    defaults to the recorded one, else today."""
    require(user, "analytiker", "edit the control log")
    old = _control_row(con, control_id)
    n_findings = con.execute("SELECT count(*) FROM findings WHERE control_id = ?", [old["control_id"]]).fetchone()[0]
    changes: dict[str, Any] = {"status": "closed"}
    changes["outcome"] = outcome or old["outcome"] or ("findings" if n_findings else "clean")
    if changes["outcome"] != "not_done":
        changes["done_date"] = done_date or old["done_date"] or _today(today)
    return update_control(con, user, control_id, changes, today=today)


def delete_control(con: duckdb.DuckDBPyConnection, user: User, control_id: int) -> None:
    """Delete a control entered by mistake, with its findings. The audit entry keeps
    every deleted value, so the record is never lost."""
    require(user, "analytiker", "edit the control log")
    with db.transaction(con):
        old = _control_row(con, control_id)
        fs = con.execute("SELECT * FROM findings WHERE control_id = ? ORDER BY finding_id", [old["control_id"]])
        cols = [d[0] for d in fs.description]
        found = [{c: audit.plain(v) for c, v in zip(cols, r)} for r in fs.fetchall()]
        con.execute("DELETE FROM findings WHERE control_id = ?", [old["control_id"]])
        con.execute("DELETE FROM controls WHERE control_id = ?", [old["control_id"]])
        audit.log(con, user, "control_delete", "control", old["control_id"],
                  {"contract_id": old["contract_id"], "old": {k: audit.plain(v) for k, v in old.items()},
                   "findings": found})
        _after_write(con, user)


# ----------------------------------------------------------------------------- finding writes

def add_finding(con: duckdb.DuckDBPyConnection, user: User, control_id: int, finding_type: str, severity: str, *,
                description: str | None = None, action: str | None = None, action_deadline=None,
                sanction_amount=None, opened_date=None, status: str = "open", closed_date=None,
                today: dt.date | None = None) -> int:
    """Record a finding of a control (the control must have been started); returns its
    finding_id. The control's outcome becomes ``findings`` and, while the finding is
    open, its status ``open`` (both changes are in the audit entry)."""
    require(user, "analytiker", "edit the control log")
    day = _today(today)
    with db.transaction(con):
        ctrl = _control_row(con, control_id)
        if ctrl["status"] == "planned":
            raise ControlError("followup.err.finding_on_planned", "control_id")
        new = _normalise_finding({"finding_type": finding_type, "severity": severity, "description": description,
                                  "action": action, "action_deadline": action_deadline,
                                  "sanction_amount": sanction_amount, "status": status, "opened_date": opened_date,
                                  "closed_date": closed_date}, day, ctrl)
        fid = con.execute(
            """INSERT INTO findings (control_id, contract_id, finding_type, severity, description, action,
                                     action_deadline, sanction_amount, status, opened_date, closed_date,
                                     created_by, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp) RETURNING finding_id""",
            [ctrl["control_id"], ctrl["contract_id"]] + [new[k] for k in FINDING_FIELDS] + [user.username],
        ).fetchone()[0]
        ctrl_new = dict(ctrl, outcome="findings")
        if new["status"] == "open":
            ctrl_new["status"] = "open"
        ctrl_diff = audit.diff(ctrl, ctrl_new, ("outcome", "status"))
        if ctrl_diff:
            con.execute("UPDATE controls SET outcome = ?, status = ?, updated_by = ?, updated_at = current_timestamp "
                        "WHERE control_id = ?", [ctrl_new["outcome"], ctrl_new["status"], user.username,
                                                 ctrl["control_id"]])
        audit.log(con, user, "finding_create", "finding", fid,
                  {"control_id": ctrl["control_id"], "contract_id": ctrl["contract_id"],
                   "new": {k: audit.plain(new[k]) for k in FINDING_FIELDS},
                   **({"control_changes": ctrl_diff} if ctrl_diff else {})})
        _after_write(con, user)
    return fid


def update_finding(con: duckdb.DuckDBPyConnection, user: User, finding_id: int, changes: dict, *,
                   today: dt.date | None = None) -> dict:
    """Change fields of a finding (keys from ``FINDING_FIELDS``); returns the changes.
    Reopening a finding of a closed control reopens the control."""
    require(user, "analytiker", "edit the control log")
    changes = dict(changes or {})
    unknown = set(changes) - set(FINDING_FIELDS)
    if unknown:
        raise ControlError("followup.err.unknown_field", sorted(unknown)[0], field=sorted(unknown)[0])
    day = _today(today)
    with db.transaction(con):
        old = _finding_row(con, finding_id)
        ctrl = _control_row(con, old["control_id"])
        merged = {k: old[k] for k in FINDING_FIELDS}
        merged.update(changes)
        new = _normalise_finding(merged, day, ctrl)
        diff = audit.diff(old, new, FINDING_FIELDS)
        if not diff:
            return {}
        sets = ", ".join(f"{f} = ?" for f in diff)
        con.execute(f"UPDATE findings SET {sets}, updated_by = ?, updated_at = current_timestamp WHERE finding_id = ?",
                    [new[f] for f in diff] + [user.username, old["finding_id"]])
        details = {"control_id": ctrl["control_id"], "contract_id": ctrl["contract_id"], "changes": diff}
        if new["status"] == "open" and ctrl["status"] == "closed":
            con.execute("UPDATE controls SET status = 'open', updated_by = ?, updated_at = current_timestamp "
                        "WHERE control_id = ?", [user.username, ctrl["control_id"]])
            details["control_changes"] = {"status": {"old": "closed", "new": "open"}}
        audit.log(con, user, "finding_update", "finding", old["finding_id"], details)
        _after_write(con, user)
    return diff


def close_finding(con: duckdb.DuckDBPyConnection, user: User, finding_id: int, *, closed_date=None,
                  today: dt.date | None = None) -> dict:
    """Close a finding (the action is complete); ``closed_date`` defaults to today."""
    require(user, "analytiker", "edit the control log")
    return update_finding(con, user, finding_id, {"status": "closed", "closed_date": closed_date or _today(today)},
                          today=today)


def reopen_finding(con: duckdb.DuckDBPyConnection, user: User, finding_id: int, *,
                   today: dt.date | None = None) -> dict:
    """Reopen a closed finding (and its control, if that was closed)."""
    require(user, "analytiker", "edit the control log")
    return update_finding(con, user, finding_id, {"status": "open", "closed_date": None}, today=today)


def delete_finding(con: duckdb.DuckDBPyConnection, user: User, finding_id: int) -> None:
    """Delete a finding recorded by mistake; the audit entry keeps its values."""
    require(user, "analytiker", "edit the control log")
    with db.transaction(con):
        old = _finding_row(con, finding_id)
        con.execute("DELETE FROM findings WHERE finding_id = ?", [old["finding_id"]])
        audit.log(con, user, "finding_delete", "finding", old["finding_id"],
                  {"control_id": old["control_id"], "contract_id": old["contract_id"],
                   "old": {k: audit.plain(v) for k, v in old.items()}})
        _after_write(con, user)


# ----------------------------------------------------------------------------- reads

_LOG_SELECT = """
    SELECT k.control_id, k.contract_id, c.name AS contract_name, c.supplier_id, s.name AS supplier_name,
           c.department, d.name AS department_name, c.responsible, k.step, k.planned_date, k.done_date,
           k.performed_by, k.status, k.outcome, k.documents_requested, k.documents_received,
           list_filter(coalesce(k.documents_requested, []::VARCHAR[]),
                       lambda x: NOT list_contains(coalesce(k.documents_received, []::VARCHAR[]), x)) AS documents_missing,
           coalesce(f.n, 0) AS findings, coalesce(f.n_open, 0) AS findings_open, f.max_severity,
           k.status <> 'closed' AND k.done_date IS NULL AND k.planned_date < ? AS overdue,
           k.note, k.plan_id, k.upload_id, k.created_by, k.created_at, k.updated_by, k.updated_at
    FROM controls k
    LEFT JOIN contracts c ON c.contract_id = k.contract_id
    LEFT JOIN suppliers s ON s.supplier_id = c.supplier_id
    LEFT JOIN departments d ON d.code = c.department
    LEFT JOIN (SELECT control_id, count(*) AS n, count(*) FILTER (WHERE status = 'open') AS n_open,
                      CASE max(CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END)
                           WHEN 3 THEN 'high' WHEN 2 THEN 'medium' WHEN 1 THEN 'low' END AS max_severity
               FROM findings GROUP BY control_id) f ON f.control_id = k.control_id
"""


def control_log(con: duckdb.DuckDBPyConnection, *, department: str | None = None, status: str | None = None,
                step: int | None = None, contract_id: str | None = None, search: str | None = None,
                year: int | None = None, overdue_only: bool = False, as_of: dt.date | None = None,
                limit: int | None = None) -> pd.DataFrame:
    """The control log, newest first, with contract, supplier and department names,
    missing documents, finding counts and an ``overdue`` flag (planned date passed,
    not carried out). ``search`` matches contract id/name and supplier name; ``year``
    matches the done date, else the planned date. With ``limit``: the newest ``limit``
    rows, each with ``matching``, the number of rows that match in all (for "showing
    5 000 of 5 963")."""
    day = as_of or dt.date.today()
    pattern = f"%{search.strip().lower()}%" if search and search.strip() else None
    sql = f"""SELECT *{', count(*) OVER () AS matching' if limit else ''} FROM ({_LOG_SELECT}) x
              WHERE (?::VARCHAR IS NULL OR department = ?)
                AND (?::VARCHAR IS NULL OR status = ?)
                AND (?::INTEGER IS NULL OR step = ?)
                AND (?::VARCHAR IS NULL OR contract_id = ?)
                AND (?::VARCHAR IS NULL OR lower(contract_id) LIKE ? OR lower(coalesce(contract_name, '')) LIKE ?
                     OR lower(coalesce(supplier_name, '')) LIKE ?)
                AND (?::INTEGER IS NULL OR year(coalesce(done_date, planned_date)) = ?)
                AND (NOT ? OR overdue)
              ORDER BY coalesce(done_date, planned_date) DESC NULLS LAST, control_id DESC
              {'LIMIT ?' if limit else ''}"""
    params = [day, department, department, status, status, step, step, contract_id, contract_id,
              pattern, pattern, pattern, pattern, year, year, overdue_only]
    if limit:
        params.append(int(limit))
    return con.execute(sql, params).df()


def get_control(con: duckdb.DuckDBPyConnection, control_id: int, *, as_of: dt.date | None = None) -> dict | None:
    """One control with the same columns as ``control_log``; None if it does not exist."""
    row = db.fetch_dict(con, f"SELECT * FROM ({_LOG_SELECT}) x WHERE control_id = ?",
               [as_of or dt.date.today(), int(control_id)])
    if row is None:
        return None
    for k in ("documents_requested", "documents_received", "documents_missing"):
        row[k] = list(row[k] or [])
    return row


def findings(con: duckdb.DuckDBPyConnection, *, control_id: int | None = None, contract_id: str | None = None,
             status: str | None = None, department: str | None = None) -> pd.DataFrame:
    """Findings (newest first) with their control's step and the contract's names."""
    return con.execute(
        """SELECT f.finding_id, f.control_id, f.contract_id, c.name AS contract_name, s.name AS supplier_name,
                  c.department, k.step, f.finding_type, f.severity, f.description, f.action, f.action_deadline,
                  f.sanction_amount, f.status, f.opened_date, f.closed_date, f.created_by, f.updated_by, f.updated_at
           FROM findings f
           LEFT JOIN controls k ON k.control_id = f.control_id
           LEFT JOIN contracts c ON c.contract_id = f.contract_id
           LEFT JOIN suppliers s ON s.supplier_id = c.supplier_id
           WHERE (?::INTEGER IS NULL OR f.control_id = ?) AND (?::VARCHAR IS NULL OR f.contract_id = ?)
             AND (?::VARCHAR IS NULL OR f.status = ?) AND (?::VARCHAR IS NULL OR c.department = ?)
           ORDER BY f.opened_date DESC, f.finding_id DESC""",
        [control_id, control_id, contract_id, contract_id, status, status, department, department]).df()


def overdue_controls(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None, *,
                     department: str | None = None) -> pd.DataFrame:
    """Controls whose planned date has passed without being carried out (oldest first),
    with ``days_overdue``."""
    day = as_of or dt.date.today()
    return con.execute(
        f"""SELECT *, date_diff('day', planned_date, ?::DATE) AS days_overdue FROM ({_LOG_SELECT}) x
            WHERE overdue AND (?::VARCHAR IS NULL OR department = ?)
            ORDER BY planned_date, control_id""", [day, day, department, department]).df()


def overdue_findings(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None, *,
                     department: str | None = None) -> pd.DataFrame:
    """Open findings whose action deadline has passed (oldest deadline first)."""
    day = as_of or dt.date.today()
    df = findings(con, status="open", department=department)
    df = df[df["action_deadline"].notna()]
    if df.empty:
        return df.assign(days_overdue=pd.Series(dtype="int64"))
    deadline = pd.to_datetime(df["action_deadline"]).dt.date
    df = df[deadline < day].copy()
    df["days_overdue"] = [(day - d).days for d in pd.to_datetime(df["action_deadline"]).dt.date]
    return df.sort_values(["action_deadline", "finding_id"]).reset_index(drop=True)


def summary(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, *,
            department: str | None = None) -> dict:
    """Counts for a period [start, end] (e.g. a quarter, for the quarterly report):
    controls carried out per step, with findings, findings opened and closed, open
    findings at ``end`` by severity, and sanctions decided, by action."""
    done = con.execute(
        """SELECT k.step, count(*) AS n, count(*) FILTER (WHERE k.outcome = 'findings') AS with_findings
           FROM controls k LEFT JOIN contracts c ON c.contract_id = k.contract_id
           WHERE k.done_date BETWEEN ? AND ? AND (?::VARCHAR IS NULL OR c.department = ?)
           GROUP BY k.step ORDER BY k.step""", [start, end, department, department]).fetchall()
    f = con.execute(
        """SELECT count(*) FILTER (WHERE f.opened_date BETWEEN ? AND ?),
                  count(*) FILTER (WHERE f.closed_date BETWEEN ? AND ?),
                  count(*) FILTER (WHERE f.opened_date <= ? AND (f.closed_date IS NULL OR f.closed_date > ?)
                                   AND f.severity = 'high'),
                  count(*) FILTER (WHERE f.opened_date <= ? AND (f.closed_date IS NULL OR f.closed_date > ?)
                                   AND f.severity = 'medium'),
                  count(*) FILTER (WHERE f.opened_date <= ? AND (f.closed_date IS NULL OR f.closed_date > ?)
                                   AND f.severity = 'low')
           FROM findings f LEFT JOIN contracts c ON c.contract_id = f.contract_id
           WHERE (?::VARCHAR IS NULL OR c.department = ?)""",
        [start, end, start, end, end, end, end, end, end, end, department, department]).fetchone()
    actions = con.execute(
        """SELECT f.action, count(*) FROM findings f LEFT JOIN contracts c ON c.contract_id = f.contract_id
           WHERE f.action IS NOT NULL AND f.opened_date BETWEEN ? AND ? AND (?::VARCHAR IS NULL OR c.department = ?)
           GROUP BY f.action""", [start, end, department, department]).fetchall()
    by_step = {s: {"done": 0, "with_findings": 0} for s in STEPS}
    for step, n, wf in done:
        by_step[int(step)] = {"done": int(n), "with_findings": int(wf)}
    return {
        "controls_done": sum(v["done"] for v in by_step.values()),
        "by_step": by_step,
        "findings_opened": int(f[0]), "findings_closed": int(f[1]),
        "open_at_end": {"high": int(f[2]), "medium": int(f[3]), "low": int(f[4])},
        "actions": {a: 0 for a in ACTIONS} | {a: int(n) for a, n in actions},
    }


def contract_choices(con: duckdb.DuckDBPyConnection, search: str | None = None, *, department: str | None = None,
                     limit: int = 200) -> pd.DataFrame:
    """Contracts to pick from when recording a control (id, name, supplier, department)."""
    pattern = f"%{search.strip().lower()}%" if search and search.strip() else None
    return con.execute(
        """SELECT c.contract_id, c.name, s.name AS supplier_name, c.department
           FROM contracts c LEFT JOIN suppliers s ON s.supplier_id = c.supplier_id
           WHERE (?::VARCHAR IS NULL OR lower(c.contract_id) LIKE ? OR lower(c.name) LIKE ?
                  OR lower(coalesce(s.name, '')) LIKE ?)
             AND (?::VARCHAR IS NULL OR c.department = ?)
           ORDER BY c.contract_id LIMIT ?""",
        [pattern, pattern, pattern, pattern, department, department, int(limit)]).df()


def label(kind: str, code) -> str:
    """Display text for a code: kind is one of step, document, finding_type, severity,
    action, status, outcome, finding_status."""
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return "–"
    return t(f"followup.{kind}.{code}")
