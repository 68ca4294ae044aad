"""Backup and restore (DuckDB EXPORT/IMPORT DATABASE to Parquet) keep every row."""
from __future__ import annotations

import json
import os
from datetime import datetime

import duckdb
import pytest
from argon2 import PasswordHasher

from akrim_analytics import audit, auth, backup, db, users

from conftest import run_cli as cli


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """A small demo municipality (all tables filled) with an account and some audit rows."""
    from akrim_analytics import demo

    path = tmp_path_factory.mktemp("bk") / "kommune.duckdb"
    demo.build(path, supplier_scale=0.05, line_scale=0.01, max_contracts=60)
    c = db.connect(path)
    users.HASHER, saved = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1), users.HASHER
    try:
        users.create_user(c, auth.SYSTEM, "kari", "admin", password="korrekt hest batteri")
        users.authenticate(c, "kari", "feil passord!!", now=datetime(2026, 1, 5, 8))
    finally:
        users.HASHER = saved
    c.execute("CHECKPOINT")
    c.close()
    return path


def facts(path):
    c = duckdb.connect(str(path), read_only=True)
    try:
        fp = backup.fingerprint(c)
        spend = c.execute("SELECT count(*), sum(amount), count(DISTINCT supplier_id) FROM spend").fetchone()
        max_audit = c.execute("SELECT max(audit_id) FROM audit_log").fetchone()[0]
        versions = c.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    finally:
        c.close()
    return fp, spend, max_audit, versions


def test_round_trip_keeps_every_row_and_the_schema_version(small_db, tmp_path):
    before, spend, max_audit, versions = facts(small_db)
    assert spend[0] > 1000 and before["tables"]["users"]["rows"] == 1
    c = db.connect(small_db)
    try:
        m = backup.backup(c, tmp_path / "bk", source=str(small_db))
    finally:
        c.close()
    assert m["path"] == str(tmp_path / "bk") and not (tmp_path / "bk.partial").exists()
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["schema_version"] == before["schema_version"] == max(v for v, _ in versions)
    assert manifest["tables"] == before["tables"]          # the snapshot before the 'backup' audit row

    r = backup.restore(tmp_path / "bk", tmp_path / "restored.duckdb")
    assert r["schema_version"] == before["schema_version"] and r["previous_file_kept_as"] is None
    after, spend2, max_audit2, versions2 = facts(tmp_path / "restored.duckdb")
    assert spend2 == spend and versions2 == versions
    for name, t in before["tables"].items():
        if name not in ("audit_log", "meta"):               # restore adds its own audit row, bumps data_version
            assert after["tables"][name] == t, name
    assert after["tables"]["audit_log"]["rows"] == before["tables"]["audit_log"]["rows"] + 1
    assert after["spend_total"] == before["spend_total"]

    # The restored database is usable: sequences continue, accounts and hashes work.
    c = db.connect(tmp_path / "restored.duckdb")
    try:
        restore_entry = audit.entries(c, action="restore")
        assert len(restore_entry) == 1 and restore_entry["audit_id"].iloc[0] > max_audit
        audit.log(c, auth.SYSTEM, "check")
        assert c.execute("SELECT max(audit_id) FROM audit_log").fetchone()[0] == restore_entry["audit_id"].iloc[0] + 1
        assert users.authenticate(c, "kari", "korrekt hest batteri").ok
        assert users.lock_state(c, "kari").failures == 0
        assert c.execute("SELECT count(*) FROM duckdb_indexes() WHERE index_name = 'login_attempts_username'").fetchone()[0] == 1
    finally:
        c.close()


def test_existing_target_needs_force_and_is_kept(small_db, tmp_path):
    c = db.connect(small_db)
    try:
        backup.backup(c, tmp_path / "bk")
    finally:
        c.close()
    target = tmp_path / "live.duckdb"
    other = db.connect(target)
    audit.log(other, auth.SYSTEM, "marker")
    other.close()
    with pytest.raises(backup.BackupError, match="--force"):
        backup.restore(tmp_path / "bk", target)
    r = backup.restore(tmp_path / "bk", target, force=True)
    kept = r["previous_file_kept_as"]
    assert kept and os.path.exists(kept)
    k = duckdb.connect(kept, read_only=True)
    assert k.execute("SELECT count(*) FROM audit_log WHERE action = 'marker'").fetchone()[0] == 1
    k.close()
    assert facts(target)[1] == facts(small_db)[1]


def _refused_and_untouched(small_db, tmp_path, spoil, match: str) -> None:
    """Take a backup, ``spoil(backup_dir)`` it, and check that restoring it over a live
    file is refused with ``match`` in the message and the file is left as it was."""
    c = db.connect(small_db)
    try:
        backup.backup(c, tmp_path / "bk")
    finally:
        c.close()
    spoil(tmp_path / "bk")
    target = tmp_path / "live.duckdb"
    target.write_bytes(b"not touched")
    with pytest.raises(backup.BackupError, match=match):
        backup.restore(tmp_path / "bk", target, force=True)
    assert target.read_bytes() == b"not touched"
    assert not (tmp_path / "live.duckdb.restoring").exists()


