"""The Import page through AppTest: upload → preview → mapping → commit → undo."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from akrim_analytics import auth, db

import import_corpus as corpus
from conftest import REPO, md_plain


@pytest.fixture
def live_db(db_path, monkeypatch):
    c = db.connect(db_path)
    c.close()
    monkeypatch.setenv("AKRIM_DB", str(db_path))
    return db_path


def open_page(user: auth.User) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["user"] = user
    at.run()
    return at.switch_page("pages/import.py").run()


def texts(at) -> str:
    return md_plain(" | ".join([e.value for e in at.markdown] + [e.value for e in at.caption]
                               + [e.value for e in at.info] + [e.value for e in at.error]
                               + [e.value for e in at.success] + [e.value for e in at.warning]))


def count(path, sql):
    c = db.connect(path)
    try:
        return c.execute(sql).fetchone()[0]
    finally:
        c.close()


def test_upload_preview_mapping_commit_undo(live_db, tmp_path):
    at = open_page(auth.User("ola", "analytiker", "Ola"))
    assert not at.exception and at.title[0].value == "Import"
    # a file whose amount column has an unknown name: the analyst picks it
    header = ["Dato", "Firma", "Kr"]
    path = corpus.workbook(tmp_path / "lokal.xlsx", {"Info": [["Utvalg"]],
                                                     "Data": [["Rapport"], [], header, ["01.02.2025", "A AS", 100],
                                                              ["02.02.2025", "B AS", 250], ["Sum", None, 350]]})
    at.file_uploader[0].set_value(("lokal.xlsx", path.read_bytes(), "application/vnd.ms-excel"))
    at.run()
    assert not at.exception
    shown = texts(at)
    assert "Ark **Data**, overskrift på rad **3**" in shown
    assert "Fant ingen kolonne for Beløp" in shown
    assert at.button(key="imp_commit").disabled
    # preview of the first rows, as text
    assert at.dataframe[0].value.shape[0] == 3
    at.selectbox(key="imp_map_amount").select("Kr").run()
    assert not at.exception
    assert "sier 350,00 kr" in texts(at)
    assert not at.button(key="imp_commit").disabled
    at.text_input(key="imp_save_mapping").input("Lokal rapport").run()
    at.button(key="imp_commit").click().run()
    assert not at.exception
    assert any("Importert 2 rader fra «lokal.xlsx» (opplasting 1)" in md_plain(s.value) for s in at.success)
    assert count(live_db, "SELECT count(*) FROM spend") == 2
    assert count(live_db, "SELECT count(*) FROM import_mappings WHERE name = 'Lokal rapport'") == 1
    # the unclassified share is always visible on the page
    assert any(m.label.startswith("Uklassifisert andel") for m in at.metric)

    # the report kept with the upload can be downloaded from the uploads list
    assert at.selectbox(key="imp_report_pick").value == 1
    # undo from the uploads list
    at.checkbox(key="imp_undo_confirm").check().run()
    at.button(key="imp_undo").click().run()
    assert not at.exception
    assert any("Opplasting 1 er angret" in s.value for s in at.success)
    assert count(live_db, "SELECT count(*) FROM spend") == 0


def test_bad_file_is_one_message_on_the_page(live_db, tmp_path):
    at = open_page(auth.User("ola", "analytiker", "Ola"))
    at.file_uploader[0].set_value(("rapport.xlsx", b"%PDF-1.4 fake", "application/pdf"))
    at.run()
    assert not at.exception
    assert [md_plain(e.value) for e in at.error] == [
        "«rapport.xlsx» er en PDF, ikke et regneark. Ta ut rapporten som Excel (xlsx) eller CSV fra økonomisystemet."]
    assert count(live_db, "SELECT count(*) FROM uploads") == 0



def test_text_from_the_file_is_not_markdown_on_the_page(live_db, tmp_path):
    """Headers and sheet names come from the file: in the page's messages they show as
    typed (a Markdown link in a header is not a link)."""
    at = open_page(auth.User("ola", "analytiker", "Ola"))
    rows = [["Bilagsdato", "Leverandør", "[klikk](https://evil.example)"], ["01.02.2025", "A AS", "x"]]
    path = corpus.workbook(tmp_path / "lenke.xlsx", {"_Ark_ <b>": rows})
    at.file_uploader[0].set_value(("lenke.xlsx", path.read_bytes(), "application/octet-stream"))
    at.run()
    assert not at.exception
    error = " ".join(e.value for e in at.error)
    assert "[klikk](" not in error and "\\[klikk\\]\\(https" in error
    assert "klikk](https://evil.example)" in md_plain(error)
    assert "\\_Ark\\_ \\<b\\>" in error

def test_rejected_rows_need_an_explicit_choice(live_db, tmp_path):
    at = open_page(auth.User("ola", "analytiker", "Ola"))
    rows = [["01.01.2025", "A AS", None, "1", 100], ["nei", "B AS", None, "2", 50]]
    path = corpus.spend_rows(tmp_path / "feil.xlsx", rows)
    # the file's name is the user's text: Markdown in it shows as typed
    at.file_uploader[0].set_value(("feil **fet**.xlsx", path.read_bytes(), "application/octet-stream"))
    at.run()
    assert at.button(key="imp_commit").disabled
    assert any("rad 3, kolonne A «Bilagsdato»" in w.value for w in at.warning)
    warning = " ".join(w.value for w in at.warning)
    assert "«feil **fet**.xlsx»" in md_plain(warning) and "**fet**" not in warning
    at.checkbox(key="imp_accept").check().run()
    at.button(key="imp_commit").click().run()
    assert not at.exception
    assert count(live_db, "SELECT count(*) FROM spend") == 1
    assert count(live_db, "SELECT accepted_valid_only FROM uploads") is True


def test_category_rules_section_is_for_admins(live_db, tmp_path):
    at = open_page(auth.User("ola", "analytiker", "Ola"))
    assert [t.label for t in at.tabs] == ["Last opp", "Opplastinger", "Lagrede koblinger"]
    at = open_page(auth.User("adam", "admin", "Adam"))
    assert [t.label for t in at.tabs][-1] == "Kategoriregler"
    at.selectbox(key="rule_new_type").select("account")
    at.text_input(key="rule_new_prefix").input("1999")
    at.selectbox(key="rule_new_category").select("IKT")
    next(b for b in at.button if b.label == "Legg til regel").click().run()
    assert not at.exception
    assert count(live_db, "SELECT count(*) FROM category_rules WHERE prefix = '1999' AND category = 'IKT'") == 1


def test_analyst_picks_the_sheet_when_several_could_be_the_data(live_db, tmp_path):
    at = open_page(auth.User("ola", "analytiker", "Ola"))
    data = [["Bilagsdato", "Leverandør", "Beløp"], ["01.01.2025", "A AS", 10]]
    other = [["Bilagsdato", "Leverandør", "Beløp"], ["01.01.2024", "B AS", 20], ["02.01.2024", "B AS", 5]]
    path = corpus.workbook(tmp_path / "to-ark.xlsx", {"2025": data, "2024": other})
    at.file_uploader[0].set_value(("to-ark.xlsx", path.read_bytes(), "application/octet-stream"))
    at.run()
    assert not at.exception
    assert at.radio(key="imp_sheet").options == ["2025", "2024"]
    at.radio(key="imp_sheet").set_value("2024").run()
    assert "Ark **2024**" in texts(at)
    at.button(key="imp_commit").click().run()
    assert not at.exception
    assert count(live_db, "SELECT sum(amount) FROM spend") == 25
    # a new file with other sheets starts afresh
    single = corpus.workbook(tmp_path / "ett.xlsx", {"Data": data})
    at.file_uploader[0].set_value(("ett.xlsx", single.read_bytes(), "application/octet-stream"))
    at.run()
    assert not at.exception and "Ark **Data**" in texts(at)
