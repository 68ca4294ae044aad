"""Hardening: bound SQL parameters, no raw HTML, an append-only audit log, server settings."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import tomllib
from datetime import date
from pathlib import Path

import pytest

import akrim_analytics
from akrim_analytics import auth, db, filters

from conftest import REPO

CORE = REPO / "akrim_analytics"
UI_FILES = sorted([REPO / "app.py", *(REPO / "pages").glob("*.py"), *(REPO / "ui").glob("*.py")])
CORE_FILES = sorted(CORE.rglob("*.py"))


def _sql_calls(tree):
    """(call, first argument) for every .execute/.executemany/.sql/.query call."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany", "sql", "query") and node.args):
            yield node, node.args[0]


# ----------------------------------------------------------------------- SQL

# Modules that never see a user's value (checked by hand).
NO_INPUT = {CORE / "demo.py"}     # the seeded demo generator: sequence names from its own code


def test_no_value_is_spliced_into_sql_text():
    """An f-string or .format() SQL may insert fixed fragments (a predicate built with
    '?' placeholders, a constant column list, an UPPER_CASE module constant), never a
    variable in quotes, and never through %-formatting."""
    bad = []
    for path in CORE_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call, arg in _sql_calls(tree):
            where = f"{path.relative_to(REPO)}:{call.lineno}"
            if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod):
                bad.append(f"{where}: %-formatted SQL")
            if isinstance(arg, ast.JoinedStr):
                parts = arg.values
                for i, part in enumerate(parts):
                    if not isinstance(part, ast.FormattedValue):
                        continue
                    before = parts[i - 1].value if i and isinstance(parts[i - 1], ast.Constant) else ""
                    after = parts[i + 1].value if i + 1 < len(parts) and isinstance(parts[i + 1], ast.Constant) else ""
                    constant = isinstance(part.value, ast.Name) and part.value.id.isupper()
                    if before.endswith("'") and after.startswith("'") and not constant and path not in NO_INPUT:
                        bad.append(f"{where}: value in quotes '{{{ast.unparse(part.value)}}}'")
            if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "format":
                if not all(isinstance(a, ast.Constant) for a in [*arg.args, *(k.value for k in arg.keywords)]):
                    bad.append(f"{where}: .format() with non-constant arguments")
    assert not bad, "\n".join(bad)


CANARY = "kanari' OR '1'='1"


class RecordingConnection:
    """Passes everything to DuckDB and records each SQL text executed."""

    def __init__(self, con, log):
        self._con, self._log = con, log

    def _record(self, name, sql, *rest):
        self._log.append(str(sql))
        out = getattr(self._con, name)(sql, *rest)
        return RecordingConnection(out, self._log) if out is self._con else out

    def execute(self, sql, *rest):
        return self._record("execute", sql, *rest)

    def executemany(self, sql, *rest):
        return self._record("executemany", sql, *rest)

    def sql(self, sql, *rest):
        return self._record("sql", sql, *rest)

    def query(self, sql, *rest):
        return self._record("query", sql, *rest)

    def cursor(self):
        return RecordingConnection(self._con.cursor(), self._log)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _value_for(param: inspect.Parameter, admin):
    ann = str(param.annotation)
    name = param.name
    if name in ("user", "actor") or "User" in ann:
        return admin
    if "Filters" in ann or name == "f":
        return filters.Filters(filters.Period(2025), CANARY, CANARY)
    if "Period" in ann:
        return filters.Period(2025)
    if "PathLike" in ann or "Path" in ann:
        raise LookupError("file argument")
    if "str" in ann:
        return CANARY
    if "date" in ann:
        return date(2025, 6, 30)
    if "Mapping" in ann or "dict" in ann:
        return {"x": CANARY}
    if "list" in ann or "tuple" in ann or "Sequence" in ann:
        return [CANARY]
    if param.default is not inspect.Parameter.empty:
        return param.default
    return None


SKIP_MODULES = ("akrim_analytics.demo", "akrim_analytics.db", "akrim_analytics.backup", "akrim_analytics.cli",
                "akrim_analytics.admin_cli", "akrim_analytics.__main__")


