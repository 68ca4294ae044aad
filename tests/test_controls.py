"""The control log: create/edit/close controls and findings, validation with clear
messages, the edit → audit-log path (old → new values), data version, the hook in
the same transaction, and refusal for a leder."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from akrim_analytics import auth, controls, db, hooks
from akrim_analytics.controls import ControlError

ANALYST = auth.User("test.analytiker", "analytiker")
LEADER = auth.User("test.leder", "leder")
TODAY = dt.date(2026, 11, 20)
HOOK_CALLS: list = []


def _record(con, user, reason):
    a = con.execute("SELECT txid_current()").fetchone()[0]
    b = con.execute("SELECT txid_current()").fetchone()[0]
    HOOK_CALLS.append((user.username, reason, a == b))


@pytest.fixture(autouse=True)
def record_hook(monkeypatch):
    monkeypatch.setattr(hooks, "AFTER_DATA_CHANGE", ["test_controls:_record"])
    HOOK_CALLS.clear()
    return HOOK_CALLS


@pytest.fixture
def log_db(con):
    con.execute("INSERT INTO departments (code, name) VALUES ('4100', 'Eiendom'), ('2100', 'Barnehager')")
    con.execute("INSERT INTO suppliers (supplier_id, name) VALUES ('S1', 'Bygg AS'), ('S2', 'Renhold AS')")
    con.execute("""INSERT INTO contracts (contract_id, name, supplier_id, department) VALUES
                   ('K1', 'Rehabilitering skole', 'S1', '4100'), ('K2', 'Renhold barnehager', 'S2', '2100')""")
    return con


def audit_rows(con, action=None):
    rows = con.execute("SELECT action, object_type, object_id, username, details FROM audit_log "
                       "WHERE (? IS NULL OR action = ?) ORDER BY audit_id", [action, action]).fetchall()
    return [(a, t, o, u, json.loads(d) if d else None) for a, t, o, u, d in rows]


def version(con):
    return db.data_version(con)


def test_create_edit_audit_path(log_db, record_hook):
    con = log_db
    v0 = version(con)
    cid = controls.create_control(con, ANALYST, "K1", 2, planned_date="2026-10-15",
                                  documents_requested=["arbeidsavtaler", "timelister", "lonnsslipper"],
                                  performed_by="Kari Nordmann", today=TODAY)
    assert version(con) == v0 + 1
    assert record_hook == [("test.analytiker", "controls", True)]
    row = controls.get_control(con, cid, as_of=TODAY)
    assert row["status"] == "planned" and row["step"] == 2 and row["department"] == "4100"
    assert row["documents_missing"] == ["arbeidsavtaler", "timelister", "lonnsslipper"]
    assert row["overdue"] is True           # planned 15.10, not done by 20.11
    (action, otype, oid, user, details), = audit_rows(con, "control_create")
    assert (otype, oid, user) == ("control", str(cid), "test.analytiker")
    assert details["new"]["planned_date"] == "2026-10-15" and details["contract_id"] == "K1"

    # carry it out: documents arrive, done date, clean
    diff = controls.update_control(con, ANALYST, cid, {
        "done_date": dt.date(2026, 11, 2), "documents_received": ["arbeidsavtaler", "timelister", "lonnsslipper"],
        "outcome": "clean"}, today=TODAY)
    assert diff["done_date"] == {"old": None, "new": "2026-11-02"}
    assert diff["status"] == {"old": "planned", "new": "closed"}
    assert diff["documents_received"] == {"old": [], "new": ["arbeidsavtaler", "timelister", "lonnsslipper"]}
    (_, _, oid, _, details), = audit_rows(con, "control_update")
    assert oid == str(cid) and details["changes"] == diff
    row = controls.get_control(con, cid, as_of=TODAY)
    assert row["status"] == "closed" and row["documents_missing"] == [] and row["overdue"] is False
    assert row["updated_by"] == "test.analytiker"
    assert version(con) == v0 + 2 and len(record_hook) == 2

    # no change → no write, no audit entry
    assert controls.update_control(con, ANALYST, cid, {"performed_by": "Kari Nordmann"}, today=TODAY) == {}
    assert len(audit_rows(con, "control_update")) == 1 and version(con) == v0 + 2


def test_findings_actions_and_closing(log_db):
    con = log_db
    cid = controls.create_control(con, ANALYST, "K2", 2, done_date=dt.date(2026, 10, 1), status="open",
                                  documents_requested=["timelister", "lonnsslipper"],
                                  documents_received=["timelister"], today=TODAY)
    assert controls.get_control(con, cid)["documents_missing"] == ["lonnsslipper"]
    f1 = controls.add_finding(con, ANALYST, cid, "wage", "high", description="Lønn under allmenngjort minstelønn",
                              action="action_plan", action_deadline=dt.date(2026, 11, 1), today=TODAY)
    f2 = controls.add_finding(con, ANALYST, cid, "working_time", "medium", action="daily_fines",
                              sanction_amount="5 000", action_deadline=dt.date(2026, 12, 31), today=TODAY)
    row = controls.get_control(con, cid)
    assert row["outcome"] == "findings" and row["status"] == "open"
    assert (row["findings"], row["findings_open"], row["max_severity"]) == (2, 2, "high")
    create = audit_rows(con, "finding_create")
    assert create[0][4]["control_changes"] == {"outcome": {"old": None, "new": "findings"}}
    assert create[1][4]["new"]["sanction_amount"] == 5000.0

    # the control cannot be closed while findings are open
    with pytest.raises(ControlError) as e:
        controls.close_control(con, ANALYST, cid, today=TODAY)
    assert e.value.field == "status" and "2 åpne funn" in str(e.value)

    # overdue action
    od = controls.overdue_findings(con, TODAY)
    assert od["finding_id"].tolist() == [f1] and od["days_overdue"].tolist() == [19]

    controls.close_finding(con, ANALYST, f1, closed_date=dt.date(2026, 11, 10), today=TODAY)
    controls.close_finding(con, ANALYST, f2, today=TODAY)
    f = controls.findings(con, control_id=cid).set_index("finding_id")
    assert f.loc[f1, "status"] == "closed" and str(f.loc[f2, "closed_date"])[:10] == str(TODAY)
    diff = controls.close_control(con, ANALYST, cid, today=TODAY)
    assert diff["status"] == {"old": "open", "new": "closed"}
    assert controls.get_control(con, cid)["outcome"] == "findings"

    # reopening a finding reopens the control, and says so in the audit entry
    controls.reopen_finding(con, ANALYST, f2, today=TODAY)
    assert controls.get_control(con, cid)["status"] == "open"
    last = audit_rows(con, "finding_update")[-1][4]
    assert last["changes"]["status"] == {"old": "closed", "new": "open"}
    assert last["control_changes"] == {"status": {"old": "closed", "new": "open"}}

    s = controls.summary(con, dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert s["controls_done"] == 1 and s["by_step"][2] == {"done": 1, "with_findings": 1}
    assert s["findings_opened"] == 2 and s["open_at_end"]["medium"] == 1
    assert s["actions"]["action_plan"] == 1 and s["actions"]["daily_fines"] == 1
    assert controls.summary(con, dt.date(2026, 10, 1), dt.date(2026, 12, 31), department="4100")["controls_done"] == 0


@pytest.mark.parametrize("kwargs,field,words", [
    ({"contract_id": "NOPE", "step": 1, "planned_date": "2026-10-01"}, "contract_id", "NOPE"),
    ({"contract_id": "K1", "step": 4, "planned_date": "2026-10-01"}, "step", "Trinn"),
    ({"contract_id": "K1", "step": 1}, "planned_date", "planlagt dato eller utført dato"),
    ({"contract_id": "K1", "step": 1, "done_date": "2026-12-24", "outcome": "clean"}, "done_date", "24.12.2026"),
    ({"contract_id": "K1", "step": 1, "planned_date": "31.13.2026"}, "planned_date", "31.13.2026"),
    ({"contract_id": "K1", "step": 2, "planned_date": "2026-10-01", "documents_requested": ["passport"]},
     "documents_requested", "passport"),
    ({"contract_id": "K1", "step": 1, "planned_date": "2026-10-01", "outcome": "clean"}, "done_date",
     "utført dato"),
    ({"contract_id": "K1", "step": 1, "done_date": "2026-10-01", "status": "planned"}, "status", "Planlagt"),
    ({"contract_id": "K1", "step": 1, "done_date": "2026-10-01", "status": "closed"}, "outcome", "resultat"),
])
def test_bad_control_input_names_the_field(log_db, kwargs, field, words):
    before = version(log_db)
    with pytest.raises(ControlError) as e:
        kw = dict(kwargs)
        controls.create_control(log_db, ANALYST, kw.pop("contract_id"), kw.pop("step"), today=TODAY, **kw)
    assert e.value.field == field
    assert words in str(e.value)
    assert log_db.execute("SELECT count(*) FROM controls").fetchone()[0] == 0
    assert version(log_db) == before and audit_rows(log_db) == []


@pytest.mark.parametrize("kwargs,field", [
    ({"action": "action_plan"}, "action_deadline"),
    ({"action": "correction", "sanction_amount": 100}, "sanction_amount"),
    ({"action": "daily_fines", "sanction_amount": -1}, "sanction_amount"),
    ({"action": "daily_fines", "sanction_amount": "mye"}, "sanction_amount"),
    ({"action": "kneecap"}, "action"),
    ({"status": "closed", "closed_date": "2026-09-01", "opened_date": "2026-10-01"}, "closed_date"),
])
def test_bad_finding_input(log_db, kwargs, field):
    cid = controls.create_control(log_db, ANALYST, "K1", 2, done_date="2026-10-01", status="open", today=TODAY)
    with pytest.raises(ControlError) as e:
        controls.add_finding(log_db, ANALYST, cid, "wage", "high", today=TODAY, **kwargs)
    assert e.value.field == field
    assert log_db.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
    assert controls.get_control(log_db, cid)["outcome"] is None


def test_no_findings_on_a_planned_control_and_no_clean_with_open_findings(log_db):
    cid = controls.create_control(log_db, ANALYST, "K1", 3, planned_date="2026-12-01", today=TODAY)
    with pytest.raises(ControlError) as e:
        controls.add_finding(log_db, ANALYST, cid, "hms_card", "high", today=TODAY)
    assert e.value.field == "control_id"
    controls.update_control(log_db, ANALYST, cid, {"status": "open", "done_date": "2026-11-15"}, today=TODAY)
    controls.add_finding(log_db, ANALYST, cid, "hms_card", "high", today=TODAY)
    with pytest.raises(ControlError) as e:
        controls.update_control(log_db, ANALYST, cid, {"outcome": "clean"}, today=TODAY)
    assert e.value.field == "outcome"


def test_english_messages(log_db):
    from akrim_analytics import i18n

    i18n.set_language("en")
    try:
        with pytest.raises(ControlError) as e:
            controls.create_control(log_db, ANALYST, "K1", 1, done_date="2099-01-01", today=TODAY)
        assert "in the future" in str(e.value)
    finally:
        i18n.set_language("nb")


def test_delete_keeps_the_record_in_the_audit_log(log_db):
    con = log_db
    cid = controls.create_control(con, ANALYST, "K1", 2, done_date="2026-10-01", status="open", note="Feilført",
                                  today=TODAY)
    fid = controls.add_finding(con, ANALYST, cid, "chain", "low", action="correction", today=TODAY)
    controls.delete_control(con, ANALYST, cid)
    assert con.execute("SELECT count(*) FROM controls").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
    (_, _, oid, _, details), = audit_rows(con, "control_delete")
    assert oid == str(cid) and details["old"]["note"] == "Feilført"
    assert [f["finding_id"] for f in details["findings"]] == [fid]


def test_a_failing_listener_rolls_the_write_back(log_db, monkeypatch):
    """The hook runs in the writer's transaction: if re-scoring fails, nothing is stored."""
    monkeypatch.setattr(hooks, "AFTER_DATA_CHANGE", ["test_controls:_explode"])
    v = version(log_db)
    with pytest.raises(RuntimeError):
        controls.create_control(log_db, ANALYST, "K1", 1, planned_date="2026-12-01", today=TODAY)
    assert log_db.execute("SELECT count(*) FROM controls").fetchone()[0] == 0
    assert audit_rows(log_db) == [] and version(log_db) == v


