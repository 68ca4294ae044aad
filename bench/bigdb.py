"""A large database for benchmarks: 50 000 suppliers, ~5 000 000 spend lines,
20 000 contracts. Built once and cached under bench/out/ (reused while the
generator is unchanged)."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"


def _path() -> Path:
    # rebuilt when the generator or the schema changes
    src = (REPO / "akrim_analytics" / "demo.py").read_bytes() + b"".join(
        p.read_bytes() for p in sorted((REPO / "akrim_analytics" / "migrations").glob("*.sql")))
    return OUT / f"big-{hashlib.sha256(src).hexdigest()[:10]}.duckdb"


def big_db() -> Path:
    """The cached database's path, built first when missing. The build runs in a child
    process: a benchmark that reports its own peak memory (``ru_maxrss`` cannot be reset)
    must not report the generator's (~3.5 GB), as it did on a fresh clone."""
    path = _path()
    if not path.exists():
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--build"], check=True)
    return path


def _build() -> Path:
    sys.path.insert(0, str(REPO))
    from akrim_analytics import demo

    path = _path()
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("big-*.duckdb"):
        old.unlink()
    t0 = time.perf_counter()
    # (demo.build writes under a temporary name and renames when complete: an
    # interrupted build leaves nothing that a later run would take for the cache)
    counts = demo.build(path, supplier_scale=50_000 / 2_520, line_scale=4.5, max_contracts=20_000)
    print(f"built benchmark database {path.name} in {time.perf_counter() - t0:.1f} s: {counts}", flush=True)
    return path


if __name__ == "__main__":
    print(_build() if "--build" in sys.argv else big_db())
