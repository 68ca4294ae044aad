"""Runs: the data-change hook, transactions, reproducible quarters, pruning, lookups."""
from __future__ import annotations

import pytest

from akrim_analytics import audit, auth, db, hooks, risk
from risk_data import D, contract, finding, score, spend, supplier

ANALYST = auth.User("ola", "analytiker")


def _small(con):
    supplier(con, "S1", nace_code="43.210", nace_version="SN2007")
    contract(con, "K1", "S1", labour_intensive=True, estimated_value=5_000_000)
    spend(con, "S1", 1_000_000, D(2026, 3, 1), "K1")


def test_hook_rescores_inside_the_writers_transaction(con):
    assert "akrim_analytics.risk:rescore_after_change" in hooks.AFTER_DATA_CHANGE
    _small(con)
    with db.transaction(con):
        con.execute("UPDATE contracts SET subcontractor_levels = 4 WHERE contract_id = 'K1'")
        hooks.data_changed(con, ANALYST, "edit K1")
    run = risk.run_info(con)
    assert run["reason"] == "edit K1" and run["created_by"] == "ola"
    assert any("over Norgesmodellens grense" in x for x in risk.explain(con, "contract", "K1")["explanation_nb"])
    # a failing writer takes the new run with it
    n = len(risk.runs(con, include_pruned=True))
    with pytest.raises(RuntimeError):
        with db.transaction(con):
            hooks.data_changed(con, ANALYST, "doomed")
            raise RuntimeError("import failed")
    assert len(risk.runs(con, include_pruned=True)) == n
    assert audit.entries(con, action="risk_score")["details"].str.contains("doomed").sum() == 0


def test_run_records_versions_and_is_audited(con):
    _small(con)
    dv = db.data_version(con)
    run = score(con, reason="test")
    info = risk.run_info(con, run)
    assert (info["as_of"].isoformat()[:10], info["config_version"], info["data_version"]) == ("2026-09-30", 1, dv)
    assert db.data_version(con) == dv + 1          # a new picture: caches are invalidated
    assert (info["n_contracts"], info["n_suppliers"]) == (1, 1)
    entry = audit.entries(con, action="risk_score").iloc[0]
    assert entry["object_id"] == str(run) and '"config_version": 1' in entry["details"]


def test_past_quarters_are_kept_and_found(con):
    _small(con)
    finding(con, "K1", "high", D(2026, 2, 10))
    q4 = score(con, D(2025, 12, 31), pinned=True)
    q1 = score(con, D(2026, 3, 31), pinned=True)
    now = score(con, D(2026, 9, 30))
    assert risk.current_run_id(con) == now
    assert risk.run_for_period(con, D(2026, 3, 31)) == q1
    assert risk.run_for_period(con, D(2026, 6, 30)) == q1
    assert risk.run_for_period(con, "2025-12-31") == q4
    assert risk.run_for_period(con, D(2025, 6, 30)) is None
    assert risk.previous_run_id(con, now) == q1
    # the finding opened in February is in Q1 and now, not in Q4
    assert not any(risk.explain(con, "contract", "K1", q4)["factor"] == "findings")
    assert any(risk.explain(con, "contract", "K1", q1)["factor"] == "findings")
    changes = risk.level_changes(con, q1, q4)
    assert list(changes["entity_id"]) == ["K1"]
    # re-running a past quarter later never replaces the current picture
    again = score(con, D(2025, 12, 31))
    assert risk.current_run_id(con) == now and risk.run_for_period(con, D(2025, 12, 31)) == again


def test_same_data_same_date_same_numbers(con):
    _small(con)
    a = score(con, D(2026, 6, 30), pinned=True)
    b = score(con, D(2026, 6, 30), pinned=True)
    cols = ["entity_type", "entity_id", "likelihood", "consequence", "level", "required_step", "exposure",
            "likelihood_points", "consequence_points", "spend_12m"]
    assert risk.assessments(con, a)[cols].equals(risk.assessments(con, b)[cols])
    fa = con.execute("SELECT entity_id, factor, points, explanation_nb FROM risk_factors WHERE run_id = ? "
                     "ORDER BY ALL", [a]).fetchall()
    fb = con.execute("SELECT entity_id, factor, points, explanation_nb FROM risk_factors WHERE run_id = ? "
                     "ORDER BY ALL", [b]).fetchall()
    assert fa == fb and fa


def test_superseded_runs_of_a_quarter_are_pruned_unless_pinned(con):
    _small(con)
    pinned = score(con, D(2026, 7, 1), pinned=True)
    r1 = score(con, D(2026, 8, 1))
    r2 = score(con, D(2026, 9, 1))
    other_quarter = score(con, D(2026, 6, 30))
    r3 = score(con, D(2026, 9, 30))
    kept = set(risk.runs(con)["run_id"])
    assert {pinned, other_quarter, r3} <= kept and not {r1, r2} & kept
    assert con.execute("SELECT count(*) FROM risk_factors WHERE run_id IN (?, ?)", [r1, r2]).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM risk_assessments WHERE run_id IN (?, ?)", [r1, r2]).fetchone()[0] == 0
    assert set(risk.runs(con, include_pruned=True)["run_id"]) >= {r1, r2}   # the run rows stay


def test_empty_database_scores_nothing_without_error(con):
    run = score(con)
    assert risk.level_counts(con, run) == {"lav": 0, "middels": 0, "høy": 0}
    assert risk.high_risk_spend_by_category(con, run) == {}
    assert risk.assessments(con).empty


def test_default_as_of_is_today_unless_pinned(con):
    import datetime as dt

    assert risk.default_as_of(con) == dt.date.today()
    db.set_meta(con, "risk_as_of", "2026-09-30")
    assert risk.default_as_of(con) == D(2026, 9, 30)
    run = risk.score_all(con, ANALYST)
    assert risk.run_info(con, run)["as_of"].isoformat()[:10] == "2026-09-30"


def test_a_pinned_run_survives_newer_runs_of_its_quarter(con):
    _small(con)
    r1 = score(con, D(2026, 8, 1))
    with pytest.raises(auth.PermissionDenied):
        risk.pin_run(con, auth.User("liv", "leder"), r1)
    risk.pin_run(con, ANALYST, r1)
    score(con, D(2026, 9, 1))
    assert r1 in set(risk.runs(con)["run_id"])
    assert audit.entries(con, action="risk_pin").iloc[0]["object_id"] == str(r1)


def test_hooks_warm_up_reads_the_risk_reference_tables_ahead():
    """What the first re-score after an upload would read from disk is read by
    ``hooks.warm_up`` (the import calls it while the sheet is still being read)."""
    from akrim_analytics.risk import engine

    engine._nace_names.cache_clear()
    hooks.warm_up()
    assert engine._nace_names.cache_info().currsize == 1
    versions, codes, names = engine._nace_names()
    assert {"SN2007", "SN2025"} <= set(versions) and len(codes) == len(names) > 1000
