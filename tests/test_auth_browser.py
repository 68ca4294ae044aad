"""In a real browser against a served app on a municipality's own (non-demo) database:
a page URL on a freshly started server still asks for a login, and a login works."""
from __future__ import annotations


import pytest

from akrim_analytics import auth, db, users

from conftest import ARTIFACTS, REPO, assert_no_error_box, log_in, serve_app, wait_for_app

pytestmark = pytest.mark.browser

PW = "korrekt hest batteri"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("live") / "kommune.duckdb"
    c = db.connect(path)
    users.create_user(c, auth.SYSTEM, "anne", "admin", password=PW, display_name="Anne Admin")
    c.close()
    with serve_app(path) as (url, _):
        yield url


def test_first_request_for_an_admin_page_shows_the_login(live_server, page):
    # The very first request this server gets: Streamlit would run pages/brukere.py on
    # its own here (pages-folder mode) if ui.common did not send it through app.py.
    page.goto(live_server + "/brukere")
    wait_for_app(page)
    page.wait_for_selector("input[type=password]", timeout=30000)
    assert_no_error_box(page, "auth_first_request_brukere")
    assert page.get_by_role("heading", name="Brukere").count() == 0
    assert page.get_by_text("Logg inn").count() >= 1
    # No menu before login (not even the page names).
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0


def test_login_then_audit_log(live_server, page):
    page.goto(live_server + "/")
    wait_for_app(page)
    page.get_by_label("Brukernavn").fill("wrong")
    page.get_by_label("Passord").fill("feil passord!!")
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_selector('[data-testid="stAlertContentError"]', timeout=30000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "auth_login_failed.png"), full_page=True)
    assert page.get_by_text("Feil brukernavn eller passord").count() == 1

    log_in(page, "anne", PW)
    assert_no_error_box(page, "auth_logged_in")

    page.get_by_role("link", name="Revisjonslogg").click()
    page.get_by_role("heading", name="Revisjonslogg").wait_for(timeout=30000)
    wait_for_app(page)
    page.wait_for_selector('[data-testid="stDataFrame"] canvas', timeout=30000)
    page.wait_for_timeout(1500)
    assert_no_error_box(page, "auth_revisjonslogg")
    assert page.get_by_text("Viser 3 av 3 hendelser").count() == 1

    page.get_by_role("link", name="Brukere").click()
    page.get_by_role("heading", name="Brukere").wait_for(timeout=30000)
    wait_for_app(page)
    assert_no_error_box(page, "auth_brukere")

    page.get_by_role("button", name="Logg ut").click()
    page.wait_for_selector("input[type=password]", timeout=30000)
