"""Configuration: validation, TOML round trip, versions, audit log, role refusal, and
that a changed weight changes exactly the scores it should."""
from __future__ import annotations

import json

import pytest

from akrim_analytics import audit, auth, risk
from akrim_analytics.auth import SYSTEM
from akrim_analytics.risk import config as rconfig
from risk_data import D, contract, finding, score, spend, supplier

ADMIN = auth.User("anne", "admin")
ANALYST = auth.User("ola", "analytiker")
LEADER = auth.User("liv", "leder")


def _portfolio(con):
    """A few suppliers and contracts that differ in exactly the factors the tests change."""
    supplier(con, "REN", nace_code="81.210", nace_version="SN2007")          # cleaning
    supplier(con, "REN25", nace_code="81.210", nace_version="SN2025")        # cleaning, new codes
    supplier(con, "BYG", nace_code="43.210", nace_version="SN2007")          # construction
    supplier(con, "IT")                                                      # not exposed
    supplier(con, "NEW", nace_code="81.220", nace_version="SN2025")          # cleaning, no contract
    contract(con, "K-REN", "REN", labour_intensive=True, estimated_value=3_000_000)
    contract(con, "K-REN25", "REN25", labour_intensive=True, estimated_value=500_000)
    contract(con, "K-BYG", "BYG", labour_intensive=True, estimated_value=8_000_000, subcontractor_levels=3)
    contract(con, "K-IT", "IT", estimated_value=4_000_000)
    spend(con, "REN", 900_000, D(2026, 3, 1), "K-REN")
    spend(con, "BYG", 2_000_000, D(2026, 3, 1), "K-BYG")
    spend(con, "IT", 700_000, D(2026, 3, 1), "K-IT")
    spend(con, "NEW", 120_000, D(2026, 3, 1))
    finding(con, "K-BYG", "medium", D(2026, 2, 1))


def _scores(con, run_id):
    return {(r[0], r[1]): r[2:] for r in con.execute(
        """SELECT entity_type, entity_id, likelihood_points, consequence_points, likelihood, consequence, level
           FROM risk_assessments WHERE run_id = ?""", [run_id]).fetchall()}


def test_default_configuration_is_valid_and_round_trips_through_toml():
    cfg = risk.default_config()
    assert rconfig.validate(cfg) == []
    assert rconfig.parse_toml(rconfig.to_toml(cfg)) == cfg
    # the unverified municipal threshold from 2024 is there, and says so
    t2024 = [t for t in cfg["thresholds"] if t["from"] == "2024-03-14"][0]
    assert t2024["municipal"] == 2_300_000 and t2024["verified"] is False and "UNVERIFIED" in t2024["source"]


@pytest.mark.parametrize("change,message", [
    (lambda c: c["levels"]["matrix"][2].__setitem__(1, "rød"), "likelihood 3, consequence 2"),
    (lambda c: c["scoring"].__setitem__("likelihood_bands", [3, 2, 4, 5]), "strictly ascending"),
    (lambda c: c["thresholds"].reverse(), "dates must be ascending"),
    (lambda c: c["industries"][0].__setitem__("sn2025", ["4x"]), "NACE prefixes"),
    (lambda c: c["control"].__setitem__("middels", 4), "control.middels"),
    (lambda c: c["indicators"]["labour"].__setitem__("points", "mye"), "indicators.labour.points"),
    (lambda c: c["general"].__setitem__("authority", "fylke"), "general.authority"),
    (lambda c: c["indicators"]["spend"].__setitem__("bands", [[5, 1], [2, 2]]), "bands must be ascending"),
])
def test_validation_names_the_setting(change, message):
    cfg = risk.default_config()
    change(cfg)
    errors = rconfig.validate(cfg)
    assert any(message in e for e in errors), errors


def test_only_admin_may_change_settings(con):
    _portfolio(con)
    score(con)
    cfg = risk.load_config(con)
    cfg["indicators"]["labour"]["points"] = 5.0
    n_versions, n_audit = len(risk.versions(con)), len(audit.entries(con))
    for user in (ANALYST, LEADER, None):
        with pytest.raises(auth.PermissionDenied):
            risk.save_config(con, user, cfg)
    assert len(risk.versions(con)) == n_versions and len(audit.entries(con)) == n_audit
    assert risk.load_config(con)["indicators"]["labour"]["points"] == 1.0
    # scoring is an analyst's (and a leader may not start it)
    with pytest.raises(auth.PermissionDenied):
        risk.score_all(con, LEADER)
    risk.score_all(con, ANALYST)


