"""create-user, set-password, unlock-user and list-users on the command line."""
from __future__ import annotations

import io
import json
import sys

import pytest
from argon2 import PasswordHasher

from akrim_analytics import audit, cli, db, users

from conftest import run_cli

PW = "korrekt hest batteri"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def run(monkeypatch, capsys, *args, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_user_from_stdin_then_login(db_path, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "create-user", "--db", str(db_path), "--username", "Kari",
                         "--role", "admin", "--display-name", "Kari K", "--password-stdin", stdin=PW + "\n")
    assert code == 0, err
    assert json.loads(out) == {"created": "kari", "role": "admin", "login": "local password"}
    c = db.connect(db_path)
    try:
        assert users.authenticate(c, "kari", PW).user.role == "admin"
        assert audit.entries(c, action="user_created")["username"].tolist() == ["system"]
    finally:
        c.close()


def test_clear_errors(db_path, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "create-user", "--db", str(db_path), "--username", "kari",
                       "--role", "admin", "--password-stdin", stdin="kort\n")
    assert code == 1 and err.startswith("Feil: ") and "at least 12" in err
    code, _, err = run(monkeypatch, capsys, "create-user", "--db", str(db_path), "--username", "kari",
                       "--role", "admin", stdin=PW + "\n")                    # no terminal, no --password-stdin
    assert code == 1 and "--password-stdin" in err
    run(monkeypatch, capsys, "create-user", "--db", str(db_path), "--username", "kari", "--role", "admin",
        "--password-stdin", stdin=PW + "\n")
    code, _, err = run(monkeypatch, capsys, "create-user", "--db", str(db_path), "--username", "KARI",
                       "--role", "leder", "--sso")
    assert code == 1 and "exists already" in err
    with pytest.raises(SystemExit):                                             # argparse: unknown role
        run(monkeypatch, capsys, "create-user", "--db", str(db_path), "--username", "x1", "--role", "sjef", "--sso")


def test_sso_entry_set_password_unlock_and_list(db_path, monkeypatch, capsys):
    run(monkeypatch, capsys, "create-user", "--db", str(db_path), "--username", "kari", "--role", "admin",
        "--password-stdin", stdin=PW + "\n")
    code, out, _ = run(monkeypatch, capsys, "create-user", "--db", str(db_path), "--username",
                       "Ola.Nordmann@Kommune.no", "--role", "leder", "--sso")
    assert code == 0 and json.loads(out)["login"].startswith("single sign-on")
    c = db.connect(db_path)
    for _ in range(5):
        users.authenticate(c, "kari", "feil passord!!")
    c.close()
    code, out, _ = run(monkeypatch, capsys, "list-users", "--db", str(db_path))
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["kari", "admin", "active", "password"] and "LOCKED until" in lines[0]
    assert lines[1].split()[:4] == ["ola.nordmann@kommune.no", "leder", "active", "sso"]
    code, out, _ = run(monkeypatch, capsys, "unlock-user", "--db", str(db_path), "--username", "kari")
    assert code == 0 and "LOCKED" not in run(monkeypatch, capsys, "list-users", "--db", str(db_path))[1]
    code, out, _ = run(monkeypatch, capsys, "set-password", "--db", str(db_path), "--username", "kari",
                       "--password-stdin", stdin="et helt nytt passord\n")
    assert code == 0
    c = db.connect(db_path)
    try:
        assert users.authenticate(c, "kari", "et helt nytt passord").ok
        assert {"user_unlocked", "password_set"} <= set(audit.actions(c))
    finally:
        c.close()


def test_the_real_command_line(db_path):
    r = run_cli("create-user", "--db", db_path, "--username", "kari", "--role", "analytiker", "--password-stdin",
                stdin=PW + "\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["created"] == "kari"
