"""The risk engine's speed-ups change no number and no text.

Issue 4 made a full re-score faster by (1) filling plain ``{}`` explanation templates by
concatenation instead of DuckDB's ``format()``, (2) adding the points text ("+2
sannsynlighet") when the ``risk_factors`` view is read instead of storing it in every
line, (3) making the coverage line's threshold text once per threshold, (4) computing
each supplier's spend facts once (``_risk_ss``) and (5) writing the factor lines as one
stream ordered by indicator, with factor key, order and source stored once per part.
Since migration 0012 the built-in indicators store a template number and values instead
of whole texts (``tests/test_risk_explanation_store.py`` checks that the view's text is
format()'s), which took the place of (3); (1) still serves an indicator that gives whole
texts and is checked here on its own.

The demo municipality is scored with and without (1) and (3)'s switches and every stored
line and assessment must be identical. (2), (4) and (5) are checked against values
computed independently (the points text by the formats it replaced; lines stored before
(2) keep their whole text)."""
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
    # (entity_no only ties a run's lines to its assessments: numbered in no set order)
    drop = "run_id, entity_no" if table == "risk_assessments" else "run_id"
    return con.execute(f"SELECT * EXCLUDE ({drop}) FROM {table} WHERE run_id = ? ORDER BY ALL", [run_id]).fetchall()


@pytest.fixture(scope="module")
def demo_copy(demo_db_copy):
    c = db.connect(demo_db_copy("fastpaths"))
    yield c
    c.close()


def _reference_run(con, monkeypatch, as_of) -> int:
    """A run with the speed-ups (1) and (3) switched off."""
    real_apply = engine._apply_indicators

    def reference_apply(con, *args, **kw):
        # no threshold rows to look the coverage text up in: every line takes the
        # per-line format() path
        con.execute("DELETE FROM _risk_thr")
        return real_apply(con, *args, **kw)

    with monkeypatch.context() as m:
        m.setattr(engine, "_concat_templates", lambda sql, params: (sql, params))
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


def _points_text(points: float, dimension: str, lang: str) -> str:
    """The points text as the engine formatted it before it moved into the view (with a
    decimal comma in English too since migration 0013)."""
    num = f"{abs(points):g}".replace(".", ",")
    sign = "±" if points == 0 else ("+" if points > 0 else "−")
    word = {("nb", "likelihood"): "sannsynlighet", ("nb", "consequence"): "konsekvens",
            ("en", "likelihood"): "likelihood", ("en", "consequence"): "consequence"}[lang, dimension]
    return f"{sign}{'0' if points == 0 else num} {word}"


def test_points_text_is_made_from_each_lines_points(demo_copy):
    con = demo_copy
    run = risk.score_all(con, SYSTEM, None, reason="points text", pinned=True)
    rows = con.execute("SELECT points, dimension, explanation_nb, explanation_en FROM risk_factors WHERE run_id = ?",
                       [run]).fetchall()
    assert len(rows) > 1000
    assert {r[1] for r in rows} == {"likelihood", "consequence"}
    assert any(r[0] < 0 for r in rows) and any(r[0] == 0 for r in rows) and any(r[0] != int(r[0]) for r in rows)
    for points, dim, nb, en in rows:
        assert nb.endswith(": " + _points_text(points, dim, "nb")), nb
        assert en.endswith(": " + _points_text(points, dim, "en")), en
        assert ": +" not in nb[:-len(_points_text(points, dim, "nb")) - 2]   # one points text, not two
    # every line of the run is shown, once (the view adds nothing and loses nothing)
    assert con.execute("SELECT count(*) FROM risk_factors WHERE run_id = ?", [run]).fetchone()[0] == \
        con.execute("SELECT count(*) FROM risk_factor_lines WHERE run_id = ?", [run]).fetchone()[0]
    # each assessment of the run has its own number, 1 … n (the lines refer to it)
    assert con.execute("""SELECT count(*), count(DISTINCT entity_no), min(entity_no), max(entity_no)
                          FROM risk_assessments WHERE run_id = ?""", [run]).fetchone() == (
        (n := con.execute("SELECT count(*) FROM risk_assessments WHERE run_id = ?", [run]).fetchone()[0]), n, 1, n)
    # values beyond any table: the same rule
    for p, d in ((12.5, "likelihood"), (-10.25, "consequence"), (0.0, "likelihood"), (3.0, "consequence")):
        assert con.execute("SELECT risk_points_nb(?, ?), risk_points_en(?, ?)", [p, d, p, d]).fetchone() == (
            _points_text(p, d, "nb"), _points_text(p, d, "en"))


