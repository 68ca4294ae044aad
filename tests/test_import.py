"""Import of messy ERP spend exports: detection, parsing, totals, mapping, report, commit, undo."""
from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import pytest

from akrim_analytics import audit, auth, db, hooks, orgnr
from akrim_analytics import importer
from akrim_analytics.importer import ImportRefused, pipeline

import import_corpus as corpus

ANNA = auth.User("anna", "analytiker", "Anna")
BOB = auth.User("bob", "analytiker", "Bob")
LEDER = auth.User("lise", "leder", "Lise")
ADMIN = auth.User("adam", "admin", "Adam")


def snapshot(con) -> dict:
    """Everything an import may touch: row counts, sums and the data version."""
    out = {}
    for table in ("spend", "suppliers", "departments", "contracts", "uploads", "audit_log", "import_mappings",
                  "register_units", "import_replaced_rows", "category_rules"):
        out[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    out["spend_sum"] = con.execute("SELECT coalesce(sum(amount), 0) FROM spend").fetchone()[0]
    out["data_version"] = db.data_version(con)
    return out


def test_corpus_org_numbers_are_what_they_claim():
    assert orgnr.clean(corpus.ORG_A) and orgnr.clean(corpus.ORG_B) and orgnr.clean(corpus.ORG_C)
    assert orgnr.clean(corpus.ORG_BAD) is None


def test_messy_export_is_read_without_help(con, tmp_path):
    path = corpus.messy_spend(tmp_path / "reskontro.xlsx")
    prepared = importer.prepare(con, path, file_name="reskontro.xlsx")
    # the data sheet after a parameters sheet, the header on row 4 under a merged title
    assert prepared.sheet == "Reskontro" and prepared.header_row + 1 == 4
    assert not prepared.sheet_ambiguous
    assert prepared.mapping == {"supplier_no": "Lev.nr", "supplier_name": "Leverandørnavn", "orgnr": "Org.nr.",
                                "posting_date": "Bilagsdato", "invoice_no": "Fakturanr", "account": "Art",
                                "department": "Ansvar", "amount": "Beløp"}
    rep = prepared.report
    assert rep["rows_valid"] == corpus.MESSY_ROWS and rep["rows_rejected"] == 0
    assert rep["rows_total"] == 1 and rep["rows_blank"] == 1
    assert rep["sum_valid"] == pytest.approx(corpus.MESSY_TOTAL)
    # the bad org number is a warning, not a rejection
    assert [w["reason"] for w in rep["warnings"]] == ["unreadable_orgnr"]
    assert rep["warnings"][0]["row"] == 10 and rep["warnings"][0]["letter"] == "C"
    assert "(rad 13) sier 1 238 536,64 kr" in rep["reconciliation"] and "Det stemmer" in rep["reconciliation"]
    # the preview shows the cells as Excel shows them to a Norwegian analyst: a date cell
    # as 15.01.2025, numbers as digits, text as typed
    preview = prepared.preview_rows(20)
    assert preview["Rad"][:3] == [5, 6, 7]
    assert preview["Bilagsdato"][:3] == ["15.01.2025", "15.02.2025", "2025-03-01"]
    assert preview["Beløp"][1:3] == ["1 234 567,89", "(1 234,50)"]
    assert preview["Org.nr."][:2] == [corpus.ORG_A, "923 609 016"]
    assert preview["Art"][0] == "12300"

    result = importer.commit(con, ANNA, prepared)
    assert result.rows == corpus.MESSY_ROWS
    lines = con.execute(
        """SELECT source_row, posting_date, period, supplier_id, amount, account, department, invoice_no
           FROM spend ORDER BY source_row""").fetchall()
    assert lines == [
        (5, dt.date(2025, 1, 15), 202501, corpus.ORG_A, Decimal("1234.50"), "12300", "4100", "F-1"),
        (6, dt.date(2025, 2, 15), 202502, corpus.ORG_B, Decimal("1234567.89"), "11200", "3100", "F-2"),
        (7, dt.date(2025, 3, 1), 202503, corpus.ORG_B, Decimal("-1234.50"), "11200", "3100", "F-3"),
        (8, dt.date(2025, 4, 1), 202504, "L:1003", Decimal("2000.00"), "11300", "1200", "F-4"),
        (9, dt.date(2025, 5, 2), 202505, "L:1003", Decimal("-1000.25"), "11300", "1200", "F-5"),
        (10, dt.date(2025, 5, 31), 202505, "L:1004", Decimal("500.00"), "19999", "1100", "F-6"),
        (11, dt.date(2025, 6, 30), 202506, corpus.ORG_A, Decimal("2469.00"), "12300", "4100", "F-7"),
    ]
    sup = dict(con.execute("SELECT supplier_id, name FROM suppliers").fetchall())
    assert sup == {corpus.ORG_A: "Bygg og Betong AS", corpus.ORG_B: "Renhold Vest AS",
                   "L:1003": "IT-Partner AS", "L:1004": "Ukjent Leverandør"}
    assert con.execute("SELECT count(*) FROM departments").fetchone()[0] == 4
    up = con.execute("SELECT rows, total, file_total, status, uploaded_by, sheet FROM uploads").fetchone()
    assert up[0] == 7 and float(up[1]) == pytest.approx(corpus.MESSY_TOTAL) and up[3] == "committed"
    assert up[4] == "anna" and up[5] == "Reskontro"


@pytest.mark.parametrize("header,field", [
    ("Leverandør", "supplier_name"), ("Lev.nr", "supplier_no"), ("Leverandørnavn", "supplier_name"),
    ("Leverandør(T)", "supplier_name"), ("Org.nr.", "orgnr"), ("Orgnr", "orgnr"),
    ("Organisasjonsnummer", "orgnr"), ("Bilagsdato", "posting_date"), ("Fakturadato", "posting_date"),
    ("Periode", "period"), ("Beløp", "amount"), ("Beløp eks. mva", "amount"), ("Art", "account"),
    ("Konto", "account"), ("Ansvar", "department"), ("Ansvar(T)", "department_name"), ("Tjeneste", "service"),
    ("Prosjekt", "project"), ("Kategori", "category"), ("Supplier", "supplier_name"),
    ("Company number", "orgnr"), ("Invoice date", "posting_date"), ("Amount", "amount"),
    ("Net amount", "amount"), ("Department", "department"), ("Expenditure Catergory", "description"),
    ("supplier_name", "supplier_name"), ("Paid Date", "posting_date"),
])
def test_header_synonyms(header, field):
    from akrim_analytics.importer import headers, kinds

    m = headers.Matcher(kinds.get("spend").synonym_table())
    assert m.hits(header)[0].field == field


def test_preview_cell_text():
    from akrim_analytics.importer.pipeline import _as_text

    assert [_as_text(v) for v in (1234.5, -1000.25, 974760673.0, 12, "1234.5", "31.05.2025")] == \
        ["1234,5", "-1000,25", "974760673", "12", "1234.5", "31.05.2025"]
    assert _as_text(dt.datetime(2025, 1, 15)) == "15.01.2025"
    assert _as_text(dt.datetime(2025, 1, 15, 13, 45)) == "15.01.2025 13:45"
    assert _as_text(dt.date(2025, 2, 1)) == "01.02.2025"
    assert _as_text("2025-01-15 00:00:00") == "15.01.2025"      # a date cell in a text column
    assert _as_text("2025-01-15 kl. 10") == "2025-01-15 kl. 10"


def test_konto_tekst_is_not_the_account():
    from akrim_analytics.importer import headers, kinds

    m = headers.Matcher(kinds.get("spend").synonym_table())
    assert all(h.field != "account" for h in m.hits("Konto(T)"))


def test_leverandor_holding_numbers_is_the_supplier_number(con, tmp_path):
    path = corpus.workbook(tmp_path / "a.xlsx", {"Data": [
        ["Bilagsdato", "Leverandør", "Beløp"], ["01.02.2025", 20001, 100], ["02.02.2025", 20002, 200]]})
    prepared = importer.prepare(con, path)
    assert prepared.mapping["supplier_no"] == "Leverandør" and "supplier_name" not in prepared.mapping


def test_amount_date_and_period_formats(con, tmp_path):
    rows = [
        ["01.01.2025", "A", None, "1", "1 234 567,89"],
        ["2025-01-02", "A", None, "2", "1\u00a0234,50"],
        [dt.datetime(2025, 1, 3), "A", None, "3", "-1 234,50"],
        ["202502", "A", None, "4", "(1 234,50)"],
        ["4.3.25", "A", None, "5", "kr 12,5"],
        [45700, "A", None, "6", "12,5 kr"],
        ["20250305", "A", None, "7", "1.234,00"],
        ["2025-03-06 00:00:00", "A", None, "8", ("=1+1", 2)],
        ["06.03.2025", "A", None, "9", 99.99],
    ]
    path = corpus.spend_rows(tmp_path / "f.xlsx", rows, header=["Dato", "Leverandør", "Org.nr.", "Fakturanr", "Beløp"])
    result = importer.import_file(con, ANNA, path)
    got = con.execute("SELECT posting_date, period, amount FROM spend ORDER BY source_row").fetchall()
    assert got == [
        (dt.date(2025, 1, 1), 202501, Decimal("1234567.89")),
        (dt.date(2025, 1, 2), 202501, Decimal("1234.50")),
        (dt.date(2025, 1, 3), 202501, Decimal("-1234.50")),
        (dt.date(2025, 2, 1), 202502, Decimal("-1234.50")),
        (dt.date(2025, 3, 4), 202503, Decimal("12.50")),
        (dt.date(2025, 2, 12), 202502, Decimal("12.50")),
        (dt.date(2025, 3, 5), 202503, Decimal("1234.00")),
        (dt.date(2025, 3, 6), 202503, Decimal("2.00")),
        (dt.date(2025, 3, 6), 202503, Decimal("99.99")),
    ]
    assert result.rows == 9


def test_period_only_column_gives_first_of_month(con, tmp_path):
    path = corpus.workbook(tmp_path / "p.xlsx", {"Data": [
        ["Periode", "Leverandørnavn", "Beløp"], [202503, "X AS", 10], ["2025-04", "X AS", 20], ["05.2025", "X AS", 30]]})
    importer.import_file(con, ANNA, path)
    assert con.execute("SELECT posting_date, period FROM spend ORDER BY source_row").fetchall() == [
        (dt.date(2025, 3, 1), 202503), (dt.date(2025, 4, 1), 202504), (dt.date(2025, 5, 1), 202505)]


def test_text_in_a_number_column_after_a_thousand_rows_is_not_lost(con, tmp_path):
    rows = [[dt.datetime(2025, 1, 1), "A AS", None, f"F{i}", 10.0] for i in range(1500)]
    rows.append([dt.datetime(2025, 1, 2), "A AS", None, "late", "1 234,50"])
    rows.append(["bad date", "A AS", None, "late2", 5.0])
    path = corpus.spend_rows(tmp_path / "late.xlsx", rows)
    prepared = importer.prepare(con, path)
    assert prepared.report["rows_valid"] == 1501 and prepared.report["rows_rejected"] == 1
    rej = prepared.report["rejects"][0]
    assert rej["row"] == 1503 and rej["value"] == "bad date" and rej["reason"] == "unreadable_date"
    assert rej["letter"] == "A" and rej["column"] == "Bilagsdato"
    assert prepared.report["sum_valid"] == pytest.approx(15000 + 1234.5)


def test_org_numbers_as_text_and_number(con, tmp_path):
    rows = [["01.01.2025", "A", int(corpus.ORG_A), "1", 1], ["01.01.2025", "A", " 974 760 673 ", "2", 1],
            ["01.01.2025", "A", "NO 974760673 MVA", "3", 1], ["01.01.2025", "C", corpus.ORG_C, "4", 1]]
    importer.import_file(con, ANNA, corpus.spend_rows(tmp_path / "o.xlsx", rows))
    assert con.execute("SELECT DISTINCT supplier_id FROM spend ORDER BY 1").fetchall() == [
        (corpus.ORG_A,), (corpus.ORG_C,)]


@pytest.mark.parametrize("label", ["Sum", "Totalt", "Total", "SUM:", "Totalsum"])
def test_total_row_is_not_spend_but_reconciles(con, tmp_path, label):
    rows = [["01.01.2025", "A AS", None, "1", 100], ["02.01.2025", "B AS", None, "2", 250.5],
            [None, label, None, None, 350.5]]
    prepared = importer.prepare(con, corpus.spend_rows(tmp_path / "t.xlsx", rows, title_rows=2))
    rep = prepared.report
    assert rep["rows_total"] == 1 and rep["rows_valid"] == 2 and rep["file_total"] == 350.5
    assert rep["reconciliation"] == ("Filens sumlinje (rad 6) sier 350,50 kr; radene som importeres summerer til "
                                     "350,50 kr. Det stemmer.")


def test_reconciliation_names_a_difference(con, tmp_path):
    rows = [["01.01.2025", "A AS", None, "1", 100], [None, None, None, None, 150]]
    rep = importer.prepare(con, corpus.spend_rows(tmp_path / "d.xlsx", rows)).report
    assert rep["file_total"] == 150 and "Differanse: 50,00 kr" in rep["reconciliation"]


def test_a_supplier_called_total_is_not_a_total_row(con, tmp_path):
    rows = [["01.01.2025", "Total Norge AS", corpus.ORG_A, "1", 100], ["01.01.2025", "Summit AS", None, "2", 5]]
    rep = importer.prepare(con, corpus.spend_rows(tmp_path / "n.xlsx", rows)).report
    assert rep["rows_total"] == 0 and rep["rows_valid"] == 2


def test_ambiguous_sheets_make_the_analyst_choose(con, tmp_path):
    data = [["Bilagsdato", "Leverandør", "Beløp"], ["01.01.2025", "A AS", 10]]
    other = [["Bilagsdato", "Leverandør", "Beløp"], ["01.01.2024", "B AS", 20]]
    path = corpus.workbook(tmp_path / "two.xlsx", {"2025": data, "2024": other})
    before = snapshot(con)
    prepared = importer.prepare(con, path)
    assert prepared.sheet_ambiguous and {c.name for c in prepared.sheets if c.is_data} == {"2025", "2024"}
    with pytest.raises(ImportRefused) as e:
        importer.commit(con, ANNA, prepared)
    assert e.value.code == "ambiguous_sheet" and "«2025»" in str(e.value) and "«2024»" in str(e.value)
    assert snapshot(con) == before
    result = importer.import_file(con, ANNA, path, sheet="2024")
    assert result.sheet == "2024" and result.total == 20


def test_rejected_rows_refuse_the_file_by_default(con, tmp_path):
    rows = [["01.01.2025", "A AS", None, "1", 100], ["xx.01.2025", "B AS", None, "2", 200],
            ["03.01.2025", None, None, "3", 300], ["04.01.2025", "D AS", None, "4", "tolv"]]
    path = corpus.spend_rows(tmp_path / "bad.xlsx", rows)
    before = snapshot(con)
    with pytest.raises(ImportRefused) as e:
        importer.import_file(con, ANNA, path)
    msg = str(e.value)
    assert e.value.code == "rejected_rows" and "bad.xlsx" in msg and "ark «Data»" in msg
    assert "rad 3, kolonne A «Bilagsdato»" in msg and ": 3 av radene kunne ikke leses" in msg
    assert snapshot(con) == before

    result = importer.import_file(con, ANNA, path, accept_valid_rows=True)
    assert result.rows == 1 and result.rejected_rows == 3 and result.accepted_valid_only
    up = con.execute("SELECT accepted_valid_only, rejected_rows, report FROM uploads").fetchone()
    assert up[0] is True and up[1] == 3
    stored = json.loads(up[2])
    assert {(r["row"], r["reason"]) for r in stored["rejects"]} == {
        (3, "unreadable_date"), (4, "no_supplier"), (5, "unreadable_amount")}
    assert stored["accepted_valid_only"] is True


def test_validation_report_xlsx_is_formula_safe(con, tmp_path):
    rows = [["01.01.2025", "A AS", None, "1", '=HYPERLINK("http://evil","x")'], ["02.01.2025", "B", None, "2", "@SUM(1)"]]
    prepared = importer.prepare(con, corpus.spend_rows(tmp_path / "inj.xlsx", rows))
    data = importer.report_xlsx(prepared.report)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["Avviste rader"]
    values = [c.value for row in ws.iter_rows(min_row=2) for c in row]
    assert "'=HYPERLINK(\"http://evil\",\"x\")" in values and "'@SUM(1)" in values
    assert not any(isinstance(v, str) and v.startswith("=") for row in wb.worksheets for r in row.iter_rows()
                   for v in [c.value for c in r])
    assert ws["A2"].value == 2 and ws["B2"].value == "E"


def test_text_is_stored_verbatim(con, tmp_path):
    hostile = ["<script>alert('x')</script>", '=HYPERLINK("http://evil","klikk")', "'; DROP TABLE spend; --",
               "Firma \u202eSA sA\u202c", "<b>fet</b> & «sitat»"]
    rows = [["01.01.2025", name, None, str(i), 10, name] for i, name in enumerate(hostile)]
    path = corpus.spend_rows(tmp_path / "x.xlsx", rows,
                             header=["Bilagsdato", "Leverandørnavn", "Org.nr.", "Fakturanr", "Beløp", "Tekst"])
    importer.import_file(con, ANNA, path)
    assert [r[0] for r in con.execute("SELECT description FROM spend ORDER BY source_row").fetchall()] == hostile
    assert sorted(r[0] for r in con.execute("SELECT name FROM suppliers").fetchall()) == sorted(hostile)


def test_same_file_twice_is_not_counted_twice(con, tmp_path):
    path = corpus.messy_spend(tmp_path / "r.xlsx")
    importer.import_file(con, ANNA, path)
    before = snapshot(con)
    with pytest.raises(ImportRefused) as e:
        importer.import_file(con, BOB, path)
    assert e.value.code == "duplicate_file" and "opplasting 1" in str(e.value)
    assert snapshot(con) == before


def test_overlapping_lines_are_reported_not_duplicated(con, tmp_path):
    first = [["01.01.2025", "A AS", corpus.ORG_A, "F1", 100], ["02.01.2025", "A AS", corpus.ORG_A, "F2", 200]]
    second = [["02.01.2025", "A AS", corpus.ORG_A, "F2", 200], ["03.01.2025", "A AS", corpus.ORG_A, "F3", 300]]
    importer.import_file(con, ANNA, corpus.spend_rows(tmp_path / "jan.xlsx", first))
    prepared = importer.prepare(con, corpus.spend_rows(tmp_path / "jan-feb.xlsx", second))
    d = prepared.report["details"]
    assert d["overlap_rows"] == 1 and d["overlaps"][0]["row"] == 2 and d["overlaps"][0]["upload_id"] == 1
    result = importer.commit(con, ANNA, prepared)
    assert result.rows == 1 and result.overlaps == 1 and result.total == 300
    assert con.execute("SELECT count(*), sum(amount) FROM spend").fetchone() == (3, Decimal("600.00"))


def test_mapping_is_confirmed_saved_and_reused(con, tmp_path):
    header = ["Dato", "Firma", "Kr", "Kostnadsbærer"]
    path1 = corpus.workbook(tmp_path / "m1.xlsx", {"Data": [header, ["01.01.2025", "A AS", 10, "X"]]})
    prepared = importer.prepare(con, path1)
    assert prepared.mapping_source == "suggested" and "amount" not in prepared.mapping
    with pytest.raises(ImportRefused) as e:
        importer.commit(con, ANNA, prepared)
    assert e.value.code == "missing_field" and "Beløp" in str(e.value) and "«Kr»" in str(e.value)
    prepared = importer.remap(con, prepared, {"posting_date": "Dato", "supplier_name": "Firma", "amount": "Kr"})
    importer.commit(con, ANNA, prepared, save_mapping_as="Lokal økonomi")
    # the next file of the same shape (other data) uses the saved mapping
    path2 = corpus.workbook(tmp_path / "m2.xlsx", {"Data": [header, ["01.02.2025", "B AS", 20, "Y"]]})
    p2 = importer.prepare(con, path2)
    assert p2.mapping_source == "saved" and p2.mapping_name == "Lokal økonomi" and p2.mapping["amount"] == "Kr"
    # ... and the command line can name it
    path3 = corpus.workbook(tmp_path / "m3.xlsx", {"Data": [header, ["01.03.2025", "C AS", 30, "Z"]]})
    r = importer.import_file(con, ANNA, path3, mapping="Lokal økonomi")
    assert r.total == 30
    assert audit.entries(con, action="mapping_save")["object_id"].tolist() == ["Lokal økonomi"]
    with pytest.raises(ImportRefused) as e:
        importer.prepare(con, path3, mapping="finnes ikke")
    assert e.value.code == "mapping_not_found"


def test_categorised_by_rules_without_a_category_column(con, tmp_path):
    con.execute("INSERT INTO suppliers (supplier_id, orgnr, name, nace_code) VALUES (?, ?, 'Bygg AS', '43.210')",
                [corpus.ORG_A, corpus.ORG_A])
    rows = [["01.01.2025", "Bygg AS", corpus.ORG_A, "1", 100, "11000"],
            ["01.01.2025", "Vask AS", None, "2", 50, "12600"],
            ["01.01.2025", "Noe AS", None, "3", 25, "19999"]]
    path = corpus.spend_rows(tmp_path / "c.xlsx", rows,
                             header=["Bilagsdato", "Leverandørnavn", "Org.nr.", "Fakturanr", "Beløp", "Art"])
    importer.import_file(con, ANNA, path)
    assert con.execute("SELECT category, category_source FROM spend ORDER BY source_row").fetchall() == [
        ("BYGG", "nace"), ("PERSONELL", "account"), ("UKLASS", "none")]
    s = importer.unclassified_summary(con, 2025)
    assert s["share"] == pytest.approx(25 / 175)


def test_category_column_is_used_when_given(con, tmp_path):
    rows = [["01.01.2025", "A AS", None, "1", 100, "IKT"], ["01.01.2025", "B AS", None, "2", 50, "Mat og drikke"],
            ["01.01.2025", "C AS", None, "3", 25, "Noe annet"]]
    path = corpus.spend_rows(tmp_path / "k.xlsx", rows,
                             header=["Bilagsdato", "Leverandørnavn", "Org.nr.", "Fakturanr", "Beløp", "Kategori"])
    prepared = importer.prepare(con, path)
    assert prepared.report["details"]["unknown_categories"] == ["Noe annet"]
    importer.commit(con, ANNA, prepared)
    assert con.execute("SELECT category, category_source FROM spend ORDER BY source_row").fetchall() == [
        ("IKT", "file"), ("MAT", "file"), ("UKLASS", "none")]


def test_undo_removes_exactly_its_rows_and_respects_roles(con, tmp_path):
    importer.import_file(con, ANNA, corpus.spend_rows(tmp_path / "a.xlsx", [["01.01.2025", "A AS", None, "1", 100]]))
    before = snapshot(con)
    r = importer.import_file(con, BOB, corpus.messy_spend(tmp_path / "b.xlsx"))
    with pytest.raises(auth.PermissionDenied):
        importer.undo_upload(con, ANNA, r.upload_id)        # not hers
    with pytest.raises(auth.PermissionDenied):
        importer.undo_upload(con, LEDER, r.upload_id)
    importer.undo_upload(con, BOB, r.upload_id)
    after = snapshot(con)
    for key in ("spend", "spend_sum", "suppliers", "departments"):
        assert after[key] == before[key], key
    assert con.execute("SELECT status, undone_by FROM uploads WHERE upload_id = ?", [r.upload_id]).fetchone() == (
        "undone", "bob")
    with pytest.raises(ImportRefused) as e:
        importer.undo_upload(con, BOB, r.upload_id)
    assert e.value.code == "upload_not_committed"
    importer.undo_upload(con, ADMIN, 1)                      # an admin may undo anyone's
    assert con.execute("SELECT count(*) FROM spend").fetchone()[0] == 0
    # undone: the same file may be imported again
    assert importer.import_file(con, BOB, tmp_path / "b.xlsx").rows == corpus.MESSY_ROWS


def test_leder_may_not_import(con, tmp_path):
    with pytest.raises(auth.PermissionDenied):
        importer.import_file(con, LEDER, corpus.messy_spend(tmp_path / "r.xlsx"))


def test_writes_audit_bump_version_and_call_hooks_in_the_transaction(con, tmp_path, monkeypatch):
    seen = []

    def listener(c, user, reason):
        seen.append((user.username, reason, c.execute("SELECT count(*) FROM spend").fetchone()[0]))

    import sys
    import types

    mod = types.ModuleType("import_hook_probe")
    mod.listener = listener
    monkeypatch.setitem(sys.modules, "import_hook_probe", mod)
    monkeypatch.setattr(hooks, "AFTER_DATA_CHANGE", ["import_hook_probe:listener"])
    v0 = db.data_version(con)
    stages = []
    r = importer.import_file(con, ANNA, corpus.messy_spend(tmp_path / "r.xlsx"),
                             progress=lambda s, f: stages.append(s))
    assert seen == [("anna", "import", corpus.MESSY_ROWS)]
    assert db.data_version(con) == v0 + 1
    assert {"read", "validate", "commit"} <= set(stages)
    entry = audit.entries(con, action="upload").iloc[0]
    assert entry["username"] == "anna" and entry["object_id"] == str(r.upload_id)
    assert json.loads(entry["details"])["rows"] == corpus.MESSY_ROWS
    importer.undo_upload(con, ANNA, r.upload_id)
    assert seen[-1] == ("anna", "undo", 0) and db.data_version(con) == v0 + 2
    assert audit.entries(con, action="undo")["object_id"].tolist() == [str(r.upload_id)]


def test_a_failing_hook_rolls_the_import_back(con, tmp_path, monkeypatch):
    import sys
    import types

    def boom(c, user, reason):
        raise RuntimeError("listener failed")

    mod = types.ModuleType("import_hook_boom")
    mod.boom = boom
    monkeypatch.setitem(sys.modules, "import_hook_boom", mod)
    monkeypatch.setattr(hooks, "AFTER_DATA_CHANGE", ["import_hook_boom:boom"])
    before = snapshot(con)
    with pytest.raises(RuntimeError):
        importer.import_file(con, ANNA, corpus.messy_spend(tmp_path / "r.xlsx"))
    assert snapshot(con) == before


def test_csv_export_with_title_rows_in_windows_1252(con, tmp_path):
    text = ("Leverandørreskontro;;;\r\nUtskrevet 15.01.2026;;;\r\n;;;\r\n"
            "Bilagsdato;Leverandør;Org.nr.;Beløp\r\n"
            "01.02.2025;Kafé Ærlig AS;974760673;1 234,50\r\n"
            "02.02.2025;Øvre Renhold AS;;-200,00\r\n"
            "Sum;;;1 034,50\r\n")
    path = tmp_path / "eksport.csv"
    path.write_bytes(text.encode("cp1252"))
    result = importer.import_file(con, ANNA, path)
    assert result.rows == 2 and result.total == pytest.approx(1034.5) and result.file_total == pytest.approx(1034.5)
    assert sorted(r[0] for r in con.execute("SELECT name FROM suppliers").fetchall()) == [
        "Kafé Ærlig AS", "Øvre Renhold AS"]
    assert con.execute("SELECT min(source_row) FROM spend").fetchone()[0] == 5


def test_messages_about_a_csv_file_name_no_sheet(con, tmp_path):
    """A CSV file has no sheets: its messages name the file, row and column only."""
    path = tmp_path / "eksport.csv"
    path.write_text("Bilagsdato;Leverandør;Beløp\n01.02.2025;A AS;100\nxx.02.2025;B AS;200\n", encoding="utf-8")
    before = snapshot(con)
    with pytest.raises(ImportRefused) as e:
        importer.import_file(con, ANNA, path)
    assert str(e.value).startswith("«eksport.csv»: 1 av radene kunne ikke leses – første: rad 3, kolonne A «Bilagsdato»")
    assert e.value.message("en").startswith("“eksport.csv”: 1 of the rows could not be read – first: ")
    path.write_text("Bilagsdato;Leverandør;Antall\n01.02.2025;A AS;1\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as e:
        importer.import_file(con, ANNA, path)
    assert e.value.code == "missing_field" and "ark" not in str(e.value)
    assert "Fant ingen kolonne for Beløp i «eksport.csv» (overskriftsrad 1)" in str(e.value)
    assert snapshot(con) == before
    # a workbook's messages still name the sheet
    assert "i arket «Data» i «x.xlsx»" in ImportRefused("missing_field", fields="Beløp", sheet="Data", file="x.xlsx",
                                                        row=1, found="«A»").message("nb")


def test_parsers_on_values():
    """The SQL parsers directly, on the formats the issue names."""
    import duckdb
    import pyarrow as pa

    from akrim_analytics.importer import parsing

    c = duckdb.connect()
    vals = ["1 234 567,89", "1\u00a0234,50", "-1 234,50", "(1 234,50)", "kr 1 234", "1 234 kr", "1 234,-",
            "1.234.567,89", "1,000.00", "  2 850 830", "-   18 647", "abc", None]
    c.register("_raw", pa.table({"c0": pa.array(vals)}))
    got = [r[0] for r in c.execute(f"SELECT {parsing.amount('c0', pa.string(), ',')} FROM _raw").fetchall()]
    assert got == [Decimal("1234567.89"), Decimal("1234.50"), Decimal("-1234.50"), Decimal("-1234.50"),
                   Decimal("1234.00"), Decimal("1234.00"), Decimal("1234.00"), Decimal("1234567.89"),
                   Decimal("1000.00"), Decimal("2850830.00"), Decimal("-18647.00"), None, None]
    import random

    rnd = random.Random(7)
    nums = [str(rnd.randint(800000000, 999999999)) for _ in range(3000)]
    c.register("_o", pa.table({"c0": pa.array(nums)}))
    res = c.execute(f"SELECT c0, {parsing.orgnr('c0', pa.string())} FROM _o").fetchall()
    assert all(b == orgnr.clean(a) for a, b in res) and sum(1 for _, b in res if b) > 100


def test_cell_error_values_are_recovered():
    from akrim_analytics.importer.reader import cell_error_text

    assert cell_error_text("Expected float but got 'String(\"a\\\"b\\\\c\\u{a0}d\")'") == 'a"b\\c\u00a0d'
    assert cell_error_text("Expected float but got 'Error(Div0)'") == "#DIV/0!"
    assert cell_error_text("something else") is None


def test_a_column_read_again_as_text_is_the_right_one_when_the_sheet_starts_after_column_a(tmp_path, monkeypatch):
    """A late cell whose value fastexcel's message does not give is read again with its
    column as text: named by its header, as fastexcel takes an int key as the sheet's
    column (C here), not the table's position."""
    import xlsxwriter

    from akrim_analytics.importer import fileformat, reader

    path = tmp_path / "offset.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Data")
    ws.write_row(2, 2, ["Leverandørnavn", "Beløp"])
    for i in range(1500):
        ws.write_string(3 + i, 2, f"Lev {i}")
        ws.write_number(3 + i, 3, 10.5)
    ws.write_formula(1503, 3, "=1/0", None, "#DIV/0!")   # reported: its column is read again as text
    ws.write_boolean(1504, 3, True)                      # not reported (a float read takes it as 1.0)
    wb.close()
    monkeypatch.setattr(reader, "cell_error_text", lambda detail: None)
    info = fileformat.inspect(path)
    raw = reader.read(info, reader.scan(info), "Data", 2)
    amounts = raw.table.column("c1").to_pylist()
    assert [c.letter for c in raw.columns] == ["C", "D"]
    assert amounts[-1] == "true" and amounts[0] == "10.5"   # not 1.0: the cell as the file has it
    assert raw.table.column("c0").to_pylist()[:2] == ["Lev 0", "Lev 1"]


def test_calamine_scan_agrees_with_the_streaming_scan(tmp_path):
    """xls/xlsb/ods are scanned with python-calamine: same header rows as the xlsx stream."""
    from akrim_analytics.importer import fileformat, reader

    path = corpus.messy_spend(tmp_path / "r.xlsx")
    info = fileformat.inspect(path)
    streamed = {h.name: h.rows[:6] for h in reader._scan_xlsx(info)}
    calamine = {h.name: h.rows[:6] for h in reader._scan_calamine(info)}
    assert list(streamed) == list(calamine) == ["Parametre", "Reskontro"]
    for name in streamed:
        assert [r for r, _ in streamed[name]] == [r for r, _ in calamine[name]]
        assert [set(c) for _, c in streamed[name]] == [set(c) for _, c in calamine[name]]
    head = calamine["Reskontro"]
    assert head[2][1][0] == "Lev.nr" and head[2][0] == 3


def test_two_imports_at_once_one_wins_and_the_other_is_refused_cleanly(db_path, tmp_path):
    """Two sessions (cursors of one connection) commit files that create the same supplier:
    the loser gets one message and nothing of it is stored."""
    base = db.connect(db_path)
    c1, c2 = base.cursor(), base.cursor()
    p1 = importer.prepare(c1, corpus.spend_rows(tmp_path / "a.xlsx", [["01.01.2025", "Ny AS", corpus.ORG_C, "1", 10]]))
    p2 = importer.prepare(c2, corpus.spend_rows(tmp_path / "b.xlsx", [["02.01.2025", "Ny AS", corpus.ORG_C, "2", 20]]))
    c2.execute("BEGIN TRANSACTION")
    c2.execute("INSERT INTO suppliers (supplier_id, orgnr, name) VALUES (?, ?, 'Ny AS (samtidig)')",
               [corpus.ORG_C, corpus.ORG_C])
    importer.commit(c1, ANNA, p1)            # commits first
    c2.execute("ROLLBACK")
    # c2 prepared before c1 committed: its commit must still not duplicate the supplier
    r2 = importer.commit(c2, BOB, p2)
    assert r2.rows == 1
    assert base.execute("SELECT count(*) FROM suppliers").fetchone()[0] == 1
    assert base.execute("SELECT sum(amount) FROM spend").fetchone()[0] == 30
    base.close()


def test_a_write_conflict_is_one_clear_message_and_nothing_stored(db_path, tmp_path, monkeypatch):
    """While an import commits, another session stores the same new supplier first."""
    import sys
    import types

    base = db.connect(db_path)
    c1, c2 = base.cursor(), base.cursor()
    p2 = importer.prepare(c2, corpus.spend_rows(tmp_path / "b.xlsx", [["02.01.2025", "Ny AS", corpus.ORG_C, "2", 20]]))

    def meanwhile(c, user, reason):       # runs inside the import's transaction
        c1.execute("INSERT INTO suppliers (supplier_id, orgnr, name) VALUES (?, ?, 'Ny AS')",
                   [corpus.ORG_C, corpus.ORG_C])

    mod = types.ModuleType("import_conflict_probe")
    mod.meanwhile = meanwhile
    monkeypatch.setitem(sys.modules, "import_conflict_probe", mod)
    monkeypatch.setattr(hooks, "AFTER_DATA_CHANGE", ["import_conflict_probe:meanwhile"])
    with pytest.raises(ImportRefused) as e:
        importer.commit(c2, BOB, p2)
    assert e.value.code == "concurrent_change" and "b.xlsx" in str(e.value)
    assert base.execute("SELECT count(*) FROM spend").fetchone()[0] == 0
    assert base.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0
    assert base.execute("SELECT name FROM suppliers").fetchall() == [("Ny AS",)]   # the other session's row
    base.close()
