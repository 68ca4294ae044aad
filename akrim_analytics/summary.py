"""Reconciliation summary: the figures an analyst checks against the ERP.

Everything comes from the database (never from the generator)."""
from __future__ import annotations

import duckdb

from .queries import counts


def build(con: duckdb.DuckDBPyConnection) -> dict:
    c = counts(con)
    out: dict = {
        "spend_rows": c["spend_rows"],
        "spend_total_nok": float(con.execute("SELECT coalesce(sum(amount), 0) FROM spend").fetchone()[0]),
        "suppliers": c["suppliers"],
        "contracts": c["contracts"],
        "years": {},
    }
    rows = con.execute(
        """SELECT year(s.posting_date) AS y, c.name_nb, sum(s.amount) AS amount
           FROM spend s JOIN categories c ON c.code = s.category
           GROUP BY ALL ORDER BY y, amount DESC"""
    ).fetchall()
    for year, name, amount in rows:
        y = out["years"].setdefault(str(year), {"total": 0.0, "by_category": {}})
        y["by_category"][name] = float(amount)
        y["total"] = round(y["total"] + float(amount), 2)
    # Risk (current run): contracts per level, and the last-12-months spend of
    # høy contracts per category (category name, largest first).
    from . import risk

    run_id = risk.current_run_id(con)
    out["risk"] = risk.level_counts(con, run_id) if run_id is not None else {lvl: 0 for lvl in risk.LEVEL_ORDER}
    out["high_risk_spend_by_category"] = (risk.high_risk_spend_by_category(con, run_id)
                                          if run_id is not None else {})
    out["risk_run"] = ({k: (v.isoformat() if hasattr(v, "isoformat") else v)
                        for k, v in risk.run_info(con, run_id).items()
                        if k in ("run_id", "as_of", "config_version", "data_version")}
                       if run_id is not None else None)
    return out