def _core_functions():
    for info in pkgutil.walk_packages(akrim_analytics.__path__, "akrim_analytics."):
        if info.name.startswith(SKIP_MODULES) or ".migrations" in info.name:
            continue
        mod = importlib.import_module(info.name)
        for name, fn in vars(mod).items():
            if (inspect.isfunction(fn) and fn.__module__ == info.name and not name.startswith("_")
                    and list(inspect.signature(fn).parameters)[:1] == ["con"]):
                yield f"{info.name}.{name}", fn


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    from akrim_analytics import demo

    path = tmp_path_factory.mktemp("canary") / "k.duckdb"
    demo.build(path, supplier_scale=0.05, line_scale=0.01, max_contracts=60)
    return path


def test_user_values_reach_duckdb_only_as_bound_parameters(populated, tmp_path, monkeypatch):
    """Every public core function taking a connection is called with a hostile string in
    every text argument (search box, filter, username, id, ...); the string must never
    appear in the SQL text DuckDB receives, only among its parameters."""
    monkeypatch.chdir(tmp_path)
    from argon2 import PasswordHasher

    from akrim_analytics import users
    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    con = db.connect(populated)
    admin = auth.User("admin.test", "admin")
    called, spliced = [], []
    try:
        for qualname, fn in _core_functions():
            log: list[str] = []
            rec = RecordingConnection(con.cursor(), log)
            kwargs = {}
            try:
                for name, p in list(inspect.signature(fn).parameters.items())[1:]:
                    if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                        continue
                    kwargs[name] = _value_for(p, admin)
            except LookupError:
                continue
            try:
                fn(rec, **kwargs)
            except Exception:
                pass
            finally:
                try:
                    rec.execute("ROLLBACK")
                except Exception:
                    pass
            called.append(qualname)
            hits = [s for s in log if "kanari" in s]
            if hits:
                spliced.append(f"{qualname}: {hits[0][:200]}")
    finally:
        con.close()
    assert len(called) >= 20, called
    assert not spliced, "\n".join(spliced)


# ----------------------------------------------------------------------- HTML

def test_no_raw_html_in_pages_and_ui():
    """Streamlit escapes text and Markdown; raw HTML would let a supplier name run script."""
    bad = []
    for path in UI_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg == "unsafe_allow_html" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno}: unsafe_allow_html")
            f = node.func
            name = ast.unparse(f)
            if name.endswith("components.html") or name.endswith("components.v1.html") or name.endswith("components.iframe"):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
            if name in ("st.html",) and not (node.args and (isinstance(node.args[0], ast.Constant)
                                                             or _repo_stylesheet(node.args[0]))):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno}: st.html with data")
    assert not bad, "\n".join(bad)


def _repo_stylesheet(arg: ast.expr) -> bool:
    """``st.html(common.REPO / "ui" / "style.css")``: a fixed .css file of the repository
    (Streamlit wraps a stylesheet in <style> tags; no data can reach it)."""
    parts = []
    while isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Div) and isinstance(arg.right, ast.Constant):
        parts.append(arg.right.value)
        arg = arg.left
    return (bool(parts) and ast.unparse(arg) == "common.REPO" and all(isinstance(x, str) for x in parts)
            and parts[0].endswith(".css"))


def test_the_stylesheet_exception_is_narrow():
    ok = ast.parse('common.REPO / "ui" / "style.css"', mode="eval").body
    assert _repo_stylesheet(ok)
    for text in ('common.REPO / "ui" / name', 'other / "style.css"', 'common.REPO / "ui" / "page.html"',
                 'f"{x}.css"'):
        assert not _repo_stylesheet(ast.parse(text, mode="eval").body), text


def test_the_html_check_finds_what_it_looks_for(tmp_path):
    sample = 'import streamlit as st\nst.markdown(name, unsafe_allow_html=True)\nst.html(f"<b>{x}</b>")\n'
    tree = ast.parse(sample)
    found = [kw.arg for n in ast.walk(tree) if isinstance(n, ast.Call) for kw in n.keywords]
    assert "unsafe_allow_html" in found


# ----------------------------------------------------------------------- audit trail

