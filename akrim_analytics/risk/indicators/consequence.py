"""Consequence: how much is at stake (value, spend, workers, duration), and whether the
wage regulation covers the contract (an explanation line without points)."""
from __future__ import annotations

from . import Context, band_sql, const, date, indicator, nested, nok, pick, text, val


@indicator("coverage", "domain.md §2.1 (coverage), §2.2 (thresholds), §2.1 (påseplikt at any value)", always=True)
def coverage(ctx: Context):
    """Whether the wage regulation covers the contract: an explanation line, ±0.

    Source: domain.md §2.1 — the regulation covers service and building/construction
    contracts, not pure goods; in allmenngjort industries the påseplikt applies at any
    value; §2.2 — the thresholds (dated, state vs municipal; the 2024 municipal
    value is unverified and shown so). Goods are read from the CPV division
    (reference file ``cpv_2008_divisions_en.csv``), else from the labour-intensive
    flag, else from the supplier's NACE (``general.goods_nace_prefixes``). The
    threshold in force on the contract's start date applies, compared with the larger
    of its estimated value and its spend in the window; a contract without a value is
    treated as covered. For a supplier: covered if any of its contracts is, or if its
    spend without a contract would be. Decides ``covered`` and so ``required_step``
    (0 when not covered); it never adds points. Every contract gets the line; a
    supplier only when covered or its kind is unknown (otherwise step 0 says it).

    Settings: ``general.authority``, ``general.allmenngjort_any_value``,
    ``general.goods_nace_prefixes``, ``[[thresholds]]``.
    """
    auth = ctx.cfg["general"]["authority"]
    months = int(ctx.cfg["general"]["window_months"])
    sup = "entity_type = 'supplier'"
    kind = pick(*[(f"{sup} AND kind = '{k}'", f"skind_{k}") for k in ("works", "services", "goods")],
                (sup, "skind_unknown"),
                *[(f"kind = '{k}'", f"kind_{k}") for k in ("works", "services", "goods")],
                (None, "kind_unknown"))
    thr = nested("thr", nok("thr_amount"), nested(f"auth_{auth}"), date("thr_from"),
                 pick(("thr_verified", ""), (None, "unverified")))
    svalue, value = nested("svalue", nok("value_basis"), const(months)), nok("value_basis")
    cases = [("coverage_reason = 'goods' AND kind_source = 'cpv'", text("goods", val("'CPV ' || cpv"))),
             ("coverage_reason = 'goods' AND kind_source = 'nace'", text("goods", val("'NACE ' || nace_code"))),
             ("coverage_reason = 'goods'", text("goods", nested("goods_src")))]
    for reason in ("above", "value_unknown", "allmenngjort", "below"):
        if reason == "value_unknown":
            cases.append((f"coverage_reason = '{reason}'", text(reason, kind, thr)))
            continue
        cases.append((f"coverage_reason = '{reason}' AND {sup}", text(reason, kind, svalue, thr)))
        cases.append((f"coverage_reason = '{reason}'", text(reason, kind, value, thr)))
    cases += [("coverage_reason = 'contracts' AND n_covered > 0",
               text("contracts", val("n_covered"), val("n_contracts"))),
              ("coverage_reason = 'contracts'", text("no_contracts", val("n_contracts")))]
    sql = f"""
        SELECT entity_type, entity_no, 'consequence' AS dimension, 0.0 AS points,
               kind IS NULL OR coverage_reason = 'value_unknown' AS unknown,
               {ctx.explain(*cases)}
        FROM _risk_base
        WHERE entity_type = 'contract' OR covered OR kind IS NULL"""
    p: dict = {}
    return [(sql, p)]


@indicator("contract_value", "domain.md §1.2 (contract value: DFØ beste praksis 3.2 'kontraktens verdi')")
def contract_value(ctx: Context):
    """Estimated contract value, consequence.

    Source: domain.md §1.2 — DFØ beste praksis 3.2 names the contract's value as a
    prioritisation criterion. Points of the highest of ``bands`` the estimated value
    reaches (±0 below the first). For a supplier: the summed value of its contracts
    in scope. A contract without a value → ``unknown_points``.

    Settings: ``bands`` ([from NOK, points]), ``unknown_points``.
    """
    case, bp = band_sql("estimated_value", ctx.get("bands", []))
    p = {**bp, "unknown_points": float(ctx.get("unknown_points", 1.0))}
    explain = ctx.explain(
        ("estimated_value IS NULL", text("unknown")),
        ("entity_type = 'supplier' AND n_contracts = 1", text("total_one", nok("estimated_value"))),
        ("entity_type = 'supplier'", text("total", val("n_contracts"), nok("estimated_value"))),
        (None, text("value", nok("estimated_value"))))
    sql = f"""
        SELECT entity_type, entity_no, 'consequence' AS dimension,
               CASE WHEN estimated_value IS NULL THEN $unknown_points ELSE {case} END AS points,
               estimated_value IS NULL AS unknown, {explain}
        FROM _risk_base
        WHERE entity_type = 'contract' OR (n_contracts > 0 AND estimated_value IS NOT NULL)"""
    return [(sql, p)]


