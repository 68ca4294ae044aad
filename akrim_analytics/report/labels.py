"""Shared by the PowerPoint and Excel renderers: column labels, visible columns per
language, value formatting by column kind, and the stamp text."""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from .. import fmt
from ..filters import Period
from ..i18n import t
from .dataset import TABLES

# Risk-level cell colours: light tints of the colour-blind-safe Okabe–Ito palette the
# dashboard uses (ui/charts.RISK_COLORS), readable with black text on a projector.
LEVEL_FILL = {"lav": "A8DCC5", "middels": "F5D38A", "høy": "EE9B73"}
LEVEL_STRONG = {"lav": "009E73", "middels": "E69F00", "høy": "D55E00"}
SEVERITY_COLORS = {"low": "56B4E9", "medium": "E69F00", "high": "D55E00"}
PRIMARY = "0B5394"
SECONDARY = "9FB8D6"
GREY = "595959"


def base_name(col: str) -> str:
    """'reasons_nb' → 'reasons'; 'category_en' → 'name' for category names."""
    if col.endswith(("_nb", "_en")):
        col = col[:-3]
        return "name" if col in ("name", "category") else col
    return col


def visible_columns(table: str, lang: str, drop: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(column, kind) of a table as shown in ``lang``: the other language's text columns
    are left out."""
    other = "_en" if lang == "nb" else "_nb"
    return [(c, k) for c, k in TABLES[table] if not c.endswith(other) and c not in drop]


def formatted(df: pd.DataFrame, table: str, lang: str | None, drop: tuple[str, ...] = ()
              ) -> tuple[list[str], list[list[str]], list[str]]:
    """A table as display text: (header, rows, kinds). A ``unit`` column (key figures)
    sets the format of the row's ``num`` cells (kroner, count or share)."""
    cols = visible_columns(table, lang or "nb", drop)
    header = [label(c, lang) for c, _ in cols]
    units = df["unit"].tolist() if "unit" in df.columns else [None] * len(df)
    rows = [[value_text(k, v, lang, unit) for (c, k), v in zip(cols, rec)]
            for rec, unit in zip(df[[c for c, _ in cols]].itertuples(index=False, name=None), units)]
    return header, rows, [k for _, k in cols]


def label(col: str, lang: str | None = None) -> str:
    return t(f"report.col.{base_name(col)}", lang)


def code_text(domain: str, value, lang: str | None = None) -> str:
    if value is None:
        return "–"
    key = f"report.code.{domain}.{value}"
    text = t(key, lang)
    return str(value) if text == key else text


def level_text(level, lang: str | None = None) -> str:
    return "–" if level is None else t(f"report.level.{level}", lang)


def step_text(step, lang: str | None = None) -> str:
    if step is None or (isinstance(step, float) and math.isnan(step)) or step is pd.NA:
        return "–"
    return t(f"report.step.{int(step)}", lang)


def is_missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def value_text(kind: str, v, lang: str | None = None, unit: str | None = None) -> str:
    """A value formatted for a slide or the page (Norwegian formats in both languages'
    reports: the amounts are Norwegian kroner)."""
    if kind == "num" and unit:
        kind = {"nok": "nok", "pct": "pct", "count": "int"}.get(unit, "num")
    if kind == "bool3":
        return t("report.unknown", lang) if is_missing(v) else t("report.yes" if v else "report.no", lang)
    if is_missing(v):
        return "–"
    if kind == "nok":
        return fmt.nok(v)
    if kind == "pct":
        return fmt.pct(v)
    if kind in ("int",):
        return fmt.number(v)
    if kind == "num":
        return fmt.number(v, 1 if float(v) != int(float(v)) else 0)
    if kind == "date":
        return fmt.date(v)
    if kind == "level":
        return level_text(v, lang)
    if kind == "step":
        return step_text(v, lang)
    if kind == "bool":
        return t("report.yes", lang) if v else t("report.no", lang)
    if kind.startswith("code:"):
        return code_text(kind[5:], v, lang)
    return str(v)


def short_text(kind: str, v, lang: str | None = None) -> str:
    """Like ``value_text`` but amounts in compact form (``1,1 mrd. kr``) for KPI tiles."""
    if kind == "nok" and not is_missing(v):
        return fmt.nok_short(v)
    return value_text(kind, v, lang)


def change_text(kind: str, change, lang: str | None = None, *, ascii_minus: bool = False) -> str:
    """'+12,5 %', '−3 kr', '+1,2 prosentpoeng' style change with an explicit sign
    (``ascii_minus``: a '-' that Streamlit's metric reads as a fall)."""
    if is_missing(change):
        return "–"
    sign = "+" if change > 0 else (("-" if ascii_minus else "−") if change < 0 else "±")
    mag = abs(float(change))
    if kind == "pct":
        return f"{sign}{fmt.number(mag * 100, 1)} {'p.p.' if lang == 'en' else 'prosentpoeng'}"
    if kind == "nok":
        return f"{sign}{fmt.nok_short(mag)}"
    return f"{sign}{fmt.number(mag)}"


def change_pct_text(share) -> str:
    """A relative change with sign: 0.125 → '+12,5 %'."""
    if is_missing(share):
        return "–"
    sign = "+" if share > 0 else ("−" if share < 0 else "±")
    return f"{sign}{fmt.number(abs(float(share)) * 100, 1)} %"


def period_label(key: str, lang: str | None = None) -> str:
    return Period.parse(key).label(lang or "nb")


def stamp_text(snap, lang: str | None = None) -> str:
    """The line on every slide and sheet: data version, risk configuration and run, edition."""
    as_of = snap.risk_as_of
    return t("report.stamp", lang, data_version=snap.data_version,
             config_version=snap.risk_config_version if snap.risk_config_version is not None else "–",
             run_id=snap.risk_run_id if snap.risk_run_id is not None else "–",
             as_of=fmt.date(as_of) if as_of else "–", edition=snap.edition,
             created=fmt.datetime(snap.created_at) if isinstance(snap.created_at, dt.datetime) else str(snap.created_at),
             fingerprint=snap.fingerprint[:12])


def about_rows(snap, lang: str | None = None) -> list[tuple[str, str]]:
    """(field, value) rows for the 'About this report' slide and sheet."""
    names = t("report.about.rows", lang).split("|")
    meta = snap.dataset.meta
    values = [
        period_label(snap.period, lang), period_label(meta["previous"], lang), meta.get("municipality") or "–",
        str(snap.edition), fmt.datetime(snap.created_at), snap.created_by, snap.reason or "–",
        str(snap.data_version), "–" if snap.risk_config_version is None else f"v{snap.risk_config_version}",
        "–" if snap.risk_run_id is None else str(snap.risk_run_id),
        fmt.date(snap.risk_as_of) if snap.risk_as_of else "–",
        fmt.date(meta["last_spend_date"]) if meta.get("last_spend_date") else "–",
        snap.fingerprint,
    ]
    return list(zip(names, values))


def file_name_for(period: str, edition: int, ext: str, lang: str | None = None) -> str:
    """``kvartalsrapport-2026-K3-utg1.pptx`` / ``quarterly-report-2026-K3-ed1.pptx``."""
    if (lang or "nb") == "nb":
        return f"kvartalsrapport-{period}-utg{edition}.{ext}"
    return f"quarterly-report-{period}-ed{edition}.{ext}"


def file_name(snap, ext: str, lang: str | None = None) -> str:
    return file_name_for(snap.period, snap.edition, ext, lang)


def plan_source_text(meta: dict, lang: str | None = None) -> str:
    """Where the 'planned' figures come from: the quarter's saved follow-up plan, or the log."""
    pid = meta.get("plan_id")
    return (t("report.controls.plan_source_plan", lang, plan_id=pid) if pid is not None
            else t("report.controls.plan_source_log", lang))


def resource_note(meta: dict, lang: str | None = None) -> str:
    """The resource scenario's assumptions (quarter, capacity, effort per step), or why it is missing."""
    lang = lang or "nb"
    info = meta.get("resource") or {}
    if info.get(f"error_{lang}"):
        return t("report.resource.none", lang, error=info[f"error_{lang}"])
    if not info:
        return ""
    if meta.get("risk_run_id") is None:
        return t("report.no_risk_run", lang)
    e = [float(x) for x in (info.get("effort") or [0, 0, 0])]
    num = (lambda v: fmt.number(v, 0 if float(v).is_integer() else 1))
    return t("report.resource.note", lang, quarter=period_label(info["quarter"], lang), as_of=fmt.date(info["as_of"]),
             hours=num(info["capacity_hours"]), per_fte=num(info["hours_per_fte"]), e1=num(e[0]), e2=num(e[1]),
             e3=num(e[2]))
