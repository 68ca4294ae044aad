"""Benchmark: the quarterly report and the supervision evidence on the big database
(20 000 contracts, 50 000 suppliers, ~5 000 000 spend lines).

Targets: freezing a quarter's dataset (every table, incl. the follow-up plan's resource
scenario) within 15 s, rendering the deck and the workbook within 5 s each (the page's
one-click download), and the evidence workbook for every covered contract within 60 s.
Prints each time, the sizes and the process's peak memory (resident set size)."""
from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bigdb import big_db  # noqa: E402

from akrim_analytics import auth, db, report  # noqa: E402
from akrim_analytics.report import evidence  # noqa: E402

QUARTER = "2026-K3"
TARGETS = {"freeze": 15.0, "pptx": 5.0, "xlsx": 5.0, "evidence": 60.0}
USER = auth.User("bench", "leder")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    src = big_db()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report_bench.duckdb"
        shutil.copy(src, path)
        con = db.connect(path)
        n = con.execute("SELECT (SELECT count(*) FROM spend), (SELECT count(*) FROM contracts)").fetchone()
        print(f"database: {n[0]:,} spend lines, {n[1]:,} contracts")
        times = {}
        t0 = time.perf_counter()
        snap = report.freeze(con, USER, QUARTER)
        times["freeze"] = time.perf_counter() - t0
        print(f"freeze {QUARTER}: {times['freeze']:.2f} s (edition {snap.edition}, dataset "
              f"{len(snap.dataset.to_json()) / 1024:.0f} KiB)")
        for fmt in ("pptx", "xlsx"):
            t0 = time.perf_counter()
            data = report.render(snap, fmt)
            times[fmt] = time.perf_counter() - t0
            print(f"render {fmt}: {times[fmt]:.2f} s ({len(data) / 1024:.0f} KiB)")
        t0 = time.perf_counter()
        ev = evidence.build(con)
        t_build = time.perf_counter() - t0
        data = evidence.render(ev)
        times["evidence"] = time.perf_counter() - t0
        print(f"evidence: {times['evidence']:.2f} s (build {t_build:.2f} s; {ev.summary['covered_contracts']:,} "
              f"covered contracts, {len(ev.tables['factors']):,} factor lines, {len(ev.tables['controls']):,} "
              f"controls; {len(data) / 1024 / 1024:.1f} MiB)")
        con.close()
    print(f"peak memory: {_rss_mb():.0f} MiB")
    slow = {k: round(v, 2) for k, v in times.items() if v > TARGETS[k]}
    print("targets met" if not slow else f"over target: {slow} (targets {TARGETS})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
