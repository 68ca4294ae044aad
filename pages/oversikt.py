"""Oversikt: the period's key figures, each with its change from the previous quarter,
and the seed's chart "Kjøp på kategori"."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from akrim_analytics import fmt, i18n, queries, views
from akrim_analytics.i18n import t
from ui import charts, common
from ui import leadership as lv

f = common.get_filters()
st.title(t("oversikt.title"))
if f is None:
    common.empty_state()
    st.stop()

lang = i18n.get_language()
period = f.period.label(lang)
k = common.cached(views.kpis, f)
now, prev = k["now"], k["prev"]
vs = lv.comparison_text(f)
st.caption(t("views.ov.caption", period=period, scope=common.scope_text(f, markdown=True),
             run=lv.run_caption(now["run"]), vs=vs))

row1 = st.columns(4)
common.tile(row1[0], t("oversikt.total_spend", year=period), fmt.nok(now["total"]),
            lv.delta_amount(now["total"], prev["total"]), delta_color="off",
            help=t("views.ov.help_total"))
common.tile(row1[1], t("views.ov.high_spend"), lv.nok_text(now["high_spend"]),
            lv.delta_amount(now["high_spend"], prev["high_spend"]), delta_color="inverse",
            help=t("views.ov.help_high_spend"))
common.tile(row1[2], t("views.ov.no_contract"), fmt.nok(now["no_contract"]),
            lv.delta_amount(now["no_contract"], prev["no_contract"]), delta_color="inverse",
            help=t("views.ov.help_no_contract", share=fmt.pct(now["no_contract_share"] or 0)))
common.tile(row1[3], t("views.ov.open_findings", date=fmt.date(now["window"].end)),
            fmt.number(now["open_findings"]),
            lv.delta_count(now["open_findings"], prev["open_findings"]), delta_color="inverse",
            help=t("views.ov.help_open_findings"))

if now["run"] is None:
    lv.no_risk_run()
else:
    row2 = st.columns(4)
    for col, level, colour in ((row2[0], "høy", "inverse"), (row2[1], "middels", "off"), (row2[2], "lav", "off")):
        p = prev["contracts"][level] if prev["contracts"] is not None else None
        common.tile(col, t("views.ov.contracts_level", level=lv.level_text(level).lower()),
                    fmt.number(now["contracts"][level]), lv.delta_count(now["contracts"][level], p),
                    delta_color=colour,
                    help=t("views.ov.help_contracts"))
    share = now["high_controlled_share"]
    common.tile(row2[3], t("views.ov.high_controlled", year=now["window"].end.year),
                "–" if share is None else fmt.pct(share),
                lv.delta_share(share, prev["high_controlled_share"]), delta_color="normal",
                help=t("views.ov.help_high_controlled", n=fmt.number(now["high_controlled"] or 0),
                       total=fmt.number(now["high_contracts"] or 0), date=fmt.date(now["window"].end)))

kpi = common.cached(queries.spend_kpis, f)
data = common.cached(queries.spend_by_category, f)
name_col = "name_nb" if lang == "nb" else "name_en"
data = data.sort_values("amount", ascending=True)
title = t("oversikt.chart_title", year=period, scope=common.scope_text(f, markdown=False))
if kpi["lines"] == 0:
    st.info(t("views.ov.no_spend", period=period), icon=":material/info:")
else:
    fig = go.Figure(go.Bar(
        x=data["amount"], y=data[name_col], orientation="h",
        text=[fmt.nok(v) for v in data["amount"]], textposition="auto",
        hovertemplate="%{y}<br>%{text}<extra></extra>", marker_color=charts.PRIMARY,
    ))
    charts.style(fig, title=title, x_title=t("oversikt.axis_amount"), height=520)
    fig.update_xaxes(tickformat=",.0f")
    st.plotly_chart(fig, key="kjop_pa_kategori")
    st.caption(t("views.ov.spend_facts", lines=fmt.number(kpi["lines"]), suppliers=fmt.number(kpi["suppliers"]),
                 unclassified=fmt.pct(kpi["unclassified_share"])))

    with st.expander(t("oversikt.table_caption")):
        table = data.sort_values("amount", ascending=False)
        total = table["amount"].sum()
        lv.table(
            {
                t("oversikt.col_category"): table[name_col].tolist(),
                t("oversikt.col_amount"): [fmt.nok(v) for v in table["amount"]],
                t("oversikt.col_share"): [fmt.pct(v / total if total else 0) for v in table["amount"]],
                t("oversikt.col_lines"): [fmt.number(v) for v in table["lines"]],
            },
            hide_index=True,
        )
