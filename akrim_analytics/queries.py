"""Read-side queries shared by pages, the CLI and reports. All aggregation in SQL."""
from __future__ import annotations

import duckdb
import pandas as pd


def available_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [r[0] for r in con.execute(
        "SELECT DISTINCT year(posting_date) AS y FROM spend ORDER BY y").fetchall()]


def departments(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT code, name, area FROM departments ORDER BY code").df()


def categories(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT code, name_nb, name_en, sort_order FROM categories ORDER BY sort_order").df()


def spend_by_category(con: duckdb.DuckDBPyConnection, year: int | None = None,
                      department: str | None = None) -> pd.DataFrame:
    """Spend per category for a year (all years when None), largest first.

    Every category appears, with 0 where nothing was bought."""
    return con.execute(
        """SELECT c.code, c.name_nb, c.name_en, coalesce(s.amount, 0) AS amount, coalesce(s.lines, 0) AS lines
           FROM categories c
           LEFT JOIN (SELECT category, sum(amount) AS amount, count(*) AS lines FROM spend
                      WHERE (? IS NULL OR year(posting_date) = ?) AND (? IS NULL OR department = ?)
                      GROUP BY category) s ON s.category = c.code
           ORDER BY amount DESC, c.sort_order""",
        [year, year, department, department],
    ).df()


def total_spend(con: duckdb.DuckDBPyConnection, year: int | None = None, department: str | None = None) -> float:
    return float(con.execute(
        """SELECT coalesce(sum(amount), 0) FROM spend
           WHERE (? IS NULL OR year(posting_date) = ?) AND (? IS NULL OR department = ?)""",
        [year, year, department, department],
    ).fetchone()[0])


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute(
        """SELECT (SELECT count(*) FROM spend), (SELECT count(*) FROM suppliers),
                  (SELECT count(*) FROM contracts), (SELECT count(*) FROM controls)"""
    ).fetchone()
    return {"spend_rows": row[0], "suppliers": row[1], "contracts": row[2], "controls": row[3]}