def test_changing_an_industry_weight_changes_exactly_the_cleaning_scores(con):
    _portfolio(con)
    before_run = score(con)
    before = _scores(con, before_run)
    cfg = risk.load_config(con)
    ren = next(i for i in cfg["industries"] if i["key"] == "renhold")
    ren["points"] = 3.0
    version = risk.save_config(con, ADMIN, cfg, "renhold tyngre")
    after_run = risk.current_run_id(con)
    assert after_run != before_run
    assert risk.run_info(con, after_run)["config_version"] == version
    after = _scores(con, after_run)
    assert set(after) == set(before)
    cleaning = {("contract", "K-REN"), ("supplier", "REN"), ("contract", "K-REN25"), ("supplier", "REN25"),
                ("supplier", "NEW")}
    for key in before:
        lp0, cp0 = before[key][:2]
        lp1, cp1 = after[key][:2]
        assert cp1 == cp0, key
        assert lp1 == pytest.approx(lp0 + (1.0 if key in cleaning else 0.0)), key
    # the explanation line says so
    line = risk.explain(con, "contract", "K-REN")
    assert "Renhold (NACE 81.210) – allmenngjort bransje: +3 sannsynlighet" in line["explanation_nb"].tolist()
    # audit-logged with what changed
    entry = audit.entries(con, action="settings").iloc[0]
    assert entry["username"] == "anne" and entry["object_id"] == str(version)
    details = json.loads(entry["details"])
    assert details["note"] == "renhold tyngre" and details["previous_version"] == version - 1
    assert {"path": f"industries[{cfg['industries'].index(ren)}].points", "old": 2.0, "new": 3.0} \
        in details["changes"]
    assert details["n_changes"] == 1


def test_changing_an_indicator_weight_changes_only_entities_with_that_line(con):
    _portfolio(con)
    before = _scores(con, score(con))
    cfg = risk.load_config(con)
    cfg["indicators"]["subcontractors"]["over_limit_points"] = 5.0      # 3 → 5
    risk.save_config(con, ADMIN, cfg)
    after = _scores(con, risk.current_run_id(con))
    changed = {k for k in before if after[k][0] != before[k][0]}
    assert changed == {("contract", "K-BYG"), ("supplier", "BYG")}
    assert after[("contract", "K-BYG")][0] == pytest.approx(before[("contract", "K-BYG")][0] + 2)


def test_unchanged_or_invalid_settings_store_nothing(con):
    _portfolio(con)
    score(con)
    v = risk.config_version(con)
    n_runs = len(risk.runs(con, include_pruned=True))
    assert risk.save_config(con, ADMIN, risk.load_config(con)) == v
    bad = risk.load_config(con)
    bad["levels"]["matrix"] = [["lav"] * 5] * 4
    with pytest.raises(risk.ConfigError) as e:
        risk.save_config(con, ADMIN, bad)
    assert "5 rows of 5" in str(e.value)
    assert risk.config_version(con) == v and len(risk.runs(con, include_pruned=True)) == n_runs
    assert audit.entries(con, action="settings").empty


def test_an_old_version_reproduces_its_numbers(con):
    _portfolio(con)
    first = score(con, pinned=True)
    v1 = risk.run_info(con, first)["config_version"]
    cfg = risk.load_config(con)
    cfg["levels"]["matrix"] = [["høy"] * 5 for _ in range(5)]
    risk.save_config(con, ADMIN, cfg)
    assert set(risk.assessments(con)["level"]) == {"høy"}
    again = score(con, config_version=v1)
    cols = ["entity_type", "entity_id", "likelihood", "consequence", "level", "required_step", "exposure"]
    a = risk.assessments(con, first)[cols].sort_values(cols[:2]).reset_index(drop=True)
    b = risk.assessments(con, again)[cols].sort_values(cols[:2]).reset_index(drop=True)
    assert a.equals(b)


def test_default_file_update_becomes_a_new_version_until_an_admin_edits(con, tmp_path, monkeypatch):
    _portfolio(con)
    score(con)
    assert risk.config_version(con) == 1
    text = rconfig.DEFAULT_PATH.read_text(encoding="utf-8").replace("min_invoiced = 50_000", "min_invoiced = 60_000")
    path = tmp_path / "risk_config.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(rconfig, "DEFAULT_PATH", path)
    run = score(con)
    assert risk.run_info(con, run)["config_version"] == 2
    assert risk.load_config(con)["indicators"]["vat"]["min_invoiced"] == 60_000
    # once an admin has saved a version, the file no longer overrides it
    cfg = risk.load_config(con)
    cfg["indicators"]["vat"]["points"] = 1.5
    v = risk.save_config(con, SYSTEM, cfg)
    path.write_text(text.replace("min_invoiced = 60_000", "min_invoiced = 70_000"), encoding="utf-8")
    score(con)
    assert risk.config_version(con) == v
