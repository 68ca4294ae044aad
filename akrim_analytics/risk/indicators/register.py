"""Signals from the supplier register (Enhetsregisteret / Brreg), domain.md §5.4.

Missing register data is never read as clean: a supplier that has not been looked up
gets one ``register_unknown`` line, and a looked-up supplier with a blank field gets
that signal's own "unknown" line. The signals below skip suppliers without register
data (the one ``register_unknown`` line stands for all of them)."""
from __future__ import annotations

from . import Context, const, date, indicator, nok, text, val


@indicator("register_unknown", "domain.md §5.4 (Enhetsregisteret)")
def register_unknown(ctx: Context):
    """No register data for the supplier: status unknown, likelihood.

    Source: domain.md §5.4 and §8 ("validate and enrich every supplier by org.nr").
    A contract without a supplier, or a supplier never looked up in
    Enhetsregisteret (no extract date, e.g. no valid organisation number), cannot be
    checked for bankruptcy, VAT, employees or accounts, so it gets ``points`` and is
    marked unknown.

    Settings: ``points``.
    """
    p = {"points": float(ctx.get("points", 1.0))}
    explain = ctx.explain(("supplier_id IS NULL", text("no_supplier")), ("orgnr IS NULL", text("no_orgnr")),
                          (None, text("not_looked_up")))
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension, $points AS points, true AS unknown, {explain}
        FROM _risk_base WHERE NOT has_register"""
    return [(sql, p)]


@indicator("register_status", "domain.md §5.4 (konkurs, underAvvikling, tvangsoppløsning, slettedato)")
def register_status(ctx: Context):
    """Bankrupt, under liquidation, forced dissolution or deleted, likelihood.

    Source: domain.md §5.4 red-flag table ("Bankrupt / being wound up", "Deleted /
    gone"): Brreg fields ``konkurs``, ``underAvvikling``,
    ``underTvangsavviklingEllerTvangsopplosning`` and ``slettedato``; StartBANK excludes
    bankrupt firms (§5.2). One line per signal present; a deletion dated after as_of
    is ignored.

    Settings: ``bankrupt_points``, ``under_liquidation_points``,
    ``forced_dissolution_points``, ``deleted_points``.
    """
    out = []
    for flag, cond in (("bankrupt", "bankrupt"), ("under_liquidation", "under_liquidation"),
                       ("forced_dissolution", "forced_dissolution")):
        p = {"points": float(ctx.get(f"{flag}_points", 3.0))}
        out.append((f"""
            SELECT entity_type, entity_no, 'likelihood' AS dimension, $points AS points, false AS unknown,
                   {ctx.explain((None, text(flag)))}
            FROM _risk_base WHERE has_register AND {cond}""", p))
    p = {"points": float(ctx.get("deleted_points", 3.0))}
    out.append((f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension, $points AS points, false AS unknown,
               {ctx.explain((None, text("deleted", date("deleted_date"))))}
        FROM _risk_base WHERE has_register AND deleted_date <= $as_of""", p))
    return out


@indicator("enk_nuf", "domain.md §5.4 (ENK in risky trade, NUF), §1.2 (use of ENK)")
def enk_nuf(ctx: Context):
    """Sole trader (ENK) or foreign entity (NUF) in a risky industry, likelihood.

    Source: domain.md §5.4 ("ENK in risky trade": organisasjonsform ENK with BA or
    cleaning NACE — A-krim Oslo report, Skien model; "Foreign entity": NUF — OAR
    reporting duty, posted workers) and §1.2 ("Use of ENK / hired labour"). Risky =
    the industry indicator gives the supplier's NACE or the contract's CPV points.

    Settings: ``enk_points``, ``nuf_points`` (NUF in a risky industry),
    ``nuf_other_points`` (NUF elsewhere).
    """
    p = {"enk_points": float(ctx.get("enk_points", 1.0)),
         "nuf_points": float(ctx.get("nuf_points", 1.0)), "nuf_other_points": float(ctx.get("nuf_other_points", 0.5))}
    explain = ctx.explain(("org_form = 'ENK'", text("enk")), ("risky", text("nuf")), (None, text("nuf_other")))
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN org_form = 'ENK' THEN $enk_points WHEN risky THEN $nuf_points ELSE $nuf_other_points END
                   AS points,
               false AS unknown, {explain}
        FROM (SELECT *, (ind_points > 0 OR cpv_points > 0) AS risky FROM _risk_base)
        WHERE has_register AND ((org_form = 'ENK' AND risky) OR org_form = 'NUF')"""
    return [(sql, p)]


@indicator("vat", "domain.md §5.3 (eBevis: not VAT-registered legit only below NOK 50 000), §5.4")
def vat(ctx: Context):
    """Not in the VAT register while invoicing more than NOK 50 000 a year, likelihood.

    Source: domain.md §5.4 ("Not VAT-registered while invoicing services") and §5.3
    (eBevis: not being VAT-registered is legitimate only with turnover below NOK
    50 000 in 365 days). Uses the supplier's total spend in the window (all contracts
    and spend without contract). Blank VAT status in the register → ``unknown_points``.

    Settings: ``points``, ``min_invoiced``, ``unknown_points``.
    """
    months = int(ctx.cfg["general"]["window_months"])
    p = {"points": float(ctx.get("points", 2.0)), "min_invoiced": float(ctx.get("min_invoiced", 50_000)),
         "unknown_points": float(ctx.get("unknown_points", 0.5))}
    explain = ctx.explain(
        ("vat_registered = false",
         text("not_registered", nok("sup_spend_12m"), const(months), nok("$min_invoiced"))),
        (None, text("unknown", nok("sup_spend_12m"), const(months))))
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN vat_registered = false THEN $points ELSE $unknown_points END AS points,
               vat_registered IS NULL AS unknown, {explain}
        FROM _risk_base
        WHERE has_register AND vat_registered IS DISTINCT FROM true AND sup_spend_12m > $min_invoiced"""
    return [(sql, p)]