def _explode(con, user, reason):
    raise RuntimeError("re-scoring failed")


WRITES = [
    lambda con, u, cid, fid: controls.create_control(con, u, "K1", 1, planned_date="2026-12-01", today=TODAY),
    lambda con, u, cid, fid: controls.update_control(con, u, cid, {"note": "x"}, today=TODAY),
    lambda con, u, cid, fid: controls.close_control(con, u, cid, today=TODAY),
    lambda con, u, cid, fid: controls.delete_control(con, u, cid),
    lambda con, u, cid, fid: controls.add_finding(con, u, cid, "wage", "low", today=TODAY),
    lambda con, u, cid, fid: controls.update_finding(con, u, fid, {"severity": "high"}, today=TODAY),
    lambda con, u, cid, fid: controls.close_finding(con, u, fid, today=TODAY),
    lambda con, u, cid, fid: controls.reopen_finding(con, u, fid, today=TODAY),
    lambda con, u, cid, fid: controls.delete_finding(con, u, fid),
]


@pytest.mark.parametrize("write", range(len(WRITES)))
def test_leder_is_refused_every_write(log_db, write):
    con = log_db
    cid = controls.create_control(con, ANALYST, "K1", 2, done_date="2026-10-01", status="open", today=TODAY)
    fid = controls.add_finding(con, ANALYST, cid, "wage", "medium", today=TODAY)
    snapshot = (con.execute("SELECT * FROM controls").fetchall(), con.execute("SELECT * FROM findings").fetchall(),
                con.execute("SELECT count(*) FROM audit_log").fetchone()[0], version(con))
    with pytest.raises(auth.PermissionDenied):
        WRITES[write](con, LEADER, cid, fid)
    assert snapshot == (con.execute("SELECT * FROM controls").fetchall(),
                        con.execute("SELECT * FROM findings").fetchall(),
                        con.execute("SELECT count(*) FROM audit_log").fetchone()[0], version(con))
    # an analyst passes the role check (closing needs the finding closed first)
    try:
        WRITES[write](con, ANALYST, cid, fid)
    except ControlError as e:
        assert e.key == "followup.err.closed_open_findings"


