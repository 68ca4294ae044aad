"""End to end in a real browser: the Settings page of the served demo app."""
import pytest

from conftest import assert_no_error_box, wait_for_app

pytestmark = pytest.mark.browser


def test_settings_page_renders(streamlit_server, page):
    page.goto(streamlit_server + "/innstillinger")
    wait_for_app(page)
    page.get_by_text("Innstillinger for risikovurdering").first.wait_for(timeout=60000)
    page.get_by_text("er i bruk (lagret").first.wait_for(timeout=30000)
    page.get_by_text("Bransje (NACE og CPV)").first.click()
    page.get_by_text("Kilde: A-krimsamarbeidet, Økokrim og Skatteetaten: utsatte bransjer").first.wait_for(timeout=30000)
    page.get_by_text("kildenotat: domain.md §4.1").first.wait_for(timeout=30000)
    assert_no_error_box(page, "risk_settings_weights")
    page.get_by_role("tab", name="Risikomatrise").click()
    page.get_by_text("Grenser for sannsynlighet").first.wait_for(timeout=30000)
    page.wait_for_timeout(1000)
    assert_no_error_box(page, "risk_settings_matrix")
    page.get_by_role("tab", name="Terskelverdier").click()
    page.get_by_text("merket «uverifisert»").first.wait_for(timeout=30000)
    page.wait_for_timeout(1000)
    assert_no_error_box(page, "risk_settings_thresholds")
