"""Factor lines store their explanation as a template number and values (migration 0012).

``Context.explain`` gives the SQL of ``tpl, a1 … a6``; the run stores each indicator's
templates once on its parts, and the ``risk_factors`` view writes the Norwegian and
English text with ``risk_fill``. These tests check that the text is exactly what
DuckDB's ``format`` with the engine's amount and date macros gave when every line
stored its whole text, that lines stored before 0012 keep their text, and that a line
whose value is missing still fails the run instead of showing a partial text."""
from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

from akrim_analytics import db, i18n, risk
from akrim_analytics.auth import SYSTEM
from akrim_analytics.risk import engine
from akrim_analytics.risk import indicators as ind
from akrim_analytics.risk.indicators import (Context, const, date, lang, nested, nok, pick, text, val)

TEMPLATES = {
    "main": ("{} kostet {} ({}) – {}{}", "{} cost {} ({}) – {}{}"),
    "sub": ("{} i {} måneder fra {}", "{} in {} months from {}"),
    "plain": ("Ingen verdi", "No value"),
    "kind_a": ("tjenestekontrakt", "service contract"),
    "kind_b": ("bygg; anlegg", "works"),
    "named": ("{} [{}]", "{} [{}]"),
    "flag": (" (ikke verifisert)", " (not verified)"),
}


@pytest.fixture
def texts(monkeypatch):
    real = i18n.strings()
    fake = dict(real)
    for name, (nb, en) in TEMPLATES.items():
        fake[f"risk.x.test.{name}"] = {"nb": nb, "en": en}
    monkeypatch.setattr(i18n, "strings", lambda: fake)


@pytest.fixture
def values(con):
    con.execute("""CREATE TEMP TABLE v AS SELECT * FROM (VALUES
        (1, 'A', 1234567.891::DOUBLE, 12.5::DECIMAL(18, 2), DATE '2024-03-14', true, 'Renhold', 'Cleaning'),
        (2, 'B', -1234.5::DOUBLE, 0::DECIMAL(18, 2), DATE '1999-12-31', false, 'Bygg, (anlegg)', 'Build''s'),
        (3, NULL, 5e21::DOUBLE, 99999999.99::DECIMAL(18, 2), DATE '2026-09-30', NULL,
            'to' || chr(31) || 'deler' || chr(8238), '=HYPERLINK("x")'),
        (4, 'D', 0.4999::DOUBLE, -0.01::DECIMAL(18, 2), DATE '2000-02-29', true, '', 'ÆØÅ {}'),
        (5, 'E', NULL, NULL, NULL, NULL, NULL, NULL))
        t(id, k, amount, spend, d, flag, name_nb, name_en)""")
    con.execute(";\n".join(engine._MACROS))
    return con


def _cases():
    kind = pick(("k = 'A'", "kind_a"), ("k = 'B'", "kind_b"), (None, "plain"))
    return (("id = 5", text("plain")),
            ("id = 4", text("named", lang("name_nb", "name_en"), val("k"))),
            (None, text("main", kind, nok("amount"), date("d"),
                        nested("sub", nok("spend"), const(12), val("'«' || name_nb || '»'")),
                        pick(("flag", ""), (None, "flag")))))


def _reference(lang_: str) -> str:
    """The same texts as format() and the engine's macros made them, per line."""
    t = {k: v[0 if lang_ == "nb" else 1] for k, v in TEMPLATES.items()}
    q = lambda s: "'" + s.replace("'", "''") + "'"  # noqa: E731 (fixed test texts, not user values)
    kind = f"CASE WHEN k = 'A' THEN {q(t['kind_a'])} WHEN k = 'B' THEN {q(t['kind_b'])} ELSE {q(t['plain'])} END"
    sub = f"format({q(t['sub'])}, risk_nok_{lang_}(spend), 12, '«' || name_nb || '»')"
    main = (f"format({q(t['main'])}, {kind}, risk_nok_{lang_}(amount), risk_d_{lang_}(d), {sub}, "
            f"CASE WHEN flag THEN '' ELSE {q(t['flag'])} END)")
    named = f"format({q(t['named'])}, name_{lang_}, k)"
    return f"CASE WHEN id = 5 THEN {q(t['plain'])} WHEN id = 4 THEN {named} ELSE {main} END"


def test_stored_template_and_values_give_the_text_format_gave(values, texts):
    con = values
    ctx = Context(cfg={}, settings={}, as_of=dt.date(2026, 9, 30), window_start=dt.date(2025, 9, 30), key="test")
    cols = ctx.explain(*_cases())
    tpls = ctx.templates()
    nb, en, fmt = [t[0] for t in tpls], [t[1] for t in tpls], [t[2] for t in tpls]
    rendered = con.execute(
        f"""WITH x AS (SELECT id, {cols} FROM v)
            SELECT id, risk_fill(($nb::VARCHAR[][])[tpl], ($fmt::VARCHAR[][])[tpl],
                                 [a1, a2, a3, a4, a5, a6], $nb::VARCHAR[][], 'nb'),
                       risk_fill(($en::VARCHAR[][])[tpl], ($fmt::VARCHAR[][])[tpl],
                                 [a1, a2, a3, a4, a5, a6], $en::VARCHAR[][], 'en')
            FROM x ORDER BY id""", {"nb": nb, "en": en, "fmt": fmt}).fetchall()
    expected = con.execute(f"SELECT id, {_reference('nb')}, {_reference('en')} FROM v ORDER BY id").fetchall()
    assert rendered == expected
    assert rendered[0][1].startswith("tjenestekontrakt kostet 1 234 568 kr (14.03.2024) – 12 kr i 12 måneder")
    assert rendered[1][2].endswith("from «Bygg, (anlegg)» (not verified)")
    assert rendered[2][1].startswith("Ingen verdi kostet 5 000 000 000 000 000 000 000 kr")
    assert "«to\x1fdeler\u202e»" in rendered[2][1]   # a value is shown as it is, control characters too
    assert rendered[3][1:] == (" [D]", "ÆØÅ {} [D]")   # … and braces
    assert rendered[4][1:] == ("Ingen verdi", "No value")
    # the fixed texts are stored once per template: the nested 'sub' and the constant written in
    assert any("12 måneder fra " in "".join(p) for p in nb)