def test_lines_stored_before_migration_10_keep_their_text(db_path):
    """A database scored before the lines were stored lean: migrations 0010 and 0011 carry
    every line over, and the view shows the stored text unchanged (no second points text)."""
    c = duckdb.connect(str(db_path))
    db.migrate(c, until=9)
    old = [(7, "contract", "K-1", "industry", "likelihood", 2.0, "Renhold (NACE 81.210): +2 sannsynlighet",
            "Cleaning (NACE 81.210): +2 likelihood", False, "4.3", 0),
           (7, "contract", "K-1", "value", "consequence", 0.0, "Kontraktsverdi 90 000 kr: ±0 konsekvens",
            "Contract value NOK 90,000: ±0 consequence", False, "4.1", 3),
           (7, "supplier", "S-1", "register_unknown", "likelihood", 1.0, "Ukjent: +1 sannsynlighet",
            "Unknown: +1 likelihood", True, "5.4", 6),
           (8, "contract", "K-1", "industry", "likelihood", 1.5, "Eldre tekst", "Older text", False, None, None)]
    c.executemany("""INSERT INTO risk_factors (run_id, entity_type, entity_id, factor, dimension, points,
                         explanation_nb, explanation_en, unknown, source, sort_order)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", old)
    # (a run stores an assessment of every entity it has lines for)
    c.execute("""INSERT INTO risk_assessments (run_id, entity_type, entity_id, likelihood, consequence, level,
                                               required_step, covered)
                 SELECT DISTINCT run_id, entity_type, entity_id, 1, 1, 'lav', 1, true FROM risk_factors""")
    c.close()
    c = db.connect(db_path)
    try:
        shown = c.execute("""SELECT run_id, entity_type, entity_id, factor, dimension, points, explanation_nb,
                                    explanation_en, unknown, source, sort_order FROM risk_factors ORDER BY ALL""").fetchall()
        assert shown == sorted(old)
        assert c.execute("SELECT count(*) FROM risk_factor_parts WHERE NOT complete_text").fetchone()[0] == 0
    finally:
        c.close()


def test_lines_stored_before_migration_11_keep_their_entity(db_path):
    """Lines stored with their entity's type and id (0010) refer to their assessment's
    number after 0011; the view shows every line as before, and each run's numbers are
    1, 2, … once per assessment."""
    c = duckdb.connect(str(db_path))
    db.migrate(c, until=10)
    assess = [(5, "contract", "K-1"), (5, "supplier", "911111111"), (6, "contract", "K-1"), (6, "contract", "K-2"),
              (6, "supplier", "911111111"), (6, "supplier", "922222222")]
    c.executemany("""INSERT INTO risk_assessments (run_id, entity_type, entity_id, likelihood, consequence, level,
                                                   required_step, covered) VALUES (?, ?, ?, 1, 1, 'lav', 1, true)""",
                  assess)
    c.executemany("INSERT INTO risk_factor_parts (run_id, part, factor, sort_order, source) VALUES (?, ?, ?, ?, ?)",
                  [(5, 1, "industry", 0, "4.3"), (6, 1, "industry", 0, "4.3"), (6, 2, "value", 3, "4.1")])
    lines = [(5, "contract", "K-1", 1, "likelihood", 2.0, "Renhold", "Cleaning", False),
             (5, "supplier", "911111111", 1, "likelihood", 2.0, "Renhold", "Cleaning", False),
             (6, "contract", "K-1", 1, "likelihood", 1.5, "Bygg", "Construction", False),
             (6, "contract", "K-2", 2, "consequence", 0.0, "Verdi", "Value", False),
             (6, "supplier", "922222222", 1, "likelihood", 1.0, "Ukjent", "Unknown", True)]
    c.executemany("""INSERT INTO risk_factor_lines (run_id, entity_type, entity_id, part, dimension, points,
                                                    body_nb, body_en, unknown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                  lines)
    query = """SELECT run_id, entity_type, entity_id, factor, dimension, points, explanation_nb, explanation_en,
                      unknown, source, sort_order FROM risk_factors ORDER BY ALL"""
    before = c.execute(query).fetchall()
    c.close()
    assert len(before) == len(lines)
    c = db.connect(db_path)
    try:
        # (the same, except that 0013 writes English points with a decimal comma)
        assert c.execute(query).fetchall() == [r[:7] + (r[7].replace("+1.5 ", "+1,5 "),) + r[8:] for r in before]
        numbers = c.execute("""SELECT run_id, list(entity_no ORDER BY entity_no) FROM risk_assessments
                               GROUP BY run_id ORDER BY run_id""").fetchall()
        assert numbers == [(5, [1, 2]), (6, [1, 2, 3, 4])]
        assert c.execute("SELECT DISTINCT typeof(dimension) FROM risk_factor_lines").fetchall() == [
            ("ENUM('likelihood', 'consequence')",)]
    finally:
        c.close()


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
           SELECT f.entity_id, f.explanation_en, strftime(least(fi.d, cs.d), '%d.%m.%Y') FROM risk_factors f
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