def test_log_filters_and_overdue(log_db):
    con = log_db
    a = controls.create_control(con, ANALYST, "K1", 1, planned_date="2026-09-01", today=TODAY)
    b = controls.create_control(con, ANALYST, "K2", 2, done_date="2026-10-10", outcome="clean", today=TODAY)
    c = controls.create_control(con, ANALYST, "K2", 1, planned_date="2027-01-15", today=TODAY)
    log = controls.control_log(con, as_of=TODAY)
    assert log["control_id"].tolist() == [c, b, a]     # newest date first
    assert controls.control_log(con, department="2100", as_of=TODAY)["control_id"].tolist() == [c, b]
    assert controls.control_log(con, status="closed", as_of=TODAY)["control_id"].tolist() == [b]
    assert controls.control_log(con, step=2, as_of=TODAY)["control_id"].tolist() == [b]
    assert controls.control_log(con, search="renhold", as_of=TODAY)["control_id"].tolist() == [c, b]
    assert controls.control_log(con, search="bygg as", as_of=TODAY)["control_id"].tolist() == [a]
    assert controls.control_log(con, year=2027, as_of=TODAY)["control_id"].tolist() == [c]
    assert controls.control_log(con, overdue_only=True, as_of=TODAY)["control_id"].tolist() == [a]
    newest = controls.control_log(con, as_of=TODAY, limit=2)     # the newest two, and how many match in all
    assert newest["control_id"].tolist() == [c, b] and newest["matching"].tolist() == [3, 3]
    assert controls.control_log(con, department="2100", as_of=TODAY, limit=5)["matching"].tolist() == [2, 2]
    od = controls.overdue_controls(con, TODAY)
    assert od["control_id"].tolist() == [a] and od["days_overdue"].tolist() == [80]
    ch = controls.contract_choices(con, "skole")
    assert ch["contract_id"].tolist() == ["K1"]
    assert controls.label("step", 2).startswith("Trinn 2") and controls.label("action", None) == "–"


