"""Benchmark: the follow-up plan for 20 000 contracts (target ≤ 2 s).

Builds a synthetic database once (20 000 contracts in 11 departments, one risk run
with realistic levels and exposures, earlier controls for a third of them), then
times ``plan.build_plan`` (SQL candidates + MILP + tables) at several capacities, with
and without a minimum per department, plus the coverage curve and one more person.

    python bench/plan_bench.py            # synthetic database
    python bench/plan_bench.py --bigdb    # the benchmark database from bench/bigdb.py (scored by the demo build)
"""
from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from akrim_analytics import db, plan  # noqa: E402

N = 20_000
AS_OF = dt.date(2026, 9, 30)


def synthetic(path: Path, n: int = N, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    con = db.connect(path)
    deps = [(f"{1000 + 100 * i}", f"Avdeling {i + 1}") for i in range(11)]
    con.executemany("INSERT INTO departments (code, name) VALUES (?, ?)", deps)
    level = rng.choice(["lav", "middels", "høy"], size=n, p=[0.55, 0.3, 0.15])
    req = np.select([level == "lav", level == "middels"], [1, 2], 3)
    df = pd.DataFrame({
        "contract_id": [f"K-{i:05d}" for i in range(n)],
        "supplier_id": [f"S-{i % 7000:05d}" for i in range(n)],
        "department": rng.choice([d for d, _ in deps], size=n, p=np.r_[np.full(10, 0.08), 0.2]),
        "level": level, "required_step": req,
        "likelihood": rng.integers(1, 6, size=n), "consequence": rng.integers(1, 6, size=n),
        "exposure": np.round(rng.lognormal(13, 1.6, size=n), 2),
    })
    con.register("_c", df)
    con.execute("INSERT INTO suppliers (supplier_id, name) SELECT DISTINCT supplier_id, 'Leverandør ' || supplier_id FROM _c")
    con.execute("""INSERT INTO contracts (contract_id, name, supplier_id, department)
                   SELECT contract_id, 'Kontrakt ' || contract_id, supplier_id, department FROM _c""")
    run = con.execute("INSERT INTO risk_runs (config_version, data_version, as_of, created_by) "
                      "VALUES (1, 0, ?, 'bench') RETURNING run_id", [AS_OF]).fetchone()[0]
    con.execute("""INSERT INTO risk_assessments (run_id, entity_type, entity_id, supplier_id, department, likelihood,
                       consequence, level, required_step, covered, spend_12m, exposure, active)
                   SELECT ?, 'contract', contract_id, supplier_id, department, likelihood, consequence, level,
                          required_step, required_step > 0, exposure, exposure, true FROM _c""", [run])
    done = df[rng.random(n) < 0.35]
    ctl = pd.DataFrame({
        "contract_id": done["contract_id"],
        "step": np.where(rng.random(len(done)) < 0.25, 2, 1),
        "done_date": [AS_OF - dt.timedelta(days=int(x)) for x in rng.integers(1, 500, size=len(done))],
        "outcome": rng.choice(["clean", "findings"], size=len(done), p=[0.8, 0.2]),
    })
    con.register("_k", ctl)
    con.execute("INSERT INTO controls (contract_id, step, done_date, outcome, status) "
                "SELECT contract_id, step, done_date, outcome, 'closed' FROM _k")
    db.set_meta(con, "risk_as_of", AS_OF.isoformat())
    con.execute("CHECKPOINT")
    con.close()


def timed(fn, repeat=3):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        s = time.perf_counter() - t0
        best = s if best is None else min(best, s)
    return best, out


def main() -> int:
    import scipy.optimize  # noqa: F401  (import time is not the plan's)

    if "--bigdb" in sys.argv:
        sys.path.insert(0, str(REPO / "bench"))
        from bigdb import big_db

        path = big_db()
        con = db.connect(path, read_only=True)
        label = path.name
    else:
        tmp = Path(tempfile.mkdtemp()) / "plan_bench.duckdb"
        t0 = time.perf_counter()
        synthetic(tmp)
        print(f"synthetic database: {N} contracts in {time.perf_counter() - t0:.1f} s")
        con = db.connect(tmp, read_only=True)
        label = "synthetic"
    q = plan.default_quarter(con)
    n_cand = len(plan.candidates(con, plan.PlanSettings(), q))
    print(f"database: {label}; quarter {q.key}; {n_cand} contracts to plan")
    worst = 0.0
    for ftes in (0.5, 2, 10, 50):
        for mins in (0, 3):
            s = plan.PlanSettings(ftes=ftes, min_per_department=mins)
            sec, p = timed(lambda: plan.build_plan(con, s, q.year, q.quarter))
            worst = max(worst, sec)
            print(f"  build_plan {ftes:>4} FTE ({s.hours:>7.0f} h), min/dept {mins}: {sec:5.2f} s  "
                  f"{len(p.items):>5} contracts, {len(p.steps):>5} steps, {p.hours_planned:>7.0f} h, "
                  f"milp vars {p.solver['variables_milp']:>5} of {p.solver['variables']}, "
                  f"høy/middels covered {p.coverage['share_hm_after']:.1%}")
    sec, curve = timed(lambda: plan.coverage_curve(con, plan.PlanSettings(ftes=2), q.year, q.quarter), repeat=1)
    print(f"  coverage_curve ({len(curve)} capacities): {sec:.2f} s")
    sec, extra = timed(lambda: plan.one_more_person(con, plan.PlanSettings(ftes=2), q.year, q.quarter), repeat=1)
    print(f"  one_more_person: {sec:.2f} s (+{extra['extra_contracts']} contracts)")
    print(f"plan for {n_cand} contracts: worst {worst:.2f} s (target ≤ 2 s) -> {'OK' if worst <= 2 else 'SLOW'}")
    con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
