"""Benchmark: the leadership pages' server-side run on the big database (5 000 000
spend lines, 20 000 contracts, 50 000 suppliers, quarterly risk runs).

Each page (and the heavier variants: every risk-map view, a selected cell, the
contract and supplier pages) runs in Streamlit's AppTest, as the server would run it:

* cold: with the query cache emptied (``st.cache_data.clear()``), i.e. the first
  visit after an upload or a settings change (the AppTest harness has run the page once
  before, so its own one-off start-up work is not counted);
* warm: the same page again, best of three (the cache per data version is hit).

Targets (issue 5): each page ≤ 1 s warm, ≤ 3 s cold, peak memory ≤ 2 GB (the
process's peak resident set size, DuckDB included). Prints one line per page and
the verdict; exits 1 if a target is missed."""
from __future__ import annotations

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

WARM_S, COLD_S, PEAK_MB = 1.0, 3.0, 2048


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cases(path: Path) -> list[tuple[str, str, dict]]:
    """(name, page file, query parameters): every page, with real ids from the database."""
    from akrim_analytics import db, views
    from akrim_analytics.filters import Filters, Period

    con = db.connect(path)
    f = Filters(Period(2025))
    run = views.run_for_view(con, f)
    contract = views.contracts_table(con, f, run.run_id).iloc[0]["contract_id"]
    supplier = views.suppliers_table(con, f, run.run_id).iloc[0]["supplier_id"]
    con.close()
    cell = views.Selection("category_level", category="BYGG", level="høy").key
    return [
        ("oversikt", "oversikt", {}),
        ("oversikt 2026-K3 avd. 4100", "oversikt", {"periode": "2026-K3", "avdeling": "4100"}),
        ("risikokart kategori × risiko", "risikokart", {}),
        ("risikokart + valgt rute", "risikokart", {"utvalg": cell}),
        ("risikokart avdeling × kategori", "risikokart", {"visning": "department_category"}),
        ("risikokart matrise", "risikokart", {"visning": "matrix"}),
        ("risikokart treemap", "risikokart", {"visning": "treemap"}),
        ("kontrakter (liste)", "kontrakter", {}),
        ("kontrakt (360)", "kontrakter", {"kontrakt": contract}),
        ("leverandører (liste)", "leverandorer", {}),
        ("leverandør (360)", "leverandorer", {"leverandor": supplier}),
        ("utvikling", "utvikling", {}),
    ]


def _app(page: str, query: dict):
    """An AppTest of app.py on ``page``. It is reused for every timed run: its first run
    scans the installed packages for components, which a served app does once at start."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.switch_page(f"pages/{page}.py")
    for k, v in query.items():
        at.query_params[k] = v
    _run(at)
    return at


def _run(at) -> float:
    t0 = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"{at.exception[0].message}")
    return elapsed


def main() -> int:
    src = big_db()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page_bench.duckdb"
        shutil.copy(src, path)
        os.environ["AKRIM_DB"] = str(path)
        # AppTest in navigation mode, as a served app runs after its first request
        sys.path.insert(0, str(REPO / "tests"))
        import conftest  # noqa: F401  (patches AppTest's PagesManager)
        import streamlit as st

        from akrim_analytics import db

        con = db.connect(path)
        db.set_meta(con, "demo", "true")     # the benchmark copy needs no login
        n = con.execute("SELECT (SELECT count(*) FROM spend), (SELECT count(*) FROM contracts), "
                        "(SELECT count(*) FROM suppliers), (SELECT count(*) FROM risk_runs)").fetchone()
        con.close()
        print(f"database: {n[0]:,} spend lines, {n[1]:,} contracts, {n[2]:,} suppliers, {n[3]} risk runs")
        cases = _cases(path)
        rows, ok = [], True
        for name, page, query in cases:
            at = _app(page, query)             # imports, connection, component scan: not measured
            st.cache_data.clear()
            cold = _run(at)
            warm = min(_run(at) for _ in range(3))
            good = warm <= WARM_S and cold <= COLD_S
            ok &= good
            rows.append((name, cold, warm, good))
            print(f"{name:<34} cold {cold:5.2f} s   warm {warm:5.2f} s   {'OK' if good else 'MISSED'}")
        peak = _rss_mb()
        ok &= peak <= PEAK_MB
        print(f"peak memory (RSS): {peak:.0f} MB (target <= {PEAK_MB} MB)")
        print(f"slowest: cold {max(r[1] for r in rows):.2f} s, warm {max(r[2] for r in rows):.2f} s "
              f"(targets <= {COLD_S:.0f} s cold, <= {WARM_S:.0f} s warm): {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
