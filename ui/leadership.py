"""Rendering helpers shared by the leadership pages (Oversikt, Risikokart, Kontrakter,
Leverandører, Utvikling): level labels, Norwegian-formatted tables that open the
contract or supplier page on a click, and links that keep the global filters."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from akrim_analytics import fmt, i18n, queries, views
from akrim_analytics.i18n import t
from ui import common

GLOBAL_PARAMS = ("periode", "avdeling", "kategori", "lang")
CONTRACT_PAGE = "pages/kontrakter.py"
SUPPLIER_PAGE = "pages/leverandorer.py"


def level_text(level: str | None) -> str:
    return t(f"views.level.{level or views.NOT_ASSESSED}")


def date_text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    return fmt.date(value)


def nok_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    return fmt.nok(value)


def int_text(value) -> str:
    if value is None or pd.isna(value):
        return "–"
    return fmt.number(int(value))


def params_with(**extra) -> dict[str, str]:
    """The current global filters and language as query parameters, plus ``extra``."""
    out = {k: st.query_params[k] for k in GLOBAL_PARAMS if k in st.query_params}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def goto_contract(contract_id: str) -> None:
    st.switch_page(CONTRACT_PAGE, query_params=params_with(kontrakt=contract_id))


def goto_supplier(supplier_id: str) -> None:
    st.switch_page(SUPPLIER_PAGE, query_params=params_with(leverandor=supplier_id))


def category_label(code) -> str:
    return "–" if code is None or pd.isna(code) else common.category_name(code)


def department_label(code) -> str:
    if code is None or pd.isna(code):
        return "–"
    deps = common.cached(queries.departments)
    name = deps.loc[deps["code"] == code, "name"]
    return f"{code} {name.iloc[0]}" if len(name) else str(code)


def run_caption(run: views.RunInfo | None) -> str:
    """What risk picture a page shows, in words."""
    if run is None:
        return t("views.run.none")
    if run.exact:
        return t("views.run.as_of", date=fmt.date(run.as_of))
    return t("views.run.newer", date=fmt.date(run.as_of))


def no_risk_run() -> None:
    st.info(t("views.run.none_action"), icon=":material/info:")


def contract_rows(df: pd.DataFrame, *, amount_label: str | None = None, extra: dict | None = None) -> dict:
    """Display columns for a contract list (drill-down, contract list, supplier's contracts)."""
    cols: dict[str, list] = {
        t("views.col.contract"): [c if isinstance(c, str) else t("views.no_contract") for c in df["contract_id"]],
        t("views.col.contract_name"): [n if isinstance(n, str) else "–" for n in df.get("contract_name", df.get("name"))],
    }
    if "supplier_name" in df:
        cols[t("views.col.supplier")] = [n if isinstance(n, str) else "–" for n in df["supplier_name"]]
    cols[t("views.col.level")] = [level_text(v) for v in df["level"]]
    cols[t("views.col.score")] = [
        "–" if pd.isna(lk) else f"{int(lk)} × {int(cq)}" for lk, cq in zip(df["likelihood"], df["consequence"])]
    cols[amount_label or t("views.col.amount")] = [nok_text(v) for v in df["amount"]]
    if "category" in df:
        cols[t("views.col.category")] = [category_label(c) for c in df["category"]]
    if "department" in df:
        cols[t("views.col.department")] = [department_label(c) for c in df["department"]]
    if "end_date" in df:
        cols[t("views.col.period")] = [f"{date_text(a)} – {date_text(b)}"
                                       for a, b in zip(df["start_date"], df["end_date"])]
    if "required_step" in df:
        cols[t("views.col.required_step")] = [
            "–" if pd.isna(v) else (t("views.step.none") if int(v) == 0 else t("views.step.n", n=int(v)))
            for v in df["required_step"]]
    if "last_control" in df:
        cols[t("views.col.last_control")] = [date_text(v) for v in df["last_control"]]
    if "open_findings" in df:
        cols[t("views.col.open_findings")] = [int_text(v) for v in df["open_findings"]]
    for k, v in (extra or {}).items():
        cols[k] = v
    return cols


def clickable_table(cols: dict, *, key: str, ids: list, on_pick, height: int | str = "auto") -> None:
    """A read-only table; clicking a row's selector calls ``on_pick(id)`` (ids align with rows)."""
    event = st.dataframe(pd.DataFrame(cols), hide_index=True, on_select="rerun", selection_mode="single-row",
                         key=key, height=height)
    rows = event.selection.rows if event is not None else []
    if rows:
        picked = ids[rows[0]]
        if picked is not None and not (isinstance(picked, float) and math.isnan(picked)):
            on_pick(picked)


def flag_texts(flags) -> list[str]:
    return [t(f"views.flag.{f}") for f in (flags or [])]


def delta_amount(now: float | None, prev: float | None) -> str | None:
    """'+12,3 mill. kr (+4,1 %)' or None when there is nothing to compare with."""
    if now is None or prev is None:
        return None
    diff = now - prev
    sign = "+" if diff > 0 else ""
    rel = f" ({sign}{fmt.pct(diff / prev)})" if prev else ""
    return f"{sign}{fmt.nok_short(diff)}{rel}"


def delta_count(now: int | None, prev: int | None):
    if now is None or prev is None:
        return None
    diff = now - prev
    return 0 if diff == 0 else (f"+{fmt.number(diff)}" if diff > 0 else f"-{fmt.number(-diff)}")


def delta_share(now: float | None, prev: float | None):
    if now is None or prev is None:
        return None
    diff = (now - prev) * 100
    if round(diff, 1) == 0:
        return 0
    return f"{'+' if diff > 0 else '-'}{fmt.number(abs(diff), 1)} {t('views.pp')}"


def comparison_text(f) -> str:
    """What the delta compares with: 'fra 2. kv. 2025' / 'fra 12 mnd. til 30.09.2025'."""
    lang = i18n.get_language()
    if f.period.quarter is not None:
        return t("views.ov.vs_quarter", period=f.period.previous().label(lang))
    w = views.previous_window(f.period)
    return t("views.ov.vs_window", date=fmt.date(w.end))


def url_segmented(label: str, options: list[str], key: str, default: str, format_func=str) -> str:
    """A segmented control kept in the URL as ``?key=value`` (like ``common.url_selectbox``):
    a link opens the same view; the default is left out of the URL."""
    url_value = st.query_params.get(key)
    if key not in st.session_state or st.session_state.get(f"_url_{key}") != url_value:
        st.session_state[key] = url_value if url_value in options else default
    if st.session_state[key] not in options:
        st.session_state[key] = default
    value = st.segmented_control(label, options, key=key, format_func=format_func, required=True) or default
    if value == default:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = value
    st.session_state[f"_url_{key}"] = st.query_params.get(key)
    return value
