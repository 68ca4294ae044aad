"""Shared fixtures: small fresh databases for unit tests, one demo database per run."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from akrim_analytics import db  # noqa: E402

ARTIFACTS = REPO / "test-artifacts"

# The command line as an operator runs it.
CLI = [sys.executable, "-m", "akrim_analytics"]


def run_cli(*args, stdin: str | None = None, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m akrim_analytics`` with ``args`` (paths may be given as paths), run from
    ``cwd`` (an operator's own folder: relative paths are theirs) with the package
    importable from there; stdout and stderr captured as text."""
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          input=stdin, env={**os.environ, "PYTHONPATH": str(REPO)})

# The dashboard's job queue (akrim_analytics/handoff.py) is a thread per database the process
# opens: AppTests open hundreds of small databases in this process, so it is off here and
# on in the tests that serve it (tests/test_handoff.py passes AKRIM_JOB_QUEUE=1).
os.environ["AKRIM_JOB_QUEUE"] = "0"


def _apptest_in_navigation_mode() -> None:
    """Make AppTest run app.py the way a served app runs it after its first request.

    AppTest resets Streamlit's class flag ``PagesManager.uses_pages_directory`` before every
    ``run()``; with our ``pages/`` folder that is the old multipage mode, in which
    ``ui.common.entry_point`` restarts the run (dropping the click being tested) and
    ``switch_page`` would run a page file without app.py. A served app is in
    ``st.navigation`` mode from its second run on. ``tests/test_auth_roles.py`` tests
    the old mode on purpose (``ORIGINAL_PAGES_MANAGER``)."""
    import streamlit.testing.v1.app_test as app_test

    class NavigationModePagesManager(ORIGINAL_PAGES_MANAGER):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            ORIGINAL_PAGES_MANAGER.uses_pages_directory = False

    app_test.PagesManager = NavigationModePagesManager


from streamlit.runtime.pages_manager import PagesManager as ORIGINAL_PAGES_MANAGER  # noqa: E402

_apptest_in_navigation_mode()


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def con(db_path):
    """A fresh, migrated database with no data."""
    c = db.connect(db_path)
    yield c
    c.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The full demo municipality, built once per test run (about 10 s)."""
    from akrim_analytics import demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    demo.build(path)
    return path


@pytest.fixture(scope="session")
def demo_db_copy(demo_db, tmp_path_factory):
    """Factory: a private copy of the demo database, for another process to open.

    DuckDB lets only one process open a file; this test process keeps the demo
    database open (AppTest's cached connection), so servers and CLI runs get a copy."""
    import shutil

    def make(name: str = "copy") -> Path:
        path = tmp_path_factory.mktemp(name) / "demo.duckdb"
        shutil.copy(demo_db, path)
        return path

    return make


@pytest.fixture
def demo_con(demo_db):
    c = db.connect(demo_db)
    yield c
    c.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(db_file, port: int | None = None, extra_args: tuple = (), env: dict | None = None):
    """Serve app.py on localhost over ``db_file``; yields (url, process). Stops it afterwards.
    ``env``: more environment variables for the server."""
    import urllib.request

    port = port or free_port()
    env = dict(os.environ, AKRIM_DB=str(db_file), **(env or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1", *extra_args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode(errors="replace"))
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("streamlit did not start")
    try:
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def streamlit_server(demo_db_copy):
    """The real app served on localhost over (a copy of) the demo database."""
    with serve_app(demo_db_copy("server")) as (url, _):
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download does not work here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="nb-NO")
    pg = ctx.new_page()
    yield pg
    ctx.close()


@contextlib.contextmanager
def app_page(browser, db_file, path: str, height: int = 1200):
    """A Norwegian browser page on the app served over a database file of its own (for a
    test that changes data), opened at ``path`` and run; yields the page."""
    with serve_app(db_file) as (url, _):
        ctx = browser.new_context(viewport={"width": 1600, "height": height}, locale="nb-NO")
        page = ctx.new_page()
        try:
            page.goto(url + path)
            wait_for_app(page)
            yield page
        finally:
            ctx.close()


def tick_row(page, row: int = 0) -> None:
    """Tick the row selector of a row (0 = first) of the page's first table, a grid drawn
    on a canvas: rows are 35 px under a 35 px header, the selector at the left."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for(timeout=60000)
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)   # the canvas is drawn after the script has run
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 * (row + 1) + 17)


def assert_no_error_box(page, name: str) -> None:
    """Save a screenshot as a test artifact and fail on any Streamlit error or exception box."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"{name}: exception box: {exceptions.first.inner_text()}"
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"{name}: error box: {errors.first.inner_text()}"


def log_in(page, username: str, password: str) -> None:
    """Log in through the login form and wait until the app has run as that user."""
    page.get_by_label("Brukernavn").fill(username)
    page.get_by_label("Passord").fill(password)
    page.get_by_role("button", name="Logg inn").click()
    page.get_by_text("Innlogget som").wait_for(timeout=30000)
    wait_for_app(page)


def wait_for_app(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid=\"stApp\"]", timeout=60000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90000)
    page.wait_for_timeout(500)


def md_plain(text: str) -> str:
    """Markdown source as the reader sees it: the escapes the pages put before
    characters of names and messages from data (``ui.common.md_escape``) removed."""
    import re

    return re.sub(r"\\(.)", r"\1", text)
