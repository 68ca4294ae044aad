"""The follow-up plan on small hand-made risk pictures whose optimum is worked out by
hand, every constraint on a generated instance, the coverage curve, one more person,
the Excel export (opened again) and plan against done."""
from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pytest

from akrim_analytics import auth, controls, hooks, plan
from akrim_analytics.plan import PlanError, PlanSettings

ANALYST = auth.User("test.analytiker", "analytiker")
LEADER = auth.User("test.leder", "leder")
AS_OF = dt.date(2026, 10, 1)          # reference date for the fourth quarter of 2026
Q = (2026, 4)


@pytest.fixture(autouse=True)
def no_rescore(monkeypatch):
    """The hand-made risk runs stay the current picture: the real risk engine's
    re-scoring listener is replaced by a recorder (``test_saving_calls_the_hook``)."""
    calls = []
    monkeypatch.setattr(hooks, "AFTER_DATA_CHANGE", ["test_plan:_record_hook"])
    _HOOK_CALLS.clear()
    return _HOOK_CALLS


_HOOK_CALLS: list = []


def _record_hook(con, user, reason):
    in_tx = con.execute("SELECT txid_current()").fetchone()[0] == con.execute("SELECT txid_current()").fetchone()[0]
    _HOOK_CALLS.append((user.username, reason, in_tx))


def setup_risk(con, rows, *, departments=(("X", "Avdeling X"), ("Y", "Avdeling Y")), controls_done=()):
    """Hand-made risk picture: contracts, one risk run and its assessments; returns run_id.

    rows: dicts with contract_id, level, required_step, exposure, department and
    optionally name, likelihood, consequence, start_date, end_date, active."""
    import pandas as pd

    con.executemany("INSERT INTO departments (code, name) VALUES (?, ?)", list(departments))
    df = pd.DataFrame([{
        "contract_id": r["contract_id"], "name": r.get("name", f"Kontrakt {r['contract_id']}"),
        "supplier_id": f"S-{r['contract_id']}", "supplier_name": f"Leverandør {r['contract_id']}",
        "department": r["department"], "responsible": r.get("responsible", "Ola"),
        "start_date": r.get("start_date"), "end_date": r.get("end_date"), "level": r["level"],
        "required_step": r["required_step"], "exposure": float(r["exposure"]),
        "likelihood": r.get("likelihood", 3), "consequence": r.get("consequence", 3), "active": r.get("active", True),
    } for r in rows])
    df["start_date"] = pd.to_datetime(df["start_date"]).dt.date
    df["end_date"] = pd.to_datetime(df["end_date"]).dt.date
    con.register("_rows", df)
    con.execute("INSERT INTO suppliers (supplier_id, name) SELECT supplier_id, supplier_name FROM _rows")
    con.execute("""INSERT INTO contracts (contract_id, name, supplier_id, department, responsible, start_date, end_date)
                   SELECT contract_id, name, supplier_id, department, responsible, start_date, end_date FROM _rows""")
    run_id = con.execute("""INSERT INTO risk_runs (config_version, data_version, as_of, created_by)
                            VALUES (1, 0, ?, 'test') RETURNING run_id""", [dt.date(2026, 9, 30)]).fetchone()[0]
    con.execute(
        """INSERT INTO risk_assessments (run_id, entity_type, entity_id, supplier_id, category, department,
               likelihood, consequence, level, required_step, covered, spend_12m, exposure, active)
           SELECT ?, 'contract', contract_id, supplier_id, 'BYGG', department, likelihood, consequence, level,
                  required_step, required_step > 0, exposure, exposure, active FROM _rows""", [run_id])
    con.unregister("_rows")
    if controls_done:
        cd = pd.DataFrame(list(controls_done), columns=["contract_id", "step", "done_date", "outcome"])
        con.register("_done", cd)
        con.execute("""INSERT INTO controls (contract_id, step, done_date, outcome, status)
                       SELECT contract_id, step, CAST(done_date AS DATE), outcome, 'closed' FROM _done""")
        con.unregister("_done")
    return run_id


