"""The follow-up plan ("oppfølgingsplan"): which contracts get which DFØ step this
quarter, so that scarce control hours cover the most risk-weighted exposure.

Inputs
------
* the current risk run (``risk.current_run_id``): per contract its level (lav |
  middels | høy), the deepest step the level calls for (``required_step`` 1/2/3; 0 =
  not covered by the wage regulation, never planned) and its NOK ``exposure``;
* the control log: a step carried out in the last ``valid_months`` (default 12) is
  *done* and is not planned again; with ``skip_clean_months`` > 0 a contract whose
  latest control in that many months had a clean result (and has no open finding) is
  skipped altogether;
* ``PlanSettings``: capacity for the quarter (hours, or dedicated FTEs × hours per FTE
  per quarter), effort per step (default Trinn 1: 1 h, Trinn 2: 8 h, Trinn 3: 24 h),
  level and step weights, a minimum number of contracts per department.

Contracts that run in the quarter (by their start and end dates) and that the risk
run assessed as running (``active``) are planned.

The optimisation problem
------------------------
For contract *c* with level ℓ(c), required step r(c) and exposure E(c), the **value
of step s** is::

    v(c, s) = E(c) × level_weight[ℓ(c)] × step_weight[s]      for s ≤ r(c)

(defaults: level weights lav 1, middels 3, høy 9 — the risk matrix's 1-3-9 spacing;
step weights Trinn 1: 1, Trinn 2: 2, Trinn 3: 3 — a deeper step finds more). Steps
deeper than r(c) have no value and are never planned ("no contract gets a deeper step
than its level calls for").

Every step needs the steps before it done (in the log) or planned in the same plan:
Trinn 1 comes before any deeper step, and Trinn 3 after Trinn 2 (DFØ's cumulative
control levels, domain.md §1.3). So a contract's options are the prefixes of its
not-yet-done steps up to r(c) ("depth" k = 0, 1, …), and the plan solves::

    maximise    Σ_c Σ_k V(c, k) · z(c, k)          V = sum of v over the k steps
    subject to  Σ_k z(c, k) ≤ 1                    one depth per contract
                Σ_c Σ_k H(c, k) · z(c, k) ≤ C      hours within capacity C
                Σ_{c in d} Σ_{k≥1} z(c, k) ≥ m_d   minimum contracts per department d
                z binary

(H = hours of the k steps.) The objective value is the **risk-weighted exposure
covered**. It is solved with ``scipy.optimize.milp`` (HiGHS), proven optimal to
within a relative gap of ``REL_GAP`` (10⁻⁷ of the plan's value).

Exact speed-up. A knapsack with 20 000 contracts is slow for branch and bound, so
before calling ``milp`` the problem is reduced by *Lagrangian variable fixing*, which
never changes the optimum: with multipliers λ ≥ 0 (capacity) and μ_d ≥ 0 (department
minimums) the Lagrangian L(λ, μ) is an upper bound on the optimum, and choosing
option k for contract c costs at least ``penalty(c, k)`` below it; any option whose
penalty exceeds L − (value of a known feasible plan) cannot be in an optimal plan and
is removed (less the solver's tolerance ε: an option that can only appear in plans
less than ε better than the known one goes too, and the better of the known plan and
``milp``'s is kept). λ and μ are the exact Lagrangian dual (= the LP relaxation bound, since
each contract's options form a chain), found by bisection; the feasible plan is the
Lagrangian choice filled greedily. What is left — the contracts near the margin —
goes to ``milp``. ``tests/test_plan_solver.py`` checks the result against ``milp`` on
the unreduced problem.

Why chosen. Each planned contract carries reasons: its level and required step, its
value per control hour and priority rank against λ (the value of the last hour), the
department minimum when that is what put it in, Trinn 1 first or already done, and a
note when capacity stops it short of the required step.

Outputs and the functions other features call
---------------------------------------------
``build_plan`` → ``Plan``; ``coverage_curve``; ``one_more_person`` (what one more
dedicated person would cover); ``export_excel``; ``save_plan`` (analytiker+);
``adherence`` and ``overdue_items`` (plan against done).

Anything that cannot be planned raises ``PlanError`` whose ``constraint`` names the
input to relax (``capacity``, ``effort``, ``weights``, ``department_minimum``,
``no_risk_run``, ``no_contracts``) and whose text says what to change.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from . import audit, db, fmt, hooks
from .auth import User, require
from .filters import Period
from .i18n import get_language, t

LEVELS = ("lav", "middels", "høy")
STEPS = (1, 2, 3)
# One full-time equivalent ≈ 1 695 working hours a year (37.5 h weeks after holidays
# and public holidays), i.e. about 424 hours a quarter.
HOURS_PER_FTE_QUARTER = 424.0
# HiGHS stops when the plan is proven within this share of the best possible value
# (for a municipality, far less than one krone of weighted exposure per million).
REL_GAP = 1e-7


class PlanError(ValueError):
    """The plan cannot be made as asked. ``constraint`` names what to relax; ``key`` and
    ``params`` give the message (``str(error)`` is it in the current language)."""

    def __init__(self, constraint: str, key: str, **params):
        self.constraint, self.key, self.params = constraint, key, params
        super().__init__(t(key, **params))

    def __str__(self) -> str:
        return t(self.key, **self.params)


@dataclass(frozen=True)
class PlanSettings:
    """Planning inputs (hashable, so a page can cache a plan per settings).

    ``capacity_mode`` "fte": capacity = ``ftes`` × ``hours_per_fte``; "hours":
    ``capacity_hours``. ``effort``, ``step_weights``: per Trinn 1, 2, 3.
    ``level_weights``: per lav, middels, høy. ``min_per_department``: at least this many
    contracts controlled in every department (or all it has to plan, if fewer).
    ``department_minimums``: ((code, n), …) strict minimums for named departments
    (an impossible one is an error). ``skip_clean_months``: 0 = off."""
    capacity_mode: str = "fte"
    capacity_hours: float = HOURS_PER_FTE_QUARTER
    ftes: float = 1.0
    hours_per_fte: float = HOURS_PER_FTE_QUARTER
    effort: tuple[float, float, float] = (1.0, 8.0, 24.0)
    level_weights: tuple[float, float, float] = (1.0, 3.0, 9.0)
    step_weights: tuple[float, float, float] = (1.0, 2.0, 3.0)
    min_per_department: int = 0
    department_minimums: tuple[tuple[str, int], ...] = ()
    skip_clean_months: int = 0
    valid_months: int = 12

    @property
    def hours(self) -> float:
        """The capacity in hours for the quarter."""
        if self.capacity_mode == "hours":
            return float(self.capacity_hours)
        return float(self.ftes) * float(self.hours_per_fte)

    def with_hours(self, hours: float) -> "PlanSettings":
        return replace(self, capacity_mode="hours", capacity_hours=float(hours))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["effort"], d["level_weights"], d["step_weights"] = (list(self.effort), list(self.level_weights),
                                                               list(self.step_weights))
        d["department_minimums"] = {k: v for k, v in self.department_minimums}
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "PlanSettings":
        d = dict(d or {})
        known = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in known}
        for k in ("effort", "level_weights", "step_weights"):
            if k in d:
                d[k] = tuple(float(x) for x in d[k])
        if "department_minimums" in d:
            dm = d["department_minimums"]
            items = dm.items() if isinstance(dm, dict) else dm
            d["department_minimums"] = tuple(sorted((str(k), int(v)) for k, v in items))
        for k in ("capacity_hours", "ftes", "hours_per_fte"):
            if k in d:
                d[k] = float(d[k])
        for k in ("min_per_department", "skip_clean_months", "valid_months"):
            if k in d:
                d[k] = int(d[k])
        return cls(**d)


# ----------------------------------------------------------------------------- settings storage

def get_settings(con: duckdb.DuckDBPyConnection) -> PlanSettings:
    """The saved planning settings (the newest version), or the defaults."""
    row = con.execute("SELECT config FROM plan_settings ORDER BY version DESC LIMIT 1").fetchone()
    return PlanSettings.from_dict(json.loads(row[0])) if row else PlanSettings()


def save_settings(con: duckdb.DuckDBPyConnection, user: User, settings: PlanSettings) -> int:
    """Save planning settings as the new default (analytiker+); returns the version."""
    require(user, "analytiker", "change planning settings")
    _validate_settings(settings)
    with db.transaction(con):
        old = con.execute("SELECT version, config FROM plan_settings ORDER BY version DESC LIMIT 1").fetchone()
        version = (old[0] if old else 0) + 1
        new = settings.to_dict()
        con.execute("INSERT INTO plan_settings (version, config, created_by) VALUES (?, ?, ?)",
                    [version, json.dumps(new), user.username])
        before = json.loads(old[1]) if old else PlanSettings().to_dict()
        changes = {k: {"old": before.get(k), "new": v} for k, v in new.items() if before.get(k) != v}
        audit.log(con, user, "settings", "plan_settings", version, {"changes": changes})
        db.bump_data_version(con)
    return version


def _validate_settings(s: PlanSettings) -> None:
    if s.capacity_mode not in ("hours", "fte"):
        raise PlanError("capacity", "followup.plan.err.capacity_mode")
    if s.capacity_mode == "fte" and (not math.isfinite(s.hours_per_fte) or s.hours_per_fte <= 0):
        raise PlanError("capacity", "followup.plan.err.hours_per_fte")
    if not math.isfinite(s.hours) or s.hours <= 0:
        raise PlanError("capacity", "followup.plan.err.capacity", hours=fmt.number(s.hours, 1))
    if len(s.effort) != 3 or len(s.step_weights) != 3 or len(s.level_weights) != 3:
        raise PlanError("effort", "followup.plan.err.shape")
    for i, h in enumerate(s.effort):
        if not math.isfinite(h) or h <= 0:
            raise PlanError("effort", "followup.plan.err.effort", step=i + 1, hours=fmt.number(h, 1))
    for w in tuple(s.level_weights) + tuple(s.step_weights):
        if not math.isfinite(w) or w < 0:
            raise PlanError("weights", "followup.plan.err.weights")
    if s.min_per_department < 0 or any(n < 0 for _, n in s.department_minimums):
        raise PlanError("department_minimum", "followup.plan.err.negative_minimum")
    if s.skip_clean_months < 0 or s.valid_months < 0:
        raise PlanError("weights", "followup.plan.err.months")


# ----------------------------------------------------------------------------- quarters and dates

def quarter_of(day: dt.date) -> Period:
    return Period(day.year, (day.month - 1) // 3 + 1)


def _months_before(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(y, m, min(d.day, last))


def today(con: duckdb.DuckDBPyConnection) -> dt.date:
    """"Today" for follow-up: the calendar date, or the risk model's date if that is
    later (a database can pin it, see ``risk.default_as_of``)."""
    from . import risk

    return max(risk.default_as_of(con), dt.date.today())


def default_quarter(con: duckdb.DuckDBPyConnection) -> Period:
    """The quarter to plan by default: the one that holds the day after the risk
    model's date (today; in the demo, whose data ends 30 September 2026, the fourth
    quarter of 2026)."""
    from . import risk

    return quarter_of(risk.default_as_of(con) + dt.timedelta(days=1))


def _reference_date(con, q: Period, as_of: dt.date | None) -> dt.date:
    """The date at which controls count as done: ``as_of``, else "today" held inside
    the quarter (its start for a future quarter, its end for a past one)."""
    if as_of is not None:
        return as_of
    day = today(con)
    return min(max(day, q.start), q.end)


def current_run_id(con: duckdb.DuckDBPyConnection) -> int | None:
    from . import risk

    return risk.current_run_id(con)


# ----------------------------------------------------------------------------- candidates

def candidates(con: duckdb.DuckDBPyConnection, settings: PlanSettings, q: Period, *,
               run_id: int | None = None, as_of: dt.date | None = None) -> pd.DataFrame:
    """Every contract the plan is about (one row each): assessed in the run with a
    required step, assessed as running and running in the quarter. Columns include
    the latest done date of each step within ``valid_months`` (``done1..3``), the
    latest control's outcome within ``skip_clean_months`` and open findings."""
    run_id = current_run_id(con) if run_id is None else run_id
    if run_id is None:
        raise PlanError("no_risk_run", "followup.plan.err.no_risk_run")
    ref = _reference_date(con, q, as_of)
    valid_from = _months_before(ref, settings.valid_months)
    skip_from = _months_before(ref, settings.skip_clean_months) if settings.skip_clean_months > 0 else ref
    has_active = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'risk_assessments' AND column_name = 'active'"
    ).fetchone()[0]
    active = "coalesce(r.active, true)" if has_active else "true"
    return con.execute(
        f"""WITH ra AS (
              SELECT r.entity_id AS contract_id, coalesce(c.name, r.entity_id) AS contract_name,
                     coalesce(r.supplier_id, c.supplier_id) AS supplier_id,
                     coalesce(r.department, c.department) AS department, c.responsible,
                     r.level, r.likelihood, r.consequence, r.required_step,
                     coalesce(CAST(r.exposure AS DOUBLE), 0) AS exposure, CAST(r.spend_12m AS DOUBLE) AS spend_12m,
                     c.start_date, c.end_date
              FROM risk_assessments r LEFT JOIN contracts c ON c.contract_id = r.entity_id
              WHERE r.run_id = ? AND r.entity_type = 'contract' AND r.required_step BETWEEN 1 AND 3
                AND {active}
                AND (c.start_date IS NULL OR c.start_date <= ?) AND (c.end_date IS NULL OR c.end_date >= ?)
            ), done AS (
              SELECT contract_id,
                     max(done_date) FILTER (WHERE step = 1) AS done1,
                     max(done_date) FILTER (WHERE step = 2) AS done2,
                     max(done_date) FILTER (WHERE step = 3) AS done3
              FROM controls
              WHERE done_date IS NOT NULL AND done_date > ? AND done_date <= ?
                AND coalesce(outcome, '') <> 'not_done'
              GROUP BY contract_id
            ), latest AS (
              SELECT contract_id, outcome AS last_outcome, done_date AS last_done FROM (
                SELECT contract_id, outcome, done_date,
                       row_number() OVER (PARTITION BY contract_id ORDER BY done_date DESC, control_id DESC) AS rn
                FROM controls
                WHERE done_date IS NOT NULL AND done_date > ? AND done_date <= ? AND outcome IN ('clean', 'findings'))
              WHERE rn = 1
            ), openf AS (
              SELECT contract_id, count(*) AS open_findings FROM findings WHERE status = 'open' GROUP BY contract_id
            )
            SELECT ra.*, s.name AS supplier_name, dp.name AS department_name,
                   done.done1, done.done2, done.done3, latest.last_outcome, latest.last_done,
                   coalesce(openf.open_findings, 0) AS open_findings
            FROM ra
            LEFT JOIN suppliers s ON s.supplier_id = ra.supplier_id
            LEFT JOIN departments dp ON dp.code = ra.department
            LEFT JOIN done ON done.contract_id = ra.contract_id
            LEFT JOIN latest ON latest.contract_id = ra.contract_id
            LEFT JOIN openf ON openf.contract_id = ra.contract_id
            ORDER BY ra.contract_id""",
        [run_id, q.end, q.start, valid_from, ref, skip_from, ref]).df()


