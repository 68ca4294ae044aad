"""Per-supplier spend facts (``akrim_analytics.spendfacts``) stay equal to what the spend
lines say, whatever was written: new uploads are merged, anything else rebuilds."""
from __future__ import annotations

import datetime as dt

import xlsxwriter

from akrim_analytics import db, importer, risk, spendfacts
from akrim_analytics.auth import SYSTEM, User


def _facts(con) -> list:
    return con.execute("SELECT * FROM supplier_spend_facts ORDER BY supplier_id").fetchall()


def _truth(con) -> list:
    return con.execute("""SELECT supplier_id, min(posting_date) FROM spend
                          WHERE supplier_id IS NOT NULL GROUP BY ALL ORDER BY supplier_id""").fetchall()


def _add(con, upload_id: int, rows: list[tuple[str | None, str]]) -> None:
    for supplier_id, day in rows:
        d = dt.date.fromisoformat(day)
        con.execute("""INSERT INTO spend (upload_id, posting_date, period, supplier_id, amount, category)
                       VALUES (?, ?, ?, ?, 100, 'UKLASS')""", [upload_id, d, d.year * 100 + d.month, supplier_id])


def test_facts_follow_inserts_and_deletes(con):
    assert spendfacts.ensure(con) == "rebuilt"  # first use: nothing yet, state stored
    assert _facts(con) == []
    _add(con, 1, [("A", "2025-03-01"), ("A", "2025-01-15"), ("B", "2025-02-01"), (None, "2024-01-01")])
    _add(con, 2, [("B", "2025-06-30")])
    assert spendfacts.ensure(con) == "rebuilt"  # the state had no upload id to merge above
    assert _facts(con) == _truth(con) == [("A", dt.date(2025, 1, 15)), ("B", dt.date(2025, 2, 1))]
    assert spendfacts.ensure(con) == "current"
    # a new upload: an earlier line for A, a later one for B, a new supplier C
    _add(con, 3, [("A", "2024-12-31"), ("B", "2025-09-01"), ("C", "2025-05-05")])
    assert spendfacts.ensure(con) == "merged"
    assert _facts(con) == _truth(con)
    assert _facts(con)[0] == ("A", dt.date(2024, 12, 31))
    # an upload removed (undo): rebuilt, A's first line is the old one again
    con.execute("DELETE FROM spend WHERE upload_id = 3")
    assert spendfacts.ensure(con) == "rebuilt"
    assert _facts(con) == _truth(con)
    assert [r[0] for r in _facts(con)] == ["A", "B"]
    # lines written under an old upload id (not an import): noticed by the count, rebuilt
    _add(con, 1, [("D", "2020-01-01")])
    assert spendfacts.ensure(con) == "rebuilt"
    assert _facts(con) == _truth(con)
    # the same number of lines but other ones (one deleted, one added under a new id)
    con.execute("DELETE FROM spend WHERE supplier_id = 'D'")
    _add(con, 4, [("E", "2021-01-01")])
    assert spendfacts.ensure(con) == "rebuilt"
    assert _facts(con) == _truth(con)


def test_a_failed_transaction_leaves_facts_and_state_as_they_were(con):
    _add(con, 1, [("A", "2025-01-01")])
    spendfacts.ensure(con)
    before = _facts(con)
    try:
        with db.transaction(con):
            _add(con, 2, [("A", "2020-01-01")])
            assert spendfacts.ensure(con) == "merged"
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _facts(con) == before
    assert spendfacts.ensure(con) == "current"


def _xlsx(path, rows):
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Data")
    ws.write_row(0, 0, ["Bilagsdato", "Leverandør", "Org.nr.", "Beløp"])
    for i, r in enumerate(rows, start=1):
        ws.write_row(i, 0, r)
    wb.close()


def test_import_and_undo_keep_the_first_invoice_a_risk_run_uses(demo_db_copy, tmp_path):
    con = db.connect(demo_db_copy("spendfacts"))
    try:
        analyst = User("ana", "analytiker")
        sup = con.execute("""SELECT supplier_id, orgnr, name FROM suppliers
                             WHERE orgnr IS NOT NULL AND supplier_id IN (SELECT supplier_id FROM spend)
                             ORDER BY supplier_id LIMIT 1""").fetchone()
        first_before = con.execute("SELECT first_posting FROM supplier_spend_facts WHERE supplier_id = ?",
                                   [sup[0]]).fetchone()[0]
        early = dt.date(2015, 6, 1)
        assert early < first_before
        f = tmp_path / "early.xlsx"
        _xlsx(f, [[early.strftime("%d.%m.%Y"), sup[2], sup[1], "12 345,00"]])
        res = importer.import_file(con, analyst, f)
        # the import re-scored risk in its transaction: the facts took the new line
        assert _facts(con) == _truth(con)
        assert con.execute("SELECT first_posting FROM supplier_spend_facts WHERE supplier_id = ?",
                           [sup[0]]).fetchone()[0] == early
        importer.undo_upload(con, analyst, res.upload_id)
        assert _facts(con) == _truth(con)
        assert con.execute("SELECT first_posting FROM supplier_spend_facts WHERE supplier_id = ?",
                           [sup[0]]).fetchone()[0] == first_before
        risk.score_all(con, SYSTEM, reason="after undo")
        assert spendfacts.ensure(con) == "current"
    finally:
        con.close()
