"""End to end in a real browser: the Settings page of the served demo app."""
import pytest

from conftest import assert_no_error_box, wait_for_app

pytestmark = pytest.mark.browser


def test_settings_page_renders(streamlit_server, page):
    page.goto(streamlit_server + "/innstillinger")
    wait_for_app(page)
    page.get_by_text("Innstillinger for risikovurdering").first.wait_for(timeout=30000)
    assert page.get_by_text("Versjon 1 er i bruk").count() >= 1 or page.get_by_text("Versjon 2 er i bruk").count() >= 1
    page.get_by_text("Bransje (NACE og CPV)").first.click()
    page.wait_for_timeout(500)
    assert_no_error_box(page, "risk_settings_weights")
    page.get_by_role("tab", name="Risikomatrise").click()
    page.wait_for_timeout(1000)
    assert page.get_by_text("Sannsynlighet 5").count() >= 1
    assert_no_error_box(page, "risk_settings_matrix")
    page.get_by_role("tab", name="Terskelverdier").click()
    page.wait_for_timeout(1000)
    assert page.get_by_text("uverifisert").count() >= 1
    assert_no_error_box(page, "risk_settings_thresholds")
