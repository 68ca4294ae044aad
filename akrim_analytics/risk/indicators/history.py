"""The municipality's own follow-up history: findings and controls in the control log,
the supplier's self-report, and spend without a contract."""
from __future__ import annotations

import datetime as dt

from . import Context, const, date, indicator, nok, pick, text, val


def _months_before(d: dt.date, months: int) -> dt.date:
    from ..engine import _months_before as mb

    return mb(d, months)


@indicator("findings", "domain.md §1.4 (report after control feeds later risk assessments), §1.2 (previous findings)")
def findings(ctx: Context):
    """Earlier findings with this supplier in the control log, likelihood.

    Source: domain.md §1.2 ("Previous findings: earlier breaches with this
    supplier", DFØ ch. 7) and §1.4 (the report after control feeds later risk
    assessments of that supplier). Findings on any of the supplier's contracts,
    opened on or before as_of. Open on as_of (not closed, or closed after as_of) →
    the points of the most severe one (``open_*_points``). Closed ones →
    ``closed_points`` fading linearly to 0 over ``closed_fade_days`` after the last
    closing.

    Settings: ``open_low_points``, ``open_medium_points``, ``open_high_points``,
    ``closed_points``, ``closed_fade_days``.
    """
    fade = float(ctx.get("closed_fade_days", 1095))
    p = {"lp": float(ctx.get("open_low_points", 1.0)), "mp": float(ctx.get("open_medium_points", 2.0)),
         "hp": float(ctx.get("open_high_points", 3.0)), "cp": float(ctx.get("closed_points", 1.0)),
         "fade": fade, "horizon": ctx.as_of - dt.timedelta(days=int(fade))}
    base = """
        WITH f AS (
            SELECT c.supplier_id, f.severity, f.opened_date,
                   coalesce(f.closed_date, CASE WHEN f.status = 'closed' THEN f.opened_date END) AS closed_on,
                   CASE WHEN f.closed_date IS NOT NULL THEN f.closed_date > $as_of ELSE f.status <> 'closed' END
                       AS open_at,
                   CASE f.severity WHEN 'high' THEN $hp WHEN 'medium' THEN $mp ELSE $lp END AS sp
            FROM findings f JOIN contracts c ON c.contract_id = f.contract_id
            WHERE f.opened_date <= $as_of AND c.supplier_id IS NOT NULL),
        agg AS (
            SELECT supplier_id,
                   count(*) FILTER (WHERE open_at) AS n_open, max(sp) FILTER (WHERE open_at) AS open_pts,
                   arg_max(severity, sp) FILTER (WHERE open_at) AS worst,
                   max(opened_date) FILTER (WHERE open_at) AS last_open,
                   count(*) FILTER (WHERE NOT open_at AND closed_on > $horizon) AS n_closed,
                   max(closed_on) FILTER (WHERE NOT open_at) AS last_closed
            FROM f GROUP BY supplier_id)"""
    sev = pick(("worst = 'high'", "sev_high"), ("worst = 'medium'", "sev_medium"), (None, "sev_low"))
    open_text = ctx.explain(("agg.n_open = 1", text("open_one", sev, date("agg.last_open"))),
                            (None, text("open", val("agg.n_open"), sev, date("agg.last_open"))))
    open_sql = base + f"""
        SELECT b.entity_type, b.entity_no, 'likelihood' AS dimension, agg.open_pts AS points, false AS unknown,
               {open_text}
        FROM _risk_base b JOIN agg ON agg.supplier_id = b.supplier_id
        WHERE agg.n_open > 0"""
    closed_text = ctx.explain(("agg.n_closed = 1", text("closed_one", date("agg.last_closed"))),
                              (None, text("closed", val("agg.n_closed"), date("agg.last_closed"))))
    closed_sql = base + f"""
        SELECT b.entity_type, b.entity_no, 'likelihood' AS dimension,
               round($cp * greatest(0.0, 1.0 - datediff('day', agg.last_closed, $as_of) / $fade), 1) AS points,
               false AS unknown, {closed_text}
        FROM _risk_base b JOIN agg ON agg.supplier_id = b.supplier_id
        WHERE agg.n_closed > 0
          AND round($cp * greatest(0.0, 1.0 - datediff('day', agg.last_closed, $as_of) / $fade), 1) <> 0"""
    return [(open_sql, p), (closed_sql, p)]


