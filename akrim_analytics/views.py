"""Read-side queries for the leadership pages: Oversikt, Risikokart, Kontrakter,
Leverandører and Utvikling. Every number those pages show comes from here.

All aggregation is done by DuckDB in SQL over whole sets; user values are bound
parameters. Every function takes the connection first and hashable arguments
(``Filters``, ``Selection``, str, int, dates), so the UI can cache the result per
data version (``ui.common.cached``).

Definitions used throughout (also shown to users in captions):

* **Window** – the chosen period (a year or a quarter). "Change from the previous
  quarter" compares the same window moved back three months: a quarter with the
  quarter before, a year with the twelve months ending at the previous quarter end.
* **Risk run for a date** – the latest scoring run whose ``as_of`` is on or before
  the date (``risk.run_for_period``). Pages that need a picture even
  when no run is that old fall back to the latest run and say so.
* **Level of a spend line** – the level of its contract in the run; a line without a
  contract takes the level of its supplier's assessment (the risk model assesses
  suppliers with spend but no contract); anything else is "ikke vurdert".
* **Spend-centric** views (category × level, department × category, treemap,
  Oversikt's spend KPIs) filter spend lines by the line's department and category.
  **Contract-centric** views (the 5×5 matrix, contract counts, the contract list)
  filter contracts by their owning department and their category, and count the
  contract's spend in the window.
* **Risk-weighted spend** = spend × likelihood × consequence / 25: the share of the
  5×5 matrix's top score the line's assessment reaches (0.04 … 1). Spend that is not
  risk assessed counts 0.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from . import risk
from .filters import Filters, Period

LEVELS = ("lav", "middels", "høy")
NOT_ASSESSED = "ikke_vurdert"
ALL_LEVELS = LEVELS + (NOT_ASSESSED,)
LEVEL_RANK_SQL = "CASE {x} WHEN 'høy' THEN 3 WHEN 'middels' THEN 2 WHEN 'lav' THEN 1 ELSE 0 END"
MAX_SCORE = 25  # 5 × 5

# Register red flags (domain.md §5.4), in display order. Each is a SQL condition on
# the suppliers table aliased ``p`` plus ``first_invoice`` (the supplier's first spend
# date). A NULL register value never raises a flag: unknown is shown as unknown.
NEW_FIRM_DAYS = 365          # "newly founded shortly before the first invoice"
RISKY_ENK_NACE = ("41", "42", "43", "81.2")  # domain.md §5.4: ENK with BA/renhold NACE
RED_FLAGS: tuple[tuple[str, str], ...] = (
    ("bankrupt", "coalesce(p.bankrupt, false)"),
    ("under_liquidation", "coalesce(p.under_liquidation, false)"),
    ("forced_dissolution", "coalesce(p.forced_dissolution, false)"),
    ("deleted", "p.deleted_date IS NOT NULL"),
    ("not_vat_registered", "p.vat_registered = false"),
    ("newly_founded",
     f"first_invoice IS NOT NULL AND greatest(p.founded_date, p.registered_date) IS NOT NULL "
     f"AND date_diff('day', greatest(p.founded_date, p.registered_date), first_invoice) BETWEEN 0 AND {NEW_FIRM_DAYS}"),
    ("no_employees", "p.employees = 0"),
    ("accounts_missing",
     "p.org_form IN ('AS', 'ASA') AND p.register_extract_date IS NOT NULL AND "
     "coalesce(p.last_accounts_year, 0) < year(p.register_extract_date) - "
     "CASE WHEN month(p.register_extract_date) >= 8 THEN 1 ELSE 2 END"),
    ("enk_risky_trade",
     "p.org_form = 'ENK' AND (" + " OR ".join(f"starts_with(p.nace_code, '{c}')" for c in RISKY_ENK_NACE) + ")"),
    ("foreign_nuf", "p.org_form = 'NUF'"),
    ("no_orgnr", "p.orgnr IS NULL"),
    ("not_checked", "p.orgnr IS NOT NULL AND p.register_extract_date IS NULL"),
)


# --------------------------------------------------------------------------- windows

@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date          # inclusive


def _months_back(d: dt.date, months: int) -> dt.date:
    """The first of the month ``months`` before ``d``'s month (d must be a 1st)."""
    idx = d.year * 12 + d.month - 1 - months
    return dt.date(idx // 12, idx % 12 + 1, 1)


def window(period: Period) -> Window:
    return Window(period.start, period.end)


def previous_window(period: Period) -> Window:
    """The same window moved back one quarter (see the module docstring)."""
    start = _months_back(period.start, 3)
    end = _months_back(period.end + dt.timedelta(days=1), 3) - dt.timedelta(days=1)
    return Window(start, end)


def _spend_pred(alias: str, w: Window, f: Filters) -> tuple[str, list]:
    a = alias
    return (f"{a}.posting_date BETWEEN ? AND ? AND (? IS NULL OR {a}.department = ?) "
            f"AND (? IS NULL OR {a}.category = ?)",
            [w.start, w.end, f.department, f.department, f.category, f.category])


def _contract_pred(alias: str, w: Window, f: Filters) -> tuple[str, list]:
    """Contracts running at some time in the window, owned by the department, in the category."""
    a = alias
    return (f"coalesce({a}.start_date, DATE '1900-01-01') <= ? AND coalesce({a}.end_date, DATE '9999-12-31') >= ? "
            f"AND (? IS NULL OR {a}.department = ?) AND (? IS NULL OR {a}.category = ?)",
            [w.end, w.start, f.department, f.department, f.category, f.category])


# --------------------------------------------------------------------------- risk runs

@dataclass(frozen=True)
class RunInfo:
    run_id: int
    as_of: dt.date
    config_version: int
    exact: bool = True     # False: no run was as old as asked, this is the latest instead


def _run_row(con, run_id: int | None, exact: bool = True) -> RunInfo | None:
    if run_id is None:
        return None
    row = con.execute("SELECT run_id, as_of, config_version FROM risk_runs WHERE run_id = ?", [run_id]).fetchone()
    return RunInfo(int(row[0]), row[1], int(row[2]), exact) if row else None


def latest_run(con: duckdb.DuckDBPyConnection) -> RunInfo | None:
    """The current risk picture (``risk.current_run_id``)."""
    return _run_row(con, risk.current_run_id(con))


def run_at(con: duckdb.DuckDBPyConnection, day: dt.date) -> RunInfo | None:
    """The run in force on ``day``: the newest with as_of ≤ day (``risk.run_for_period``), or None."""
    return _run_row(con, risk.run_for_period(con, day))


def run_for_view(con: duckdb.DuckDBPyConnection, f: Filters) -> RunInfo | None:
    """The run for a page's risk picture: in force at the period end, else the latest
    (marked ``exact=False`` so the page can say the assessment is newer than the period)."""
    run = run_at(con, f.period.end)
    if run is not None:
        return run
    latest = latest_run(con)
    return None if latest is None else RunInfo(latest.run_id, latest.as_of, latest.config_version, False)


def level_matrix(con: duckdb.DuckDBPyConnection, run_id: int) -> list[list[str]] | None:
    """The 5×5 level matrix (row = likelihood 1..5, column = consequence 1..5) of the
    configuration the run used, or None when it cannot be read."""
    run = _run_row(con, run_id)
    if run is None:
        return None
    try:
        m = risk.load_config(con, run.config_version)["levels"]["matrix"]
    except (KeyError, TypeError, ValueError, risk.ConfigError):
        return None
    if (not isinstance(m, list) or len(m) != 5
            or any(not isinstance(r, list) or len(r) != 5 or any(x not in LEVELS for x in r) for r in m)):
        return None
    return m


# --------------------------------------------------------------------------- Oversikt

def _window_kpis(con, f: Filters, w: Window, run: RunInfo | None) -> dict:
    where, params = _spend_pred("s", w, f)
    run_id = run.run_id if run else None
    total, no_contract, high = con.execute(
        f"""SELECT coalesce(sum(s.amount), 0),
                   coalesce(sum(s.amount) FILTER (WHERE s.contract_id IS NULL), 0),
                   coalesce(sum(s.amount) FILTER (WHERE ra.level = 'høy'), 0)
            FROM spend s
            LEFT JOIN (SELECT entity_id, level FROM risk_assessments
                       WHERE run_id = ? AND entity_type = 'contract') ra ON ra.entity_id = s.contract_id
            WHERE {where}""", [run_id] + params).fetchone()
    cwhere, cparams = _contract_pred("c", w, f)
    year_start = dt.date(w.end.year, 1, 1)
    rows = con.execute(
        f"""SELECT ra.level, count(*) AS n,
                   count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM controls k WHERE k.contract_id = c.contract_id
                         AND k.done_date BETWEEN ? AND ? AND coalesce(k.outcome, '') <> 'not_done')) AS controlled
            FROM risk_assessments ra JOIN contracts c ON c.contract_id = ra.entity_id
            WHERE ra.run_id = ? AND ra.entity_type = 'contract' AND {cwhere}
            GROUP BY ra.level""", [year_start, w.end, run_id] + cparams).fetchall()
    per_level = {lv: 0 for lv in LEVELS}
    high_controlled = 0
    for level, n, controlled in rows:
        per_level[level] = int(n)
        if level == "høy":
            high_controlled = int(controlled)
    open_findings = con.execute(
        """SELECT count(*) FROM findings x LEFT JOIN contracts c ON c.contract_id = x.contract_id
           WHERE x.opened_date <= ? AND (x.closed_date IS NULL OR x.closed_date > ?)
             AND NOT (x.status = 'closed' AND x.closed_date IS NULL)
             AND (? IS NULL OR c.department = ?) AND (? IS NULL OR c.category = ?)""",
        [w.end, w.end, f.department, f.department, f.category, f.category]).fetchone()[0]
    has_run = run is not None
    return {
        "window": w,
        "run": run,
        "total": float(total),
        "no_contract": float(no_contract),
        "no_contract_share": float(no_contract) / float(total) if total else None,
        "high_spend": float(high) if has_run else None,
        "contracts": per_level if has_run else None,
        "high_contracts": per_level["høy"] if has_run else None,
        "high_controlled": high_controlled if has_run else None,
        "high_controlled_share": (high_controlled / per_level["høy"]) if has_run and per_level["høy"] else None,
        "open_findings": int(open_findings),
        "controls_from": year_start,
    }


def kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> dict:
    """Oversikt's KPIs for the period (``now``) and the window one quarter earlier
    (``prev``), each with the risk run in force at its end (None when there is none)."""
    w_now, w_prev = window(f.period), previous_window(f.period)
    now = _window_kpis(con, f, w_now, run_at(con, w_now.end))
    prev = _window_kpis(con, f, w_prev, run_at(con, w_prev.end))
    return {"now": now, "prev": prev}


# --------------------------------------------------------------------------- Risikokart

@dataclass(frozen=True)
class Selection:
    """A clicked cell or tile on the risk map: what to list the contracts for."""
    view: str                       # category_level | department_category | matrix | treemap
    category: str | None = None
    department: str | None = None
    level: str | None = None
    likelihood: int | None = None
    consequence: int | None = None
    supplier_id: str | None = None

    @property
    def key(self) -> str:
        """A compact, URL-safe text form (``?utvalg=...``)."""
        vals = [self.view, self.category, self.department, self.level,
                None if self.likelihood is None else str(self.likelihood),
                None if self.consequence is None else str(self.consequence), self.supplier_id]
        return "~".join("" if v is None else v for v in vals)

    @classmethod
    def parse(cls, text: str | None) -> "Selection | None":
        if not text:
            return None
        parts = str(text).split("~")
        if len(parts) != 7 or parts[0] not in VIEWS:
            return None
        view, cat, dep, level, lk, cq, sup = (p or None for p in parts)
        try:
            lk_i = int(lk) if lk else None
            cq_i = int(cq) if cq else None
        except ValueError:
            return None
        if level is not None and level not in ALL_LEVELS:
            return None
        if (lk_i is not None and not 1 <= lk_i <= 5) or (cq_i is not None and not 1 <= cq_i <= 5):
            return None
        return cls(view, cat, dep, level, lk_i, cq_i, sup)


VIEWS = ("category_level", "department_category", "matrix", "treemap")


def _lines_cte(f: Filters, w: Window, run_id: int | None) -> tuple[str, list]:
    """CTE ``l``: spend in the window grouped by category, department, supplier and
    contract, with the level, likelihood and consequence of each group."""
    where, params = _spend_pred("s", w, f)
    sql = f"""
        ra AS (SELECT entity_type, entity_id, level, likelihood, consequence
               FROM risk_assessments WHERE run_id = ?),
        g AS (SELECT s.category, s.department, s.supplier_id, s.contract_id,
                     sum(s.amount) AS amount, count(*) AS lines
              FROM spend s WHERE {where} GROUP BY ALL),
        l AS (SELECT g.*,
                     coalesce(CASE WHEN g.contract_id IS NOT NULL THEN ca.level ELSE sa.level END,
                              '{NOT_ASSESSED}') AS level,
                     CASE WHEN g.contract_id IS NOT NULL THEN ca.likelihood ELSE sa.likelihood END AS likelihood,
                     CASE WHEN g.contract_id IS NOT NULL THEN ca.consequence ELSE sa.consequence END AS consequence
              FROM g
              LEFT JOIN ra ca ON ca.entity_type = 'contract' AND ca.entity_id = g.contract_id
              LEFT JOIN ra sa ON sa.entity_type = 'supplier' AND sa.entity_id = g.supplier_id)"""
    return sql, [run_id] + params


def spend_by_category_level(con: duckdb.DuckDBPyConnection, f: Filters, run_id: int | None) -> pd.DataFrame:
    """Spend per category × level (all combinations, 0 where none) and how many
    contracts carry it. Categories in taxonomy order."""
    cte, params = _lines_cte(f, window(f.period), run_id)
    return con.execute(
        f"""WITH {cte},
            agg AS (SELECT category, level, sum(amount) AS amount, count(DISTINCT contract_id) AS contracts
                    FROM l GROUP BY ALL),
            lv AS (SELECT unnest(?::VARCHAR[]) AS level, generate_subscripts(?::VARCHAR[], 1) AS level_order)
            SELECT c.code AS category, c.name_nb, c.name_en, lv.level,
                   coalesce(agg.amount, 0) AS amount, coalesce(agg.contracts, 0) AS contracts
            FROM categories c CROSS JOIN lv
            LEFT JOIN agg ON agg.category = c.code AND agg.level = lv.level
            WHERE ? IS NULL OR c.code = ?
            ORDER BY c.sort_order, lv.level_order""",
        params + [list(ALL_LEVELS), list(ALL_LEVELS), f.category, f.category]).df()


def risk_weighted_by_department_category(con: duckdb.DuckDBPyConnection, f: Filters,
                                         run_id: int | None) -> pd.DataFrame:
    """Department × category: spend, risk-weighted spend (see module docstring) and
    the spend that is not risk assessed. Every department and category of the
    filter appears."""
    cte, params = _lines_cte(f, window(f.period), run_id)
    return con.execute(
        f"""WITH {cte},
            agg AS (SELECT department, category, sum(amount) AS amount,
                           sum(amount * coalesce(likelihood * consequence, 0) / {MAX_SCORE}) AS weighted,
                           coalesce(sum(amount) FILTER (WHERE level = '{NOT_ASSESSED}'), 0) AS not_assessed
                    FROM l GROUP BY ALL)
            SELECT d.code AS department, d.name AS department_name, c.code AS category, c.name_nb, c.name_en,
                   coalesce(agg.amount, 0) AS amount, coalesce(agg.weighted, 0) AS weighted,
                   coalesce(agg.not_assessed, 0) AS not_assessed
            FROM departments d CROSS JOIN categories c
            LEFT JOIN agg ON agg.department = d.code AND agg.category = c.code
            WHERE (? IS NULL OR d.code = ?) AND (? IS NULL OR c.code = ?)
            ORDER BY d.code, c.sort_order""",
        params + [f.department, f.department, f.category, f.category]).df()


def _matrix_contracts_cte(f: Filters, w: Window, run_id: int | None) -> tuple[str, list]:
    """CTE ``mc``: assessed contracts running in the window (contract-centric filter)
    with their cell and their spend in the window."""
    cwhere, cparams = _contract_pred("c", w, f)
    sql = f"""
        mc AS (SELECT c.contract_id, ra.likelihood, ra.consequence, ra.level,
                      coalesce(sp.amount, 0) AS amount
               FROM risk_assessments ra JOIN contracts c ON c.contract_id = ra.entity_id
               LEFT JOIN (SELECT contract_id, sum(amount) AS amount FROM spend
                          WHERE contract_id IS NOT NULL AND posting_date BETWEEN ? AND ?
                          GROUP BY contract_id) sp ON sp.contract_id = c.contract_id
               WHERE ra.run_id = ? AND ra.entity_type = 'contract' AND {cwhere})"""
    return sql, [w.start, w.end, run_id] + cparams


def risk_matrix(con: duckdb.DuckDBPyConnection, f: Filters, run_id: int | None) -> pd.DataFrame:
    """The 5×5 likelihood × consequence matrix: 25 rows with the number of contracts,
    their spend in the period and the level of the cell (from the run's configured
    matrix; where that is missing, the level the run gave the cell's contracts)."""
    cte, params = _matrix_contracts_cte(f, window(f.period), run_id)
    df = con.execute(
        f"""WITH {cte},
            cells AS (SELECT lk.l AS likelihood, cq.c AS consequence
                      FROM range(1, 6) lk(l) CROSS JOIN range(1, 6) cq(c))
            SELECT cells.likelihood::INTEGER AS likelihood, cells.consequence::INTEGER AS consequence,
                   count(mc.contract_id) AS contracts, coalesce(sum(mc.amount), 0) AS amount,
                   arg_max(mc.level, {LEVEL_RANK_SQL.format(x='mc.level')}) AS observed_level
            FROM cells LEFT JOIN mc ON mc.likelihood = cells.likelihood AND mc.consequence = cells.consequence
            GROUP BY ALL ORDER BY likelihood, consequence""", params).df()
    matrix = level_matrix(con, run_id) if run_id is not None else None
    if matrix is not None:
        df["level"] = [matrix[int(lk) - 1][int(cq) - 1] for lk, cq in zip(df["likelihood"], df["consequence"])]
    else:
        df["level"] = df["observed_level"]
    return df.drop(columns=["observed_level"])


TREEMAP_TOP_N = 12   # suppliers shown by name per category; the rest are grouped by level


def _ranked_cte() -> str:
    """CTEs ``ps`` (spend per category × supplier with the supplier's level there: the
    highest level among its spend in the category) and ``ranked`` (its rank by spend
    within the category). Needs ``l`` from ``_lines_cte``."""
    return f"""
        ps AS (SELECT category, supplier_id, sum(amount) AS amount,
                      arg_max(level, {LEVEL_RANK_SQL.format(x='level')}) AS level,
                      coalesce(sum(amount) FILTER (WHERE level = 'høy'), 0) AS amount_high,
                      coalesce(sum(amount) FILTER (WHERE level = 'middels'), 0) AS amount_medium,
                      coalesce(sum(amount) FILTER (WHERE level = 'lav'), 0) AS amount_low
               FROM l GROUP BY ALL HAVING sum(amount) > 0),
        ranked AS (SELECT *, row_number() OVER (PARTITION BY category ORDER BY amount DESC, supplier_id) AS rn
                   FROM ps)"""


def treemap(con: duckdb.DuckDBPyConnection, f: Filters, run_id: int | None,
            top_n: int = TREEMAP_TOP_N) -> pd.DataFrame:
    """Category → supplier by spend in the period: the ``top_n`` largest suppliers of each
    category by name, the others grouped per level (``supplier_id`` NULL, ``others`` =
    how many suppliers). A supplier's level is the highest level among its spend in the
    category. Suppliers with zero or negative net spend (credit notes) are left out."""
    cte, params = _lines_cte(f, window(f.period), run_id)
    return con.execute(
        f"""WITH {cte}, {_ranked_cte()}
            SELECT r.category, c.name_nb, c.name_en, r.supplier_id, p.name AS supplier_name, r.amount, r.level,
                   r.amount_high, r.amount_medium, r.amount_low, 0 AS others
            FROM ranked r JOIN categories c ON c.code = r.category
            LEFT JOIN suppliers p ON p.supplier_id = r.supplier_id
            WHERE r.rn <= ?
            UNION ALL
            SELECT r.category, c.name_nb, c.name_en, NULL, NULL, sum(r.amount), r.level,
                   sum(r.amount_high), sum(r.amount_medium), sum(r.amount_low), count(*)
            FROM ranked r JOIN categories c ON c.code = r.category
            WHERE r.rn > ?
            GROUP BY ALL
            ORDER BY category, others, amount DESC, supplier_id""", params + [top_n, top_n]).df()


def _contract_facts_cte() -> str:
    """CTEs ``kc`` (last control and controls per contract) and ``kf`` (open findings)."""
    return """
        kc AS (SELECT contract_id, max(done_date) AS last_control, max(step) FILTER (WHERE done_date IS NOT NULL) AS deepest_step
               FROM controls WHERE coalesce(outcome, '') <> 'not_done' GROUP BY contract_id),
        kf AS (SELECT contract_id, count(*) AS open_findings FROM findings
               WHERE status = 'open' GROUP BY contract_id)"""


def drilldown(con: duckdb.DuckDBPyConnection, f: Filters, run_id: int | None, sel: Selection) -> pd.DataFrame:
    """The contracts behind a risk-map cell or tile, largest amount first.

    A treemap selection with a level and no supplier is an "others" tile: the
    suppliers outside the category's top ``TREEMAP_TOP_N`` whose level is that level.

    Spend-centric selections give one row per contract (and one per supplier for spend
    without contract, ``contract_id`` NULL) with the amount of the cell; a matrix cell
    gives its assessed contracts with their spend in the period. The amounts add up
    to the cell's value on the map."""
    w = window(f.period)
    facts = _contract_facts_cte()
    if sel.view == "matrix":
        cte, params = _matrix_contracts_cte(f, w, run_id)
        base = f"""WITH {cte}, {facts},
            rows AS (SELECT contract_id, NULL::VARCHAR AS supplier_id, amount FROM mc
                     WHERE likelihood = ? AND consequence = ?)"""
        params = params + [sel.likelihood, sel.consequence]
    elif sel.view == "treemap" and sel.level is not None and sel.supplier_id is None:
        # a treemap "others" tile: the suppliers below the top N with that level
        cte, params = _lines_cte(f, w, run_id)
        base = f"""WITH {cte}, {facts}, {_ranked_cte()},
            rows AS (SELECT contract_id, CASE WHEN contract_id IS NULL THEN supplier_id END AS supplier_id,
                            sum(amount) AS amount
                     FROM l WHERE category = ? AND supplier_id IN (
                         SELECT supplier_id FROM ranked WHERE category = ? AND rn > ? AND level = ?)
                     GROUP BY ALL)"""
        params = params + [sel.category, sel.category, TREEMAP_TOP_N, sel.level]
    else:
        cte, params = _lines_cte(f, w, run_id)
        conds, extra = [], []
        for col, val in (("category", sel.category), ("department", sel.department), ("level", sel.level),
                         ("supplier_id", sel.supplier_id)):
            if val is not None:
                conds.append(f"{col} = ?")
                extra.append(val)
        where = " AND ".join(conds) or "true"
        base = f"""WITH {cte}, {facts},
            rows AS (SELECT contract_id, CASE WHEN contract_id IS NULL THEN supplier_id END AS supplier_id,
                            sum(amount) AS amount
                     FROM l WHERE {where} GROUP BY ALL)"""
        params = params + extra
    return con.execute(
        f"""{base},
            rb AS (SELECT entity_type, entity_id, level, likelihood, consequence, required_step
                   FROM risk_assessments WHERE run_id = ?)
            SELECT r.contract_id, k.name AS contract_name,
                   coalesce(k.supplier_id, r.supplier_id) AS supplier_id, p.name AS supplier_name, p.orgnr,
                   k.category, k.department, k.start_date, k.end_date,
                   coalesce(ca.level, sa.level, '{NOT_ASSESSED}') AS level,
                   coalesce(ca.likelihood, sa.likelihood) AS likelihood,
                   coalesce(ca.consequence, sa.consequence) AS consequence,
                   coalesce(ca.required_step, sa.required_step) AS required_step,
                   r.amount, kc.last_control, coalesce(kf.open_findings, 0) AS open_findings
            FROM rows r
            LEFT JOIN contracts k ON k.contract_id = r.contract_id
            LEFT JOIN suppliers p ON p.supplier_id = coalesce(k.supplier_id, r.supplier_id)
            LEFT JOIN rb ca ON ca.entity_type = 'contract' AND ca.entity_id = r.contract_id
            LEFT JOIN rb sa ON r.contract_id IS NULL AND sa.entity_type = 'supplier' AND sa.entity_id = r.supplier_id
            LEFT JOIN kc ON kc.contract_id = r.contract_id
            LEFT JOIN kf ON kf.contract_id = r.contract_id
            ORDER BY r.amount DESC, r.contract_id NULLS LAST, supplier_id""",
        params + [run_id]).df()


# --------------------------------------------------------------------------- Kontrakter

def _search_pattern(search: str | None) -> str | None:
    s = (search or "").strip()
    if not s:
        return None
    # ILIKE wildcards typed by the user are matched literally
    s = s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{s}%"


def contracts_table(con: duckdb.DuckDBPyConnection, f: Filters, run_id: int | None, search: str | None = None,
                    levels: tuple[str, ...] = (), open_findings_only: bool = False) -> pd.DataFrame:
    """Contracts running in the period (owning department, category), with the
    supplier, spend in the period, the level in the run, the last control and open
    findings. ``search`` matches id, name, supplier name, org number or responsible."""
    w = window(f.period)
    cwhere, cparams = _contract_pred("c", w, f)
    pattern = _search_pattern(search)
    levels = tuple(levels)
    return con.execute(
        f"""WITH {_contract_facts_cte()},
            sp AS (SELECT contract_id, sum(amount) AS amount FROM spend
                   WHERE contract_id IS NOT NULL AND posting_date BETWEEN ? AND ? GROUP BY contract_id),
            ra AS (SELECT entity_id, level, likelihood, consequence, required_step FROM risk_assessments
                   WHERE run_id = ? AND entity_type = 'contract')
            SELECT c.contract_id, c.name, c.supplier_id, p.name AS supplier_name, p.orgnr, c.category, c.department,
                   c.responsible, c.start_date, c.end_date, c.estimated_value, coalesce(sp.amount, 0) AS amount,
                   coalesce(ra.level, '{NOT_ASSESSED}') AS level, ra.likelihood, ra.consequence, ra.required_step,
                   kc.last_control, kc.deepest_step, coalesce(kf.open_findings, 0) AS open_findings
            FROM contracts c
            LEFT JOIN suppliers p ON p.supplier_id = c.supplier_id
            LEFT JOIN sp ON sp.contract_id = c.contract_id
            LEFT JOIN ra ON ra.entity_id = c.contract_id
            LEFT JOIN kc ON kc.contract_id = c.contract_id
            LEFT JOIN kf ON kf.contract_id = c.contract_id
            WHERE {cwhere}
              AND (?::VARCHAR IS NULL OR c.contract_id ILIKE ? ESCAPE '\\' OR c.name ILIKE ? ESCAPE '\\'
                   OR p.name ILIKE ? ESCAPE '\\' OR p.orgnr ILIKE ? ESCAPE '\\' OR c.responsible ILIKE ? ESCAPE '\\')
              AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], coalesce(ra.level, '{NOT_ASSESSED}')))
              AND (NOT ? OR coalesce(kf.open_findings, 0) > 0)
            ORDER BY {LEVEL_RANK_SQL.format(x='ra.level')} DESC, amount DESC, c.contract_id""",
        [w.start, w.end, run_id] + cparams + [pattern] * 6 + [list(levels), list(levels), open_findings_only]).df()


def contract_detail(con: duckdb.DuckDBPyConnection, contract_id: str) -> dict | None:
    """Everything the register holds about one contract, with its supplier's name."""
    df = con.execute(
        """SELECT c.*, p.name AS supplier_name, p.orgnr, cat.name_nb AS category_nb, cat.name_en AS category_en,
                  d.name AS department_name
           FROM contracts c LEFT JOIN suppliers p ON p.supplier_id = c.supplier_id
           LEFT JOIN categories cat ON cat.code = c.category
           LEFT JOIN departments d ON d.code = c.department
           WHERE c.contract_id = ?""", [contract_id]).df()
    if df.empty:
        return None
    return {k: (None if _isna(v) else v) for k, v in df.iloc[0].to_dict().items()}


def _isna(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def spend_over_time(con: duckdb.DuckDBPyConnection, *, contract_id: str | None = None,
                    supplier_id: str | None = None) -> pd.DataFrame:
    """Spend per quarter for one contract or one supplier (with / without contract)."""
    if (contract_id is None) == (supplier_id is None):
        raise ValueError("give exactly one of contract_id and supplier_id")
    return con.execute(
        """SELECT year(posting_date) AS year, quarter(posting_date) AS quarter,
                  sum(amount) AS amount,
                  coalesce(sum(amount) FILTER (WHERE contract_id IS NULL), 0) AS no_contract,
                  count(*) AS lines
           FROM spend
           WHERE (?::VARCHAR IS NULL OR contract_id = ?) AND (?::VARCHAR IS NULL OR supplier_id = ?)
           GROUP BY ALL ORDER BY year, quarter""",
        [contract_id, contract_id, supplier_id, supplier_id]).df()


def contract_spend_in(con: duckdb.DuckDBPyConnection, contract_id: str, period: Period) -> float:
    """Spend invoiced on the contract in the period (all departments and categories)."""
    return float(con.execute(
        "SELECT coalesce(sum(amount), 0) FROM spend WHERE contract_id = ? AND posting_date BETWEEN ? AND ?",
        [contract_id, period.start, period.end]).fetchone()[0])


def supplier_spend_in(con: duckdb.DuckDBPyConnection, supplier_id: str, period: Period) -> dict:
    """The supplier's spend in the period (all departments and categories) and the part
    without a contract."""
    total, no_contract = con.execute(
        """SELECT coalesce(sum(amount), 0), coalesce(sum(amount) FILTER (WHERE contract_id IS NULL), 0)
           FROM spend WHERE supplier_id = ? AND posting_date BETWEEN ? AND ?""",
        [supplier_id, period.start, period.end]).fetchone()
    return {"amount": float(total), "no_contract": float(no_contract)}


def controls_for(con: duckdb.DuckDBPyConnection, *, contract_id: str | None = None,
                 supplier_id: str | None = None) -> pd.DataFrame:
    """Controls of one contract, or of all the supplier's contracts, newest first."""
    return con.execute(
        """SELECT k.control_id, k.contract_id, c.name AS contract_name, k.step, k.planned_date, k.done_date,
                  k.performed_by, k.outcome, k.status,
                  len(coalesce(k.documents_requested, [])) AS docs_requested,
                  len(coalesce(k.documents_received, [])) AS docs_received, k.note
           FROM controls k LEFT JOIN contracts c ON c.contract_id = k.contract_id
           WHERE (?::VARCHAR IS NULL OR k.contract_id = ?) AND (?::VARCHAR IS NULL OR c.supplier_id = ?)
           ORDER BY coalesce(k.done_date, k.planned_date) DESC NULLS LAST, k.control_id DESC""",
        [contract_id, contract_id, supplier_id, supplier_id]).df()


def findings_for(con: duckdb.DuckDBPyConnection, *, contract_id: str | None = None,
                 supplier_id: str | None = None) -> pd.DataFrame:
    """Findings of one contract, or of all the supplier's contracts; open ones first."""
    return con.execute(
        """SELECT x.finding_id, x.contract_id, x.control_id, x.finding_type, x.severity, x.description, x.action,
                  x.action_deadline, x.status, x.opened_date, x.closed_date
           FROM findings x LEFT JOIN contracts c ON c.contract_id = x.contract_id
           WHERE (?::VARCHAR IS NULL OR x.contract_id = ?) AND (?::VARCHAR IS NULL OR c.supplier_id = ?)
           ORDER BY x.status = 'open' DESC, x.opened_date DESC, x.finding_id DESC""",
        [contract_id, contract_id, supplier_id, supplier_id]).df()


def assessment(con: duckdb.DuckDBPyConnection, run_id: int | None, entity_type: str, entity_id: str) -> dict | None:
    """One assessment row of a run (likelihood, consequence, level, required step …)."""
    if run_id is None:
        return None
    df = con.execute(
        """SELECT * FROM risk_assessments WHERE run_id = ? AND entity_type = ? AND entity_id = ?""",
        [run_id, entity_type, entity_id]).df()
    if df.empty:
        return None
    return {k: (None if _isna(v) else v) for k, v in df.iloc[0].to_dict().items()}


def risk_factors(con: duckdb.DuckDBPyConnection, run_id: int | None, entity_type: str,
                 entity_id: str) -> pd.DataFrame:
    """The factor lines behind an assessment, likelihood first, largest points first."""
    return con.execute(
        """SELECT factor, dimension, points, explanation_nb, explanation_en FROM risk_factors
           WHERE run_id = ? AND entity_type = ? AND entity_id = ?
           ORDER BY dimension = 'likelihood' DESC, points DESC, factor""",
        [run_id, entity_type, entity_id]).df()


# --------------------------------------------------------------------------- Leverandører

def _flags_select() -> str:
    items = ", ".join(f"CASE WHEN {cond} THEN '{key}' END" for key, cond in RED_FLAGS)
    return f"list_filter([{items}], lambda x: x IS NOT NULL)"


def suppliers_table(con: duckdb.DuckDBPyConnection, f: Filters, run_id: int | None, search: str | None = None,
                    levels: tuple[str, ...] = (), flagged_only: bool = False,
                    no_contract_only: bool = False) -> pd.DataFrame:
    """Suppliers with spend in the period (line department / category filter): spend,
    share, spend without contract, running contracts, the highest level among their
    contracts and their own assessment, and register red flags (``flags``: the keys of
    ``RED_FLAGS`` joined by commas, '' for none; ``n_flags``: how many)."""
    w = window(f.period)
    where, params = _spend_pred("s", w, f)
    pattern = _search_pattern(search)
    levels = tuple(levels)
    return con.execute(
        f"""WITH sp AS (SELECT s.supplier_id, sum(s.amount) AS amount,
                               coalesce(sum(s.amount) FILTER (WHERE s.contract_id IS NULL), 0) AS no_contract,
                               count(*) AS lines
                        FROM spend s WHERE {where} GROUP BY s.supplier_id),
            fi AS (SELECT supplier_id, min(posting_date) AS first_invoice FROM spend GROUP BY supplier_id),
            ra AS (SELECT entity_type, entity_id, supplier_id, level FROM risk_assessments WHERE run_id = ?),
            cl AS (SELECT c.supplier_id, count(*) AS contracts,
                          arg_max(ra.level, {LEVEL_RANK_SQL.format(x='ra.level')}) AS contract_level
                   FROM contracts c LEFT JOIN ra ON ra.entity_type = 'contract' AND ra.entity_id = c.contract_id
                   WHERE coalesce(c.start_date, DATE '1900-01-01') <= ? AND coalesce(c.end_date, DATE '9999-12-31') >= ?
                   GROUP BY c.supplier_id),
            t AS (SELECT p.supplier_id, p.name, p.orgnr, p.nace_code, p.org_form, sp.amount,
                         sp.amount / nullif(sum(sp.amount) OVER (), 0) AS share, sp.no_contract, sp.lines,
                         coalesce(cl.contracts, 0) AS contracts, cl.contract_level, sa.level AS supplier_level,
                         CASE WHEN {LEVEL_RANK_SQL.format(x='sa.level')} > {LEVEL_RANK_SQL.format(x='cl.contract_level')}
                              THEN sa.level ELSE coalesce(cl.contract_level, sa.level, '{NOT_ASSESSED}') END AS level,
                         {_flags_select()} AS flags
                  FROM sp JOIN suppliers p ON p.supplier_id = sp.supplier_id
                  LEFT JOIN fi ON fi.supplier_id = p.supplier_id
                  LEFT JOIN cl ON cl.supplier_id = p.supplier_id
                  LEFT JOIN ra sa ON sa.entity_type = 'supplier' AND sa.entity_id = p.supplier_id)
            SELECT * EXCLUDE (flags), array_to_string(flags, ',') AS flags, len(flags) AS n_flags FROM t
            WHERE (?::VARCHAR IS NULL OR name ILIKE ? ESCAPE '\\' OR orgnr ILIKE ? ESCAPE '\\'
                   OR supplier_id ILIKE ? ESCAPE '\\' OR nace_code ILIKE ? ESCAPE '\\')
              AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], level))
              AND (NOT ? OR len(flags) > 0)
              AND (NOT ? OR no_contract > 0)
            ORDER BY amount DESC, supplier_id""",
        params + [run_id, w.end, w.start] + [pattern] * 5
        + [list(levels), list(levels), flagged_only, no_contract_only]).df()


def supplier_detail(con: duckdb.DuckDBPyConnection, supplier_id: str) -> dict | None:
    """The supplier's register data, its first invoice and its red flags."""
    df = con.execute(
        f"""WITH fi AS (SELECT min(posting_date) AS first_invoice, max(posting_date) AS last_invoice,
                              sum(amount) AS total FROM spend WHERE supplier_id = ?)
            SELECT p.*, fi.first_invoice, fi.last_invoice, fi.total, {_flags_select()} AS flags
            FROM suppliers p CROSS JOIN fi WHERE p.supplier_id = ?""", [supplier_id, supplier_id]).df()
    if df.empty:
        return None
    out = {k: (None if k != "flags" and _isna(v) else v) for k, v in df.iloc[0].to_dict().items()}
    out["flags"] = list(out["flags"]) if out["flags"] is not None else []
    return out


def supplier_contracts(con: duckdb.DuckDBPyConnection, supplier_id: str, run_id: int | None,
                       f: Filters | None = None) -> pd.DataFrame:
    """All the supplier's contracts (any period) with level, total spend and, when
    filters are given, spend in the period."""
    w = window(f.period) if f else Window(dt.date(1900, 1, 1), dt.date(9999, 12, 31))
    return con.execute(
        f"""WITH {_contract_facts_cte()},
            sp AS (SELECT contract_id, sum(amount) AS total,
                          coalesce(sum(amount) FILTER (WHERE posting_date BETWEEN ? AND ?), 0) AS amount
                   FROM spend WHERE supplier_id = ? AND contract_id IS NOT NULL GROUP BY contract_id),
            ra AS (SELECT entity_id, level, likelihood, consequence, required_step FROM risk_assessments
                   WHERE run_id = ? AND entity_type = 'contract')
            SELECT c.contract_id, c.name, c.category, c.department, c.start_date, c.end_date, c.estimated_value,
                   coalesce(sp.amount, 0) AS amount, coalesce(sp.total, 0) AS total,
                   coalesce(ra.level, '{NOT_ASSESSED}') AS level, ra.likelihood, ra.consequence, ra.required_step,
                   kc.last_control, coalesce(kf.open_findings, 0) AS open_findings
            FROM contracts c LEFT JOIN sp ON sp.contract_id = c.contract_id
            LEFT JOIN ra ON ra.entity_id = c.contract_id
            LEFT JOIN kc ON kc.contract_id = c.contract_id
            LEFT JOIN kf ON kf.contract_id = c.contract_id
            WHERE c.supplier_id = ?
            ORDER BY c.end_date DESC NULLS FIRST, c.contract_id""",
        [w.start, w.end, supplier_id, run_id, supplier_id]).df()


def supplier_exists(con: duckdb.DuckDBPyConnection, supplier_id: str) -> bool:
    return con.execute("SELECT count(*) FROM suppliers WHERE supplier_id = ?", [supplier_id]).fetchone()[0] > 0


# --------------------------------------------------------------------------- Utvikling

def quarters_until(con: duckdb.DuckDBPyConnection, f: Filters, max_quarters: int = 20) -> list[Period]:
    """The quarters to show: from the first quarter with data (at most ``max_quarters``
    back) to the period's last quarter, not beyond the last spend date."""
    first, last = con.execute("SELECT min(posting_date), max(posting_date) FROM spend").fetchone()
    if first is None:
        return []
    end = min(f.period.end, last)
    if end < first:
        return []
    out: list[Period] = []
    q = Period(end.year, (end.month - 1) // 3 + 1)
    while q.end >= first and len(out) < max_quarters:
        out.append(q)
        q = q.previous()
    return out[::-1]


def _quarters_cte(quarters: list[Period]) -> tuple[str, list]:
    return ("qs AS (SELECT unnest(?::DATE[]) AS q_start, unnest(?::DATE[]) AS q_end)",
            [[q.start for q in quarters], [q.end for q in quarters]])


def _quarter_runs_cte() -> str:
    """CTE ``qr``: each quarter of ``qs`` with the run in force at its end (NULL before the first)."""
    return """
        runs AS (SELECT r.run_id, r.as_of FROM risk_runs r WHERE NOT coalesce(r.pruned, false)),
        qr AS (SELECT qs.q_start, qs.q_end, arg_max(runs.run_id, (runs.as_of, runs.run_id)) AS run_id,
                      max(runs.as_of) AS as_of
               FROM qs LEFT JOIN runs ON runs.as_of <= qs.q_end GROUP BY ALL)"""


def trend_spend(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Spend per quarter and level, each quarter with the level in the run in force at
    its end (``NOT_ASSESSED`` before the first run); every quarter × level."""
    quarters = quarters_until(con, f)
    if not quarters:
        return pd.DataFrame(columns=["q_start", "q_end", "run_id", "level", "amount"])
    qcte, qparams = _quarters_cte(quarters)
    where, sparams = _spend_pred("s", Window(quarters[0].start, quarters[-1].end), f)
    return con.execute(
        f"""WITH {qcte}, {_quarter_runs_cte()},
            g AS (SELECT date_trunc('quarter', s.posting_date)::DATE AS q_start, s.supplier_id, s.contract_id,
                         sum(s.amount) AS amount
                  FROM spend s WHERE {where} GROUP BY ALL),
            l AS (SELECT g.q_start, g.amount,
                         coalesce(CASE WHEN g.contract_id IS NOT NULL THEN ca.level ELSE sa.level END,
                                  '{NOT_ASSESSED}') AS level
                  FROM g JOIN qr ON qr.q_start = g.q_start
                  LEFT JOIN risk_assessments ca ON ca.run_id = qr.run_id AND ca.entity_type = 'contract'
                       AND ca.entity_id = g.contract_id
                  LEFT JOIN risk_assessments sa ON sa.run_id = qr.run_id AND sa.entity_type = 'supplier'
                       AND sa.entity_id = g.supplier_id),
            lv AS (SELECT unnest(?::VARCHAR[]) AS level, generate_subscripts(?::VARCHAR[], 1) AS level_order),
            agg AS (SELECT q_start, level, sum(amount) AS amount FROM l GROUP BY ALL)
            SELECT qr.q_start, qr.q_end, qr.run_id, lv.level, coalesce(agg.amount, 0) AS amount
            FROM qr CROSS JOIN lv LEFT JOIN agg ON agg.q_start = qr.q_start AND agg.level = lv.level
            ORDER BY qr.q_start, lv.level_order""",
        qparams + sparams + [list(ALL_LEVELS), list(ALL_LEVELS)]).df()


def trend_risk(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Per quarter, the run in force at the quarter end (None before the first run)
    and, from it, the number of contracts per level and the spend in the quarter
    under høy-risk contracts (contract-centric / spend-centric filters as elsewhere)."""
    quarters = quarters_until(con, f)
    if not quarters:
        return pd.DataFrame(columns=["q_start", "q_end", "run_id", "as_of", "lav", "middels", "høy", "high_spend"])
    qcte, qparams = _quarters_cte(quarters)
    where, sparams = _spend_pred("s", Window(quarters[0].start, quarters[-1].end), f)
    return con.execute(
        f"""WITH {qcte}, {_quarter_runs_cte()},
            cnt AS (SELECT qr.q_start, ra.level, count(*) AS n
                    FROM qr JOIN risk_assessments ra ON ra.run_id = qr.run_id AND ra.entity_type = 'contract'
                    JOIN contracts c ON c.contract_id = ra.entity_id
                    WHERE coalesce(c.start_date, DATE '1900-01-01') <= qr.q_end
                      AND coalesce(c.end_date, DATE '9999-12-31') >= qr.q_start
                      AND (? IS NULL OR c.department = ?) AND (? IS NULL OR c.category = ?)
                    GROUP BY ALL),
            hs AS (SELECT qr.q_start, sum(s.amount) AS amount
                   FROM spend s JOIN qr ON date_trunc('quarter', s.posting_date)::DATE = qr.q_start
                   JOIN risk_assessments ra ON ra.run_id = qr.run_id AND ra.entity_type = 'contract'
                        AND ra.entity_id = s.contract_id AND ra.level = 'høy'
                   WHERE {where} GROUP BY ALL)
            SELECT qr.q_start, qr.q_end, qr.run_id, qr.as_of,
                   coalesce(max(cnt.n) FILTER (WHERE cnt.level = 'lav'), 0) AS lav,
                   coalesce(max(cnt.n) FILTER (WHERE cnt.level = 'middels'), 0) AS middels,
                   coalesce(max(cnt.n) FILTER (WHERE cnt.level = 'høy'), 0) AS "høy",
                   coalesce(max(hs.amount), 0) AS high_spend
            FROM qr LEFT JOIN cnt ON cnt.q_start = qr.q_start LEFT JOIN hs ON hs.q_start = qr.q_start
            GROUP BY ALL ORDER BY qr.q_start""",
        qparams + [f.department, f.department, f.category, f.category] + sparams).df()


def trend_controls(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Controls done per quarter and DFØ step (contract-centric filter)."""
    quarters = quarters_until(con, f)
    if not quarters:
        return pd.DataFrame(columns=["q_start", "step", "controls"])
    qcte, qparams = _quarters_cte(quarters)
    return con.execute(
        f"""WITH {qcte},
            st AS (SELECT unnest([1, 2, 3]) AS step),
            k AS (SELECT date_trunc('quarter', k.done_date)::DATE AS q_start, k.step, count(*) AS n
                  FROM controls k LEFT JOIN contracts c ON c.contract_id = k.contract_id
                  WHERE k.done_date IS NOT NULL AND coalesce(k.outcome, '') <> 'not_done'
                    AND (? IS NULL OR c.department = ?) AND (? IS NULL OR c.category = ?)
                  GROUP BY ALL)
            SELECT qs.q_start, qs.q_end, st.step, coalesce(k.n, 0) AS controls
            FROM qs CROSS JOIN st LEFT JOIN k ON k.q_start = qs.q_start AND k.step = st.step
            ORDER BY qs.q_start, st.step""",
        qparams + [f.department, f.department, f.category, f.category]).df()


def trend_findings(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Findings opened and closed per quarter, and open at each quarter end."""
    quarters = quarters_until(con, f)
    if not quarters:
        return pd.DataFrame(columns=["q_start", "opened", "closed", "open_at_end"])
    qcte, qparams = _quarters_cte(quarters)
    return con.execute(
        f"""WITH {qcte},
            x AS (SELECT x.* FROM findings x LEFT JOIN contracts c ON c.contract_id = x.contract_id
                  WHERE (? IS NULL OR c.department = ?) AND (? IS NULL OR c.category = ?))
            SELECT qs.q_start, qs.q_end,
                   (SELECT count(*) FROM x WHERE x.opened_date BETWEEN qs.q_start AND qs.q_end) AS opened,
                   (SELECT count(*) FROM x WHERE x.closed_date BETWEEN qs.q_start AND qs.q_end) AS closed,
                   (SELECT count(*) FROM x WHERE x.opened_date <= qs.q_end
                        AND (x.closed_date IS NULL OR x.closed_date > qs.q_end)
                        AND NOT (x.status = 'closed' AND x.closed_date IS NULL)) AS open_at_end
            FROM qs ORDER BY qs.q_start""",
        qparams + [f.department, f.department, f.category, f.category]).df()
