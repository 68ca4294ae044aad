"""Evidence for supervision by Arbeidstilsynet: what the municipality did, contract by contract.

Arbeidstilsynet checks that a public buyer has the wage, documentation and sanction
clauses in its contracts and has actually controlled them (forskrift om lønns- og
arbeidsvilkår i offentlige kontrakter § 7; domain.md §2.3). This export lists, for
**every contract the regulation covers** (``covered`` in the risk run — services and
building/construction above the threshold in force on the start date, or in an
allmenngjort industry at any value; the run holds contracts running on its date or
ended in the 12 months before):

* whether the wage clause and the seriousness clauses are in it (Ja / Nei / Ukjent);
* its documented risk assessment: level, likelihood, consequence, required DFØ step,
  every factor line behind the scores, the assessment date and the risk-configuration
  version;
* every control performed (date, DFØ step, outcome, documents), and
* every finding with the reaction or sanction.

The workbook is stamped with the data version and risk run and the export is
audit-logged. It reflects the database at the moment of export (``as_of`` picks the
risk run in force on an earlier date and leaves out later controls).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from .. import db, export, fmt, risk
from ..auth import User, require
from ..i18n import t
from . import labels as L
from .dataset import SANCTION_ACTIONS

EVIDENCE_TABLES: dict[str, list[tuple[str, str]]] = {
    "contracts": [("contract_id", "text"), ("contract_name", "text"), ("supplier_name", "text"), ("orgnr", "text"),
                  ("department", "text"), ("responsible", "text"), ("start_date", "date"), ("end_date", "date"),
                  ("estimated_value", "nok"), ("contract_kind", "code:contract_kind"), ("threshold_nok", "nok"),
                  ("wage_clause", "bool3"), ("seriousness_clause", "bool3"), ("level", "level"),
                  ("likelihood", "int"), ("consequence", "int"), ("required_step", "step"),
                  ("factors_nb", "text"), ("factors_en", "text"), ("assessed_on", "date"),
                  ("config_version", "int"), ("run_id", "int"), ("controls_done", "int"),
                  ("last_control_date", "date"), ("deepest_step", "step"), ("required_met", "bool3"),
                  ("findings", "int"), ("open_findings", "int"), ("sanctions", "int")],
    "factors": [("contract_id", "text"), ("contract_name", "text"), ("dimension", "code:dimension"),
                ("factor", "text"), ("points", "num"), ("explanation_nb", "text"), ("explanation_en", "text"),
                ("unknown", "bool"), ("source", "text")],
    "controls": [("contract_id", "text"), ("contract_name", "text"), ("supplier_name", "text"),
                 ("control_id", "int"), ("step", "step"), ("planned_date", "date"), ("done_date", "date"),
                 ("performed_by", "text"), ("outcome", "code:outcome"), ("status", "code:status"),
                 ("documents_requested", "text"), ("documents_received", "text"), ("findings", "int"),
                 ("note", "text")],
    "findings": [("contract_id", "text"), ("supplier_name", "text"), ("control_id", "int"), ("finding_id", "int"),
                 ("finding_type", "code:finding_type"), ("severity", "code:severity"), ("description", "text"),
                 ("action", "code:action"), ("sanction", "bool"), ("sanction_amount", "nok"), ("action_deadline", "date"),
                 ("status", "code:status"), ("opened_date", "date"), ("closed_date", "date")],
}
SUMMARY_KEYS = ("covered_contracts", "wage_clause_yes", "wage_clause_no", "wage_clause_unknown",
                "seriousness_clause_yes", "seriousness_clause_no", "seriousness_clause_unknown",
                "assessed", "required_met", "controls", "findings", "sanctions")


@dataclass
class Evidence:
    meta: dict
    summary: dict[str, int]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _covered_cte() -> str:
    return """cov AS (SELECT a.* FROM risk_assessments a
                      WHERE a.run_id = ? AND a.entity_type = 'contract' AND a.covered)"""


def build(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> Evidence:
    """The evidence from the risk run in force on ``as_of`` (default: the current run),
    with the controls and findings up to that date. Read-only."""
    run_id = risk.current_run_id(con) if as_of is None else risk.run_for_period(con, as_of)
    info = risk.run_info(con, run_id) if run_id is not None else None
    cutoff = as_of or dt.date.today()
    if info is not None and as_of is None:
        cutoff = max(info["as_of"], dt.date.today())
    meta = {"run_id": run_id, "as_of": info["as_of"] if info else None,
            "config_version": info["config_version"] if info else None, "cutoff": cutoff,
            "data_version": db.data_version(con), "municipality": db.get_meta(con, "municipality") or "",
            "generated_at": dt.datetime.now().replace(microsecond=0)}
    cov = _covered_cte()
    contracts = con.execute(
        f"""WITH {cov},
            fac AS (SELECT entity_id,
                           string_agg(explanation_nb, '; ' ORDER BY CASE dimension WHEN 'likelihood' THEN 0 ELSE 1 END,
                                      sort_order, explanation_nb) FILTER (WHERE points <> 0 OR coalesce(unknown, false)) AS factors_nb,
                           string_agg(explanation_en, '; ' ORDER BY CASE dimension WHEN 'likelihood' THEN 0 ELSE 1 END,
                                      sort_order, explanation_nb) FILTER (WHERE points <> 0 OR coalesce(unknown, false)) AS factors_en
                    FROM risk_factors WHERE run_id = ? AND entity_type = 'contract' GROUP BY entity_id),
            ctl AS (SELECT contract_id, count(*) AS controls_done, max(done_date) AS last_control_date,
                           max(step) AS deepest_step,
                           max(step) FILTER (WHERE done_date > ? - INTERVAL 12 MONTH) AS deepest_12m
                    FROM controls WHERE done_date IS NOT NULL AND done_date <= ?
                         AND coalesce(outcome, '') <> 'not_done' GROUP BY contract_id),
            fnd AS (SELECT contract_id, count(*) AS findings,
                           count(*) FILTER (WHERE (closed_date IS NULL AND status <> 'closed')
                                            OR closed_date > ?) AS open_findings,
                           count(*) FILTER (WHERE list_contains(?, action)) AS sanctions
                    FROM findings WHERE opened_date <= ? GROUP BY contract_id)
            SELECT cov.entity_id AS contract_id, k.name AS contract_name, s.name AS supplier_name, s.orgnr,
                   concat_ws(' ', k.department, d.name) AS department, k.responsible, k.start_date, k.end_date,
                   k.estimated_value, cov.contract_kind, cov.threshold_nok, k.wage_clause, k.seriousness_clause,
                   cov.level, cov.likelihood, cov.consequence, cov.required_step, fac.factors_nb, fac.factors_en,
                   r.as_of AS assessed_on, r.config_version, r.run_id,
                   coalesce(ctl.controls_done, 0) AS controls_done, ctl.last_control_date, ctl.deepest_step,
                   coalesce(ctl.deepest_12m, 0) >= cov.required_step AS required_met,
                   coalesce(fnd.findings, 0) AS findings, coalesce(fnd.open_findings, 0) AS open_findings,
                   coalesce(fnd.sanctions, 0) AS sanctions
            FROM cov JOIN risk_runs r ON r.run_id = cov.run_id
            LEFT JOIN contracts k ON k.contract_id = cov.entity_id
            LEFT JOIN suppliers s ON s.supplier_id = coalesce(k.supplier_id, cov.supplier_id)
            LEFT JOIN departments d ON d.code = k.department
            LEFT JOIN fac ON fac.entity_id = cov.entity_id
            LEFT JOIN ctl ON ctl.contract_id = cov.entity_id
            LEFT JOIN fnd ON fnd.contract_id = cov.entity_id
            ORDER BY k.department NULLS LAST, cov.entity_id""",
        [run_id, run_id, cutoff, cutoff, cutoff, list(SANCTION_ACTIONS), cutoff]).df()
    factors = con.execute(
        f"""WITH {cov}
            SELECT f.entity_id AS contract_id, k.name AS contract_name, f.dimension, f.factor, f.points,
                   f.explanation_nb, f.explanation_en, coalesce(f.unknown, false) AS unknown, f.source
            FROM risk_factors f JOIN cov ON cov.entity_id = f.entity_id
            LEFT JOIN contracts k ON k.contract_id = f.entity_id
            WHERE f.run_id = ? AND f.entity_type = 'contract'
            ORDER BY f.entity_id, CASE f.dimension WHEN 'likelihood' THEN 0 ELSE 1 END, f.sort_order, f.factor""",
        [run_id, run_id]).df()
    controls = con.execute(
        f"""WITH {cov},
            nf AS (SELECT control_id, count(*) AS findings FROM findings GROUP BY control_id)
            SELECT c.contract_id, k.name AS contract_name, s.name AS supplier_name, c.control_id, c.step,
                   c.planned_date, c.done_date, c.performed_by, c.outcome, c.status,
                   array_to_string(c.documents_requested, ', ') AS documents_requested,
                   array_to_string(c.documents_received, ', ') AS documents_received,
                   coalesce(nf.findings, 0) AS findings, c.note
            FROM controls c JOIN cov ON cov.entity_id = c.contract_id
            LEFT JOIN contracts k ON k.contract_id = c.contract_id
            LEFT JOIN suppliers s ON s.supplier_id = k.supplier_id
            LEFT JOIN nf ON nf.control_id = c.control_id
            WHERE c.done_date IS NOT NULL AND c.done_date <= ?
            ORDER BY c.contract_id, c.done_date, c.control_id""", [run_id, cutoff]).df()
    findings = con.execute(
        f"""WITH {cov}
            SELECT x.contract_id, s.name AS supplier_name, x.control_id, x.finding_id, x.finding_type, x.severity,
                   x.description, x.action, list_contains(?, x.action) AS sanction, x.sanction_amount,
                   x.action_deadline,
                   CASE WHEN x.closed_date IS NOT NULL AND x.closed_date > ? THEN 'open' ELSE x.status END AS status,
                   x.opened_date, CASE WHEN x.closed_date <= ? THEN x.closed_date END AS closed_date
            FROM findings x JOIN cov ON cov.entity_id = x.contract_id
            LEFT JOIN contracts k ON k.contract_id = x.contract_id
            LEFT JOIN suppliers s ON s.supplier_id = k.supplier_id
            WHERE x.opened_date <= ?
            ORDER BY x.contract_id, x.opened_date, x.finding_id""",
        [run_id, list(SANCTION_ACTIONS), cutoff, cutoff, cutoff]).df()
    summary = _summary(contracts, controls, findings)
    return Evidence(meta, summary, {"contracts": contracts, "factors": factors, "controls": controls,
                                    "findings": findings})


def _summary(contracts: pd.DataFrame, controls: pd.DataFrame, findings: pd.DataFrame) -> dict[str, int]:
    def count(col, value):
        s = contracts[col]
        return int(s.isna().sum()) if value is None else int((s == value).fillna(False).sum())

    return {
        "covered_contracts": len(contracts),
        "wage_clause_yes": count("wage_clause", True), "wage_clause_no": count("wage_clause", False),
        "wage_clause_unknown": count("wage_clause", None),
        "seriousness_clause_yes": count("seriousness_clause", True),
        "seriousness_clause_no": count("seriousness_clause", False),
        "seriousness_clause_unknown": count("seriousness_clause", None),
        "assessed": int(contracts["level"].notna().sum()),
        "required_met": int(contracts["required_met"].fillna(False).astype(bool).sum()),
        "controls": len(controls), "findings": len(findings),
        "sanctions": int(findings["sanction"].fillna(False).astype(bool).sum()) if len(findings) else 0,
    }


def stamp_text(ev: Evidence, lang: str | None = None) -> str:
    m = ev.meta
    return t("report.evidence.stamp", lang, generated=fmt.datetime(m["generated_at"]), data_version=m["data_version"],
             run_id=m["run_id"] if m["run_id"] is not None else "–",
             as_of=fmt.date(m["as_of"]) if m["as_of"] else "–",
             config_version=m["config_version"] if m["config_version"] is not None else "–",
             cutoff=fmt.date(m["cutoff"]))


def render(ev: Evidence, lang: str = "nb") -> bytes:
    """The evidence workbook: a summary sheet, then contracts, risk factors, controls and findings."""
    from .workbook import Writer

    stamp = stamp_text(ev, lang)
    title = t("report.evidence.title", lang)
    w = Writer(properties={"title": title, "subject": "Arbeidstilsynet", "comments": stamp, "category": "A-krim",
                           "keywords": f"data_version={ev.meta['data_version']}; risk_run_id={ev.meta['run_id']}; "
                                       f"risk_config_version={ev.meta['config_version']}",
                           "created": ev.meta["generated_at"]},
               custom={"data_version": int(ev.meta["data_version"]), "risk_run_id": ev.meta["run_id"],
                       "risk_config_version": ev.meta["config_version"]})
    rows = [(t(f"report.evidence.summary.{k}", lang), ev.summary[k]) for k in SUMMARY_KEYS]
    ws = w.add_table(t("report.evidence.sheet.summary", lang), f"{title} – {ev.meta['municipality']}".strip(" –"),
                     stamp, [(t("report.about.key", lang), "text", "k"), (t("report.evidence.count", lang), "int", "v")],
                     rows, lang, widths={0: 60, 1: 14})
    r = 4 + len(rows) + 1
    for i, line in enumerate(t("report.evidence.explain", lang).split("\n")):
        ws.write_string(r + i, 0, line, w.fmt["text"])
    for name in ("contracts", "factors", "controls", "findings"):
        other = "_en" if lang == "nb" else "_nb"
        cols = [(c, k) for c, k in EVIDENCE_TABLES[name] if not c.endswith(other)]
        columns = [(t(f"report.evidence.col.{L.base_name(c) if c.endswith(('_nb', '_en')) else c}", lang), k, c)
                   for c, k in cols]
        df = ev.tables[name]
        w.add_table(t(f"report.evidence.sheet.{name}", lang), f"{title}: {t(f'report.evidence.sheet.{name}', lang)}",
                    stamp, columns, list(df[[c for c, _ in cols]].itertuples(index=False, name=None)), lang)
    return w.close()


def file_name(ev: Evidence, lang: str = "nb") -> str:
    day = ev.meta["cutoff"].isoformat() if isinstance(ev.meta["cutoff"], dt.date) else str(ev.meta["cutoff"])
    return f"{'dokumentasjon-tilsyn' if lang == 'nb' else 'supervision-evidence'}-{day}.xlsx"


def export_evidence(con: duckdb.DuckDBPyConnection, user: User, *, as_of: dt.date | None = None,
                    lang: str = "nb") -> tuple[bytes, str, Evidence]:
    """Build, render and audit-log (action ``export``) the evidence workbook."""
    require(user, "leder", "export the supervision evidence")
    ev = build(con, as_of)
    data = render(ev, lang)
    record(con, user, ev)
    return data, file_name(ev, lang), ev


def record(con: duckdb.DuckDBPyConnection, user: User, ev: Evidence) -> None:
    """The audit entry for one download of the evidence (action ``export``)."""
    export.record_export(con, user, "supervision_evidence", "xlsx", rows=ev.summary["covered_contracts"],
                         details={"data_version": ev.meta["data_version"], "risk_run_id": ev.meta["run_id"],
                                  "risk_config_version": ev.meta["config_version"],
                                  "cutoff": ev.meta["cutoff"].isoformat()})
