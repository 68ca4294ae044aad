"""The risk engine's speed-ups change no number and no text.

Issue 4 made a full re-score faster by (1) filling plain ``{}`` explanation templates by
concatenation instead of DuckDB's ``format()``, (2) making the points text ("+2
sannsynlighet") once per run for every value from −10 to +10 and looking it up, (3)
making the coverage line's threshold text once per threshold, (4) computing each
supplier's spend facts once (``_risk_ss``) and (5) writing the factor lines as one
stream ordered by indicator, with factor key, order and source looked up per part.

(1)–(3) can be switched off; the demo municipality is scored with and without them and
every stored line and assessment must be identical. (4) and (5) are checked against
values computed independently from the source tables."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from akrim_analytics import db, risk
from akrim_analytics.auth import SYSTEM
from akrim_analytics.risk import engine
from akrim_analytics.risk.indicators import INDICATORS, source_of


# --------------------------------------------------------------- template concatenation

def _both(con, sql: str, params: dict) -> tuple[list, list, str]:
    fast_sql, fast_params = engine._concat_templates(sql, params)
    slow = con.execute(sql, engine._bind(sql, params)).fetchall()
    fast = con.execute(fast_sql, engine._bind(fast_sql, fast_params)).fetchall()
    return slow, fast, fast_sql


@pytest.fixture
def mem():
    c = duckdb.connect()
    c.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
                   ('Renhold', 12, DATE '2024-03-14', 3::BIGINT),
                   ('ÆØÅ, (med komma)', -7, DATE '1999-12-31', 0::BIGINT),
                   (NULL, 5, NULL, NULL),
                   ('', 0, DATE '2026-09-30', 123456789012::BIGINT)) v(s, i, d, b)""")
    yield c
    c.close()


def test_concat_gives_the_same_text_as_format(mem):
    params = {"a_nb": "{} (NACE {}) – {} år", "b_nb": "Kontrakt {}: {} – {}", "c_nb": "{}", "x": 3}
    sql = """SELECT format($a_nb, s, i, d) AS a,
                    format($b_nb, coalesce(s, 'ingen, (tom)'), format($c_nb, b), CASE WHEN i > $x THEN 'høy' END) AS b,
                    format($c_nb, s || ')') AS c
             FROM t ORDER BY ALL"""
    slow, fast, fast_sql = _both(mem, sql, params)
    assert "format(" not in fast_sql  # all three rewritten, the nested one too
    assert slow == fast
    assert any(v is None for row in fast for v in row)  # NULL arguments give NULL, as format does


def test_templates_with_other_braces_or_wrong_arity_are_left_to_format(mem):
    params = {"spec_nb": "{:t .0f} kr", "esc_nb": "{{literal}} {}", "two_nb": "{} og {}"}
    sql = """SELECT format($spec_nb, CAST(i AS DOUBLE) * 1000), format($esc_nb, s), format($two_nb, s, i) FROM t
             ORDER BY ALL"""
    slow, fast, fast_sql = _both(mem, sql, params)
    assert slow == fast
    assert fast_sql.count("format(") == 2  # the spec and the escaped braces stay; the plain one is rewritten
    # a template bound to a non-string, or a call with another argument count, is left alone
    out, _ = engine._concat_templates("SELECT format($n, 1)", {"n": 5})
    assert out == "SELECT format($n, 1)"
    out, _ = engine._concat_templates("SELECT format($t, 1)", {"t": "{} {}"})
    assert out == "SELECT format($t, 1)"


# --------------------------------------------------------- whole runs: fast == reference

