"""Facts about the contract itself: labour intensity, subcontractor chain, foreign
workers and the required contract clauses."""
from __future__ import annotations

from . import Context, const, indicator, text, val


@indicator("labour", "domain.md §1.2 (labour intensity, low skill), §4.1")
def labour(ctx: Context):
    """Labour-intensive service rather than goods, likelihood.

    Source: domain.md §1.2 ("labour-intensive work with low formal skill
    requirements", Økokrim/Fafo) and §4.1. Uses the contract's ``labour_intensive``
    flag; where it is not registered, a supplier in a high-risk industry (§4.3) is
    taken as labour-intensive and the line says so. Goods are never labour-intensive.
    For a supplier: any of its contracts. Unknown → ``unknown_points``.

    Settings: ``points``, ``unknown_points``.
    """
    p = {"points": float(ctx.get("points", 1.0)), "unknown_points": float(ctx.get("unknown_points", 0.5))}
    explain = ctx.explain(("labour_eff IS NULL", text("unknown")), ("labour_from_industry", text("assumed")),
                          (None, text("yes")))
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN labour_eff THEN $points WHEN labour_eff IS NULL THEN $unknown_points END AS points,
               labour_eff IS NULL AS unknown, {explain}
        FROM _risk_base
        WHERE labour_eff IS DISTINCT FROM false"""
    return [(sql, p)]


@indicator("subcontractors", "domain.md §3.1 (Norgesmodellen: max two levels), §1.2 (subcontractor chain)")
def subcontractors(ctx: Context):
    """Levels of subcontractors in the vertical chain, likelihood.

    Source: domain.md §3.1 — Norgesmodellen allows at most two levels below the main
    supplier (FOA §§ 8-13, 19-3); §1.2 — long chains and subcontractors low in the
    chain carry worse conditions (SINTEF). More levels than ``limit`` →
    ``over_limit_points``; 1..limit → ``within_limit_points``; none → no line.
    Unknown for labour-intensive work → ``unknown_points``. For a supplier: the
    longest chain among its contracts.

    Settings: ``limit``, ``within_limit_points``, ``over_limit_points``, ``unknown_points``.
    """
    limit = int(ctx.get("limit", 2))
    p = {"limit": limit, "over_points": float(ctx.get("over_limit_points", 3.0)),
         "within_points": float(ctx.get("within_limit_points", 1.0)),
         "unknown_points": float(ctx.get("unknown_points", 0.5))}
    explain = ctx.explain(
        ("subcontractor_levels > $limit", text("over", val("subcontractor_levels"), const(limit))),
        ("subcontractor_levels = 1", text("within_one")),
        ("subcontractor_levels >= 1", text("within", val("subcontractor_levels"))),
        (None, text("unknown")))
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN subcontractor_levels > $limit THEN $over_points
                    WHEN subcontractor_levels >= 1 THEN $within_points
                    WHEN subcontractor_levels IS NULL THEN $unknown_points END AS points,
               subcontractor_levels IS NULL AS unknown, {explain}
        FROM _risk_base
        WHERE subcontractor_levels >= 1
           OR (subcontractor_levels IS NULL AND labour_eff IS DISTINCT FROM false AND n_contracts > 0)"""
    return [(sql, p)]


@indicator("foreign_workers", "domain.md §1.2 (foreign / posted workers), §2.3 (RF-1199)")
def foreign_workers(ctx: Context):
    """Use of foreign or posted workers, likelihood.

    Source: domain.md §1.2 — a large share of foreign labour, short stays, workers
    employed by foreign firms (Fafo risk-factor list; Økokrim). The contract's
    ``foreign_workers`` flag (for a supplier: any of its contracts). Unknown for
    labour-intensive work → ``unknown_points``.

    Settings: ``points``, ``unknown_points``.
    """
    p = {"points": float(ctx.get("points", 1.0)), "unknown_points": float(ctx.get("unknown_points", 0.5))}
    explain = ctx.explain(("foreign_workers", text("yes")), (None, text("unknown")))
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN foreign_workers THEN $points ELSE $unknown_points END AS points,
               foreign_workers IS NULL AS unknown, {explain}
        FROM _risk_base
        WHERE foreign_workers OR (foreign_workers IS NULL AND labour_eff IS DISTINCT FROM false AND n_contracts > 0)"""
    return [(sql, p)]


@indicator("clauses", "domain.md §2.3 (contract clauses), §3.1 (Norgesmodellen seriousness requirements)")
def clauses(ctx: Context):
    """Required clauses missing from a covered contract, likelihood.

    Source: domain.md §2.3 — a contract the wage regulation covers must contain the
    wage, documentation and sanction clauses; without them the client cannot demand
    documentation or sanction a breach. §3.1 — Norgesmodellen's seriousness clauses
    for building, construction and cleaning. Contracts only (a supplier line would
    repeat its contracts).

    Settings: ``wage_clause_points``, ``seriousness_clause_points``,
    ``seriousness_industries`` (industry keys), ``unknown_points``.
    """
    p = {"wage_points": float(ctx.get("wage_clause_points", 1.0)),
         "ser_points": float(ctx.get("seriousness_clause_points", 0.5)),
         "unknown_points": float(ctx.get("unknown_points", 0.0)),
         "ser_inds": list(ctx.get("seriousness_industries", []))}
    wage_text = ctx.explain(("wage_clause = false", text("no_wage")), (None, text("wage_unknown")))
    wage = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN wage_clause = false THEN $wage_points ELSE $unknown_points END AS points,
               wage_clause IS NULL AS unknown, {wage_text}
        FROM _risk_base
        WHERE entity_type = 'contract' AND covered AND wage_clause IS DISTINCT FROM true"""
    ser = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension, $ser_points AS points, false AS unknown,
               {ctx.explain((None, text("no_seriousness")))}
        FROM _risk_base
        WHERE entity_type = 'contract' AND covered AND seriousness_clause = false
          AND list_contains($ser_inds::VARCHAR[], ind_key)"""
    pw = {k: v for k, v in p.items() if k != "ser_inds"}
    return [(wage, pw), (ser, p)]
