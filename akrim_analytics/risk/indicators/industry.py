"""Industry: the supplier's NACE code and the contract's CPV code."""
from __future__ import annotations

from . import Context, indicator, lang, pick, text, val

@indicator("industry", "domain.md §4.1, §4.2, §4.3; forskrift § 7 ('bransje')")
def industry(ctx: Context):
    """Industry of the supplier (NACE) or of the contract (CPV), likelihood.

    Source: domain.md §4.3 (industry table: high-risk and allmenngjorte industries),
    §4.2 (allmenngjorte tariffavtaler), §4.1 (Skatteetaten/eBevis CPV codes of
    "særlig risiko"). The supplier's NACE code is matched, as a prefix, against the
    ``[[industries]]`` codes of its own classification version (SN2007 or SN2025;
    ``general.nace_version_when_missing`` when the version is not stated); the
    contract's CPV code against ``[[cpv_risk]]``. The larger of the two gives the
    points. A supplier outside the table gets a ±0 line naming its industry; a
    supplier in the register without an industry code gets ``unknown_points``.

    Settings: ``[[industries]].points``, ``[[cpv_risk]].points``, ``unknown_points``.
    """
    p = {"unknown_points": float(ctx.get("unknown_points", 0.5))}
    status = pick(("ind_allm = 'ja'", "status_ja"), ("ind_allm = 'delvis'", "status_delvis"), (None, "status_nei"))
    explain = ctx.explain(
        ("ind_key IS NOT NULL AND ind_points >= cpv_points",
         text("nace", lang("ind_nb", "ind_en"), val("nace_code"), status)),
        ("cpv_prefix IS NOT NULL AND cpv_points > 0", text("cpv", val("cpv"), lang("cpv_nb", "cpv_en"))),
        ("nace_name IS NOT NULL", text("other_named", val("nace_name"), val("nace_code"))),
        ("nace_code IS NOT NULL", text("other", val("nace_code"))),
        (None, text("unknown")))
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN ind_key IS NOT NULL AND ind_points >= cpv_points THEN ind_points
                    WHEN cpv_prefix IS NOT NULL AND cpv_points > 0 THEN cpv_points
                    WHEN nace_code IS NOT NULL THEN 0.0
                    WHEN has_register THEN $unknown_points END AS points,
               ind_key IS NULL AND cpv_prefix IS NULL AND nace_code IS NULL AS unknown,
               {explain}
        FROM _risk_base
        WHERE entity_type = 'contract' OR ind_key IS NOT NULL OR cpv_points > 0
           OR (nace_code IS NULL AND has_register)"""
    return [(sql, p)]
