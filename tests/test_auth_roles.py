"""For each role, every page and every write function in the core: allowed or refused.

The page matrix comes from ``akrim_analytics/nav.py`` (min_role per page); the write
functions are found in the source (every public core function that calls
``auth.require``) and called with each role, so a function added later is covered
without editing this file."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import akrim_analytics
from akrim_analytics import auth, backup, db, nav

from conftest import ORIGINAL_PAGES_MANAGER, REPO

EXISTING_PAGES = [s for s in nav.PAGES if (REPO / s.path).exists()]
ADMIN = auth.User("test.admin", "admin")


# ----------------------------------------------------------------------- pages

@pytest.mark.parametrize("role", auth.ROLES)
def test_every_page_is_allowed_or_refused_by_role(role, demo_db, monkeypatch):
    """Opening each page (as a typed URL would) runs it only for roles at or above
    its min_role; otherwise the default page runs instead, without an exception."""
    monkeypatch.setenv("AKRIM_DB", str(demo_db))
    user = auth.User(f"test.{role}", role)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["user"] = user
    at.run()
    assert not at.exception, at.exception
    default = next(s for s in nav.PAGES if s.default)
    assert at.session_state["_page"] == default.url_path
    for spec in EXISTING_PAGES:
        # AppTest only switches to a page the last run's menu listed; an admin run lists
        # all, then the role's run asks for the page by its URL, as a typed link would.
        at.session_state["user"] = ADMIN
        at.switch_page(default.path).run()
        at.session_state["user"] = user
        at.switch_page(spec.path).run()
        assert not at.exception, f"{spec.path} as {role}: {at.exception}"
        ran = at.session_state["_page"]
        if user.has(spec.min_role):
            assert ran == spec.url_path, f"{role} was refused {spec.path}"
        else:
            assert ran != spec.url_path, f"{role} could open {spec.path} (needs {spec.min_role})"
            assert ran == default.url_path


def test_admin_pages_exist_and_need_admin():
    specs = {s.path: s for s in nav.PAGES}
    for path in ("pages/brukere.py", "pages/revisjonslogg.py"):
        assert (REPO / path).exists() and specs[path].min_role == "admin"


@pytest.fixture
def pages_folder_mode(monkeypatch):
    """AppTest as Streamlit really starts a server whose repository has a pages/ folder."""
    import streamlit.testing.v1.app_test as app_test

    monkeypatch.setattr(app_test, "PagesManager", ORIGINAL_PAGES_MANAGER)


def test_a_page_url_on_a_fresh_server_still_needs_login(pages_folder_mode, db_path, monkeypatch):
    # In Streamlit's pages-folder mode a URL like /brukere runs pages/brukere.py without
    # app.py. ui.common reroutes such a run through app.py, which shows the login.
    db.connect(db_path).close()
    monkeypatch.setenv("AKRIM_DB", str(db_path))
    for spec in EXISTING_PAGES:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
        at.run()
        at.switch_page(spec.path).run()
        assert not at.exception, f"{spec.path}: {at.exception}"
        assert [t.value for t in at.title] == ["A-krim-analyse"], f"{spec.path} ran without login"
        assert "_page" not in at.session_state


def test_a_page_url_on_a_fresh_server_checks_the_role(pages_folder_mode, demo_db, monkeypatch):
    monkeypatch.setenv("AKRIM_DB", str(demo_db))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["user"] = ADMIN
    at.run()
    at.session_state["user"] = auth.User("test.leder", "leder")
    at.switch_page("pages/brukere.py").run()
    assert not at.exception
    assert at.session_state["_page"] != "brukere" and "Brukere" not in [t.value for t in at.title]


# ----------------------------------------------------------------------- write functions

def _core_modules():
    for info in pkgutil.walk_packages(akrim_analytics.__path__, "akrim_analytics."):
        if info.name.endswith(("__main__", "cli")):
            continue
        yield info.name


def _calls_require(fn_node: ast.AST) -> bool:
    for node in ast.walk(fn_node):
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Name) and f.id == "require") or (isinstance(f, ast.Attribute) and f.attr == "require"):
                return True
    return False


def _uses_transaction(fn_node: ast.AST) -> bool:
    for node in ast.walk(fn_node):
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Name) and f.id == "transaction") or (isinstance(f, ast.Attribute) and f.attr == "transaction"):
                return True
    return False


def discover():
    """(module, name, function) for every public top-level core function that takes a
    user and calls ``require``; and the public functions that open a write transaction
    without calling ``require``."""
    checked, unchecked = [], []
    for modname in _core_modules():
        path = Path(importlib.util.find_spec(modname).origin)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            params = [a.arg for a in node.args.args + node.args.kwonlyargs]
            if _calls_require(node) and ({"user", "actor"} & set(params)):
                checked.append((modname, node.name))
            elif _uses_transaction(node) and node.name != "transaction":
                unchecked.append((modname, node.name, params))
    return checked, unchecked


WRITE_FUNCTIONS, UNCHECKED_WRITERS = discover()

# Functions that write without a user, and why that is right.
NO_USER_WRITERS = {
    ("akrim_analytics.db", "migrate"): "schema migrations, run by connect()",
    ("akrim_analytics.demo", "build"): "builds the demo database file from scratch (operator, CLI)",
    ("akrim_analytics.users", "authenticate"): "the login itself: no user yet; throttled and audited",
    ("akrim_analytics.users", "record_sso_login"): "records the identity provider's answer; audited",
}

# The role each write function needs, from issue 8: leder reads (and its exports and
# logins are recorded); analytiker uploads, undoes own uploads, edits contracts and the
# control log; admin changes settings and users, undoes any upload, backs up/restores.
EXPECTED = {
    "akrim_analytics.users.create_user": "admin",
    "akrim_analytics.users.update_user": "admin",
    "akrim_analytics.users.set_password": "admin",
    "akrim_analytics.users.unlock": "admin",
    "akrim_analytics.users.change_own_password": "leder",
    "akrim_analytics.users.logout": "leder",
    "akrim_analytics.backup.backup": "admin",
    "akrim_analytics.backup.restore": "admin",
    "akrim_analytics.backup.backup_into": "admin",
    "akrim_analytics.audit.export_workbook": "admin",
    "akrim_analytics.export.record_export": "leder",
    # Upload and undo own uploads (undoing another's needs admin: test_nothing_lost).
    "akrim_analytics.importer.pipeline.import_file": "analytiker",
    "akrim_analytics.importer.pipeline.commit": "analytiker",
    "akrim_analytics.importer.uploads.undo_upload": "analytiker",
    # The control log.
    **{f"akrim_analytics.controls.{n}": "analytiker" for n in (
        "create_control", "update_control", "close_control", "delete_control",
        "add_finding", "update_finding", "close_finding", "reopen_finding", "delete_finding")},
    # The contract register kept up to date in the app; deleting (an unused contract) is admin's.
    **{f"akrim_analytics.contracts.{n}": "analytiker" for n in (
        "create_contract", "update_contract", "end_contract", "create_supplier")},
    "akrim_analytics.contracts.delete_contract": "admin",
    # Settings: the risk model and the categorisation rules.
    "akrim_analytics.risk.config.save_config": "admin",
    "akrim_analytics.importer.rules.add_rule": "admin",
    "akrim_analytics.importer.rules.update_rule": "admin",
    "akrim_analytics.importer.rules.delete_rule": "admin",
    # Reports are what a leder reads: generating one freezes the quarter's figures (an
    # audit-logged, derived snapshot) and records the export.
    "akrim_analytics.report.generate": "leder",
    "akrim_analytics.report.evidence.export_evidence": "leder",
    "akrim_analytics.report.snapshot.freeze": "leder",
    "akrim_analytics.report.snapshot.get_or_freeze": "leder",
    # A hooks.AFTER_DATA_CHANGE listener: runs inside a write that already checked its own
    # role, and only re-derives risk scores from stored data.
    "akrim_analytics.risk.engine.rescore_after_change": "leder",
}
# A function not listed above must need at least this role: a leder only reads.
DEFAULT_MIN = "analytiker"


def test_every_core_writer_checks_the_role():
    assert len(WRITE_FUNCTIONS) >= 30
    found = {f"{m}.{n}" for m, n in WRITE_FUNCTIONS}
    assert not set(EXPECTED) - found, f"expected write functions not found: {set(EXPECTED) - found}"
    missing = [f"{m}.{n}({', '.join(p)})" for m, n, p in UNCHECKED_WRITERS if (m, n) not in NO_USER_WRITERS]
    assert not missing, f"write functions without auth.require: {missing}"


def _fingerprint(con):
    return backup.fingerprint(con)["tables"]


def _call(fn, con, user, tmp_path):
    sig = inspect.signature(fn)
    args, kwargs = [], {}
    for name, p in sig.parameters.items():
        if name == "con":
            value = con
        elif name in ("user", "actor"):
            value = user
        elif p.default is not inspect.Parameter.empty:
            continue
        elif p.kind is inspect.Parameter.VAR_POSITIONAL or p.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        else:
            value = None
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = value
        else:
            args.append(value)
    return fn(*args, **kwargs)


def _min_role(con, fn, tmp_path):
    """The lowest role for which the function does not raise PermissionDenied; and
    whether the refused calls left the database untouched."""
    before = _fingerprint(con)
    refused_clean = True
    for role in auth.ROLES:
        try:
            _call(fn, con, auth.User(f"test.{role}", role), tmp_path)
        except auth.PermissionDenied:
            if _fingerprint(con) != before:
                refused_clean = False
            continue
        except Exception:
            pass                                  # dummy arguments: any other error is fine
        return role, refused_clean
    return None, refused_clean


@pytest.mark.parametrize("module,name", WRITE_FUNCTIONS, ids=[f"{m.split('.', 1)[1]}.{n}" for m, n in WRITE_FUNCTIONS])
def test_write_function_role(module, name, con, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                   # anything a dummy call writes lands here
    fn = getattr(importlib.import_module(module), name)
    # Nobody, and an unknown object, are always refused.
    for nobody in (None, "admin"):
        with pytest.raises(auth.PermissionDenied):
            _call(fn, con, nobody, tmp_path)
    got, clean = _min_role(con, fn, tmp_path)
    assert clean, f"{module}.{name} changed the database before refusing"
    key = f"{module}.{name}"
    if key in EXPECTED:
        assert got == EXPECTED[key], f"{key} needs {got}, issue 8 says {EXPECTED[key]}"
    else:
        assert got is not None and auth.User("x", got).has(DEFAULT_MIN), \
            f"{key} lets a {got} write; a leder only reads (add it to EXPECTED if this is meant)"
