"""Oversikt: total spend and the seed's chart "Kjøp på kategori" for the chosen period."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from akrim_analytics import fmt, i18n, queries
from akrim_analytics.i18n import t
from ui import common, charts

f = common.get_filters()
st.title(t("oversikt.title"))
if f is None:
    common.empty_state()
    st.stop()

lang = i18n.get_language()
period = f.period.label(lang)
kpi = common.cached(queries.spend_kpis, f)
cols = st.columns(4)
cols[0].metric(t("oversikt.total_spend", year=period), fmt.nok(kpi["total"]))
cols[1].metric(t("oversikt.lines"), fmt.number(kpi["lines"]))
cols[2].metric(t("oversikt.suppliers"), fmt.number(kpi["suppliers"]))
cols[3].metric(t("oversikt.unclassified"), fmt.pct(kpi["unclassified_share"]))

data = common.cached(queries.spend_by_category, f)
name_col = "name_nb" if lang == "nb" else "name_en"
data = data.sort_values("amount", ascending=True)
title = t("oversikt.chart_title", year=period, scope=common.scope_text(f))
fig = go.Figure(go.Bar(
    x=data["amount"], y=data[name_col], orientation="h",
    text=[fmt.nok(v) for v in data["amount"]], textposition="auto",
    hovertemplate="%{y}<br>%{text}<extra></extra>", marker_color=charts.PRIMARY,
))
charts.style(fig, title=title, x_title=t("oversikt.axis_amount"), height=520)
fig.update_xaxes(tickformat=",.0f")
st.plotly_chart(fig, key="kjop_pa_kategori")

with st.expander(t("oversikt.table_caption")):
    table = data.sort_values("amount", ascending=False)
    total = table["amount"].sum()
    st.dataframe(
        {
            t("oversikt.col_category"): table[name_col].tolist(),
            t("oversikt.col_amount"): [fmt.nok(v) for v in table["amount"]],
            t("oversikt.col_share"): [fmt.pct(v / total if total else 0) for v in table["amount"]],
            t("oversikt.col_lines"): [fmt.number(v) for v in table["lines"]],
        },
        hide_index=True,
    )