def _rows(con, table: str, run_id: int) -> list:
    return con.execute(f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id = ? ORDER BY ALL", [run_id]).fetchall()


@pytest.fixture(scope="module")
def demo_copy(demo_db_copy):
    c = db.connect(demo_db_copy("fastpaths"))
    yield c
    c.close()


def _reference_run(con, monkeypatch, as_of, pts_lookup=(0, 0)) -> int:
    """A run with the speed-ups (1)–(3) switched off (``pts_lookup`` narrows (2) instead)."""
    real_apply = engine._apply_indicators

    def reference_apply(con, *args, **kw):
        # no threshold rows to look the coverage text up in: every line takes the
        # per-line format() path
        con.execute("DELETE FROM _risk_thr")
        return real_apply(con, *args, **kw)

    with monkeypatch.context() as m:
        m.setattr(engine, "_concat_templates", lambda sql, params: (sql, params))
        m.setattr(engine, "_PTS_LOOKUP", pts_lookup)
        m.setattr(engine, "_apply_indicators", reference_apply)
        return risk.score_all(con, SYSTEM, as_of, reason="reference", pinned=True)


@pytest.mark.parametrize("as_of", [None, dt.date(2025, 3, 31)])
def test_fast_paths_store_exactly_what_the_reference_path_stores(demo_copy, monkeypatch, as_of):
    con = demo_copy
    fast = risk.score_all(con, SYSTEM, as_of, reason="fast", pinned=True)
    ref = _reference_run(con, monkeypatch, as_of)
    factors = _rows(con, "risk_factors", fast)
    assert len(factors) > 1000
    assert factors == _rows(con, "risk_factors", ref)
    assert _rows(con, "risk_assessments", fast) == _rows(con, "risk_assessments", ref)


def test_points_text_partly_from_the_lookup_partly_from_the_macro(demo_copy, monkeypatch):
    con = demo_copy
    fast = risk.score_all(con, SYSTEM, None, reason="fast", pinned=True)
    # lookup only for −0.50 … +0.50: larger values fall back to the macro in the same run
    mixed = _reference_run(con, monkeypatch, None, pts_lookup=(-50, 51))
    assert _rows(con, "risk_factors", fast) == _rows(con, "risk_factors", mixed)
    # and every line ends with the points text the macros give for its stored points
    for m in engine._MACROS:
        con.execute(m)
    bad = con.execute(
        """SELECT count(*) FROM risk_factors
           WHERE run_id = ? AND NOT (ends_with(explanation_nb, ': ' || risk_pts_nb(points, dimension))
                                    AND ends_with(explanation_en, ': ' || risk_pts_en(points, dimension)))""",
        [fast]).fetchone()[0]
    assert bad == 0
    # values beyond the lookup's ±10 get the macro's text
    assert con.execute("SELECT risk_pts_nb(12.5, 'likelihood'), risk_pts_en(-10.25, 'consequence')").fetchone() == (
        "+12,5 sannsynlighet", "−10.25 consequence")


# ---------------------------------------------- per-supplier facts and per-part metadata

def test_stored_facts_match_the_source_tables(demo_copy):
    con = demo_copy
    run = risk.score_all(con, SYSTEM, None, reason="facts", pinned=True)
    info = risk.run_info(con, run)
    as_of = info["as_of"]
    win = engine._months_before(as_of, int(risk.load_config(con)["general"]["window_months"]))
    # supplier spend, spend without contract, and the category and department of the
    # largest category × department spend (department: among those with one): from spend
    bad = con.execute(
        """WITH w AS (SELECT * FROM spend WHERE posting_date <= ? AND posting_date > ? AND supplier_id IS NOT NULL),
           s AS (SELECT supplier_id, sum(amount) AS total,
                        coalesce(sum(amount) FILTER (WHERE contract_id IS NULL), 0) AS nocontract
                 FROM w GROUP BY supplier_id),
           g AS (SELECT supplier_id, category, department, sum(amount) AS amt FROM w GROUP BY ALL),
           top AS (SELECT supplier_id, max(amt) AS amt, max(amt) FILTER (WHERE department IS NOT NULL) AS amt_d
                   FROM g GROUP BY ALL)
           SELECT count(*) FROM risk_assessments a
           LEFT JOIN s ON s.supplier_id = a.entity_id
           WHERE a.run_id = ? AND a.entity_type = 'supplier'
             AND (a.spend_12m <> coalesce(s.total, 0)
                  OR (a.no_contract AND a.spend_without_contract_12m <> coalesce(s.nocontract, 0))
                  OR (s.total IS NOT NULL AND s.total <> 0 AND (
                      a.category NOT IN (SELECT g.category FROM g JOIN top USING (supplier_id)
                                         WHERE g.supplier_id = a.entity_id AND g.amt = top.amt)
                      OR a.department NOT IN (SELECT g.department FROM g JOIN top USING (supplier_id)
                                              WHERE g.supplier_id = a.entity_id AND g.amt = top.amt_d))))""",
        [as_of, win, run]).fetchone()[0]
    assert bad == 0
    # contract spend: the linked spend in the window
    bad = con.execute(
        """SELECT count(*) FROM risk_assessments a
           LEFT JOIN (SELECT contract_id, sum(amount) AS total FROM spend
                      WHERE posting_date <= ? AND posting_date > ? GROUP BY ALL) c ON c.contract_id = a.entity_id
           WHERE a.run_id = ? AND a.entity_type = 'contract' AND a.spend_12m <> coalesce(c.total, 0)""",
        [as_of, win, run]).fetchone()[0]
    assert bad == 0
    # newly founded: the date named as first seen is the earlier of the supplier's first
    # spend line up to as_of and the start of its first contract in the run
    rows = con.execute(
        """WITH fi AS (SELECT supplier_id, min(posting_date) AS d FROM spend WHERE posting_date <= ? GROUP BY ALL),
           cs AS (SELECT a.supplier_id, min(k.start_date) AS d FROM risk_assessments a
                  JOIN contracts k ON k.contract_id = a.entity_id
                  WHERE a.run_id = ? AND a.entity_type = 'contract' GROUP BY ALL)
           SELECT f.entity_id, f.explanation_en, strftime(least(fi.d, cs.d), '%Y-%m-%d') FROM risk_factors f
           LEFT JOIN fi ON fi.supplier_id = f.entity_id LEFT JOIN cs ON cs.supplier_id = f.entity_id
           WHERE f.run_id = ? AND f.entity_type = 'supplier' AND f.factor = 'newly_founded' AND NOT f.unknown""",
        [as_of, run, run]).fetchall()
    assert rows
    for supplier_id, text, first in rows:
        assert first is not None and first in text, (supplier_id, text, first)
    # factor key, display order and source: each line's belong together
    order = {ind.key: i for i, ind in enumerate(INDICATORS)}
    for factor, sort_order, source in con.execute(
            "SELECT DISTINCT factor, sort_order, source FROM risk_factors WHERE run_id = ?", [run]).fetchall():
        assert sort_order == order[factor] and source == source_of(factor), factor
