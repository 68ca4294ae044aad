"""Keeping the contract register up to date in the app (akrim_analytics.contracts):
create / edit / end with audit entries (old → new), validation naming the field,
refusal for a leder with the database untouched, spend re-linked after a date
change, risk re-scored after an edit; and the forms on the Kontrakter page (AppTest)."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from streamlit.testing.v1 import AppTest

from akrim_analytics import auth, backup, contracts, db, i18n
from akrim_analytics.contracts import ContractError
from akrim_analytics.i18n import t

import risk_data as rd
from conftest import REPO, md_plain

ANALYST = auth.User("ana", "analytiker")
LEADER = auth.User("lea", "leder")
ADMIN = auth.User("adm", "admin")
D = dt.date
ORGNR = "923609016"        # a valid (MOD11) organisation number
NEW_ORGNR = "974760673"    # valid, not registered in the fixture


@pytest.fixture
def reg(con):
    """Two departments, a registered supplier with invoices in 2025 and 2027, no contract yet."""
    con.execute("INSERT INTO departments (code, name) VALUES ('4100', 'Eiendom'), ('2100', 'Barnehager')")
    rd.supplier(con, ORGNR, name="Bygg og Betong AS", nace_code="41.000")
    rd.supplier(con, "L:77", orgnr="914778271", name="Renhold AS", nace_code="81.210")
    for day, amount in ((D(2025, 3, 10), 100_000), (D(2025, 11, 5), 50_000), (D(2027, 2, 1), 30_000)):
        rd.spend(con, ORGNR, amount, day, category="BYGG", department="4100")
    return con


def base(**kw) -> dict:
    f = {"contract_id": "K-TEST-1", "name": "Rehabilitering Bekkestua skole", "supplier_id": ORGNR,
         "category": "BYGG", "department": "4100", "responsible": "Kari Nordmann", "start_date": D(2025, 1, 1),
         "end_date": D(2025, 12, 31), "estimated_value": 2_500_000, "cpv": "45000000-7",
         "labour_intensive": True, "subcontractor_levels": 1, "foreign_workers": False, "own_sites": True,
         "workers": 12, "wage_clause": True, "seriousness_clause": True}
    f.update(kw)
    return f


def audit_rows(con, action):
    rows = con.execute("SELECT object_id, username, details FROM audit_log WHERE action = ? ORDER BY audit_id",
                       [action]).fetchall()
    return [(o, u, json.loads(d) if d else None) for o, u, d in rows]


def linked(con) -> dict:
    return dict(con.execute("SELECT posting_date, contract_id FROM spend ORDER BY 1").fetchall())


def runs(con) -> int:
    return con.execute("SELECT count(*) FROM risk_runs").fetchone()[0]


# ----------------------------------------------------------------------------- create / update / end

def test_create_stores_audits_links_and_rescores(reg):
    con = reg
    v0, r0 = db.data_version(con), runs(con)
    cid = contracts.create_contract(con, ANALYST, base())
    assert cid == "K-TEST-1"
    row = contracts.contract_values(con, cid)
    assert row["cpv"] == "45000000"                          # check digit stripped
    assert row["estimated_value"] == 2_500_000 and row["subcontractor_levels"] == 1
    assert con.execute("SELECT updated_by FROM contracts").fetchone()[0] == "ana"
    assert db.data_version(con) > v0
    assert linked(con) == {D(2025, 3, 10): cid, D(2025, 11, 5): cid, D(2027, 2, 1): None}
    ((oid, user, details),) = audit_rows(con, "contract_create")
    assert (oid, user) == (cid, "ana")
    assert details["new"]["cpv"] == "45000000" and details["new"]["start_date"] == "2025-01-01"
    assert runs(con) == r0 + 1                                # the hook re-scored risk
    assert con.execute("SELECT count(*) FROM risk_assessments WHERE entity_type = 'contract' AND entity_id = ? "
                       "AND run_id = (SELECT max(run_id) FROM risk_runs)", [cid]).fetchone()[0] == 1


def test_update_audits_old_and_new_and_relinks_after_date_change(reg):
    con = reg
    cid = contracts.create_contract(con, ANALYST, base())
    v = db.data_version(con)
    diff = contracts.update_contract(con, ANALYST, cid, {"end_date": "31.12.2027", "responsible": "Ola Hansen"})
    assert diff == {"end_date": {"old": "2025-12-31", "new": "2027-12-31"},
                    "responsible": {"old": "Kari Nordmann", "new": "Ola Hansen"}}
    assert db.data_version(con) > v
    assert linked(con)[D(2027, 2, 1)] == cid                  # now inside the contract period
    (_, _, details), = audit_rows(con, "contract_update")
    assert details["changes"] == diff

    contracts.update_contract(con, ANALYST, cid, {"start_date": D(2025, 6, 1)})
    assert linked(con) == {D(2025, 3, 10): None, D(2025, 11, 5): cid, D(2027, 2, 1): cid}

    # Nothing changed: no write, no audit entry, no version bump.
    v = db.data_version(con)
    assert contracts.update_contract(con, ANALYST, cid, {"responsible": "Ola Hansen", "cpv": "45000000"}) == {}
    assert db.data_version(con) == v and len(audit_rows(con, "contract_update")) == 2


def test_change_of_supplier_relinks_both_suppliers(reg):
    con = reg
    rd.spend(con, "L:77", 9_000, D(2025, 5, 5), category="BYGG", department="4100")
    cid = contracts.create_contract(con, ANALYST, base())
    assert con.execute("SELECT count(*) FROM spend WHERE contract_id = ?", [cid]).fetchone()[0] == 2
    # The other supplier, given by its org number (its supplier_id is an ERP key).
    diff = contracts.update_contract(con, ANALYST, cid, {"supplier_id": "914 778 271"})
    assert diff["supplier_id"] == {"old": ORGNR, "new": "L:77"}
    assert con.execute("SELECT supplier_id FROM spend WHERE contract_id = ?", [cid]).fetchall() == [("L:77",)]


def test_end_contract_unlinks_later_spend_and_keeps_the_reason(reg):
    con = reg
    cid = contracts.create_contract(con, ANALYST, base(end_date=D(2027, 12, 31)))
    assert linked(con)[D(2027, 2, 1)] == cid
    diff = contracts.end_contract(con, ANALYST, cid, D(2026, 6, 30), "Hevet etter funn ved stedlig kontroll")
    assert diff == {"end_date": {"old": "2027-12-31", "new": "2026-06-30"}}
    assert linked(con)[D(2027, 2, 1)] is None and linked(con)[D(2025, 3, 10)] == cid
    (oid, user, details), = audit_rows(con, "contract_end")
    assert (oid, user, details["reason"]) == (cid, "ana", "Hevet etter funn ved stedlig kontroll")
    assert details["changes"] == diff
    with pytest.raises(ContractError) as e:
        contracts.end_contract(con, ANALYST, cid, D(2026, 12, 31), "forlenget")
    assert e.value.field == "end_date" and "30.06.2026" in str(e.value)
    with pytest.raises(ContractError) as e:
        contracts.end_contract(con, ANALYST, cid, D(2024, 12, 31), "feil")
    assert e.value.field == "end_date"
    with pytest.raises(ContractError) as e:
        contracts.end_contract(con, ANALYST, cid, D(2026, 1, 31), "  ")
    assert e.value.field == "reason" and "Begrunnelse" in str(e.value)


def test_next_id_when_none_is_given(reg):
    con = reg
    con.execute("INSERT INTO contracts (contract_id, name) VALUES ('K-2021-0041', 'a'), ('X-9', 'b')")
    cid = contracts.create_contract(con, ANALYST, base(contract_id=None, start_date=D(2026, 2, 1),
                                                       end_date=None))
    assert cid == "K-2026-0042"
    with pytest.raises(ContractError) as e:
        contracts.create_contract(con, ANALYST, base(contract_id="K-2026-0042"))
    assert e.value.field == "contract_id" and "K-2026-0042" in str(e.value)


# ----------------------------------------------------------------------------- validation

BAD = [
    ({"name": "  "}, "name", "Kontraktsnavn"),
    ({"start_date": D(2025, 6, 1), "end_date": D(2025, 5, 31)}, "end_date", "31.05.2025"),
    ({"end_date": "31/12/2025"}, "end_date", "Sluttdato"),
    ({"estimated_value": -1}, "estimated_value", "negativ"),
    ({"estimated_value": "mye"}, "estimated_value", "Estimert verdi"),
    ({"cpv": "4500000"}, "cpv", "8 siffer"),
    ({"cpv": "45000000-77"}, "cpv", "CPV-kode"),
    ({"supplier_id": "Ukjent AS"}, "supplier_id", "Ukjent AS"),
    ({"supplier_id": "123456789"}, "supplier_id", "123456789"),          # fails MOD11
    ({"supplier_id": NEW_ORGNR}, "supplier_name", NEW_ORGNR),            # valid but unregistered, no name
    ({"supplier_id": None}, "supplier_id", "Leverandør"),
    ({"category": "Romfart"}, "category", "Romfart"),
    ({"department": "9999"}, "department", "9999"),
    ({"subcontractor_levels": -1}, "subcontractor_levels", "Ledd"),
    ({"subcontractor_levels": 1.5}, "subcontractor_levels", "helt tall"),
    ({"workers": "mange"}, "workers", "Antall arbeidere"),
    ({"wage_clause": "kanskje"}, "wage_clause", "kanskje"),
    ({"colour": "red"}, "colour", "colour"),
]


@pytest.mark.parametrize("change,field,text", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_validation_names_the_field_and_stores_nothing(reg, change, field, text):
    con = reg
    before = backup.fingerprint(con)["tables"]
    with pytest.raises(ContractError) as e:
        contracts.create_contract(con, ANALYST, base(**change))
    assert e.value.field == field
    assert text in str(e.value), str(e.value)
    assert backup.fingerprint(con)["tables"] == before
    # The same on an existing contract.
    cid = contracts.create_contract(con, ANALYST, base())
    before = backup.fingerprint(con)["tables"]
    change.pop("contract_id", None)
    with pytest.raises(ContractError) as e:
        contracts.update_contract(con, ANALYST, cid, change)
    assert e.value.field == field
    assert backup.fingerprint(con)["tables"] == before


def test_messages_in_english(reg):
    i18n.set_language("en")
    try:
        with pytest.raises(ContractError) as e:
            contracts.create_contract(reg, ANALYST, base(cpv="abc"))
        assert str(e.value).startswith("CPV code:")
    finally:
        i18n.set_language("nb")


def test_lenient_inputs_are_accepted(reg):
    cid = contracts.create_contract(reg, ANALYST, base(
        estimated_value="1 250 000,50", cpv=" 45 000000 ", wage_clause="ja", foreign_workers="nei",
        own_sites=None, workers="", category="bygg, anlegg og infrastruktur", start_date="2025-01-01",
        end_date="31.12.2025"))
    row = contracts.contract_values(reg, cid)
    assert float(row["estimated_value"]) == 1_250_000.50 and row["cpv"] == "45000000"
    assert (row["wage_clause"], row["foreign_workers"], row["own_sites"], row["workers"]) == (True, False, None, None)
    assert row["category"] == "BYGG" and row["end_date"] == D(2025, 12, 31)


def test_new_supplier_by_orgnr_registered_in_the_same_write(reg):
    con = reg
    cid = contracts.create_contract(con, ANALYST, base(supplier_id=f"NO {NEW_ORGNR} MVA",
                                                       supplier_name="Nytt Renhold AS"))
    assert con.execute("SELECT supplier_id, orgnr, name FROM suppliers WHERE supplier_id = ?",
                       [NEW_ORGNR]).fetchone() == (NEW_ORGNR, NEW_ORGNR, "Nytt Renhold AS")
    assert contracts.contract_values(con, cid)["supplier_id"] == NEW_ORGNR
    (oid, _, details), = audit_rows(con, "supplier_create")
    assert oid == NEW_ORGNR and details["contract_id"] == cid


def test_create_supplier_helper(reg):
    con = reg
    with pytest.raises(ContractError) as e:
        contracts.create_supplier(con, ANALYST, "123 456 789", "X AS")
    assert e.value.field == "orgnr" and "123 456 789" in str(e.value)
    with pytest.raises(ContractError) as e:
        contracts.create_supplier(con, ANALYST, ORGNR, "Dobbel AS")
    assert e.value.field == "orgnr"
    with pytest.raises(auth.PermissionDenied):
        contracts.create_supplier(con, LEADER, NEW_ORGNR, "Ny AS")
    assert contracts.create_supplier(con, ANALYST, NEW_ORGNR, " Ny AS ") == NEW_ORGNR
    assert con.execute("SELECT name FROM suppliers WHERE orgnr = ?", [NEW_ORGNR]).fetchone()[0] == "Ny AS"


# ----------------------------------------------------------------------------- roles

def test_leder_is_refused_and_nothing_changes(reg):
    con = reg
    cid = contracts.create_contract(con, ANALYST, base())
    before = backup.fingerprint(con)["tables"]
    for call in (lambda: contracts.create_contract(con, LEADER, base(contract_id="K-2")),
                 lambda: contracts.update_contract(con, LEADER, cid, {"subcontractor_levels": 4}),
                 lambda: contracts.end_contract(con, LEADER, cid, D(2025, 6, 30), "slutt"),
                 lambda: contracts.delete_contract(con, LEADER, cid),
                 lambda: contracts.delete_contract(con, ANALYST, cid)):
        with pytest.raises(auth.PermissionDenied):
            call()
    assert backup.fingerprint(con)["tables"] == before


def test_delete_only_an_unused_contract(reg):
    con = reg
    cid = contracts.create_contract(con, ANALYST, base())                      # has linked spend
    with pytest.raises(ContractError) as e:
        contracts.delete_contract(con, ADMIN, cid)
    assert "Avslutt" in str(e.value)
    spare = contracts.create_contract(con, ANALYST, base(contract_id="K-SPARE", start_date=D(2030, 1, 1),
                                                         end_date=None))
    contracts.delete_contract(con, ADMIN, spare)
    assert contracts.contract_values(con, spare) is None
    (oid, user, details), = audit_rows(con, "contract_delete")
    assert (oid, user, details["old"]["name"]) == ("K-SPARE", "adm", "Rehabilitering Bekkestua skole")


# ----------------------------------------------------------------------------- risk

def test_edit_rescores_risk(con):
    """More subcontractor levels than Norgesmodellen's two → a new run whose
    subcontractor factor for the contract changes."""
    rd.supplier(con, "S1", nace_code="41.000")
    rd.contract(con, "K1", "S1", category="BYGG", subcontractor_levels=0)
    rd.spend(con, "S1", 800_000, D(2026, 5, 1), "K1", category="BYGG")
    rd.score(con)
    run0 = con.execute("SELECT max(run_id) FROM risk_runs").fetchone()[0]
    assert rd.lines(con, "contract", "K1", "subcontractors", run0) == []     # no chain: no points
    contracts.update_contract(con, ANALYST, "K1", {"subcontractor_levels": 4})
    run1 = con.execute("SELECT max(run_id) FROM risk_runs").fetchone()[0]
    assert run1 > run0
    after = rd.one(con, "contract", "K1", "subcontractors", run1)
    assert after[2] > 0 and "4" in after[3], after
    level0, level1 = (con.execute("SELECT likelihood FROM risk_assessments WHERE run_id = ? AND entity_id = 'K1'",
                                  [r]).fetchone()[0] for r in (run0, run1))
    assert level1 > level0


# ----------------------------------------------------------------------------- the page (AppTest)

@pytest.fixture
def page_db(tmp_path):
    """A small database marked as the demo (no login), with one contract."""
    path = tmp_path / "small.duckdb"
    c = db.connect(path)
    c.execute("INSERT INTO departments (code, name) VALUES ('4100', 'Eiendom')")
    rd.supplier(c, ORGNR, name="Bygg og Betong AS", nace_code="41.000")
    rd.contract(c, "K-2025-0001", ORGNR, name="Rehabilitering skole", category="BYGG", department="4100",
                start_date=D(2025, 1, 1), end_date=D(2025, 12, 31), subcontractor_levels=1)
    rd.spend(c, ORGNR, 100_000, D(2025, 3, 10), category="BYGG", department="4100")
    rd.spend(c, ORGNR, 40_000, D(2026, 3, 10), category="BYGG", department="4100")
    from akrim_analytics import linking
    linking.link_contracts(c)
    db.set_meta(c, "demo", "true")
    c.close()
    return path


def open_app(monkeypatch, path, user, query: dict) -> AppTest:
    monkeypatch.setenv("AKRIM_DB", str(path))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["user"] = user
    at.switch_page("pages/kontrakter.py")
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def facts(at) -> dict:
    for df in at.dataframe:
        v = df.value
        if t("views.facts.field") in v.columns and t("views.facts.value") in v.columns:
            return dict(zip(v[t("views.facts.field")], v[t("views.facts.value")]))
    raise AssertionError("no facts table")


def read(path, sql, params=()):
    """Query the file the app has open (same process: DuckDB shares the instance)."""
    c = db.connect(path)
    try:
        return c.execute(sql, list(params)).fetchall()
    finally:
        c.close()


def test_edit_form_saves_and_the_page_shows_the_new_values(page_db, monkeypatch):
    at = open_app(monkeypatch, page_db, ANALYST, {"kontrakt": "K-2025-0001"})
    assert at.number_input(key="ct_edit_subcontractor_levels").value == 1
    at.number_input(key="ct_edit_subcontractor_levels").set_value(4)
    at.date_input(key="ct_edit_end_date").set_value(D(2026, 12, 31))
    at.button(key="ct_edit_submit").click().run()
    assert not at.exception, at.exception
    assert any("2 felt endret" in s.value for s in at.success), [s.value for s in at.success]
    assert not at.error
    shown = facts(at)
    assert shown[t("views.facts.subcontractor_levels")] == "4"
    assert shown[t("views.col.period")].endswith("31.12.2026")
    assert read(page_db, "SELECT subcontractor_levels, end_date, updated_by FROM contracts") == \
        [(4, D(2026, 12, 31), "ana")]
    # The 2026 invoice is now on the contract (re-linked), and the edit is in the audit log.
    assert read(page_db, "SELECT count(*) FROM spend WHERE contract_id = 'K-2025-0001'") == [(2,)]
    assert read(page_db, "SELECT count(*) FROM audit_log WHERE action = 'contract_update'") == [(1,)]


def test_estimated_value_is_shown_and_typed_the_norwegian_way(page_db, monkeypatch):
    """A number field would show 2500000.00; the amount field shows 2 500 000 and reads
    what an analyst types (spaces, decimal comma, kr); a typo names the field."""
    from akrim_analytics import fmt

    [(stored,)] = read(page_db, "SELECT estimated_value FROM contracts WHERE contract_id = 'K-2025-0001'")
    at = open_app(monkeypatch, page_db, ANALYST, {"kontrakt": "K-2025-0001"})
    field = at.text_input(key="ct_edit_estimated_value")
    assert field.value == fmt.amount_text(stored) and "." not in field.value
    field.input("3 750 000,50 kr")
    at.button(key="ct_edit_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert read(page_db, "SELECT estimated_value FROM contracts WHERE contract_id = 'K-2025-0001'") == \
        [(Decimal("3750000.50"),)]
    assert at.text_input(key="ct_edit_estimated_value").value == "3 750 000,50"
    before = read(page_db, "SELECT * FROM contracts")
    at.text_input(key="ct_edit_estimated_value").input("3 750 000,5,0")
    at.button(key="ct_edit_submit").click().run()
    assert not at.exception
    assert any("Estimert verdi" in e.value and "3 750 000,5,0" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert read(page_db, "SELECT * FROM contracts") == before


def test_edit_form_shows_a_validation_error_and_stores_nothing(page_db, monkeypatch):
    at = open_app(monkeypatch, page_db, ANALYST, {"kontrakt": "K-2025-0001"})
    before = read(page_db, "SELECT * FROM contracts")
    at.text_input(key="ct_edit_cpv").input("4500")
    at.number_input(key="ct_edit_subcontractor_levels").set_value(3)
    at.button(key="ct_edit_submit").click().run()
    assert not at.exception, at.exception
    assert any("CPV-kode" in e.value and "4500" in e.value for e in at.error), [e.value for e in at.error]
    assert read(page_db, "SELECT * FROM contracts") == before
    assert read(page_db, "SELECT count(*) FROM audit_log WHERE action LIKE 'contract%'") == [(0,)]


def test_end_form(page_db, monkeypatch):
    at = open_app(monkeypatch, page_db, ANALYST, {"kontrakt": "K-2025-0001"})
    at.date_input(key="ct_end_date").set_value(D(2025, 6, 30))
    at.text_input(key="ct_end_reason").input("Hevet")
    at.button(key="ct_end_submit").click().run()
    assert not at.exception, at.exception
    assert any("30.06.2025" in s.value for s in at.success)
    assert read(page_db, "SELECT end_date FROM contracts") == [(D(2025, 6, 30),)]


def test_leder_sees_no_form(page_db, monkeypatch):
    at = open_app(monkeypatch, page_db, LEADER, {"kontrakt": "K-2025-0001"})
    assert facts(at)                                       # the page itself shows
    assert not [b for b in at.button if b.key and b.key.startswith("ct_")]
    assert "Rediger kontrakt" not in [e.label for e in at.expander]
    at = open_app(monkeypatch, page_db, LEADER, {})
    assert "Ny kontrakt" not in [e.label for e in at.expander]
    assert not [b for b in at.button if b.key and b.key.startswith("ct_")]


def test_new_contract_form_on_the_list(page_db, monkeypatch):
    at = open_app(monkeypatch, page_db, ANALYST, {})
    at.text_input(key="ct_new_name").input("Vaktmestertjenester")
    at.text_input(key="ct_new_supplier_id").input(NEW_ORGNR)
    at.button(key="ct_new_submit").click().run()
    assert not at.exception, at.exception
    assert any("Navn på ny leverandør" in e.value for e in at.error)      # unregistered org no., no name
    assert read(page_db, "SELECT count(*) FROM contracts") == [(1,)]
    at.text_input(key="ct_new_supplier_name").input("Vaktmester AS")
    at.date_input(key="ct_new_start_date").set_value(D(2026, 1, 1))
    at.button(key="ct_new_submit").click().run()
    assert not at.exception, at.exception
    assert at.query_params.get("kontrakt") in ("K-2026-0002", ["K-2026-0002"])
    assert any("K-2026-0002" in md_plain(s.value) for s in at.success)
    assert read(page_db, "SELECT name, supplier_id FROM contracts WHERE contract_id = 'K-2026-0002'") == \
        [("Vaktmestertjenester", NEW_ORGNR)]


# ----------------------------------------------------------------------------- in a browser

@pytest.mark.browser
def test_edit_form_in_a_browser(streamlit_server, page, demo_con):
    """The form opens on a real contract page; a bad CPV code shows the message, no
    traceback. (Nothing is saved: the served demo copy is shared by other tests.)"""
    from conftest import assert_no_error_box, wait_for_app

    cid = demo_con.execute("SELECT min(contract_id) FROM contracts WHERE cpv IS NOT NULL").fetchone()[0]
    page.goto(f"{streamlit_server}/kontrakter?kontrakt={cid}")
    wait_for_app(page)
    page.get_by_text("Rediger kontrakt").first.click()
    page.get_by_label("CPV-kode").wait_for(timeout=30000)
    page.wait_for_timeout(500)
    assert_no_error_box(page, "contracts_edit_form")
    page.get_by_label("CPV-kode").fill("4500")
    page.get_by_role("button", name="Lagre endringer").click()
    page.get_by_text("er ikke en CPV-kode").first.wait_for(timeout=60000)
    page.screenshot(path=str(REPO / "test-artifacts" / "contracts_edit_error.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
