"""Rendering helpers shared by the leadership pages (Oversikt, Risikokart, Kontrakter,
Leverandører, Utvikling): level labels, Norwegian-formatted tables that open the
contract or supplier page on a click, and links that keep the global filters."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from akrim_analytics import fmt, i18n, queries, views
from akrim_analytics.i18n import t
from ui import common, risk_widgets

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


def detail_or_stop(param: str, entity_id: str, loader, *, area: str, page_title_key: str):
    """The top of a 360 page opened with ``?<param>=<id>``: a back button that clears the
    parameter, then the record from ``loader`` (cached per data version). When there is
    no such record the page shows a not-found notice under its own title and stops.
    ``area`` is the locale prefix (``views.kt`` / ``views.lv``) of ``back`` and
    ``not_found``."""
    if st.button(t(f"{area}.back"), icon=":material/arrow_back:"):
        st.query_params.pop(param, None)
        st.rerun()
    record = common.cached(loader, entity_id)
    if record is None:
        st.title(t(page_title_key))
        st.warning(common.md_t(f"{area}.not_found", id=entity_id), icon=":material/search_off:")
        st.stop()
    return record


def category_labels() -> dict[str, str]:
    """Category code → name in the current language (one cached lookup per run)."""
    cats = common.cached(queries.categories)
    return dict(zip(cats["code"], cats["name_nb" if i18n.get_language() == "nb" else "name_en"]))


def department_labels() -> dict[str, str]:
    """Department code → '4100 Eiendom'."""
    deps = common.cached(queries.departments)
    return {c: f"{c} {n}" for c, n in zip(deps["code"], deps["name"])}


def category_label(code, names: dict | None = None) -> str:
    if code is None or pd.isna(code):
        return "–"
    return (names or category_labels()).get(code, str(code))


def department_label(code, names: dict | None = None) -> str:
    if code is None or pd.isna(code):
        return "–"
    return (names or department_labels()).get(code, str(code))


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
    cols[amount_label or t("views.col.amount")] = money(df["amount"])
    if "category" in df:
        names = category_labels()
        cols[t("views.col.category")] = [category_label(c, names) for c in df["category"]]
    if "department" in df:
        names = department_labels()
        cols[t("views.col.department")] = [department_label(c, names) for c in df["department"]]
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


# '-1 234 567 kr', '-12,5 %', '-3': numbers formatted by fmt (a credit note), not formulas
_FORMATTED_NUMBER = __import__("re").compile(r"^-\d[\d ]*(,\d+)?( kr| %| mill\. kr| mrd\. kr)?$")


# Amounts in lists stay numbers (so a click on the column header sorts by size, not as
# text) and are shown as fmt.nok shows them: Streamlit's printf format with the pad
# character as thousands separator: ``%' ,.0f kr`` → ``1 234 567 kr``.
MONEY_FORMAT = "%' ,.0f kr"


class Money(list):
    """A list column of amounts (NOK) for ``table``: kept numeric, shown as ``1 234 567 kr``."""


def money(values) -> Money:
    return Money(None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values)


def table(data, **kwargs):
    """``st.dataframe`` of text from data, neutralised for spreadsheets first: the grid's
    own CSV download must not carry a supplier name such as ``=HYPERLINK(...)`` as a
    live formula (``export.safe_cell``); numbers formatted by ``fmt`` stay as they are.
    Columns given as ``Money`` stay numeric with the Norwegian amount format."""
    from akrim_analytics import export

    if isinstance(data, dict):
        money_cols = [k for k, v in data.items() if isinstance(v, Money)]
        if money_cols:
            config = dict(kwargs.pop("column_config", None) or {})
            for k in money_cols:
                config.setdefault(export.safe_cell(k), st.column_config.NumberColumn(format=MONEY_FORMAT))
            kwargs["column_config"] = config
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    safe = frame.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            text = safe[col].astype("string")
            risky = (text.str.startswith(export.DANGEROUS_PREFIXES).fillna(False)
                     & ~text.str.match(_FORMATTED_NUMBER).fillna(False)
                     & safe[col].map(lambda v: isinstance(v, str)))
            if risky.any():
                safe[col] = safe[col].astype(object)
                safe.loc[risky, col] = "'" + text[risky].astype(str)
    safe.columns = [export.safe_cell(c) if isinstance(c, str) else c for c in safe.columns]
    return st.dataframe(safe, **kwargs)


MAX_ROWS = 2000   # rows a list shows at a time in the browser; the download has all


def limited(df: pd.DataFrame, key: str, *, url_param: str | None = None) -> pd.DataFrame:
    """The rows of a list to show: all of them up to ``MAX_ROWS``; beyond that one page of
    ``MAX_ROWS`` rows at a time, chosen in a «Rader» selectbox («2 001–2 412»), the first page
    first (the lists are sorted with the most important rows on top). ``key`` names the
    list; the choice starts afresh when the number of rows changes (other filters).
    With ``url_param`` the page is kept in the URL instead (``?side=2``), so a row opened
    from page 2 and closed again returns to page 2; a page the list no longer has (after a
    search) falls back to the first."""
    n = len(df)
    if n <= MAX_ROWS:
        if url_param:
            st.query_params.pop(url_param, None)
        return df
    pages = math.ceil(n / MAX_ROWS)

    def span(i: int) -> str:
        return t("views.rows_range", first=fmt.number(i * MAX_ROWS + 1), last=fmt.number(min(n, (i + 1) * MAX_ROWS)))

    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    if url_param:
        page = int(common.url_selectbox(c1, t("views.rows_page"), [str(i + 1) for i in range(pages)], url_param, "1",
                                        format_func=lambda v: span(int(v) - 1))) - 1
    else:
        page = c1.selectbox(t("views.rows_page"), range(pages), format_func=span, key=f"{key}_page_{n}")
    c2.caption(t("views.limited", shown=span(page), total=fmt.number(n), max=fmt.number(MAX_ROWS)))
    return df.iloc[page * MAX_ROWS:(page + 1) * MAX_ROWS]


def clickable_table(cols: dict, *, key: str, ids: list, on_pick, height: int | str = "auto") -> None:
    """A read-only table; clicking a row's selector calls ``on_pick(id)`` (ids align with rows)."""
    event = table(cols, hide_index=True, on_select="rerun", selection_mode="single-row", key=key, height=height)
    rows = event.selection.rows if event is not None else []
    if rows:
        picked = ids[rows[0]]
        # forget the ticked row before leaving: the browser keeps the table's selection,
        # and on the way back to the list (the record's back button) it would open the
        # same record again at once
        del st.session_state[key]
        if picked is not None and not (isinstance(picked, float) and math.isnan(picked)):
            on_pick(picked)


