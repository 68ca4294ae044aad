"""Scheduled imports while the dashboard runs.

DuckDB lets one process open a database file at a time, and a running dashboard keeps
its database open. So the dashboard's process serves an import queue beside the file,
``<db>.imports/``: ``python -m akrim_analytics import FILE --db PATH`` (and
``import-undo``) finds a live dashboard there (``server.json``, refreshed every
``HEARTBEAT_S`` seconds), hands it the job and waits. The dashboard runs the same
pipeline (``importer.cli.run_import``) under the same write lock as its pages, and the
command prints the job's output and exits with its exit code, as if it had run itself.

A job is a directory ``<db>.imports/<id>/``: a copy of the file under its own name and
``job.json`` with the command's options, written last (the server reads only complete
jobs). Whoever first creates ``claim`` owns the job: the server before it runs it, or a
command interrupted before that (it then removes its job). The server writes
``result.json`` (exit code, output, error text) and the command removes the directory.
No new way in: the queue sits beside the database file, so whoever may write there may
already write the database itself.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ..i18n import t

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0   # the server refreshes server.json this often
STALE_S = 15.0      # a server.json older than this belongs to no live dashboard
POLL_S = 0.5        # how often the server looks for jobs, and a command for its result

# the command's options a job may carry, with their types (anything else is refused)
_IMPORT_OPTIONS = {"kind": str, "sheet": (str, type(None)), "mapping": (str, type(None)),
                   "accept_valid_rows": bool, "save_mapping": (str, type(None)), "json": bool,
                   "report": bool}


def queue_dir(db_path: str | os.PathLike) -> Path:
    return Path(str(Path(db_path).resolve()) + ".imports")


def _write_json(path: Path, data: dict) -> None:
    """Write ``path`` whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _claim(job: Path) -> bool:
    """True for the one caller that creates the job's claim file first."""
    try:
        os.close(os.open(job / "claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # exists, but another user's
        return True
    return True


def server_alive(db_path: str | os.PathLike) -> dict | None:
    """The live dashboard serving ``db_path``'s queue ({pid, host, beat}), or None."""
    info = _read_json(queue_dir(db_path) / "server.json")
    if info is None or info.get("host") != socket.gethostname():
        return None
    try:
        fresh = time.time() - float(info["beat"]) <= STALE_S
        alive = _pid_alive(int(info["pid"]))
    except (KeyError, TypeError, ValueError):
        return None
    return info if fresh and alive else None


# ---------------------------------------------------------------- the dashboard's side
class Server:
    """Runs the jobs in ``<db>.imports/`` on cursors of the dashboard's connection."""

    def __init__(self, db_path: str | os.PathLike, cursor: Callable[[], object]):
        self.db_file = Path(db_path).resolve()
        self.dir = queue_dir(db_path)
        self.cursor = cursor
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        self.dir.mkdir(exist_ok=True)
        _write_json(self.dir / "server.json",
                    {"pid": os.getpid(), "host": socket.gethostname(), "beat": time.time()})

    def pending(self) -> list[Path]:
        """Complete, unclaimed jobs, oldest first."""
        try:
            jobs = [p for p in self.dir.iterdir() if p.is_dir()]
        except OSError:
            return []
        return sorted((p for p in jobs if (p / "job.json").exists() and not (p / "claim").exists()),
                      key=lambda p: p.name)

    def run_pending(self) -> int:
        n = 0
        for job in self.pending():
            if _claim(job):
                _write_json(job / "result.json", self.run(job))
                n += 1
        return n

    def run(self, job: Path) -> dict:
        """The job's result: {code, stdout, stderr}. Never raises."""
        from ..cli import UserError

        out, err = io.StringIO(), io.StringIO()
        try:
            spec = _read_json(job / "job.json") or {}
            con = self.cursor()
            try:
                if spec.get("command") == "import":
                    from .cli import run_import

                    file, args = _import_args(job, spec)
                    run_import(con, file, args, out=out,
                               report_to=job / "report.xlsx" if args.report else None)
                elif spec.get("command") == "import-undo" and type(spec.get("upload_id")) is int:
                    from .cli import run_undo

                    run_undo(con, spec["upload_id"], out=out)
                else:
                    raise UserError(f"invalid import job {job.name}")
            finally:
                con.close()
            code = 0
        except UserError as e:
            print(f"Feil: {e}", file=err)
            code = 1
        except Exception as e:  # the dashboard keeps serving; the command gets the message
            log.exception("import job %s failed", job.name)
            print(f"Feil: {type(e).__name__}: {e}", file=err)
            code = 1
        finally:
            try:   # the copy of the file is no longer needed
                for p in job.iterdir():
                    if p.name not in ("job.json", "claim", "report.xlsx") and p.is_file():
                        p.unlink(missing_ok=True)
            except OSError:
                log.warning("import job %s: could not remove the copy of its file", job.name)
        return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}

    def _clean_abandoned(self) -> None:
        """Remove finished jobs whose command went away more than a day ago."""
        for p in self.dir.iterdir():
            try:
                if p.is_dir() and time.time() - (p / "result.json").stat().st_mtime > 86_400:
                    shutil.rmtree(p, ignore_errors=True)
            except OSError:
                pass

    def serve_forever(self) -> None:
        last_beat = 0.0
        while not self._stop.is_set():
            if not self.db_file.exists():   # the database was removed (e.g. a test's): nothing to serve
                break
            try:
                if time.time() - last_beat >= HEARTBEAT_S:
                    self.beat()
                    if last_beat == 0.0:
                        self._clean_abandoned()
                    last_beat = time.time()
                self.run_pending()
            except Exception:   # e.g. the folder is not writable: try again later
                log.exception("import queue %s", self.dir)
            self._stop.wait(POLL_S)

    def start(self) -> "Server":
        self._thread = threading.Thread(target=self.serve_forever, name="akrim-import-queue", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        (self.dir / "server.json").unlink(missing_ok=True)


def _import_args(job: Path, spec: dict) -> tuple[Path, argparse.Namespace]:
    from ..cli import UserError

    name = spec.get("file")
    opts = spec.get("options")
    if (not isinstance(name, str) or Path(name).name != name or name.startswith(".")
            or name in ("job.json", "claim", "result.json", "report.xlsx")
            or not isinstance(opts, dict) or set(opts) != set(_IMPORT_OPTIONS)
            or not all(isinstance(opts[k], tp) for k, tp in _IMPORT_OPTIONS.items())):
        raise UserError(f"invalid import job {job.name}")
    file = job / name
    if not file.is_file():
        raise UserError(t("import.err.file_not_found", file=name))
    return file, argparse.Namespace(**opts)


# ---------------------------------------------------------------- the command's side
def submit(db_path: str | os.PathLike, spec: dict, file: Path | None = None) -> Path:
    """Put a job in the queue (the file copied in first, ``job.json`` last)."""
    q = queue_dir(db_path)
    job = q / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    job.mkdir(parents=True)
    if file is not None:
        shutil.copyfile(file, job / file.name)
    _write_json(job / "job.json", spec)
    return job


def wait(db_path: str | os.PathLike, job: Path) -> dict:
    """The job's result once the server wrote it. Raises UserError when the dashboard
    stops before that (its transaction is then rolled back: nothing was stored)."""
    from ..cli import UserError

    gone_since = None
    while True:
        result = _read_json(job / "result.json")
        if result is not None:
            return result
        if server_alive(db_path) is None:
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since > POLL_S * 4:
                shutil.rmtree(job, ignore_errors=True)
                raise UserError(t("import.handoff.server_gone"))
        else:
            gone_since = None
        time.sleep(POLL_S / 2)


def _finish(db_path, job: Path, server: dict) -> dict:
    """Wait for the job; on Ctrl-C withdraw it if the server has not started it."""
    print(t("import.handoff.waiting", pid=server["pid"]), file=sys.stderr)
    try:
        return wait(db_path, job)
    except KeyboardInterrupt:
        if _claim(job):
            shutil.rmtree(job, ignore_errors=True)
            print(t("import.handoff.withdrawn"), file=sys.stderr)
        else:
            print(t("import.handoff.running_on"), file=sys.stderr)
        raise


def _print(result: dict) -> int:
    sys.stdout.write(str(result.get("stdout", "")))
    sys.stderr.write(str(result.get("stderr", "")))
    code = result.get("code")
    return code if type(code) is int else 1


def hand_over(args, server: dict) -> int:
    """Run ``import`` (``args`` as parsed) in the dashboard's process; returns its exit code."""
    file = Path(args.file)
    spec = {"command": "import", "file": file.name,
            "options": {"kind": args.kind, "sheet": args.sheet, "mapping": args.mapping,
                        "accept_valid_rows": bool(args.accept_valid_rows), "save_mapping": args.save_mapping,
                        "json": bool(args.json), "report": bool(args.report)}}
    job = submit(args.db, spec, file)
    try:
        result = _finish(args.db, job, server)
        if args.report and (job / "report.xlsx").exists():
            shutil.move(str(job / "report.xlsx"), args.report)
    finally:
        if (job / "result.json").exists():
            shutil.rmtree(job, ignore_errors=True)
    return _print(result)


def hand_over_undo(args, server: dict) -> int:
    job = submit(args.db, {"command": "import-undo", "upload_id": int(args.upload_id)})
    try:
        result = _finish(args.db, job, server)
    finally:
        if (job / "result.json").exists():
            shutil.rmtree(job, ignore_errors=True)
    return _print(result)
