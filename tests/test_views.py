"""Core queries of the leadership pages (akrim_analytics.views) on a small database
whose every number is worked out by hand below, plus consistency checks on the demo."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from akrim_analytics import views
from akrim_analytics.filters import Filters, Period

D = dt.date


def _matrix():
    """A 5×5 level matrix unlike the default one: høy from L×C ≥ 15, middels from 6."""
    return [["høy" if lk * c >= 15 else "middels" if lk * c >= 6 else "lav" for c in range(1, 6)]
            for lk in range(1, 6)]


def _level(lk, c):
    return _matrix()[lk - 1][c - 1]


@pytest.fixture
def small(con):
    return build_small(con)


def build_small(con, with_risk: bool = True):
    """Two departments, five suppliers, three contracts, seven 2025 spend lines (+1 in
    2024), two risk runs (30.09.2025 and 31.12.2025), controls and findings."""
    con.execute("INSERT INTO departments (code, name, area) VALUES ('1000', 'Avd A', 'X'), ('2000', 'Avd B', 'Y')")
    sup_cols = ("supplier_id, orgnr, name, nace_code, nace_version, org_form, founded_date, registered_date, "
                "vat_registered, employees, bankrupt, under_liquidation, forced_dissolution, deleted_date, "
                "last_accounts_year, register_extract_date")
    rows = [
        ("911111111", "911111111", "Alfa Elektro AS", "43.210", "SN2025", "AS", D(2000, 1, 1), D(2000, 2, 1),
         True, 10, False, False, False, None, 2025, D(2026, 10, 1)),
        ("922222222", "922222222", "Per Maler", "43.341", "SN2025", "ENK", D(2025, 1, 1), D(2025, 1, 10),
         False, 0, False, False, False, None, None, D(2026, 10, 1)),
        ("933333333", "933333333", "Gamma Renhold AS", "81.210", "SN2025", "AS", D(2010, 1, 1), D(2010, 1, 1),
         True, 40, True, None, False, None, 2022, D(2026, 10, 1)),
        ("N:Ukjent", None, "Ukjent leverandør", None, None, None, None, None,
         None, None, None, None, None, None, None, None),
        ("944444444", "944444444", "Baltic Bygg UAB NUF", "41.000", "SN2025", "NUF", D(2015, 1, 1), D(2015, 1, 1),
         True, 5, False, False, False, None, None, None),
    ]
    con.executemany(f"INSERT INTO suppliers ({sup_cols}) VALUES ({', '.join('?' * 16)})", rows)
    con.executemany(
        "INSERT INTO contracts (contract_id, name, supplier_id, category, department, responsible, start_date, end_date,"
        " estimated_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("K-1", "Elektro rammeavtale", "911111111", "BYGG", "1000", "Kari", D(2024, 1, 1), D(2027, 12, 31), 10000),
         ("K-2", "Maling skole", "922222222", "BYGG", "2000", "Ola", D(2025, 1, 1), D(2025, 12, 31), 2000),
         ("K-3", "Renhold rådhus", "933333333", "PERSONELL", "1000", "Kari", D(2023, 1, 1), D(2024, 12, 31), 900)])
    spend = [  # supplier, contract, department, category, date, amount
        ("911111111", "K-1", "1000", "BYGG", D(2025, 8, 15), 1000),
        ("911111111", "K-1", "1000", "BYGG", D(2025, 11, 10), 2000),
        ("911111111", "K-1", "1000", "BYGG", D(2025, 5, 1), 500),
        ("922222222", "K-2", "2000", "BYGG", D(2025, 3, 1), 300),
        ("922222222", "K-2", "2000", "BYGG", D(2025, 10, 1), 700),
        ("933333333", None, "1000", "PERSONELL", D(2025, 12, 1), 400),
        ("N:Ukjent", None, "2000", "FORBRUK", D(2025, 7, 1), 50),
        ("911111111", "K-1", "2000", "BYGG", D(2024, 12, 15), 100),
    ]
    con.executemany(
        "INSERT INTO spend (upload_id, posting_date, period, supplier_id, contract_id, department, category, amount)"
        " VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
        [(d, d.year * 100 + d.month, s, c, dep, cat, amt) for s, c, dep, cat, d, amt in spend])
    _controls_and_findings(con)
    if not with_risk:
        return con
    con.execute("INSERT INTO risk_config_versions (version, created_by, config) VALUES (1, 'test', ?)",
                [json.dumps({"levels": {"matrix": _matrix()}})])
    runs = {1: D(2025, 9, 30), 2: D(2025, 12, 31)}
    for run_id, as_of in runs.items():
        con.execute("INSERT INTO risk_runs (run_id, config_version, data_version, as_of, created_by) "
                    "VALUES (?, 1, 1, ?, 'test')", [run_id, as_of])
    assess = [  # run, type, id, supplier, category, department, L, C
        (1, "contract", "K-1", "911111111", "BYGG", "1000", 3, 5),
        (1, "contract", "K-2", "922222222", "BYGG", "2000", 2, 2),
        (1, "supplier", "911111111", "911111111", None, None, 1, 1),
        (1, "supplier", "933333333", "933333333", None, None, 4, 4),
        (1, "supplier", "N:Ukjent", "N:Ukjent", None, None, 2, 1),
        (2, "contract", "K-1", "911111111", "BYGG", "1000", 5, 5),
        (2, "contract", "K-2", "922222222", "BYGG", "2000", 1, 1),
        (2, "supplier", "911111111", "911111111", None, None, 2, 2),
        (2, "supplier", "922222222", "922222222", None, None, 3, 3),
        (2, "supplier", "933333333", "933333333", None, None, 5, 4),
        (2, "supplier", "N:Ukjent", "N:Ukjent", None, None, 2, 3),
    ]
    con.executemany(
        "INSERT INTO risk_assessments (run_id, entity_type, entity_id, supplier_id, category, department, likelihood,"
        " consequence, level, required_step, covered, no_contract, entity_no)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 2, true, false, ?)",
        [(r, ty, i, s, cat, dep, lk, c, _level(lk, c), n + 1) for n, (r, ty, i, s, cat, dep, lk, c) in enumerate(assess)])
    con.executemany("INSERT INTO risk_factor_parts (run_id, part, factor) VALUES (?, ?, ?)",
                    [(2, 1, "industry"), (2, 2, "value")])
    con.executemany(
        "INSERT INTO risk_factor_lines (run_id, entity_no, part, dimension, points, body_nb, body_en)"
        " SELECT ?, entity_no, ?, ?, ?, ?, ? FROM risk_assessments WHERE run_id = 2 AND entity_id = 'K-1'",
        [(2, 1, "likelihood", 2.0, "Bransje", "Industry"),
         (2, 2, "consequence", 3.0, "Verdi", "Value")])
    return con


def _controls_and_findings(con):
    con.executemany(
        "INSERT INTO controls (control_id, contract_id, step, planned_date, done_date, outcome, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(1, "K-1", 2, D(2025, 5, 20), D(2025, 6, 1), "clean", "closed"),
         (2, "K-2", 1, D(2025, 10, 1), D(2025, 10, 15), "findings", "open"),
         (3, "K-1", 3, D(2026, 2, 1), None, None, "planned")])
    con.executemany(
        "INSERT INTO findings (finding_id, control_id, contract_id, finding_type, severity, status, opened_date,"
        " closed_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(1, 2, "K-2", "wage", "high", "open", D(2025, 10, 15), None),
         (2, 2, "K-2", "working_time", "low", "closed", D(2025, 10, 15), D(2025, 11, 30)),
         (3, 9, "K-3", "hms_card", "medium", "closed", D(2024, 6, 1), D(2025, 2, 1))])


Y2025 = Filters(Period(2025))


# ------------------------------------------------------------------ windows and runs

def test_previous_window_moves_back_one_quarter():
    assert views.previous_window(Period(2025, 3)) == views.Window(D(2025, 4, 1), D(2025, 6, 30))
    assert views.previous_window(Period(2025, 1)) == views.Window(D(2024, 10, 1), D(2024, 12, 31))
    assert views.previous_window(Period(2025)) == views.Window(D(2024, 10, 1), D(2025, 9, 30))


def test_run_resolution(small):
    assert views.run_at(small, D(2025, 12, 31)).run_id == 2
    assert views.run_at(small, D(2025, 11, 1)).run_id == 1
    assert views.run_at(small, D(2025, 9, 29)) is None
    assert views.latest_run(small).run_id == 2
    # a period older than every run: the latest run, marked as not from the period
    old = views.run_for_view(small, Filters(Period(2024)))
    assert old.run_id == 2 and old.exact is False
    assert views.run_for_view(small, Filters(Period(2025, 4))).exact is True
    assert views.level_matrix(small, 2) == _matrix()


# ------------------------------------------------------------------ Oversikt

def test_kpis_year_and_previous_quarter(small):
    k = views.kpis(small, Y2025)
    now, prev = k["now"], k["prev"]
    assert now["total"] == 4950 and now["no_contract"] == 450
    assert now["run"].run_id == 2
    assert now["high_spend"] == 3500                     # K-1 is høy in run 2
    assert now["contracts"] == {"lav": 1, "middels": 0, "høy": 1}   # K-3 ended 2024
    assert now["high_controlled"] == 1 and now["high_controlled_share"] == 1.0
    assert now["open_findings"] == 1
    # the twelve months to 30.09.2025, with run 1
    assert prev["total"] == 1950 and prev["no_contract"] == 50
    assert prev["run"].run_id == 1
    assert prev["high_spend"] == 1600
    assert prev["contracts"] == {"lav": 1, "middels": 0, "høy": 1}
    assert prev["open_findings"] == 0


def test_kpis_quarter_and_filters(small):
    k = views.kpis(small, Filters(Period(2025, 4)))
    assert k["now"]["total"] == 3100 and k["prev"]["total"] == 1050
    assert views.kpis(small, Filters(Period(2025), department="1000"))["now"]["total"] == 3900
    byggs = views.kpis(small, Filters(Period(2025), category="BYGG"))["now"]
    assert byggs["total"] == 4500 and byggs["no_contract"] == 0
    # no run on or before 30.06.2025: no risk figures, never zeros
    q2 = views.kpis(small, Filters(Period(2025, 2)))["now"]
    assert q2["run"] is None and q2["high_spend"] is None and q2["contracts"] is None
    assert q2["total"] == 500


# ------------------------------------------------------------------ Risikokart

def test_spend_by_category_level(small):
    df = views.spend_by_category_level(small, Y2025, 2)
    cell = {(r.category, r.level): r.amount for r in df.itertuples()}
    assert cell[("BYGG", "høy")] == 3500 and cell[("BYGG", "lav")] == 1000
    assert cell[("PERSONELL", "høy")] == 400          # no contract: the supplier's level
    assert cell[("FORBRUK", "middels")] == 50
    assert df["amount"].sum() == 4950                   # nothing lost or counted twice
    assert len(df) == 9 * 4                             # every category × level


def test_not_assessed_spend(small):
    # run 1 has no assessment of supplier 922222222 and none of K-3 …: move a line to it
    small.execute("UPDATE spend SET contract_id = NULL WHERE contract_id = 'K-2' AND posting_date = '2025-03-01'")
    df = views.spend_by_category_level(small, Y2025, 1)
    cell = {(r.category, r.level): r.amount for r in df.itertuples()}
    assert cell[("BYGG", views.NOT_ASSESSED)] == 300


def test_risk_weighted_spend(small):
    df = views.risk_weighted_by_department_category(small, Y2025, 2)
    w = {(r.department, r.category): r.weighted for r in df.itertuples()}
    assert w[("1000", "BYGG")] == pytest.approx(3500 * 25 / 25)
    assert w[("2000", "BYGG")] == pytest.approx(1000 * 1 / 25)
    assert w[("1000", "PERSONELL")] == pytest.approx(400 * 20 / 25)
    assert w[("2000", "FORBRUK")] == pytest.approx(50 * 6 / 25)
    assert len(df) == 2 * 9


def test_risk_matrix_levels_from_config(small):
    df = views.risk_matrix(small, Y2025, 2)
    assert len(df) == 25
    cells = {(r.likelihood, r.consequence): r for r in df.itertuples()}
    assert cells[(5, 5)].contracts == 1 and cells[(5, 5)].amount == 3500
    assert cells[(1, 1)].contracts == 1 and cells[(1, 1)].amount == 1000
    assert df["contracts"].sum() == 2
    # every cell, also the empty ones, has the configured matrix's level
    for (lk, c), r in cells.items():
        assert r.level == _level(lk, c)


def test_drilldown_adds_up_to_the_cell(small):
    assert views.drilldown(small, Y2025, 2, views.Selection("matrix", likelihood=5, consequence=5)
                           )[["contract_id", "amount"]].values.tolist() == [["K-1", 3500]]
    d = views.drilldown(small, Y2025, 2, views.Selection("category_level", category="PERSONELL", level="høy"))
    assert d["contract_id"].isna().all() and d["supplier_id"].tolist() == ["933333333"]
    assert d["amount"].tolist() == [400] and d["level"].tolist() == ["høy"]
    t = views.drilldown(small, Y2025, 2, views.Selection("treemap", category="BYGG"))
    assert t.set_index("contract_id")["amount"].to_dict() == {"K-1": 3500, "K-2": 1000}
    s = views.drilldown(small, Y2025, 2, views.Selection("treemap", category="BYGG", supplier_id="922222222"))
    assert s["contract_id"].tolist() == ["K-2"]
    dc = views.drilldown(small, Y2025, 2, views.Selection("department_category", department="2000", category="BYGG"))
    assert dc["contract_id"].tolist() == ["K-2"] and dc["open_findings"].tolist() == [1]
    assert views.drilldown(small, Y2025, 2, views.Selection("matrix", likelihood=3, consequence=3)).empty


def test_treemap_top_n_and_others(small):
    df = views.treemap(small, Y2025, 2, top_n=1)
    bygg = df[df["category"] == "BYGG"]
    top = bygg[bygg["others"] == 0]
    assert top["supplier_id"].tolist() == ["911111111"] and top["level"].tolist() == ["høy"]
    rest = bygg[bygg["others"] > 0]
    assert rest["amount"].tolist() == [1000] and rest["others"].tolist() == [1] and rest["level"].tolist() == ["lav"]
    assert df["amount"].sum() == 4950


def test_treemap_others_tile_drilldown(small, monkeypatch):
    monkeypatch.setattr(views, "TREEMAP_TOP_N", 1)
    others = views.Selection("treemap", category="BYGG", level="lav")
    assert views.drilldown(small, Y2025, 2, others)[["contract_id", "amount"]].values.tolist() == [["K-2", 1000]]
    assert views.drilldown(small, Y2025, 2, views.Selection("treemap", category="BYGG", level="høy")).empty


def test_selection_key_round_trip_and_bad_input():
    sel = views.Selection("treemap", category="BYGG", supplier_id="N:Ukjent")
    assert views.Selection.parse(sel.key) == sel
    m = views.Selection("matrix", likelihood=4, consequence=5)
    assert views.Selection.parse(m.key) == m
    for bad in (None, "", "x~y", "matrix~~~~9~1~", "nope~~~~~~", "category_level~BYGG~~ekstrem~~~",
                "matrix~~~~a~1~"):
        assert views.Selection.parse(bad) is None


# ------------------------------------------------------------------ Kontrakter / Leverandører

def test_contracts_table_search_and_filters(small):
    df = views.contracts_table(small, Y2025, 2)
    assert df["contract_id"].tolist() == ["K-1", "K-2"]          # K-3 ended in 2024; høy first
    assert df.set_index("contract_id")["amount"].to_dict() == {"K-1": 3500, "K-2": 1000}
    assert views.contracts_table(small, Y2025, 2, "922222222")["contract_id"].tolist() == ["K-2"]
    assert views.contracts_table(small, Y2025, 2, "maling")["contract_id"].tolist() == ["K-2"]
    assert views.contracts_table(small, Y2025, 2, "%").empty      # wildcards are literal
    assert views.contracts_table(small, Y2025, 2, levels=("høy",))["contract_id"].tolist() == ["K-1"]
    assert views.contracts_table(small, Y2025, 2, open_findings_only=True)["contract_id"].tolist() == ["K-2"]
    assert views.contracts_table(small, Filters(Period(2024)), 2)["contract_id"].tolist() == ["K-1", "K-3"]
    assert views.contracts_table(small, Filters(Period(2025), department="2000"), 2)["contract_id"].tolist() == ["K-2"]


def test_red_flags(small):
    df = views.suppliers_table(small, Y2025, 2).set_index("supplier_id")
    assert df["amount"].to_dict() == {"911111111": 3500, "922222222": 1000, "933333333": 400, "N:Ukjent": 50}
    flags = {k: [f for f in v.split(",") if f] for k, v in df["flags"].items()}
    assert flags["911111111"] == []
    assert flags["922222222"] == ["not_vat_registered", "newly_founded", "no_employees", "enk_risky_trade"]
    assert flags["933333333"] == ["bankrupt", "accounts_missing"]
    assert flags["N:Ukjent"] == ["no_orgnr"]        # unknown register values raise no flag
    assert views.supplier_detail(small, "944444444")["flags"] == ["foreign_nuf", "not_checked"]
    assert views.suppliers_table(small, Y2025, 2, flagged_only=True).shape[0] == 3
    assert views.suppliers_table(small, Y2025, 2, no_contract_only=True)["supplier_id"].tolist() == \
        ["933333333", "N:Ukjent"]
    # the supplier's level: the highest of its contracts' and its own assessment
    assert df.loc["933333333", "level"] == "høy" and df.loc["922222222", "level"] == "middels"
    assert views.suppliers_table(small, Y2025, 2, "gamma")["supplier_id"].tolist() == ["933333333"]


def test_contract_and_supplier_360(small):
    c = views.contract_detail(small, "K-1")
    assert c["supplier_name"] == "Alfa Elektro AS" and c["department_name"] == "Avd A"
    assert views.contract_detail(small, "K-404") is None
    sot = views.spend_over_time(small, contract_id="K-1")
    assert sot[["year", "quarter", "amount"]].values.tolist() == [[2024, 4, 100], [2025, 2, 500], [2025, 3, 1000],
                                                                  [2025, 4, 2000]]
    assert views.contract_spend_in(small, "K-1", Period(2025)) == 3500
    assert views.supplier_spend_in(small, "933333333", Period(2025)) == {"amount": 400, "no_contract": 400}
    assert views.controls_for(small, contract_id="K-1")["control_id"].tolist() == [3, 1]
    assert views.findings_for(small, supplier_id="922222222")["finding_id"].tolist() == [1, 2]
    assert views.supplier_contracts(small, "933333333", 2)["level"].tolist() == [views.NOT_ASSESSED]
    factors = views.risk_factors(small, 2, "contract", "K-1")
    assert factors["factor"].tolist() == ["industry", "value"]
    assert factors["explanation_nb"].tolist() == ["Bransje: +2 sannsynlighet", "Verdi: +3 konsekvens"]
    with pytest.raises(ValueError):
        views.spend_over_time(small)


# ------------------------------------------------------------------ Utvikling

def test_trends(small):
    qs = views.quarters_until(small, Y2025)
    assert [q.key for q in qs] == ["2024-K4", "2025-K1", "2025-K2", "2025-K3", "2025-K4"]
    sp = views.trend_spend(small, Y2025)
    per_q = sp.groupby("q_start")["amount"].sum().tolist()
    assert per_q == [100, 300, 500, 1050, 3100]
    # each quarter with the run in force at its end; none before 30.09.2025
    levels = {str(q.date()): g.set_index("level")["amount"].to_dict() for q, g in sp.groupby("q_start")}
    assert levels["2025-10-01"] == {"lav": 700, "middels": 0, "høy": 2400, views.NOT_ASSESSED: 0}
    assert levels["2025-07-01"] == {"lav": 50, "middels": 0, "høy": 1000, views.NOT_ASSESSED: 0}
    assert levels["2025-04-01"] == {"lav": 0, "middels": 0, "høy": 0, views.NOT_ASSESSED: 500}
    rk = views.trend_risk(small, Y2025).set_index("q_start")
    assert rk["run_id"].isna().tolist() == [True, True, True, False, False]
    assert rk.loc["2025-07-01", ["høy", "lav", "high_spend"]].tolist() == [1, 1, 1000]
    assert rk.loc["2025-10-01", ["høy", "lav", "high_spend"]].tolist() == [1, 1, 2000]
    ctl = views.trend_controls(small, Y2025)
    assert ctl[ctl["controls"] > 0][["step", "controls"]].values.tolist() == [[2, 1], [1, 1]]
    fnd = views.trend_findings(small, Y2025)
    assert fnd[["opened", "closed", "open_at_end"]].values.tolist() == [[0, 0, 1], [0, 1, 0], [0, 0, 0], [0, 0, 0],
                                                                        [2, 1, 1]]
    # a department filter applies to controls and findings through the contract
    assert views.trend_findings(small, Filters(Period(2025), department="1000"))["opened"].sum() == 0


def test_empty_database(con):
    f = Y2025
    assert views.latest_run(con) is None and views.run_for_view(con, f) is None
    k = views.kpis(con, f)["now"]
    assert k["total"] == 0 and k["high_spend"] is None and k["open_findings"] == 0
    assert views.spend_by_category_level(con, f, None)["amount"].sum() == 0
    assert views.risk_matrix(con, f, None)["contracts"].sum() == 0
    assert views.treemap(con, f, None).empty
    assert views.contracts_table(con, f, None).empty and views.suppliers_table(con, f, None).empty
    assert views.quarters_until(con, f) == [] and views.trend_spend(con, f).empty
    assert views.supplier_detail(con, "x") is None


# ------------------------------------------------------------------ the demo municipality

def test_demo_drilldowns_add_up(demo_con):
    """On the demo, every clickable cell's contracts add up to the number in the cell."""
    f = Filters(Period(2025))
    run = views.run_for_view(demo_con, f)
    assert run is not None and run.exact
    cl = views.spend_by_category_level(demo_con, f, run.run_id)
    assert cl["amount"].sum() == pytest.approx(views.kpis(demo_con, f)["now"]["total"])
    for r in cl[cl["amount"] != 0].itertuples():
        d = views.drilldown(demo_con, f, run.run_id, views.Selection("category_level", category=r.category,
                                                                      level=r.level))
        assert d["amount"].sum() == pytest.approx(r.amount)
    m = views.risk_matrix(demo_con, f, run.run_id)
    assert m["level"].isin(views.LEVELS).all()
    for r in m[m["contracts"] > 0].itertuples():
        d = views.drilldown(demo_con, f, run.run_id, views.Selection("matrix", likelihood=r.likelihood,
                                                                      consequence=r.consequence))
        assert len(d) == r.contracts and d["amount"].sum() == pytest.approx(r.amount)
    tm = views.treemap(demo_con, f, run.run_id)
    for r in tm[tm["category"].isin(["BYGG", "PERSONELL"])].itertuples():
        sel = (views.Selection("treemap", category=r.category, level=r.level) if r.others
               else views.Selection("treemap", category=r.category, supplier_id=r.supplier_id))
        assert views.drilldown(demo_con, f, run.run_id, sel)["amount"].sum() == pytest.approx(r.amount)
    k = views.kpis(demo_con, f)["now"]
    assert sum(k["contracts"].values()) == m["contracts"].sum()
    assert k["contracts"]["høy"] == m.loc[m["level"] == "høy", "contracts"].sum()