def flag_texts(flags) -> list[str]:
    """Texts of red-flag keys: a list, or the comma-joined keys of ``views.suppliers_table``."""
    if flags is None or (isinstance(flags, float) and math.isnan(flags)):
        return []
    keys = [k for k in flags.split(",") if k] if isinstance(flags, str) else list(flags)
    return [t(f"views.flag.{k}") for k in keys]


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


def yes_no(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return t("views.unknown")
    return t("views.yes") if bool(value) else t("views.no")


def facts_frame(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({t("views.facts.field"): [p[0] for p in pairs],
                         t("views.facts.value"): [p[1] for p in pairs]})


def full_height(rows: int) -> int:
    """Pixel height that shows every row of a small table without scrolling."""
    return 35 * (rows + 1) + 3


def contract_facts(c: dict) -> list[tuple[str, str]]:
    sup = c.get("supplier_name") or c.get("supplier_id") or "–"
    if c.get("orgnr"):
        sup = f"{sup} ({c['orgnr']})"
    levels = c.get("subcontractor_levels")
    return [
        (t("views.col.supplier"), sup),
        (t("views.col.category"), category_label(c.get("category"))),
        (t("views.facts.owner"), department_label(c.get("department"))),
        (t("views.facts.responsible"), c.get("responsible") or "–"),
        (t("views.col.period"), f"{date_text(c.get('start_date'))} – {date_text(c.get('end_date'))}"),
        (t("views.kt.estimated_value"), nok_text(c.get("estimated_value"))),
        (t("views.facts.cpv"), c.get("cpv") or "–"),
        (t("views.facts.labour_intensive"), yes_no(c.get("labour_intensive"))),
        (t("views.facts.subcontractor_levels"), t("views.unknown") if levels is None else fmt.number(levels)),
        (t("views.facts.foreign_workers"), yes_no(c.get("foreign_workers"))),
        (t("views.facts.own_sites"), yes_no(c.get("own_sites"))),
        (t("views.facts.workers"), t("views.unknown") if c.get("workers") is None else fmt.number(c["workers"])),
        (t("views.facts.wage_clause"), yes_no(c.get("wage_clause"))),
        (t("views.facts.seriousness_clause"), yes_no(c.get("seriousness_clause"))),
        (t("views.facts.updated"), f"{date_text(c.get('updated_at'))} {c.get('updated_by') or ''}".strip()),
    ]


def supplier_facts(s: dict) -> list[tuple[str, str]]:
    nace = s.get("nace_code")
    employees = s.get("employees")
    return [
        (t("views.facts.orgnr"), s.get("orgnr") or t("views.facts.no_orgnr")),
        (t("views.facts.erp_no"), s.get("erp_supplier_no") or "–"),
        (t("views.facts.org_form"), s.get("org_form") or t("views.unknown")),
        (t("views.facts.nace"), f"{nace} ({s.get('nace_version') or '?'})" if nace else t("views.unknown")),
        (t("views.facts.founded"), date_text(s.get("founded_date"))),
        (t("views.facts.registered"), date_text(s.get("registered_date"))),
        (t("views.facts.vat"), yes_no(s.get("vat_registered"))),
        (t("views.facts.employees"), t("views.unknown") if employees is None else fmt.number(employees)),
        (t("views.facts.last_accounts"), str(int(s["last_accounts_year"])) if s.get("last_accounts_year") else "–"),
        (t("views.facts.municipality"), s.get("municipality_no") or "–"),
        (t("views.facts.country"), s.get("country_code") or "–"),
        (t("views.facts.extract"), date_text(s.get("register_extract_date"))),
        (t("views.facts.first_invoice"), date_text(s.get("first_invoice"))),
        (t("views.facts.last_invoice"), date_text(s.get("last_invoice"))),
    ]


def red_flags(supplier_id: str | None) -> None:
    """The supplier's register red flags (domain.md §5.4), or a clear 'none'."""
    s = common.cached(views.supplier_detail, supplier_id) if supplier_id else None
    if s is None:
        st.info(t("views.flags.no_supplier"), icon=":material/info:")
        return
    flags = s["flags"]
    if not flags:
        st.success(t("views.flags.none", date=date_text(s.get("register_extract_date"))),
                   icon=":material/verified:")
        return
    for key in flags:
        icon = ":material/help:" if key in ("not_checked", "no_orgnr") else ":material/flag:"
        st.warning(f"**{t(f'views.flag.{key}')}** – {t(f'views.flag_help.{key}')}", icon=icon)
    st.caption(t("views.flags.basis", date=date_text(s.get("register_extract_date"))))


def quarter_tick(year: int, quarter: int) -> str:
    """Two-line quarter label for chart axes: '3. kv.<br>2025' / 'Q3<br>2025'."""
    if i18n.get_language() == "nb":
        return f"{quarter}. kv.<br>{year}"
    return f"Q{quarter}<br>{year}"


def spend_chart(df: pd.DataFrame, *, title: str, period=None, key: str, split_no_contract: bool = False) -> None:
    """Spend per quarter (all time), the chosen period's quarters highlighted."""
    import plotly.graph_objects as go

    from ui import charts

    if df.empty:
        st.info(t("views.no_spend_ever"), icon=":material/info:")
        return
    labels = [quarter_tick(int(y), int(q)) for y, q in zip(df["year"], df["quarter"])]
    span = [labels[0], labels[-1]]
    title = f"{title}, {span[0].replace('<br>', ' ')} – {span[1].replace('<br>', ' ')}"
    in_period = [period is None or (period.start.year, period.start.month) <= (int(y), 3 * int(q) - 2)
                 and (int(y), 3 * int(q)) <= (period.end.year, period.end.month)
                 for y, q in zip(df["year"], df["quarter"])]
    fig = go.Figure()
    if split_no_contract:
        with_contract = df["amount"] - df["no_contract"]
        fig.add_trace(go.Bar(x=labels, y=with_contract, name=t("views.with_contract"), marker_color=charts.PRIMARY,
                             customdata=[nok_text(v) for v in with_contract],
                             hovertemplate="%{x}<br>%{customdata}<extra>%{fullData.name}</extra>"))
        fig.add_trace(go.Bar(x=labels, y=df["no_contract"], name=t("views.without_contract"),
                             marker_color=charts.RISK_COLORS["middels"],
                             customdata=[nok_text(v) for v in df["no_contract"]],
                             hovertemplate="%{x}<br>%{customdata}<extra>%{fullData.name}</extra>"))
        fig.update_layout(barmode="stack", legend={"orientation": "h", "y": -0.25})
    else:
        fig.add_trace(go.Bar(x=labels, y=df["amount"], marker_color=[charts.PRIMARY if p else "#9FC5E8" for p in in_period],
                             customdata=[nok_text(v) for v in df["amount"]],
                             hovertemplate="%{x}<br>%{customdata}<extra></extra>"))
    charts.style(fig, title=title, y_title=t("oversikt.axis_amount"), height=440)
    fig.update_xaxes(tickangle=0)
    fig.update_yaxes(tickformat=",.0f")
    st.plotly_chart(fig, key=key)
    if period is not None and not split_no_contract:
        st.caption(t("views.highlight_period"))


def _code_text(prefix: str, value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    text = t(f"{prefix}.{value}")
    return str(value) if text == f"{prefix}.{value}" else text


def controls_table(df: pd.DataFrame, *, key: str, show_contract: bool = False) -> None:
    if df.empty:
        st.info(t("views.ctl.none"), icon=":material/info:")
        return
    cols = {}
    if show_contract:
        cols[t("views.col.contract")] = df["contract_id"].tolist()
    cols.update({
        t("views.ctl.date"): [date_text(d if not pd.isna(d) else p) for d, p in zip(df["done_date"], df["planned_date"])],
        t("views.ctl.step"): [t("views.step.n", n=int(s)) for s in df["step"]],
        t("views.ctl.col_status"): [_code_text("views.ctl.status", s) for s in df["status"]],
        t("views.ctl.col_outcome"): [_code_text("views.ctl.outcome", o) for o in df["outcome"]],
        t("views.ctl.by"): [p if isinstance(p, str) else "–" for p in df["performed_by"]],
        t("views.ctl.docs"): [f"{int(r)} / {int(q)}" for r, q in zip(df["docs_received"], df["docs_requested"])],
        t("views.ctl.note"): [n if isinstance(n, str) else "" for n in df["note"]],
    })
    table(cols, hide_index=True, key=key)


def findings_table(df: pd.DataFrame, *, key: str, show_contract: bool = False) -> None:
    if df.empty:
        st.info(t("views.fnd.none"), icon=":material/info:")
        return
    cols = {}
    if show_contract:
        cols[t("views.col.contract")] = df["contract_id"].tolist()
    cols.update({
        t("views.fnd.opened"): [date_text(v) for v in df["opened_date"]],
        t("views.fnd.col_type"): [_code_text("views.fnd.type", v) for v in df["finding_type"]],
        t("views.fnd.col_severity"): [_code_text("views.fnd.severity", v) for v in df["severity"]],
        t("views.fnd.description"): [v if isinstance(v, str) else "" for v in df["description"]],
        t("views.fnd.col_action"): [_code_text("views.fnd.action", v) for v in df["action"]],
        t("views.fnd.deadline"): [date_text(v) for v in df["action_deadline"]],
        t("views.fnd.col_status"): [_code_text("views.fnd.status", v) for v in df["status"]],
        t("views.fnd.closed"): [date_text(v) for v in df["closed_date"]],
    })
    table(cols, hide_index=True, key=key)


def risk_and_follow_up(entity_type: str, entity_id: str, latest, *, area: str, key: str,
                       caption: str | None = None) -> None:
    """The end of a contract or supplier page: its risk assessment with the factor lines
    behind it, then its controls and findings (a supplier's with the contract of each).
    ``area`` is the page's text prefix (``views.kt`` / ``views.lv``), ``key`` its widget
    key prefix, ``latest`` the current risk run (None: not scored yet)."""
    st.subheader(t(f"{area}.risk_title"))
    if latest is None:
        no_risk_run()
    else:
        if caption:
            st.caption(caption)
        if risk_widgets.assessment_summary(entity_type, entity_id, latest.run_id) is not None:
            risk_widgets.explanation_table(entity_type, entity_id, latest.run_id)   # (else noted once)
    by = {f"{entity_type}_id": entity_id}
    show_contract = entity_type == "supplier"
    st.subheader(t(f"{area}.controls_title"))
    controls_table(common.cached(views.controls_for, **by), key=f"{key}_controls", show_contract=show_contract)
    st.subheader(t(f"{area}.findings_title"))
    findings_table(common.cached(views.findings_for, **by), key=f"{key}_findings", show_contract=show_contract)


def open_contract_here(contract_id: str) -> None:
    st.query_params["kontrakt"] = contract_id
    st.rerun()


def open_supplier_here(supplier_id: str) -> None:
    st.query_params["leverandor"] = supplier_id
    st.rerun()


def export_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The raw list with headers in the current language (numbers stay numbers)."""
    out = df.copy()
    if "flags" in out:
        out["flags"] = [", ".join(flag_texts(v)) for v in out["flags"]]
    if "level" in out:
        out["level"] = [level_text(v) for v in out["level"]]
    names = {}
    for col in out.columns:
        text = t(f"views.xcol.{col}")
        names[col] = col if text == f"views.xcol.{col}" else text
    return out.rename(columns=names)


def download(df: pd.DataFrame, report: str, *, key: str) -> None:
    """An Excel download of a whole list (formula-safe; built and audit-logged only
    when clicked, on Streamlit's download thread)."""
    from akrim_analytics import export

    user = common.current_user()
    lang = i18n.get_language()
    cur = common.con()

    def build() -> bytes:
        i18n.set_language(lang)
        frame = export_frame(df)
        export.record_export(cur, user, report, "xlsx", rows=len(frame))
        return export.excel_bytes({t(f"views.export.{report}"): frame})

    st.download_button(t("views.export.button"), data=build, file_name=f"{report}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       icon=":material/download:", key=key, on_click="ignore")
