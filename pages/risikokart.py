"""Risikokart: where spend and risk concentrate. Four views (category × level,
department × category risk-weighted, the 5×5 matrix, a category → supplier treemap);
clicking a cell or tile lists the contracts behind it right below the chart. The
clicked cell is kept in the URL (?utvalg=...), so a link opens the same list."""
from __future__ import annotations

import textwrap

import plotly.graph_objects as go
import streamlit as st

from akrim_analytics import fmt, i18n, queries, views
from akrim_analytics.i18n import t
from ui import charts, common
from ui import leadership as lv

f = common.get_filters()
st.title(t("nav.risikokart"))
if f is None:
    common.empty_state()
    st.stop()

lang = i18n.get_language()
period = f.period.label(lang)
scope = common.scope_text(f, markdown=False)   # chart titles
run = common.cached(views.run_for_view, f)
st.caption(t("views.rk.caption", period=period, scope=common.scope_text(f, markdown=True), run=lv.run_caption(run)))
if run is None:
    lv.no_risk_run()
    st.stop()
if common.cached(queries.spend_kpis, f)["lines"] == 0:
    st.info(t("views.ov.no_spend", period=period), icon=":material/info:")
    st.stop()

view = lv.url_segmented(t("views.rk.view_label"), list(views.VIEWS), "visning", "category_level",
                        format_func=lambda v: t(f"views.rk.view.{v}"))
selection = views.Selection.parse(st.query_params.get("utvalg"))


def _on_select(chart_key: str, chart_view: str) -> None:
    """Keep the clicked cell/tile in the URL; a cleared selection clears it."""
    state = st.session_state.get(chart_key)
    points = list(state.selection.points) if state is not None else []
    key = None
    for p in points:
        raw = p.get("customdata") or p.get("id")
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        parsed = views.Selection.parse(str(raw)) if raw else None
        if parsed is not None:
            key = parsed.key
            break
    if key is not None:
        st.query_params["utvalg"] = key
    else:
        current = views.Selection.parse(st.query_params.get("utvalg"))
        if current is None or current.view == chart_view:
            st.query_params.pop("utvalg", None)


def _show(fig: go.Figure, chart_view: str, mode: str = "points", fresh: bool = False) -> None:
    """The chart with its click handler. ``fresh``: a new chart per selection, so the
    browser draws the figure as sent (the treemap opens on the chosen category instead
    of Plotly's zoom into the clicked tile)."""
    key = f"rk_{chart_view}"
    if fresh and selection is not None and selection.view == chart_view:
        key += "_" + "".join(ch if ch.isalnum() else "_" for ch in selection.key)
    st.plotly_chart(fig, key=key, on_select=lambda: _on_select(key, chart_view), selection_mode=mode,
                    config={"displayModeBar": False})


def _cell(cd: list[list[str]]) -> tuple[int, int] | None:
    """Row and column of the selected cell in a grid of selection keys (for its frame)."""
    if selection is None:
        return None
    for i, row in enumerate(cd):
        for j, key in enumerate(row):
            if key == selection.key:
                return i, j
    return None


def _wrap(label: str, width: int = 16) -> str:
    return "<br>".join(textwrap.wrap(label, width, break_long_words=False)) or label


name_col = "name_nb" if lang == "nb" else "name_en"

if view == "category_level":
    df = common.cached(views.spend_by_category_level, f, run.run_id)
    cats = df.drop_duplicates("category")
    ylabels = list(cats[name_col])
    shown = [v for v in views.ALL_LEVELS
             if v != views.NOT_ASSESSED or df.loc[df["level"] == v, "amount"].abs().sum() > 0]
    xlabels = [lv.level_text(v) for v in shown]
    z, text, cd, hover = [], [], [], []
    for code, name in zip(cats["category"], cats[name_col]):
        rows = df[df["category"] == code].set_index("level")
        z.append([float(rows.at[v, "amount"]) for v in shown])
        text.append([fmt.nok_short(rows.at[v, "amount"]) if rows.at[v, "amount"] else "–" for v in shown])
        cd.append([views.Selection("category_level", category=code, level=v).key for v in shown])
        hover.append([t("views.rk.hover_cat_level", category=name, level=lv.level_text(v),
                        amount=fmt.nok(rows.at[v, "amount"]), contracts=fmt.number(rows.at[v, "contracts"]))
                      for v in shown])
    fig = charts.selectable_heatmap(z[::-1], xlabels, ylabels[::-1], text=text[::-1], customdata=cd[::-1],
                                    hovertext=hover[::-1], showscale=False, highlight=_cell(cd[::-1]))
    charts.style(fig, title=t("views.rk.title_cat_level", period=period, scope=scope),
                 subtitle=t("views.rk.sub_cat_level"), height=max(420, 70 * len(ylabels) + 200))
    fig.update_xaxes(side="top")
    fig.update_layout(margin={"t": 150})
    _show(fig, view)
