"""End to end in Chromium: every leadership page from the navigation, a click on a
risk-map cell lists its contracts, and a row opens the contract page. Screenshots go
to test-artifacts/ (views_*.png)."""
from __future__ import annotations

import re

import pytest

from akrim_analytics import db, risk, views
from akrim_analytics.filters import Filters, Period
from conftest import assert_no_error_box, tick_row, wait_for_app

pytestmark = pytest.mark.browser

PAGES = [("Oversikt", "oversikt"), ("Risikokart", "risikokart"), ("Kontrakter", "kontrakter"),
         ("Leverandører", "leverandorer"), ("Utvikling", "utvikling")]


def settle(page) -> None:
    """Wait for the script run to finish and the page heading to be drawn (the first
    request restarts once in navigation mode, so wait twice)."""
    wait_for_app(page)
    page.wait_for_selector("h1", timeout=60000)
    wait_for_app(page)
    page.wait_for_timeout(1000)


def heading(page) -> str:
    return page.locator("h1").first.inner_text().strip()


def click_cell(page, row: int, col: int, rows: int, cols: int) -> None:
    """Click the centre of a heatmap cell (row 0 = top) in the page's first chart."""
    image = page.locator(".js-plotly-plot g.heatmaplayer image").first
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    x = box["x"] + box["width"] * (col + 0.5) / cols
    y = box["y"] + box["height"] * (row + 0.5) / rows
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    page.wait_for_timeout(800)
    settle(page)


@pytest.fixture(scope="module")
def core(demo_db):
    c = db.connect(demo_db)
    yield c
    c.close()


def test_every_leadership_page_from_the_navigation(streamlit_server, page):
    page.goto(streamlit_server + "/")
    settle(page)
    nav = page.locator('[data-testid="stSidebarNav"]')
    for title, name in PAGES:
        nav.get_by_text(title, exact=True).click()
        settle(page)
        assert heading(page) == title
        page.wait_for_selector(".js-plotly-plot, [data-testid='stDataFrame']", timeout=30000)
        assert_no_error_box(page, f"views_{name}")


def test_heatmap_cell_lists_contracts_and_opens_one(streamlit_server, page, core):
    f = Filters(Period(2025))
    run = views.run_for_view(core, f)
    cells = views.spend_by_category_level(core, f, run.run_id)
    cols = 3 + int(cells.loc[cells["level"] == views.NOT_ASSESSED, "amount"].abs().sum() > 0)
    rows = cells["category"].nunique()
    expected = views.drilldown(core, f, run.run_id,
                               views.Selection("category_level", category="BYGG", level="høy"))

    page.goto(streamlit_server + "/risikokart")
    settle(page)
    click_cell(page, 0, 2, rows, cols)           # first row = Bygg, third column = Høy
    assert "utvalg=category_level" in page.url
    page.get_by_text("Kontraktene bak: Bygg, anlegg og infrastruktur × Høy, 2025").wait_for(timeout=30000)
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    assert_no_error_box(page, "views_risikokart_selected")

    tick_row(page)
    page.wait_for_url(re.compile(r".*/kontrakter\?.*kontrakt="), timeout=30000)
    settle(page)
    assert heading(page).startswith(expected.iloc[0]["contract_id"])
    page.get_by_text("Risikovurdering – hvorfor dette nivået").wait_for(timeout=30000)
    # every factor line in full (a wrapped table, not a grid that cuts it), exactly as stored
    stored = risk.explain(core, "contract", expected.iloc[0]["contract_id"])["explanation_nb"].tolist()
    assert page.locator('[data-testid="stTable"] tbody tr td:nth-child(3)').all_inner_texts() == stored
    assert_no_error_box(page, "views_kontrakt")

    page.get_by_role("button", name=re.compile("Åpne leverandøren")).click()
    page.wait_for_url(re.compile(r".*/leverandorer\?.*leverandor="), timeout=30000)
    settle(page)
    assert heading(page) == expected.iloc[0]["supplier_name"]
    assert_no_error_box(page, "views_leverandor")


