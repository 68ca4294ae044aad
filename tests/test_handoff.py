"""Operator commands while the dashboard holds the database (akrim_analytics/handoff.py):
the command line hands the job to the process that has the file open and prints its result."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from akrim_analytics import db
from akrim_analytics import handoff

from import_corpus import MESSY_ROWS, MESSY_TOTAL, messy_spend
from conftest import REPO, assert_no_error_box, log_in, run_cli as _cli, serve_app, wait_for_app



def _spend(con) -> tuple[int, float]:
    n, total = con.execute("SELECT count(*), coalesce(sum(amount), 0) FROM spend").fetchone()
    return n, float(total)


def _params(file: Path, **options) -> dict:
    params = {"file": file.name, "kind": "spend", "sheet": None, "mapping": None, "accept_valid_rows": True,
              "save_mapping": None, "json": False, "report": False}
    params.update(options)
    return params


def test_queue_runs_an_import_and_its_undo_on_the_holding_connection(tmp_path):
    path = tmp_path / "k.duckdb"
    con = db.connect(path)
    server = handoff.Server(path, con.cursor)
    file = messy_spend(tmp_path / "reskontro.xlsx")
    job = handoff.submit(path, "import", _params(file, report=True), (file,))
    assert server.run_pending() == 1
    result = json.loads((job / "result.json").read_text())
    assert result["code"] == 0, result
    assert f"Importert {MESSY_ROWS} rader fra «reskontro.xlsx»" in result["stdout"]
    assert (job / "out" / "report.xlsx").stat().st_size > 0
    assert not (job / "in").exists()                      # the copy is removed once run
    n, total = _spend(con)
    assert n == MESSY_ROWS and total == pytest.approx(MESSY_TOTAL)
    assert server.run_pending() == 0                      # a job runs once

    upload_id = con.execute("SELECT max(upload_id) FROM uploads").fetchone()[0]
    job = handoff.submit(path, "import-undo", {"upload_id": upload_id})
    assert server.run_pending() == 1
    result = json.loads((job / "result.json").read_text())
    assert result["code"] == 0 and f"Opplasting {upload_id} er angret" in result["stdout"]
    assert _spend(con) == (0, 0.0)


def test_a_bad_job_gets_the_clear_message_and_stores_nothing(tmp_path):
    path = tmp_path / "k.duckdb"
    con = db.connect(path)
    server = handoff.Server(path, con.cursor)
    ok = messy_spend(tmp_path / "ok.xlsx")
    handoff.submit(path, "import", _params(ok), (ok,))
    server.run_pending()
    before = _spend(con)

    pdf = tmp_path / "rapport.xlsx"
    pdf.write_bytes(b"%PDF-1.7\n" + b"x" * 2000)
    bad = handoff.submit(path, "import", _params(pdf), (pdf,))
    sneaky = handoff.submit(path, "import", {**_params(pdf), "file": "../../k.duckdb"}, (pdf,))
    typed = handoff.submit(path, "import", _params(pdf, kind=["spend"]), (pdf,))
    unknown = handoff.submit(path, "restore", {"from": str(tmp_path)})
    assert server.run_pending() == 4
    for job, words in ((bad, "«rapport.xlsx» er en PDF"), (sneaky, "invalid job"),
                       (typed, "invalid job"), (unknown, "invalid job")):
        result = json.loads((job / "result.json").read_text())
        assert result["code"] == 1 and result["stderr"].startswith("Feil: ") and words in result["stderr"], result
        assert "Traceback" not in result["stderr"]
    assert _spend(con) == before
    assert (tmp_path / "k.duckdb").exists()


def test_server_alive_only_while_the_holder_beats(tmp_path):
    path = tmp_path / "k.duckdb"
    con = db.connect(path)
    assert handoff.server_alive(path) is None
    server = handoff.Server(path, con.cursor)
    server.beat()
    assert handoff.server_alive(path)["pid"] > 0
    info = json.loads((handoff.queue_dir(path) / "server.json").read_text())
    (handoff.queue_dir(path) / "server.json").write_text(json.dumps({**info, "beat": time.time() - 60}))
    assert handoff.server_alive(path) is None              # stale: the dashboard died
    (handoff.queue_dir(path) / "server.json").write_text(json.dumps({**info, "pid": 2 ** 22 + 17}))
    assert handoff.server_alive(path) is None              # no such process


def _wait_for_queue(path: Path) -> None:
    """Until the served dashboard (its first page opened the database) serves the queue."""
    deadline = time.time() + 30
    while handoff.server_alive(path) is None and time.time() < deadline:
        time.sleep(0.2)


_HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from akrim_analytics import db
    from akrim_analytics import handoff
    con = db.connect(sys.argv[2])
    if sys.argv[3] == "serve":
        handoff.Server(sys.argv[2], con.cursor).start()
        while handoff.server_alive(sys.argv[2]) is None:
            time.sleep(0.05)
    print("ready", flush=True)
    sys.stdin.read()
""")


