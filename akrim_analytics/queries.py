"""Read-side queries shared by pages, the CLI and reports. All aggregation in SQL."""
from __future__ import annotations

import duckdb
import pandas as pd

from .filters import Filters


def available_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [r[0] for r in con.execute(
        "SELECT DISTINCT year(posting_date) AS y FROM spend ORDER BY y").fetchall()]


def departments(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT code, name, area FROM departments ORDER BY code").df()


def categories(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT code, name_nb, name_en, sort_order FROM categories ORDER BY sort_order").df()


def last_spend_date(con: duckdb.DuckDBPyConnection):
    return con.execute("SELECT max(posting_date) FROM spend").fetchone()[0]


def spend_by_category(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Spend per category for the filters, largest first; every category appears (0 if none)."""
    where, params = f.spend_where("s")
    return con.execute(
        f"""SELECT c.code, c.name_nb, c.name_en, coalesce(t.amount, 0) AS amount, coalesce(t.lines, 0) AS lines
            FROM categories c
            LEFT JOIN (SELECT s.category, sum(s.amount) AS amount, count(*) AS lines FROM spend s
                       WHERE {where} GROUP BY s.category) t ON t.category = c.code
            WHERE ? IS NULL OR c.code = ?
            ORDER BY amount DESC, c.sort_order""",
        params + [f.category, f.category],
    ).df()


def spend_kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> dict:
    """Total spend, lines, suppliers and the unclassified amount for the filters."""
    where, params = f.spend_where("s")
    row = con.execute(
        f"""SELECT coalesce(sum(s.amount), 0), count(*), count(DISTINCT s.supplier_id),
                   coalesce(sum(s.amount) FILTER (WHERE s.category = 'UKLASS'), 0)
            FROM spend s WHERE {where}""",
        params,
    ).fetchone()
    total = float(row[0])
    return {"total": total, "lines": int(row[1]), "suppliers": int(row[2]),
            "unclassified": float(row[3]), "unclassified_share": (float(row[3]) / total) if total else 0.0}


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute(
        """SELECT (SELECT count(*) FROM spend), (SELECT count(*) FROM suppliers),
                  (SELECT count(*) FROM contracts), (SELECT count(*) FROM controls)"""
    ).fetchone()
    return {"spend_rows": row[0], "suppliers": row[1], "contracts": row[2], "controls": row[3]}
