"""A database file that cannot be used (not a database, a stale write-ahead log from
another copy beside it, or a schema from a newer version of the program) gets one clear message naming the file and what to do, in the
command line and in the dashboard, never a traceback, and nothing on disk is touched."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from akrim_analytics import db

from conftest import REPO, md_plain, run_cli as _cli
from import_corpus import messy_spend


def _not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "kommune.duckdb"
    path.write_text("Leverandør;Beløp\nRenhold AS;1 234,50\n", encoding="utf-8")
    return path


def _stale_wal(tmp_path: Path) -> Path:
    """A database whose ``.wal`` was left behind by another copy of the file (the file
    was replaced by a copy taken elsewhere, the log of the old one stayed)."""
    path = tmp_path / "kommune.duckdb"
    db.connect(path).close()
    other = tmp_path / "annen.duckdb"
    con = duckdb.connect(str(other))
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    con.close()
    assert Path(f"{other}.wal").exists()
    os.replace(f"{other}.wal", f"{path}.wal")
    return path


def _newer_schema(tmp_path: Path) -> Path:
    """A database a newer version of the program has migrated further than this one knows."""
    path = tmp_path / "kommune.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO schema_version (version, name) VALUES (?, 'from_the_future')", [db.latest_schema() + 1])
    con.close()
    return path


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name)}


@pytest.mark.parametrize("make, words", [(_not_a_database, "not a valid DuckDB database file"),
                                         (_stale_wal, "move it away (do not delete it)"),
                                         (_newer_schema, "made by a newer version of akrim-analytics")])
def test_connect_names_the_file_and_what_to_do(tmp_path, make, words):
    path = make(tmp_path)
    before = _snapshot(path)
    with pytest.raises(db.DatabaseUnreadable) as e:
        db.connect(path)
    assert str(path) in str(e.value) and words in str(e.value) and "Nothing was changed" in str(e.value)
    assert _snapshot(path) == before


@pytest.mark.parametrize("make", [_not_a_database, _stale_wal, _newer_schema])
def test_commands_say_it_in_one_line_and_change_nothing(tmp_path, make):
    path = make(tmp_path)
    before = _snapshot(path)
    export = messy_spend(tmp_path / "reskontro.xlsx")
    for args in (("summary", "--db", path), ("import", export, "--db", path), ("risk", "runs", "--db", path)):
        r = _cli(*args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert lines[-1].startswith(f"Feil: The database {path} cannot be opened"), (args, r.stderr)
    assert _snapshot(path) == before


@pytest.mark.parametrize("make, words", [(_not_a_database, "Sjekk at stien"),
                                         (_stale_wal, "flytt den bort (ikke slett den)"),
                                         (_newer_schema, "laget av en nyere versjon")])
def test_dashboard_says_which_file_and_what_to_do(tmp_path, monkeypatch, make, words):
    from streamlit.testing.v1 import AppTest

    path = make(tmp_path)
    before = _snapshot(path)
    monkeypatch.setenv("AKRIM_DB", str(path))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception
    [box] = at.error
    assert words in box.value and "Ingenting er endret" in box.value
    assert str(path) in md_plain(box.value)        # the path as typed, escaped for Markdown
    assert _snapshot(path) == before
