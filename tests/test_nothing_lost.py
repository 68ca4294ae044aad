"""Nothing is lost: concurrent imports and readers on one database, and a process killed
while an import commits. Real imports (importer.import_file) of generated ERP exports."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from akrim_analytics import auth, backup, db, importer, orgnr

from conftest import REPO

SHARED = REPO.parent / "shared" / "reference"
# The org.nrs of the exports come from the real Enhetsregisteret sample beside the repository
# (the brief's shared/reference) when it is there (see _orgnrs).
ANALYST_A = auth.User("ola", "analytiker")
ANALYST_B = auth.User("kari", "analytiker")


def _orgnrs() -> list[str]:
    """300 real organisation numbers from the Enhetsregisteret sample; where the shared
    reference data is absent (a checkout on its own), 300 MOD11-valid ones made up."""
    sample = SHARED / "brreg_enheter_sample_2024.csv"
    if sample.exists():
        return pd.read_csv(sample, dtype=str, usecols=["organisasjonsnummer"])["organisasjonsnummer"].head(300).tolist()
    out, n = [], 91000000
    while len(out) < 300:
        d = orgnr.check_digit(str(n))
        if d is not None:
            out.append(f"{n}{d}")
        n += 7
    return out


def make_export(path, n: int, seed: int) -> tuple[int, Decimal]:
    """An ERP spend export (Visma-like headers) as CSV; returns (rows, total)."""
    rng = np.random.default_rng(seed)
    orgs = _orgnrs()
    idx = rng.integers(0, len(orgs), n)
    amounts = np.round(rng.uniform(-5_000, 250_000, n), 2)
    df = pd.DataFrame({
        "Bilagsdato": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 360, n), unit="D"),
        "Leverandørnr": [f"L{i}" for i in idx],
        "Leverandørnavn": [f"Leverandør {i} AS" for i in idx],
        "Org.nr.": [orgs[i] for i in idx],
        "Beløp": amounts,
        "Art": rng.choice(["10700", "11200", "12300", "13700"], n),
        "Ansvar": rng.choice(["4100", "4200", "5100"], n),
        "Fakturanr": [f"F{seed}-{i}" for i in range(n)],
    })
    df["Bilagsdato"] = df["Bilagsdato"].dt.strftime("%d.%m.%Y")
    df.to_csv(path, sep=";", decimal=",", index=False, encoding="utf-8")
    return n, Decimal(str(round(float(amounts.sum()), 2)))


def state(con) -> tuple:
    """What a reader sees, from ONE statement (so one snapshot)."""
    return con.execute(
        """SELECT (SELECT count(*) FROM spend), (SELECT coalesce(sum(amount), 0) FROM spend),
                  (SELECT count(*) FROM uploads WHERE status = 'committed' AND kind = 'spend'),
                  (SELECT coalesce(sum(rows), 0) FROM uploads WHERE status = 'committed' AND kind = 'spend'),
                  (SELECT coalesce(sum(total), 0) FROM uploads WHERE status = 'committed' AND kind = 'spend'),
                  (SELECT count(*) FROM audit_log WHERE action = 'upload')""").fetchone()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("exports")
    out = {}
    for name, n, seed in (("base", 5_000, 1), ("a", 40_000, 2), ("b", 40_000, 3), ("big", 150_000, 4)):
        out[name] = (d / f"reskontro_{name}.csv", *make_export(d / f"reskontro_{name}.csv", n, seed))
    return out


# ----------------------------------------------------------------------- (a) threads

def test_two_analysts_import_at_once_while_others_read(files, db_path):
    con = db.connect(db_path)                  # one connection, a cursor per thread (as the app)
    base_path, base_n, base_total = files["base"]
    importer.import_file(con.cursor(), ANALYST_A, base_path, kind="spend")
    s0 = state(con)
    assert s0[:2] == (base_n, base_total)
    (pa, na, ta), (pb, nb, tb) = files["a"], files["b"]
    allowed = {(s0[0] + da, s0[1] + dt) for da, dt in ((0, 0), (na, ta), (nb, tb), (na + nb, ta + tb))}

    errors: list[BaseException] = []
    seen: list[tuple] = []
    results = {}
    done = threading.Event()
    start = threading.Barrier(2 + 3)

    def analyst(user, path, key):
        cur = con.cursor()
        try:
            start.wait()
            results[key] = importer.import_file(cur, user, path, kind="spend")
        except BaseException as e:  # noqa: BLE001 - what the test is about
            errors.append(e)

    def reader():
        cur = con.cursor()
        start.wait()
        try:
            while not done.is_set():
                s = state(cur)
                seen.append(s)
                from akrim_analytics import queries
                from akrim_analytics.filters import Filters, Period
                queries.spend_kpis(cur, Filters(Period(2025)))
                time.sleep(0.005)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    analysts = [threading.Thread(target=analyst, args=(ANALYST_A, pa, "a")),
                threading.Thread(target=analyst, args=(ANALYST_B, pb, "b"))]
    for t in readers + analysts:
        t.start()
    for t in analysts:
        t.join(300)
    done.set()
    for t in readers:
        t.join(60)

    assert not errors, errors
    assert results["a"].rows == na and results["b"].rows == nb
    assert Decimal(str(results["a"].total)) == ta and Decimal(str(results["b"].total)) == tb
    final = state(con)
    assert final[:2] == (s0[0] + na + nb, s0[1] + ta + tb)
    assert final[2:] == (3, final[0], final[1], 3)
    # Every reader snapshot is a whole state: no half import, and spend always matches uploads.
    assert len(seen) > 10
    for s in seen:
        assert (s[0], s[1]) in allowed, s
        assert (s[3], s[4]) == (s[0], s[1]), s
    counts = [s[0] for s in seen]
    assert len(set(counts)) >= 2, "the readers never saw an import land"
    con.close()


def test_the_same_file_twice_at_once_is_stored_once(files, db_path):
    con = db.connect(db_path)
    path, n, total = files["a"]
    outcomes: list = []

    def go(user):
        try:
            outcomes.append(importer.import_file(con.cursor(), user, path, kind="spend"))
        except BaseException as e:  # noqa: BLE001
            outcomes.append(e)

    threads = [threading.Thread(target=go, args=(u,)) for u in (ANALYST_A, ANALYST_B)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    ok = [o for o in outcomes if isinstance(o, importer.ImportResult)]
    refused = [o for o in outcomes if isinstance(o, importer.ImportRefused)]
    assert len(ok) == 1 and len(refused) == 1, outcomes
    assert refused[0].code.startswith("duplicate_file") and "Ingenting er lagret" in str(refused[0])
    assert state(con)[:2] == (n, total)
    con.close()


# ----------------------------------------------------------------------- (b) killed process

CHILD = textwrap.dedent('''
    import os, sys, time
    from contextlib import contextmanager
    sys.path.insert(0, {repo!r})
    from akrim_analytics import auth, db, importer

    marker, db_path, file_path, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    con = db.connect(db_path)
    before = con.execute("SELECT count(*) FROM spend").fetchone()[0]

    @contextmanager
    def transaction(c):
        # db.transaction, announcing the import's COMMIT to the test before running it
        with db._write_lock:
            c.execute("BEGIN TRANSACTION")
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            else:
                if c.execute("SELECT count(*) FROM spend").fetchone()[0] > before:
                    open(marker + ".committing", "w").close()
                    time.sleep(pause)
                c.execute("COMMIT")
                if c.execute("SELECT count(*) FROM spend").fetchone()[0] > before:
                    open(marker + ".committed", "w").close()

    db.transaction = transaction
    importer.import_file(con, auth.User("ola", "analytiker"), file_path, kind="spend")
    open(marker + ".done", "w").close()
''')


def _run_and_kill(tmp_path, base_db, file_path, pause: float, kill_after: float, i: int):
    work = tmp_path / f"run{i}.duckdb"
    shutil.copy(base_db, work)
    marker = str(tmp_path / f"run{i}")
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(repo=str(REPO)), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), marker, str(work), str(file_path), str(pause)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while not os.path.exists(marker + ".committing"):
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode(errors="replace"))
        assert time.time() < deadline, "the import never reached its commit"
        time.sleep(0.001)
    if kill_after:
        time.sleep(kill_after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    committed = os.path.exists(marker + ".committed")
    c = db.connect(work)                         # recovery (WAL replay) happens here
    try:
        return committed, state(c), backup.fingerprint(c)["tables"]
    finally:
        c.close()


def test_a_process_killed_during_the_commit_leaves_the_database_as_before(files, tmp_path):
    base_db = tmp_path / "base.duckdb"
    c = db.connect(base_db)
    importer.import_file(c, ANALYST_A, files["base"][0], kind="spend")
    before_state = state(c)
    before_tables = backup.fingerprint(c)["tables"]
    c.close()
    path, n, total = files["big"]
    after_state = (before_state[0] + n, before_state[1] + total, before_state[2] + 1,
                   before_state[3] + n, before_state[4] + total, before_state[5] + 1)

    # 1) killed with every row written but not committed; 2..) killed at growing delays
    #    after COMMIT started: during the WAL write, the checkpoint, or just after.
    runs = [(2.0, 0.1)] + [(0.0, d) for d in (0.0, 0.005, 0.02, 0.06, 0.2)]
    outcomes = []
    for i, (pause, kill_after) in enumerate(runs):
        committed, got, tables = _run_and_kill(tmp_path, base_db, path, pause, kill_after, i)
        if got == before_state:
            assert tables == before_tables, f"run {i}: counts as before but other tables changed"
            assert not committed, f"run {i}: COMMIT returned, yet the import is gone"
            outcomes.append("before")
        else:
            assert got == after_state, f"run {i}: partial import after a kill: {got}"
            outcomes.append("after")
    assert outcomes[0] == "before"
    assert len(outcomes) == len(runs)


def test_undo_needs_the_uploader_or_an_admin_and_is_audited(files, con):
    r = importer.import_file(con, ANALYST_A, files["base"][0], kind="spend")
    before = backup.fingerprint(con)["tables"]
    with pytest.raises(auth.PermissionDenied):
        importer.undo_upload(con, ANALYST_B, r.upload_id)          # another analyst
    with pytest.raises(auth.PermissionDenied):
        importer.undo_upload(con, auth.User("leder1", "leder"), r.upload_id)
    assert backup.fingerprint(con)["tables"] == before
    importer.undo_upload(con, auth.User("anne", "admin"), r.upload_id)
    assert state(con)[:3] == (0, 0, 0)
    rows = con.execute("SELECT username, action, object_id FROM audit_log WHERE action IN ('upload', 'undo') "
                       "ORDER BY audit_id").fetchall()
    assert rows == [("ola", "upload", str(r.upload_id)), ("anne", "undo", str(r.upload_id))]
