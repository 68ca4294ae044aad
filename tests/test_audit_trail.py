"""The audit trail: an entry for each kind of action (login, upload, undo, edit,
settings, export), written by the same transaction as the change, and a static check
that every write function in the core reaches ``audit.log``."""
from __future__ import annotations

import ast
import copy
import importlib
import json
from datetime import date
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from akrim_analytics import audit, auth, db, export, users

from test_auth_roles import WRITE_FUNCTIONS
from test_nothing_lost import make_export

ADMIN = auth.User("anne", "admin")
ANALYST = auth.User("ola", "analytiker")
LEDER = auth.User("lea", "leder")


@pytest.fixture(scope="module")
def municipality(tmp_path_factory):
    from akrim_analytics import demo

    path = tmp_path_factory.mktemp("audit") / "k.duckdb"
    demo.build(path, supplier_scale=0.05, line_scale=0.01, max_contracts=60)
    return path


def newest(con, action):
    e = audit.entries(con, action=action, limit=1)
    assert len(e) == 1, f"no audit entry '{action}'"
    row = e.iloc[0]
    return row["username"], row["object_id"], json.loads(row["details"]) if row["details"] else None


def test_each_kind_of_action_is_audited(municipality, tmp_path, monkeypatch):
    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    con = db.connect(municipality)
    try:
        # login (success, failure) and logout
        users.create_user(con, auth.SYSTEM, "ola", "analytiker", password="korrekt hest batteri")
        assert users.authenticate(con, "ola", "korrekt hest batteri").ok
        assert newest(con, "login")[0] == "ola"
        users.authenticate(con, "ola", "feil passord!!")
        assert newest(con, "login_failed")[2]["reason"] == "wrong_password"
        users.logout(con, ANALYST)
        assert newest(con, "logout")[0] == "ola"

        # upload and undo
        from akrim_analytics import importer

        path = tmp_path / "reskontro.csv"
        n, total = make_export(path, 300, 7)
        r = importer.import_file(con, ANALYST, path, kind="spend")
        who, obj, details = newest(con, "upload")
        assert (who, obj, details["file"], details["rows"]) == ("ola", str(r.upload_id), "reskontro.csv", n)
        importer.undo_upload(con, ANALYST, r.upload_id)
        assert newest(con, "undo")[:2] == ("ola", str(r.upload_id))

        # edit (the control log), with old and new values
        from akrim_analytics import controls

        contract = con.execute("SELECT contract_id FROM contracts ORDER BY contract_id LIMIT 1").fetchone()[0]
        cid = controls.create_control(con, ANALYST, contract, 2, planned_date=date(2026, 3, 1),
                                      note="Dokumentasjon bedt om")
        assert newest(con, "control_create")[:2] == ("ola", str(cid))
        controls.update_control(con, ANALYST, cid, {"note": "Dokumentasjon mottatt"})
        who, obj, details = newest(con, "control_update")
        assert who == "ola" and "Dokumentasjon mottatt" in json.dumps(details, ensure_ascii=False)

        # settings (the risk model)
        from akrim_analytics.risk import config

        cfg = copy.deepcopy(config.load_config(con))
        cfg["general"]["window_months"] = int(cfg["general"]["window_months"]) + 1
        version = config.save_config(con, ADMIN, cfg, note="test")
        who, obj, details = newest(con, "settings")
        assert (who, obj) == ("anne", str(version)) and "window_months" in json.dumps(details)

        # export (any report or list a user downloads)
        export.record_export(con, LEDER, "leverandorer", "xlsx", rows=12)
        assert newest(con, "export")[:2] == ("lea", "leverandorer")

        # account changes
        users.update_user(con, ADMIN, "ola", role="leder")
        assert newest(con, "user_changed")[2] == {"role": ["analytiker", "leder"]}
    finally:
        con.close()


def test_a_failed_write_leaves_no_audit_entry(con):
    """The entry is written in the change's own transaction: no change, no entry."""
    users_before = audit.count(con)
    with pytest.raises(users.AccountError):
        users.create_user(con, ADMIN, "x y", "leder")     # refused before the transaction
    with pytest.raises(users.AccountError):
        users.update_user(con, ADMIN, "finnes.ikke", role="admin")   # refused inside it
    assert audit.count(con) == users_before


# ----------------------------------------------------------------------- static

def _module_functions(modname):
    path = Path(importlib.util.find_spec(modname).origin)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _called_names(fn) -> set[str]:
    out = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                out.add(f.id)
            elif isinstance(f, ast.Attribute):
                out.add(f.attr)
    return out


def _calls_audit_log(fn) -> bool:
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "log"
               and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit"
               for node in ast.walk(fn))


def test_every_write_function_reaches_audit_log():
    """Follows calls by name through the core (so a helper that logs counts)."""
    from test_auth_roles import _core_modules

    graph: dict[str, set[str]] = {}
    auditing: set[str] = set()
    for modname in _core_modules():
        for name, fn in _module_functions(modname).items():
            graph.setdefault(name, set()).update(_called_names(fn))
            if _calls_audit_log(fn):
                auditing.add(name)
    changed = True
    while changed:
        changed = False
        for n, calls in graph.items():
            if n not in auditing and calls & auditing:
                auditing.add(n)
                changed = True
    assert {"create_user", "record_export", "backup"} <= auditing
    missing = [f"{m}.{n}" for m, n in WRITE_FUNCTIONS if n not in auditing]
    assert not missing, f"write functions that never reach audit.log: {missing}"


# Downloads that are not exports of data (and why).
NOT_DATA_DOWNLOADS = {
    ("pages/innstillinger.py", "risk.settings.download"): "the risk model's settings file (TOML), no data",
}


def _auditing_names() -> set[str]:
    from test_auth_roles import _core_modules

    graph: dict[str, set[str]] = {}
    auditing: set[str] = set()
    for modname in _core_modules():
        for name, fn in _module_functions(modname).items():
            graph.setdefault(name, set()).update(_called_names(fn))
            if _calls_audit_log(fn):
                auditing.add(name)
    changed = True
    while changed:
        changed = False
        for n, calls in graph.items():
            if n not in auditing and calls & auditing:
                auditing.add(n)
                changed = True
    return auditing


def test_every_download_in_the_app_is_audited():
    """Each st.download_button either logs the export when clicked (on_click) or builds
    its file with a function that reaches audit.log (deferred download)."""
    from conftest import REPO

    auditing = _auditing_names()
    bad = []
    for path in sorted([*(REPO / "pages").glob("*.py"), *(REPO / "ui").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "download_button"):
                continue
            rel = str(path.relative_to(REPO))
            label = ast.unparse(node.args[0]) if node.args else ""
            if any(rel == f and key in label for f, key in NOT_DATA_DOWNLOADS):
                continue
            kw = {k.arg: k.value for k in node.keywords}
            if "on_click" in kw and ast.unparse(kw["on_click"]).endswith("record_export"):
                continue
            data = kw.get("data", node.args[1] if len(node.args) > 1 else None)
            target = None
            if isinstance(data, ast.Lambda):
                target = data
            elif isinstance(data, ast.Name):
                target = defs.get(data.id)
            elif isinstance(data, ast.Call) and isinstance(data.func, ast.Name):
                target = defs.get(data.func.id)
            if target is None or not (_called_names(target) & (auditing | {"record_export"})):
                bad.append(f"{rel}:{node.lineno} {label}")
    assert not bad, "downloads that are not audit-logged: " + "; ".join(bad)