APPEND_ONLY = ("audit_log", "login_attempts")
_CHANGE = re.compile(r"\b(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?|DROP\s+TABLE(\s+IF\s+EXISTS)?|ALTER\s+TABLE|"
                     r"INSERT\s+OR\s+REPLACE\s+INTO|COPY)\s+(\w+\.)?(\"?)(%s)\b" % "|".join(APPEND_ONLY), re.I)


def test_audit_log_is_append_only_in_the_code():
    """No code path updates, deletes or rewrites the audit log or the login attempts.
    (Only migration 0001/0008 create them.)"""
    files = [*CORE_FILES, *UI_FILES, *CORE.rglob("*.sql")]
    bad = [f"{p.relative_to(REPO)}: {m.group(0)}" for p in files
           for m in _CHANGE.finditer(p.read_text(encoding="utf-8"))]
    assert not bad, "\n".join(bad)
    assert _CHANGE.search("con.execute('DELETE FROM audit_log WHERE 1')")
    assert _CHANGE.search('UPDATE  "audit_log" SET')


def test_audit_log_has_no_writer_other_than_audit_log():
    """Rows enter the audit log only through ``audit.log`` (one place, one format)."""
    bad = []
    for p in [*CORE_FILES, *UI_FILES]:
        if p == CORE / "audit.py":
            continue
        for m in re.finditer(r"INSERT\s+INTO\s+audit_log", p.read_text(encoding="utf-8"), re.I):
            bad.append(str(p.relative_to(REPO)))
    assert not bad, bad


# ----------------------------------------------------------------------- server settings

def test_streamlit_config_limits_uploads_and_keeps_xsrf_on():
    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    server = cfg.get("server", {})
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True
    assert 1 <= server["maxUploadSize"] <= 500          # MB; Streamlit's default is 200
    assert server.get("maxMessageSize", 200) <= 500
    assert cfg.get("browser", {}).get("gatherUsageStats") is False
    assert "cookieSecret" not in server, "the cookie secret belongs in secrets.toml, not in the repository"
    assert not (REPO / ".streamlit" / "secrets.toml").exists() or \
        ".streamlit/secrets.toml" in (REPO / ".gitignore").read_text(encoding="utf-8")


def test_secrets_file_is_ignored_by_git():
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert any(line.strip() in (".streamlit/secrets.toml", "secrets.toml", "**/secrets.toml") for line in ignored)


def test_a_files_headers_and_values_never_become_sql(con, tmp_path):
    """Column names and cells from an uploaded file are data: mapped in Python/Arrow and
    bound, never written into SQL text (also when a hostile header is mapped to a field)."""
    from akrim_analytics import importer

    evil_header = 'kanari"; DROP TABLE spend; --'
    path = tmp_path / "reskontro.csv"
    import pandas as pd

    pd.DataFrame({
        "Bilagsdato": [f"0{d}.03.2025" for d in range(1, 8)],
        "Leverandørnavn": [f"kanari' ); DROP TABLE spend; -- {d}" for d in range(1, 8)],
        "Org.nr.": ["974760673"] * 7,
        "Beløp": [f"{d}00,50" for d in range(1, 8)],
        evil_header: [f"kanari x{d}" for d in range(1, 8)],
        "kanari' OR '1'='1": ['=HYPERLINK("kanari")'] * 7,
    }).to_csv(path, sep=";", index=False, encoding="utf-8")
    log: list[str] = []
    rec = RecordingConnection(con.cursor(), log)
    r = importer.import_file(rec, auth.User("ola", "analytiker"), path, kind="spend")
    prepared = importer.prepare(rec, path, kind="spend", file_name="igjen.csv",
                                mapping={"description": evil_header})
    assert r.rows == 7 and prepared.report["rows_read"] == 7 and prepared.mapping["description"] == evil_header
    assert len(log) > 20
    hits = [s for s in log if "kanari" in s]
    assert not hits, hits[0][:300]
    assert con.execute("SELECT count(*) FROM spend").fetchone()[0] == 7
    names = con.execute("SELECT DISTINCT s.name FROM suppliers s JOIN spend USING (supplier_id)").fetchall()
    assert any("DROP TABLE" in n[0] for n in names)        # stored as the text it is
