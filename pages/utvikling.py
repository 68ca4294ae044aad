"""Utvikling: per quarter up to the chosen period – spend by risk level, the risk
picture at each quarter end, controls done and findings opened and closed."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from akrim_analytics import fmt, i18n, views
from akrim_analytics.i18n import t
from ui import charts, common
from ui import leadership as lv

f = common.get_filters()
st.title(t("nav.utvikling"))
if f is None:
    common.empty_state()
    st.stop()

lang = i18n.get_language()
scope = common.scope_text(f, markdown=False)   # chart titles
quarters = common.cached(views.quarters_until, f)
if not quarters:
    st.info(t("views.ut.no_quarters", period=f.period.label(lang)), icon=":material/info:")
    st.stop()
span = f"{quarters[0].label(lang)} – {quarters[-1].label(lang)}"
st.caption(t("views.ut.caption", span=span, scope=common.scope_text(f, markdown=True)))


def qlabel(d) -> str:
    d = pd.Timestamp(d)
    return fmt.quarter_label(d.year, (d.month - 1) // 3 + 1) if lang == "nb" else f"Q{(d.month - 1) // 3 + 1} {d.year}"


def qtick(d) -> str:
    """Two-line axis label ('3. kv.<br>2025'): many quarters stay readable without tilting."""
    return qlabel(d).replace(" 20", "<br>20", 1)


def finish(fig: go.Figure) -> None:
    fig.update_layout(barmode="stack", legend={"orientation": "h", "y": -0.22},
                      uniformtext={"minsize": charts.FONT_SIZE - 3, "mode": "hide"})
    fig.update_xaxes(tickangle=0)


# 1. spend per quarter by risk level (høy on the baseline, as in the contracts chart below:
# the part leaders follow is read against the axis; the legend reads lav → høy)
spend = common.cached(views.trend_spend, f)
fig = go.Figure()
for level in (*reversed(views.LEVELS), views.NOT_ASSESSED):
    part = spend[spend["level"] == level]
    if level == views.NOT_ASSESSED and not part["amount"].any():
        continue
    fig.add_trace(go.Bar(
        x=[qtick(d) for d in part["q_start"]], y=part["amount"], name=lv.level_text(level),
        marker_color=charts.RISK_COLORS.get(level, charts.NOT_ASSESSED_COLOR),
        customdata=[fmt.nok(v) for v in part["amount"]],
        hovertemplate="%{x}<br>%{fullData.name}: %{customdata}<extra></extra>"))
charts.style(fig, title=t("views.ut.title_spend", span=span, scope=scope), subtitle=t("views.ut.sub_spend"),
             y_title=t("oversikt.axis_amount"), height=500)
finish(fig)
fig.update_yaxes(tickformat=",.0f")
if spend["amount"].abs().sum() == 0:
    st.info(t("views.ut.no_spend", span=span), icon=":material/info:")
else:
    st.plotly_chart(fig, key="ut_spend")

# 2. the risk picture at each quarter end
risk_q = common.cached(views.trend_risk, f)
assessed = risk_q[risk_q["run_id"].notna()]
if assessed.empty:
    lv.no_risk_run()
elif assessed[list(views.LEVELS)].to_numpy().sum() == 0:
    st.info(t("views.ut.no_contracts"), icon=":material/info:")
else:
    fig = go.Figure()
    for level in reversed(views.LEVELS):   # høy on the baseline
        fig.add_trace(go.Bar(
            x=[qtick(d) for d in assessed["q_start"]], y=assessed[level], name=lv.level_text(level),
            marker_color=charts.RISK_COLORS[level], text=[fmt.number(v) for v in assessed[level]],
            textposition="inside", hovertemplate="%{x}<br>%{fullData.name}: %{text}<extra></extra>"))
    charts.style(fig, title=t("views.ut.title_risk", span=span, scope=scope), subtitle=t("views.ut.sub_risk"),
                 y_title=t("views.ut.axis_contracts"), height=480)
    finish(fig)
    st.plotly_chart(fig, key="ut_risk")
    first = assessed["as_of"].min()
    if len(assessed) < len(risk_q):
        st.caption(t("views.ut.risk_from", date=fmt.date(first)))

# 3. controls done per quarter
ctl = common.cached(views.trend_controls, f)
fig = go.Figure()
step_colours = {1: "#9FC5E8", 2: "#3D85C6", 3: "#073763"}
for step in (1, 2, 3):
    part = ctl[ctl["step"] == step]
    fig.add_trace(go.Bar(x=[qtick(d) for d in part["q_start"]], y=part["controls"],
                         name=t("views.step.n", n=step), marker_color=step_colours[step],
                         text=[fmt.number(v) if v else "" for v in part["controls"]], textposition="inside",
                         hovertemplate="%{x}<br>%{fullData.name}: %{y}<extra></extra>"))
charts.style(fig, title=t("views.ut.title_controls", span=span, scope=scope), y_title=t("views.ut.axis_controls"),
             height=440)
finish(fig)
if ctl["controls"].sum() == 0:
    st.info(t("views.ut.no_controls"), icon=":material/info:")
else:
    st.plotly_chart(fig, key="ut_controls")

# 4. findings opened and closed
fnd = common.cached(views.trend_findings, f)
if fnd[["opened", "closed", "open_at_end"]].to_numpy().sum() == 0:
    st.info(t("views.ut.no_findings"), icon=":material/info:")
else:
    x = [qtick(d) for d in fnd["q_start"]]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=fnd["opened"], name=t("views.ut.opened"), marker_color=charts.RISK_COLORS["høy"],
                         hovertemplate="%{x}<br>%{fullData.name}: %{y}<extra></extra>"))
    fig.add_trace(go.Bar(x=x, y=fnd["closed"], name=t("views.ut.closed"), marker_color=charts.RISK_COLORS["lav"],
                         hovertemplate="%{x}<br>%{fullData.name}: %{y}<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=fnd["open_at_end"], name=t("views.ut.open_at_end"), mode="lines+markers",
                             line={"color": "#000000", "width": 3, "dash": "dot"}, marker={"symbol": "diamond", "size": 10},
                             hovertemplate="%{x}<br>%{fullData.name}: %{y}<extra></extra>"))
    charts.style(fig, title=t("views.ut.title_findings", span=span, scope=scope), y_title=t("views.ut.axis_findings"),
                 height=440)
    finish(fig)
    fig.update_layout(barmode="group")
    st.plotly_chart(fig, key="ut_findings")

with st.expander(t("views.ut.table")):
    table = pd.DataFrame({t("views.ut.col_quarter"): [qlabel(d) for d in fnd["q_start"]]})
    totals = spend.groupby("q_start", sort=True)["amount"].sum()
    table[t("views.ut.col_spend")] = [fmt.nok(totals.get(d, 0)) for d in fnd["q_start"]]
    high = spend[spend["level"] == "høy"].set_index("q_start")["amount"]
    table[t("views.ut.col_high")] = [fmt.nok(high.get(d, 0)) for d in fnd["q_start"]]
    per_q = ctl.groupby("q_start")["controls"].sum()
    table[t("views.ut.col_controls")] = [fmt.number(per_q.get(d, 0)) for d in fnd["q_start"]]
    table[t("views.ut.opened")] = [fmt.number(v) for v in fnd["opened"]]
    table[t("views.ut.closed")] = [fmt.number(v) for v in fnd["closed"]]
    table[t("views.ut.open_at_end")] = [fmt.number(v) for v in fnd["open_at_end"]]
    lv.table(table, hide_index=True)
