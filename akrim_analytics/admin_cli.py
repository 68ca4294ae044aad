"""Operator commands: accounts, backup and restore.

``python -m akrim_analytics create-user --db PATH --username U --role R`` and friends.
They act as the ``system`` account: whoever runs them on the server already holds the
database file. Each change is written to the audit log like a change made in the app.
While a dashboard holds the database, every command but ``restore`` hands its job to the
dashboard's process and prints its result (``handoff``)."""
from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import pandas as pd

from . import auth, backup, handoff, users
from .cli import UserError
from .i18n import t


def _password(args, *, confirm: bool = True) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("--password-stdin: nothing on standard input.")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("No terminal to ask for the password: use --password-stdin.")
    pw = getpass.getpass("Passord: ")
    if confirm and getpass.getpass("Gjenta passordet: ") != pw:
        raise UserError("The two passwords differ.")
    return pw


def _account_error(e: users.AccountError) -> UserError:
    return UserError(t(e.key, lang="en", **e.params))


def _run(args, command: str, params: dict) -> int:
    """Hand the job to a live dashboard holding the database (``handoff``), else run it here."""
    return handoff.run(args.db, command, params)


def _hashed(args, username: str) -> str:
    """The password asked for, checked against the rules and hashed here: only the hash
    goes to the database (or to the dashboard that holds it)."""
    password = _password(args)
    try:
        users.check_password(password, users.normalise(username))
    except users.AccountError as e:
        raise _account_error(e) from None
    return users.hash_password(password)


def _cmd_create_user(args) -> int:
    return _run(args, "create-user", {"username": args.username, "role": args.role,
                                      "display_name": args.display_name, "sso": bool(args.sso),
                                      "password_hash": None if args.sso else _hashed(args, args.username)})


@handoff.runner("create-user")
def _create_user(con, params, out, job) -> None:
    p = handoff.checked(params, {"username": str, "role": str, "display_name": handoff.OPT_STR, "sso": bool,
                                 "password_hash": handoff.OPT_STR})
    if p["sso"] == (p["password_hash"] is not None):
        raise handoff.InvalidJob
    try:
        u = users.create_user(con, auth.SYSTEM, p["username"], p["role"], password_hash=p["password_hash"],
                              display_name=p["display_name"])
    except users.AccountError as e:
        raise _account_error(e) from None
    print(json.dumps({"created": u.username, "role": u.role,
                      "login": "single sign-on (allow-list)" if p["sso"] else "local password"}), file=out)


def _cmd_set_password(args) -> int:
    return _run(args, "set-password", {"username": args.username, "password_hash": _hashed(args, args.username)})


@handoff.runner("set-password")
def _set_password(con, params, out, job) -> None:
    p = handoff.checked(params, {"username": str, "password_hash": str})
    try:
        users.set_password(con, auth.SYSTEM, p["username"], None, password_hash=p["password_hash"])
    except users.AccountError as e:
        raise _account_error(e) from None
    print(json.dumps({"password_set": users.normalise(p["username"]), "unlocked": True}), file=out)


def _cmd_unlock_user(args) -> int:
    return _run(args, "unlock-user", {"username": args.username})


@handoff.runner("unlock-user")
def _unlock_user(con, params, out, job) -> None:
    p = handoff.checked(params, {"username": str})
    users.unlock(con, auth.SYSTEM, p["username"])
    print(json.dumps({"unlocked": users.normalise(p["username"])}), file=out)


def _cmd_list_users(args) -> int:
    return _run(args, "list-users", {})


@handoff.runner("list-users")
def _list_users(con, params, out, job) -> None:
    handoff.checked(params, {})
    for r in users.list_users(con).itertuples():
        lock = f"  LOCKED until {r.locked_until:%d.%m.%Y %H:%M}" if pd.notna(r.locked_until) else ""
        kind = "password" if r.has_password else "sso"
        print(f"{r.username:40s} {r.role:11s} {'active' if r.active else 'INACTIVE':9s} {kind:8s}{lock}", file=out)


def _cmd_backup(args) -> int:
    # the directory as this command means it (the dashboard runs in another directory)
    return _run(args, "backup", {"to": str(Path(args.to).resolve()), "source": str(args.db)})


@handoff.runner("backup")
def _backup(con, params, out, job) -> None:
    p = handoff.checked(params, {"to": str, "source": str})
    try:
        m = backup.backup(con, p["to"], source=p["source"])
    except backup.BackupError as e:
        raise UserError(str(e)) from None
    print(json.dumps({"backup": m["path"], "schema_version": m["schema_version"],
                      "tables": len(m["tables"]), "rows": sum(v["rows"] for v in m["tables"].values()),
                      "spend_total": m.get("spend_total")}), file=out)


def _cmd_restore(args) -> int:
    try:
        r = backup.restore(args.from_dir, args.db, force=args.force)
    except backup.BackupError as e:
        raise UserError(str(e)) from None
    print(json.dumps(r))
    return 0


def register(sub) -> None:
    p = sub.add_parser("create-user", help="create a local account (or an SSO allow-list entry with --sso)")
    p.add_argument("--db", required=True, help="database path")
    p.add_argument("--username", required=True, help="login name (for --sso: the e-mail/UPN the identity provider reports)")
    p.add_argument("--role", required=True, choices=auth.ROLES)
    p.add_argument("--display-name", default=None)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    g.add_argument("--sso", action="store_true", help="no password: the user logs in through single sign-on")
    p.set_defaults(func=_cmd_create_user)

    p = sub.add_parser("set-password", help="set a new password for an account (also lifts a lock)")
    p.add_argument("--db", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=_cmd_set_password)

    p = sub.add_parser("unlock-user", help="lift the lock after repeated failed logins")
    p.add_argument("--db", required=True)
    p.add_argument("--username", required=True)
    p.set_defaults(func=_cmd_unlock_user)

    p = sub.add_parser("list-users", help="list accounts, roles and locks")
    p.add_argument("--db", required=True)
    p.set_defaults(func=_cmd_list_users)

    p = sub.add_parser("backup", help="back up the database to a directory (Parquet + manifest)")
    p.add_argument("--db", required=True)
    p.add_argument("--to", required=True, help="new directory; if it exists, a dated sub-directory is made in it")
    p.set_defaults(func=_cmd_backup)

    p = sub.add_parser("restore", help="restore a backup directory into a database file")
    p.add_argument("--from", dest="from_dir", required=True, help="the backup directory")
    p.add_argument("--db", required=True, help="the database file to create (or replace, with --force)")
    p.add_argument("--force", action="store_true", help="replace an existing file (kept as .before-restore-<time>)")
    p.set_defaults(func=_cmd_restore)