# Values with the default weights (level lav 1, middels 3, høy 9; steps 1, 2, 3) and
# effort (1, 8, 24 h):
#   A høy, 1 000 000 kr:  T1 9 mill. (1 h), T2 18 mill. (8 h), T3 27 mill. (24 h)
#   B middels, 2 000 000: T1 6 mill. (1 h), T2 12 mill. (8 h)
#   C lav, 5 000 000:     T1 5 mill. (1 h)
#   D lav, 1 000 000:     T1 1 mill. (1 h)
HAND = [
    {"contract_id": "A", "level": "høy", "required_step": 3, "exposure": 1_000_000, "department": "X",
     "likelihood": 5, "consequence": 4},
    {"contract_id": "B", "level": "middels", "required_step": 2, "exposure": 2_000_000, "department": "X"},
    {"contract_id": "C", "level": "lav", "required_step": 1, "exposure": 5_000_000, "department": "X"},
    {"contract_id": "D", "level": "lav", "required_step": 1, "exposure": 1_000_000, "department": "Y"},
]


def hours(h, **kw):
    return PlanSettings(capacity_mode="hours", capacity_hours=h, **kw)


def steps_of(p):
    return {r.contract_id: list(r.steps) for r in p.items.itertuples()}


@pytest.mark.parametrize("capacity,expected,objective", [
    # 3 h: the three most valuable Trinn 1 (A 9, B 6, C 5 mill.)
    (3, {"A": [1], "B": [1], "C": [1]}, 20e6),
    # 10 h: A to Trinn 2 (9 h, 27 mill.) + B's Trinn 1 beats every Trinn 1 (4 h, 21 mill.)
    (10, {"A": [1, 2], "B": [1]}, 33e6),
    # 12 h: A to Trinn 2 and all the other Trinn 1 (39 mill.)
    (12, {"A": [1, 2], "B": [1], "C": [1], "D": [1]}, 39e6),
    # 43 h: everything the levels call for (1+8+24 + 1+8 + 1 + 1 = 44 h) does not fit; dropping
    # D (1 mill.) is the cheapest way to free an hour
    (43, {"A": [1, 2, 3], "B": [1, 2], "C": [1]}, 77e6),
    # plenty: every step called for, nothing deeper than the level
    (500, {"A": [1, 2, 3], "B": [1, 2], "C": [1], "D": [1]}, 78e6),
])
def test_hand_optimum(con, capacity, expected, objective):
    setup_risk(con, HAND)
    p = plan.build_plan(con, hours(capacity), *Q, as_of=AS_OF)
    assert steps_of(p) == expected
    assert p.objective == pytest.approx(objective)
    assert p.hours_planned == sum({1: 1, 2: 8, 3: 24}[s] for st in expected.values() for s in st)
    assert p.hours_planned <= capacity


def test_step1_done_is_not_planned_again(con):
    # A's Trinn 1 done in August: A can go straight to Trinn 2 (8 h, 18 mill.);
    # 10 h → A2 + B1 + C1 = 29 mill. (B1+B2+C1 = 23 mill.)
    setup_risk(con, HAND, controls_done=[("A", 1, dt.date(2026, 8, 15), "findings")])
    p = plan.build_plan(con, hours(10), *Q, as_of=AS_OF)
    assert steps_of(p) == {"A": [2], "B": [1], "C": [1]}
    assert p.objective == pytest.approx(29e6)
    a = p.items.set_index("contract_id").loc["A"]
    assert ("step1_done", {"date": dt.date(2026, 8, 15)}) in [(c, pp) for c, pp in a["reasons"]]
    assert "15.08.2026" in plan.why(a["reasons"], "nb")


def test_old_controls_expire(con):
    # done 14 months ago: outside the 12-month window, planned again
    setup_risk(con, HAND, controls_done=[("A", 1, dt.date(2025, 8, 1), "clean")])
    p = plan.build_plan(con, hours(10), *Q, as_of=AS_OF)
    assert steps_of(p) == {"A": [1, 2], "B": [1]}


