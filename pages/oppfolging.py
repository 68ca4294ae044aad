"""Oppfølgingsplan: which contracts get which DFØ step this quarter within the control
capacity (akrim_analytics.plan), the coverage curve, what one more person would cover,
the Excel export per department, and plan against done."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from akrim_analytics import export, fmt, i18n, plan, queries
from akrim_analytics.filters import Period
from akrim_analytics.i18n import t
from akrim_analytics.plan import PlanError, PlanSettings
from ui import charts, common

lang = i18n.get_language()
user = common.current_user()
can_edit = user is not None and user.has("analytiker")
f = common.get_filters()
department = f.department if f else None

st.title(t("nav.oppfolging"))
st.caption(t("followup.page.plan_intro"))

run_id = common.cached(plan.current_run_id)
if run_id is None:
    st.info(t("followup.plan.err.no_risk_run"), icon=":material/info:")
    st.stop()

saved = common.cached(plan.get_settings)
first = common.cached(plan.default_quarter)
quarters = [first]
for _ in range(3):
    q = quarters[-1]
    quarters.append(Period(q.year + (q.quarter == 4), 1 if q.quarter == 4 else q.quarter + 1))
keys = [q.key for q in quarters]

# ---------------------------------------------------------------- inputs
with st.container(border=True):
    st.markdown(f"**{t('followup.page.inputs')}**")
    c = st.columns([1.2, 1.2, 1, 1, 1])
    qkey = common.url_selectbox(c[0], t("followup.page.quarter"), keys, "kvartal", keys[0],
                                format_func=lambda k: Period.parse(k).label(lang))
    mode = c[1].radio(t("followup.page.capacity_as"), ["fte", "hours"], horizontal=True,
                      index=0 if saved.capacity_mode == "fte" else 1,
                      format_func=lambda m: t(f"followup.page.mode.{m}"), key="plan_mode")
    # numbers with a possible fraction are text fields read the Norwegian way (1,5): a
    # number field drops the comma and reads 1,5 årsverk as 15 (common.decimal_input)
    hours_per_fte = common.decimal_input(c[3], t("followup.page.hours_per_fte"), saved.hours_per_fte, min_value=0.0,
                                         help=t("followup.page.hours_per_fte_help"), key="plan_hpf")
    if mode == "fte":
        ftes = common.decimal_input(c[2], t("followup.page.ftes"), saved.ftes, key="plan_ftes")
        capacity_hours = saved.capacity_hours
    else:
        capacity_hours = common.decimal_input(c[2], t("followup.page.hours"), saved.hours, key="plan_hours")
        ftes = saved.ftes
    min_dept = c[4].number_input(t("followup.page.min_per_department"), min_value=0, value=int(saved.min_per_department),
                                 step=1, help=t("followup.page.min_help"), key="plan_min")
    c = st.columns(5)
    effort = tuple(common.decimal_input(c[i], t("followup.page.effort", step=i + 1), saved.effort[i],
                                        key=f"plan_effort{i + 1}") for i in range(3))
    skip = c[3].number_input(t("followup.page.skip_clean"), min_value=0, value=int(saved.skip_clean_months), step=1,
                             help=t("followup.page.skip_help"), key="plan_skip")
    valid = c[4].number_input(t("followup.page.valid_months"), min_value=0, value=int(saved.valid_months), step=1,
                              help=t("followup.page.valid_help"), key="plan_valid")
    with st.expander(t("followup.page.weights")):
        st.caption(t("followup.page.weights_help"))
        w = st.columns(6)
        level_w = tuple(common.decimal_input(w[i], t("followup.page.level_weight", level=t(f"followup.level.{lv}")),
                                             saved.level_weights[i], min_value=0.0, key=f"plan_lw{i}")
                        for i, lv in enumerate(plan.LEVELS))
        step_w = tuple(common.decimal_input(w[3 + i], t("followup.page.step_weight", step=i + 1),
                                            saved.step_weights[i], min_value=0.0, key=f"plan_sw{i}")
                       for i in range(3))
    with st.expander(t("followup.page.dept_minimums")):
        st.caption(t("followup.page.dept_minimums_help"))
        deps_all = common.cached(queries.departments)
        current = dict(saved.department_minimums)
        edited = st.data_editor(
            pd.DataFrame({"code": deps_all["code"], "name": deps_all["name"],
                          "minimum": [int(current.get(c, 0)) for c in deps_all["code"]]}),
            hide_index=True, key="plan_dept_min", disabled=["code", "name"],
            column_config={"code": st.column_config.TextColumn(t("followup.plan.xl.dep.department")),
                           "name": st.column_config.TextColumn(t("followup.page.dept_name")),
                           "minimum": st.column_config.NumberColumn(t("followup.plan.xl.dep.minimum"), min_value=0,
                                                                    step=1, format="%d")})
        dept_mins = tuple(sorted((str(c), int(n)) for c, n in zip(edited["code"], edited["minimum"].fillna(0))
                                 if int(n) > 0))
    if None in (hours_per_fte, ftes, capacity_hours, *effort, *level_w, *step_w):
        st.stop()   # a field that is not a number says so under itself; no plan from a guess
    settings = PlanSettings(capacity_mode=mode, capacity_hours=float(capacity_hours), ftes=float(ftes),
                            hours_per_fte=float(hours_per_fte), effort=effort, level_weights=level_w,
                            step_weights=step_w, min_per_department=int(min_dept),
                            department_minimums=dept_mins, skip_clean_months=int(skip),
                            valid_months=int(valid))
    if can_edit and settings != saved:
        if st.button(t("followup.page.save_settings"), icon=":material/save:", key="plan_save_settings"):
            try:
                plan.save_settings(common.con(), user, settings)
                st.toast(t("followup.page.settings_saved"), icon=":material/check:")
                st.rerun()
            except PlanError as e:
                st.warning(common.md_escape(e), icon=":material/warning:")

q = Period.parse(qkey)
try:
    p = common.cached(plan.build_plan, settings, q.year, q.quarter)
except PlanError as e:
    st.warning(common.md_escape(e), icon=":material/tune:")
    st.caption(t("followup.page.relax", constraint=t(f"followup.page.constraint.{e.constraint}")))
    p = None

if p is not None:
    for code, params in p.notes:
        params = dict(params)
        for k in ("hours", "spare"):
            if k in params:
                params[k] = fmt.number(params[k], 1)
        st.info(t(f"followup.plan.note.{code}", **params), icon=":material/info:")
    cov = p.coverage
    try:
        extra = common.cached(plan.one_more_person, settings, q.year, q.quarter)
    except PlanError:
        extra = None
    m = st.columns(4)
    common.tile(m[0], t("followup.page.kpi_contracts"), fmt.number(len(p.items)),
                help=t("followup.page.kpi_contracts_help", steps=fmt.number(len(p.steps)),
                       s1=p.steps["step"].eq(1).sum(), s2=p.steps["step"].eq(2).sum(), s3=p.steps["step"].eq(3).sum()))
    common.tile(m[1], t("followup.page.kpi_hours"),
                t("followup.page.hours_of", used=fmt.number(p.hours_planned, 0),
                  capacity=fmt.number(p.capacity_hours, 0)),
                help=t("followup.page.kpi_hours_help", all=fmt.number(p.solver["hours_for_all"], 0),
                       ftes=fmt.number(p.solver["hours_for_all"] / settings.hours_per_fte, 1)
                       if settings.hours_per_fte else "–"))
    common.tile(m[2], t("followup.page.kpi_share"), fmt.pct(cov["share_hm_after"]),
                delta=t("followup.page.pp", pp=fmt.number(100 * ((cov["share_hm_after"] or 0)
                                                                 - (cov["share_hm_before"] or 0)), 1)),
                help=t("followup.page.kpi_share_help", before=fmt.pct(cov["share_hm_before"]),
                       any=fmt.pct(cov["share_hm_any_after"])))
    if extra is not None:
        common.tile(m[3], t("followup.page.kpi_extra"),
                    t("followup.page.extra_contracts", n=extra["extra_contracts"]),
                    delta=t("followup.page.pp", pp=fmt.number(100 * extra["extra_share_hm"], 1)),
                    help=t("followup.page.kpi_extra_help", hours=fmt.number(extra["extra_hours"], 0)))

tabs = st.tabs([t("followup.page.tab_plan"), t("followup.page.tab_curve"), t("followup.page.tab_extra"),
                t("followup.page.tab_not_chosen"), t("followup.page.tab_adherence")])

# ---------------------------------------------------------------- the plan
with tabs[0]:
    if p is None:
        st.info(t("followup.page.no_plan_yet"), icon=":material/info:")
    else:
        st.subheader(t("followup.page.plan_title", quarter=q.label(lang)))
        deps = p.departments
        st.dataframe({
            t("followup.plan.xl.dep.department"): [plan.department_label(d, n if isinstance(n, str) else None)
                                                   for d, n in zip(deps["department"], deps["department_name"])],
            t("followup.page.col_candidates"): [fmt.number(x) for x in deps["contracts"]],
            t("followup.plan.xl.dep.contracts_planned"): [fmt.number(x) for x in deps["contracts_planned"]],
            t("followup.plan.xl.dep.step1"): [fmt.number(x) for x in deps["step1"]],
            t("followup.plan.xl.dep.step2"): [fmt.number(x) for x in deps["step2"]],
            t("followup.plan.xl.dep.step3"): [fmt.number(x) for x in deps["step3"]],
            t("followup.plan.xl.dep.hours"): [fmt.number(x, 0) for x in deps["hours"]],
            t("followup.plan.xl.dep.minimum"): [fmt.number(x) for x in deps["minimum"]],
        }, hide_index=True, key="plan_departments", height=35 * (len(deps) + 1) + 3)
        items = p.items if not department else p.items[p.items["department"] == department]
        if department:
            st.caption(common.md_t("followup.page.filtered", department=department, n=len(items), total=len(p.items)))
        st.caption(t("followup.page.select_for_why"))
        picked = st.dataframe({
            t("followup.plan.xl.dep.department"): items["department"].tolist(),
            t("followup.plan.xl.contract_id"): items["contract_id"].tolist(),
            t("followup.plan.xl.contract"): items["contract_name"].tolist(),
            t("followup.plan.xl.supplier"): items["supplier_name"].fillna("–").tolist(),
            t("followup.plan.xl.level"): [t(f"followup.level.{x}") for x in items["level"]],
            t("followup.plan.xl.steps"): items["steps_text"].tolist(),
            t("followup.plan.xl.hours"): [fmt.number(x, 0) for x in items["hours"]],
            t("followup.plan.xl.exposure"): [fmt.nok(x) for x in items["exposure"]],
            t("followup.plan.xl.why"): [plan.why(r) for r in items["reasons"]],
        }, hide_index=True, key="plan_items", on_select="rerun", selection_mode="single-row",
            column_config={t("followup.plan.xl.why"): st.column_config.TextColumn(width="large")})
        sel = picked.selection.rows if picked and picked.selection else []
        if sel:
            r = items.iloc[sel[0]]
            with st.container(border=True):
                why = t("followup.page.why_title", id=r["contract_id"], steps=r["steps_text"])
                st.markdown(f"**{common.md_escape(why)}**")
                for code, params in r["reasons"]:
                    st.markdown(f"- {common.md_escape(plan.reason_text(code, params))}")
        cols = st.columns([1, 2])
        cur = common.con()
        n_rows = len(p.items)

        def build_xlsx() -> bytes:
            export.record_export(cur, user, "oppfolgingsplan", "xlsx", rows=n_rows,
                                 details={"year": p.year, "quarter": p.quarter})
            return plan.export_excel(p, lang)

        cols[0].download_button(t("followup.page.download"), data=build_xlsx,
                                file_name=f"oppfolgingsplan-{q.key}.xlsx", icon=":material/download:",
                                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                key="plan_download", on_click="ignore")
        if can_edit:
            with cols[1].popover(t("followup.page.save_plan", quarter=q.label(lang)), icon=":material/bookmark_add:"):
                st.caption(t("followup.page.save_plan_help"))
                note = st.text_input(t("followup.field.note"), key="plan_note")
                add = st.checkbox(t("followup.page.add_to_log"), value=True, key="plan_add_to_log")
                if st.button(t("followup.page.save"), type="primary", key="plan_save"):
                    pid = plan.save_plan(common.con(), user, p, note=note or None, add_to_log=add)
                    st.toast(t("followup.page.plan_saved", id=pid), icon=":material/check:")
                    st.rerun()

# ---------------------------------------------------------------- coverage curve
with tabs[1]:
    st.subheader(t("followup.page.curve_title"))
    st.caption(t("followup.page.curve_help"))
    try:
        curve = common.cached(plan.coverage_curve, settings, q.year, q.quarter)
    except PlanError as e:
        curve = None
        st.warning(common.md_escape(e), icon=":material/tune:")
    if curve is not None:
        ok = curve[curve["feasible"]]
        fig = go.Figure()
        fig.add_trace(go.Scatter(
            x=ok["hours"], y=ok["share_hm"] * 100, mode="lines+markers", name=t("followup.page.curve_full"),
            line={"color": charts.PRIMARY, "width": 3},
            customdata=[[fmt.number(h, 0), fmt.number(f_, 1), fmt.pct(s)] for h, f_, s in
                        zip(ok["hours"], ok["ftes"], ok["share_hm"])],
            hovertemplate="%{customdata[0]} t (%{customdata[1]} årsverk)<br>%{customdata[2]}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=ok["hours"], y=ok["share_hm_any"] * 100, mode="lines", name=t("followup.page.curve_any"),
            line={"color": charts.RISK_COLORS["middels"], "width": 2, "dash": "dot"},
            customdata=[[fmt.pct(s)] for s in ok["share_hm_any"]],
            hovertemplate="%{customdata[0]}<extra></extra>"))
        for marker, color, label in (("today", charts.RISK_COLORS["høy"], t("followup.page.today")),
                                     ("plus_one", charts.RISK_COLORS["lav"], t("followup.page.plus_one"))):
            row = curve[curve["marker"] == marker]
            if len(row):
                r = row.iloc[0]
                fig.add_vline(x=r["hours"], line={"color": color, "dash": "dash", "width": 2})
                if r["feasible"]:
                    fig.add_trace(go.Scatter(x=[r["hours"]], y=[r["share_hm"] * 100], mode="markers+text",
                                             marker={"size": 14, "color": color},
                                             text=[f"  {label}: {fmt.pct(r['share_hm'])}"],
                                             textposition="middle right", textfont={"size": 15, "color": color},
                                             name=label, hoverinfo="skip"))
        charts.style(fig, title=t("followup.page.curve_chart", quarter=q.label(lang)),
                     x_title=t("followup.page.curve_x"), y_title=t("followup.page.curve_y"), height=520)
        fig.update_yaxes(range=[0, 105], ticksuffix=" %")
        fig.update_xaxes(tickformat=",.0f")
        if settings.hours_per_fte > 0:
            top = float(curve["hours"].max())
            step = max(1, int(round(top / settings.hours_per_fte / 8)))
            ticks = [k * settings.hours_per_fte for k in range(0, int(top / settings.hours_per_fte) + 1, step)]
            fig.update_layout(xaxis2={"overlaying": "x", "side": "top", "range": [0, top * 1.02],
                                      "tickvals": ticks, "ticktext": [fmt.number(v / settings.hours_per_fte, 0)
                                                                      for v in ticks],
                                      "title": {"text": t("followup.page.curve_x2")}, "showgrid": False},
                              xaxis={"range": [0, top * 1.02]}, margin={"t": 110})
            fig.add_trace(go.Scatter(x=[0, top], y=[None, None], xaxis="x2", showlegend=False, hoverinfo="skip"))
        fig.update_layout(legend={"orientation": "h", "y": -0.18})
        st.plotly_chart(fig, key="plan_curve")
        with st.expander(t("followup.page.curve_table")):
            st.dataframe({
                t("followup.page.curve_x"): [fmt.number(h, 0) for h in curve["hours"]],
                t("followup.page.curve_x2"): [fmt.number(x, 1) for x in curve["ftes"]],
                t("followup.page.curve_full"): [fmt.pct(s) if s is not None and s == s else "–"
                                                for s in curve["share_hm"]],
                t("followup.page.curve_any"): [fmt.pct(s) if s is not None and s == s else "–"
                                               for s in curve["share_hm_any"]],
                t("followup.page.kpi_contracts"): [fmt.number(x) if x == x and x is not None else "–"
                                                   for x in curve["contracts_planned"]],
            }, hide_index=True, key="plan_curve_table")

# ---------------------------------------------------------------- one more person
with tabs[2]:
    st.subheader(t("followup.page.extra_title"))
    if p is None or extra is None:
        st.info(t("followup.page.no_plan_yet"), icon=":material/info:")
    else:
        st.markdown(t("followup.page.extra_text", hours=fmt.number(extra["extra_hours"], 0),
                      n=fmt.number(extra["extra_contracts"]), s1=extra["extra_steps"][1], s2=extra["extra_steps"][2],
                      s3=extra["extra_steps"][3], exposure=fmt.nok_short(extra["extra_exposure_hm"]),
                      before=fmt.pct(extra["share_hm_before"]), after=fmt.pct(extra["share_hm_after"])))
        if extra["new_contracts"]:
            after = common.cached(plan.build_plan, settings.with_hours(extra["hours_after"]), q.year, q.quarter)
            new = after.items[after.items["contract_id"].isin(extra["new_contracts"])]
            st.dataframe({
                t("followup.plan.xl.dep.department"): new["department"].tolist(),
                t("followup.plan.xl.contract_id"): new["contract_id"].tolist(),
                t("followup.plan.xl.contract"): new["contract_name"].tolist(),
                t("followup.plan.xl.level"): [t(f"followup.level.{x}") for x in new["level"]],
                t("followup.plan.xl.steps"): new["steps_text"].tolist(),
                t("followup.plan.xl.exposure"): [fmt.nok(x) for x in new["exposure"]],
            }, hide_index=True, key="plan_extra_table")

# ---------------------------------------------------------------- not chosen
with tabs[3]:
    st.subheader(t("followup.page.not_chosen_title"))
    if p is not None:
        nc = p.not_chosen if not department else p.not_chosen[p.not_chosen["department"] == department]
        nc = nc[nc["level"].isin(["høy", "middels"])].head(200)
        st.caption(t("followup.page.not_chosen_help"))
        st.dataframe({
            t("followup.plan.xl.dep.department"): nc["department"].tolist(),
            t("followup.plan.xl.contract_id"): nc["contract_id"].tolist(),
            t("followup.plan.xl.contract"): nc["contract_name"].tolist(),
            t("followup.plan.xl.level"): [t(f"followup.level.{x}") for x in nc["level"]],
            t("followup.plan.xl.required"): [f"{x}" for x in nc["required_step"]],
            t("followup.plan.xl.exposure"): [fmt.nok(x) for x in nc["exposure"]],
            t("followup.page.col_reason"): [plan.not_chosen_text(c, pp) for c, pp in
                                            zip(nc["reason"], nc["reason_params"])],
        }, hide_index=True, key="plan_not_chosen")

# ---------------------------------------------------------------- plan against done
with tabs[4]:
    st.subheader(t("followup.page.adherence_title"))
    plans = common.cached(plan.saved_plans)
    if plans.empty:
        st.info(t("followup.page.no_saved_plans"), icon=":material/info:")
    else:
        labels = {int(r.plan_id): t("followup.page.saved_label", quarter=Period(int(r.year), int(r.quarter)).label(lang),
                                    id=int(r.plan_id), status=t(f"followup.page.plan_status.{r.status}"),
                                    by=r.created_by, at=fmt.datetime(r.created_at))
                  for r in plans.itertuples()}
        pid = st.selectbox(t("followup.page.saved_plan"), list(labels), format_func=labels.get, key="plan_saved")
        a = common.cached(plan.adherence, pid)
        tot = a["total"]
        k = st.columns(4)
        common.tile(k[0], t("followup.page.adh_done"), f"{tot['done']} / {tot['planned']}")
        common.tile(k[1], t("followup.page.adh_share"), fmt.pct(tot["adherence"]))
        common.tile(k[2], t("followup.page.adh_overdue"), fmt.number(tot["overdue"]))
        common.tile(k[3], t("followup.page.adh_unplanned"), fmt.number(a["unplanned_done"]),
                    help=t("followup.page.adh_unplanned_help"))
        st.caption(t("followup.page.adh_as_of", date=fmt.date(a["as_of"])))
        by = a["by_department"]
        if department:
            by = by[by["department"] == department]
        if len(by):
            fig = go.Figure()
            for state, color in (("done", charts.RISK_COLORS["lav"]), ("done_late", "#56B4E9"),
                                 ("pending", "#BBBBBB"), ("overdue", charts.RISK_COLORS["høy"])):
                fig.add_trace(go.Bar(y=by["department"], x=by[state], orientation="h",
                                     name=t(f"followup.page.state.{state}"), marker_color=color))
            fig.update_layout(barmode="stack", legend={"orientation": "h", "y": -0.2})
            charts.style(fig, title=t("followup.page.adh_chart"), x_title=t("followup.page.adh_steps"),
                         height=max(280, 60 + 40 * len(by)))
            st.plotly_chart(fig, key="plan_adherence_chart")
            st.dataframe({
                t("followup.plan.xl.dep.department"): by["department"].tolist(),
                t("followup.page.adh_planned"): by["planned"].tolist(),
                t("followup.page.state.done"): by["done"].tolist(),
                t("followup.page.state.done_late"): by["done_late"].tolist(),
                t("followup.page.state.pending"): by["pending"].tolist(),
                t("followup.page.state.overdue"): by["overdue"].tolist(),
                t("followup.page.adh_share"): [fmt.pct(x) for x in by["adherence"]],
            }, hide_index=True, key="plan_adherence_table")
        od = a["overdue"]
        if department and len(od):
            od = od[od["department"] == department]
        st.markdown(f"**{t('followup.page.overdue_title')}**")
        if len(od) == 0:
            st.caption(t("followup.page.none_overdue"))
        else:
            st.dataframe({
                t("followup.plan.xl.dep.department"): od["department"].tolist(),
                t("followup.plan.xl.contract_id"): od["contract_id"].tolist(),
                t("followup.plan.xl.contract"): od["contract_name"].tolist(),
                t("followup.field.step"): [t(f"followup.step_short.{s}") for s in od["step"]],
                t("followup.page.days_overdue"): [fmt.number(x) for x in od["days_overdue"]],
            }, hide_index=True, key="plan_overdue")