@indicator("employees", "domain.md §5.4 (no employees registered), §5.3 (employer-tax base)")
def employees(ctx: Context):
    """No registered employees while billing labour-intensive work, likelihood.

    Source: domain.md §5.4 ("No employees registered ... while billing
    labour-intensive work"; HMS-kort requires the firm's registrations to be in
    order) and §5.3 (employer-tax base shows that wages are reported). Only for
    labour-intensive entities. A blank number is unknown, never 0 (Brreg hides 0–4
    employees, §5.4) → ``unknown_points``.

    Settings: ``points``, ``unknown_points``.
    """
    p = {"points": float(ctx.get("points", 2.0)), "unknown_points": float(ctx.get("unknown_points", 0.5))}
    explain = ctx.explain(("employees = 0", text("none")), (None, text("unknown")))
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN employees = 0 THEN $points ELSE $unknown_points END AS points,
               employees IS NULL AS unknown, {explain}
        FROM _risk_base
        WHERE has_register AND labour_eff AND (employees = 0 OR employees IS NULL)"""
    return [(sql, p)]


@indicator("newly_founded", "domain.md §5.4 (newly founded / registered), §1.2 (new or unknown supplier)")
def newly_founded(ctx: Context):
    """Founded shortly before its first invoice or contract, likelihood.

    Source: domain.md §5.4 ("stiftelsesdato or registreringsdato shortly before
    first invoice/contract") and §1.2 (ASD 2013: new or unknown firms need fuller
    control first). Founded = stiftelsesdato, else registreringsdato; first = the
    earlier of the supplier's first invoice (up to as_of) and the contract's start.
    Less than ``months`` between them (or founded after the first invoice) →
    ``points``. No founding or registration date → ``unknown_points``.

    Settings: ``points``, ``months``, ``unknown_points``.
    """
    p = {"points": float(ctx.get("points", 1.0)),
         "months": int(ctx.get("months", 12)), "unknown_points": float(ctx.get("unknown_points", 0.0))}
    explain = ctx.explain(("founded IS NULL", text("unknown")),
                          ("first_seen < founded", text("after", date("founded"), date("first_seen"))),
                          (None, text("new", date("founded"), date("first_seen"), val("gap"))))
    sql = f"""
        WITH b AS (
            SELECT *, coalesce(founded_date, registered_date) AS founded,
                   least(first_invoice, start_date) AS first_seen
            FROM _risk_base WHERE has_register),
        g AS (SELECT *, datediff('month', founded, first_seen) AS gap FROM b)
        SELECT entity_type, entity_no, 'likelihood' AS dimension,
               CASE WHEN founded IS NULL THEN $unknown_points ELSE $points END AS points,
               founded IS NULL AS unknown, {explain}
        FROM g
        WHERE first_seen IS NOT NULL AND (founded IS NULL OR gap < $months)"""
    return [(sql, p)]


@indicator("annual_accounts", "domain.md §5.4 (sisteInnsendteAarsregnskap), §5.2 (StartBANK)")
def annual_accounts(ctx: Context):
    """Annual accounts not filed, likelihood.

    Source: domain.md §5.4 ("Annual accounts not filed": sisteInnsendteAarsregnskap
    missing or old for AS; forced dissolution follows missing accounts) and §5.2
    (StartBANK requires filed accounts). For the organisation forms in ``org_forms``:
    the accounts for year Y are due in month ``due_month`` of Y+1, so on as_of the
    latest year expected is as_of's year − 1 from that month, else − 2. A firm
    founded after the end of that year is not yet due.

    Settings: ``points``, ``org_forms``, ``due_month``.
    """
    due = int(ctx.get("due_month", 8))
    expected = ctx.as_of.year - (1 if ctx.as_of.month >= due else 2)
    p = {"points": float(ctx.get("points", 1.0)), "forms": list(ctx.get("org_forms", ["AS", "ASA"])),
         "expected": expected}
    explain = ctx.explain(("last_accounts_year IS NULL", text("none", const(expected))),
                          (None, text("old", val("last_accounts_year"), const(expected))))
    sql = f"""
        SELECT entity_type, entity_no, 'likelihood' AS dimension, $points AS points, false AS unknown, {explain}
        FROM _risk_base
        WHERE has_register AND list_contains($forms::VARCHAR[], org_form)
          AND coalesce(founded_date, registered_date, DATE '1900-01-01') <= make_date($expected, 12, 31)
          AND (last_accounts_year IS NULL OR last_accounts_year < $expected)"""
    return [(sql, p)]