# ----------------------------------------------------------------------------- the model

@dataclass
class _Model:
    """Options per contract as padded arrays: row c, column k = depth k (0 = nothing).

    V, H: cumulative value and hours; ok: option exists; pending[c, s-1]: step s is
    called for and not done (depth k plans the first k of them); dept: department
    index; mins: per department."""
    V: np.ndarray
    H: np.ndarray
    ok: np.ndarray
    dept: np.ndarray
    dept_codes: list
    mins: np.ndarray
    pending: np.ndarray
    scale: float

    def planned_steps(self, depth: np.ndarray) -> np.ndarray:
        """(n, 3) booleans: step s is planned at these depths (the first ``depth``
        pending steps of each contract)."""
        return self.pending & (np.cumsum(self.pending, axis=1) <= np.asarray(depth)[:, None])


def _build_model(cand: pd.DataFrame, s: PlanSettings, mins: dict[str, int]) -> _Model:
    n = len(cand)
    req = cand["required_step"].to_numpy(dtype=int)
    done = np.stack([cand[f"done{k}"].notna().to_numpy() for k in STEPS], axis=1) if n else np.zeros((0, 3), bool)
    lw = dict(zip(LEVELS, s.level_weights))
    level_w = cand["level"].map(lambda x: lw.get(x, 0.0)).to_numpy(dtype=float) if n else np.zeros(0)
    base = cand["exposure"].to_numpy(dtype=float) * level_w if n else np.zeros(0)
    base = np.where(np.isfinite(base) & (base > 0), base, 0.0)
    # pending[c, s-1]: step s is called for and not done
    pending = (np.arange(1, 4)[None, :] <= req[:, None]) & ~done
    V = np.zeros((n, 4))
    H = np.zeros((n, 4))
    ok = np.zeros((n, 4), bool)
    ok[:, 0] = True
    cnt = np.zeros(n, int)
    for si, step in enumerate(STEPS):
        p = pending[:, si]
        k = cnt + 1
        rows = np.nonzero(p)[0]
        V[rows, k[rows]] = V[rows, cnt[rows]] + base[rows] * s.step_weights[si]
        H[rows, k[rows]] = H[rows, cnt[rows]] + s.effort[si]
        ok[rows, k[rows]] = True
        cnt = cnt + p
    if n:
        codes_arr, dept = np.unique(cand["department"].fillna("").astype(str).to_numpy(), return_inverse=True)
        codes, dept = [str(c) for c in codes_arr], dept.ravel().astype(int)
    else:
        codes, dept = [], np.zeros(0, int)
    m = np.array([mins.get(c, 0) for c in codes], dtype=float)
    scale = float(V.max()) if n and V.max() > 0 else 1.0
    return _Model(V / scale, H, ok, dept, codes, m, pending, scale)


