"""End to end in a real browser: the Settings page of the served demo app."""
import pytest

from akrim_analytics import db, risk
from conftest import app_page, assert_no_error_box, wait_for_app

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


def test_industry_points_typed_with_a_comma_are_stored_as_a_fraction(demo_db_copy, browser):
    """The Settings page's table cells (industry and CPV points, band rows) are Streamlit
    data-editor cells, not text fields: shown in the browser's locale they show «2,0» and
    read a typed «1,5» as 1.5 for a Norwegian browser. Typed into Renhold's points (row 4
    of the industry table) and saved, the new configuration version holds 1.5 there and
    nothing else changed."""
    path = demo_db_copy("settings_cells")
    with app_page(browser, path, "/innstillinger", height=1400) as page:
        page.get_by_text("er i bruk (lagret").first.wait_for(timeout=30000)
        page.get_by_role("tab", name="Bransjer").click()
        wait_for_app(page)
        page.wait_for_timeout(1000)   # the grid is drawn on a canvas after the script ran
        grids = [g.bounding_box() for g in page.locator('[data-testid="stDataFrame"]').all()]
        box = [b for b in grids if b and b["width"] > 0][0]
        # the points column is the last one; rows are 35 px under a 35 px header;
        # a double click opens the cell's editor (an input of the grid's own)
        editor = page.locator("input.gdg-input")
        for _ in range(5):
            page.mouse.dblclick(box["x"] + box["width"] - 40, box["y"] + 35 * 4 + 17)
            try:
                editor.wait_for(state="visible", timeout=3000)
                break
            except Exception:
                page.wait_for_timeout(1000)
        assert editor.input_value() == "2"   # Renhold's 2 points, the cell aimed at
        editor.fill("1,5")                   # as typed on a Norwegian keyboard
        assert editor.input_value() == "1,5"
        editor.press("Enter")
        wait_for_app(page)
        page.get_by_text("Du har ulagrede endringer").first.wait_for(timeout=30000)
        assert_no_error_box(page, "risk_settings_cell_typed")
        page.get_by_role("button", name="Lagre og vurder alt på nytt").click()
        wait_for_app(page)
        page.get_by_text("Lagret som versjon 2").first.wait_for(timeout=60000)
        assert_no_error_box(page, "risk_settings_cell_saved")
    con = db.connect(path)
    try:
        before = {i["key"]: float(i["points"]) for i in risk.load_config(con, 1)["industries"]}
        after = {i["key"]: float(i["points"]) for i in risk.load_config(con, 2)["industries"]}
    finally:
        con.close()
    assert before["renhold"] == 2.0 and after["renhold"] == 1.5
    assert {k: v for k, v in after.items() if k != "renhold"} == {k: v for k, v in before.items() if k != "renhold"}