def test_every_followup_text_exists_in_both_languages():
    """Static keys used by the follow-up code and pages, and every code's label."""
    import re

    from akrim_analytics import i18n, plan
    from conftest import REPO

    strings = i18n.strings()
    files = ["akrim_analytics/controls.py", "akrim_analytics/plan.py", "akrim_analytics/controls_import.py",
             "pages/kontrollogg.py", "pages/oppfolging.py"]
    keys = set()
    for f in files:
        keys |= set(re.findall(r"""t\(\s*["']((?:followup|nav|import)\.[a-z_0-9.]+)["']""", (REPO / f).read_text()))
    keys |= {f"followup.step.{s}" for s in controls.STEPS} | {f"followup.step_short.{s}" for s in controls.STEPS}
    for kind, codes in (("document", controls.DOCUMENTS), ("finding_type", controls.FINDING_TYPES),
                        ("severity", controls.SEVERITIES), ("action", controls.ACTIONS),
                        ("status", controls.CONTROL_STATUSES), ("outcome", controls.OUTCOMES),
                        ("finding_status", controls.FINDING_STATUSES), ("level", plan.LEVELS),
                        ("field", controls.CONTROL_FIELDS + controls.FINDING_FIELDS)):
        keys |= {f"followup.{kind}.{c}" for c in codes}
    for code in ("level", "level_nomatrix", "value", "department_minimum", "step1_first", "step1_done", "partial",
                 "open_findings"):
        keys.add(f"followup.plan.reason.{code}")
    for code in ("capacity", "skipped_clean", "already_done"):
        keys.add(f"followup.plan.nc.{code}")
    for code in ("min_capped", "nothing_to_plan", "capacity_below_step", "all_covered"):
        keys.add(f"followup.plan.note.{code}")
    for c in ("capacity", "effort", "weights", "department_minimum", "no_risk_run", "no_contracts"):
        keys.add(f"followup.page.constraint.{c}")
    from akrim_analytics.controls_import import CHECKS, FIELDS

    keys |= {f"import.reason.{c.reason}" for c in CHECKS} | {f"import.field.{f.name}" for f in FIELDS}
    keys.add("import.kind.controls")
    assert len(keys) > 150
    missing = sorted(k for k in keys if k not in strings or not strings[k].get("nb") or not strings[k].get("en"))
    assert not missing, missing
