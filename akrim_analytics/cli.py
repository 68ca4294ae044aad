"""Command line: ``python -m akrim_analytics COMMAND ...``.

Each command is a small function registered in ``COMMANDS``; a feature adds its own
``register(subparsers)`` module to ``COMMAND_MODULES``. Errors meant for the user are
printed as one clear message (never a traceback) with a non-zero exit code.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

# ``db`` (and with it DuckDB) is imported by the commands that use it: ``import`` starts
# reading the sheet before DuckDB is imported (see importer/start.py). ``handoff`` needs
# neither.
from . import handoff

# Feature modules that add subcommands through a ``register(subparsers)`` function.
COMMAND_MODULES: list[str] = [
    "akrim_analytics.admin_cli",   # create-user, set-password, unlock-user, list-users, backup, restore
    "akrim_analytics.report.cli",  # report: quarterly leadership report (pptx/xlsx), supervision evidence
    "akrim_analytics.risk.cli",    # risk score|explain|runs|config
    "akrim_analytics.plan_cli",    # plan show|export|one-more-person|adherence
]


# Commands whose module is imported only when that command runs (start-up time counts for
# scheduled imports); ``--help`` and every other command still see them.
LAZY_COMMANDS: dict[str, str] = {
    "import": "akrim_analytics.importer.cli",       # import FILE --db PATH [--kind ...]
    "import-undo": "akrim_analytics.importer.cli",  # import-undo UPLOAD_ID --db PATH
}


# Commands after which ``python -m akrim_analytics`` ends the process at once (``os._exit``
# once output is flushed) instead of tearing down every imported module (pandas, pyarrow,
# DuckDB: ~0.1 s of a scheduled import). Only for commands that close their database
# connection and files before returning.
FAST_EXIT_COMMANDS: set[str] = {"import", "import-undo"}


class UserError(Exception):
    """An error whose message is meant for the user; the CLI prints it and exits 1."""


def _database_errors() -> tuple[type[Exception], ...]:
    """db's errors for a database file that is in use or cannot be opened, once a command
    has imported db (no command raises them before)."""
    db = sys.modules.get(f"{__package__}.db")
    return (db.DatabaseInUse, db.DatabaseUnreadable) if db is not None else ()


def _cmd_demo(args) -> int:
    from . import demo

    t0 = time.perf_counter()
    if args.db is None:
        from .db import DEFAULT_DB

        args.db = str(DEFAULT_DB)
    counts = demo.build(args.db)
    print(json.dumps({"db": str(args.db), **counts, "seconds": round(time.perf_counter() - t0, 1)}))
    return 0


def _cmd_summary(args) -> int:
    return handoff.run(args.db, "summary", {"json": bool(args.json)})


@handoff.runner("summary")
def _summary(con, params, out, job) -> None:
    from . import fmt, summary

    p = handoff.checked(params, {"json": bool})
    data = summary.build(con)
    if p["json"]:
        print(json.dumps(data, ensure_ascii=False), file=out)
        return
    print(f"Linjer: {data['spend_rows']}, sum: {fmt.nok(data['spend_total_nok'])}, "
          f"leverandører: {data['suppliers']}, kontrakter: {data['contracts']}", file=out)
    for year, y in data["years"].items():
        print(f"{year}: {fmt.nok(y['total'])}", file=out)
        for name, amount in y["by_category"].items():
            print(f"    {name:45s} {fmt.nok(amount):>22s}", file=out)


def _cmd_migrate(args) -> int:
    from . import db

    con = db.connect(args.db, migrate_schema=False)
    try:
        applied = db.migrate(con)
        print(json.dumps({"applied": applied, "schema_version": db.schema_version(con)}))
    finally:
        con.close()
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """All subcommands; with ``command`` one of LAZY_COMMANDS, only the built-in ones and
    that command's module (the other feature modules are not imported)."""
    parser = argparse.ArgumentParser(prog="python -m akrim_analytics",
                                     description="akrim-analytics: A-krim risk in municipal procurement")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="build the demo municipality database")
    p.add_argument("--db", default=None, help="path of the database to (re)build (default: the demo database)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("summary", help="reconciliation figures from the database")
    p.add_argument("--db", default=None, help="database path (default: $AKRIM_DB or the demo database)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser("migrate", help="apply pending schema migrations")
    p.add_argument("--db", default=None)
    p.set_defaults(func=_cmd_migrate)

    if command in LAZY_COMMANDS:
        modules = [LAZY_COMMANDS[command]]
    else:
        modules = COMMAND_MODULES + [m for m in dict.fromkeys(LAZY_COMMANDS.values()) if m not in COMMAND_MODULES]
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    parser = build_parser(args_in[0] if args_in else None)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, *_database_errors()) as e:
        print(f"Feil: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