def _lagrangian(M: _Model, C: float, lam: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """For capacity price ``lam``: the optimal department multipliers μ(λ), the
    Lagrangian bound L(λ, μ(λ)), each contract's g(c, k) and the chosen depth."""
    g = np.where(M.ok, M.V - lam * M.H, -np.inf)
    mu = np.zeros(len(M.dept_codes))
    if M.mins.any() and len(M.V):
        best1 = g[:, 1:].max(axis=1)            # best depth ≥ 1 without μ
        tneed = -best1                          # μ at which the contract starts to pay
        for d in np.nonzero(M.mins > 0)[0]:
            td = np.sort(tneed[M.dept == d])
            k = int(M.mins[d])
            if 0 < k <= len(td):
                mu[d] = max(0.0, td[k - 1])
        g[:, 1:] += mu[M.dept][:, None]
    choice = g.argmax(axis=1)
    best = g[np.arange(len(g)), choice] if len(g) else np.zeros(0)
    L = lam * C - float((mu * M.mins).sum()) + float(best.sum())
    return L, mu, g, choice


def _usage(M: _Model, choice: np.ndarray) -> float:
    return float(M.H[np.arange(len(choice)), choice].sum())


def _dual(M: _Model, C: float) -> tuple[float, float, float]:
    """Minimise L(λ, μ(λ)) over λ ≥ 0 by bisection on its subgradient (C − hours of
    the Lagrangian choice). Returns (λ_low, λ_high, best bound)."""
    L0, _, _, ch0 = _lagrangian(M, C, 0.0)
    if _usage(M, ch0) <= C:
        return 0.0, 0.0, L0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(M.ok[:, 1:] & (M.H[:, 1:] > 0), M.V[:, 1:] / M.H[:, 1:], 0.0)
    hi = float(ratios.max()) * 2 + 1.0
    for _ in range(60):
        if _usage(M, _lagrangian(M, C, hi)[3]) <= C:
            break
        hi *= 2
    lo = 0.0
    for _ in range(64):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if _usage(M, _lagrangian(M, C, mid)[3]) > C:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-9 * hi:
            break
    bound = min(_lagrangian(M, C, lo)[0], _lagrangian(M, C, hi)[0])
    return lo, hi, bound


def _incumbent(M: _Model, C: float, lam: float) -> np.ndarray | None:
    """A feasible plan: the Lagrangian choice at ``lam``, department minimums topped
    up, then spare hours filled with the next steps by value per hour."""
    L, mu, g, choice = _lagrangian(M, C, lam)
    choice = choice.copy()
    n = len(choice)
    # top up departments below their minimum with their best-paying contracts (cheapest depth 1)
    for d in np.nonzero(M.mins > 0)[0]:
        members = np.nonzero(M.dept == d)[0]
        have = int((choice[members] > 0).sum())
        need = int(M.mins[d]) - have
        if need > 0:
            idle = members[choice[members] == 0]
            order = idle[np.argsort(-g[idle, 1], kind="stable")]
            choice[order[:need]] = 1
    used = _usage(M, choice)
    if used > C + 1e-9:
        # drop the lowest value-per-hour contracts that no minimum needs
        counts = np.bincount(M.dept[choice > 0], minlength=len(M.dept_codes)) if n else np.zeros(0)
        chosen = np.nonzero(choice > 0)[0]
        vph = M.V[chosen, choice[chosen]] / np.maximum(M.H[chosen, choice[chosen]], 1e-12)
        for c in chosen[np.argsort(vph, kind="stable")]:
            if used <= C + 1e-9:
                break
            d = M.dept[c]
            if counts[d] - 1 < M.mins[d]:
                # keep the contract, but at depth 1
                if choice[c] > 1:
                    used -= M.H[c, choice[c]] - M.H[c, 1]
                    choice[c] = 1
                continue
            used -= M.H[c, choice[c]]
            counts[d] -= 1
            choice[c] = 0
        if used > C + 1e-9:
            return None
    # fill spare hours: add next steps by value per hour while they fit (greedy, skipping
    # what does not fit); each pass takes a whole prefix at once, then the few that still fit
    for _ in range(3):
        nxt = np.minimum(choice + 1, 3)
        idx = np.nonzero(M.ok[np.arange(n), nxt] & (nxt > choice))[0]
        if not len(idx):
            break
        dv = M.V[idx, nxt[idx]] - M.V[idx, choice[idx]]
        dh = M.H[idx, nxt[idx]] - M.H[idx, choice[idx]]
        pos = dv > 0
        idx, dv, dh = idx[pos], dv[pos], dh[pos]
        if not len(idx):
            break
        order = np.lexsort((idx, -(dv / np.maximum(dh, 1e-12))))
        idx, dh = idx[order], dh[order]
        rem = C - used
        take = np.cumsum(dh) <= rem + 1e-9
        # the prefix that fits, up to the first step that does not
        stop = int(np.argmin(take)) if not take.all() else len(take)
        chosen = idx[:stop]
        rem -= float(dh[:stop].sum())
        rest_idx, rest_dh = idx[stop:], dh[stop:]
        extra = []
        while len(rest_dh):
            fits = rest_dh <= rem + 1e-9
            if not fits.any():
                break
            i = int(np.argmax(fits))
            extra.append(rest_idx[i])
            rem -= float(rest_dh[i])
            rest_idx, rest_dh = rest_idx[i + 1:], rest_dh[i + 1:]
        added = np.r_[chosen, np.array(extra, dtype=int)].astype(int)
        if not len(added):
            break
        choice[added] += 1
        used = C - rem
    return choice


def _dominance(M: _Model, C: float) -> _Model:
    """Exact reduction by exchange: contracts in the same department with the same
    pending steps have the same hours per depth and values proportional to their
    weighted exposure, so some optimal plan gives the larger one at least the depth of
    the smaller one (swapping their depths keeps hours and department counts and does
    not lower the value). Depth ≥ k takes at least H(k) hours, so at most ⌊C / H(k)⌋
    contracts of such a class reach depth k in that plan: only the class's top
    ⌊C / H(k)⌋ keep the option. This is what keeps small capacities fast."""
    n = len(M.V)
    if not n:
        return M
    pend = M.pending.astype(int) @ np.array([1, 2, 4])
    dept = M.dept if M.mins.any() else np.zeros(n, int)
    _, cls = np.unique(np.stack([dept, pend], axis=1), axis=0, return_inverse=True)
    cls = cls.ravel()
    last = M.V[np.arange(n), M.ok.sum(axis=1) - 1]
    order = np.lexsort((np.arange(n), -last, cls))
    rank = np.empty(n, int)
    first = np.r_[0, np.nonzero(np.diff(cls[order]))[0] + 1]
    sizes = np.diff(np.r_[first, n])
    rank[order] = np.arange(n) - np.repeat(first, sizes)
    ok = M.ok.copy()
    for k in range(1, 4):
        with np.errstate(divide="ignore"):
            limit = np.floor(C / np.where(M.H[:, k] > 0, M.H[:, k], np.inf) + 1e-9)
        ok[:, k] &= rank < limit
    return replace(M, ok=ok)


def _usable_capacity(M: _Model, C: float) -> float:
    """Every plan's hours are a sum of step efforts, hence a multiple of their greatest
    common divisor (to 0.01 h): the capacity can be rounded down to such a multiple
    without losing any plan. This removes a gap between the LP bound and the best plan
    (e.g. 0.9 hours no step can use) that would otherwise slow the reduction."""
    efforts = np.unique(np.round(np.diff(M.H, axis=1)[M.ok[:, 1:]] * 100).astype(np.int64))
    efforts = efforts[efforts > 0]
    if not len(efforts) or not np.isfinite(C):
        return C
    unit = int(np.gcd.reduce(efforts)) / 100
    if not np.allclose(np.diff(M.H, axis=1)[M.ok[:, 1:]] / unit, np.round(np.diff(M.H, axis=1)[M.ok[:, 1:]] / unit)):
        return C
    return math.floor(C / unit + 1e-9) * unit


@dataclass
class _Solution:
    choice: np.ndarray
    objective: float
    lam: float
    mu: np.ndarray
    status: str
    seconds: float
    variables: int
    variables_milp: int


def _solve(M: _Model, C: float, *, reduce: bool = True, time_limit: float = 60.0) -> _Solution:
    """Solve the plan's MILP for capacity ``C`` (see the module docstring)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array

    t0 = time.perf_counter()
    n = len(M.V)
    total_vars = int(M.ok[:, 1:].sum())
    C = _usable_capacity(M, C)
    lam, mu = 0.0, np.zeros(len(M.dept_codes))
    keep = M.ok.copy()
    inc = None
    if reduce and n:
        M = _dominance(M, C)
        lo, hi, bound = _dual(M, C)
        lam = hi
        inc = _incumbent(M, C, hi)
        if inc is None and lo != hi:
            inc = _incumbent(M, C, lo)
        if inc is not None:
            z_inc = float(M.V[np.arange(n), inc].sum())
            L, mu, g, choice = _lagrangian(M, C, hi)
            if L > bound + 1e-12:
                L_lo, mu_lo, g_lo, _ = _lagrangian(M, C, lo)
                if L_lo < L:
                    L, mu, g = L_lo, mu_lo, g_lo
            best = g.max(axis=1)
            penalty = best[:, None] - g
            # an option costing more than L − z_inc − ε is only in plans less than ε better
            # than the known one (ε = the solver's own relative gap): it can go
            slack = max(L - z_inc - REL_GAP * abs(L), 0.0)
            tol = 1e-12 * max(1.0, abs(L))
            keep = M.ok & (penalty <= slack + tol)
            keep[np.arange(n), inc] = True
    # contracts with one option left are fixed; the rest go to milp
    n_keep = keep.sum(axis=1)
    fixed_rows = np.nonzero(n_keep == 1)[0]
    fixed_choice = np.zeros(n, int)
    fixed_choice[fixed_rows] = keep[fixed_rows].argmax(axis=1)
    free_rows = np.nonzero(n_keep > 1)[0]
    fixed_hours = float(M.H[fixed_rows, fixed_choice[fixed_rows]].sum())
    fixed_counts = np.bincount(M.dept[fixed_rows][fixed_choice[fixed_rows] > 0], minlength=len(M.dept_codes)) \
        if len(fixed_rows) else np.zeros(len(M.dept_codes))
    choice = fixed_choice.copy()
    status = "optimal"
    var_c, var_k = np.nonzero(keep[free_rows][:, 1:])
    var_rows = free_rows[var_c]
    var_k = var_k + 1
    nv = len(var_rows)
    if nv:
        cost = -M.V[var_rows, var_k]
        hours = M.H[var_rows, var_k]
        local = np.searchsorted(free_rows, var_rows)
        rows, cols, vals, lb, ub = [], [], [], [], []
        # one depth per contract (= 1 when "nothing" was excluded)
        r = 0
        multi = np.bincount(local, minlength=len(free_rows))
        for_rows = np.nonzero(multi > 1)[0]
        rowmap = -np.ones(len(free_rows), int)
        rowmap[for_rows] = np.arange(len(for_rows))
        sel = rowmap[local] >= 0
        rows.append(rowmap[local][sel])
        cols.append(np.nonzero(sel)[0])
        vals.append(np.ones(int(sel.sum())))
        nothing_ok = keep[free_rows, 0]
        lb.append(np.where(nothing_ok[for_rows], 0.0, 1.0))
        ub.append(np.ones(len(for_rows)))
        r = len(for_rows)
        # a contract with a single remaining depth ≥ 1 and "nothing" excluded is forced on
        var_lb = np.zeros(nv)
        single = multi[local] == 1
        var_lb[single & ~nothing_ok[local]] = 1.0
        # capacity
        rows.append(np.full(nv, r))
        cols.append(np.arange(nv))
        vals.append(hours)
        lb.append(np.array([-np.inf]))
        ub.append(np.array([C - fixed_hours]))
        r += 1
        # department minimums
        for d in np.nonzero(M.mins > 0)[0]:
            in_d = np.nonzero(M.dept[var_rows] == d)[0]
            need = M.mins[d] - fixed_counts[d]
            if need <= 0 or not len(in_d):
                continue
            rows.append(np.full(len(in_d), r))
            cols.append(in_d)
            vals.append(np.ones(len(in_d)))
            lb.append(np.array([need]))
            ub.append(np.array([np.inf]))
            r += 1
        # one more variable fixed to 1 carries the fixed contracts' value, so that HiGHS's
        # relative gap is relative to the whole plan's value
        fixed_value = float(M.V[fixed_rows, fixed_choice[fixed_rows]].sum())
        A = csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, nv + 1))
        res = milp(np.r_[cost, -fixed_value], integrality=np.ones(nv + 1),
                   bounds=Bounds(np.r_[var_lb, 1.0], np.ones(nv + 1)),
                   constraints=LinearConstraint(A, np.concatenate(lb), np.concatenate(ub)),
                   options={"mip_rel_gap": REL_GAP, "time_limit": time_limit, "presolve": nv < 3000})
        if res.x is None:
            if res.status == 2:
                raise PlanError("department_minimum", "followup.plan.err.infeasible")
            raise PlanError("capacity", "followup.plan.err.time_limit", seconds=int(time_limit))
        if res.status != 0:
            status = "time_limit"
        x = res.x[:nv] > 0.5
        choice[var_rows[x]] = var_k[x]
        # the known feasible plan, if HiGHS stopped (within the gap) at a slightly lower value
        if inc is not None and M.V[np.arange(n), inc].sum() > M.V[np.arange(n), choice].sum():
            choice = inc.copy()
    else:
        # everything fixed: check the department minimums and capacity (the reduction
        # keeps a feasible plan, so this only fails when there is none)
        counts = np.bincount(M.dept[choice > 0], minlength=len(M.dept_codes)) if n else np.zeros(0)
        if n and ((counts < M.mins).any() or _usage(M, choice) > C + 1e-9):
            raise PlanError("department_minimum", "followup.plan.err.infeasible")
    objective = float(M.V[np.arange(n), choice].sum()) * M.scale if n else 0.0
    return _Solution(choice, objective, lam * M.scale, mu * M.scale, status, time.perf_counter() - t0,
                     total_vars, nv)


# ----------------------------------------------------------------------------- the plan

@dataclass
class Plan:
    """A solved plan for one quarter.

    ``items``: one row per planned contract (contract_id, contract_name,
    supplier_name, department, department_name, responsible, level, likelihood,
    consequence, required_step, steps [list], steps_text, hours, exposure, value,
    value_per_hour, rank, reasons [(code, params), …], why [text]).
    ``steps``: one row per planned control (contract_id, step, hours, department).
    ``not_chosen``: candidates left out, with a reason code.
    ``departments``: per department contracts, steps, hours, minimum and coverage.
    ``coverage``: before/after shares (see ``_coverage``)."""
    year: int
    quarter: int
    as_of: dt.date
    run_id: int
    settings: PlanSettings
    capacity_hours: float
    hours_planned: float
    objective: float
    value_per_hour: float
    items: pd.DataFrame
    steps: pd.DataFrame
    not_chosen: pd.DataFrame
    departments: pd.DataFrame
    coverage: dict
    notes: list = field(default_factory=list)
    solver: dict = field(default_factory=dict)

    @property
    def period(self) -> Period:
        return Period(self.year, self.quarter)


def _minimums(cand: pd.DataFrame, s: PlanSettings, steps_pending: pd.Series, lang_notes: list) -> dict[str, int]:
    """Per department the number of contracts to control; checks that it can be met."""
    dep = cand["department"].fillna("").astype(str)
    have = dep[(steps_pending > 0).to_numpy()].value_counts().to_dict()
    first = cand.assign(_d=dep).drop_duplicates("_d")
    names = dict(zip(first["_d"], first["department_name"].fillna("")))
    mins: dict[str, int] = {}
    if s.min_per_department > 0:
        for d in sorted(names):
            n = int(have.get(d, 0))
            mins[d] = min(s.min_per_department, n)
            if n < s.min_per_department:
                lang_notes.append(("min_capped", {"department": _dept_label(d, names.get(d)), "have": n,
                                                  "minimum": s.min_per_department}))
    for d, m in s.department_minimums:
        if m <= 0:
            continue
        n = int(have.get(d, 0))
        if n < m:
            raise PlanError("department_minimum", "followup.plan.err.min_count",
                            department=_dept_label(d, names.get(d)), have=n, minimum=m)
        mins[d] = max(mins.get(d, 0), m)
    return mins


def department_label(code: str | None, name: str | None, lang: str | None = None) -> str:
    """'4100 Eiendom' (or the text for contracts without a department)."""
    code = code or ""
    if not code:
        return t("followup.plan.no_department", lang)
    return f"{code} {name}".strip() if name else code


_dept_label = department_label


def build_plan(con: duckdb.DuckDBPyConnection, settings: PlanSettings | None = None, year: int | None = None,
               quarter: int | None = None, *, run_id: int | None = None, as_of: dt.date | None = None,
               reduce: bool = True) -> Plan:
    """Solve the follow-up plan for a quarter (default: ``default_quarter``) with the
    given settings (default: the saved ones). Raises ``PlanError`` naming the
    constraint to relax when it cannot be made."""
    s = settings or get_settings(con)
    _validate_settings(s)
    q = Period(year, quarter) if year and quarter else default_quarter(con)
    run_id = current_run_id(con) if run_id is None else run_id
    cand = candidates(con, s, q, run_id=run_id, as_of=as_of)
    ref = _reference_date(con, q, as_of)
    if cand.empty:
        raise PlanError("no_contracts", "followup.plan.err.no_contracts", quarter=q.label(get_language()))
    return _plan_from(cand, s, q, ref, run_id, reduce=reduce)


def _prepare(cand: pd.DataFrame, s: PlanSettings, notes: list) -> tuple[pd.DataFrame, _Model, np.ndarray]:
    cand = cand.reset_index(drop=True).copy()
    skip = np.zeros(len(cand), bool)
    if s.skip_clean_months > 0:
        skip = ((cand["last_outcome"] == "clean") & (cand["open_findings"] == 0)).to_numpy()
    cand["skipped"] = skip
    req = cand["required_step"].to_numpy(dtype=int)
    done = np.stack([cand[f"done{k}"].notna().to_numpy() for k in STEPS], axis=1)
    pending = ((np.arange(1, 4)[None, :] <= req[:, None]) & ~done).sum(axis=1)
    cand["pending"] = np.where(skip, 0, pending)
    mins = _minimums(cand, s, cand["pending"], notes)
    plannable = cand[cand["pending"] > 0].reset_index(drop=True)
    M = _build_model(plannable, s, mins)
    return cand, M, np.nonzero(cand["pending"].to_numpy() > 0)[0]


def _check_capacity(M: _Model, C: float) -> None:
    """Department minimums that need more hours than the capacity (exact: every
    department needs its m cheapest first steps)."""
    if not M.mins.any():
        return
    need = 0.0
    first = np.where(M.ok[:, 1], M.H[:, 1], np.inf)
    for d in np.nonzero(M.mins > 0)[0]:
        h = np.sort(first[M.dept == d])
        need += float(h[: int(M.mins[d])].sum())
    if need > C + 1e-9:
        raise PlanError("department_minimum", "followup.plan.err.min_hours", need=fmt.number(need, 1),
                        capacity=fmt.number(C, 1))


def _plan_from(cand: pd.DataFrame, s: PlanSettings, q: Period, ref: dt.date, run_id: int, *,
               reduce: bool = True) -> Plan:
    notes: list = []
    cand, M, rows = _prepare(cand, s, notes)
    C = s.hours
    _check_capacity(M, C)
    sol = _solve(M, C, reduce=reduce)
    depth = np.zeros(len(cand), int)
    depth[rows] = sol.choice
    return _assemble(cand, M, rows, depth, sol, s, q, ref, run_id, notes)


def _coverage(cand: pd.DataFrame, depth: np.ndarray) -> dict:
    """Coverage of the quarter's contracts before and after the plan.

    A contract is *fully covered* when every step its level calls for is done (within
    the validity window) or planned, or it was skipped after a clean control. Shares are
    of exposure of høy and middels contracts ("share of høy/middels exposure covered")
    and of all contracts."""
    req = cand["required_step"].to_numpy(dtype=int)
    done = np.stack([cand[f"done{k}"].notna().to_numpy() for k in STEPS], axis=1)
    pending = cand["pending"].to_numpy(dtype=int)
    skipped = cand["skipped"].to_numpy(dtype=bool)
    full_before = skipped | (((np.arange(1, 4)[None, :] <= req[:, None]) & ~done).sum(axis=1) == 0)
    full_after = full_before | ((pending > 0) & (depth >= pending))
    any_after = full_after | done.any(axis=1) | (depth > 0)
    any_before = full_before | done.any(axis=1)
    e = cand["exposure"].to_numpy(dtype=float)
    hm = cand["level"].isin(["høy", "middels"]).to_numpy()
    hi = (cand["level"] == "høy").to_numpy()
    tot_hm = float(e[hm].sum())

    def share(mask, base):
        den = float(e[base].sum())
        return float(e[base & mask].sum()) / den if den > 0 else None

    return {
        "contracts": int(len(cand)), "contracts_hm": int(hm.sum()), "exposure_hm": tot_hm,
        "share_hm_before": share(full_before, hm), "share_hm_after": share(full_after, hm),
        "share_hm_any_after": share(any_after, hm), "share_hm_any_before": share(any_before, hm),
        "share_high_after": share(full_after, hi), "share_high_before": share(full_before, hi),
        "exposure_hm_covered_before": float(e[hm & full_before].sum()),
        "exposure_hm_covered_after": float(e[hm & full_after].sum()),
        "contracts_covered_before": int(full_before.sum()), "contracts_covered_after": int(full_after.sum()),
        "contracts_hm_covered_after": int((hm & full_after).sum()),
        "contracts_planned": int((depth > 0).sum()),
        "skipped": int(skipped.sum()), "already_done": int((full_before & ~skipped).sum()),
    }


def _assemble(cand, M, rows, depth, sol, s, q, ref, run_id, notes) -> Plan:
    """Turn the chosen depths into the plan's tables (column-wise; one pass over the
    planned contracts for their reasons)."""
    n = len(cand)
    nr = len(rows)
    j_of = np.full(n, -1)
    j_of[rows] = np.arange(nr)
    value = np.zeros(n)
    hours = np.zeros(n)
    if nr:
        value[rows] = M.V[np.arange(nr), sol.choice] * M.scale
        hours[rows] = M.H[np.arange(nr), sol.choice]
    # priority: value per hour of each contract's full remaining depth, ranked among candidates
    plannable = cand["pending"].to_numpy() > 0
    vph_full = np.full(n, -1.0)
    if nr:
        last = M.ok.sum(axis=1) - 1
        vph_full[rows] = M.V[np.arange(nr), last] * M.scale / np.maximum(M.H[np.arange(nr), last], 1e-12)
    order = np.argsort(-vph_full, kind="stable")
    rank = np.empty(n, int)
    rank[order] = np.arange(1, n + 1)
    n_rankable = int(plannable.sum())
    dept_mu = dict(zip(M.dept_codes, sol.mu))
    lam = sol.lam
    dept = cand["department"].astype(object).where(cand["department"].notna(), "").astype(str).to_numpy()
    dname = cand["department_name"].astype(object).where(cand["department_name"].notna(), None).to_numpy()
    col = {k: cand[k].to_numpy(dtype=object) for k in
           ("contract_id", "contract_name", "supplier_id", "supplier_name", "responsible", "level", "likelihood",
            "consequence", "done1", "last_done")}
    req = cand["required_step"].to_numpy(dtype=int)
    expo = cand["exposure"].to_numpy(dtype=float)
    openf = cand["open_findings"].to_numpy(dtype=int)

    planned = np.nonzero(depth > 0)[0]
    pl = M.planned_steps(depth[rows]) if nr else np.zeros((0, 3), bool)
    pl_rows = pl[j_of[planned]].tolist() if len(planned) else []
    steps_of = {int(c): [st for st, on in zip(STEPS, row) if on] for c, row in zip(planned.tolist(), pl_rows)}
    reasons_all = []
    for c in planned:
        st = steps_of[int(c)]
        v, h = float(value[c]), float(hours[c])
        reasons: list[tuple[str, dict]] = [("level", {"level": col["level"][c], "likelihood": _int(col["likelihood"][c]),
                                                      "consequence": _int(col["consequence"][c]),
                                                      "required": int(req[c])})]
        reasons.append(("value", {"exposure": float(expo[c]), "vph": v / h if h else 0.0,
                                  "rank": int(rank[c]), "of": n_rankable}))
        if dept_mu.get(dept[c], 0) > 0 and (v - lam * h) < -1e-9 * max(1.0, abs(v)):
            reasons.append(("department_minimum", {"department": _dept_label(dept[c], dname[c])}))
        if st and st[0] == 1 and len(st) > 1:
            reasons.append(("step1_first", {}))
        if 1 not in st and not _isnull(col["done1"][c]):
            reasons.append(("step1_done", {"date": _as_date(col["done1"][c])}))
        if st and st[-1] < int(req[c]):
            reasons.append(("partial", {"planned": st[-1], "required": int(req[c])}))
        if openf[c]:
            reasons.append(("open_findings", {"n": int(openf[c])}))
        reasons_all.append(reasons)
    items = pd.DataFrame({
        "contract_id": col["contract_id"][planned], "contract_name": col["contract_name"][planned],
        "supplier_id": col["supplier_id"][planned], "supplier_name": col["supplier_name"][planned],
        "department": dept[planned], "department_name": dname[planned], "responsible": col["responsible"][planned],
        "level": col["level"][planned], "likelihood": [_int(x) for x in col["likelihood"][planned]],
        "consequence": [_int(x) for x in col["consequence"][planned]], "required_step": req[planned],
        "steps": [steps_of[int(c)] for c in planned], "steps_text": [steps_text(steps_of[int(c)]) for c in planned],
        "hours": hours[planned], "exposure": expo[planned], "value": value[planned],
        "value_per_hour": np.where(hours[planned] > 0, value[planned] / np.maximum(hours[planned], 1e-12), 0.0),
        "rank": rank[planned], "reasons": reasons_all,
    })
    if not items.empty:
        items = items.sort_values(["department", "rank"], kind="stable").reset_index(drop=True)

    lw = dict(zip(LEVELS, s.level_weights))
    eff = dict(zip(STEPS, s.effort))
    srec = [(r.contract_id, stp, r.department, r.supplier_id, r.level, r.required_step, r.exposure, r.reasons)
            for r in items.itertuples(index=False) for stp in r.steps]
    steps_df = pd.DataFrame(srec, columns=["contract_id", "step", "department", "supplier_id", "level",
                                           "required_step", "exposure", "reasons"])
    steps_df.insert(2, "hours", [eff[x] for x in steps_df["step"]])
    steps_df["value"] = [e * lw.get(lv, 0.0) * s.step_weights[stp - 1]
                         for e, lv, stp in zip(steps_df["exposure"], steps_df["level"], steps_df["step"])]
    steps_df = steps_df[["contract_id", "step", "hours", "department", "supplier_id", "level", "required_step",
                         "exposure", "value", "reasons"]]

    # not chosen: why each remaining candidate is left out
    out = np.nonzero(depth == 0)[0]
    skipped = cand["skipped"].to_numpy(dtype=bool)[out]
    pend = plannable[out]
    reason = np.where(skipped, "skipped_clean", np.where(pend, "capacity", "already_done"))
    params = [{"date": _as_date(col["last_done"][c])} if sk else ({"vph": float(vph_full[c]), "lam": lam} if pe else {})
              for c, sk, pe in zip(out, skipped, pend)]
    not_chosen = pd.DataFrame({
        "contract_id": col["contract_id"][out], "contract_name": col["contract_name"][out],
        "supplier_name": col["supplier_name"][out], "department": dept[out], "department_name": dname[out],
        "level": col["level"][out], "required_step": req[out], "exposure": expo[out],
        "rank": pd.array([int(r) if pe else None for r, pe in zip(rank[out], pend)], dtype="Int64"),
        "reason": reason, "reason_params": params,
    })
    if not not_chosen.empty:
        not_chosen = not_chosen.sort_values("exposure", ascending=False, kind="stable").reset_index(drop=True)

    cov = _coverage(cand, depth)
    # per department
    mins = dict(zip(M.dept_codes, M.mins.astype(int)))
    cd = pd.DataFrame({"department": dept, "department_name": dname, "planned": depth > 0, "hours": hours,
                       "exposure_planned": np.where(depth > 0, expo, 0.0)})
    departments = (cd.groupby("department", sort=True)
                   .agg(department_name=("department_name", "first"), contracts=("planned", "size"),
                        contracts_planned=("planned", "sum"), hours=("hours", "sum"),
                        exposure_planned=("exposure_planned", "sum"))
                   .reset_index())
    per_step = steps_df.groupby(["department", "step"]).size().unstack(fill_value=0) if len(steps_df) else None
    for k in STEPS:
        departments[f"step{k}"] = [int(per_step.loc[d, k]) if per_step is not None and d in per_step.index
                                   and k in per_step.columns else 0 for d in departments["department"]]
    departments["minimum"] = [int(mins.get(d, 0)) for d in departments["department"]]
    departments["contracts_planned"] = departments["contracts_planned"].astype(int)
    departments = departments[["department", "department_name", "contracts", "contracts_planned", "step1", "step2",
                               "step3", "hours", "minimum", "exposure_planned"]]

    C = s.hours
    first_cost = float(M.H[:, 1][M.ok[:, 1]].min()) if M.ok[:, 1].any() else None
    used = float(hours.sum())
    full_hours = float(M.H[np.arange(nr), M.ok.sum(axis=1) - 1].sum()) if nr else 0.0
    if nr == 0:
        notes.append(("nothing_to_plan", {}))
    elif first_cost is not None and C < first_cost:
        notes.append(("capacity_below_step", {"hours": first_cost}))
    elif used < C - 1e-9 and used >= full_hours - 1e-9:
        notes.append(("all_covered", {"spare": C - used}))
    return Plan(
        year=q.year, quarter=q.quarter, as_of=ref, run_id=int(run_id), settings=s, capacity_hours=C,
        hours_planned=used, objective=sol.objective, value_per_hour=sol.lam, items=items, steps=steps_df,
        not_chosen=not_chosen, departments=departments, coverage=cov, notes=notes,
        solver={"status": sol.status, "seconds": sol.seconds, "variables": sol.variables,
                "variables_milp": sol.variables_milp, "hours_for_all": full_hours},
    )


def _as_date(v) -> dt.date | None:
    if _isnull(v):
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime().date()
    return v


def _isnull(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT or (
        not isinstance(v, (list, tuple, dict)) and bool(pd.isna(v)))


def _int(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or pd.isna(v) else int(v)


def steps_text(steps: list[int]) -> str:
    """[1, 2, 3] → 'Trinn 1 + 2 + 3'."""
    if not steps:
        return ""
    return t("followup.plan.steps_text", steps=" + ".join(str(s) for s in steps))


def reason_text(code: str, params: dict, lang: str | None = None) -> str:
    """One "why chosen" reason in words."""
    p = dict(params or {})
    if "level" in p:
        p["level"] = t(f"followup.level.{p['level']}", lang)
    for k in ("exposure",):
        if k in p:
            p[k] = fmt.nok_short(p[k])
    for k in ("vph", "lam"):
        if k in p:
            p[k] = fmt.nok_short(p[k])
    if "date" in p and p["date"] is not None:
        p["date"] = fmt.date(p["date"])
    if "spare" in p:
        p["spare"] = fmt.number(p["spare"], 1)
    if "hours" in p:
        p["hours"] = fmt.number(p["hours"], 1)
    if code == "level" and p.get("likelihood") is None:
        code = "level_nomatrix"
    return t(f"followup.plan.reason.{code}", lang, **p)


def not_chosen_text(code: str, params: dict, lang: str | None = None) -> str:
    """Why a candidate is not in the plan (``Plan.not_chosen.reason``), in words."""
    p = dict(params or {})
    for k in ("vph", "lam"):
        if k in p:
            p[k] = fmt.nok_short(p[k])
    if p.get("date") is not None:
        p["date"] = fmt.date(p["date"])
    return t(f"followup.plan.nc.{code}", lang, **p)


def why(reasons: list, lang: str | None = None) -> str:
    """All reasons of a planned contract as one sentence list."""
    return " ".join(reason_text(c, p, lang).rstrip(".") + "." for c, p in reasons)


# ----------------------------------------------------------------------------- curve and one more person

def _prepared(con, s: PlanSettings, year, quarter, run_id, as_of):
    _validate_settings(s)
    q = Period(year, quarter) if year and quarter else default_quarter(con)
    run_id = current_run_id(con) if run_id is None else run_id
    cand = candidates(con, s, q, run_id=run_id, as_of=as_of)
    if cand.empty:
        raise PlanError("no_contracts", "followup.plan.err.no_contracts", quarter=q.label(get_language()))
    notes: list = []
    cand, M, rows = _prepare(cand, s, notes)
    return q, run_id, cand, M, rows


def coverage_curve(con: duckdb.DuckDBPyConnection, settings: PlanSettings | None = None, year: int | None = None,
                   quarter: int | None = None, *, points: int = 12, run_id: int | None = None,
                   as_of: dt.date | None = None) -> pd.DataFrame:
    """What each capacity buys: the plan re-solved at ``points`` capacities from 0 to
    the hours that cover every candidate fully, plus today's capacity and one more
    person. Columns: hours, ftes, share_hm (høy/middels exposure fully covered),
    share_hm_any (at least one step done or planned), contracts_planned, objective,
    feasible, marker ('' | 'today' | 'plus_one'). The model is built once; each point
    is one reduced MILP solve."""
    s = settings or get_settings(con)
    q, run_id, cand, M, rows = _prepared(con, s, year, quarter, run_id, as_of)
    full = float(M.H[np.arange(len(rows)), M.ok.sum(axis=1) - 1].sum()) if len(rows) else 0.0
    today_h = s.hours
    plus = today_h + s.hours_per_fte
    top = max(full, plus) * 1.02 if full else plus
    # evenly spread points, and more where decisions are made (around today's capacity)
    near = [today_h * f for f in (0.25, 0.5, 0.75, 1.5, 2.5, 3.5) if today_h * f < top]
    grid = sorted(set([round(x, 6) for x in np.linspace(0, top, max(points, 2))] + near + [today_h, plus]))
    out = []
    for h in grid:
        marker = "today" if h == today_h else "plus_one" if h == plus else ""
        try:
            if M.mins.any():
                _check_capacity(M, h)
            sol = _solve(M, h)
            depth = np.zeros(len(cand), int)
            depth[rows] = sol.choice
            cov = _coverage(cand, depth)
            out.append({"hours": h, "ftes": h / s.hours_per_fte, "share_hm": cov["share_hm_after"],
                        "share_hm_any": cov["share_hm_any_after"], "contracts_planned": cov["contracts_planned"],
                        "objective": sol.objective, "feasible": True, "marker": marker})
        except PlanError:
            out.append({"hours": h, "ftes": h / s.hours_per_fte, "share_hm": None, "share_hm_any": None,
                        "contracts_planned": None, "objective": None, "feasible": False, "marker": marker})
    return pd.DataFrame(out)


def one_more_person(con: duckdb.DuckDBPyConnection, settings: PlanSettings | None = None, year: int | None = None,
                    quarter: int | None = None, *, run_id: int | None = None, as_of: dt.date | None = None) -> dict:
    """What one more dedicated person (``hours_per_fte`` more hours this quarter) would
    cover, against today's capacity. Returns::

        {"hours_before", "hours_after", "extra_hours",
         "contracts_before", "contracts_after", "extra_contracts",      # contracts with a planned step
         "extra_steps": {1: n, 2: n, 3: n},
         "exposure_hm_before", "exposure_hm_after", "extra_exposure_hm", # høy/middels NOK fully covered
         "share_hm_before", "share_hm_after", "extra_share_hm",
         "objective_before", "objective_after",
         "new_contracts": [contract_id, …]}   # planned with the extra person, not today

    For the quarterly report and the plan page's headline."""
    s = settings or get_settings(con)
    q, run_id, cand, M, rows = _prepared(con, s, year, quarter, run_id, as_of)
    _check_capacity(M, s.hours)
    res = {}
    for key, h in (("before", s.hours), ("after", s.hours + s.hours_per_fte)):
        sol = _solve(M, h)
        depth = np.zeros(len(cand), int)
        depth[rows] = sol.choice
        cov = _coverage(cand, depth)
        counts = M.planned_steps(sol.choice).sum(axis=0) if len(rows) else np.zeros(3, int)
        steps = {k: int(counts[k - 1]) for k in STEPS}
        res[key] = (h, sol, depth, cov, steps)
    hb, sb, db_, cb, stb = res["before"]
    ha, sa, da, ca, sta = res["after"]
    new = cand.loc[(da > 0) & (db_ == 0), "contract_id"].tolist()
    return {
        "year": q.year, "quarter": q.quarter,
        "hours_before": hb, "hours_after": ha, "extra_hours": ha - hb,
        "contracts_before": cb["contracts_planned"], "contracts_after": ca["contracts_planned"],
        "extra_contracts": ca["contracts_planned"] - cb["contracts_planned"],
        "extra_steps": {k: sta[k] - stb[k] for k in STEPS},
        "exposure_hm_before": cb["exposure_hm_covered_after"], "exposure_hm_after": ca["exposure_hm_covered_after"],
        "extra_exposure_hm": ca["exposure_hm_covered_after"] - cb["exposure_hm_covered_after"],
        "share_hm_before": cb["share_hm_after"], "share_hm_after": ca["share_hm_after"],
        "extra_share_hm": (ca["share_hm_after"] or 0) - (cb["share_hm_after"] or 0),
        "objective_before": sb.objective, "objective_after": sa.objective,
        "new_contracts": new,
    }