def test_skip_contracts_controlled_clean_recently(con):
    setup_risk(con, HAND, controls_done=[("A", 1, dt.date(2026, 8, 1), "clean")])
    with_skip = plan.build_plan(con, hours(10, skip_clean_months=6), *Q, as_of=AS_OF)
    assert "A" not in steps_of(with_skip)
    # B T1+T2 (9 h, 18 mill.) + C1 (5 mill.) = 23 mill. beats B1+C1+D1 (12 mill.)
    assert steps_of(with_skip) == {"B": [1, 2], "C": [1]}
    nc = with_skip.not_chosen.set_index("contract_id")
    assert nc.loc["A", "reason"] == "skipped_clean"
    # without the option A's Trinn 1 counts as done and A gets Trinn 2
    without = plan.build_plan(con, hours(10), *Q, as_of=AS_OF)
    assert steps_of(without)["A"] == [2]
    # a clean control with an open finding on the contract is not skipped
    cid = con.execute("SELECT control_id FROM controls WHERE contract_id = 'A'").fetchone()[0]
    con.execute("""INSERT INTO findings (control_id, contract_id, finding_type, severity, status, opened_date)
                   VALUES (?, 'A', 'wage', 'high', 'open', ?)""", [cid, dt.date(2026, 8, 1)])
    again = plan.build_plan(con, hours(10, skip_clean_months=6), *Q, as_of=AS_OF)
    assert "A" in steps_of(again)


def test_department_minimum_changes_the_optimum_and_says_why(con):
    setup_risk(con, HAND)
    # min 1 in Y: D (the only contract in Y) must get Trinn 1: A1+A2+D1 = 28 mill.
    p = plan.build_plan(con, hours(10, department_minimums=(("Y", 1),)), *Q, as_of=AS_OF)
    assert steps_of(p) == {"A": [1, 2], "D": [1]}
    assert p.objective == pytest.approx(28e6)
    d = p.items.set_index("contract_id").loc["D"]
    assert "department_minimum" in [c for c, _ in d["reasons"]]
    assert "Y Avdeling Y" in plan.why(d["reasons"], "nb")
    a = p.items.set_index("contract_id").loc["A"]
    assert "department_minimum" not in [c for c, _ in a["reasons"]]
    # the uniform minimum gives the same here
    p2 = plan.build_plan(con, hours(10, min_per_department=1), *Q, as_of=AS_OF)
    assert steps_of(p2) == {"A": [1, 2], "D": [1]}


def test_uniform_minimum_is_capped_by_what_a_department_has(con):
    setup_risk(con, HAND)
    p = plan.build_plan(con, hours(12, min_per_department=2), *Q, as_of=AS_OF)
    assert any(code == "min_capped" for code, _ in p.notes)
    assert p.departments.set_index("department").loc["Y", "minimum"] == 1
    assert steps_of(p) == {"A": [1, 2], "B": [1], "C": [1], "D": [1]}


def test_reasons_for_a_partial_contract(con):
    setup_risk(con, HAND)
    p = plan.build_plan(con, hours(10), *Q, as_of=AS_OF)
    a = p.items.set_index("contract_id").loc["A"]
    codes = [c for c, _ in a["reasons"]]
    assert codes[:2] == ["level", "value"]
    assert "step1_first" in codes and "partial" in codes
    text = plan.why(a["reasons"], "nb")
    assert "Høy" in text and "krever Trinn 3" in text and "sannsynlighet 5 × konsekvens 4" in text
    assert "Trinn 2 nå" in text
    assert plan.why(a["reasons"], "en").startswith("Risk level High")


@pytest.mark.parametrize("settings,constraint,words", [
    (hours(0), "capacity", "øk kapasiteten"),
    (hours(-5), "capacity", "øk kapasiteten"),
    (PlanSettings(ftes=0), "capacity", "øk kapasiteten"),
    (hours(10, effort=(1, 0, 24)), "effort", "Trinn 2"),
    (hours(10, level_weights=(1, -1, 9)), "weights", "negative"),
    (hours(1, min_per_department=1), "department_minimum", "Senk minstekravet per avdeling eller øk kapasiteten"),
    (hours(100, department_minimums=(("Y", 3),)), "department_minimum", "Y Avdeling Y"),
    (hours(100, department_minimums=(("Z", 1),)), "department_minimum", "Z"),
])
def test_impossible_plans_name_the_constraint_to_relax(con, settings, constraint, words):
    setup_risk(con, HAND)
    with pytest.raises(PlanError) as e:
        plan.build_plan(con, settings, *Q, as_of=AS_OF)
    assert e.value.constraint == constraint
    assert words in str(e.value)


