"""End to end in Chromium: the control log (Kontrollogg) of the served demo app."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from akrim_analytics import controls, db
from conftest import app_page, assert_no_error_box, tick_row, wait_for_app

pytestmark = pytest.mark.browser


def open_row(page, row: int) -> int:
    """Tick a row (0 = first) of the log's table; returns the control id the page then
    opens (``?kontroll=``)."""
    tick_row(page, row)
    page.wait_for_url(re.compile(r".*kontroll=\d+"), timeout=30000)
    wait_for_app(page)
    return int(re.search(r"kontroll=(\d+)", page.url).group(1))


def test_a_search_keeps_the_open_control(streamlit_server, page):
    """A control opened from the log stays open when a search changes the rows below the
    tick (the tick used to open whichever control moved into its row)."""
    page.goto(streamlit_server + "/kontrollogg")
    wait_for_app(page)
    opened = open_row(page, 3)
    page.get_by_text(f"Kontroll {opened}:").first.wait_for(timeout=30000)
    page.get_by_label("Søk").fill("renhold")
    page.keyboard.press("Enter")
    wait_for_app(page)
    page.get_by_text(re.compile(r"^\d[\d\s]* kontroller\.")).first.wait_for(timeout=30000)
    page.wait_for_timeout(1000)
    assert f"kontroll={opened}" in page.url
    page.get_by_text(f"Kontroll {opened}:").first.wait_for(timeout=30000)
    assert_no_error_box(page, "controls_after_search")


def test_deleting_a_ticked_control_opens_no_other(demo_db_copy, browser):
    """A control opened by ticking its row in the log and then deleted is gone, and the
    page shows no control afterwards (it used to open the control that moved up into the
    ticked row, as if it had been chosen)."""
    path = demo_db_copy("controls_delete")
    with app_page(browser, path, "/kontrollogg") as page:
        first = open_row(page, 0)
        page.get_by_text(f"Kontroll {first}:").first.wait_for(timeout=30000)
        page.get_by_role("tab", name="Slett").click()
        page.get_by_text(f"Ja, slett kontroll {first} og funnene").first.click()
        wait_for_app(page)
        page.get_by_role("button", name="Slett kontrollen").click()
        wait_for_app(page)
        page.wait_for_timeout(1000)
        assert "kontroll=" not in page.url
        # no control's panel once the page has run again (its stale copy may linger a moment)
        expect(page.get_by_text(re.compile(r"^Kontroll \d+:"))).to_have_count(0, timeout=30000)
        assert_no_error_box(page, "controls_after_delete")
    con = db.connect(path)
    try:
        assert controls.get_control(con, first) is None
    finally:
        con.close()