def test_a_damaged_backup_is_refused_and_nothing_is_touched(small_db, tmp_path):
    def row_missing(bk):   # replace the spend file by one with a row missing
        pq = bk / "spend.parquet"
        t = duckdb.connect()
        t.execute(f"COPY (SELECT * FROM '{pq}' LIMIT (SELECT count(*) - 1 FROM '{pq}')) "
                  f"TO '{tmp_path / 'x.parquet'}' (FORMAT parquet)")
        t.close()
        os.replace(tmp_path / "x.parquet", pq)

    _refused_and_untouched(small_db, tmp_path, row_missing, "spend")


def test_a_backup_from_a_newer_version_is_refused(small_db, tmp_path):
    """A backup whose schema is newer than this program knows would be restored and then
    refused on every open (or misread): it is refused before anything is touched."""
    def from_a_newer_version(bk):
        m = json.loads((bk / backup.MANIFEST).read_text(encoding="utf-8"))
        m["schema_version"] = db.latest_schema() + 1
        (bk / backup.MANIFEST).write_text(json.dumps(m), encoding="utf-8")

    _refused_and_untouched(small_db, tmp_path, from_a_newer_version, "newer version")


def test_refuses_what_is_not_a_backup(tmp_path):
    (tmp_path / "x.partial").mkdir()
    with pytest.raises(backup.BackupError, match="unfinished"):
        backup.restore(tmp_path / "x.partial", tmp_path / "a.duckdb")
    (tmp_path / "empty").mkdir()
    with pytest.raises(backup.BackupError, match="manifest"):
        backup.restore(tmp_path / "empty", tmp_path / "a.duckdb")


def test_backup_into_existing_directory_makes_a_dated_folder(con, db_path, tmp_path):
    (tmp_path / "nightly").mkdir()
    m = backup.backup(con, tmp_path / "nightly", source=str(db_path))
    assert os.path.dirname(m["path"]) == str(tmp_path / "nightly")
    assert os.path.basename(m["path"]).startswith("test-")
    with pytest.raises(backup.BackupError, match="holds a backup"):
        backup.backup(con, m["path"])
    assert audit.entries(con, action="backup")["object_id"].tolist() == [os.path.basename(m["path"])]


@pytest.mark.parametrize("role", ["leder", "analytiker"])
def test_backup_and_restore_need_admin(con, tmp_path, role):
    with pytest.raises(auth.PermissionDenied):
        backup.backup(con, tmp_path / "bk", auth.User("x", role))
    assert not (tmp_path / "bk").exists() and not (tmp_path / "bk.partial").exists()
    with pytest.raises(auth.PermissionDenied):
        backup.restore(tmp_path / "bk", tmp_path / "y.duckdb", user=auth.User("x", role))


def test_cli_round_trip_and_clear_errors(small_db, tmp_path):
    work = tmp_path / "work.duckdb"
    work.write_bytes(small_db.read_bytes())
    r = cli("backup", "--db", str(work), "--to", str(tmp_path / "bk"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["backup"] == str(tmp_path / "bk") and out["schema_version"] == facts(small_db)[0]["schema_version"]
    r = cli("restore", "--from", str(tmp_path / "bk"), "--db", str(tmp_path / "new.duckdb"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["schema_version"] == out["schema_version"]
    assert facts(tmp_path / "new.duckdb")[1] == facts(small_db)[1]

    r = cli("restore", "--from", str(tmp_path / "bk"), "--db", str(tmp_path / "new.duckdb"))
    assert r.returncode == 1 and r.stderr.startswith("Feil: ") and "--force" in r.stderr and "Traceback" not in r.stderr

    # The dashboard (here: this process) holds the file: a clear message, not a traceback.
    holder = duckdb.connect(str(work))
    try:
        r = cli("backup", "--db", str(work), "--to", str(tmp_path / "bk2"))
    finally:
        holder.close()
    assert r.returncode == 1 and "in use" in r.stderr and "Traceback" not in r.stderr


def test_restore_never_replaces_a_file_another_process_holds(small_db, tmp_path):
    """--force on the dashboard's database while it runs would leave the dashboard writing
    to the old file (kept aside) while the new one looks restored: refused, nothing moved."""
    work = tmp_path / "work.duckdb"
    work.write_bytes(small_db.read_bytes())
    assert cli("backup", "--db", str(work), "--to", str(tmp_path / "bk")).returncode == 0
    before = work.read_bytes()
    holder = duckdb.connect(str(work))   # this process, as the dashboard would
    try:
        r = cli("restore", "--from", str(tmp_path / "bk"), "--db", str(work), "--force")
    finally:
        holder.close()
    assert r.returncode == 1 and "in use by another process" in r.stderr and "Traceback" not in r.stderr
    assert work.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bk", "work.duckdb"]
    r = cli("restore", "--from", str(tmp_path / "bk"), "--db", str(work), "--force")   # released: restored
    assert r.returncode == 0 and json.loads(r.stdout)["previous_file_kept_as"], r.stderr
