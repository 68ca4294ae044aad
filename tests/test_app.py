"""The app runs server-side without exceptions and shows the core's numbers."""
from streamlit.testing.v1 import AppTest

from conftest import REPO


def run_app(monkeypatch, db, query=None):
    monkeypatch.setenv("AKRIM_DB", str(db))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    return at


def test_oversikt_shows_2025_total(monkeypatch, demo_db):
    at = run_app(monkeypatch, demo_db)
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Samlet innkjøp 2025"] == "4 083 171 000 kr"
    assert len(at.get("plotly_chart")) == 1


def test_oversikt_department_filter(monkeypatch, demo_db):
    from akrim_analytics import db, fmt, queries
    from akrim_analytics.filters import Filters, Period

    at = run_app(monkeypatch, demo_db, {"avdeling": "4100", "periode": "2024"})
    assert not at.exception
    c = db.connect(demo_db)
    expected = queries.spend_kpis(c, Filters(Period(2024), "4100"))["total"]
    values = {m.label: m.value for m in at.metric}
    assert values["Samlet innkjøp 2024"] == fmt.nok(expected)


def test_english(monkeypatch, demo_db):
    at = run_app(monkeypatch, demo_db, {"lang": "en"})
    assert not at.exception
    assert "Total spend 2025" in [m.label for m in at.metric]


def test_empty_database_says_what_to_do(monkeypatch, tmp_path):
    from akrim_analytics import db

    path = tmp_path / "empty.duckdb"
    c = db.connect(path)
    db.set_meta(c, "demo", "true")  # no login needed for this check
    c.close()
    at = run_app(monkeypatch, path)
    assert not at.exception
    assert any("Import" in i.value for i in at.info)
