"""The Rapport page: status of the quarter's edition, one-click downloads, a new edition on
request, the preview holding the edition's numbers, and the supervision evidence."""
from __future__ import annotations

import io

import openpyxl
import pytest
from pptx import Presentation
from streamlit.testing.v1 import AppTest

from akrim_analytics import audit, auth, db, fmt, report
from akrim_analytics.report import evidence

from conftest import REPO, assert_no_error_box, wait_for_app

LEDER = auth.User("kari.leder", "leder", "Kari Leder")


def open_page(path, user=LEDER, query=None):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["user"] = user
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page("pages/rapport.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def page_db(demo_db_copy, monkeypatch):
    path = demo_db_copy("report_page")
    monkeypatch.setenv("AKRIM_DB", str(path))
    return path


def test_page_before_and_after_the_first_edition(page_db):
    at = open_page(page_db, query={"kvartal": "2026-K3"})
    assert at.session_state["_page"] == "rapport"
    assert at.title[0].value == "Kvartalsrapport til ledelsen"
    assert at.selectbox(key="kvartal").value == "2026-K3"
    assert any("ikke laget ennå" in i.value for i in at.info)
    assert [b.label for b in at.get("download_button")] == ["Last ned PowerPoint", "Last ned Excel",
                                                          "Last ned dokumentasjon (Excel)"]
    # the preview shows today's figures (not frozen yet)
    c = db.connect(page_db)
    live = report.build(c, "2026-K3")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Samlet innkjøp"] == fmt.nok_short(live.kpi("spend_total")["value"])
    assert metrics["Kontrakter med høy risiko"] == fmt.number(live.kpi("contracts_high")["value"])
    ev = evidence.build(c)
    assert metrics["Kontrakter som omfattes av forskriften"] == fmt.number(ev.summary["covered_contracts"])

    # what a download does (the button runs report.generate): the edition is frozen
    report.generate(c, LEDER, "2026-K3", "pptx")
    at.run()
    assert not at.exception
    ok = [s.value for s in at.success]
    assert ok and "Utgave 1" in ok[0] and "kari.leder" in ok[0]
    c.close()


def test_new_edition_needs_a_reason_and_is_logged(page_db):
    c = db.connect(page_db)
    first = report.get_or_freeze(c, LEDER, "2026-K2")
    at = open_page(page_db, query={"kvartal": "2026-K2"})
    assert at.button(key="new_edition").disabled
    at.text_input(key="new_edition_reason").input("rettet import for juni").run()
    at.button(key="new_edition").click().run()
    assert not at.exception
    latest = report.load(c, "2026-K2")
    assert latest.edition == 2 and latest.reason == "rettet import for juni"
    assert report.load(c, "2026-K2", 1).fingerprint == first.fingerprint
    assert "Utgave 2" in at.success[0].value
    # with two editions the page lets the user pick which one to download
    labels = [s.label for s in at.selectbox]
    assert "Utgave" in labels
    e = audit.entries(c, action="report_edition")
    assert e["username"].tolist()[0] == "kari.leder" and "rettet import for juni" in e["details"].iloc[0]
    c.close()


def test_english_page(page_db):
    from akrim_analytics import i18n

    # AppTest formats the widgets' values in the test's own thread: same language as the app
    i18n.set_language("en")
    try:
        at = open_page(page_db, query={"lang": "en", "kvartal": "2026-K1"})
    finally:
        i18n.set_language("nb")
    assert at.title[0].value == "Quarterly report to the leadership"
    assert "Download PowerPoint" in [b.label for b in at.get("download_button")]
    assert "Total spend" in [m.label for m in at.metric]


@pytest.mark.browser
def test_rapport_in_the_browser_downloads_the_deck(streamlit_server, page, tmp_path):
    page.goto(streamlit_server + "/rapport?kvartal=2026-K3")
    wait_for_app(page)
    page.get_by_text("Last ned dokumentasjon (Excel)").first.wait_for(timeout=90000)   # the page's last element
    wait_for_app(page)
    assert_no_error_box(page, "rapport")
    with page.expect_download(timeout=120000) as dl:
        page.get_by_text("Last ned PowerPoint").click()
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert path.name == "kvartalsrapport-2026-K3-utg1.pptx"
    prs = Presentation(path)
    assert "fingerprint=" in prs.core_properties.keywords
    assert [s.shapes.title.text for s in prs.slides][1].startswith("Nøkkeltall")
    # the page now shows the frozen edition
    page.reload()
    wait_for_app(page)
    page.get_by_text("Utgave 1, frosset").first.wait_for(timeout=60000)
    page.get_by_text("Last ned dokumentasjon (Excel)").first.wait_for(timeout=90000)
    wait_for_app(page)
    with page.expect_download(timeout=120000) as dl:
        page.get_by_text("Last ned Excel").click()
    xpath = tmp_path / dl.value.suggested_filename
    dl.value.save_as(xpath)
    wb = openpyxl.load_workbook(xpath)
    assert wb.custom_doc_props["fingerprint"].value in prs.core_properties.keywords
    assert_no_error_box(page, "rapport_frozen")
