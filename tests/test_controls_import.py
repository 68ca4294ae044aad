"""Importing a control log kept in Excel through the import pipeline (kind "controls")."""
from __future__ import annotations

import datetime as dt

import pytest

from akrim_analytics import auth, controls, hooks, importer

ANALYST = auth.User("test.analytiker", "analytiker")
HOOK_CALLS: list = []


def _record(con, user, reason):
    HOOK_CALLS.append(reason)


@pytest.fixture(autouse=True)
def record_hook(monkeypatch):
    monkeypatch.setattr(hooks, "AFTER_DATA_CHANGE", ["test_controls_import:_record"])
    HOOK_CALLS.clear()


@pytest.fixture
def log_db(con):
    con.execute("INSERT INTO departments (code, name) VALUES ('4100', 'Eiendom')")
    con.execute("INSERT INTO suppliers (supplier_id, name) VALUES ('S1', 'Bygg AS'), ('S2', 'Renhold AS')")
    con.execute("""INSERT INTO contracts (contract_id, name, supplier_id, department) VALUES
                   ('K-1', 'Rehabilitering skole', 'S1', '4100'), ('K-2', 'Renhold', 'S2', '4100')""")
    return con


HEADER = ["Kontraktsnr", "Trinn", "Planlagt dato", "Utført dato", "Utført av", "Dokumenter etterspurt",
          "Dokumenter mottatt", "Resultat", "Status", "Type funn", "Alvorlighet", "Beskrivelse av funn",
          "Tiltak", "Frist", "Beløp", "Status funn"]


def write_log(path, rows, title=True):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Kontrollogg 2026"
    if title:
        ws.append(["Kontrollogg – lønns- og arbeidsvilkår"])
        ws.append([])
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


GOOD = [
    # Trinn 1, clean
    ["K-1", "Trinn 1", dt.date(2026, 2, 1), dt.date(2026, 2, 10), "Kari", "Egenrapport", "Egenrapport",
     "Uten funn", "Lukket", None, None, None, None, None, None, None],
    # Trinn 2 with two findings on two rows (one control)
    ["K-1", "Dokumentkontroll", dt.date(2026, 3, 1), dt.date(2026, 3, 15), "Ola",
     "Arbeidsavtaler, timelister; lønnsslipper", "Arbeidsavtaler, timelister", "Avvik", None,
     "Lønn under minstelønn", "Alvorlig", "To arbeidstakere under allmenngjort sats", "Tiltaksplan",
     dt.date(2026, 4, 15), None, "Åpent"],
    ["K-1", "Dokumentkontroll", dt.date(2026, 3, 1), dt.date(2026, 3, 15), "Ola",
     "Arbeidsavtaler, timelister; lønnsslipper", "Arbeidsavtaler, timelister", "Avvik", None,
     "Timelister mangler", "Middels", None, "Dagbøter", dt.date(2026, 5, 1), "2 500", "Lukket"],
    # Trinn 3 planned
    ["K-2", 3, dt.date(2026, 12, 1), None, None, "HMS-kortliste", None, None, "Planlagt",
     None, None, None, None, None, None, None],
]


def test_import_a_log_with_findings(log_db, tmp_path):
    con = log_db
    path = write_log(tmp_path / "kontrollogg.xlsx", GOOD)
    prepared = importer.prepare(con, path, kind="controls")
    rep = prepared.report
    assert rep["rows_rejected"] == 0, rep["rejects"]
    assert rep["mapping"]["control_step"] == "Trinn" and rep["mapping"]["contract_id"] == "Kontraktsnr"
    assert rep["details"] == {"rows": 4, "controls": 3, "findings": 2}
    result = importer.commit(con, ANALYST, prepared)
    assert result.rows == 3
    assert HOOK_CALLS  # findings feed the risk model
    log = controls.control_log(con, as_of=dt.date(2026, 11, 1)).sort_values("step")
    assert log["step"].tolist() == [1, 2, 3]
    one, two, three = (controls.get_control(con, int(c)) for c in log["control_id"])
    assert (one["status"], one["outcome"], one["performed_by"]) == ("closed", "clean", "Kari")
    assert one["documents_requested"] == ["egenrapport"] and one["documents_missing"] == []
    assert two["outcome"] == "findings" and two["status"] == "open"
    assert two["documents_requested"] == ["arbeidsavtaler", "lonnsslipper", "timelister"]
    assert two["documents_missing"] == ["lonnsslipper"]
    assert (two["findings"], two["findings_open"], two["max_severity"]) == (2, 1, "high")
    assert (three["status"], three["done_date"]) == ("planned", None)
    f = controls.findings(con, control_id=two["control_id"]).sort_values("finding_id")
    assert f["finding_type"].tolist() == ["wage", "working_time"]
    assert f["action"].tolist() == ["action_plan", "daily_fines"]
    assert f["severity"].tolist() == ["high", "medium"]
    assert float(f["sanction_amount"].iloc[1]) == 2500.0 and f["status"].tolist() == ["open", "closed"]
    assert str(f["closed_date"].iloc[1])[:10] == "2026-03-15"
    assert f["description"].iloc[0] == "To arbeidstakere under allmenngjort sats"

    # the same log again, with one new row: only the new control is imported
    more = GOOD + [["K-2", "Trinn 1", None, dt.date(2026, 6, 1), "Nina", "Egenrapport", "Egenrapport", "OK",
                    None, None, None, None, None, None, None, None]]
    prepared = importer.prepare(con, write_log(tmp_path / "kontrollogg2.xlsx", more), kind="controls")
    assert prepared.report["rows_rejected"] == 0
    assert {w["reason"] for w in prepared.report["warnings"]} == {"control_already_in_log"}
    r2 = importer.commit(con, ANALYST, prepared)
    assert r2.rows == 1
    assert len(controls.control_log(con)) == 4

    # undo removes exactly that upload's controls and findings
    importer.undo_upload(con, ANALYST, result.upload_id)
    left = controls.control_log(con)
    assert left["contract_id"].tolist() == ["K-2"] and left["step"].tolist() == [1]
    assert con.execute("SELECT count(*) FROM findings").fetchone()[0] == 0