# ----------------------------------------------------------------------------- Excel export

def _summary_rows(plan: Plan, L: str) -> list[tuple[str, Any, str]]:
    """(label, value, kind) rows of the export's summary sheet; kind picks the format."""
    cov = plan.coverage
    return [
        (t("followup.plan.xl.quarter", L), plan.period.label(L), "text"),
        (t("followup.plan.xl.capacity", L), plan.capacity_hours, "hours"),
        (t("followup.plan.xl.hours_planned", L), plan.hours_planned, "hours"),
        (t("followup.plan.xl.contracts_planned", L), int(len(plan.items)), "int"),
        (t("followup.plan.xl.steps_planned", L), int(len(plan.steps)), "int"),
        (t("followup.plan.xl.share_before", L), cov["share_hm_before"], "pct"),
        (t("followup.plan.xl.share_after", L), cov["share_hm_after"], "pct"),
        (t("followup.plan.xl.exposure_covered", L), cov["exposure_hm_covered_after"], "nok"),
        (t("followup.plan.xl.as_of", L), plan.as_of, "date"),
        (t("followup.plan.xl.risk_run", L), plan.run_id, "int"),
    ]


def _item_columns(L: str) -> dict[str, str]:
    return {k: t(f"followup.plan.xl.{k}", L) for k in
            ("contract_id", "contract", "supplier", "responsible", "level", "required", "steps", "hours",
             "exposure", "why")}