elif view == "department_category":
    df = common.cached(views.risk_weighted_by_department_category, f, run.run_id)
    deps = df.drop_duplicates("department")
    cats = df.drop_duplicates("category")
    xlabels = [_wrap(n, 14) for n in cats[name_col]]
    ylabels = [f"{c} {n}" for c, n in zip(deps["department"], deps["department_name"])]
    z, text, cd, hover = [], [], [], []
    for dep, dep_label in zip(deps["department"], ylabels):
        rows = df[df["department"] == dep].set_index("category")
        z.append([float(rows.at[c, "weighted"]) for c in cats["category"]])
        text.append([fmt.nok_short(rows.at[c, "weighted"]) if rows.at[c, "weighted"] else "–"
                     for c in cats["category"]])
        cd.append([views.Selection("department_category", category=c, department=dep).key for c in cats["category"]])
        hover.append([t("views.rk.hover_dep_cat", department=dep_label, category=n,
                        weighted=fmt.nok(rows.at[c, "weighted"]), amount=fmt.nok(rows.at[c, "amount"]),
                        not_assessed=fmt.nok(rows.at[c, "not_assessed"]))
                      for c, n in zip(cats["category"], cats[name_col])])
    fig = charts.selectable_heatmap(z[::-1], xlabels, ylabels[::-1], text=text[::-1], customdata=cd[::-1],
                                    hovertext=hover[::-1], colorscale="Oranges", showscale=False,
                                    highlight=_cell(cd[::-1]))
    charts.style(fig, title=t("views.rk.title_dep_cat", period=period, scope=scope),
                 subtitle=t("views.rk.sub_dep_cat"), height=max(460, 58 * len(ylabels) + 260))
    fig.update_xaxes(side="top", tickangle=0)
    fig.update_layout(margin={"t": 230})
    _show(fig, view)
elif view == "matrix":
    df = common.cached(views.risk_matrix, f, run.run_id)
    idx = {lvl: i for i, lvl in enumerate(views.ALL_LEVELS)}
    ks = [1, 2, 3, 4, 5]
    z, text, cd, hover = [], [], [], []
    for lk in ks:
        cells = df[df["likelihood"] == lk].set_index("consequence")
        z.append([idx.get(cells.at[c, "level"] or views.NOT_ASSESSED, 3) for c in ks])
        text.append([t("views.rk.matrix_cell", level=lv.level_text(cells.at[c, "level"]),
                       n=fmt.number(cells.at[c, "contracts"]), amount=fmt.nok_short(cells.at[c, "amount"]))
                     for c in ks])
        cd.append([views.Selection("matrix", likelihood=lk, consequence=c).key for c in ks])
        hover.append([t("views.rk.hover_matrix", likelihood=lk, consequence=c,
                        level=lv.level_text(cells.at[c, "level"]), n=fmt.number(cells.at[c, "contracts"]),
                        amount=fmt.nok(cells.at[c, "amount"])) for c in ks])
    fig = charts.selectable_heatmap(z, [str(c) for c in ks], [str(k) for k in ks], text=text, customdata=cd,
                                    hovertext=hover, colorscale=charts.discrete_level_scale(), zmin=0, zmax=3,
                                    showscale=False, xgap=4, ygap=4, highlight=_cell(cd))
    charts.style(fig, title=t("views.rk.title_matrix", period=period, scope=scope),
                 subtitle=t("views.rk.sub_matrix", date=fmt.date(run.as_of)),
                 x_title=t("views.rk.consequence"), y_title=t("views.rk.likelihood"), height=680)
    _show(fig, view)
    st.caption(t("views.rk.matrix_note"))
