"""Scoring: one run scores every contract and supplier in scope, set-based in SQL.

Steps of ``score_all`` (all inside one transaction):

1. the configuration in force (``config.ensure_config``) and a new ``risk_runs`` row
   with the configuration version, the data version and the as_of date;
2. ``_risk_base`` (a temporary table): one row per entity — every contract running
   on as_of or ended within ``general.ended_within_months`` before it, and every
   supplier with spend in the window or such a contract — with the supplier's
   register data, its industry (NACE, per classification version), the contract's
   CPV match, its kind (works / services / goods), the wage-regulation threshold in
   force and whether the regulation covers it (built in one statement from the CTEs
   ``_risk_sp``, the window's spend per supplier × contract × category × department,
   ``_risk_ss``, each supplier's window spend facts and first invoice — the latter from
   ``supplier_spend_facts``, brought up to date first by ``spendfacts.ensure`` — and
   ``_risk_sup``, the register data);
3. every enabled indicator adds its factor lines (``indicators``), all in one INSERT
   into ``risk_factor_lines``: a UNION ALL of the indicators' SELECTs written as one
   stream in indicator order, with each part's factor key, order, source and
   explanation templates stored once in ``risk_factor_parts`` and each line's entity as
   its number in the run (``entity_no``, from a sequence while ``_risk_base`` is built;
   the assessment stores it too) and its explanation as a template number and values;
   the view ``risk_factors`` joins parts and assessments to show the factor key and the
   entity's type and id, writes the explanation in both languages and adds the points
   text ("+2 sannsynlighet") from each line's points (migrations 0010, 0011, 0012);
4. each assessment is computed from those stored points only:
   likelihood = 1 + number of ``scoring.likelihood_bands`` the likelihood points
   reach (same for consequence), level = ``levels.matrix[likelihood][consequence]``,
   required_step = ``control[level]`` when covered, else 0;
5. superseded runs are pruned (see ``_prune``), the run is audit-logged and the data
   version bumped.

As-of semantics: spend posted after as_of, controls done after it and findings
opened after it are ignored, and a finding closed after as_of counts as open, so a
run for a past quarter end reproduces that quarter. Register data (bankruptcy,
employees …) is the current snapshot: the register keeps no history here.

Exposure (NOK, for ranking follow-up) = max(spend in the last 12 months, annual
contract value) × likelihood / 5, where annual contract value = estimated value /
contract years (at least one year; the whole value when the dates are missing).
For suppliers it is spend in the last 12 months × likelihood / 5.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
import time
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

import duckdb

from .. import audit, db, spendfacts
from ..auth import User, require
from . import config as rconfig
from .indicators import INDICATORS, MAX_VALUES, Context

# Seconds per stage of the last run in this process (for the benchmark).
LAST_TIMINGS: dict[str, float] = {}

TEMP_TABLES = ("_risk_nace", "_risk_ind", "_risk_cpv", "_risk_cpvdiv", "_risk_goods", "_risk_thr", "_risk_base")


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``db.transaction`` unless a transaction is already open (e.g. when called from a
    data-change hook inside a writer's transaction): then join it. Detected without a
    failing BEGIN, which would abort the open transaction."""
    a = con.execute("SELECT txid_current()").fetchone()[0]
    b = con.execute("SELECT txid_current()").fetchone()[0]
    if a == b:  # same transaction id twice: inside an explicit transaction
        yield con
    else:
        with db.transaction(con):
            yield con


def default_as_of(con: duckdb.DuckDBPyConnection) -> dt.date:
    """Today, unless the database pins the assessment date (meta ``risk_as_of``; the
    demo database pins it to its last day of data)."""
    pinned = db.get_meta(con, "risk_as_of")
    return dt.date.fromisoformat(pinned) if pinned else dt.date.today()