def test_bad_rows_are_named_by_row_and_column(log_db, tmp_path):
    con = log_db
    future = dt.date.today() + dt.timedelta(days=30)
    rows = [
        ["K-9", "Trinn 1", dt.date(2026, 2, 1), None] + [None] * 12,                      # row 4: unknown contract
        ["K-1", "Trinn 5", dt.date(2026, 2, 1), None] + [None] * 12,                      # row 5: bad step
        ["K-1", "Trinn 2", None, None] + [None] * 12,                                      # row 6: no date
        ["K-1", "Trinn 2", None, future, None, None, None, "Uten funn"] + [None] * 8,      # row 7: future
        ["K-1", "Trinn 2", None, dt.date(2026, 3, 1), None, None, None, "Avvik", None,
         "Lønn", "Alvorlig", None, "Tiltaksplan", None, None, None],                       # row 8: plan, no deadline
        ["K-1", "Trinn 2", None, dt.date(2026, 3, 2), None, None, None, "Kanskje"] + [None] * 8,  # row 9: outcome
        ["K-1", "Trinn 1", dt.date(2026, 2, 1), None, None, None, None, None, "Planlagt",
         "HMS-kort", "Høy"] + [None] * 5,                                                  # row 10: finding, not done
        ["K-1", "Trinn 1", None, dt.date(2026, 4, 1), None, "Egenrapport, passkopi", None, "OK"] + [None] * 8,  # warn
    ]
    prepared = importer.prepare(con, write_log(tmp_path / "feil.xlsx", rows), kind="controls")
    rep = prepared.report
    got = {(r["row"], r["column"], r["reason"]) for r in rep["rejects"]}
    assert (4, "Kontraktsnr", "control_unknown_contract") in got
    assert (5, "Trinn", "control_step_invalid") in got
    assert (6, "Planlagt dato", "control_no_date") in got
    assert (7, "Utført dato", "control_done_in_future") in got
    assert (8, "Frist", "control_plan_needs_deadline") in got
    assert (9, "Resultat", "control_outcome_invalid") in got
    assert (10, "Type funn", "control_finding_not_done") in got
    assert rep["rows_rejected"] == 7 and rep["rows_valid"] == 1
    assert [(w["row"], w["reason"]) for w in rep["warnings"]] == [(11, "control_document_unknown")]
    # refused whole unless the analyst accepts the valid rows; nothing stored
    with pytest.raises(importer.ImportRefused) as e:
        importer.commit(con, ANALYST, prepared)
    assert "feil.xlsx" in str(e.value)
    assert con.execute("SELECT count(*) FROM controls").fetchone()[0] == 0
    res = importer.commit(con, ANALYST, prepared, accept_valid_rows=True)
    assert res.rows == 1
    assert controls.control_log(con)["documents_requested"].iloc[0].tolist() == ["egenrapport"]


def test_leder_cannot_import(log_db, tmp_path):
    path = write_log(tmp_path / "k.xlsx", GOOD)
    with pytest.raises(auth.PermissionDenied):
        importer.import_file(log_db, auth.User("l", "leder"), path, kind="controls")
    assert log_db.execute("SELECT count(*) FROM controls").fetchone()[0] == 0


@pytest.mark.parametrize("text,step", [("1", 1), ("Trinn 2", 2), ("trinn 3 – stedlig", 3), ("Egenrapportering", 1),
                                       ("Dokumentasjonsgjennomgang", 2), ("Stedlig kontroll", 3), ("Step 2", 2),
                                       ("Trinn 12", None), ("ukjent", None)])
def test_step_words(con, text, step):
    from akrim_analytics.controls_import import step_sql

    assert con.execute(f"SELECT {step_sql('$1::VARCHAR')}", [text]).fetchone()[0] == step


@pytest.mark.parametrize("text,code", [("Uten funn", "clean"), ("OK", "clean"), ("Ingen avvik", "clean"),
                                       ("Avvik", "findings"), ("Funn", "findings"), ("Ikke gjennomført", "not_done"),
                                       ("Tja", None)])
def test_outcome_words(con, text, code):
    from akrim_analytics.controls_import import outcome_sql

    assert con.execute(f"SELECT {outcome_sql('$1::VARCHAR')}", [text]).fetchone()[0] == code
