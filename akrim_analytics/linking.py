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