def _months_before(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    last = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
    return dt.date(y, m, min(d.day, last))


def _cpv_divisions() -> tuple[list[str], list[str]]:
    """CPV division → contract kind from the CPV 2008 reference (supplies/works/services)."""
    kinds = {"supplies": "goods", "works": "works", "services": "services"}
    divs, out = [], []
    with (db.DATA_DIR / "reference" / "cpv_2008_divisions_en.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            k = kinds.get(row["contract_type_hint"].strip())
            if k:
                divs.append(row["division"].strip().zfill(2))
                out.append(k)
    return divs, out


@lru_cache(maxsize=1)
def _nace_names() -> tuple[list[str], list[str], list[str]]:
    """(version, code, name) of every SN2007 and SN2025 code, from SSB's Klass files."""
    ver, code, name = [], [], []
    ref = db.DATA_DIR / "reference"
    with (ref / "ssb_sn2007_klass_v30.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter=";"):
            ver.append("SN2007"), code.append(row["code"]), name.append(row["name"])
    with (ref / "ssb_sn2025_klass_v3218.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ver.append("SN2025"), code.append(row["code"]), name.append(row["name"])
    return ver, code, name


# Amounts and dates in explanations given as whole texts; the view's risk_fill (migration
# 0012; 0013: the same Norwegian forms in English) formats the values of template lines the
# same way (tests/test_risk_explanation_store.py compares the two).
_MACROS = [m for lang in ("nb", "en") for m in (
    f"CREATE OR REPLACE TEMP MACRO risk_nok_{lang}(x) AS format('{{:t .0f}}', CAST(x AS DOUBLE)) || ' kr'",
    f"CREATE OR REPLACE TEMP MACRO risk_d_{lang}(d) AS strftime(CAST(d AS DATE), '%d.%m.%Y')")] + [
    # A sum of kroner amounts back in the stored amounts' type: DuckDB widens a sum of
    # DECIMAL(18, 2) to DECIMAL(38, 2), a 128-bit integer, and every later sum, join and
    # comparison of it (and the base table's column) works on 16 bytes instead of 8;
    # ~6 % of the base table's cost. 18 digits hold 10^16 kr, far beyond any ledger.
    "CREATE OR REPLACE TEMP MACRO risk_nok18(x) AS CAST(x AS DECIMAL(18, 2))"]


def _load_config_tables(con, cfg: dict) -> None:
    g = cfg["general"]
    ind_rows = [(i["key"], i["name_nb"], i["name_en"], ver.upper(), p, i["allmenngjort"], float(i["points"]))
                for i in cfg["industries"] for ver in ("sn2007", "sn2025") for p in i[ver]]
    cols = list(zip(*ind_rows)) if ind_rows else [[]] * 7
    _x(con,
        """CREATE TEMP TABLE _risk_ind AS
           SELECT unnest($k::VARCHAR[]) AS key, unnest($nb::VARCHAR[]) AS name_nb, unnest($en::VARCHAR[]) AS name_en,
                  unnest($v::VARCHAR[]) AS version, unnest($p::VARCHAR[]) AS prefix,
                  unnest($a::VARCHAR[]) AS allmenngjort, unnest($pts::DOUBLE[]) AS points""",
        {"k": list(cols[0]), "nb": list(cols[1]), "en": list(cols[2]), "v": list(cols[3]), "p": list(cols[4]),
         "a": list(cols[5]), "pts": list(cols[6])},
    )
    cpv = cfg["cpv_risk"]
    _x(con,
        """CREATE TEMP TABLE _risk_cpv AS
           SELECT unnest($p::VARCHAR[]) AS prefix, unnest($nb::VARCHAR[]) AS name_nb,
                  unnest($en::VARCHAR[]) AS name_en, unnest($pts::DOUBLE[]) AS points""",
        {"p": [r["prefix"] for r in cpv], "nb": [r["name_nb"] for r in cpv], "en": [r["name_en"] for r in cpv],
         "pts": [float(r["points"]) for r in cpv]},
    )
    ver, code, name = _nace_names()
    _x(con, """CREATE TEMP TABLE _risk_nace AS SELECT unnest($v::VARCHAR[]) AS version,
                   unnest($c::VARCHAR[]) AS code, unnest($n::VARCHAR[]) AS name""", {"v": ver, "c": code, "n": name})
    divs, kinds = _cpv_divisions()
    _x(con, "CREATE TEMP TABLE _risk_cpvdiv AS SELECT unnest($d::VARCHAR[]) AS division, unnest($k::VARCHAR[]) AS kind",
                {"d": divs, "k": kinds})
    _x(con, "CREATE TEMP TABLE _risk_goods AS SELECT unnest($p::VARCHAR[]) AS prefix",
                {"p": list(g["goods_nace_prefixes"])})
    auth = g["authority"]
    th = cfg["thresholds"]
    _x(con,
        """CREATE TEMP TABLE _risk_thr AS
           SELECT CAST(unnest($f::VARCHAR[]) AS DATE) AS from_date, unnest($a::DOUBLE[]) AS amount,
                  unnest($v::BOOLEAN[]) AS verified""",
        {"f": [t["from"] for t in th], "a": [float(t[auth]) for t in th], "v": [bool(t["verified"]) for t in th]},
    )


def _build_base(con, cfg: dict, as_of: dt.date, win_start: dt.date, ended_after: dt.date) -> None:
    g = cfg["general"]
    p = {"as_of": as_of, "win": win_start}
    # One statement, so DuckDB keeps the intermediate sets (named like the temporary
    # tables they used to be) as CTEs and materialises only the columns used:
    # _risk_sp: spend in the window per supplier × contract × category × department;
    # _risk_sup: suppliers with their industry — the longest NACE prefix of the
    #   supplier's own classification, matched once per distinct code, not per supplier;
    # _risk_ss: supplier-level spend facts, once for contracts and suppliers: spend in
    #   the window, the part without a contract, the first invoice, and the category and
    #   department of the supplier's largest category × department spend in the window;
    # cbase: contracts in scope, enriched; sbase: suppliers with spend in the window or
    #   a contract in scope (aggregating their contracts' rows from cbase).
    sup_cols = """sp.orgnr, sp.nace_code, sp.nace_ver, sp.org_form, sp.founded_date, sp.registered_date,
                  sp.vat_registered, sp.employees, sp.bankrupt, sp.under_liquidation, sp.forced_dissolution,
                  sp.deleted_date, sp.last_accounts_year, sp.ind_key, sp.ind_nb, sp.ind_en,
                  sp.ind_allm, coalesce(sp.ind_points, 0) AS ind_points, coalesce(sp.nace_goods, false) AS nace_goods,
                  coalesce(sp.has_register, false) AS has_register, sp.nace_name"""
    cov_params = {"allm_any": bool(g["allmenngjort_any_value"])}
    con.execute("CREATE OR REPLACE TEMP SEQUENCE _risk_entity_seq START 1")
    _x(con,
        f"""CREATE TEMP TABLE _risk_base AS
        WITH _risk_sp AS (
           SELECT supplier_id, contract_id, category, department, risk_nok18(sum(amount)) AS spend_12m
           FROM spend WHERE posting_date <= $as_of AND posting_date > $win
           GROUP BY ALL),
        _risk_sup AS (
           WITH s AS (
               SELECT supplier_id, orgnr, nace_code, org_form, founded_date, registered_date, vat_registered,
                      employees, bankrupt, under_liquidation, forced_dissolution, deleted_date, last_accounts_year,
                      register_extract_date, coalesce(nace_version, $defver) AS nace_ver
               FROM suppliers),
           codes AS (SELECT DISTINCT nace_ver, nace_code FROM s WHERE nace_code IS NOT NULL),
           ind AS (
               SELECT c.nace_ver, c.nace_code,
                      arg_max({{'key': i.key, 'nb': i.name_nb, 'en': i.name_en, 'allm': i.allmenngjort,
                               'points': i.points}}, length(i.prefix)) AS m
               FROM codes c JOIN _risk_ind i ON i.version = c.nace_ver AND starts_with(c.nace_code, i.prefix)
               GROUP BY ALL),
           goods AS (
               SELECT DISTINCT c.nace_code FROM codes c JOIN _risk_goods gp ON starts_with(c.nace_code, gp.prefix))
           SELECT s.*, ind.m.key AS ind_key, ind.m.nb AS ind_nb, ind.m.en AS ind_en, ind.m.allm AS ind_allm,
                  ind.m.points AS ind_points, goods.nace_code IS NOT NULL AS nace_goods,
                  s.register_extract_date IS NOT NULL AS has_register, nn.name AS nace_name
           FROM s LEFT JOIN ind ON ind.nace_ver = s.nace_ver AND ind.nace_code = s.nace_code
           LEFT JOIN goods ON goods.nace_code = s.nace_code
           LEFT JOIN _risk_nace nn ON nn.version = s.nace_ver AND nn.code = s.nace_code),
        _risk_ss AS (
           WITH g AS (
               SELECT supplier_id, category, department, risk_nok18(sum(spend_12m)) AS amt,
                      risk_nok18(sum(spend_12m) FILTER (WHERE contract_id IS NULL)) AS nc
               FROM _risk_sp WHERE supplier_id IS NOT NULL GROUP BY ALL),
           w AS (
               SELECT supplier_id, risk_nok18(sum(amt)) AS sup_spend_12m, risk_nok18(sum(nc)) AS nocontract_12m,
                      arg_max(category, amt) AS category, arg_max(department, amt) AS department
               FROM g GROUP BY supplier_id),
           f AS (
               -- the earliest posting up to as_of is the supplier's earliest posting when
               -- that is on or before as_of (kept by spendfacts.ensure), else there is none
               SELECT supplier_id, first_posting AS first_invoice
               FROM supplier_spend_facts WHERE first_posting <= $as_of)
           SELECT f.supplier_id, coalesce(w.sup_spend_12m, 0) AS sup_spend_12m,
                  coalesce(w.nocontract_12m, 0) AS nocontract_12m, f.first_invoice,
                  w.sup_spend_12m IS NOT NULL AND w.sup_spend_12m <> 0 AS has_spend,
                  w.category, w.department
           FROM f LEFT JOIN w ON w.supplier_id = f.supplier_id),
        cbase AS (
            WITH c AS (
                SELECT c.*, (c.end_date IS NULL OR c.end_date >= $as_of) AS active,
                       coalesce(cs.spend_12m, 0) AS spend_12m, coalesce(c.start_date, $as_of) AS ref_date
                FROM contracts c
                LEFT JOIN (SELECT contract_id, risk_nok18(sum(spend_12m)) AS spend_12m FROM _risk_sp
                           WHERE contract_id IS NOT NULL GROUP BY contract_id) cs USING (contract_id)
                WHERE coalesce(c.start_date, DATE '1900-01-01') <= $as_of
                  AND coalesce(c.end_date, DATE '9999-12-31') >= $ended_after),
            cpvm AS (
                SELECT c.contract_id,
                       arg_max({{'prefix': r.prefix, 'nb': r.name_nb, 'en': r.name_en, 'points': r.points}},
                               length(r.prefix)) AS m
                FROM c JOIN _risk_cpv r ON starts_with(c.cpv, r.prefix) GROUP BY c.contract_id),
            e AS (
                SELECT 'contract' AS entity_type, c.contract_id AS entity_id, c.contract_id,
                       c.supplier_id, c.category, c.department, c.active, false AS no_contract, 1 AS n_contracts,
                       c.start_date, c.end_date, c.estimated_value, c.cpv, c.labour_intensive AS labour_raw,
                       c.subcontractor_levels, c.foreign_workers, c.workers, c.wage_clause, c.seriousness_clause,
                       c.spend_12m, coalesce(ss.sup_spend_12m, 0) AS sup_spend_12m,
                       coalesce(ss.nocontract_12m, 0) AS nocontract_12m, ss.first_invoice, c.ref_date,
                       {sup_cols},
                       cpvm.m.prefix AS cpv_prefix, cpvm.m.nb AS cpv_nb, cpvm.m.en AS cpv_en,
                       coalesce(cpvm.m.points, 0) AS cpv_points, d.kind AS cpv_kind
                FROM c
                LEFT JOIN _risk_sup sp ON sp.supplier_id = c.supplier_id
                LEFT JOIN _risk_ss ss ON ss.supplier_id = c.supplier_id
                LEFT JOIN cpvm ON cpvm.contract_id = c.contract_id
                LEFT JOIN _risk_cpvdiv d ON d.division = left(c.cpv, 2)),
            k AS (
                SELECT e.*,
                       CASE WHEN cpv_kind IS NOT NULL THEN cpv_kind
                            WHEN labour_raw THEN 'services'
                            WHEN nace_goods THEN 'goods'
                            WHEN nace_code IS NOT NULL THEN 'services'
                       END AS kind,
                       CASE WHEN cpv_kind IS NOT NULL THEN 'cpv' WHEN labour_raw THEN 'labour'
                            WHEN nace_code IS NOT NULL THEN 'nace' END AS kind_source
                FROM e),
            t AS (
                SELECT k.*, t.from_date AS thr_from, t.amount AS thr_amount, t.verified AS thr_verified
                FROM k ASOF LEFT JOIN _risk_thr t ON k.ref_date >= t.from_date),
            t2 AS (
                SELECT t.* REPLACE (
                           coalesce(thr_from, (SELECT min(from_date) FROM _risk_thr)) AS thr_from,
                           coalesce(thr_amount, (SELECT arg_min(amount, from_date) FROM _risk_thr)) AS thr_amount,
                           coalesce(thr_verified, (SELECT arg_min(verified, from_date) FROM _risk_thr)) AS thr_verified),
                       greatest(estimated_value, spend_12m) AS value_basis
                FROM t),
            t3 AS (
                SELECT t2.*,
                       CASE WHEN kind = 'goods' THEN 'goods'
                            WHEN value_basis >= thr_amount THEN 'above'
                            WHEN estimated_value IS NULL THEN 'value_unknown'
                            WHEN ind_allm = 'ja' AND $allm_any THEN 'allmenngjort'
                            ELSE 'below' END AS coverage_reason,
                       coalesce(labour_raw,
                                CASE WHEN kind = 'goods' THEN false WHEN ind_key IS NOT NULL THEN true END) AS labour_eff,
                       labour_raw IS NULL AND kind IS DISTINCT FROM 'goods' AND ind_key IS NOT NULL
                           AS labour_from_industry
                FROM t2)
            SELECT t3.*, coverage_reason IN ('above', 'value_unknown', 'allmenngjort') AS covered,
                   NULL::BIGINT AS n_covered, NULL::BOOLEAN AS labour_eff_c
            FROM t3),
        sbase AS (
            WITH ids AS (
                SELECT supplier_id FROM _risk_ss WHERE has_spend
                UNION SELECT supplier_id FROM cbase WHERE supplier_id IS NOT NULL),
            cc AS (
                SELECT supplier_id, count(*) AS n_contracts, bool_or(active) AS any_active,
                       arg_max(category, coalesce(estimated_value, 0)) AS category,
                       arg_max(department, coalesce(estimated_value, 0)) AS department,
                       min(start_date) AS start_date, max(end_date) AS end_date,
                       risk_nok18(sum(estimated_value)) AS estimated_value,
                       arg_max(cpv, coalesce(estimated_value, 0)) AS cpv,
                       bool_or(labour_raw) AS labour_raw, max(subcontractor_levels) AS subcontractor_levels,
                       bool_or(foreign_workers) AS foreign_workers, CAST(sum(workers) AS BIGINT) AS workers,
                       bool_and(wage_clause) AS wage_clause, bool_and(seriousness_clause) AS seriousness_clause,
                       arg_max({{'prefix': cpv_prefix, 'nb': cpv_nb, 'en': cpv_en, 'points': cpv_points}},
                               cpv_points) AS cpvm,
                       CASE WHEN bool_or(kind = 'works') THEN 'works' WHEN bool_or(kind = 'services') THEN 'services'
                            WHEN bool_and(kind = 'goods') THEN 'goods' END AS kind,
                       count(*) FILTER (WHERE covered) AS n_covered,
                       bool_or(labour_eff) AS labour_eff_c
                FROM cbase WHERE supplier_id IS NOT NULL GROUP BY supplier_id),
            e AS (
                SELECT 'supplier' AS entity_type, ids.supplier_id AS entity_id, NULL::VARCHAR AS contract_id,
                       ids.supplier_id, coalesce(ss.category, cc.category) AS category,
                       coalesce(ss.department, cc.department) AS department, true AS active,
                       cc.supplier_id IS NULL AS no_contract, coalesce(cc.n_contracts, 0) AS n_contracts,
                       cc.start_date, cc.end_date, cc.estimated_value, cc.cpv, cc.labour_raw,
                       cc.subcontractor_levels, cc.foreign_workers, cc.workers, cc.wage_clause, cc.seriousness_clause,
                       coalesce(ss.sup_spend_12m, 0) AS spend_12m, coalesce(ss.sup_spend_12m, 0) AS sup_spend_12m,
                       coalesce(ss.nocontract_12m, 0) AS nocontract_12m, ss.first_invoice,
                       CAST($as_of AS DATE) AS ref_date,
                       {sup_cols},
                       cc.cpvm.prefix AS cpv_prefix, cc.cpvm.nb AS cpv_nb, cc.cpvm.en AS cpv_en,
                       coalesce(cc.cpvm.points, 0) AS cpv_points, NULL::VARCHAR AS cpv_kind,
                       coalesce(cc.kind, CASE WHEN sp.nace_goods THEN 'goods'
                                              WHEN sp.nace_code IS NOT NULL THEN 'services' END) AS kind,
                       CASE WHEN cc.kind IS NOT NULL THEN 'contracts' WHEN sp.nace_code IS NOT NULL THEN 'nace' END
                           AS kind_source,
                       cc.n_covered, cc.labour_eff_c
                FROM ids
                LEFT JOIN _risk_sup sp ON sp.supplier_id = ids.supplier_id
                LEFT JOIN _risk_ss ss ON ss.supplier_id = ids.supplier_id
                LEFT JOIN cc ON cc.supplier_id = ids.supplier_id),
            thr AS (  -- suppliers: the threshold in force on as_of (one row)
                SELECT coalesce(max(from_date) FILTER (WHERE from_date <= $as_of), min(from_date)) AS thr_from
                FROM _risk_thr),
            thr1 AS (
                SELECT t.from_date AS thr_from, t.amount AS thr_amount, t.verified AS thr_verified
                FROM _risk_thr t JOIN thr ON t.from_date = thr.thr_from),
            t2 AS (
                SELECT e.*, thr1.*, CASE WHEN no_contract THEN spend_12m ELSE nocontract_12m END AS value_basis
                FROM e CROSS JOIN thr1),
            t3 AS (
            SELECT t2.*,
                   CASE WHEN NOT no_contract AND n_covered > 0 THEN 'contracts'
                        WHEN kind = 'goods' THEN 'goods'
                        WHEN value_basis >= thr_amount THEN 'above'
                        WHEN ind_allm = 'ja' AND $allm_any AND value_basis > 0 THEN 'allmenngjort'
                        WHEN no_contract THEN 'below'
                        ELSE 'contracts' END AS coverage_reason,
                   coalesce(labour_eff_c, labour_raw,
                            CASE WHEN kind = 'goods' THEN false WHEN ind_key IS NOT NULL THEN true END) AS labour_eff,
                   labour_raw IS NULL AND labour_eff_c IS NULL AND kind IS DISTINCT FROM 'goods'
                       AND ind_key IS NOT NULL AS labour_from_industry
            FROM t2)
            SELECT t3.*, (coverage_reason = 'contracts' AND n_covered > 0)
                         OR coverage_reason IN ('above', 'allmenngjort') AS covered
            FROM t3)
        -- (the engine's own codes are one-byte enums: the indicators filter on them, and a
        -- text column of a temporary table is scanned uncompressed — 1.7 % of a re-score's
        -- instructions; columns only the CTEs need are not stored; entity_no numbers the
        -- entities of the run 1, 2, … in no particular order — a sequence, not a sorting
        -- window over these wide rows: the factor lines and the assessment refer to it)
        SELECT * EXCLUDE (labour_raw, ref_date, nace_ver, nace_goods, cpv_kind, labour_eff_c)
                 REPLACE (CAST(entity_type AS ENUM('contract', 'supplier')) AS entity_type,
                          CAST(kind AS ENUM('works', 'services', 'goods')) AS kind,
                          CAST(kind_source AS ENUM('cpv', 'labour', 'nace', 'contracts')) AS kind_source,
                          CAST(coverage_reason AS ENUM('goods', 'above', 'value_unknown', 'allmenngjort', 'below',
                                                       'contracts')) AS coverage_reason),
               CAST(nextval('_risk_entity_seq') AS INTEGER) AS entity_no
        FROM (SELECT * FROM cbase UNION ALL BY NAME SELECT * FROM sbase)""",
        {**p, "ended_after": ended_after, **cov_params, "defver": g["nace_version_when_missing"]})


def _apply_indicators(con, run_id: int, cfg: dict, as_of: dt.date, win_start: dt.date) -> None:
    """Every enabled indicator's rows into ``risk_factor_lines`` for the run, in one INSERT
    (a UNION ALL of all indicator SELECTs, their parameters renamed apart) so DuckDB runs
    them together, and one ``risk_factor_parts`` row per indicator query with its factor
    key, display order, source (its section of domain.md) and the indicator's
    explanation templates (``Context.explain``; the view writes each line's text from its
    template number and values)."""
    settings = cfg.get("indicators", {})
    parts: list[tuple[str, dict]] = []   # (SELECT of the part, its renamed parameters)
    # per part: risk_factor_parts (the templates of an indicator that uses Context.explain)
    meta: dict[str, list] = {"factor": [], "order": [], "source": [], "nb": [], "en": [], "fmt": []}
    values = [f"a{j}" for j in range(1, MAX_VALUES + 1)]
    for order, ind in enumerate(INDICATORS):
        sec = settings.get(ind.key, {})
        if not sec.get("enabled", True):
            continue
        ctx = Context(cfg=cfg, settings=sec, as_of=as_of, window_start=win_start, key=ind.key)
        keep = "true" if ind.always else "(points <> 0 OR unknown OR entity_type = 'contract')"
        built = ind.build(ctx)
        templates = ctx.templates()
        # the same for every part of the indicator: nb pieces, en pieces, value formats
        stored = tuple([t[i] for t in templates] if templates else None for i in range(3))
        if templates:
            # template + values (Context.explain): the view writes the text; a line with
            # no template or a missing value fails the run, as a missing text always did
            missing = db.sql_literal(f"risk indicator {ind.key}: a line without its explanation")
            counts = "[" + ", ".join(str(len(t[2])) for t in templates) + "]"
            most = max(len(t[2]) for t in templates)
            gaps = " OR ".join(f"(a{j} IS NULL AND {counts}[tpl] >= {j})" for j in range(1, most + 1))
            check = f"CASE WHEN {gaps} THEN error({missing}) END, " if most else ""
            text_cols = (f"NULL::VARCHAR AS body_nb, NULL::VARCHAR AS body_en, "
                         f"coalesce({check}tpl, error({missing})) AS tpl, " + ", ".join(values))
        else:
            text_cols = "body_nb, body_en, NULL::SMALLINT AS tpl, " + ", ".join(f"NULL::VARCHAR AS {v}" for v in values)
        for sql, params in built:
            sql, params = _concat_templates(sql, params)
            n = len(parts)
            part = f"""SELECT entity_no, dimension, round(points, 2) AS points,
                           {text_cols}, coalesce(unknown, false) AS unknown, {n + 1} AS part
                    FROM ({sql}
) x WHERE points IS NOT NULL AND {keep}"""
            bound = _bind(part, {**params, "as_of": as_of, "win": win_start})
            part = _PARAM_RE.sub(lambda m, n=n: f"$q{n}_{m.group(1)}", part)
            parts.append((part, {f"q{n}_{k}": v for k, v in bound.items()}))
            meta["factor"].append(ind.key)
            meta["order"].append(order)
            meta["source"].append(ind.source)
            for name, lists in zip(("nb", "en", "fmt"), stored):
                meta[name].append(lists)
    if not parts:
        return
    # ORDER BY the part: the rows arrive as one ordered stream in the indicators' order,
    # and DuckDB then writes them as full row groups instead of merging many small
    # parallel batches; the next checkpoint has less to compact (measured). What is the
    # same for every line of a part (factor key, display order, source) is stored once
    # per part, and the points text ("+2 sannsynlighet") is added from the line's own
    # points when the ``risk_factors`` view is read (migration 0010): fewer bytes to sort
    # and compress per line.
    try:
        con.execute("""INSERT INTO risk_factor_parts (run_id, part, factor, sort_order, source, tpl_nb, tpl_en, tpl_fmt)
                       SELECT $run, unnest(range(1, len($factors) + 1)), unnest($factors), unnest($orders),
                              unnest($sources), unnest($nb::VARCHAR[][][]), unnest($en::VARCHAR[][][]),
                              unnest($fmt::VARCHAR[][][])""",
                    {"run": run_id, "factors": meta["factor"], "orders": meta["order"], "sources": meta["source"],
                     "nb": meta["nb"], "en": meta["en"], "fmt": meta["fmt"]})
        con.execute("""INSERT INTO risk_factor_lines (run_id, entity_no, part, dimension, points,
                                                      body_nb, body_en, tpl, a1, a2, a3, a4, a5, a6, unknown)
                       SELECT $eng_run, entity_no, part, dimension, points, body_nb, body_en, tpl,
                              a1, a2, a3, a4, a5, a6, unknown
                       FROM (""" + "\nUNION ALL\n".join(p[0] for p in parts) + """)
                       ORDER BY part""",
                    {"eng_run": run_id, **{k: v for p in parts for k, v in p[1].items()}})
    except duckdb.Error as e:
        raise RuntimeError(f"risk indicators failed: {e}") from e


_PARAM_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_FORMAT_RE = re.compile(r"\bformat\(\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*,")


def _split_args(sql: str, start: int) -> tuple[list[str], int] | None:
    """The comma-separated SQL expressions from ``start`` up to the closing parenthesis
    of the call (nested parentheses and quoted strings respected) and the index after it."""
    args, depth, i, begin, quote = [], 0, start, start, None
    while i < len(sql):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                args.append(sql[begin:i].strip())
                return args, i + 1
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(sql[begin:i].strip())
            begin = i + 1
        i += 1
    return None


def _concat_templates(sql: str, params: dict) -> tuple[str, dict]:
    """``format($tpl, a, b)`` of an explanation template that only has plain ``{}``
    placeholders, rewritten as ``$tpl__0 || a || $tpl__1 || b || $tpl__2`` (the fixed
    pieces bound as parameters, each argument cast to VARCHAR). Same text — DuckDB's
    format gives NULL when an argument is NULL, and so does ``||``; the arguments are
    text, integers or dates, which format and CAST spell alike — at a fraction of
    format's cost per row (format boxes every argument). Nested calls are rewritten
    too; a template with any other brace is left to format."""
    params = dict(params)
    out, pos = [], 0
    for m in _FORMAT_RE.finditer(sql):
        if m.start() < pos:
            continue  # inside an argument already rewritten
        name, tpl = m.group(1), params.get(m.group(1))
        split = _split_args(sql, m.end())
        if not isinstance(tpl, str) or split is None:
            continue
        args, end = split
        pieces = tpl.split("{}")
        if len(pieces) != len(args) + 1 or any("{" in x or "}" in x for x in pieces):
            continue
        exprs = []
        for i, piece in enumerate(pieces):
            if piece:
                params[f"{name}__{i}"] = piece
                exprs.append(f"${name}__{i}")
            if i < len(args):
                inner, extra = _concat_templates(args[i], params)
                params.update(extra)
                exprs.append(f"CAST(({inner}) AS VARCHAR)")
        out.append(sql[pos:m.start()])
        out.append("(" + " || ".join(exprs or ["''"]) + ")")
        pos = end
    out.append(sql[pos:])
    return "".join(out), params


def _bind(sql: str, params: dict) -> dict:
    """The named parameters ``sql`` uses (DuckDB refuses unused ones); a missing one is a bug."""
    names = set(_PARAM_RE.findall(sql))
    missing = names - set(params)
    if missing:
        raise KeyError(f"risk SQL lacks parameters: {sorted(missing)}")
    return {k: params[k] for k in names}


# Scores from points, shared by the scoring run and ``classify`` (so the table-driven
# test exercises the very SQL that scores). Needs a CTE ``s`` with lp, cp, covered.
_CLASSIFY_CTES = """
           s2 AS (
               SELECT s.*,
                      1 + CAST(lp >= $l1 AS INTEGER) + CAST(lp >= $l2 AS INTEGER) + CAST(lp >= $l3 AS INTEGER)
                        + CAST(lp >= $l4 AS INTEGER) AS likelihood,
                      1 + CAST(cp >= $c1 AS INTEGER) + CAST(cp >= $c2 AS INTEGER) + CAST(cp >= $c3 AS INTEGER)
                        + CAST(cp >= $c4 AS INTEGER) AS consequence
               FROM s),
           s3 AS (
               SELECT s2.*, list_extract(list_extract($matrix::VARCHAR[][], likelihood), consequence) AS level
               FROM s2),
           s4 AS (
               SELECT s3.*, CASE WHEN NOT covered THEN 0 WHEN level = 'lav' THEN $s_lav
                                 WHEN level = 'middels' THEN $s_mid ELSE $s_hoy END AS required_step
               FROM s3)"""


def _classify_params(cfg: dict) -> dict:
    lb = [float(x) for x in cfg["scoring"]["likelihood_bands"]]
    cb = [float(x) for x in cfg["scoring"]["consequence_bands"]]
    ctl = cfg["control"]
    return {"l1": lb[0], "l2": lb[1], "l3": lb[2], "l4": lb[3], "c1": cb[0], "c2": cb[1], "c3": cb[2], "c4": cb[3],
            "matrix": cfg["levels"]["matrix"],
            "s_lav": int(ctl["lav"]), "s_mid": int(ctl["middels"]), "s_hoy": int(ctl["høy"])}


def classify(con: duckdb.DuckDBPyConnection, cfg: dict,
             rows: list[tuple[float, float, bool]]) -> list[tuple[int, int, str, int]]:
    """(likelihood points, consequence points, covered) → (likelihood, consequence,
    level, required_step) with the same SQL a scoring run uses."""
    if not rows:
        return []
    lp, cp, cov = zip(*rows)
    sql = f"""WITH s AS (SELECT unnest($lp::DOUBLE[]) AS lp, unnest($cp::DOUBLE[]) AS cp,
                              unnest($cov::BOOLEAN[]) AS covered, unnest(range(len($lp::DOUBLE[]))) AS i),
              {_CLASSIFY_CTES}
              SELECT likelihood, consequence, level, required_step FROM s4 ORDER BY i"""
    return [tuple(r) for r in _x(con, sql, {**_classify_params(cfg), "lp": list(lp), "cp": list(cp),
                                            "cov": [bool(c) for c in cov]}).fetchall()]


def _assess(con, run_id: int, cfg: dict) -> None:
    _x(con,
        f"""INSERT INTO risk_assessments (run_id, entity_type, entity_id, supplier_id, category, department,
                   likelihood, consequence, level, required_step, covered, spend_12m, exposure, no_contract,
                   likelihood_points, consequence_points, contract_kind, active, threshold_nok,
                   spend_without_contract_12m, entity_no)
           WITH pts AS (
               SELECT entity_no,
                      round(coalesce(sum(points) FILTER (WHERE dimension = 'likelihood'), 0), 2) AS lp,
                      round(coalesce(sum(points) FILTER (WHERE dimension = 'consequence'), 0), 2) AS cp
               FROM risk_factor_lines WHERE run_id = $run GROUP BY entity_no),
           s AS (
               SELECT b.*, coalesce(pts.lp, 0) AS lp, coalesce(pts.cp, 0) AS cp
               FROM _risk_base b LEFT JOIN pts USING (entity_no)),
           {_CLASSIFY_CTES}
           SELECT $run, entity_type, entity_id, supplier_id, category, department, likelihood, consequence, level,
                  required_step, covered, spend_12m,
                  round(greatest(
                      greatest(spend_12m, 0),
                      CASE WHEN entity_type = 'contract' AND estimated_value IS NOT NULL THEN
                          estimated_value / CASE WHEN start_date IS NULL OR end_date IS NULL THEN 1.0
                                                 ELSE greatest(1.0, datediff('day', start_date, end_date) / 365.25) END
                      ELSE 0 END) * likelihood / 5.0, 0),
                  no_contract, lp, cp, kind, active, thr_amount, nocontract_12m, entity_no
           FROM s4""",
        {**_classify_params(cfg), "run": run_id},
    )


def _x(con, sql: str, params=None):
    """Execute with only the named parameters the SQL uses (DuckDB refuses extra ones)."""
    if isinstance(params, dict):
        return con.execute(sql, _bind(sql, params))
    return con.execute(sql) if params is None else con.execute(sql, params)


def _drop_temp(con) -> None:
    try:
        con.execute(";\n".join([f"DROP TABLE IF EXISTS temp.{t}" for t in TEMP_TABLES]
                                + ["DROP SEQUENCE IF EXISTS temp._risk_entity_seq"]))
    except duckdb.TransactionException:
        pass  # the transaction failed and is rolled back, taking the temp tables with it


def _prune(con, run_id: int) -> int:
    """Delete the rows of runs superseded by a newer run for the same quarter, unless
    pinned (quarter history, explicit runs) or cited by a stored report
    (``report_snapshots.risk_run_id``). Their ``risk_runs`` row stays (pruned = true). Keeps the stored picture of every past quarter while frequent automatic
    re-scoring does not pile up. Returns the number of runs pruned."""
    cited = ""
    if con.execute("SELECT count(*) FROM information_schema.columns "
                   "WHERE table_name = 'report_snapshots' AND column_name = 'risk_run_id'").fetchone()[0]:
        cited = "AND o.run_id NOT IN (SELECT risk_run_id FROM report_snapshots WHERE risk_run_id IS NOT NULL)"
    ids = [r[0] for r in _x(con,
        f"""SELECT o.run_id FROM risk_runs o
           WHERE NOT coalesce(o.pinned, false) AND NOT coalesce(o.pruned, false) AND o.run_id <> $run {cited}
             AND EXISTS (SELECT 1 FROM risk_runs n
                         WHERE n.run_id > o.run_id AND NOT coalesce(n.pruned, false)
                           AND year(n.as_of) = year(o.as_of) AND quarter(n.as_of) = quarter(o.as_of))""",
        {"run": run_id}).fetchall()]
    if ids:
        _x(con, "DELETE FROM risk_factor_lines WHERE list_contains($ids, run_id)", {"ids": ids})
        _x(con, "DELETE FROM risk_factor_parts WHERE list_contains($ids, run_id)", {"ids": ids})
        _x(con, "DELETE FROM risk_assessments WHERE list_contains($ids, run_id)", {"ids": ids})
        _x(con, "UPDATE risk_runs SET pruned = true WHERE list_contains($ids, run_id)", {"ids": ids})
    return len(ids)


def score_all(con: duckdb.DuckDBPyConnection, user: User, as_of: dt.date | None = None, *,
              reason: str = "manual", pinned: bool = False, config_version: int | None = None) -> int:
    """Score every contract and supplier in scope on ``as_of`` (default: ``default_as_of``)
    and store the run; returns its run_id. Needs role analytiker (a derived write).

    ``config_version`` re-applies an older configuration (default: the one in force).
    ``pinned`` keeps the run even when a newer run for the same quarter exists.
    Joins an open transaction (e.g. from a data-change hook) or opens its own."""
    require(user, "analytiker", "re-score risk")
    return _score(con, user, as_of, reason=reason, pinned=pinned, config_version=config_version)


def _score(con, user: User, as_of, *, reason: str, pinned: bool, config_version: int | None) -> int:
    t0 = time.perf_counter()
    as_of = as_of or default_as_of(con)
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    with _transaction(con):
        if config_version is None:
            version, cfg = rconfig.ensure_config(con)
        else:
            version, cfg = config_version, rconfig.load_config(con, config_version)
        g = cfg["general"]
        win_start = _months_before(as_of, int(g["window_months"]))
        ended_after = _months_before(as_of, int(g["ended_within_months"]))
        data_version = db.data_version(con)
        run_id = con.execute(
            """INSERT INTO risk_runs (config_version, data_version, as_of, created_by, reason, pinned)
               VALUES (?, ?, ?, ?, ?, ?) RETURNING run_id""",
            [version, data_version, as_of, user.username, reason, pinned]).fetchone()[0]
        _drop_temp(con)
        LAST_TIMINGS.clear()
        try:
            con.execute(";\n".join(_MACROS))
            _load_config_tables(con, cfg)
            for stage, fn in (("facts", lambda: spendfacts.ensure(con)),
                              ("base", lambda: _build_base(con, cfg, as_of, win_start, ended_after)),
                              ("factors", lambda: _apply_indicators(con, run_id, cfg, as_of, win_start)),
                              ("assess", lambda: _assess(con, run_id, cfg))):
                ts = time.perf_counter()
                fn()
                LAST_TIMINGS[stage] = round(time.perf_counter() - ts, 3)
        finally:
            _drop_temp(con)
        ts = time.perf_counter()
        n = con.execute(
            """SELECT count(*) FILTER (WHERE entity_type = 'contract'), count(*) FILTER (WHERE entity_type = 'supplier')
               FROM risk_assessments WHERE run_id = ?""", [run_id]).fetchone()
        pruned = _prune(con, run_id)
        LAST_TIMINGS["prune"] = round(time.perf_counter() - ts, 3)
        seconds = round(time.perf_counter() - t0, 3)
        con.execute("UPDATE risk_runs SET n_contracts = ?, n_suppliers = ?, seconds = ? WHERE run_id = ?",
                    [n[0], n[1], seconds, run_id])
        audit.log(con, user, "risk_score", "risk_run", run_id,
                  {"as_of": as_of.isoformat(), "config_version": version, "data_version": data_version,
                   "reason": reason, "contracts": n[0], "suppliers": n[1], "pruned_runs": pruned})
        db.bump_data_version(con)
        ts = time.perf_counter()
    LAST_TIMINGS["commit"] = round(time.perf_counter() - ts, 3)
    LAST_TIMINGS["total"] = round(time.perf_counter() - t0, 3)
    return run_id


def warm_up() -> None:
    """Read the reference tables a run needs from disk (SSB's NACE names, the default
    configuration) once per process, so the first re-score after an upload need not;
    ``hooks.warm_up`` calls this while the upload is still being read."""
    _nace_names()
    rconfig.default_config()


def rescore_after_change(con: duckdb.DuckDBPyConnection, user: User, reason: str) -> int:
    """Listener for ``hooks.AFTER_DATA_CHANGE``: re-score inside the writer's transaction.

    The writer has already checked the user's right to make the change; re-scoring is
    its derived consequence, so any signed-in role may trigger it here."""
    require(user, "leder", "re-score risk")
    return _score(con, user, None, reason=reason or "data change", pinned=False, config_version=None)


def pin_run(con: duckdb.DuckDBPyConnection, user: User, run_id: int) -> None:
    """Keep a run for good (never pruned), e.g. the run a stored report refers to.
    Needs role analytiker; audit-logged."""
    require(user, "analytiker", "keep a risk run")
    with _transaction(con):
        row = con.execute("SELECT pruned, pinned FROM risk_runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None or row[0]:
            raise KeyError(f"risk run {run_id} does not exist or was pruned")
        if not row[1]:
            con.execute("UPDATE risk_runs SET pinned = true WHERE run_id = ?", [run_id])
            audit.log(con, user, "risk_pin", "risk_run", run_id, None)