def test_no_risk_run_and_no_contracts(con):
    with pytest.raises(PlanError) as e:
        plan.build_plan(con, hours(10), *Q, as_of=AS_OF)
    assert e.value.constraint == "no_risk_run"
    setup_risk(con, [{"contract_id": "G", "level": "lav", "required_step": 0, "exposure": 1e6, "department": "X"},
                     {"contract_id": "E", "level": "høy", "required_step": 3, "exposure": 1e6, "department": "X",
                      "end_date": dt.date(2026, 6, 30)},
                     {"contract_id": "F", "level": "høy", "required_step": 3, "exposure": 1e6, "department": "X",
                      "active": False}])
    with pytest.raises(PlanError) as e:
        plan.build_plan(con, hours(10), *Q, as_of=AS_OF)
    assert e.value.constraint == "no_contracts"
    assert "4. kv. 2026" in str(e.value)


def test_capacity_below_cheapest_step_and_everything_done(con):
    setup_risk(con, HAND)
    p = plan.build_plan(con, hours(0.5), *Q, as_of=AS_OF)
    assert p.items.empty and ("capacity_below_step", {"hours": 1.0}) in p.notes
    big = plan.build_plan(con, hours(1000), *Q, as_of=AS_OF)
    assert [c for c, _ in big.notes] == ["all_covered"]
    assert big.coverage["share_hm_after"] == 1.0


def test_contract_running_outside_the_quarter_is_left_out(con):
    rows = HAND + [{"contract_id": "E", "level": "høy", "required_step": 3, "exposure": 9e9, "department": "X",
                    "start_date": dt.date(2027, 1, 1)}]
    setup_risk(con, rows)
    p = plan.build_plan(con, hours(500), *Q, as_of=AS_OF)
    assert "E" not in steps_of(p)


def test_coverage_shares_by_hand(con):
    setup_risk(con, HAND)
    p = plan.build_plan(con, hours(10), *Q, as_of=AS_OF)
    cov = p.coverage
    # høy/middels exposure: A 1 mill. + B 2 mill.; neither fully covered (A needs T3, B T2)
    assert cov["exposure_hm"] == 3e6
    assert cov["share_hm_before"] == 0 and cov["share_hm_after"] == 0
    assert cov["share_hm_any_after"] == 1.0
    p = plan.build_plan(con, hours(12), *Q, as_of=AS_OF)
    assert p.coverage["share_hm_after"] == 0
    p = plan.build_plan(con, hours(43), *Q, as_of=AS_OF)
    assert p.coverage["share_hm_after"] == 1.0


# ----------------------------------------------------------------------------- a generated instance

def generated(con, n=400, seed=7):
    rng = np.random.default_rng(seed)
    deps = [(f"D{i}", f"Avdeling {i}") for i in range(6)]
    rows = []
    for i in range(n):
        level = str(rng.choice(["lav", "middels", "høy"], p=[0.5, 0.3, 0.2]))
        req = {"lav": 1, "middels": 2, "høy": 3}[level]
        if rng.random() < 0.1:
            req = 0
        rows.append({"contract_id": f"K{i:04d}", "level": level, "required_step": req,
                     "exposure": float(np.round(rng.lognormal(13, 1.4), 2)), "department": deps[i % 6][0]})
    done = []
    for r in rows:
        for step in (1, 2):
            if r["required_step"] >= step and rng.random() < 0.2:
                day = dt.date(2026, 1, 1) + dt.timedelta(days=int(rng.integers(0, 270)))
                done.append((r["contract_id"], step, day, str(rng.choice(["clean", "findings"]))))
    setup_risk(con, rows, departments=deps, controls_done=done)
    return rows