def export_frames(plan: Plan, lang: str | None = None) -> dict[str, pd.DataFrame]:
    """The plan's department tables as the export writes them: sheet name ('code
    name') → one row per planned contract, in the plan's order."""
    L = lang or get_language()
    cols = _item_columns(L)
    frames: dict[str, pd.DataFrame] = {}
    for d, g in plan.items.groupby("department", sort=True):
        name = g["department_name"].iloc[0]
        frames[department_label(d, None if pd.isna(name) else name, L)] = pd.DataFrame({
            cols["contract_id"]: g["contract_id"].astype(str).tolist(),
            cols["contract"]: g["contract_name"].tolist(),
            cols["supplier"]: g["supplier_name"].tolist(),
            cols["responsible"]: g["responsible"].tolist(),
            cols["level"]: [t(f"followup.level.{x}", L) for x in g["level"]],
            cols["required"]: g["required_step"].astype(int).tolist(),
            cols["steps"]: [" + ".join(str(x) for x in st) for st in g["steps"]],
            cols["hours"]: g["hours"].astype(float).tolist(),
            cols["exposure"]: g["exposure"].astype(float).tolist(),
            cols["why"]: [why(r, L) for r in g["reasons"]],
        })
    return frames


def export_excel(plan: Plan, lang: str | None = None) -> bytes:
    """An .xlsx of the plan: a summary sheet (figures and one line per department),
    then one sheet per department, with frozen header, autofilter, column widths,
    Norwegian number formats (thousands separated, ``kr``, dates dd.mm.yyyy; Excel shows
    the separators of the user's locale) and every text cell neutralised against
    formula injection (``export.safe_cell``)."""
    import xlsxwriter

    from . import export

    L = lang or get_language()
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    F = {
        "head": wb.add_format({"bold": True, "bg_color": "#DDE7F3", "border": 1, "text_wrap": True, "valign": "top"}),
        "nok": wb.add_format({"num_format": '#,##0" kr"', "valign": "top"}),
        "hours": wb.add_format({"num_format": "#,##0.0", "valign": "top"}),
        "int": wb.add_format({"num_format": "#,##0", "valign": "top"}),
        "pct": wb.add_format({"num_format": "0.0 %", "valign": "top"}),
        "date": wb.add_format({"num_format": "dd.mm.yyyy", "valign": "top", "align": "left"}),
        "text": wb.add_format({"valign": "top"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
    }
    used: set[str] = set()

    def sheet(name: str):
        base = export.sheet_name(name)
        sname, k = base, 2
        while sname.lower() in used:
            suffix = f" ({k})"
            sname, k = base[: 31 - len(suffix)] + suffix, k + 1
        used.add(sname.lower())
        return wb.add_worksheet(sname)

    def put(ws, r, c, v, kind):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            ws.write_blank(r, c, None, F["text"])
        elif kind == "date":
            ws.write_datetime(r, c, dt.datetime.combine(v, dt.time()) if not isinstance(v, dt.datetime) else v,
                              F["date"])
        elif kind in ("nok", "hours", "int", "pct"):
            ws.write_number(r, c, float(v), F[kind])
        else:
            ws.write_string(r, c, str(export.safe_cell(str(v))), F["wrap" if kind == "wrap" else "text"])

    # summary
    ws = sheet(t("followup.plan.xl.summary_sheet", L))
    ws.write_string(0, 0, str(export.safe_cell(t("followup.plan.xl.title", L, quarter=plan.period.label(L)))),
                    F["title"])
    ws.write_string(1, 0, t("followup.plan.xl.key", L), F["head"])
    ws.write_string(1, 1, t("followup.plan.xl.value", L), F["head"])
    r = 2
    for label, value, kind in _summary_rows(plan, L):
        put(ws, r, 0, label, "text")
        put(ws, r, 1, value, kind)
        r += 1
    r += 1
    dep_head = [("department", "text"), ("contracts_planned", "int"), ("step1", "int"), ("step2", "int"),
                ("step3", "int"), ("hours", "hours"), ("minimum", "int"), ("exposure_planned", "nok")]
    for j, (k, _) in enumerate(dep_head):
        ws.write_string(r, j, t(f"followup.plan.xl.dep.{k}", L), F["head"])
    r += 1
    for row in plan.departments.itertuples(index=False):
        rec = row._asdict()
        rec["department"] = department_label(rec["department"], None if pd.isna(rec["department_name"])
                                             else rec["department_name"], L)
        for j, (k, kind) in enumerate(dep_head):
            put(ws, r, j, rec[k], kind)
        r += 1
    ws.set_column(0, 0, 44)
    ws.set_column(1, 7, 16)
    ws.freeze_panes(2, 0)

    cols = _item_columns(L)
    kinds = {cols["hours"]: "hours", cols["exposure"]: "nok", cols["required"]: "int", cols["why"]: "wrap"}
    for name, df in export_frames(plan, L).items():
        ws = sheet(name)
        for j, col in enumerate(df.columns):
            ws.write_string(0, j, str(export.safe_cell(col)), F["head"])
        for i, row in enumerate(df.itertuples(index=False), start=1):
            for j, v in enumerate(row):
                put(ws, i, j, v, kinds.get(df.columns[j], "text"))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)
        for j, col in enumerate(df.columns):
            if kinds.get(col) in ("hours", "nok", "int"):
                width = max(len(str(col)), 14)
            else:
                width = max([len(str(col))] + [len(str(x)) for x in df.iloc[:300, j].tolist()]) + 2
            ws.set_column(j, j, min(max(width, 8), 80 if col == cols["why"] else 45))
    wb.close()
    return buf.getvalue()


# ----------------------------------------------------------------------------- saving and plan against done

def save_plan(con: duckdb.DuckDBPyConnection, user: User, plan: Plan, *, note: str | None = None,
              add_to_log: bool = True) -> int:
    """Store the plan as the quarter's active plan (analytiker+); an earlier plan for
    the quarter becomes 'replaced' and its planned controls that were never started
    leave the log. With ``add_to_log`` every planned step becomes a planned control
    in the control log (planned date: the quarter's last day), unless the contract
    already has that step planned or in progress. Returns the plan_id."""
    require(user, "analytiker", "save a follow-up plan")
    if not isinstance(plan, Plan):
        raise PlanError("no_contracts", "followup.plan.err.no_plan")
    q = plan.period
    with db.transaction(con):
        old = con.execute("SELECT plan_id FROM plans WHERE year = ? AND quarter = ? AND status = 'active'",
                          [q.year, q.quarter]).fetchall()
        removed: list[int] = []
        plan_id = con.execute(
            """INSERT INTO plans (year, quarter, status, risk_run_id, as_of, capacity_hours, hours_planned, objective,
                                  settings, note, created_by)
               VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING plan_id""",
            [q.year, q.quarter, plan.run_id, plan.as_of, plan.capacity_hours, plan.hours_planned, plan.objective,
             json.dumps(plan.settings.to_dict()), note, user.username]).fetchone()[0]
        for (pid,) in old:
            ids = [r[0] for r in con.execute(
                "SELECT control_id FROM controls WHERE plan_id = ? AND status = 'planned' AND done_date IS NULL",
                [pid]).fetchall()]
            if ids:
                con.execute("DELETE FROM controls WHERE control_id IN (SELECT unnest(?::INTEGER[]))", [ids])
                removed += ids
            con.execute("UPDATE plans SET status = 'replaced', replaced_by = ?, replaced_at = current_timestamp "
                        "WHERE plan_id = ?", [plan_id, pid])
        st = plan.steps
        if len(st):
            frame = pd.DataFrame({
                "plan_id": plan_id, "contract_id": st["contract_id"].astype(str), "step": st["step"].astype(int),
                "hours": st["hours"].astype(float), "department": st["department"].astype(object),
                "supplier_id": st["supplier_id"].astype(object), "level": st["level"].astype(object),
                "required_step": st["required_step"].astype(int), "exposure": st["exposure"].astype(float),
                "value": st["value"].astype(float),
                "reasons": [json.dumps(r, ensure_ascii=False, default=str) for r in st["reasons"]],
            })
            con.register("_plan_items_src", frame)
            con.execute("""INSERT INTO plan_items (plan_id, contract_id, step, hours, department, supplier_id, level,
                                                   required_step, exposure, value, reasons)
                           SELECT plan_id, contract_id, step, hours, department, supplier_id, level, required_step,
                                  exposure, value, reasons FROM _plan_items_src""")
            con.unregister("_plan_items_src")
        created: list[int] = []
        if add_to_log and len(st):
            created = [r[0] for r in con.execute(
                """INSERT INTO controls (contract_id, step, planned_date, status, plan_id, note, created_by, created_at)
                   SELECT i.contract_id, i.step, ?, 'planned', i.plan_id, ?, ?, current_timestamp
                   FROM plan_items i
                   WHERE i.plan_id = ?
                     AND EXISTS (SELECT 1 FROM contracts c WHERE c.contract_id = i.contract_id)
                     AND NOT EXISTS (SELECT 1 FROM controls k WHERE k.contract_id = i.contract_id AND k.step = i.step
                                     AND k.done_date IS NULL AND k.status <> 'closed')
                   ORDER BY i.contract_id, i.step
                   RETURNING control_id""",
                [q.end, t("followup.plan.log_note", "nb", quarter=q.label("nb")), user.username, plan_id]).fetchall()]
        audit.log(con, user, "plan_save", "plan", plan_id, {
            "year": q.year, "quarter": q.quarter, "capacity_hours": plan.capacity_hours,
            "hours_planned": plan.hours_planned, "contracts": int(len(plan.items)), "steps": int(len(st)),
            "replaced": [r[0] for r in old], "controls_created": created, "controls_removed": removed,
            "settings": plan.settings.to_dict(), "note": note})
        db.bump_data_version(con)
        if created or removed:
            hooks.data_changed(con, user, "controls")
    return plan_id


def saved_plans(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Saved plans, newest quarter first, with their item counts."""
    return con.execute(
        """SELECT p.plan_id, p.year, p.quarter, p.status, p.capacity_hours, p.hours_planned, p.objective,
                  p.created_by, p.created_at, p.note, p.risk_run_id,
                  count(i.contract_id) AS steps, count(DISTINCT i.contract_id) AS contracts
           FROM plans p LEFT JOIN plan_items i ON i.plan_id = p.plan_id
           GROUP BY ALL ORDER BY p.year DESC, p.quarter DESC, p.plan_id DESC""").df()


def active_plan_id(con: duckdb.DuckDBPyConnection, year: int, quarter: int) -> int | None:
    row = con.execute("SELECT plan_id FROM plans WHERE year = ? AND quarter = ? AND status = 'active' "
                      "ORDER BY plan_id DESC LIMIT 1", [year, quarter]).fetchone()
    return row[0] if row else None


def plan_items(con: duckdb.DuckDBPyConnection, plan_id: int, as_of: dt.date | None = None) -> pd.DataFrame:
    """A saved plan's steps with what happened to each: ``state`` is ``done`` (carried
    out in the quarter), ``done_late`` (after the quarter), ``overdue`` (quarter over,
    not done) or ``pending``; ``done_date`` and ``control_id`` of the matching control
    (same contract and step, carried out on or after the quarter's first day and not
    after ``as_of``, outcome not 'not_done')."""
    p = con.execute("SELECT year, quarter FROM plans WHERE plan_id = ?", [int(plan_id)]).fetchone()
    if p is None:
        raise PlanError("no_contracts", "followup.plan.err.no_plan")
    q = Period(p[0], p[1])
    day = as_of or today(con)
    return con.execute(
        """WITH m AS (
             SELECT i.contract_id, i.step, min(k.done_date) AS done_date, arg_min(k.control_id, k.done_date) AS control_id
             FROM plan_items i JOIN controls k ON k.contract_id = i.contract_id AND k.step = i.step
             WHERE i.plan_id = ? AND k.done_date >= ? AND k.done_date <= ? AND coalesce(k.outcome, '') <> 'not_done'
             GROUP BY ALL)
           SELECT i.contract_id, c.name AS contract_name, s.name AS supplier_name, i.department,
                  d.name AS department_name, c.responsible, i.step, i.hours, i.level, i.exposure,
                  m.done_date, m.control_id,
                  CASE WHEN m.done_date IS NOT NULL AND m.done_date <= ? THEN 'done'
                       WHEN m.done_date IS NOT NULL THEN 'done_late'
                       WHEN ? > ? THEN 'overdue' ELSE 'pending' END AS state,
                  CASE WHEN m.done_date IS NULL AND ? > ? THEN date_diff('day', ?::DATE, ?::DATE) END AS days_overdue
           FROM plan_items i
           LEFT JOIN m ON m.contract_id = i.contract_id AND m.step = i.step
           LEFT JOIN contracts c ON c.contract_id = i.contract_id
           LEFT JOIN suppliers s ON s.supplier_id = c.supplier_id
           LEFT JOIN departments d ON d.code = i.department
           WHERE i.plan_id = ?
           ORDER BY i.department, i.contract_id, i.step""",
        [int(plan_id), q.start, day, q.end, day, q.end, day, q.end, q.end, day, int(plan_id)]).df()


def adherence(con: duckdb.DuckDBPyConnection, plan_id: int | None = None, *, year: int | None = None,
              quarter: int | None = None, as_of: dt.date | None = None) -> dict:
    """Plan against done for a saved plan (``plan_id``, or the active plan of
    ``year``/``quarter``). Returns::

        {"plan_id", "year", "quarter", "as_of",
         "by_department": DataFrame(department, department_name, planned, done, done_late,
                                    pending, overdue, adherence),   # adherence = done / planned
         "total": {planned, done, done_late, pending, overdue, adherence},
         "overdue": DataFrame of overdue steps (plan_items rows),
         "unplanned_done": controls carried out in the quarter that were not in the plan}

    None when there is no such plan."""
    if plan_id is None:
        if not (year and quarter):
            return None
        plan_id = active_plan_id(con, year, quarter)
        if plan_id is None:
            return None
    p = con.execute("SELECT year, quarter FROM plans WHERE plan_id = ?", [int(plan_id)]).fetchone()
    if p is None:
        return None
    q = Period(p[0], p[1])
    day = as_of or today(con)
    items = plan_items(con, plan_id, day)
    states = ("done", "done_late", "pending", "overdue")
    if items.empty:
        by = pd.DataFrame(columns=["department", "department_name", "planned", *states, "adherence"])
    else:
        items["dept"] = items["department"].fillna("")
        by = (items.assign(**{s: (items["state"] == s).astype(int) for s in states})
              .groupby("dept", sort=True)
              .agg(department_name=("department_name", "first"), planned=("step", "size"),
                   **{s: (s, "sum") for s in states})
              .reset_index().rename(columns={"dept": "department"}))
        by["adherence"] = by["done"] / by["planned"]
    tot = {s: int(by[s].sum()) if len(by) else 0 for s in ("planned", *states)}
    tot["adherence"] = tot["done"] / tot["planned"] if tot["planned"] else None
    unplanned = con.execute(
        """SELECT count(*) FROM controls k
           WHERE k.done_date BETWEEN ? AND ? AND k.done_date <= ?
             AND NOT EXISTS (SELECT 1 FROM plan_items i WHERE i.plan_id = ? AND i.contract_id = k.contract_id
                             AND i.step = k.step)""", [q.start, q.end, day, int(plan_id)]).fetchone()[0]
    return {"plan_id": int(plan_id), "year": q.year, "quarter": q.quarter, "as_of": day, "by_department": by,
            "total": tot, "overdue": items[items["state"] == "overdue"].reset_index(drop=True) if len(items) else items,
            "unplanned_done": int(unplanned)}


def overdue_items(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> pd.DataFrame:
    """Steps of every active saved plan whose quarter has ended without the step being
    carried out (oldest quarter first)."""
    day = as_of or today(con)
    frames = []
    for pid, y, qq in con.execute("SELECT plan_id, year, quarter FROM plans WHERE status = 'active' "
                                  "ORDER BY year, quarter").fetchall():
        if Period(y, qq).end >= day:
            continue
        it = plan_items(con, pid, day)
        it = it[it["state"] == "overdue"]
        if len(it):
            frames.append(it.assign(plan_id=pid, year=y, quarter=qq))
    if not frames:
        return pd.DataFrame(columns=["plan_id", "year", "quarter", "contract_id", "contract_name", "step",
                                     "department", "days_overdue"])
    return pd.concat(frames, ignore_index=True)
