"""The report's dataset: every table the quarterly report shows, computed for one quarter.

A :class:`Dataset` is language-neutral (codes, plus ``_nb``/``_en`` text pairs) and
JSON-serialisable, so it can be frozen in ``report_snapshots`` and rendered later to
PowerPoint or Excel in either language with exactly the same numbers.

Each table has a fixed column layout in :data:`TABLES`; a column's *kind* tells the
renderers how to format it (``nok`` → ``1 234 kr``, ``pct`` → ``12,5 %``, ``date`` →
``31.12.2025``, ``code:<domain>`` → a translated code, ``level`` → lav/middels/høy).

The numbers come from the core's shared queries (``queries``, ``views``, ``risk``,
``plan``/``controls``); the SQL here only gathers what those modules do not expose.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd

from .. import controls, db, queries, risk, views
from .. import plan as followup_plan
from ..i18n import t
from ..filters import Filters, Period

# Bump when TABLES changes shape: a frozen dataset names the layout it was stored with.
DATASET_LAYOUT = 1

# name -> [(column, kind)]. Kinds: text, nok, int, num, pct, date, level, step, bool,
# code:<domain> (translated with report.code.<domain>.<value>).
TABLES: dict[str, list[tuple[str, str]]] = {
    "kpis": [("kpi", "code:kpi"), ("unit", "code:unit"), ("value", "num"), ("previous", "num"),
             ("change", "num"), ("change_pct", "pct")],
    "spend_by_category": [("category", "text"), ("name_nb", "text"), ("name_en", "text"),
                          ("amount", "nok"), ("previous", "nok"), ("change", "nok"), ("change_pct", "pct"),
                          ("share", "pct")],
    "risk_heatmap": [("likelihood", "int"), ("consequence", "int"), ("level", "level"),
                     ("contracts", "int"), ("amount", "nok")],
    "top_contracts": [("rank", "int"), ("contract_id", "text"), ("contract_name", "text"),
                      ("supplier_name", "text"), ("orgnr", "text"), ("category_nb", "text"),
                      ("category_en", "text"), ("department", "text"), ("level", "level"),
                      ("likelihood", "int"), ("consequence", "int"), ("exposure", "nok"),
                      ("required_step", "step"), ("last_control_date", "date"), ("last_control_step", "step"),
                      ("reasons_nb", "text"), ("reasons_en", "text")],
    "controls_plan": [("step", "step"), ("required", "int"), ("covered_12m", "int"), ("coverage", "pct"),
                      ("planned", "int"), ("done", "int"), ("done_of_planned", "int"), ("not_done", "int")],
    "controls_by_department": [("department", "text"), ("department_name", "text"), ("required", "int"),
                               ("covered_12m", "int"), ("coverage", "pct"), ("planned", "int"),
                               ("done", "int"), ("not_done", "int")],
    "findings": [("finding_type", "code:finding_type"), ("low", "int"), ("medium", "int"), ("high", "int"),
                 ("total", "int"), ("open_end", "int")],
    "sanctions": [("action", "code:action"), ("imposed", "int"), ("open_end", "int")],
    "resource": [("scenario", "code:scenario"), ("fte", "num"), ("hours", "num"), ("controlled_contracts", "int"),
                 ("extra_step1", "int"), ("extra_step2", "int"), ("extra_step3", "int"),
                 ("exposure_hm", "nok"), ("share_hm", "pct")],
    "resource_curve": [("ftes", "num"), ("hours", "num"), ("share_hm", "pct"), ("controlled_contracts", "int"),
                       ("marker", "code:scenario")],
}

SANCTION_ACTIONS = ("daily_fines", "withheld_payment", "termination")
ACTIONS = ("correction", "action_plan") + SANCTION_ACTIONS
FINDING_TYPES = ("wage", "working_time", "pension", "hms_card", "chain", "documentation", "other")
KPI_ORDER = ("spend_total", "suppliers", "spend_without_contract_share", "unclassified_share",
             "contracts_high", "spend_high", "high_controlled_share", "controls_done", "findings_opened",
             "sanctions_imposed", "findings_open_end")


@dataclass
class Dataset:
    """The report for one quarter: ``meta`` (stamps and context) and named tables."""
    meta: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def period(self) -> Period:
        return Period.parse(self.meta["period"])

    def table(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def kpi(self, key: str) -> dict:
        df = self.tables["kpis"]
        row = df[df["kpi"] == key]
        if not len(row):
            raise KeyError(key)
        return {k: _py(v) for k, v in row.iloc[0].to_dict().items()}

    # -- (de)serialisation ------------------------------------------------------------
    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): the same data gives the same text."""
        return json.dumps({"layout": DATASET_LAYOUT, "meta": self.meta,
                           "tables": {n: _encode(n, df) for n, df in self.tables.items()}},
                          ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> "Dataset":
        raw = json.loads(text)
        return cls(raw["meta"], {n: _decode(n, t) for n, t in raw["tables"].items()})

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()


def _py(v):
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def _json_default(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if hasattr(v, "item"):
        return v.item()
    raise TypeError(type(v))


def _value(kind: str, v):
    v = _py(v)
    if v is None:
        return None
    if kind in ("nok", "num", "pct"):
        return round(float(v), 6)
    if kind in ("int", "step"):
        return int(v)
    if kind == "bool":
        return bool(v)
    if kind == "date":
        if isinstance(v, str):
            return v[:10]
        if isinstance(v, dt.datetime):
            v = v.date()
        if hasattr(v, "date") and not isinstance(v, dt.date):
            v = v.date()
        return v.isoformat()[:10]
    return str(v)


def _encode(name: str, df: pd.DataFrame) -> dict:
    cols = TABLES[name]
    missing = [c for c, _ in cols if c not in df.columns]
    if missing:
        raise ValueError(f"table {name} lacks columns {missing}")
    rows = [[_value(kind, v) for (c, kind), v in zip(cols, rec)]
            for rec in df[[c for c, _ in cols]].itertuples(index=False, name=None)]
    return {"columns": [c for c, _ in cols], "rows": rows}


def _decode(name: str, raw: dict) -> pd.DataFrame:
    cols = dict(TABLES.get(name, []))
    df = pd.DataFrame(raw["rows"], columns=raw["columns"], dtype=object)
    for c in df.columns:
        kind = cols.get(c, "text")
        if kind in ("nok", "num", "pct"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        elif kind in ("int", "step"):
            df[c] = pd.array([None if v is None else int(v) for v in df[c]], dtype="Int64")
        elif kind == "date":
            df[c] = [None if v is None else dt.date.fromisoformat(v) for v in df[c]]
    return df


def _frame(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` normalised to the table's layout (through the same encoding as storage), so a
    freshly computed dataset and a frozen one are identical frames."""
    return _decode(name, _encode(name, df))


# ------------------------------------------------------------------------------- context

@dataclass(frozen=True)
class Context:
    period: Period
    previous: Period
    run_id: int | None            # the risk run in force at the quarter's end (views.run_at)
    previous_run_id: int | None   # … at the previous quarter's end
    extra: dict = field(default_factory=dict)   # facts the builders add to the dataset's meta


def quarter_options(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Quarters with spend, newest first (keys like '2026-K3')."""
    rows = con.execute(
        "SELECT DISTINCT year(posting_date) AS y, quarter(posting_date) AS q FROM spend ORDER BY y DESC, q DESC"
    ).fetchall()
    return [Period(y, q).key for y, q in rows]


def default_quarter(con: duckdb.DuckDBPyConnection) -> str | None:
    """The latest quarter whose data is complete (spend up to its last day), else the latest quarter."""
    opts = quarter_options(con)
    if not opts:
        return None
    last = queries.last_spend_date(con)
    for key in opts:
        if Period.parse(key).end <= last:
            return key
    return opts[0]


def parse_quarter(text: str) -> Period:
    """'2026-K3' (also '2026K3', '2026-Q3') → Period; a year alone is refused."""
    s = str(text).strip().upper().replace("Q", "K")
    if "-" not in s and "K" in s:
        s = s.replace("K", "-K")
    p = Period.parse(s)
    if p.quarter is None:
        raise ValueError(f"not a quarter: {text!r} (expected e.g. 2026-K3)")
    return p


def context(con: duckdb.DuckDBPyConnection, period: Period) -> Context:
    prev = period.previous()
    now_run, prev_run = views.run_at(con, period.end), views.run_at(con, prev.end)
    return Context(period, prev, now_run.run_id if now_run else None, prev_run.run_id if prev_run else None)


# -------------------------------------------------------------------------------- tables

def _sanctions_imposed(con, p: Period) -> int:
    return con.execute(
        "SELECT count(*) FROM findings WHERE opened_date BETWEEN ? AND ? AND list_contains(?, action)",
        [p.start, p.end, list(SANCTION_ACTIONS)]).fetchone()[0]


def _quarter_row(df: pd.DataFrame, p: Period) -> pd.DataFrame:
    return df[pd.to_datetime(df["q_start"]).dt.date == p.start]


def kpis(con, ctx: Context) -> pd.DataFrame:
    """Key figures for the quarter and the quarter before, with the change. The risk
    and spend figures are Oversikt's (``views.kpis``), so the report and the dashboard agree."""
    k = views.kpis(con, Filters(ctx.period))

    def figures(p: Period, v: dict) -> dict:
        base = queries.spend_kpis(con, Filters(p))
        controls = _quarter_row(views.trend_controls(con, Filters(p)), p)
        found = _quarter_row(views.trend_findings(con, Filters(p)), p)
        has_run = v["run"] is not None
        return {"spend_total": v["total"], "suppliers": base["suppliers"],
                "spend_without_contract_share": v["no_contract_share"],
                "unclassified_share": base["unclassified_share"] if base["total"] else None,
                "contracts_high": v["high_contracts"] if has_run else None,
                "spend_high": v["high_spend"] if has_run else None,
                "high_controlled_share": v["high_controlled_share"] if has_run else None,
                "controls_done": int(controls["controls"].sum()),
                "findings_opened": int(found["opened"].sum()),
                "sanctions_imposed": _sanctions_imposed(con, p),
                "findings_open_end": int(found["open_at_end"].sum()) if len(found) else v["open_findings"]}

    now, before = figures(ctx.period, k["now"]), figures(ctx.previous, k["prev"])
    units = {"spend_total": "nok", "spend_high": "nok", "spend_without_contract_share": "pct",
             "unclassified_share": "pct", "high_controlled_share": "pct"}
    rows = []
    for key in KPI_ORDER:
        v, b = now[key], before[key]
        change = None if v is None or b is None else float(v) - float(b)
        unit = units.get(key, "count")
        change_pct = (change / float(b)) if (change is not None and b and unit != "pct") else None
        rows.append({"kpi": key, "unit": unit, "value": v, "previous": b, "change": change,
                     "change_pct": change_pct})
    return _frame("kpis", pd.DataFrame(rows))


def spend_by_category(con, ctx: Context) -> pd.DataFrame:
    """Spend per category this quarter and the quarter before (every category, largest first)."""
    now = queries.spend_by_category(con, Filters(ctx.period))
    before = queries.spend_by_category(con, Filters(ctx.previous))[["code", "amount"]]
    df = now.merge(before.rename(columns={"amount": "previous"}), on="code", how="left")
    df["amount"] = df["amount"].astype(float)
    df["previous"] = df["previous"].astype(float).fillna(0.0)
    df["change"] = df["amount"] - df["previous"]
    df["change_pct"] = [(c / p) if p else None for c, p in zip(df["change"], df["previous"])]
    total = df["amount"].sum()
    df["share"] = df["amount"] / total if total else None
    df = df.rename(columns={"code": "category"})
    return _frame("spend_by_category", df)


def risk_heatmap(con, ctx: Context) -> pd.DataFrame:
    """The Risikokart's 5×5 matrix for the quarter (``views.risk_matrix``): contracts running
    in the quarter per likelihood × consequence cell, their spend in the quarter, and the
    level each cell has in the run's configuration."""
    if ctx.run_id is None:
        return _frame("risk_heatmap", pd.DataFrame(columns=[c for c, _ in TABLES["risk_heatmap"]]))
    df = views.risk_matrix(con, Filters(ctx.period), ctx.run_id)
    return _frame("risk_heatmap", df)


def top_contracts(con, ctx: Context, n: int = 10) -> pd.DataFrame:
    """The ``n`` highest-risk contracts running at the run's date (``risk.assessments``):
    by level, then likelihood × consequence, then NOK exposure (the risk model's
    follow-up priority); with the three heaviest risk factors as the reasons."""
    cols = [c for c, _ in TABLES["top_contracts"]]
    if ctx.run_id is None:
        return _frame("top_contracts", pd.DataFrame(columns=cols))
    a = risk.assessments(con, ctx.run_id, entity_type="contract")
    a = a[a["active"].fillna(True).astype(bool)].copy()
    a["_rank"] = a["level"].map({lv: i for i, lv in enumerate(risk.LEVEL_ORDER)}).fillna(-1)
    a["_score"] = a["likelihood"] * a["consequence"]
    a = a.sort_values(["_rank", "_score", "exposure", "entity_id"], ascending=[False, False, False, True],
                      na_position="last").head(n)
    ids = a["entity_id"].tolist()
    extra = con.execute(
        """WITH f AS (SELECT entity_id, explanation_nb, explanation_en,
                             row_number() OVER (PARTITION BY entity_id ORDER BY points DESC, sort_order, factor) AS k,
                             points, sort_order, factor
                      FROM risk_factors
                      WHERE run_id = ? AND entity_type = 'contract' AND points > 0 AND list_contains(?, entity_id)),
                r AS (SELECT entity_id,
                             string_agg(explanation_nb, '; ' ORDER BY k) AS reasons_nb,
                             string_agg(explanation_en, '; ' ORDER BY k) AS reasons_en
                      FROM f WHERE k <= 3 GROUP BY entity_id),
                lc AS (SELECT contract_id, max(done_date) AS last_control_date,
                              arg_max(step, done_date) AS last_control_step
                       FROM controls
                       WHERE done_date <= ? AND coalesce(outcome, '') <> 'not_done' AND list_contains(?, contract_id)
                       GROUP BY contract_id)
           SELECT k.contract_id AS entity_id, p.orgnr, cat.name_nb AS category_nb, cat.name_en AS category_en,
                  concat_ws(' ', k.department, d.name) AS department_label,
                  r.reasons_nb, r.reasons_en, lc.last_control_date, lc.last_control_step
           FROM contracts k
           LEFT JOIN suppliers p ON p.supplier_id = k.supplier_id
           LEFT JOIN categories cat ON cat.code = k.category
           LEFT JOIN departments d ON d.code = k.department
           LEFT JOIN r ON r.entity_id = k.contract_id
           LEFT JOIN lc ON lc.contract_id = k.contract_id
           WHERE list_contains(?, k.contract_id)""",
        [ctx.run_id, ids, ctx.period.end, ids, ids]).df()
    df = a.merge(extra, on="entity_id", how="left")
    df["rank"] = range(1, len(df) + 1)
    df = df.rename(columns={"entity_id": "contract_id", "name": "contract_name"})
    df["department"] = df["department_label"]
    return _frame("top_contracts", df)


def _year_before(day: dt.date) -> dt.date:
    """The first day of the 12 months that end on ``day``."""
    return (pd.Timestamp(day) - pd.DateOffset(years=1)).date() + dt.timedelta(days=1)


def _coverage_sql(group: str) -> str:
    """Contracts whose risk calls for at least a step, and how many of them had a control of
    that step or deeper done in the 12 months up to the quarter's end; grouped by ``group``."""
    return f"""
        WITH need AS (
            SELECT a.entity_id AS contract_id, a.required_step, k.department
            FROM risk_assessments a LEFT JOIN contracts k ON k.contract_id = a.entity_id
            WHERE a.run_id = ? AND a.entity_type = 'contract' AND a.covered AND coalesce(a.active, true)),
        steps AS (SELECT unnest([1, 2, 3]) AS step),
        deepest AS (
            SELECT contract_id, max(step) AS step FROM controls
            WHERE done_date BETWEEN ? AND ? GROUP BY contract_id)
        SELECT {group}, count(*) AS required,
               count(*) FILTER (WHERE coalesce(dp.step, 0) >= st.step) AS covered_12m
        FROM need n JOIN steps st ON n.required_step >= st.step
        LEFT JOIN deepest dp ON dp.contract_id = n.contract_id
        GROUP BY ALL"""


def _saved_plan(con, ctx: Context) -> int | None:
    """The active saved follow-up plan of the quarter (``plan.active_plan_id``), if any."""
    pid = followup_plan.active_plan_id(con, ctx.period.year, ctx.period.quarter)
    ctx.extra["plan_id"] = pid
    return pid


def controls_plan(con, ctx: Context) -> pd.DataFrame:
    """Per DFØ step: the need (contracts the regulation covers whose risk calls for the step)
    and how many of them had such a control in the 12 months to the quarter's end; the
    plan (the quarter's saved follow-up plan, ``plan.plan_items``; without one, the planned
    dates in the control log), what was done in the quarter (``controls.summary``), done of
    the planned, and planned but not done by the quarter's end."""
    p = ctx.period
    cov = con.execute(_coverage_sql("st.step"), [ctx.run_id, _year_before(p.end), p.end]).df()
    summary = controls.summary(con, p.start, p.end)
    done = pd.DataFrame({"step": list(summary["by_step"]), "done": [v["done"] for v in summary["by_step"].values()]})
    pid = _saved_plan(con, ctx)
    if pid is not None:
        items = followup_plan.plan_items(con, pid, as_of=p.end)
        planned = (items.assign(done_of_planned=(items["state"] == "done").astype(int),
                                not_done=(items["state"] != "done").astype(int))
                   .groupby("step").agg(planned=("contract_id", "size"), done_of_planned=("done_of_planned", "sum"),
                                        not_done=("not_done", "sum")).reset_index())
    else:
        planned = con.execute(
            """SELECT step, count(*) AS planned,
                      count(*) FILTER (WHERE done_date BETWEEN ? AND ?) AS done_of_planned,
                      count(*) FILTER (WHERE done_date IS NULL OR done_date > ?) AS not_done
               FROM controls WHERE planned_date BETWEEN ? AND ? GROUP BY step""",
            [p.start, p.end, p.end, p.start, p.end]).df()
    df = (pd.DataFrame({"step": [1, 2, 3]}).merge(cov, on="step", how="left").merge(done, on="step", how="left")
          .merge(planned, on="step", how="left"))
    for c in ("required", "covered_12m", "planned", "done", "done_of_planned", "not_done"):
        df[c] = df[c].fillna(0).astype(int)
    df["coverage"] = [(c / r) if r else None for c, r in zip(df["covered_12m"], df["required"])]
    return _frame("controls_plan", df)


def controls_by_department(con, ctx: Context) -> pd.DataFrame:
    """Per owning department (follow-up is decentralised): contracts needing control and
    controlled to the required step in the last 12 months; planned (saved plan, else the
    log's planned dates), done in the quarter, and planned but not done."""
    p = ctx.period
    cov = con.execute(
        _coverage_sql("n.department").replace("JOIN steps st ON n.required_step >= st.step",
                                              "JOIN steps st ON st.step = n.required_step"),
        [ctx.run_id, _year_before(p.end), p.end]).df()
    done = con.execute(
        """SELECT k.department, count(*) AS done
           FROM controls c LEFT JOIN contracts k ON k.contract_id = c.contract_id
           WHERE c.done_date BETWEEN ? AND ? GROUP BY ALL""", [p.start, p.end]).df()
    pid = ctx.extra.get("plan_id") if "plan_id" in ctx.extra else _saved_plan(con, ctx)
    if pid is not None:
        by = followup_plan.adherence(con, pid, as_of=p.end)["by_department"]
        planned = pd.DataFrame({"department": by["department"].replace("", None), "planned": by["planned"],
                                "not_done": by["planned"] - by["done"]})
    else:
        planned = con.execute(
            """SELECT k.department, count(*) AS planned,
                      count(*) FILTER (WHERE c.done_date IS NULL OR c.done_date > ?) AS not_done
               FROM controls c LEFT JOIN contracts k ON k.contract_id = c.contract_id
               WHERE c.planned_date BETWEEN ? AND ? GROUP BY ALL""", [p.end, p.start, p.end]).df()
    deps = con.execute("SELECT code AS department, name AS department_name FROM departments").df()
    df = (deps.merge(cov, on="department", how="outer").merge(done, on="department", how="outer")
          .merge(planned, on="department", how="outer"))
    for c in ("required", "covered_12m", "planned", "done", "not_done"):
        df[c] = df[c].fillna(0).astype(int)
    df = df[(df["required"] + df["planned"] + df["done"]) > 0].copy()
    df["coverage"] = [(c / r) if r else None for c, r in zip(df["covered_12m"], df["required"])]
    df["department"] = df["department"].fillna("–")
    df = df.sort_values(["required", "department"], ascending=[False, True])
    return _frame("controls_by_department", df)


def findings(con, ctx: Context) -> pd.DataFrame:
    """Findings opened in the quarter by type and severity, and how many of each type are
    still open at the quarter's end (whenever they were opened)."""
    p = ctx.period
    df = con.execute(
        """SELECT finding_type,
                  count(*) FILTER (WHERE opened_date BETWEEN ? AND ? AND severity = 'low') AS low,
                  count(*) FILTER (WHERE opened_date BETWEEN ? AND ? AND severity = 'medium') AS medium,
                  count(*) FILTER (WHERE opened_date BETWEEN ? AND ? AND severity = 'high') AS high,
                  count(*) FILTER (WHERE opened_date BETWEEN ? AND ?) AS total,
                  count(*) FILTER (WHERE opened_date <= ? AND ((closed_date IS NULL AND status <> 'closed') OR closed_date > ?)) AS open_end
           FROM findings GROUP BY finding_type""",
        [p.start, p.end] * 4 + [p.end, p.end]).df()
    base = pd.DataFrame({"finding_type": list(FINDING_TYPES)})
    extra = [t for t in df["finding_type"] if t not in FINDING_TYPES]
    base = pd.concat([base, pd.DataFrame({"finding_type": extra})], ignore_index=True)
    df = base.merge(df, on="finding_type", how="left")
    for c in ("low", "medium", "high", "total", "open_end"):
        df[c] = df[c].fillna(0).astype(int)
    df = df[(df["total"] + df["open_end"]) > 0]
    return _frame("findings", df)


def sanctions(con, ctx: Context) -> pd.DataFrame:
    """Reactions to findings (corrections, action plans and the sanctions daily fines,
    withheld payment and termination): imposed in the quarter, and open at its end."""
    p = ctx.period
    df = con.execute(
        """SELECT action,
                  count(*) FILTER (WHERE opened_date BETWEEN ? AND ?) AS imposed,
                  count(*) FILTER (WHERE opened_date <= ? AND ((closed_date IS NULL AND status <> 'closed') OR closed_date > ?)) AS open_end
           FROM findings WHERE action IS NOT NULL GROUP BY action""", [p.start, p.end, p.end, p.end]).df()
    base = pd.DataFrame({"action": list(ACTIONS)})
    df = base.merge(df, on="action", how="outer")
    order = {a: i for i, a in enumerate(ACTIONS)}
    df = df.assign(_o=df["action"].map(lambda a: order.get(a, 99))).sort_values(["_o", "action"])
    for c in ("imposed", "open_end"):
        df[c] = df[c].fillna(0).astype(int)
    return _frame("sanctions", df)


def _next_quarter(p: Period) -> Period:
    return Period(p.year + 1, 1) if p.quarter == 4 else Period(p.year, p.quarter + 1)


def resource(con, ctx: Context) -> pd.DataFrame:
    """The resource scenario: what one more dedicated person would cover in the quarter
    after the report's (``plan.one_more_person``, the follow-up plan's optimiser with the
    saved planning settings, on the risk run and the controls as of the report quarter's
    end). Rows: today's capacity, with one more person, and the difference."""
    cols = [c for c, _ in TABLES["resource"]]
    nxt = _next_quarter(ctx.period)
    settings = followup_plan.get_settings(con)
    info = {"quarter": nxt.key, "as_of": ctx.period.end.isoformat(), "hours_per_fte": settings.hours_per_fte,
            "capacity_hours": settings.hours, "effort": list(settings.effort), "error_nb": None, "error_en": None}
    ctx.extra["resource"] = info
    if ctx.run_id is None:
        return _frame("resource", pd.DataFrame(columns=cols))
    try:
        r = followup_plan.one_more_person(con, settings, nxt.year, nxt.quarter, run_id=ctx.run_id,
                                          as_of=ctx.period.end)
    except followup_plan.PlanError as e:
        info["error_nb"], info["error_en"] = t(e.key, "nb", **e.params), t(e.key, "en", **e.params)
        return _frame("resource", pd.DataFrame(columns=cols))
    per = float(settings.hours_per_fte)
    rows = [
        {"scenario": "today", "fte": r["hours_before"] / per, "hours": r["hours_before"],
         "controlled_contracts": r["contracts_before"], "exposure_hm": r["exposure_hm_before"], "share_hm": r["share_hm_before"]},
        {"scenario": "plus_one", "fte": r["hours_after"] / per, "hours": r["hours_after"],
         "controlled_contracts": r["contracts_after"], "exposure_hm": r["exposure_hm_after"], "share_hm": r["share_hm_after"]},
        {"scenario": "extra", "fte": r["extra_hours"] / per, "hours": r["extra_hours"],
         "controlled_contracts": r["extra_contracts"], "extra_step1": r["extra_steps"][1], "extra_step2": r["extra_steps"][2],
         "extra_step3": r["extra_steps"][3], "exposure_hm": r["extra_exposure_hm"], "share_hm": r["extra_share_hm"]},
    ]
    return _frame("resource", pd.DataFrame(rows, columns=cols))


def resource_curve(con, ctx: Context) -> pd.DataFrame:
    """What each capacity would buy next quarter (``plan.coverage_curve``): share of the
    høy/middels exposure fully covered against dedicated FTEs; feasible points only."""
    cols = [c for c, _ in TABLES["resource_curve"]]
    if ctx.run_id is None:
        return _frame("resource_curve", pd.DataFrame(columns=cols))
    nxt = _next_quarter(ctx.period)
    try:
        c = followup_plan.coverage_curve(con, followup_plan.get_settings(con), nxt.year, nxt.quarter,
                                         run_id=ctx.run_id, as_of=ctx.period.end)
    except followup_plan.PlanError:
        return _frame("resource_curve", pd.DataFrame(columns=cols))
    c = c[c["feasible"].astype(bool)].rename(columns={"contracts_planned": "controlled_contracts"})
    return _frame("resource_curve", c)


BUILDERS = {
    "kpis": kpis,
    "spend_by_category": spend_by_category,
    "risk_heatmap": risk_heatmap,
    "top_contracts": top_contracts,
    "controls_plan": controls_plan,
    "controls_by_department": controls_by_department,
    "findings": findings,
    "sanctions": sanctions,
    "resource": resource,
    "resource_curve": resource_curve,
}


def build(con: duckdb.DuckDBPyConnection, period: Period | str) -> Dataset:
    """Compute the whole report for a quarter from the database as it is now.

    Read-only: the caller freezes the result (``snapshot.freeze``) if it is to be kept."""
    p = parse_quarter(period) if isinstance(period, str) else period
    if p.quarter is None:
        raise ValueError("the report is made per quarter")
    ctx = context(con, p)
    run = None
    if ctx.run_id is not None:
        r = con.execute("SELECT run_id, config_version, as_of, data_version FROM risk_runs WHERE run_id = ?",
                        [ctx.run_id]).fetchone()
        run = {"run_id": r[0], "config_version": r[1], "as_of": r[2].isoformat(), "data_version": r[3]}
    last = queries.last_spend_date(con)
    meta = {
        "period": p.key,
        "previous": ctx.previous.key,
        "start": p.start.isoformat(),
        "end": p.end.isoformat(),
        "municipality": db.get_meta(con, "municipality") or "",
        "data_version": db.data_version(con),
        "risk_run_id": ctx.run_id,
        "risk_config_version": run["config_version"] if run else None,
        "risk_as_of": run["as_of"] if run else None,
        "previous_risk_run_id": ctx.previous_run_id,
        "last_spend_date": last.isoformat() if last else None,
        "complete": bool(last and last >= p.end),
        "layout": DATASET_LAYOUT,
    }
    tables = {name: fn(con, ctx) for name, fn in BUILDERS.items()}
    meta.update(ctx.extra)
    return Dataset(meta, tables)