def test_every_constraint_holds_on_a_generated_instance(con):
    rows = generated(con)
    s = hours(300, min_per_department=4, skip_clean_months=3)
    p = plan.build_plan(con, s, *Q, as_of=AS_OF)
    cand = plan.candidates(con, s, plan.Period(*Q), as_of=AS_OF).set_index("contract_id")
    req = {r["contract_id"]: r["required_step"] for r in rows}
    effort = dict(zip((1, 2, 3), s.effort))
    # capacity
    assert p.hours_planned <= s.hours + 1e-9
    assert p.steps["hours"].sum() == pytest.approx(p.hours_planned)
    assert p.items["hours"].sum() == pytest.approx(p.hours_planned)
    planned = {}
    for r in p.steps.itertuples():
        planned.setdefault(r.contract_id, set()).add(r.step)
        assert r.hours == effort[r.step]
    for cid, steps in planned.items():
        c = cand.loc[cid]
        done = {k for k in (1, 2, 3) if c[f"done{k}"] is not None and str(c[f"done{k}"]) not in ("NaT", "None")}
        # no deeper step than the level calls for; not covered contracts never planned
        assert max(steps) <= req[cid] and req[cid] >= 1
        # nothing planned again that is done within the window
        assert not (steps & done)
        # every step has the steps before it done or planned (Trinn 1 before deeper steps)
        for st in steps:
            assert all(k in steps or k in done for k in range(1, st))
        # skipped contracts (latest control clean in 3 months, no open finding) are not planned
        assert not (c["last_outcome"] == "clean" and c["open_findings"] == 0)
    # department minimums
    per_dept = p.items.groupby("department").size()
    for d in [f"D{i}" for i in range(6)]:
        assert per_dept.get(d, 0) >= 4
    # optimality spot check: no unplanned next step with value fits in the spare hours
    spare = s.hours - p.hours_planned
    for cid, c in cand.iterrows():
        if c["level"] is None or req[cid] < 1:
            continue
        nxt = next((k for k in range(1, req[cid] + 1) if k not in planned.get(cid, set())
                    and not (c[f"done{k}"] is not None and str(c[f"done{k}"]) not in ("NaT", "None"))), None)
        skipped = c["last_outcome"] == "clean" and c["open_findings"] == 0
        if nxt is None or skipped or c["exposure"] <= 0:
            continue
        prereq_ok = all(k in planned.get(cid, set()) or str(c[f"done{k}"]) not in ("NaT", "None")
                        and c[f"done{k}"] is not None for k in range(1, nxt))
        if prereq_ok:
            assert effort[nxt] > spare + 1e-9, f"{cid} Trinn {nxt} fits in {spare} spare hours"


def test_coverage_curve_and_one_more_person(con):
    generated(con, n=250, seed=3)
    s = PlanSettings(ftes=0.5, hours_per_fte=200)   # today 100 h, one more person +200 h
    curve = plan.coverage_curve(con, s, *Q, points=8, as_of=AS_OF)
    assert set(curve["marker"]) >= {"today", "plus_one"}
    today = curve[curve["marker"] == "today"].iloc[0]
    assert today["hours"] == 100 and today["ftes"] == 0.5
    # more hours never lower the optimum; enough hours cover all høy/middels exposure
    obj = curve["objective"].to_numpy(dtype=float)
    assert (np.diff(obj) >= -1e-6 * obj.max()).all()
    assert curve["share_hm"].iloc[-1] == pytest.approx(1.0)
    assert curve["hours"].iloc[0] == 0
    # the curve's points are the plan at those capacities
    p = plan.build_plan(con, s, *Q, as_of=AS_OF)
    assert today["objective"] == pytest.approx(p.objective)
    assert today["share_hm"] == pytest.approx(p.coverage["share_hm_after"])

    extra = plan.one_more_person(con, s, *Q, as_of=AS_OF)
    after = plan.build_plan(con, s.with_hours(300), *Q, as_of=AS_OF)
    assert extra["extra_hours"] == 200
    assert extra["contracts_before"] == len(p.items) and extra["contracts_after"] == len(after.items)
    assert extra["extra_contracts"] == len(after.items) - len(p.items)
    assert extra["share_hm_after"] == pytest.approx(after.coverage["share_hm_after"])
    assert extra["extra_exposure_hm"] == pytest.approx(after.coverage["exposure_hm_covered_after"]
                                                       - p.coverage["exposure_hm_covered_after"])
    assert extra["objective_after"] >= extra["objective_before"]
    assert set(extra["new_contracts"]) == set(after.items["contract_id"]) - set(p.items["contract_id"])
    assert sum(extra["extra_steps"].values()) == len(after.steps) - len(p.steps)


