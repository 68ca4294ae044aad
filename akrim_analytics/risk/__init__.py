"""Risk assessment of every contract and supplier, following DFØ's method, explained
line by line.

Each risk factor is a small indicator (``risk/indicators/``) that adds rows to
``risk_factors`` — (entity, factor, dimension likelihood|consequence, points,
explanation in Norwegian and English) — set-based in SQL over all entities at once.
(``risk_factors`` is a view over the stored ``risk_factor_lines``, ``risk_factor_parts``
and ``risk_assessments``; it adds each line's points text from its own points.)
The scores are computed from those stored points only, so the explanation a user
sees is exactly what produced the number:

* likelihood 1–5 and consequence 1–5: 1 + the number of ``scoring.*_bands`` the
  summed points reach;
* level lav / middels / høy from the 5×5 matrix ``levels.matrix`` (DFØ's green /
  yellow / red);
* required_step: for contracts the wage regulation covers (services and building /
  construction above the threshold in force on the start date, or in an allmenngjort
  industry at any value; value unknown = covered), ``control[level]`` = 1 (Trinn 1:
  self-report + risk assessment), 2 (+ Trinn 2 document review) or 3 (+ Trinn 3
  on-site inspection). **0 = not covered** (goods, or services below the threshold):
  no control duty under the regulation; the level is still shown;
* exposure (NOK, to rank follow-up) = max(spend in the last 12 months, annual
  contract value) × likelihood / 5 (annual value = estimated value / years, at least
  one year); for suppliers spend in the last 12 months × likelihood / 5;
* spend_12m: spend posted in the 12 months up to as_of (the contract's linked spend,
  or all of the supplier's spend).

Who is assessed in a run: every contract running on as_of or ended within the 12
months before it (``active`` tells them apart), and every supplier with spend in the
window or such a contract (``entity_type = 'supplier'``; ``no_contract = true`` when it
has spend but no contract in scope — "spend without contract").

Public API (stable names other features use)::

    score_all(con, user, as_of=None) -> run_id        # analytiker+; as_of default: today
                                                      # (or the demo's pinned date)
    current_run_id(con) -> int | None                 # the current picture
    run_for_period(con, period_end_date) -> int | None  # newest run with as_of <= date
    previous_run_id(con, run_id=None) -> int | None   # run at the previous quarter end
    run_info(con, run_id=None) -> dict | None         # as_of, config_version, data_version …
    runs(con) -> DataFrame
    assessments(con, run_id=None) -> DataFrame        # default: current run, with names
    assessment(con, entity_type, entity_id, run_id=None) -> dict | None
    explain(con, entity_type, entity_id, run_id=None) -> DataFrame of factors
    level_counts(con, run_id=None) -> {'lav': n, 'middels': n, 'høy': n}   # contracts
    high_risk_spend_by_category(con, run_id=None) -> {category name: NOK}
    matrix_counts(con, run_id=None) -> DataFrame      # per likelihood × consequence cell
    level_changes(con, run_id=None, previous=None) -> DataFrame  # up / down / same / new / gone
    load_config(con, version=None) -> dict            # the configuration in force
    config_version(con) -> int | None
    save_config(con, user, new_config, note=None) -> version   # admin; audit-logged; re-scores
    validate(config) -> [problems]; ConfigError
    rescore_after_change(con, user, reason)           # listener in hooks.AFTER_DATA_CHANGE
    warm_up()                                         # read reference tables ahead (hooks.warm_up)
    pin_run(con, user, run_id)                        # keep a run for good (e.g. one a report cites)

Every run records its configuration version, data version and as_of date, and
assessments and factors are kept per run, so last quarter's numbers stay as they were;
runs superseded by a newer run for the same quarter are pruned unless pinned. A run
for a past date ignores spend, controls and findings after it (register data is
today's snapshot).
"""
from __future__ import annotations

from .config import (ConfigError, config_version, default_config, load_config, parse_toml, save_config,  # noqa: F401
                     to_toml, validate, versions)
from .engine import default_as_of, pin_run, rescore_after_change, score_all, warm_up  # noqa: F401
from .indicators import INDICATORS  # noqa: F401
from .queries import (LEVEL_ORDER, assessment, assessments, current_run_id, explain,  # noqa: F401
                      high_risk_spend_by_category, level_changes, level_counts, matrix_counts, previous_run_id,
                      run_for_period, run_info, runs)

QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))


def quarter_ends(start, end) -> list:
    """Every quarter's last day from ``start`` to ``end`` (dates), in order."""
    import datetime as dt

    out = []
    for y in range(start.year, end.year + 1):
        for m, d in QUARTER_ENDS:
            q = dt.date(y, m, d)
            if start <= q <= end:
                out.append(q)
    return out


def score_quarters(con, user, start, end, *, reason: str = "quarter history") -> list[int]:
    """Pinned runs for every quarter end from ``start`` to ``end`` (oldest first), so
    "change from the previous quarter" has data. Returns the run ids."""
    return [score_all(con, user, q, reason=reason, pinned=True) for q in quarter_ends(start, end)]
