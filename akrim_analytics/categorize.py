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


def pair_categories_sql(pairs: str) -> str:
    """SQL giving (supplier_id, account, category, category_source) for the distinct
    (supplier_id, account) pairs of the relation ``pairs`` (a fixed name or subquery from
    the code, never user text). The one definition of the rules, used by ``categorize``
    and by the importer, which categorises lines as it inserts them."""
    return f"""
        SELECT p.supplier_id, p.account,
               coalesce(sc.category, ac.category, '{UNCLASSIFIED}') AS category,
               CASE WHEN sc.category IS NOT NULL THEN 'nace'
                    WHEN ac.category IS NOT NULL THEN 'account'
                    ELSE 'none' END AS category_source
        FROM (SELECT DISTINCT supplier_id, account FROM {pairs}) p
        LEFT JOIN ({SUPPLIER_CATEGORY_SQL}) sc ON sc.supplier_id = p.supplier_id
        LEFT JOIN (SELECT a.account, arg_max(r.category, length(r.prefix)) AS category
                   FROM (SELECT DISTINCT account FROM {pairs} WHERE account IS NOT NULL) a
                   JOIN category_rules r ON r.rule_type = 'account' AND starts_with(a.account, r.prefix)
                   GROUP BY a.account) ac ON ac.account = p.account
        """


def categorize(con: duckdb.DuckDBPyConnection, upload_id: int | None = None) -> None:
    """(Re)categorise spend lines by the rules: all lines, or those of one upload."""
    con.execute(
        f"""
        UPDATE spend SET category = m.category, category_source = m.category_source
        FROM ({pair_categories_sql("(SELECT supplier_id, account FROM spend WHERE (? IS NULL OR upload_id = ?))")}) m
        WHERE spend.supplier_id IS NOT DISTINCT FROM m.supplier_id
          AND spend.account IS NOT DISTINCT FROM m.account
          AND (? IS NULL OR spend.upload_id = ?)
          AND coalesce(spend.category_source, '') <> 'file'
          AND (spend.category IS DISTINCT FROM m.category OR spend.category_source IS DISTINCT FROM m.category_source)
        """,
        [upload_id, upload_id, upload_id, upload_id, upload_id, upload_id],
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