def test_one_more_person_by_hand(con):
    setup_risk(con, HAND)
    s = PlanSettings(ftes=1, hours_per_fte=10)          # 10 h today, 20 h with one more
    r = plan.one_more_person(con, s, *Q, as_of=AS_OF)
    # 20 h: A1+A2 (9) + B1+B2 (9) + C1 + D1 (2) = 27+18+5+1 = 51 mill.
    assert r["objective_before"] == pytest.approx(33e6) and r["objective_after"] == pytest.approx(51e6)
    assert r["contracts_before"] == 2 and r["contracts_after"] == 4 and r["extra_contracts"] == 2
    assert sorted(r["new_contracts"]) == ["C", "D"]
    assert r["extra_steps"] == {1: 2, 2: 1, 3: 0}
    # B (2 mill., middels, T2) is now fully covered: 2 of 3 mill. høy/middels exposure
    assert r["extra_exposure_hm"] == pytest.approx(2e6)
    assert r["share_hm_after"] == pytest.approx(2 / 3)


# ----------------------------------------------------------------------------- Excel export

def test_excel_export_matches_the_plan(con):
    from openpyxl import load_workbook

    rows = [dict(r) for r in HAND]
    rows[1]["name"] = '=HYPERLINK("http://evil","Klikk")'
    setup_risk(con, rows)
    p = plan.build_plan(con, hours(12), *Q, as_of=AS_OF)
    data = plan.export_excel(p, "nb")
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Sammendrag", "X Avdeling X", "Y Avdeling Y"]
    summary = {r[0]: r[1] for r in wb["Sammendrag"].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    assert summary["Planlagte timer"] == 12 and summary["Kontrakter i planen"] == 4
    assert summary["Kvartal"] == "4. kv. 2026"
    for sheet, dept in (("X Avdeling X", "X"), ("Y Avdeling Y", "Y")):
        ws = wb[sheet]
        assert ws.freeze_panes == "A2"
        header = [c.value for c in ws[1]]
        assert header[:3] == ["Kontrakt-ID", "Kontrakt", "Leverandør"]
        got = [dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)]
        want = p.items[p.items["department"] == dept]
        assert [g["Kontrakt-ID"] for g in got] == want["contract_id"].tolist()
        for g, w in zip(got, want.itertuples()):
            assert g["Planlagte trinn"] == " + ".join(str(s) for s in w.steps)
            assert g["Timer"] == w.hours
            assert g["Eksponering (kr)"] == w.exposure
            assert g["Kreves (trinn)"] == w.required_step
            assert g["Hvorfor valgt"] == plan.why(w.reasons, "nb")
        # number formats: thousands-separated NOK and hours
        col = header.index("Eksponering (kr)") + 1
        assert ws.cell(row=2, column=col).number_format == '#,##0" kr"'
        assert ws.column_dimensions["B"].width >= 10
    # a name that would be a formula is neutralised
    x = [dict(zip([c.value for c in wb["X Avdeling X"][1]], r))
         for r in wb["X Avdeling X"].iter_rows(min_row=2, values_only=True)]
    b = next(r for r in x if r["Kontrakt-ID"] == "B")
    assert b["Kontrakt"].startswith("'=HYPERLINK")
    assert all(c.data_type != "f" for row in wb["X Avdeling X"].iter_rows() for c in row)


