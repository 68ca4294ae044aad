"""``python -m akrim_analytics report``: the quarterly report or the supervision evidence as files.

    python -m akrim_analytics report --db PATH --quarter 2026-K3 --out DIR [--format pptx|xlsx|all|evidence]
                                     [--lang nb|en] [--new-edition --reason TEXT] [--edition N] [--as-of DATE]

The first run for a quarter freezes its dataset (edition 1); later runs render the same
edition unless ``--new-edition`` is given. Runs as the ``system`` account (the operator
on the server already holds the database file); every file written is audit-logged.
While a dashboard holds the database the report is made in its process (``handoff``)
and the files come back to ``--out``.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

from .. import auth, handoff
from ..cli import UserError


@contextlib.contextmanager
def _native_stdout_to_stderr():
    """Keep standard output for the JSON result: native libraries (the MILP solver behind
    the resource scenario) may print diagnostics straight to file descriptor 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _cmd_report(args) -> int:
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"Cannot create the output folder {out}: {e.strerror}") from None
    # a job (handoff.run): in the dashboard's process while it holds the database, else
    # here; the files come back to this folder
    params = {"out": str(out), "format": args.format, "lang": args.lang, "quarter": args.quarter,
              "new_edition": bool(args.new_edition), "reason": args.reason, "edition": args.edition,
              "as_of": args.as_of}
    return handoff.run(args.db, "report", params, results={"*": out})


@handoff.runner("report")
def _report_job(con, params, out, job) -> None:
    opt = handoff.OPT_STR
    p = handoff.checked(params, {"out": str, "format": str, "lang": str, "quarter": opt, "new_edition": bool,
                                 "reason": opt, "edition": (int, type(None)), "as_of": opt})
    # here, in the command's own process, its stdout is kept for the JSON
    with _native_stdout_to_stderr() if job is None else contextlib.nullcontext():
        written = _run(con, SimpleNamespace(**p), job)
    print(json.dumps(written, ensure_ascii=False), file=out)


def _run(con, args, job) -> list[dict]:
    from . import evidence, generate, parse_quarter, quarter_options

    out = Path(args.out)   # as the command names it (the files are written where out_path says)
    written: list[dict] = []
    if args.format == "evidence":
        as_of = None
        if args.as_of:
            try:
                as_of = dt.date.fromisoformat(args.as_of)
            except ValueError:
                raise UserError(f"--as-of {args.as_of!r} is not a date (expected YYYY-MM-DD).") from None
        data, name, ev = evidence.export_evidence(con, auth.SYSTEM, as_of=as_of, lang=args.lang)
        if ev.meta["run_id"] is None:
            raise UserError("There is no risk assessment yet: run the risk scoring first.")
        handoff.out_path(job, name).write_bytes(data)
        written.append({"file": str(out / name), "contracts": ev.summary["covered_contracts"],
                        "data_version": ev.meta["data_version"], "risk_run_id": ev.meta["run_id"]})
        return written
    if not args.quarter:
        raise UserError("--quarter is required (e.g. --quarter 2026-K3).")
    try:
        period = parse_quarter(args.quarter)
    except ValueError:
        raise UserError(f"--quarter {args.quarter!r} is not a quarter (expected e.g. 2026-K3).") from None
    if period.key not in quarter_options(con):
        raise UserError(f"The database has no spend in {period.key}.")
    if args.new_edition and args.edition:
        raise UserError("Give either --new-edition or --edition, not both.")
    formats = ("pptx", "xlsx") if args.format == "all" else (args.format,)
    new_edition = args.new_edition
    for fmt in formats:
        try:
            data, name, snap = generate(con, auth.SYSTEM, period.key, fmt, lang=args.lang,
                                        new_edition=new_edition, reason=args.reason, edition=args.edition)
        except LookupError as e:
            raise UserError(str(e)) from None
        new_edition = False   # one new edition, rendered in every format
        handoff.out_path(job, name).write_bytes(data)
        written.append({"file": str(out / name), "period": snap.period, "edition": snap.edition,
                        "data_version": snap.data_version, "risk_run_id": snap.risk_run_id,
                        "risk_config_version": snap.risk_config_version,
                        "fingerprint": snap.fingerprint})
    return written


def register(sub) -> None:
    p = sub.add_parser("report", help="quarterly leadership report (pptx/xlsx) or supervision evidence (xlsx)")
    p.add_argument("--db", default=None, help="database path (default: $AKRIM_DB or the demo database)")
    p.add_argument("--quarter", help="quarter, e.g. 2026-K3 (not needed for --format evidence)")
    p.add_argument("--out", default=".", help="folder to write the file(s) to")
    p.add_argument("--format", choices=("pptx", "xlsx", "all", "evidence"), default="all")
    p.add_argument("--lang", choices=("nb", "en"), default="nb")
    p.add_argument("--new-edition", action="store_true", help="freeze today's data as a new edition of the quarter")
    p.add_argument("--reason", help="why a new edition is made (stored and audit-logged)")
    p.add_argument("--edition", type=int, help="render an older stored edition")
    p.add_argument("--as-of", help="evidence: the risk run and controls as of this date (YYYY-MM-DD)")
    p.set_defaults(func=_cmd_report)
