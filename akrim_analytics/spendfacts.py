"""Per-supplier spend facts (the first posting date), kept in step with ``spend``.

The risk engine needs every supplier's first invoice (domain.md §5.4: founded shortly
before its first invoice). Grouping all spend lines for it on every re-score was a
large part of a re-score's cost; the facts change only when spend lines are added or
removed, so they are stored in ``supplier_spend_facts`` and brought up to date by
``ensure`` at the start of each scoring run (inside its transaction):

* nothing changed (same number of lines, same highest upload id): nothing to do;
* only new uploads were added (every line up to the old highest upload id is still
  there and the count grew): merge the new uploads' lines into the facts — an import
  pays for its own lines only (upload ids only grow: ``upload_seq``);
* anything else (an upload undone, lines written outside the import): rebuild from
  all spend lines, exactly as before.

No writer changes a spend line's ``supplier_id`` or ``posting_date`` in place (imports
insert, undo deletes; categorising and contract linking update other columns), which
is what makes the line count and highest upload id enough to notice a change.
"""
from __future__ import annotations

import duckdb


def _rebuild(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM supplier_spend_facts")
    con.execute("""INSERT INTO supplier_spend_facts
                   SELECT supplier_id, min(posting_date)
                   FROM spend WHERE supplier_id IS NOT NULL GROUP BY supplier_id""")


def _merge_after(con: duckdb.DuckDBPyConnection, upload_id: int) -> None:
    """Fold the lines of uploads above ``upload_id`` into the facts."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _spendfacts_new AS
                   SELECT supplier_id, min(posting_date) AS first_posting
                   FROM spend WHERE upload_id > ? AND supplier_id IS NOT NULL GROUP BY supplier_id""", [upload_id])
    try:
        con.execute("""UPDATE supplier_spend_facts f
                       SET first_posting = least(f.first_posting, n.first_posting)
                       FROM _spendfacts_new n WHERE f.supplier_id = n.supplier_id""")
        con.execute("""INSERT INTO supplier_spend_facts
                       SELECT n.* FROM _spendfacts_new n
                       WHERE NOT EXISTS (SELECT 1 FROM supplier_spend_facts f WHERE f.supplier_id = n.supplier_id)""")
    finally:
        con.execute("DROP TABLE IF EXISTS temp._spendfacts_new")


def ensure(con: duckdb.DuckDBPyConnection) -> str:
    """Bring ``supplier_spend_facts`` up to date with ``spend``; call inside a write
    transaction. Returns what it did: ``"current"``, ``"merged"`` or ``"rebuilt"``."""
    rows, max_upload = con.execute("SELECT count(*), max(upload_id) FROM spend").fetchone()
    state = con.execute("SELECT spend_rows, max_upload FROM supplier_spend_facts_state").fetchall()
    old = state[0] if len(state) == 1 else None
    if old is not None and old == (rows, max_upload):
        return "current"
    done = "rebuilt"
    if old is not None and old[1] is not None and max_upload is not None and rows > old[0] and max_upload > old[1]:
        kept = con.execute("SELECT count(*) FROM spend WHERE upload_id <= ?", [old[1]]).fetchone()[0]
        if kept == old[0]:
            _merge_after(con, old[1])
            done = "merged"
    if done == "rebuilt":
        _rebuild(con)
    con.execute("DELETE FROM supplier_spend_facts_state")
    con.execute("INSERT INTO supplier_spend_facts_state VALUES (?, ?)", [rows, max_upload])
    return done