def test_export_in_english(con):
    from openpyxl import load_workbook

    setup_risk(con, HAND)
    p = plan.build_plan(con, hours(12), *Q, as_of=AS_OF)
    wb = load_workbook(io.BytesIO(plan.export_excel(p, "en")))
    assert wb.sheetnames[0] == "Summary"
    assert [c.value for c in wb["X Avdeling X"][1]][0] == "Contract ID"


# ----------------------------------------------------------------------------- saving, plan against done

def test_save_plan_puts_it_in_the_log_and_tracks_adherence(con):
    setup_risk(con, HAND)
    p = plan.build_plan(con, hours(12), *Q, as_of=AS_OF)
    v0 = con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0]
    pid = plan.save_plan(con, ANALYST, p, note="Første plan")
    assert con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0] != v0
    items = con.execute("SELECT contract_id, step, hours FROM plan_items WHERE plan_id = ? ORDER BY 1, 2",
                        [pid]).fetchall()
    assert items == [("A", 1, 1.0), ("A", 2, 8.0), ("B", 1, 1.0), ("C", 1, 1.0), ("D", 1, 1.0)]
    log = controls.control_log(con, as_of=AS_OF)
    assert len(log) == 5 and set(log["status"]) == {"planned"} and set(log["plan_id"]) == {pid}
    assert set(log["planned_date"].astype(str)) == {"2026-12-31"}
    entry = con.execute("SELECT details FROM audit_log WHERE action = 'plan_save'").fetchone()[0]
    assert len(json.loads(entry)["controls_created"]) == 5

    # two steps done in the quarter, one after it
    ctl = log.set_index(["contract_id", "step"])["control_id"]
    controls.update_control(con, ANALYST, int(ctl[("A", 1)]), {"done_date": dt.date(2026, 10, 20), "outcome": "clean"},
                            today=dt.date(2026, 11, 1))
    controls.update_control(con, ANALYST, int(ctl[("C", 1)]), {"done_date": dt.date(2026, 11, 5), "outcome": "clean"},
                            today=dt.date(2026, 11, 5))
    a = plan.adherence(con, pid, as_of=dt.date(2026, 11, 30))
    by = a["by_department"].set_index("department")
    assert by.loc["X", "planned"] == 4 and by.loc["X", "done"] == 2 and by.loc["X", "pending"] == 2
    assert by.loc["X", "adherence"] == 0.5
    assert by.loc["Y", "planned"] == 1 and by.loc["Y", "done"] == 0
    assert a["total"]["adherence"] == pytest.approx(2 / 5)
    assert a["overdue"].empty

    # after the quarter: what is not done is overdue; done late counts apart
    controls.update_control(con, ANALYST, int(ctl[("D", 1)]), {"done_date": dt.date(2027, 1, 10), "outcome": "clean"},
                            today=dt.date(2027, 1, 10))
    late = plan.adherence(con, pid, as_of=dt.date(2027, 1, 15))
    t = late["total"]
    assert (t["done"], t["done_late"], t["overdue"], t["pending"]) == (2, 1, 2, 0)
    assert set(zip(late["overdue"]["contract_id"], late["overdue"]["step"])) == {("A", 2), ("B", 1)}
    assert (late["overdue"]["days_overdue"] == 15).all()
    od = plan.overdue_items(con, as_of=dt.date(2027, 1, 15))
    assert len(od) == 2 and set(od["plan_id"]) == {pid}
    # the control log also lists them as overdue
    assert set(controls.overdue_controls(con, dt.date(2027, 1, 15))["contract_id"]) == {"A", "B"}
    # a control done outside the plan
    controls.create_control(con, ANALYST, "B", 2, done_date=dt.date(2026, 12, 1), outcome="clean",
                            today=dt.date(2026, 12, 2))
    assert plan.adherence(con, pid, as_of=dt.date(2027, 1, 15))["unplanned_done"] == 1


def test_saving_calls_the_hook_in_the_transaction(con, no_rescore):
    setup_risk(con, HAND)
    plan.save_plan(con, ANALYST, plan.build_plan(con, hours(12), *Q, as_of=AS_OF))
    assert no_rescore == [("test.analytiker", "controls", True)]
    no_rescore.clear()
    plan.save_plan(con, ANALYST, plan.build_plan(con, hours(12), *Q, as_of=AS_OF), add_to_log=False)
    assert no_rescore == [("test.analytiker", "controls", True)]   # the first plan's controls left the log


