"""End to end in Chromium: the control log (Kontrollogg) of the served demo app."""
from __future__ import annotations

import re

import pytest

from akrim_analytics import controls, db
from conftest import app_page, assert_no_error_box, wait_for_app

pytestmark = pytest.mark.browser


def test_deleting_a_ticked_control_opens_no_other(demo_db_copy, browser):
    """A control opened by ticking its row in the log and then deleted is gone, and the
    page shows no control afterwards. (The table kept the ticked row, so the page used to
    open the control that moved up into that row, at once, as if it had been chosen.)"""
    path = demo_db_copy("controls_delete")
    with app_page(browser, path, "/kontrollogg") as page:
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for(timeout=60000)
        page.wait_for_timeout(1000)   # the grid is drawn on a canvas after the script ran
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)   # the first row's selector
        page.wait_for_url(re.compile(r".*kontroll=\d+"), timeout=30000)
        wait_for_app(page)
        first = int(re.search(r"kontroll=(\d+)", page.url).group(1))
        page.get_by_text(f"Kontroll {first}:").first.wait_for(timeout=30000)
        page.get_by_role("tab", name="Slett").click()
        page.get_by_text(f"Ja, slett kontroll {first} og funnene").first.click()
        wait_for_app(page)
        page.get_by_role("button", name="Slett kontrollen").click()
        wait_for_app(page)
        page.wait_for_timeout(1000)
        assert "kontroll=" not in page.url
        assert page.get_by_text(re.compile(r"^Kontroll \d+:")).count() == 0
        assert_no_error_box(page, "controls_after_delete")
    con = db.connect(path)
    try:
        assert controls.get_control(con, first) is None
    finally:
        con.close()
