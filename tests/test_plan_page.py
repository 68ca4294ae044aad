"""Oppfølgingsplan and Kontrollogg server-side (AppTest) on the demo database, and in a
real browser (screenshots in test-artifacts/)."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from akrim_analytics import auth, controls, db, fmt, plan
from conftest import REPO, assert_no_error_box, md_plain, wait_for_app


def open_page(monkeypatch, path, page: str, *, user=None, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("AKRIM_DB", str(path))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    if user is not None:
        at.session_state["user"] = user
    at.switch_page(f"pages/{page}.py")
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def frame_with(at, *columns):
    """The first table showing all these columns (st.dataframe elements have no key here)."""
    for df in at.dataframe:
        v = df.value
        if all(c in v.columns for c in columns):
            return v
    raise AssertionError(f"no table with {columns}")


def metrics(at) -> dict:
    return {m.proto.label: (m.value, m.proto.delta) for m in at.metric}


@pytest.fixture(scope="module")
def core(demo_db):
    c = db.connect(demo_db)
    yield c
    c.close()


def test_plan_page_shows_the_cores_plan(monkeypatch, demo_db, core):
    at = open_page(monkeypatch, demo_db, "oppfolging")
    s = plan.get_settings(core)
    q = plan.default_quarter(core)
    p = plan.build_plan(core, s, q.year, q.quarter)
    extra = plan.one_more_person(core, s, q.year, q.quarter)
    m = metrics(at)
    assert m["Kontrakter i planen"][0] == fmt.number(len(p.items))
    assert m["Timer brukt av kapasitet"][0] == f"{fmt.number(p.hours_planned, 0)} av {fmt.number(s.hours, 0)} t"
    assert m["Høy/middels eksponering dekket"][0] == fmt.pct(p.coverage["share_hm_after"])
    assert m["Med én person til"][0] == f"+{extra['extra_contracts']} kontrakter"
    # the plan table lists the plan's contracts, the curve is drawn with today's capacity marked
    table = frame_with(at, "Kontrakt-ID", "Hvorfor valgt")
    assert sorted(table["Kontrakt-ID"]) == sorted(p.items["contract_id"])
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any("I dag" in (tr.get("name") or "") for tr in fig["data"])
    assert any(sh.get("type") == "line" for sh in fig["layout"].get("shapes", []))


def test_changing_capacity_replans(monkeypatch, demo_db, core):
    at = open_page(monkeypatch, demo_db, "oppfolging")
    assert at.text_input(key="plan_ftes").value == fmt.decimal_text(plan.PlanSettings().ftes)
    at.text_input(key="plan_ftes").set_value("1,5").run()    # the Norwegian way: one and a half
    assert not at.exception and not at.error
    s = plan.PlanSettings(ftes=1.5)
    q = plan.default_quarter(core)
    p = plan.build_plan(core, s, q.year, q.quarter)
    assert metrics(at)["Kontrakter i planen"][0] == fmt.number(len(p.items))
    # impossible input: a clear message naming what to relax, no exception
    at.text_input(key="plan_ftes").set_value("0").run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("øk kapasiteten" in w for w in warnings), warnings
    assert any("Det som må endres: kapasiteten" in c.value for c in at.caption)


def test_hours_mode_and_english(monkeypatch, demo_db):
    from akrim_analytics import i18n

    at = open_page(monkeypatch, demo_db, "oppfolging", query={"lang": "en"})
    assert "Contracts in the plan" in metrics(at)
    i18n.set_language("en")   # the widget's labels are formatted in this thread too
    try:
        at.radio(key="plan_mode").set_value("hours").run()
        at.text_input(key="plan_hours").set_value("100").run()
    finally:
        i18n.set_language("nb")
    assert not at.exception
    assert metrics(at)["Hours used of capacity"][0].endswith("of 100 h")


def test_analyst_saves_the_plan_and_sees_adherence(monkeypatch, demo_db_copy):
    path = demo_db_copy("plan_save")
    at = open_page(monkeypatch, path, "oppfolging", user=auth.User("test.analytiker", "analytiker"))
    at.button(key="plan_save").click().run()
    assert not at.exception, at.exception
    c = db.connect(path)
    try:
        plans = plan.saved_plans(c)
        assert len(plans) == 1 and plans["status"].iloc[0] == "active"
        pid = int(plans["plan_id"].iloc[0])
        n_planned = c.execute("SELECT count(*) FROM controls WHERE plan_id = ?", [pid]).fetchone()[0]
        steps = c.execute("SELECT count(*) FROM plan_items WHERE plan_id = ?", [pid]).fetchone()[0]
        assert 0 < n_planned <= steps
        assert c.execute("SELECT count(*) FROM audit_log WHERE action = 'plan_save' AND username = 'test.analytiker'"
                         ).fetchone()[0] == 1
    finally:
        c.close()
    at.run()
    m = metrics(at)
    assert m["Utført i kvartalet"][0] == f"0 / {steps}"
    assert frame_with(at, "Planlagt", "Gjennomføringsgrad")["Planlagt"].sum() == steps


def test_leder_reads_the_plan_without_save_buttons(monkeypatch, demo_db):
    at = open_page(monkeypatch, demo_db, "oppfolging", user=auth.User("test.leder", "leder"))
    assert at.session_state["_page"] == "oppfolging"
    keys = {b.key for b in at.button}
    assert "plan_save" not in keys and "plan_save_settings" not in keys
    assert "Kontrakter i planen" in metrics(at)


# ----------------------------------------------------------------------------- Kontrollogg

def test_log_page_numbers(monkeypatch, demo_db, core):
    at = open_page(monkeypatch, demo_db, "kontrollogg")
    today = plan.today(core)
    m = metrics(at)
    assert m["Åpne funn"][0] == fmt.number(len(controls.findings(core, status="open")))
    assert m["Forfalte kontroller"][0] == fmt.number(len(controls.overdue_controls(core, today)))
    s = controls.summary(core, today.replace(month=1, day=1), today.replace(month=12, day=31))
    assert m[f"Kontroller utført {today.year}"][0] == fmt.number(s["controls_done"])
    table = frame_with(at, "Dokumenter som mangler")
    total = len(controls.control_log(core))
    assert len(table) == min(5000, total)
    # the count is of all controls, not of the rows shown (the demo has more than 5 000)
    caption = " ".join(c.value for c in at.caption)
    assert f"{fmt.number(total)} kontroller." in caption
    assert total <= 5000 or "Viser de 5 000 nyeste" in caption


def test_log_unknown_control_from_a_link_is_text(monkeypatch, demo_db):
    at = open_page(monkeypatch, demo_db, "kontrollogg", query={"kontroll": "**9** [x](https://evil.example)"})
    warning = " ".join(w.value for w in at.warning)
    assert "Kontroll **9** [x](https://evil.example) finnes ikke" in md_plain(warning) and "](" not in warning


def test_log_edit_goes_to_the_audit_log(monkeypatch, demo_db_copy):
    path = demo_db_copy("log_edit")
    c = db.connect(path)
    cid = int(c.execute("SELECT min(control_id) FROM controls WHERE done_date IS NOT NULL").fetchone()[0])
    old_by = c.execute("SELECT performed_by FROM controls WHERE control_id = ?", [cid]).fetchone()[0]
    c.close()
    analyst = auth.User("test.analytiker", "analytiker")
    at = open_page(monkeypatch, path, "kontrollogg", user=analyst, query={"kontroll": str(cid)})
    assert any(f"Kontroll {cid}" in s.value for s in at.subheader)
    at.text_input(key=f"log_edit_by_{cid}").set_value("Per Revisor")
    at.button(key=f"log_edit_submit_{cid}").click().run()
    assert not at.exception, at.exception
    # a finding through the page
    at.text_area(key=f"log_f_desc_{cid}").set_value("Mangler timelister for to arbeidstakere")
    at.selectbox(key=f"log_f_type_{cid}").set_value("working_time")
    at.selectbox(key=f"log_f_action_{cid}").set_value("withheld_payment")
    at.text_input(key=f"log_f_amount_{cid}").input("12 500,50 kr")     # as an analyst types it
    at.button(key=f"log_f_submit_{cid}").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    c = db.connect(path)
    try:
        assert c.execute("SELECT performed_by FROM controls WHERE control_id = ?", [cid]).fetchone()[0] == "Per Revisor"
        details = json.loads(c.execute(
            "SELECT details FROM audit_log WHERE action = 'control_update' AND object_id = ? AND username = ?",
            [str(cid), "test.analytiker"]).fetchone()[0])
        assert details["changes"]["performed_by"] == {"old": old_by, "new": "Per Revisor"}
        f = controls.findings(c, control_id=cid)
        assert "Mangler timelister for to arbeidstakere" in f["description"].tolist()
        new = f[f["description"] == "Mangler timelister for to arbeidstakere"].iloc[0]
        assert new["action"] == "withheld_payment" and float(new["sanction_amount"]) == 12500.50
        assert c.execute("SELECT count(*) FROM audit_log WHERE action = 'finding_create'").fetchone()[0] == 1
    finally:
        c.close()


def test_log_new_control(monkeypatch, demo_db_copy):
    path = demo_db_copy("log_new")
    c = db.connect(path)
    contract_id = c.execute("SELECT min(contract_id) FROM contracts").fetchone()[0]
    c.close()
    at = open_page(monkeypatch, path, "kontrollogg", user=auth.User("test.analytiker", "analytiker"))
    at.text_input(key="log_new_search").set_value(contract_id).run()
    at.selectbox(key="log_new_step").set_value(2)
    import datetime as dt

    at.date_input(key="log_new_planned").set_value(dt.date(2026, 12, 15))
    at.button(key="log_new_submit").click().run()
    assert not at.exception, at.exception
    c = db.connect(path)
    try:
        row = c.execute("""SELECT contract_id, step, planned_date, status, created_by FROM controls
                           WHERE created_by = 'test.analytiker'""").fetchall()
        assert row == [(contract_id, 2, dt.date(2026, 12, 15), "planned", "test.analytiker")]
    finally:
        c.close()


def test_leder_reads_the_log_without_edit_forms(monkeypatch, demo_db, core):
    cid = int(core.execute("SELECT min(control_id) FROM controls").fetchone()[0])
    at = open_page(monkeypatch, demo_db, "kontrollogg", user=auth.User("test.leder", "leder"),
                   query={"kontroll": str(cid)})
    assert at.session_state["_page"] == "kontrollogg"
    assert any("Du kan lese kontrolloggen" in i.value for i in at.info)
    keys = {b.key for b in at.button}
    assert f"log_edit_submit_{cid}" not in keys and "log_new_submit" not in keys
    assert any(f"Kontroll {cid}" in s.value for s in at.subheader)


# ----------------------------------------------------------------------------- in a browser

@pytest.mark.browser
def test_both_pages_in_a_browser(streamlit_server, page, demo_con):
    for name in ("oppfolging", "kontrollogg"):
        page.goto(f"{streamlit_server}/{name}")
        wait_for_app(page)
        page.wait_for_selector("[data-testid='stMetric']", timeout=60000)
        page.locator("[data-testid='stDataFrame']:visible").first.wait_for(timeout=60000)
        if name == "oppfolging":
            table = page.locator("[data-testid='stDataFrame']:visible").nth(1)
            table.scroll_into_view_if_needed()
            page.wait_for_timeout(800)
            page.screenshot(path=str(REPO / "test-artifacts" / "followup_plan_table.png"))
            page.get_by_role("tab", name="Dekningskurve").click()
            page.wait_for_timeout(1500)
            chart = page.locator("[data-testid='stPlotlyChart']").first
            chart.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            chart.screenshot(path=str(REPO / "test-artifacts" / "followup_curve.png"))
        page.wait_for_timeout(1000)
        assert_no_error_box(page, f"followup_{name}")
        text = page.inner_text("body")
        assert {"oppfolging": "Kontrakter i planen", "kontrollogg": "Åpne funn"}[name] in text
    # one control with its findings, as an analyst would open it from a link
    cid = demo_con.execute("SELECT min(control_id) FROM findings WHERE action = 'daily_fines'").fetchone()[0]
    page.goto(f"{streamlit_server}/kontrollogg?kontroll={cid}")
    wait_for_app(page)
    detail = page.get_by_text(f"Kontroll {cid}:").first
    detail.wait_for(timeout=60000)
    detail.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    assert_no_error_box(page, "followup_kontrollogg_detail")
    assert "Funn (" in page.inner_text("body")


def test_a_field_that_is_not_a_number_says_so_and_builds_no_plan(monkeypatch, demo_db):
    at = open_page(monkeypatch, demo_db, "oppfolging")
    at.text_input(key="plan_ftes").set_value("to").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Dedikerte årsverk: «to» er ikke et tall. Skriv for eksempel 1,5 eller 1 695."]
    assert "Kontrakter i planen" not in metrics(at)          # no plan from a guess
    at.text_input(key="plan_ftes").set_value("2").run()
    at.text_input(key="plan_lw0").set_value("-1").run()       # a weight below zero
    assert [e.value for e in at.error] == ["Vekt nivå Lav kan ikke være under 0."], [e.value for e in at.error]
    at.text_input(key="plan_lw0").set_value("0,5").run()
    assert not at.error and "Kontrakter i planen" in metrics(at)
