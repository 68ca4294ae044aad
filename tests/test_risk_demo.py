"""The risk picture of the demo municipality: where høy sits, quarterly history, the
summary CLI, and that every stored score is the sum of its stored lines."""
from __future__ import annotations

import json

from akrim_analytics import risk, summary
from conftest import run_cli

EXPOSED = {"BYGG", "PERSONELL", "TRANSPORT"}


def test_hoy_contracts_sit_in_construction_personnel_and_transport(demo_con):
    a = risk.assessments(demo_con, entity_type="contract")
    hoy = a[a["level"] == "høy"]
    assert len(hoy) >= 100
    share = hoy["category"].isin(EXPOSED).mean()
    assert share >= 0.9, hoy["category"].value_counts().to_dict()
    spend_share = hoy.loc[hoy["category"].isin(EXPOSED), "spend_12m"].sum() / hoy["spend_12m"].sum()
    assert spend_share >= 0.9
    # and the other way round: IT, consumables and administration are mostly lav
    quiet = a[a["category"].isin({"IKT", "FORBRUK", "ADMIN", "KUNNSKAP"})]
    assert (quiet["level"] == "lav").mean() >= 0.8
    # every level is used
    assert set(a["level"]) == {"lav", "middels", "høy"}


def test_demo_has_a_current_run_and_quarter_history(demo_con):
    info = risk.run_info(demo_con)
    assert info["as_of"].isoformat()[:10] == "2026-09-30" and info["pinned"]
    runs = risk.runs(demo_con)
    assert sorted(r.isoformat()[:10] for r in runs["as_of"]) == [
        f"{y}-{md}" for y in (2024, 2025, 2026) for md in ("03-31", "06-30", "09-30", "12-31")
        if f"{y}-{md}" <= "2026-09-30"]
    prev = risk.previous_run_id(demo_con)
    assert risk.run_info(demo_con, prev)["as_of"].isoformat()[:10] == "2026-06-30"
    changes = risk.level_changes(demo_con)
    assert {"up", "down", "same"} <= set(changes["change"])


def test_required_control_follows_coverage_and_level(demo_con):
    a = risk.assessments(demo_con, entity_type="contract")
    covered = a[a["covered"]]
    assert (covered["required_step"] == covered["level"].map({"lav": 1, "middels": 2, "høy": 3})).all()
    assert (a.loc[~a["covered"], "required_step"] == 0).all()
    assert (a.loc[a["contract_kind"] == "goods", "covered"] == False).all()  # noqa: E712
    assert covered["required_step"].isin([1, 2, 3]).all() and len(covered) > 500
    # exposure (NOK for ranking follow-up) is never negative
    assert (a["exposure"] >= 0).all()


def test_stored_scores_are_the_sums_of_the_stored_lines(demo_con):
    run = risk.current_run_id(demo_con)
    bad = demo_con.execute(
        """SELECT count(*) FROM risk_assessments a
           LEFT JOIN (SELECT entity_type, entity_id,
                             coalesce(sum(points) FILTER (WHERE dimension = 'likelihood'), 0) AS lp,
                             coalesce(sum(points) FILTER (WHERE dimension = 'consequence'), 0) AS cp
                      FROM risk_factors WHERE run_id = ? GROUP BY ALL) f USING (entity_type, entity_id)
           WHERE a.run_id = ? AND (abs(a.likelihood_points - coalesce(f.lp, 0)) > 0.001
                                   OR abs(a.consequence_points - coalesce(f.cp, 0)) > 0.001)""",
        [run, run]).fetchone()[0]
    assert bad == 0
    # every contract has its coverage line, and no line lacks a text
    n = demo_con.execute(
        """SELECT count(DISTINCT entity_id) FROM risk_factors
           WHERE run_id = ? AND entity_type = 'contract' AND factor = 'coverage'""", [run]).fetchone()[0]
    assert n == risk.run_info(demo_con, run)["n_contracts"]
    assert demo_con.execute("SELECT count(*) FROM risk_factors WHERE run_id = ? AND "
                            "(explanation_nb = '' OR explanation_en = '')", [run]).fetchone()[0] == 0


def test_unknown_register_data_is_never_shown_as_clean(demo_con):
    run = risk.current_run_id(demo_con)
    missing = demo_con.execute(
        """SELECT count(*) FROM risk_assessments a JOIN suppliers s ON s.supplier_id = a.supplier_id
           WHERE a.run_id = ? AND s.register_extract_date IS NULL""", [run]).fetchone()[0]
    flagged = demo_con.execute(
        """SELECT count(DISTINCT (entity_type, entity_id)) FROM risk_factors
           WHERE run_id = ? AND factor = 'register_unknown' AND unknown""", [run]).fetchone()[0]
    assert missing > 0 and flagged == missing


def test_summary_reports_risk(demo_con):
    data = summary.build(demo_con)
    assert data["risk"] == risk.level_counts(demo_con)
    assert sum(data["risk"].values()) == risk.run_info(demo_con)["n_contracts"]
    hs = data["high_risk_spend_by_category"]
    assert list(hs)[0] == "Bygg, anlegg og infrastruktur"
    a = risk.assessments(demo_con, entity_type="contract")
    assert sum(hs.values()) == __import__("pytest").approx(a.loc[a["level"] == "høy", "spend_12m"].sum())
    assert data["years"]["2025"]["total"] == 4_083_171_000.0       # the calibration is untouched


def test_summary_cli_json(demo_db_copy):
    path = demo_db_copy("risk_summary")
    out = run_cli("summary", "--db", path, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data["risk"]) == {"lav", "middels", "høy"} and data["risk"]["høy"] > 0
    assert set(data["high_risk_spend_by_category"]) <= {
        "Bygg, anlegg og infrastruktur", "Personell", "Transport og renovasjon", "Mat og drikke", "IKT",
        "Forbruksmateriell og utstyr", "Uklassifisert", "Administrasjon og finansielle tjenester",
        "Kunnskap og undervisning"}