else:  # treemap
    df = common.cached(views.treemap, f, run.run_id)
    df = df[df["amount"] > 0]
    if df.empty:
        st.info(t("views.ov.no_spend", period=period), icon=":material/info:")
    else:
        root = "root"
        ids, labels, parents, values, colours, texts = [root], [t("views.rk.all")], [""], [float(df["amount"].sum())], \
            ["#FFFFFF"], [fmt.nok_short(df["amount"].sum())]
        for code, grp in df.groupby("category", sort=False):
            cat_id = views.Selection("treemap", category=code).key
            ids.append(cat_id)
            labels.append(grp[name_col].iloc[0])
            parents.append(root)
            values.append(float(grp["amount"].sum()))
            colours.append("#ECECEC")
            texts.append(fmt.nok_short(grp["amount"].sum()))
            for r in grp.itertuples():
                if r.others:
                    ids.append(views.Selection("treemap", category=code, level=r.level).key)
                    labels.append(t("views.rk.others", n=fmt.number(r.others), level=lv.level_text(r.level).lower()))
                    colours.append(charts.RISK_COLORS.get(r.level, charts.NOT_ASSESSED_COLOR))
                    texts.append(f"{fmt.nok_short(r.amount)} · {lv.level_text(r.level)}")
                else:
                    ids.append(views.Selection("treemap", category=code, supplier_id=r.supplier_id).key)
                    labels.append(r.supplier_name or r.supplier_id)
                    colours.append(charts.RISK_COLORS.get(r.level, charts.NOT_ASSESSED_COLOR))
                    texts.append(f"{fmt.nok_short(r.amount)} · {lv.level_text(r.level)}")
                parents.append(cat_id)
                values.append(float(r.amount))
        fig = go.Figure(go.Treemap(
            ids=ids, labels=labels, parents=parents, values=values, branchvalues="total", text=texts,
            texttemplate="<b>%{label}</b><br>%{text}", hovertemplate="<b>%{label}</b><br>%{text}<extra></extra>",
            marker={"colors": colours, "line": {
                "width": [5 if selection is not None and i == selection.key else 1 for i in ids],
                "color": ["#000000" if selection is not None and i == selection.key else "#FFFFFF" for i in ids]}},
            maxdepth=3,
            textfont={"size": charts.FONT_SIZE}, pathbar={"visible": True, "side": "bottom"},
            # after a click, show the chosen tile's category (its suppliers side by side)
            level=(views.Selection("treemap", category=selection.category).key
                   if selection is not None and selection.view == "treemap"
                   and views.Selection("treemap", category=selection.category).key in ids else None),
        ))
        charts.style(fig, title=t("views.rk.title_treemap", period=period, scope=scope),
                     subtitle=t("views.rk.sub_treemap"), height=700)
        _show(fig, view, fresh=True)

# ---------------------------------------------------------------- the contracts behind the click
if selection is not None and selection.view == view:
    drill = common.cached(views.drilldown, f, run.run_id, selection)
    parts = []
    if selection.view == "matrix":
        parts.append(t("views.rk.sel_matrix", likelihood=selection.likelihood, consequence=selection.consequence))
    else:
        if selection.department:
            parts.append(lv.department_label(selection.department))
        if selection.category:
            parts.append(common.category_name(selection.category))
        if selection.level and selection.view == "treemap":
            parts.append(t("views.rk.others_sel", level=lv.level_text(selection.level).lower()))
        elif selection.level:
            parts.append(lv.level_text(selection.level))
        if selection.supplier_id:
            sup = drill["supplier_name"].dropna()
            parts.append(sup.iloc[0] if len(sup) else selection.supplier_id)
    n_contracts = int(drill["contract_id"].notna().sum())
    st.subheader(t("views.rk.drill_title", what=common.md_escape(" × ".join(parts)), period=period))
    head = st.columns([4, 1])
    no_contract = drill.loc[drill["contract_id"].isna(), "amount"].sum()
    summary = t("views.rk.drill_summary", n=fmt.number(n_contracts), amount=fmt.nok(drill["amount"].sum()))
    if no_contract:
        summary += " · " + t("views.rk.drill_no_contract", amount=fmt.nok(no_contract))
    head[0].markdown(summary)
    if head[1].button(t("views.rk.clear"), icon=":material/close:"):
        st.query_params.pop("utvalg", None)
        st.rerun()
    if drill.empty:
        st.info(t("views.rk.drill_empty"), icon=":material/info:")
    else:
        def _open(target):
            kind, ident = target
            lv.goto_contract(ident) if kind == "k" else lv.goto_supplier(ident)

        st.caption(t("views.click_row"))
        shown = lv.limited(drill, "rk_drill")
        ids = [("k", c) if isinstance(c, str) else ("s", s) for c, s in zip(shown["contract_id"], shown["supplier_id"])]
        lv.clickable_table(lv.contract_rows(shown, amount_label=t("views.rk.col_amount_cell")), key="rk_drill",
                           ids=ids, on_pick=_open)
elif selection is None or selection.view != view:
    st.caption(t("views.rk.click_hint"))
