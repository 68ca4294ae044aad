"""Read side of the risk model: runs, assessments, explanations and summaries."""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from .. import db

LEVEL_ORDER = ("lav", "middels", "høy")


def current_run_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The run that is the current picture: the newest run with the latest as_of
    (a re-run of a past quarter never replaces it). None before the first run."""
    row = con.execute(
        """SELECT run_id FROM risk_runs WHERE NOT coalesce(pruned, false)
           ORDER BY as_of DESC, run_id DESC LIMIT 1""").fetchone()
    return row[0] if row else None


def run_for_period(con: duckdb.DuckDBPyConnection, period_end_date: dt.date | str) -> int | None:
    """The run that shows the picture at ``period_end_date`` (e.g. a quarter's last day):
    the newest run whose as_of is on or before it. None if there is none."""
    if isinstance(period_end_date, str):
        period_end_date = dt.date.fromisoformat(period_end_date)
    row = con.execute(
        """SELECT run_id FROM risk_runs WHERE NOT coalesce(pruned, false) AND as_of <= ?
           ORDER BY as_of DESC, run_id DESC LIMIT 1""", [period_end_date]).fetchone()
    return row[0] if row else None


def previous_run_id(con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> int | None:
    """The run for the end of the quarter before ``run_id``'s as_of (for "change from
    the previous quarter"); None if there is none."""
    run = run_info(con, run_id)
    if run is None:
        return None
    as_of = run["as_of"]
    q_start = dt.date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    return run_for_period(con, q_start - dt.timedelta(days=1))


def run_info(con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> dict | None:
    """One run's row as a dict (``run_id`` None = the current run)."""
    run_id = current_run_id(con) if run_id is None else run_id
    if run_id is None:
        return None
    return db.fetch_dict(con, "SELECT * FROM risk_runs WHERE run_id = ?", [run_id])


def runs(con: duckdb.DuckDBPyConnection, include_pruned: bool = False) -> pd.DataFrame:
    """All runs, newest first."""
    return con.execute(
        """SELECT run_id, as_of, config_version, data_version, created_at, created_by, reason, pinned, pruned,
                  n_contracts, n_suppliers, seconds
           FROM risk_runs WHERE ? OR NOT coalesce(pruned, false) ORDER BY run_id DESC""",
        [include_pruned]).df()


def _resolve(con, run_id: int | None) -> int | None:
    return current_run_id(con) if run_id is None else run_id


def assessments(con: duckdb.DuckDBPyConnection, run_id: int | None = None, *,
                entity_type: str | None = None) -> pd.DataFrame:
    """The assessments of a run (default: the current run), with names: ``name`` is the
    contract's or the supplier's name, ``supplier_name`` the supplier's. Empty when
    there is no run. Columns: run_id, entity_type, entity_id, name, supplier_id,
    supplier_name, category, department, likelihood, consequence, level,
    required_step, covered, spend_12m, exposure, no_contract, likelihood_points,
    consequence_points, contract_kind, active, threshold_nok,
    spend_without_contract_12m, responsible, start_date, end_date, estimated_value."""
    run_id = _resolve(con, run_id)
    return con.execute(
        """SELECT a.run_id, a.entity_type, a.entity_id,
                  CASE WHEN a.entity_type = 'contract' THEN c.name ELSE s.name END AS name,
                  a.supplier_id, s.name AS supplier_name, a.category, a.department,
                  a.likelihood, a.consequence, a.level, a.required_step, a.covered,
                  CAST(a.spend_12m AS DOUBLE) AS spend_12m, CAST(a.exposure AS DOUBLE) AS exposure, a.no_contract,
                  a.likelihood_points, a.consequence_points, a.contract_kind, a.active,
                  CAST(a.threshold_nok AS DOUBLE) AS threshold_nok,
                  CAST(a.spend_without_contract_12m AS DOUBLE) AS spend_without_contract_12m,
                  c.responsible, c.start_date, c.end_date, CAST(c.estimated_value AS DOUBLE) AS estimated_value
           FROM risk_assessments a
           LEFT JOIN contracts c ON a.entity_type = 'contract' AND c.contract_id = a.entity_id
           LEFT JOIN suppliers s ON s.supplier_id = a.supplier_id
           WHERE a.run_id = ? AND (? IS NULL OR a.entity_type = ?)
           ORDER BY a.exposure DESC NULLS LAST, a.entity_type, a.entity_id""",
        [run_id, entity_type, entity_type]).df()


def assessment(con: duckdb.DuckDBPyConnection, entity_type: str, entity_id: str,
               run_id: int | None = None) -> dict | None:
    """One entity's assessment as a dict, or None if it was not assessed in the run."""
    run_id = _resolve(con, run_id)
    return db.fetch_dict(con, "SELECT * FROM risk_assessments WHERE run_id = ? AND entity_type = ? AND entity_id = ?",
                         [run_id, entity_type, entity_id])


def explain(con: duckdb.DuckDBPyConnection, entity_type: str, entity_id: str,
            run_id: int | None = None) -> pd.DataFrame:
    """The factor lines that produced an entity's scores, in display order (likelihood
    first): factor, dimension, points, explanation_nb, explanation_en, unknown,
    source. These rows are what the scores were computed from."""
    from .indicators import source_of

    run_id = _resolve(con, run_id)
    df = con.execute(
        """SELECT factor, dimension, points, explanation_nb, explanation_en, coalesce(unknown, false) AS unknown,
                  source
           FROM risk_factors WHERE run_id = ? AND entity_type = ? AND entity_id = ?
           ORDER BY CASE dimension WHEN 'likelihood' THEN 0 ELSE 1 END, sort_order, explanation_nb""",
        [run_id, entity_type, entity_id]).df()
    df["source"] = [s if isinstance(s, str) and s else source_of(f) for s, f in zip(df["source"], df["factor"])]
    return df


def level_counts(con: duckdb.DuckDBPyConnection, run_id: int | None = None,
                 entity_type: str = "contract") -> dict[str, int]:
    """{'lav': n, 'middels': n, 'høy': n} for a run (every level present, 0 if none)."""
    run_id = _resolve(con, run_id)
    out = {lvl: 0 for lvl in LEVEL_ORDER}
    for lvl, n in con.execute(
            "SELECT level, count(*) FROM risk_assessments WHERE run_id = ? AND entity_type = ? GROUP BY level",
            [run_id, entity_type]).fetchall():
        out[lvl] = int(n)
    return out


def high_risk_spend_by_category(con: duckdb.DuckDBPyConnection, run_id: int | None = None,
                                level: str = "høy", *, key: str = "name_nb") -> dict[str, float]:
    """Spend in the last 12 months of the run's contracts at ``level``, per category
    (category name by default, or ``key='code'``), largest first."""
    run_id = _resolve(con, run_id)
    col = {"name_nb": "c.name_nb", "name_en": "c.name_en", "code": "c.code"}[key]
    rows = con.execute(
        f"""SELECT {col}, sum(a.spend_12m) AS amount
            FROM risk_assessments a JOIN categories c ON c.code = coalesce(a.category, 'UKLASS')
            WHERE a.run_id = ? AND a.entity_type = 'contract' AND a.level = ?
            GROUP BY ALL ORDER BY amount DESC""", [run_id, level]).fetchall()
    return {name: float(amount) for name, amount in rows}


def matrix_counts(con: duckdb.DuckDBPyConnection, run_id: int | None = None, entity_type: str = "contract",
                  *, active_only: bool = False) -> pd.DataFrame:
    """Entities and spend per likelihood × consequence cell (for a heat map)."""
    run_id = _resolve(con, run_id)
    return con.execute(
        """SELECT likelihood, consequence, any_value(level) AS level, count(*) AS n,
                  CAST(sum(spend_12m) AS DOUBLE) AS spend_12m, CAST(sum(exposure) AS DOUBLE) AS exposure
           FROM risk_assessments
           WHERE run_id = ? AND entity_type = ? AND (NOT ? OR active)
           GROUP BY likelihood, consequence ORDER BY likelihood, consequence""",
        [run_id, entity_type, active_only]).df()


def level_changes(con: duckdb.DuckDBPyConnection, run_id: int | None = None, previous: int | None = None,
                  entity_type: str = "contract") -> pd.DataFrame:
    """Per entity: level now and in the previous run (default: the previous quarter's),
    with ``change`` = 'up' | 'down' | 'same' | 'new' | 'gone'."""
    run_id = _resolve(con, run_id)
    previous = previous_run_id(con, run_id) if previous is None else previous
    return con.execute(
        """WITH a AS (SELECT entity_id, level, likelihood, consequence FROM risk_assessments
                      WHERE run_id = ? AND entity_type = ?),
                b AS (SELECT entity_id, level, likelihood, consequence FROM risk_assessments
                      WHERE run_id = ? AND entity_type = ?)
           SELECT coalesce(a.entity_id, b.entity_id) AS entity_id, a.level AS level, b.level AS previous_level,
                  a.likelihood, a.consequence, b.likelihood AS previous_likelihood,
                  b.consequence AS previous_consequence,
                  CASE WHEN b.entity_id IS NULL THEN 'new' WHEN a.entity_id IS NULL THEN 'gone'
                       WHEN a.level = b.level THEN 'same'
                       WHEN list_position(['lav', 'middels', 'høy'], a.level)
                            > list_position(['lav', 'middels', 'høy'], b.level) THEN 'up'
                       ELSE 'down' END AS change
           FROM a FULL OUTER JOIN b ON a.entity_id = b.entity_id
           ORDER BY entity_id""",
        [run_id, entity_type, previous, entity_type]).df()