@contextlib.contextmanager
def _holder(path: Path, mode: str):
    """Another process that holds the database open (and serves its queue, like the
    dashboard, when ``mode`` is "serve") while the block runs."""
    p = subprocess.Popen([sys.executable, "-c", _HOLDER, str(REPO), str(path), mode], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        yield
    finally:
        p.stdin.close()
        p.wait(30)


def test_the_command_hands_its_import_to_the_process_holding_the_database(tmp_path):
    path = tmp_path / "k.duckdb"
    db.connect(path).close()
    file = messy_spend(tmp_path / "reskontro.xlsx")
    with _holder(path, "serve"):
        r = _cli("import", file, "--db", path, "--accept-valid-rows", "--report", tmp_path / "rapport.xlsx")
        assert r.returncode == 0, r.stderr
        assert f"Importert {MESSY_ROWS} rader fra «reskontro.xlsx»" in r.stdout
        assert "Det stemmer" in r.stdout                   # the reconciliation line, as without hand-over
        assert "jobben kjøres der" in r.stderr and "Traceback" not in r.stderr
        assert (tmp_path / "rapport.xlsx").stat().st_size > 0

        r = _cli("import", file, "--db", path, "--json")    # the same file again: recognised
        assert r.returncode == 1 and r.stderr.count("Feil: ") == 1 and "Traceback" not in r.stderr

        bad = tmp_path / "rapport.pdf.xlsx"
        bad.write_bytes(b"%PDF-1.7\n" + b"x" * 2000)
        r = _cli("import", bad, "--db", path)
        assert r.returncode == 1 and "er en PDF" in r.stderr and "Traceback" not in r.stderr

        r = _cli("import-undo", "1", "--db", path)
        assert r.returncode == 0 and "Opplasting 1 er angret" in r.stdout, r.stderr
        r = _cli("import", file, "--db", path, "--json", "--accept-valid-rows")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["rows"] == MESSY_ROWS
    assert not [p for p in handoff.queue_dir(path).iterdir() if p.is_dir()]   # every job cleaned up
    con = db.connect(path)
    assert _spend(con) == (MESSY_ROWS, pytest.approx(MESSY_TOTAL))
    assert con.execute("SELECT count(*) FILTER (WHERE status = 'undone'), count(*) FROM uploads").fetchone() == (1, 2)


def test_without_a_serving_dashboard_the_command_says_the_database_is_in_use(tmp_path):
    path = tmp_path / "k.duckdb"
    db.connect(path).close()
    with _holder(path, "hold"):
        r = _cli("import", messy_spend(tmp_path / "reskontro.xlsx"), "--db", path)
    assert r.returncode == 1 and "in use" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.browser
def test_scheduled_import_while_the_dashboard_runs(demo_db_copy, page, tmp_path):
    """The real dashboard holds the database; the command's import runs in it and the
    Import page lists the upload."""
    path = demo_db_copy("handoff")
    with serve_app(path, env={"AKRIM_JOB_QUEUE": "1"}) as (url, _):
        page.goto(url + "/import")
        wait_for_app(page)     # the first page opens the database and starts the queue
        _wait_for_queue(path)
        r = _cli("import", messy_spend(tmp_path / "nattlig-reskontro.xlsx"), "--db", path, "--accept-valid-rows")
        assert r.returncode == 0, r.stderr
        assert f"Importert {MESSY_ROWS} rader fra «nattlig-reskontro.xlsx»" in r.stdout
        assert "jobben kjøres der" in r.stderr
        page.reload()
        wait_for_app(page)
        page.get_by_role("tab", name="Opplastinger").click()
        # the uploads grid (newest first) has it in its first row
        page.locator("[data-testid=\"glide-cell-3-0\"]", has_text="nattlig-reskontro.xlsx").wait_for(
            state="attached", timeout=30_000)
        page.wait_for_timeout(500)
        assert_no_error_box(page, "import_handoff")
        page.get_by_text("Planlagt import fra serveren").click()     # the command to schedule, with this file
        page.get_by_text(f"--db {path}").first.wait_for(timeout=10_000)
        page.wait_for_timeout(800)   # the expander's opening animation
        assert_no_error_box(page, "import_handoff_hint")


def test_dashboard_waits_for_a_command_holding_the_database_then_says_so(tmp_path, monkeypatch):
    """The other way round: a command-line job holds the file when the dashboard opens
    it. The page waits, then says the database is busy (never a traceback), and opens it
    on the next run once the job is done."""
    from streamlit.testing.v1 import AppTest

    path = tmp_path / "k.duckdb"
    db.connect(path).close()
    monkeypatch.setenv("AKRIM_DB", str(path))
    monkeypatch.setenv("AKRIM_DB_WAIT_S", "1")
    with _holder(path, "hold"):
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
        assert not at.exception
        assert any("fortsatt opptatt av en annen prosess" in e.value for e in at.error)
    at.run()
    assert not at.exception and not at.error
    assert any("ingen brukere i denne databasen" in m.value for m in at.markdown)


PW = "Korrekt-Hest-Batteri-9"


def test_account_and_backup_commands_are_handed_over_too(tmp_path):
    """The first administrator is created while the dashboard shows "no users yet"; the
    password is hashed by the command, and only the hash is queued."""
    from akrim_analytics import users

    path = tmp_path / "k.duckdb"
    db.connect(path).close()
    with _holder(path, "serve"):
        r = _cli("create-user", "--db", path, "--username", "kari", "--role", "admin", "--password-stdin", stdin=PW + "\n")
        assert r.returncode == 0 and json.loads(r.stdout) == {"created": "kari", "role": "admin",
                                                               "login": "local password"}, r.stderr
        assert "jobben kjøres der" in r.stderr
        r = _cli("create-user", "--db", path, "--username", "ola", "--role", "leder", "--password-stdin", stdin="kort\n")
        assert r.returncode == 1 and "Traceback" not in r.stderr and "jobben kjøres der" not in r.stderr  # refused here
        r = _cli("create-user", "--db", path, "--username", "kari", "--role", "leder", "--sso")
        assert r.returncode == 1 and r.stderr.count("Feil: ") == 1 and "Traceback" not in r.stderr
        r = _cli("set-password", "--db", path, "--username", "kari", "--password-stdin", stdin=PW + "-2\n")
        assert r.returncode == 0 and json.loads(r.stdout)["password_set"] == "kari", r.stderr
        r = _cli("unlock-user", "--db", path, "--username", "kari")
        assert r.returncode == 0, r.stderr
        r = _cli("list-users", "--db", path)
        assert r.returncode == 0 and r.stdout.split()[:4] == ["kari", "admin", "active", "password"]
        r = _cli("backup", "--db", path, "--to", tmp_path / "sikkerhetskopi")
        assert r.returncode == 0, r.stderr
        assert Path(json.loads(r.stdout)["backup"]).is_relative_to(tmp_path / "sikkerhetskopi")
        r = _cli("restore", "--from", tmp_path / "sikkerhetskopi", "--db", path, "--force")
        # replacing the file under the dashboard would leave it writing to the old one: refused
        assert r.returncode == 1 and "in use by another process" in r.stderr and "Traceback" not in r.stderr
        assert not list(tmp_path.glob("k.duckdb.before-restore-*"))
    con = db.connect(path)
    assert users.authenticate(con, "kari", PW + "-2").status == "ok"
    assert con.execute("SELECT count(*) FROM users").fetchone()[0] == 1
    (stored,) = con.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2")


def test_a_queued_account_job_takes_a_real_hash_only(tmp_path):
    from akrim_analytics import users

    path = tmp_path / "k.duckdb"
    con = db.connect(path)
    server = handoff.Server(path, con.cursor)
    plain = handoff.submit(path, "create-user", {"username": "kari", "role": "admin", "display_name": None,
                                                 "sso": False, "password_hash": PW})
    good = handoff.submit(path, "create-user", {"username": "ola", "role": "leder", "display_name": "Ola",
                                                "sso": False, "password_hash": users.hash_password(PW)})
    assert server.run_pending() == 2
    assert json.loads((plain / "result.json").read_text())["code"] == 1
    assert json.loads((good / "result.json").read_text())["code"] == 0
    assert [r[0] for r in con.execute("SELECT username FROM users").fetchall()] == ["ola"]
    assert users.authenticate(con, "ola", PW).status == "ok"


def test_a_withdrawn_job_is_not_run_and_no_dashboard_means_run_here(tmp_path):
    path = tmp_path / "k.duckdb"
    con = db.connect(path)
    assert handoff.delegate(path, "list-users", {}) is None      # nobody serves the file: the command runs it
    server = handoff.Server(path, con.cursor)
    file = messy_spend(tmp_path / "reskontro.xlsx")
    job = handoff.submit(path, "import", _params(file), (file,))
    assert handoff._claim(job)                                    # Ctrl-C before the dashboard took it
    assert server.run_pending() == 0 and not (job / "result.json").exists()
    assert _spend(con) == (0, 0.0)


def test_summary_and_risk_commands_are_handed_over_too(tmp_path):
    """Scheduled reporting while the dashboard runs: summary --json, a re-score, the
    explanation, the run list and the settings export/import, with the command's own
    relative paths."""
    path = tmp_path / "k.duckdb"
    db.connect(path).close()
    file = messy_spend(tmp_path / "reskontro.xlsx")
    with _holder(path, "serve"):
        assert _cli("import", file, "--db", path, "--accept-valid-rows").returncode == 0
        r = _cli("summary", "--db", path, "--json", cwd=tmp_path)
        assert r.returncode == 0 and "jobben kjøres der" in r.stderr, r.stderr
        data = json.loads(r.stdout)
        assert data["spend_rows"] == MESSY_ROWS and set(data["risk"]) == {"lav", "middels", "høy"}
        r = _cli("risk", "score", "--db", path, "--as-of", "2025-12-31", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["suppliers"] >= 1
        r = _cli("risk", "runs", "--db", path, cwd=tmp_path)
        assert r.returncode == 0 and "31.12.2025" in r.stdout
        r = _cli("risk", "score", "--db", path, "--as-of", "2025-13-01", cwd=tmp_path)
        assert r.returncode == 1 and "expected a date" in r.stderr and "jobben" not in r.stderr   # refused here
        r = _cli("risk", "config", "--db", path, "--export", "innstillinger.toml", cwd=tmp_path)
        assert r.returncode == 0 and (tmp_path / "innstillinger.toml").read_text().strip(), r.stderr
        r = _cli("risk", "config", "--db", path, "--import", "innstillinger.toml", "--note", "uendret", cwd=tmp_path)
        assert r.returncode == 0 and json.loads(r.stdout)["config_version"] >= 1, r.stderr
        r = _cli("risk", "explain", "NO-SUCH", "--supplier", "--db", path, cwd=tmp_path)
        assert r.returncode == 1 and "is not assessed" in r.stderr and "Traceback" not in r.stderr
    con = db.connect(path)
    assert con.execute("SELECT count(*) FROM risk_runs WHERE reason = 'cli'").fetchone()[0] == 1


def test_report_and_plan_files_come_back_to_the_commands_folder(demo_db_copy, tmp_path):
    """The quarterly report and the plan export, made in the process that holds the
    database, land where the command (run from another folder, relative paths) said."""
    path = demo_db_copy("handoff-report")
    with _holder(path, "serve"):
        r = _cli("report", "--db", path, "--quarter", "2026-K3", "--format", "xlsx", "--out", "rapporter",
                 cwd=tmp_path, timeout=300)
        assert r.returncode == 0 and "jobben kjøres der" in r.stderr, r.stderr
        (written,) = json.loads(r.stdout)
        assert written["file"].startswith("rapporter/") and (tmp_path / written["file"]).stat().st_size > 0
        r = _cli("plan", "export", "--db", path, "--quarter", "2026-K4", "--out", "plan.xlsx", cwd=tmp_path,
                 timeout=300)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["file"] == "plan.xlsx" and (tmp_path / "plan.xlsx").stat().st_size > 0
        r = _cli("plan", "show", "--db", path, "--quarter", "2026-K9", cwd=tmp_path, timeout=300)
        assert r.returncode == 1 and "Feil: --quarter '2026-K9'" in r.stderr and "Traceback" not in r.stderr
    assert not [p for p in handoff.queue_dir(path).iterdir() if p.is_dir()]


def test_demo_never_rebuilds_over_a_file_another_process_holds(tmp_path):
    """Like restore: rebuilding the demo under a running dashboard would leave it writing
    to the old file. Refused at once; the file is untouched."""
    path = tmp_path / "demo.duckdb"
    db.connect(path).close()
    before = path.read_bytes()
    with _holder(path, "hold"):
        r = _cli("demo", "--db", path)
    assert r.returncode == 1 and "in use by another process" in r.stderr and "Traceback" not in r.stderr
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["demo.duckdb"]


def test_a_queue_the_command_cannot_write_to_gets_a_clear_message(tmp_path, monkeypatch):
    from akrim_analytics.cli import UserError

    path = tmp_path / "k.duckdb"
    con = db.connect(path)
    handoff.Server(path, con.cursor).beat()

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(handoff, "submit", denied)
    with pytest.raises(UserError, match="kan ikke legges i køen .*Permission denied.*samme bruker"):
        handoff.delegate(path, "list-users", {})


@pytest.mark.browser
def test_first_administrator_created_while_the_dashboard_shows_how(tmp_path, page):
    """A new installation: the first page says to run create-user; the operator does, with
    the dashboard running, and logs in on the next load."""
    path = tmp_path / "kommune.duckdb"
    db.connect(path).close()
    with serve_app(path, env={"AKRIM_JOB_QUEUE": "1"}) as (url, _):
        page.goto(url)
        wait_for_app(page)
        page.get_by_text("Det finnes ingen brukere i denne databasen ennå").wait_for(timeout=30_000)
        _wait_for_queue(path)
        r = _cli("create-user", "--db", path, "--username", "kari", "--role", "admin", "--display-name",
                 "Kari Admin", "--password-stdin", stdin=PW + "\n")
        assert r.returncode == 0 and "jobben kjøres der" in r.stderr, r.stderr
        page.reload()
        wait_for_app(page)
        log_in(page, "kari", PW)
        assert_no_error_box(page, "handoff_first_admin")
