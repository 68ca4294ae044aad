"""The Settings page (Innstillinger) through AppTest: an admin changes a weight and
saves (new version, audit entry, re-scored run); bad TOML is refused with a message;
other roles never reach the page."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from akrim_analytics import audit, auth, db, risk
from conftest import REPO, md_plain
from risk_data import D, contract, score, spend, supplier

ADMIN = auth.User("anne", "admin", "Anne Admin")


@pytest.fixture
def settings_db(db_path, monkeypatch):
    c = db.connect(db_path)
    supplier(c, "S1", nace_code="81.210", nace_version="SN2007")
    contract(c, "K1", "S1", labour_intensive=True, estimated_value=3_000_000, category="PERSONELL")
    spend(c, "S1", 800_000, D(2026, 3, 1), "K1", category="PERSONELL")
    db.set_meta(c, "risk_as_of", "2026-09-30")
    score(c)
    c.close()
    monkeypatch.setenv("AKRIM_DB", str(db_path))
    return db_path


def open_page(user=ADMIN, query=None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["user"] = user
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    return at.switch_page("pages/innstillinger.py").run()


def test_admin_changes_a_weight_and_everything_is_rescored(settings_db):
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "Innstillinger for risikovurdering"
    assert any("Versjon 1 er i bruk" in c.value for c in at.caption)
    assert at.text_input(key="rs1_labour.points").value == "1"
    # typed the Norwegian way (a number field would drop the comma and store 15)
    at.text_input(key="rs1_labour.points").set_value("1,5")
    at.text_input(key="rs1_note").input("Arbeidsintensiv veier tyngre")
    at.button(key="rs1_save").click().run()
    assert not at.exception and not at.error
    assert any("Lagret som versjon 2" in s.value for s in at.success)
    c = db.connect(settings_db)
    try:
        assert risk.config_version(c) == 2
        assert risk.load_config(c)["indicators"]["labour"]["points"] == 1.5
        assert risk.run_info(c)["config_version"] == 2
        assert "Arbeidsintensiv tjeneste: +1,5 sannsynlighet" in risk.explain(c, "contract", "K1")["explanation_nb"].tolist()
        entry = audit.entries(c, action="settings").iloc[0]
        assert entry["username"] == "anne" and "indicators.labour.points" in entry["details"]
    finally:
        c.close()
    # the page now shows the new version, and saving again without changes stores nothing
    assert any("Versjon 2 er i bruk" in c.value for c in at.caption)
    at.button(key="rs2_save").click().run()
    assert any("Ingen endringer" in i.value for i in at.info)


def test_bad_toml_is_refused_with_a_message(settings_db):
    at = open_page()
    text = at.text_area(key="rs1_toml").value
    at.text_area(key="rs1_toml").input(text.replace('authority = "municipal"', 'authority = "fylke"'))
    at.button(key="rs1_toml_save").click().run()
    assert not at.exception
    assert at.error and "general.authority" in at.error[0].value
    at.text_area(key="rs1_toml").input("this is [not toml")
    at.button(key="rs1_toml_save").click().run()
    assert at.error and "TOML" in at.error[0].value
    c = db.connect(settings_db)
    try:
        assert risk.config_version(c) == 1
    finally:
        c.close()


def test_restore_an_earlier_version(settings_db):
    c = db.connect(settings_db)
    cfg = risk.load_config(c)
    cfg["indicators"]["labour"]["points"] = 3.0
    risk.save_config(c, ADMIN, cfg, "for tung")
    c.close()
    at = open_page()
    at.selectbox(key="rs2_restore_v").select(1)
    at.button(key="rs2_restore").click().run()
    assert not at.exception and any("Lagret som versjon 3" in s.value for s in at.success)
    c = db.connect(settings_db)
    try:
        assert risk.load_config(c)["indicators"]["labour"]["points"] == 1.0
        assert risk.versions(c).iloc[0]["note"] == "gjenopprettet fra versjon 1"
    finally:
        c.close()


@pytest.mark.parametrize("role", ["leder", "analytiker"])
def test_other_roles_never_reach_the_page(settings_db, role):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["user"] = auth.User("x", role)
    at.run()
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/innstillinger.py")         # not in this role's menu at all
    assert "Innstillinger for risikovurdering" not in [t.value for t in at.title]


def test_english(settings_db):
    from akrim_analytics import i18n

    i18n.set_language("en")      # AppTest formats widget labels in this thread too
    try:
        at = open_page(query={"lang": "en"})
    finally:
        i18n.set_language("nb")
    assert not at.exception
    assert at.title[0].value == "Risk assessment settings"
    assert any("Version 1 is in force" in c.value for c in at.caption)


def test_a_setting_that_is_not_a_number_is_named_and_nothing_is_saved(settings_db):
    at = open_page()
    at.text_input(key="rs1_labour.points").set_value("1,5 poeng").run()
    assert not at.exception
    label = at.text_input(key="rs1_labour.points").label
    assert [e.value for e in at.error] == [f"{label}: «1,5 poeng» er ikke et tall. Skriv for eksempel 1,5 eller 1 695."]
    # two fields with the same label in different places: the refusal says which is which
    at.text_input(key="rs1_likelihood_bands.1").set_value("fire")
    at.text_input(key="rs1_consequence_bands.1").set_value("4,5")
    at.button(key="rs1_save").click().run()
    refusal = [md_plain(e.value) for e in at.error if e.value.startswith("Rett feltene som er merket: ")]
    band = at.text_input(key="rs1_likelihood_bands.1").label
    assert band == at.text_input(key="rs1_consequence_bands.1").label == "Til 3"
    assert refusal == [f"Rett feltene som er merket: Arbeidsintensiv tjeneste: {label}, Sannsynlighet: {band}."]
    c = db.connect(settings_db)
    try:
        assert risk.config_version(c) == 1                  # nothing stored
    finally:
        c.close()
