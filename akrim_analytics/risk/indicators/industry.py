"""Industry: the supplier's NACE code and the contract's CPV code."""
from __future__ import annotations

from . import Context, indicator

_STATUS = """CASE ind_allm WHEN 'ja' THEN ${s}_ja_{lang} WHEN 'delvis' THEN ${s}_delvis_{lang}
                           ELSE ${s}_nei_{lang} END"""


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
    p = {**ctx.tpls("nace", "cpv", "other", "other_named", "unknown", "status_ja", "status_delvis", "status_nei"),
         "unknown_points": float(ctx.get("unknown_points", 0.5))}
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN ind_key IS NOT NULL AND ind_points >= cpv_points THEN ind_points
                    WHEN cpv_prefix IS NOT NULL AND cpv_points > 0 THEN cpv_points
                    WHEN nace_code IS NOT NULL THEN 0.0
                    WHEN has_register THEN $unknown_points END AS points,
               ind_key IS NULL AND cpv_prefix IS NULL AND nace_code IS NULL AS unknown,
               CASE WHEN ind_key IS NOT NULL AND ind_points >= cpv_points
                        THEN format($nace_nb, ind_nb, nace_code, {_STATUS.format(s='status', lang='nb')})
                    WHEN cpv_prefix IS NOT NULL AND cpv_points > 0 THEN format($cpv_nb, cpv, cpv_nb)
                    WHEN nace_name IS NOT NULL THEN format($other_named_nb, nace_name, nace_code)
                    WHEN nace_code IS NOT NULL THEN format($other_nb, nace_code)
                    ELSE $unknown_nb END AS body_nb,
               CASE WHEN ind_key IS NOT NULL AND ind_points >= cpv_points
                        THEN format($nace_en, ind_en, nace_code, {_STATUS.format(s='status', lang='en')})
                    WHEN cpv_prefix IS NOT NULL AND cpv_points > 0 THEN format($cpv_en, cpv, cpv_en)
                    WHEN nace_name IS NOT NULL THEN format($other_named_en, nace_name, nace_code)
                    WHEN nace_code IS NOT NULL THEN format($other_en, nace_code)
                    ELSE $unknown_en END AS body_en
        FROM _risk_base
        WHERE entity_type = 'contract' OR ind_key IS NOT NULL OR cpv_points > 0
           OR (nace_code IS NULL AND has_register)"""
    return [(sql, p)]
