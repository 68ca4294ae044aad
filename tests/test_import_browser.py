"""The Import page in a real browser: a messy export is previewed (nothing is stored)."""
import pytest

import import_corpus as corpus
from conftest import assert_no_error_box, wait_for_app

pytestmark = pytest.mark.browser


def test_import_preview_in_the_browser(streamlit_server, page, tmp_path):
    path = corpus.messy_spend(tmp_path / "reskontro-2025.xlsx")
    page.goto(streamlit_server + "/import")
    wait_for_app(page)
    page.wait_for_selector("text=Hva vil du importere?", timeout=30000)
    # Streamlit's own English texts on the uploader: the button's drawn over in Norwegian,
    # the size hint hidden (the label gives the limit)
    button = page.locator('[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"] p')
    assert button.first.evaluate("e => getComputedStyle(e, '::after').content") == '"Last opp"'
    assert button.first.evaluate("e => getComputedStyle(e).fontSize") == "0px"
    assert not page.locator('[data-testid="stFileUploaderDropzoneInstructions"]').first.is_visible()
    assert page.get_by_text("Fil (xlsx, xls, ods eller CSV; maks 200 MB)").count() == 1
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))
    page.wait_for_selector("text=Valideringsrapport", timeout=60000)
    wait_for_app(page)
    assert page.get_by_text("overskrift på rad").count() >= 1
    assert page.get_by_text("Det stemmer.").count() >= 1
    assert page.get_by_text("Uklassifisert andel av innkjøp 2025").count() >= 1
    assert_no_error_box(page, "import_preview")
    page.get_by_text("Valideringsrapport", exact=True).scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    assert_no_error_box(page, "import_report")
