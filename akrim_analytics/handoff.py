"""Operator commands while the dashboard runs.

DuckDB lets one process open a database file at a time, and a running dashboard keeps
its database open. So the dashboard's process serves a job queue beside the file,
``<db>.jobs/``: a command (every one but ``demo``, ``migrate`` and ``restore``) that
finds a live dashboard there (``server.json``, refreshed every ``HEARTBEAT_S`` seconds)
hands it the job and waits. The dashboard runs the command's own code (a ``runner`` the
command's module registers) under the same write lock as its pages, and the command
prints the job's output and exits with its exit code, as if it had run itself. Without a
live dashboard the command opens the file itself. ``restore`` and ``demo`` replace the
file, so they refuse while any process holds it (``db.hold_file``).

A job is a directory ``<db>.jobs/<id>/``: input files under ``in/``, ``job.json`` with
the command's name and parameters, written last (the server reads only complete jobs).
Whoever first creates ``claim`` owns the job: the server before it runs it, or a command
interrupted before that (it then removes its job). The runner may leave files in
``out/``; the server writes ``result.json`` (exit code, output, error text) and the
command removes the directory. No secret travels: a password is checked and hashed by
the command, and only the hash is queued. No new way in: the queue sits beside the
database file, so whoever may write there may already write the database itself.
"""
from __future__ import annotations

import contextvars
import importlib
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
from typing import TextIO

from .i18n import t

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0   # the server refreshes server.json this often
STALE_S = 15.0      # a server.json older than this belongs to no live dashboard
POLL_S = 0.5        # how often the server looks for jobs, and a command for its result

# modules whose ``runner`` functions the dashboard's process can run (imported on the
# first job, so the dashboard does not load them before anyone hands over a job)
RUNNER_MODULES = ("akrim_analytics.cli", "akrim_analytics.importer.cli", "akrim_analytics.admin_cli",
                  "akrim_analytics.risk.cli", "akrim_analytics.plan_cli", "akrim_analytics.report.cli")
Runner = Callable[[object, dict, TextIO, Path], None]   # (cursor, params, out, job dir)
OPT_STR = (str, type(None))   # for ``checked``: a text or nothing
_RUNNERS: dict[str, Runner] = {}


def runner(command: str) -> Callable[[Runner], Runner]:
    """Register the function that runs ``command`` for a handed-over job."""
    def register(fn: Runner) -> Runner:
        _RUNNERS[command] = fn
        return fn
    return register


def _runner(command) -> Runner | None:
    if not isinstance(command, str):
        return None
    if command not in _RUNNERS:
        for name in RUNNER_MODULES:
            importlib.import_module(name)
    return _RUNNERS.get(command)


def runner_for(command: str):
    """The registered runner, for a command that runs its job itself (no dashboard):
    called with (cursor, params, out, None, {out/ name: path}); its files go straight
    to their paths (``out_path``)."""
    fn = _runner(command)
    if fn is None:
        raise KeyError(command)

    def run_here(con, params, out, job, results):
        token = _LOCAL_RESULTS.set(results)
        try:
            fn(con, params, out, job)
        except InvalidJob:   # a command's own parameters are always well-formed
            raise RuntimeError(f"{command}: invalid parameters {params!r}") from None
        finally:
            _LOCAL_RESULTS.reset(token)
    return run_here


_LOCAL_RESULTS: contextvars.ContextVar[dict] = contextvars.ContextVar("akrim_job_results", default={})


def out_path(job: Path | None, name: str) -> Path:
    """Where a runner writes its output file ``name``: the job's ``out/`` folder when
    handed over (the command moves it to where its user asked), else that place (for a
    command whose ``results`` name a folder, ``"*"``: the file ``name`` in it)."""
    if job is not None:
        return job / "out" / name
    results = _LOCAL_RESULTS.get()
    return Path(results[name]) if name in results else Path(results["*"]) / name


class InvalidJob(Exception):
    pass


def checked(params: dict, types: dict) -> dict:
    """``params`` when it has exactly the keys of ``types``, each of its type(s)."""
    if not isinstance(params, dict) or set(params) != set(types) or not all(
            isinstance(params[k], tp) and not (tp is int and isinstance(params[k], bool))
            for k, tp in types.items()):
        raise InvalidJob
    return params


def input_file(job: Path, name) -> Path:
    """The job's input file ``name`` (a plain file name under ``in/``)."""
    if not isinstance(name, str) or not name or Path(name).name != name or name.startswith("."):
        raise InvalidJob
    path = job / "in" / name
    if not path.is_file():
        raise InvalidJob
    return path