def test_saving_again_replaces_the_plan(con):
    setup_risk(con, HAND)
    first = plan.save_plan(con, ANALYST, plan.build_plan(con, hours(12), *Q, as_of=AS_OF))
    log = controls.control_log(con, as_of=AS_OF).set_index(["contract_id", "step"])
    # one planned control was started: it stays in the log
    controls.update_control(con, ANALYST, int(log.loc[("B", 1), "control_id"]), {"status": "open"},
                            today=AS_OF)
    second = plan.save_plan(con, ANALYST, plan.build_plan(con, hours(3), *Q, as_of=AS_OF))
    plans = plan.saved_plans(con).set_index("plan_id")
    assert plans.loc[first, "status"] == "replaced" and plans.loc[second, "status"] == "active"
    assert plan.active_plan_id(con, *Q) == second
    log = controls.control_log(con, as_of=AS_OF)
    # the new plan (A1, B1, C1): A1 and C1 new; B1 already in progress is not duplicated
    assert sorted(zip(log["contract_id"], log["step"], log["plan_id"])) == [
        ("A", 1, second), ("B", 1, first), ("C", 1, second)]


def test_leder_cannot_save_plans_or_settings(con):
    setup_risk(con, HAND)
    p = plan.build_plan(con, hours(12), *Q, as_of=AS_OF)
    with pytest.raises(auth.PermissionDenied):
        plan.save_plan(con, LEADER, p)
    with pytest.raises(auth.PermissionDenied):
        plan.save_settings(con, LEADER, hours(5))
    assert con.execute("SELECT count(*) FROM plans").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM controls").fetchone()[0] == 0


def test_settings_round_trip_and_audit(con):
    assert plan.get_settings(con) == PlanSettings()
    s = PlanSettings(ftes=2.5, effort=(2, 10, 30), min_per_department=1, department_minimums=(("X", 2),),
                     skip_clean_months=6)
    v = plan.save_settings(con, ANALYST, s)
    assert plan.get_settings(con) == s
    details = json.loads(con.execute("SELECT details FROM audit_log WHERE action = 'settings'").fetchone()[0])
    assert details["changes"]["ftes"] == {"old": 1.0, "new": 2.5}
    assert details["changes"]["effort"] == {"old": [1.0, 8.0, 24.0], "new": [2.0, 10.0, 30.0]}
    assert v == 1
    with pytest.raises(PlanError):
        plan.save_settings(con, ANALYST, hours(0))
    assert plan.get_settings(con) == s


# ----------------------------------------------------------------------------- command line

def test_cli_show_export_and_errors(db_path, tmp_path, capsys):
    from akrim_analytics import cli, db

    c = db.connect(db_path)
    setup_risk(c, HAND)
    db.set_meta(c, "risk_as_of", "2026-09-30")
    c.close()
    assert cli.main(["plan", "show", "--db", str(db_path), "--hours", "10", "--quarter", "2026-K4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {i["contract_id"]: i["steps"] for i in out["items"]} == {"A": [1, 2], "B": [1]}
    xlsx = tmp_path / "plan.xlsx"
    assert cli.main(["plan", "export", "--db", str(db_path), "--hours", "12", "--out", str(xlsx)]) == 0
    assert json.loads(capsys.readouterr().out)["contracts"] == 4 and xlsx.stat().st_size > 0
    assert cli.main(["plan", "show", "--db", str(db_path), "--hours", "0"]) == 1
    assert "øk kapasiteten" in capsys.readouterr().err
    assert cli.main(["plan", "adherence", "--db", str(db_path), "--quarter", "2026-K4"]) == 1
    assert "Ingen lagret plan" in capsys.readouterr().err
    assert cli.main(["plan", "one-more-person", "--db", str(db_path), "--hours", "10"]) == 0
    assert json.loads(capsys.readouterr().out)["extra_hours"] == 424.0