def test_second_page_of_a_long_list_opens_its_own_rows(streamlit_server, page, core):
    """The contract list of 2025 has more rows than it shows at once: on its second page
    the first row is the 2 001st contract, clicking it opens that contract, and going
    back returns to the second page."""
    from ui import leadership as lv

    f = Filters(Period(2025))
    expected = views.contracts_table(core, f, views.run_for_view(core, f).run_id)
    assert len(expected) > lv.MAX_ROWS
    target = expected.iloc[lv.MAX_ROWS]["contract_id"]
    page.goto(streamlit_server + "/kontrakter")
    settle(page)
    page.get_by_text("Viser 1–2 000 av").first.wait_for(timeout=30000)
    page.get_by_label("Rader").click()
    page.get_by_role("option", name=re.compile(r"^2 001–")).click()
    settle(page)
    page.get_by_text("Viser 2 001–").first.wait_for(timeout=30000)
    assert_no_error_box(page, "views_kontrakter_page2")
    tick_row(page)
    page.wait_for_url(re.compile(r".*/kontrakter\?.*kontrakt="), timeout=30000)
    settle(page)
    assert heading(page).startswith(target)
    page.get_by_role("button", name="Alle kontrakter").click()
    settle(page)
    page.get_by_text("Viser 2 001–").first.wait_for(timeout=30000)
    assert "side=2" in page.url


def test_matrix_cell_and_treemap_tile(streamlit_server, page, core):
    f = Filters(Period(2025))
    run = views.run_for_view(core, f)
    m = views.risk_matrix(core, f, run.run_id).set_index(["likelihood", "consequence"])
    page.goto(streamlit_server + "/risikokart?visning=matrix")
    settle(page)
    click_cell(page, 0, 4, 5, 5)                 # top right: likelihood 5 × consequence 5
    page.get_by_text("Kontraktene bak: Sannsynlighet 5 × konsekvens 5, 2025").wait_for(timeout=30000)
    assert page.get_by_text(f"{int(m.loc[(5, 5), 'contracts'])} kontrakter").count() >= 1
    assert_no_error_box(page, "views_risikokart_matrix")

    tm = views.treemap(core, f, run.run_id)
    top = tm[(tm["category"] == "BYGG") & (tm["others"] == 0)].iloc[0]
    page.goto(streamlit_server + "/risikokart?visning=treemap")
    settle(page)
    page.locator(".js-plotly-plot g.slice", has_text=top["supplier_name"]).first.click()
    page.wait_for_timeout(800)
    settle(page)
    page.get_by_text(re.compile(f"Kontraktene bak: Bygg, anlegg og infrastruktur × {re.escape(top['supplier_name'])}"))\
        .wait_for(timeout=30000)
    assert_no_error_box(page, "views_risikokart_treemap")


@pytest.mark.parametrize("path,width", [("/", 1280), ("/", 1920), ("/rapport", 1280)])
def test_key_figures_are_never_cut(streamlit_server, page, path, width):
    """The key-figure tiles show the whole amount ("4 083 171 000 kr"), label and change
    on a laptop screen too: Streamlit cuts what does not fit with "…" (ui/style.css
    shrinks the value with the tile and wraps the label and the change), and the tiles
    of a row are equally tall."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(streamlit_server + path)
    settle(page)
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=30000)
    cut = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetric"] *')]
        .filter(e => getComputedStyle(e).overflow === 'hidden' && e.scrollWidth > e.clientWidth + 1)
        .map(e => e.textContent)""")
    assert cut == []
    if path == "/":
        assert "4 083 171 000 kr" in page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    tiles = page.locator('[data-testid="stMetric"]').all()[:4]
    heights = {round(m.bounding_box()["height"]) for m in tiles}
    assert len(heights) == 1, heights     # the tiles of a row are equally tall
    assert_no_error_box(page, f"views_tiles{path.replace('/', '_')}_{width}")