def test_a_line_with_a_missing_value_fails_the_run(demo_db_copy, monkeypatch):
    """As when every line stored its whole text (NOT NULL): a value that is NULL makes
    the run fail with the indicator's name, and nothing of it is stored."""
    con = db.connect(demo_db_copy("missing_value"))
    try:
        runs = con.execute("SELECT count(*) FROM risk_runs").fetchone()[0]
        spend = next(i for i in ind.INDICATORS if i.key == "spend")

        def broken(ctx):
            (sql, p), = spend.build(ctx)
            return [(sql.replace("AS a1", "AS a1_old, NULL::VARCHAR AS a1", 1), p)]

        monkeypatch.setattr(ind, "INDICATORS", [i if i.key != "spend" else
                                                ind.Indicator(i.key, i.source, broken, i.doc, i.always)
                                                for i in ind.INDICATORS])
        monkeypatch.setattr(engine, "INDICATORS", ind.INDICATORS)
        with pytest.raises(RuntimeError, match="risk indicator spend: a line without its explanation"):
            risk.score_all(con, SYSTEM, None, reason="broken")
        assert con.execute("SELECT count(*) FROM risk_runs").fetchone()[0] == runs
    finally:
        con.close()


def test_a_run_stores_templates_once_and_no_text_per_line(demo_db_copy):
    con = db.connect(demo_db_copy("template_store"))
    try:
        run = risk.score_all(con, SYSTEM, None, reason="store")
        lines = con.execute("""SELECT count(*), count(body_nb), count(body_en), count(tpl)
                               FROM risk_factor_lines WHERE run_id = ?""", [run]).fetchone()
        assert lines[0] > 1000 and lines[1:] == (0, 0, lines[0])
        parts = con.execute("""SELECT factor, len(tpl_nb), len(tpl_en), len(tpl_fmt) FROM risk_factor_parts
                               WHERE run_id = ?""", [run]).fetchall()
        assert parts and all(n > 0 and n == e == f for _, n, e, f in parts)
        # every line's text is whole: no placeholder left, no value missing
        bad = con.execute("""SELECT count(*) FROM risk_factors WHERE run_id = ?
                               AND (explanation_nb IS NULL OR explanation_en IS NULL
                                    OR explanation_nb LIKE '%{}%' OR explanation_en LIKE '%{}%')""",
                          [run]).fetchone()[0]
        assert bad == 0
        # e.g. a contract value line: the amount in the Norwegian form in both languages
        # (migration 0013: the English interface translates the words, not the numbers)
        nb, en = con.execute("""SELECT explanation_nb, explanation_en FROM risk_factors
                                WHERE run_id = ? AND factor = 'spend' AND entity_type = 'contract'
                                ORDER BY entity_id LIMIT 1""", [run]).fetchone()
        assert nb.startswith("Kjøp for ") and en.startswith("Purchases of ")
        assert re.search(r"\d \d{3} kr", nb) and re.search(r"\d \d{3} kr", en) and "NOK" not in en
    finally:
        con.close()


def test_lines_stored_before_migration_12_keep_their_text(db_path):
    """A database scored before 0012: its lines keep their stored text, shown unchanged."""
    c = duckdb.connect(str(db_path))
    db.migrate(c, until=11)
    c.execute("""INSERT INTO risk_assessments (run_id, entity_type, entity_id, likelihood, consequence, level,
                                               required_step, covered, entity_no)
                 VALUES (4, 'contract', 'K-1', 1, 1, 'lav', 1, true, 1), (4, 'supplier', 'S-1', 1, 1, 'lav', 1, true, 2)""")
    c.execute("""INSERT INTO risk_factor_parts (run_id, part, factor, sort_order, source)
                 VALUES (4, 1, 'industry', 0, '4.3'), (4, 2, 'spend', 5, '1.2')""")
    c.execute("""INSERT INTO risk_factor_lines (run_id, entity_no, part, dimension, points, body_nb, body_en, unknown)
                 VALUES (4, 1, 1, 'likelihood', 2, 'Renhold (NACE 81.210)', 'Cleaning (NACE 81.210)', false),
                        (4, 2, 2, 'consequence', 0, 'Forbruk 90 000 kr', 'Spend NOK 90,000', false)""")
    query = """SELECT entity_type, entity_id, factor, dimension, points, explanation_nb, explanation_en
               FROM risk_factors ORDER BY ALL"""
    before = c.execute(query).fetchall()
    c.close()
    assert before[0][5] == "Renhold (NACE 81.210): +2 sannsynlighet"
    c = db.connect(db_path)
    try:
        assert c.execute(query).fetchall() == before
    finally:
        c.close()
