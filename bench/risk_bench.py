"""Benchmark: a full risk re-score of the big database (20 000 contracts, 50 000
suppliers, ~5 000 000 spend lines). Target: at most 1 s per full re-score.

Scores a copy of the cached benchmark database (``bench/bigdb.py``) three times (the
first run also reads the data from disk) and prints each wall time and CPU time, the
time per stage (base table, factor lines, assessments, pruning, commit — the commit
includes DuckDB's periodic checkpoint), the entities scored, the factor rows written,
the process's peak memory (resident set size) and the machine's load."""
from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bigdb import big_db  # noqa: E402

from akrim_analytics import db, risk  # noqa: E402
from akrim_analytics.auth import SYSTEM  # noqa: E402
from akrim_analytics.risk import engine  # noqa: E402

AS_OF = dt.date(2026, 9, 30)
TARGET_S = 1.0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    src = big_db()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "risk_bench.duckdb"
        shutil.copy(src, path)
        con = db.connect(path)
        n = con.execute("SELECT (SELECT count(*) FROM spend), (SELECT count(*) FROM suppliers), "
                        "(SELECT count(*) FROM contracts)").fetchone()
        print(f"database: {n[0]:,} spend lines, {n[1]:,} suppliers, {n[2]:,} contracts")
        rss0 = _rss_mb()
        times = []
        for i in range(3):
            t0, c0 = time.perf_counter(), _cpu_s()
            run_id = risk.score_all(con, SYSTEM, AS_OF, reason="benchmark")
            times.append(time.perf_counter() - t0)
            cpu = _cpu_s() - c0
            info = risk.run_info(con, run_id)
            rows = con.execute("SELECT count(*) FROM risk_factors WHERE run_id = ?", [run_id]).fetchone()[0]
            print(f"run {i + 1}: {times[-1]:.2f} s wall, {cpu:.2f} s CPU  ({info['n_contracts']:,} contracts, "
                  f"{info['n_suppliers']:,} suppliers, {rows:,} factor lines)  stages: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in engine.LAST_TIMINGS.items()))
        best = min(times)
        print(f"full re-score: best {best:.2f} s, median {sorted(times)[1]:.2f} s "
              f"(target <= {TARGET_S:.1f} s: {'OK' if best <= TARGET_S else 'MISSED'})")
        print(f"peak memory (RSS): {_rss_mb():.0f} MB (before scoring {rss0:.0f} MB)")
        print(f"load average while running: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
              f"on {os.cpu_count()} cores (wall times grow with other load; CPU time less so)")
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