@indicator("spend", "domain.md §1.2 (value), §8 (prioritise by risk × spend)")
def spend(ctx: Context):
    """Spend in the last 12 months (the window), consequence.

    Source: domain.md §1.2 (value as priority) and §8 ("a control plan that ranks
    contracts by risk × spend"). The contract's linked spend, or the supplier's total
    spend, posted in the window ending on as_of. Points of the highest band reached.

    Settings: ``bands`` ([from NOK, points]); window: ``general.window_months``.
    """
    bands = ctx.get("bands", [])
    case, bp = band_sql("spend_12m", bands)
    lowest = min((float(b[0]) for b in bands if float(b[1]) != 0), default=None)
    months = int(ctx.cfg["general"]["window_months"])
    p = {**bp, "lowest": lowest}
    # suppliers below the lowest band would get a ±0 line, which is not kept: skip them early
    sql = f"""
        SELECT entity_type, entity_no, 'consequence' AS dimension, {case} AS points, false AS unknown,
               {ctx.explain((None, text("spend", nok("spend_12m"), const(months))))}
        FROM _risk_base
        WHERE entity_type = 'contract' OR spend_12m >= $lowest"""
    return [(sql, p)]


@indicator("workers", "domain.md §1.2 (labour intensity; many workers), §1.1 (DFØ risk matrix: consequence)")
def workers(ctx: Context):
    """Number of workers on the contract where known, consequence.

    Source: domain.md §1.2 (labour-intensive work with many workers) — more workers
    means more people exposed to a breach. For a supplier: the sum over its
    contracts. Unknown for labour-intensive work → ``unknown_points``.

    Settings: ``bands`` ([from workers, points]), ``unknown_points``.
    """
    case, bp = band_sql("workers", ctx.get("bands", []))
    p = {**bp, "unknown_points": float(ctx.get("unknown_points", 0.0))}
    explain = ctx.explain(("workers IS NULL", text("unknown")), ("workers = 1", text("count_one")),
                          (None, text("count", val("workers"))))
    sql = f"""
        SELECT entity_type, entity_no, 'consequence' AS dimension,
               CASE WHEN workers IS NULL THEN $unknown_points ELSE {case} END AS points,
               workers IS NULL AS unknown, {explain}
        FROM _risk_base
        WHERE workers IS NOT NULL OR (labour_eff AND n_contracts > 0)"""
    return [(sql, p)]


@indicator("duration", "domain.md §3.1 (apprentice rule: contracts longer than 3 months), §1.2")
def duration(ctx: Context):
    """Contract duration, consequence (contracts only).

    Source: domain.md §1.2 (value and strategic importance) and §3.1 (duration
    matters in the rules: the apprentice rule applies to contracts longer than three
    months). A long contract exposes more work over more time. Months from start to
    end → the highest band reached; no end date (open-ended) →
    ``open_ended_points``.

    Settings: ``bands`` ([from months, points]), ``open_ended_points``.
    """
    case, bp = band_sql("months", ctx.get("bands", []))
    p = {**bp, "open_points": float(ctx.get("open_ended_points", 1.0))}
    explain = ctx.explain(("end_date IS NULL", text("open", date("start_date"))),
                          (None, text("months", val("months"), date("start_date"), date("end_date"))))
    sql = f"""
        WITH d AS (
            SELECT *, datediff('month', start_date, end_date + INTERVAL 1 DAY) AS months
            FROM _risk_base WHERE entity_type = 'contract' AND start_date IS NOT NULL)
        SELECT entity_type, entity_no, 'consequence' AS dimension,
               CASE WHEN end_date IS NULL THEN $open_points ELSE {case} END AS points, false AS unknown,
               {explain}
        FROM d"""
    return [(sql, p)]
