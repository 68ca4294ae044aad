"""Linking spend lines to contracts."""
from __future__ import annotations


def link_contracts(con, upload_id: int | None = None) -> None:
    """Attach spend lines to the contract of their supplier that was running on the
    posting date (the newest such contract when several overlap); other lines keep
    contract_id NULL, which is what "spend without contract" means."""
    con.execute(
        """UPDATE spend SET contract_id = m.contract_id
           FROM (
               SELECT s.rowid AS rid, arg_max(c.contract_id, c.start_date) AS contract_id
               FROM spend s JOIN contracts c
                 ON c.supplier_id = s.supplier_id
                AND s.posting_date BETWEEN coalesce(c.start_date, DATE '1900-01-01')
                                       AND coalesce(c.end_date, DATE '9999-12-31')
               WHERE ? IS NULL OR s.upload_id = ?
               GROUP BY s.rowid
           ) m
           WHERE spend.rowid = m.rid""",
        [upload_id, upload_id],
    )


def relink_suppliers(con, supplier_ids) -> int:
    """Link the spend of only these suppliers again, from scratch (after one contract
    was created, edited or ended): their lines are unlinked, then matched like
    ``link_contracts`` does. Returns how many of their lines now have a contract."""
    ids = sorted({s for s in supplier_ids if s is not None})
    if not ids:
        return 0
    con.execute("UPDATE spend SET contract_id = NULL WHERE list_contains(?, supplier_id) AND contract_id IS NOT NULL",
                [ids])
    con.execute(
        """UPDATE spend SET contract_id = m.contract_id
           FROM (
               SELECT s.rowid AS rid, arg_max(c.contract_id, c.start_date) AS contract_id
               FROM spend s JOIN contracts c
                 ON c.supplier_id = s.supplier_id
                AND s.posting_date BETWEEN coalesce(c.start_date, DATE '1900-01-01')
                                       AND coalesce(c.end_date, DATE '9999-12-31')
               WHERE list_contains(?, s.supplier_id)
               GROUP BY s.rowid
           ) m
           WHERE spend.rowid = m.rid""",
        [ids],
    )
    return con.execute("SELECT count(*) FROM spend WHERE list_contains(?, supplier_id) AND contract_id IS NOT NULL",
                       [ids]).fetchone()[0]
