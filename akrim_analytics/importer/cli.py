"""``python -m akrim_analytics import FILE --db PATH [--kind spend|contracts|suppliers]
[--sheet NAME] [--mapping NAME] [--accept-valid-rows] [--report OUT.xlsx]``

The same pipeline as the Import page, for scheduled imports. Creates the database if
it does not exist; exits 0 printing rows and total, otherwise 1 with the page's message.
Runs as ``auth.SYSTEM`` (the operator on the server already holds the database file).
``import-undo UPLOAD_ID --db PATH`` undoes an upload. While a dashboard holds the
database, both hand the job to it and wait (``akrim_analytics.handoff``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .. import auth, fmt, handoff
from ..i18n import t


def _progress_printer(enabled: bool):
    if not enabled:
        return None
    last = {}

    def cb(stage: str, fraction: float) -> None:
        pct = int(fraction * 100) // 25 * 25
        if last.get(stage) != pct:
            last[stage] = pct
            print(f"  {stage}: {pct} %", file=sys.stderr)
    return cb


# the options a handed-over import carries, with their types
_JOB_OPTIONS = {"kind": str, "sheet": handoff.OPT_STR, "mapping": handoff.OPT_STR, "accept_valid_rows": bool,
                "save_mapping": handoff.OPT_STR, "json": bool}


def _cmd_import(args) -> int:
    from ..cli import UserError
    from .errors import ImportRefused
    from .start import begin

    path = Path(args.file)
    if not path.is_file():
        raise UserError(t("import.err.file_not_found", file=args.file))
    # a running dashboard holds the database: it runs the import (see handoff)
    code = handoff.delegate(args.db, "import", {"file": path.name, **{k: getattr(args, k) for k in _JOB_OPTIONS},
                                                "report": bool(args.report)},
                            files=(path,), results={"report.xlsx": args.report} if args.report else None)
    if code is not None:
        return code
    # pyarrow's default allocator here is mimalloc, which asks for transparent huge pages:
    # zeroing 2 MB pages on first touch cost a million-row import ~0.5 s of kernel time
    # (sys 1.2-1.5 s against 0.7-0.8 s with the system allocator, same peak memory; see
    # docs/performance.md, Import). Set before pyarrow allocates anything; an operator's
    # own choice wins.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    # numpy's OpenBLAS (no import step does linear algebra) otherwise starts a thread per
    # core that spins ~50 ms right when the sheet is being read
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    progress = _progress_printer(args.progress)
    try:
        # the file is checked and its sheet's read started before the database is opened
        # (a large sheet is read in a background thread while the database opens)
        started = begin(path, kind=args.kind, sheet=args.sheet, progress=progress)
    except ImportRefused as e:
        raise UserError(str(e))
    except Exception as e:  # never a traceback for a scheduled import
        raise UserError(t("import.err.unreadable", file=path.name) + f" ({type(e).__name__}: {e})")
    from .. import db   # DuckDB and pyarrow: imported while the sheet is read

    con = db.connect(args.db)
    try:
        run_import(con, path, args, out=sys.stdout, progress=progress, started=started)
    finally:
        con.close()
    return 0


def run_import(con, path: Path, args, *, out, progress=None, started=None, report_to: Path | None = None) -> None:
    """Prepare and commit ``path`` with the command's options (``args``) on ``con`` and
    write the command's output to ``out``; raises UserError with the page's message.
    Shared by the command and the dashboard's job queue (``handoff``)."""
    from ..cli import UserError
    from .errors import ImportRefused
    from .pipeline import commit, prepare

    report_to = report_to or (Path(args.report) if args.report else None)
    try:
        prepared = prepare(con, path, kind=args.kind, sheet=args.sheet, mapping=args.mapping, progress=progress,
                           started=started)
        if report_to is not None:
            from .report import report_xlsx

            report_to.write_bytes(report_xlsx(prepared.report))
        result = commit(con, auth.SYSTEM, prepared, accept_valid_rows=args.accept_valid_rows,
                        save_mapping_as=args.save_mapping, sheet_confirmed=args.sheet is not None,
                        progress=progress)
    except ImportRefused as e:
        raise UserError(str(e))
    except auth.PermissionDenied as e:
        raise UserError(str(e))
    except UserError:
        raise
    except Exception as e:  # never a traceback for a scheduled import
        raise UserError(t("import.err.unreadable", file=path.name) + f" ({type(e).__name__}: {e})")
    if args.json:
        print(json.dumps(result.summary(), ensure_ascii=False, default=str), file=out)
        return
    if result.total is not None:
        print(t("import.cli.done", rows=fmt.number(result.rows), file=result.file_name,
                upload_id=result.upload_id, total=fmt.nok(result.total, 2)), file=out)
    else:
        print(t("import.cli.done_register", rows=fmt.number(result.rows), file=result.file_name,
                upload_id=result.upload_id), file=out)
    rec = result.report.get("reconciliation")
    if rec:
        print(rec, file=out)
    if result.rejected_rows:
        print(t("import.cli.rejected", n=result.rejected_rows), file=out)
    if result.overlaps:
        print(t("import.cli.overlaps", n=result.overlaps), file=out)


@handoff.runner("import")
def _import_job(con, params, out, job: Path) -> None:
    p = handoff.checked(params, {"file": str, "report": bool, **_JOB_OPTIONS})
    file = handoff.input_file(job, p["file"])
    args = argparse.Namespace(**{k: p[k] for k in _JOB_OPTIONS}, report=None)
    run_import(con, file, args, out=out, report_to=job / "out" / "report.xlsx" if p["report"] else None)


def _cmd_undo(args) -> int:
    return handoff.run(args.db, "import-undo", {"upload_id": int(args.upload_id)})


@handoff.runner("import-undo")
def _undo_job(con, params, out, job: Path) -> None:
    run_undo(con, handoff.checked(params, {"upload_id": int})["upload_id"], out=out)


def run_undo(con, upload_id: int, *, out) -> None:
    """Undo an upload on ``con``; shared by the command and the job queue."""
    from ..cli import UserError
    from .errors import ImportRefused
    from .uploads import undo_upload

    try:
        undo_upload(con, auth.SYSTEM, upload_id)
    except ImportRefused as e:
        raise UserError(str(e))
    print(t("import.cli.undone", upload_id=upload_id), file=out)


def register(sub) -> None:
    p = sub.add_parser("import", help="import a spend export, contract register or Enhetsregisteret extract")
    p.add_argument("file", help="xlsx, xls, xlsb, ods or csv file")
    p.add_argument("--db", required=True, help="database path (created if missing)")
    p.add_argument("--kind", default="spend", help="spend (default), contracts, suppliers, or another registered kind")
    p.add_argument("--sheet", default=None, help="sheet name (default: detected)")
    p.add_argument("--mapping", default=None, help="name of a saved column mapping (default: detected)")
    p.add_argument("--accept-valid-rows", action="store_true",
                   help="import the valid rows even when some rows are rejected (default: refuse the file)")
    p.add_argument("--save-mapping", default=None, help="save the mapping used under this name")
    p.add_argument("--report", default=None, help="write the validation report to this .xlsx file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--progress", action="store_true", help="print progress to stderr")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("import-undo", help="undo an upload (remove exactly its rows)")
    p.add_argument("upload_id", type=int)
    p.add_argument("--db", required=True)
    p.set_defaults(func=_cmd_undo)