@indicator("clean_controls", "domain.md §1.3 (ASD 2013: proven firms move to spot checks), §1.2")
def clean_controls(ctx: Context):
    """A recent clean control of the supplier lowers the likelihood, fading with time.

    Source: domain.md §1.3 and §1.2 (ASD letter 2013 quoted by DFØ: unknown firms
    need fuller control first; proven serious firms can move to spot checks). The
    best (most lowering) clean control on any of the supplier's contracts done on or
    before as_of: ``stepN_points`` (negative) × (1 − age in days / ``fade_days``),
    rounded to one decimal; 0 after ``fade_days``.

    Settings: ``step1_points``, ``step2_points``, ``step3_points``, ``fade_days``.
    """
    p = {"s1": float(ctx.get("step1_points", -0.5)), "s2": float(ctx.get("step2_points", -1.0)),
         "s3": float(ctx.get("step3_points", -1.5)), "fade": float(ctx.get("fade_days", 730))}
    sql = f"""
        WITH k AS (
            SELECT c.supplier_id, k.contract_id, k.step, k.done_date,
                   round(CASE k.step WHEN 1 THEN $s1 WHEN 2 THEN $s2 ELSE $s3 END
                         * greatest(0.0, 1.0 - datediff('day', k.done_date, $as_of) / $fade), 1) AS credit
            FROM controls k JOIN contracts c ON c.contract_id = k.contract_id
            WHERE k.outcome = 'clean' AND k.done_date <= $as_of AND c.supplier_id IS NOT NULL),
        best AS (
            SELECT supplier_id, arg_min({{'contract_id': contract_id, 'step': step, 'done': done_date, 'credit': credit}},
                                        credit) AS m
            FROM k WHERE credit <> 0 GROUP BY supplier_id)
        SELECT b.entity_type, b.entity_no, 'likelihood' AS dimension, best.m.credit AS points, false AS unknown,
               {ctx.explain((None, text("clean", val("best.m.step"), date("best.m.done"), val("best.m.contract_id"))))}
        FROM _risk_base b JOIN best ON best.supplier_id = b.supplier_id"""
    return [(sql, p)]


@indicator("self_report", "domain.md §1.2 (Trinn 1a: self-report within a month of signature, each follow-up)")
def self_report(ctx: Context):
    """No self-report (Trinn 1) for a covered contract, likelihood.

    Source: domain.md §1.2 — DFØ ch. 4: collect the supplier's self-report within one
    month of signature and again each time the requirements are followed up; every
    covered contract needs Trinn 1. A covered contract running on as_of that started
    more than ``grace_days`` before it, with no Trinn 1 control done in the
    ``max_age_months`` before as_of → ``points``. For a supplier: once, if any of its
    covered running contracts lacks it (the line counts them).

    Settings: ``points``, ``max_age_months``, ``grace_days``.
    """
    months = int(ctx.get("max_age_months", 12))
    p = {"points": float(ctx.get("points", 1.0)), "months": months,
         "since": _months_before(ctx.as_of, months),
         "grace": ctx.as_of - dt.timedelta(days=int(ctx.get("grace_days", 31)))}
    cte = """
        WITH c AS (
            SELECT b.entity_type, b.entity_no, b.supplier_id,
                   NOT EXISTS (SELECT 1 FROM controls k
                               WHERE k.contract_id = b.contract_id AND k.step = 1 AND k.done_date <= $as_of
                                 AND k.done_date > $since AND k.outcome IN ('clean', 'findings')) AS missing
            FROM _risk_base b
            WHERE b.entity_type = 'contract' AND b.covered AND b.active
              AND coalesce(b.start_date, DATE '1900-01-01') <= $grace)"""
    contract_sql = cte + """
        SELECT entity_type, entity_no, 'likelihood' AS dimension, $points AS points, false AS unknown,
               """ + ctx.explain((None, text("missing", const(months)))) + """
        FROM c WHERE missing"""
    supplier_sql = cte + """,
        s AS (
            SELECT supplier_id, count(*) FILTER (WHERE missing) AS n_missing, count(*) AS n
            FROM c WHERE supplier_id IS NOT NULL
            GROUP BY supplier_id HAVING bool_or(missing))
        SELECT b.entity_type, b.entity_no, 'likelihood' AS dimension, $points AS points, false AS unknown,
               """ + ctx.explain((None, text("missing_supplier", val("s.n_missing"), val("s.n"), const(months)))) + """
        FROM s JOIN _risk_base b ON b.entity_type = 'supplier' AND b.entity_id = s.supplier_id"""
    return [(contract_sql, p), (supplier_sql, p)]


@indicator("no_contract", "domain.md §2.3 (contract clauses), §8 (spend without contract)")
def no_contract(ctx: Context):
    """Spend in the window without a registered contract, likelihood (suppliers only).

    Source: domain.md §2.3 — without a contract there are no wage, documentation or
    sanction clauses to enforce; §8 — the dashboard must show spend outside
    contracts. A supplier with spend in the window and no contract in scope →
    ``points``.

    Settings: ``points``.
    """
    months = int(ctx.cfg["general"]["window_months"])
    p = {"points": float(ctx.get("points", 1.0))}
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension, $points AS points, false AS unknown,
               {ctx.explain((None, text("spend", nok("spend_12m"), const(months))))}
        FROM _risk_base WHERE entity_type = 'supplier' AND no_contract AND spend_12m > 0"""
    return [(sql, p)]
