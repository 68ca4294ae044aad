"""Consequence: how much is at stake (value, spend, workers, duration), and whether the
wage regulation covers the contract (an explanation line without points)."""
from __future__ import annotations

from . import Context, band_sql, indicator

_KIND = """CASE WHEN entity_type = 'supplier' THEN
                CASE kind WHEN 'works' THEN $skind_works_{l} WHEN 'services' THEN $skind_services_{l}
                          WHEN 'goods' THEN $skind_goods_{l} ELSE $skind_unknown_{l} END
           ELSE CASE kind WHEN 'works' THEN $kind_works_{l} WHEN 'services' THEN $kind_services_{l}
                          WHEN 'goods' THEN $kind_goods_{l} ELSE $kind_unknown_{l} END END"""
_THR = """format($thr_{l}, risk_nok_{l}(thr_amount), $auth_{l}, risk_d_{l}(thr_from),
                 CASE WHEN thr_verified THEN '' ELSE $unverified_{l} END)"""
_VALUE = """CASE WHEN entity_type = 'supplier' THEN format($svalue_{l}, risk_nok_{l}(value_basis), $months)
                 ELSE risk_nok_{l}(value_basis) END"""


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
    names = ["goods", "goods_src", "above", "value_unknown", "allmenngjort", "below", "contracts", "no_contracts", "thr",
             "unverified", "svalue", "kind_works", "kind_services", "kind_goods", "kind_unknown", "skind_works",
             "skind_services", "skind_goods", "skind_unknown", f"auth_{auth}"]
    p = ctx.tpls(*names)
    p["auth_nb"], p["auth_en"] = p.pop(f"auth_{auth}_nb"), p.pop(f"auth_{auth}_en")
    p["months"] = int(ctx.cfg["general"]["window_months"])

    def body(l: str) -> str:
        # the threshold text from the few threshold rows (joined as ``th``), not per line
        kind, thr, value = _KIND.format(l=l), f"coalesce(th.txt_{l}, {_THR.format(l=l)})", _VALUE.format(l=l)
        src = f"""CASE kind_source WHEN 'cpv' THEN 'CPV ' || cpv WHEN 'nace' THEN 'NACE ' || nace_code
                                   ELSE $goods_src_{l} END"""
        return f"""CASE coverage_reason
                WHEN 'goods' THEN format($goods_{l}, {src})
                WHEN 'above' THEN format($above_{l}, {kind}, {value}, {thr})
                WHEN 'value_unknown' THEN format($value_unknown_{l}, {kind}, {thr})
                WHEN 'allmenngjort' THEN format($allmenngjort_{l}, {kind}, {value}, {thr})
                WHEN 'below' THEN format($below_{l}, {kind}, {value}, {thr})
                WHEN 'contracts' THEN CASE WHEN n_covered > 0 THEN format($contracts_{l}, n_covered, n_contracts)
                                           ELSE format($no_contracts_{l}, n_contracts) END
           END"""
    th = ", ".join(f"{_THR.format(l=l)} AS txt_{l}" for l in ("nb", "en"))
    sql = f"""
        WITH th AS (
            SELECT thr_from AS th_from, thr_amount AS th_amount, thr_verified AS th_verified, {th}
            FROM (SELECT from_date AS thr_from, amount AS thr_amount, verified AS thr_verified FROM _risk_thr))
        SELECT entity_type, entity_no, 'consequence' AS dimension, 0.0 AS points,
               kind IS NULL OR coverage_reason = 'value_unknown' AS unknown,
               {body('nb')} AS body_nb, {body('en')} AS body_en
        FROM _risk_base LEFT JOIN th ON th.th_from = thr_from AND th.th_amount = thr_amount
                                    AND th.th_verified = thr_verified
        WHERE entity_type = 'contract' OR covered OR kind IS NULL"""
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
    p = {**ctx.tpls("value", "total", "total_one", "unknown"), **bp, "unknown_points": float(ctx.get("unknown_points", 1.0))}
    sql = f"""
        SELECT entity_type, entity_no, 'consequence' AS dimension,
               CASE WHEN estimated_value IS NULL THEN $unknown_points ELSE {case} END AS points,
               estimated_value IS NULL AS unknown,
               CASE WHEN estimated_value IS NULL THEN $unknown_nb
                    WHEN entity_type = 'supplier' AND n_contracts = 1 THEN format($total_one_nb, risk_nok_nb(estimated_value))
                    WHEN entity_type = 'supplier' THEN format($total_nb, n_contracts, risk_nok_nb(estimated_value))
                    ELSE format($value_nb, risk_nok_nb(estimated_value)) END AS body_nb,
               CASE WHEN estimated_value IS NULL THEN $unknown_en
                    WHEN entity_type = 'supplier' AND n_contracts = 1 THEN format($total_one_en, risk_nok_en(estimated_value))
                    WHEN entity_type = 'supplier' THEN format($total_en, n_contracts, risk_nok_en(estimated_value))
                    ELSE format($value_en, risk_nok_en(estimated_value)) END AS body_en
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
    p = {**ctx.tpl("spend"), **bp, "months": int(ctx.cfg["general"]["window_months"]), "lowest": lowest}
    # suppliers below the lowest band would get a ±0 line, which is not kept: skip them early
    sql = f"""
        SELECT entity_type, entity_no, 'consequence' AS dimension, {case} AS points, false AS unknown,
               format($spend_nb, risk_nok_nb(spend_12m), $months) AS body_nb,
               format($spend_en, risk_nok_en(spend_12m), $months) AS body_en
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
    p = {**ctx.tpls("count", "count_one", "unknown"), **bp, "unknown_points": float(ctx.get("unknown_points", 0.0))}
    sql = f"""
        SELECT entity_type, entity_no, 'consequence' AS dimension,
               CASE WHEN workers IS NULL THEN $unknown_points ELSE {case} END AS points,
               workers IS NULL AS unknown,
               CASE WHEN workers IS NULL THEN $unknown_nb WHEN workers = 1 THEN $count_one_nb
                    ELSE format($count_nb, workers) END AS body_nb,
               CASE WHEN workers IS NULL THEN $unknown_en WHEN workers = 1 THEN $count_one_en
                    ELSE format($count_en, workers) END AS body_en
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
    p = {**ctx.tpls("months", "open"), **bp, "open_points": float(ctx.get("open_ended_points", 1.0))}
    sql = f"""
        WITH d AS (
            SELECT *, datediff('month', start_date, end_date + INTERVAL 1 DAY) AS months
            FROM _risk_base WHERE entity_type = 'contract' AND start_date IS NOT NULL)
        SELECT entity_type, entity_no, 'consequence' AS dimension,
               CASE WHEN end_date IS NULL THEN $open_points ELSE {case} END AS points, false AS unknown,
               CASE WHEN end_date IS NULL THEN format($open_nb, risk_d_nb(start_date))
                    ELSE format($months_nb, months, risk_d_nb(start_date), risk_d_nb(end_date)) END AS body_nb,
               CASE WHEN end_date IS NULL THEN format($open_en, risk_d_en(start_date))
                    ELSE format($months_en, months, risk_d_en(start_date), risk_d_en(end_date)) END AS body_en
        FROM d"""
    return [(sql, p)]
