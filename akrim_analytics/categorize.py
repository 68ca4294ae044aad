"""Rule-based categorisation of spend lines (supplier NACE first, then account).

All in SQL over the whole batch: the longest matching prefix wins within a rule type;
a NACE rule beats an account rule; what no rule places is 'UKLASS'. A category
given in the file itself (category_source = 'file') is never overwritten.
NACE is per supplier and accounts are few, so the rules are matched against the
distinct (supplier, account) pairs, never line by line.
"""
from __future__ import annotations

import duckdb

UNCLASSIFIED = "UKLASS"

SUPPLIER_CATEGORY_SQL = """
SELECT sup.supplier_id, arg_max(r.category, length(r.prefix)) AS category
FROM suppliers sup
JOIN category_rules r ON r.rule_type = 'nace' AND starts_with(sup.nace_code, r.prefix)
GROUP BY sup.supplier_id
"""

ACCOUNT_CATEGORY_SQL = """
SELECT a.account, arg_max(r.category, length(r.prefix)) AS category
FROM (SELECT DISTINCT account FROM spend WHERE account IS NOT NULL) a
JOIN category_rules r ON r.rule_type = 'account' AND starts_with(a.account, r.prefix)
GROUP BY a.account
"""


def categorize(con: duckdb.DuckDBPyConnection, upload_id: int | None = None) -> None:
    """(Re)categorise spend lines by the rules: all lines, or those of one upload."""
    con.execute(
        f"""
        UPDATE spend SET
            category = coalesce(m.nace_category, m.account_category, '{UNCLASSIFIED}'),
            category_source = CASE WHEN m.nace_category IS NOT NULL THEN 'nace'
                                   WHEN m.account_category IS NOT NULL THEN 'account'
                                   ELSE 'none' END
        FROM (
            SELECT p.supplier_id, p.account, sc.category AS nace_category, ac.category AS account_category
            FROM (SELECT DISTINCT supplier_id, account FROM spend
                  WHERE (? IS NULL OR upload_id = ?)) p
            LEFT JOIN ({SUPPLIER_CATEGORY_SQL}) sc ON sc.supplier_id = p.supplier_id
            LEFT JOIN ({ACCOUNT_CATEGORY_SQL}) ac ON ac.account = p.account
        ) m
        WHERE spend.supplier_id IS NOT DISTINCT FROM m.supplier_id
          AND spend.account IS NOT DISTINCT FROM m.account
          AND (? IS NULL OR spend.upload_id = ?)
          AND coalesce(spend.category_source, '') <> 'file'
        """,
        [upload_id, upload_id, upload_id, upload_id],
    )


def supplier_categories(con: duckdb.DuckDBPyConnection):
    """supplier_id → category by the NACE rules (suppliers no rule places are absent)."""
    return con.execute(SUPPLIER_CATEGORY_SQL).df()


def unclassified_share(con: duckdb.DuckDBPyConnection, year: int | None = None) -> float:
    """Share (0..1) of spend, by amount, that no rule placed in a category."""
    row = con.execute(
        """SELECT sum(amount) FILTER (WHERE category = ?), sum(amount)
           FROM spend WHERE ? IS NULL OR year(posting_date) = ?""",
        [UNCLASSIFIED, year, year],
    ).fetchone()
    if not row[1]:
        return 0.0
    return float(row[0] or 0) / float(row[1])