def queue_dir(db_path: str | os.PathLike) -> Path:
    return Path(str(Path(db_path).resolve()) + ".jobs")


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
    except (FileExistsError, FileNotFoundError):   # claimed already, or withdrawn
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
    """Runs the jobs in ``<db>.jobs/`` on cursors of the dashboard's connection."""

    def __init__(self, db_path: str | os.PathLike, cursor: Callable[[], object]):
        self.db_file = Path(db_path).resolve()
        self.dir = queue_dir(db_path)
        self.cursor = cursor

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
        from .cli import UserError

        out, err = io.StringIO(), io.StringIO()
        try:
            spec = _read_json(job / "job.json") or {}
            fn = _runner(spec.get("command"))
            if fn is None:
                raise InvalidJob
            (job / "out").mkdir(exist_ok=True)
            con = self.cursor()
            try:
                fn(con, spec.get("params"), out, job)
            finally:
                con.close()
            code = 0
        except InvalidJob:
            print(f"Feil: invalid job {job.name}", file=err)
            code = 1
        except UserError as e:
            print(f"Feil: {e}", file=err)
            code = 1
        except Exception as e:  # the dashboard keeps serving; the command gets the message
            log.exception("job %s failed", job.name)
            print(f"Feil: {type(e).__name__}: {e}", file=err)
            code = 1
        finally:   # the copies of the input files are no longer needed
            shutil.rmtree(job / "in", ignore_errors=True)
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
        while True:
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
                log.exception("job queue %s", self.dir)
            time.sleep(POLL_S)

    def start(self) -> "Server":
        """Serve in a daemon thread for as long as the process (and the file) lives."""
        threading.Thread(target=self.serve_forever, name="akrim-job-queue", daemon=True).start()
        return self


# ---------------------------------------------------------------- the command's side
def submit(db_path: str | os.PathLike, command: str, params: dict, files: tuple[Path, ...] = ()) -> Path:
    """Put a job in the queue (the input files copied in first, ``job.json`` last)."""
    q = queue_dir(db_path)
    job = q / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    (job / "in").mkdir(parents=True)
    # the dashboard (perhaps another user of the same group) writes its claim, result and
    # files here: the job's folders get the queue folder's permissions, not this umask's
    mode = q.stat().st_mode & 0o7777
    for d in (job, job / "in"):
        os.chmod(d, mode)
    for f in files:
        shutil.copyfile(f, job / "in" / f.name)
    _write_json(job / "job.json", {"command": command, "params": params})
    return job


def wait(db_path: str | os.PathLike, job: Path) -> dict:
    """The job's result once the server wrote it. Raises UserError when the dashboard
    stops before that (its transaction is then rolled back: nothing was stored)."""
    from .cli import UserError

    gone_since = None
    while True:
        result = _read_json(job / "result.json")
        if result is not None:
            return result
        if server_alive(db_path) is None:
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since > POLL_S * 4:
                shutil.rmtree(job, ignore_errors=True)
                raise UserError(t("handoff.server_gone"))
        else:
            gone_since = None
        time.sleep(POLL_S / 2)


def delegate(db_path: str | os.PathLike, command: str, params: dict, *, files: tuple[Path, ...] = (),
             results: dict[str, str | os.PathLike] | None = None) -> int | None:
    """Run ``command`` in the live dashboard holding ``db_path`` and return its exit code,
    having printed its output; None when no dashboard serves the file (run it here).
    ``results``: files the runner leaves in ``out/`` → where the command puts them
    (the key ``"*"``: a folder for every file there)."""
    server = server_alive(db_path)
    if server is None:
        return None
    try:
        job = submit(db_path, command, params, files)
    except OSError as e:   # e.g. the dashboard runs as another user and owns the folder
        from .cli import UserError

        raise UserError(t("handoff.cannot_submit", dir=queue_dir(db_path), error=e.strerror or e,
                          pid=server["pid"])) from None
    print(t("handoff.waiting", pid=server["pid"]), file=sys.stderr)
    try:
        result = wait(db_path, job)
        for name, dest in (results or {}).items():
            if name == "*":
                for f in sorted((job / "out").iterdir()) if (job / "out").is_dir() else ():
                    shutil.move(str(f), str(Path(dest) / f.name))
            elif (job / "out" / name).exists():
                shutil.move(str(job / "out" / name), str(dest))
    except KeyboardInterrupt:
        if _claim(job):
            shutil.rmtree(job, ignore_errors=True)
            print(t("handoff.withdrawn"), file=sys.stderr)
        else:
            print(t("handoff.running_on"), file=sys.stderr)
        raise
    finally:
        if (job / "result.json").exists():
            shutil.rmtree(job, ignore_errors=True)
    sys.stdout.write(str(result.get("stdout", "")))
    sys.stderr.write(str(result.get("stderr", "")))
    code = result.get("code")
    return code if type(code) is int else 1


def run(db_path: str | os.PathLike | None, command: str, params: dict, *, files: tuple[Path, ...] = (),
        results: dict[str, str | os.PathLike] | None = None, read_only: bool = False) -> int:
    """A command's job: in the live dashboard holding the database when there is one
    (``delegate``), else here on a connection of its own. Returns the exit code.
    Here, a runner's ``out/`` files are written straight to their ``results`` paths."""
    from . import db

    path = db.db_path(db_path)
    code = delegate(path, command, params, files=files, results=results)
    if code is not None:
        return code
    con = db.connect(path, read_only=read_only)
    try:
        runner_for(command)(con, params, sys.stdout, None, results or {})
    finally:
        con.close()
    return 0
