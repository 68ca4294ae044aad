"""End to end in a real browser: the served app shows the category chart."""
import pytest

from conftest import assert_no_error_box, wait_for_app

pytestmark = pytest.mark.browser


def test_oversikt_category_chart(streamlit_server, page):
    page.goto(streamlit_server + "/")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot", timeout=30000)
    assert page.get_by_text("Kjøp på kategori 2025").count() >= 1
    assert page.get_by_text("2 123 086 000 kr").count() >= 1
    assert_no_error_box(page, "oversikt")


def test_overview_by_its_own_path_keeps_the_filter(streamlit_server, page):
    """A link to /oversikt (the default page, also served at /) opens the overview with
    the link's filter, not Streamlit's "Page not found"."""
    page.goto(streamlit_server + "/oversikt?periode=2024")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot", timeout=30000)
    assert page.get_by_text("Page not found").count() == 0
    assert page.locator("h1").first.inner_text() == "Oversikt"
    assert page.get_by_text("Kjøp på kategori 2024").count() >= 1
    assert_no_error_box(page, "oversikt-by-path")
