"""The plan's solver against ground truth: brute force on tiny random instances, and
``milp`` on the unreduced problem for larger ones (the Lagrangian and dominance
reductions must never change the optimum)."""
from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest

from akrim_analytics import plan
from akrim_analytics.plan import PlanError, PlanSettings


def random_candidates(rng, n, n_dept=3, *, tie_exposures=False):
    level = rng.choice(["lav", "middels", "høy"], size=n, p=[0.45, 0.35, 0.2])
    req = np.select([level == "lav", level == "middels"], [1, 2], 3)
    if tie_exposures:
        exposure = rng.choice([1e5, 2e5, 5e5, 1e6], size=n)
    else:
        exposure = np.round(rng.lognormal(12, 1.3, size=n), 2)
    day = dt.date(2026, 6, 1)
    done = {k: [day if (r < 0.25 and k <= q) else None for r, q in zip(rng.random(n), req)] for k in (1, 2, 3)}
    return pd.DataFrame({
        "contract_id": [f"K{i:04d}" for i in range(n)], "contract_name": [f"Kontrakt {i}" for i in range(n)],
        "supplier_id": "S", "department": rng.choice([f"D{i}" for i in range(n_dept)], size=n),
        "responsible": None, "level": level, "likelihood": 3, "consequence": 3, "required_step": req,
        "exposure": exposure, "spend_12m": 0.0, "start_date": None, "end_date": None, "supplier_name": "Lev",
        "department_name": "Avd", "done1": done[1], "done2": done[2], "done3": done[3],
        "last_outcome": None, "last_done": None, "open_findings": 0,
    })


def model(cand, s):
    notes = []
    cand, M, rows = plan._prepare(cand, s, notes)
    return M


def brute_force(M, C):
    """The exact optimum by enumerating every combination of depths."""
    n = len(M.V)
    options = [np.nonzero(M.ok[c])[0] for c in range(n)]
    best = None
    for combo in itertools.product(*options):
        k = np.array(combo)
        hours = M.H[np.arange(n), k].sum()
        if hours > C + 1e-9:
            continue
        counts = np.bincount(M.dept[k > 0], minlength=len(M.dept_codes))
        if (counts < M.mins).any():
            continue
        v = M.V[np.arange(n), k].sum()
        best = v if best is None else max(best, v)
    return None if best is None else best * M.scale


@pytest.mark.parametrize("seed", range(40))
def test_reduced_solver_equals_brute_force_on_tiny_instances(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    cand = random_candidates(rng, n, n_dept=2)
    effort = tuple(float(x) for x in np.sort(rng.choice([1, 2, 3, 5, 8, 13, 24], size=3, replace=False)))
    s = PlanSettings(capacity_mode="hours", capacity_hours=float(rng.integers(1, 40)), effort=effort,
                     min_per_department=int(rng.integers(0, 2)),
                     step_weights=tuple(float(x) for x in rng.integers(0, 4, size=3)))
    M = model(cand, s)
    if not len(M.V):
        return
    truth = brute_force(M, s.hours)
    try:
        plan._check_capacity(M, s.hours)
        sol = plan._solve(M, s.hours)
    except PlanError:
        assert truth is None
        return
    assert truth is not None
    assert sol.objective == pytest.approx(truth, rel=2e-7, abs=1e-6)
    # the solution itself is feasible
    assert M.H[np.arange(len(M.V)), sol.choice].sum() <= s.hours + 1e-9
    assert M.ok[np.arange(len(M.V)), sol.choice].all()


@pytest.mark.parametrize("seed,n,mins,capacity,ties", [
    (1, 150, 0, 60, False), (2, 150, 2, 60, False), (3, 200, 0, 400, True), (4, 200, 3, 40, True),
    (5, 250, 1, 900, False), (6, 120, 4, 30, True), (7, 200, 0, 5, False), (8, 180, 2, 2000, False),
])
def test_reduced_solver_equals_full_milp(seed, n, mins, capacity, ties):
    rng = np.random.default_rng(seed)
    cand = random_candidates(rng, n, n_dept=4, tie_exposures=ties)
    s = PlanSettings(capacity_mode="hours", capacity_hours=capacity, min_per_department=mins)
    M = model(cand, s)
    plan._check_capacity(M, s.hours)
    reduced = plan._solve(M, s.hours, reduce=True)
    full = plan._solve(M, s.hours, reduce=False)
    assert full.variables_milp == full.variables  # the reference really is unreduced
    assert reduced.objective == pytest.approx(full.objective, rel=2e-7)
    for sol in (reduced, full):
        k = sol.choice
        assert M.H[np.arange(len(M.V)), k].sum() <= capacity + 1e-9
        counts = np.bincount(M.dept[k > 0], minlength=len(M.dept_codes))
        assert (counts >= M.mins).all()


def test_dominance_keeps_only_what_can_fit():
    """At 3 hours, only the three largest 1-hour contracts of a class can be planned."""
    rng = np.random.default_rng(0)
    cand = random_candidates(rng, 50, n_dept=1)
    cand["level"], cand["required_step"] = "lav", 1
    for k in (1, 2, 3):
        cand[f"done{k}"] = None
    s = PlanSettings(capacity_mode="hours", capacity_hours=3)
    M = model(cand, s)
    R = plan._dominance(M, 3.0)
    assert R.ok[:, 1].sum() == 3
    top3 = np.argsort(-cand["exposure"].to_numpy())[:3]
    assert set(np.nonzero(R.ok[:, 1])[0]) == set(top3)
