from akrim_analytics import db


def test_fresh_database_gets_every_migration(con):
    numbers = [n for n, _, _ in db.migrations()]
    assert db.schema_version(con) == max(numbers)
    applied = [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
    assert applied == numbers
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    for t in ("categories", "departments", "suppliers", "spend", "contracts", "controls", "findings",
              "uploads", "audit_log", "meta", "category_rules"):
        assert t in tables


def test_migrations_run_once(db_path):
    c = db.connect(db_path)
    c.execute("INSERT INTO departments (code, name) VALUES ('9', 'Test')")
    c.close()
    c = db.connect(db_path)  # second start: nothing re-applied, data kept
    assert db.migrate(c) == []
    assert c.execute("SELECT count(*) FROM departments").fetchone()[0] == 1
    assert c.execute("SELECT count(*) FROM categories").fetchone()[0] == 9


def test_upgrade_from_older_schema(db_path):
    """A database created at version 1 is brought up to date, keeping its data."""
    import duckdb

    first = db.migrations()[0]
    c = duckdb.connect(str(db_path))
    assert db.migrate(c, until=first[0]) == [first[0]]
    c.execute("INSERT INTO departments (code, name) VALUES ('4100', 'Eiendom')")
    c.close()
    c = db.connect(db_path)
    assert db.schema_version(c) == db.migrations()[-1][0]
    assert c.execute("SELECT name FROM departments").fetchall() == [("Eiendom",)]
    c.close()


def test_failed_migration_rolls_back(db_path, monkeypatch, tmp_path):
    """A broken migration leaves no half-applied schema and is not recorded."""
    import shutil

    mig_dir = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, mig_dir)
    (mig_dir / "9999_broken.sql").write_text("CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;")
    monkeypatch.setattr(db, "MIGRATIONS_DIR", mig_dir)
    import pytest

    with pytest.raises(Exception):
        db.connect(db_path)
    monkeypatch.undo()
    c = db.connect(db_path)
    assert c.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'half_done'").fetchone()[0] == 0
    assert 9999 not in [r[0] for r in c.execute("SELECT version FROM schema_version").fetchall()]
    c.close()


def test_data_version_bumps(con):
    v = db.data_version(con)
    db.bump_data_version(con)
    assert db.data_version(con) == v + 1


def test_0014_keeps_every_assessment_and_compresses_its_ids(db_path):
    """Migration 0014 rebuilds risk_assessments with other column compression: a database
    scored at schema 13 keeps every assessment and every explanation byte for byte."""
    import duckdb

    from risk_data import D, contract, score, spend, supplier

    c = duckdb.connect(str(db_path))
    db.migrate(c, until=13)
    supplier(c, "S1", nace_code="81.210", nace_version="SN2007")
    supplier(c, "S2")
    contract(c, "K1", "S1", labour_intensive=True, estimated_value=3_000_000)
    spend(c, "S1", 500_000, D(2026, 3, 1), "K1")
    spend(c, "S2", 75_000.5, D(2026, 5, 2))
    run = score(c)
    query = ("SELECT * EXCLUDE (entity_no) FROM risk_assessments WHERE run_id = ? ORDER BY entity_type, entity_id",
             "SELECT * FROM risk_factors WHERE run_id = ? ORDER BY entity_type, entity_id, sort_order, explanation_nb")
    before = [c.execute(q, [run]).fetchall() for q in query]
    c.close()
    c = db.connect(db_path)
    assert db.schema_version(c) >= 14
    assert [c.execute(q, [run]).fetchall() for q in query] == before
    assert len(before[0]) == 3 and len(before[1]) > 6
    ddl = c.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'risk_assessments'").fetchone()[0]
    assert "entity_id VARCHAR USING COMPRESSION ZSTD" in ddl and "likelihood_points DOUBLE USING COMPRESSION" in ddl
    c.close()
