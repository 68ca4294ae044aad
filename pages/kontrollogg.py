"""Kontrollogg: every control of every contract – step, dates, who, documents
requested and received, findings with actions and sanctions, status – edited by
analysts (akrim_analytics.controls; every change audit-logged). A leder reads only."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from akrim_analytics import controls, fmt, i18n, plan
from akrim_analytics.controls import ControlError
from akrim_analytics.i18n import t
from ui import common

lang = i18n.get_language()
user = common.current_user()
can_edit = user is not None and user.has("analytiker")
f = common.get_filters()
department = f.department if f else None
today = plan.today(common.con())
DATE_FMT = "DD.MM.YYYY"
LIMIT = 5000


def d(value) -> str:
    return "–" if value is None or (not isinstance(value, str) and pd.isna(value)) else fmt.date(value)


def doc_list(codes) -> str:
    codes = list(codes) if codes is not None and not (isinstance(codes, float) and pd.isna(codes)) else []
    return ", ".join(controls.label("document", c) for c in codes) or "–"


def none_or(value):
    return None if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)) else value


def show_error(e: Exception) -> None:
    st.error(common.md_escape(e), icon=":material/error:")


st.title(t("nav.kontrollogg"))
st.caption(t("followup.log.intro"))
if not can_edit:
    st.info(t("followup.log.read_only"), icon=":material/visibility:")

# ---------------------------------------------------------------- key figures
year = today.year
summary = common.cached(controls.summary, dt.date(year, 1, 1), dt.date(year, 12, 31), department=department)
overdue = common.cached(controls.overdue_controls, today, department=department)
overdue_f = common.cached(controls.overdue_findings, today, department=department)
open_f = common.cached(controls.findings, status="open", department=department)
k = st.columns(4)
common.tile(k[0], t("followup.log.kpi_done", year=year), fmt.number(summary["controls_done"]),
            help=t("followup.log.kpi_done_help", s1=summary["by_step"][1]["done"], s2=summary["by_step"][2]["done"],
                   s3=summary["by_step"][3]["done"]))
common.tile(k[1], t("followup.log.kpi_open_findings"), fmt.number(len(open_f)),
            help=t("followup.log.kpi_open_help", high=int((open_f["severity"] == "high").sum())))
common.tile(k[2], t("followup.log.kpi_overdue"), fmt.number(len(overdue)),
            help=t("followup.log.kpi_overdue_help"))
common.tile(k[3], t("followup.log.kpi_overdue_actions"), fmt.number(len(overdue_f)),
            help=t("followup.log.kpi_overdue_actions_help"))

# ---------------------------------------------------------------- new control
if can_edit:
    with st.expander(t("followup.log.new"), icon=":material/add_circle:"):
        search = st.text_input(t("followup.log.find_contract"), key="log_new_search",
                               placeholder=t("followup.log.find_placeholder"))
        choices = common.cached(controls.contract_choices, search or None, department=department)
        if choices.empty:
            st.caption(t("followup.log.no_contract_found"))
        else:
            labels = {r.contract_id: f"{r.contract_id} – {r.name} ({r.supplier_name or '–'})"
                      for r in choices.itertuples()}
            with st.form("log_new_form", clear_on_submit=False):
                contract_id = st.selectbox(t("followup.field.contract_id"), list(labels), format_func=labels.get,
                                           key="log_new_contract")
                c = st.columns(4)
                step = c[0].selectbox(t("followup.field.step"), list(controls.STEPS), key="log_new_step",
                                      format_func=lambda s: controls.label("step", s))
                planned = c[1].date_input(t("followup.field.planned_date"), value=None, format=DATE_FMT,
                                          key="log_new_planned")
                done = c[2].date_input(t("followup.field.done_date"), value=None, format=DATE_FMT, max_value=today,
                                       key="log_new_done")
                by = c[3].text_input(t("followup.field.performed_by"), key="log_new_by")
                c = st.columns(2)
                req = c[0].multiselect(t("followup.field.documents_requested"), list(controls.DOCUMENTS),
                                       format_func=lambda x: controls.label("document", x),
                                       placeholder=t("followup.field.documents_placeholder"))
                rec = c[1].multiselect(t("followup.field.documents_received"), list(controls.DOCUMENTS),
                                       format_func=lambda x: controls.label("document", x),
                                       placeholder=t("followup.field.documents_placeholder"))
                c = st.columns(2)
                outcome = c[0].selectbox(t("followup.field.outcome"), [None, *controls.OUTCOMES],
                                         format_func=lambda x: t("followup.log.not_set") if x is None
                                         else controls.label("outcome", x))
                status = c[1].selectbox(t("followup.field.status"), [None, *controls.CONTROL_STATUSES],
                                        format_func=lambda x: t("followup.log.status_auto") if x is None
                                        else controls.label("status", x))
                note = st.text_area(t("followup.field.note"), height=80)
                if st.form_submit_button(t("followup.log.create"), type="primary", key="log_new_submit"):
                    try:
                        cid = controls.create_control(
                            common.con(), user, contract_id, step, planned_date=planned, done_date=done,
                            performed_by=by, documents_requested=req, documents_received=rec, outcome=outcome,
                            status=status, note=note)
                        st.query_params["kontroll"] = str(cid)
                        st.toast(t("followup.log.created", id=cid), icon=":material/check:")
                        st.rerun()
                    except ControlError as e:
                        show_error(e)
    st.caption(t("followup.log.import_hint"))

# ---------------------------------------------------------------- the log
c = st.columns([3, 2, 2, 2])
search = c[0].text_input(t("followup.log.search"), key="log_search", placeholder=t("followup.log.find_placeholder"))
status_filter = c[1].selectbox(t("followup.field.status"), [None, *controls.CONTROL_STATUSES], key="log_status",
                               format_func=lambda x: t("followup.log.all") if x is None else controls.label("status", x))
step_filter = c[2].selectbox(t("followup.field.step"), [None, *controls.STEPS], key="log_step",
                             format_func=lambda x: t("followup.log.all") if x is None
                             else controls.label("step_short", x))
only_overdue = c[3].toggle(t("followup.log.only_overdue"), key="log_overdue")
log = common.cached(controls.control_log, department=department, status=status_filter, step=step_filter,
                    search=search or None, overdue_only=only_overdue, as_of=today, limit=LIMIT)
matching = int(log["matching"].iloc[0]) if len(log) else 0
st.caption(t("followup.log.count", n=fmt.number(matching)) + (" " + t("followup.log.limited", n=fmt.number(len(log)))
                                                               if matching > len(log) else ""))
table = pd.DataFrame({
    t("followup.log.col_id"): log["control_id"].astype(int),
    t("followup.field.contract_id"): log["contract_id"],
    t("followup.log.col_contract"): log["contract_name"].fillna("–"),
    t("followup.log.col_supplier"): log["supplier_name"].fillna("–"),
    t("followup.log.col_department"): log["department"].fillna("–"),
    t("followup.field.step"): [controls.label("step_short", s) for s in log["step"]],
    t("followup.field.planned_date"): [d(x) for x in log["planned_date"]],
    t("followup.field.done_date"): [d(x) for x in log["done_date"]],
    t("followup.field.status"): [controls.label("status", s) + (" ⚠" if o else "")
                                 for s, o in zip(log["status"], log["overdue"])],
    t("followup.field.outcome"): [controls.label("outcome", none_or(x)) for x in log["outcome"]],
    t("followup.log.col_missing"): [doc_list(x) for x in log["documents_missing"]],
    t("followup.log.col_findings"): [f"{o} / {n}" if n else "–" for o, n in zip(log["findings_open"], log["findings"])],
})
# The table's key follows the rows it shows: a ticked row is a position, so when a search,
# a filter or an edit changes what sits there, the tick must go rather than open whichever
# control moved into it (the control already open stays open).
ids = tuple(int(x) for x in log["control_id"])
event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row",
                     key=f"log_table_{hash(ids)}", height=420)
rows = event.selection.rows if event and event.selection else []
if rows:
    st.query_params["kontroll"] = str(ids[rows[0]])
selected = st.query_params.get("kontroll")

# ---------------------------------------------------------------- one control
if selected:
    try:
        ctl = common.cached(controls.get_control, int(selected), as_of=today)
    except ValueError:
        ctl = None
    if ctl is None:
        st.warning(common.md_t("followup.err.no_control", id=selected), icon=":material/search_off:")
    else:
        cid = int(ctl["control_id"])
        with st.container(border=True):
            st.subheader(t("followup.log.detail_title", id=cid, step=controls.label("step", ctl["step"])))
            st.dataframe({
                t("followup.log.fact"): [t("followup.field.contract_id"), t("followup.log.col_supplier"),
                                         t("followup.log.col_department"), t("followup.field.planned_date"),
                                         t("followup.field.done_date"), t("followup.field.performed_by"),
                                         t("followup.field.status"), t("followup.field.outcome"),
                                         t("followup.field.documents_requested"),
                                         t("followup.field.documents_received"), t("followup.log.col_missing"),
                                         t("followup.field.note"), t("followup.log.updated")],
                t("followup.log.value"): [
                    f"{ctl['contract_id']} – {ctl['contract_name'] or ''}", ctl["supplier_name"] or "–",
                    ctl["department"] or "–", d(ctl["planned_date"]), d(ctl["done_date"]),
                    ctl["performed_by"] or "–",
                    controls.label("status", ctl["status"]) + (f" ({t('followup.log.overdue')})" if ctl["overdue"]
                                                               else ""),
                    controls.label("outcome", ctl["outcome"]), doc_list(ctl["documents_requested"]),
                    doc_list(ctl["documents_received"]), doc_list(ctl["documents_missing"]), ctl["note"] or "–",
                    f"{ctl['updated_by'] or ctl['created_by'] or '–'} "
                    f"{fmt.datetime(ctl['updated_at'] or ctl['created_at']) if (ctl['updated_at'] or ctl['created_at']) else ''}",
                ]}, hide_index=True, key="log_facts", height=35 * 14 + 3)
            fs = common.cached(controls.findings, control_id=cid)
            st.markdown(f"**{t('followup.log.findings_title', n=len(fs))}**")
            if len(fs):
                st.dataframe({
                    t("followup.log.col_id"): fs["finding_id"].astype(int),
                    t("followup.field.finding_type"): [controls.label("finding_type", x) for x in fs["finding_type"]],
                    t("followup.field.severity"): [controls.label("severity", x) for x in fs["severity"]],
                    t("followup.field.description"): fs["description"].fillna("–"),
                    t("followup.field.action"): [controls.label("action", none_or(x)) for x in fs["action"]],
                    t("followup.field.action_deadline"): [d(x) for x in fs["action_deadline"]],
                    t("followup.log.col_amount"): ["–" if pd.isna(x) else fmt.nok(x) for x in fs["sanction_amount"]],
                    t("followup.field.status"): [controls.label("finding_status", x) for x in fs["status"]],
                    t("followup.field.closed_date"): [d(x) for x in fs["closed_date"]],
                }, hide_index=True, key="log_findings")
            else:
                st.caption(t("followup.log.no_findings"))

            if can_edit:
                tabs = st.tabs([t("followup.log.tab_edit"), t("followup.log.tab_add_finding"),
                                t("followup.log.tab_edit_finding"), t("followup.log.tab_delete")])
                with tabs[0]:
                    with st.form(f"log_edit_{cid}"):
                        c = st.columns(4)
                        step = c[0].selectbox(t("followup.field.step"), list(controls.STEPS),
                                              index=int(ctl["step"]) - 1,
                                              format_func=lambda s: controls.label("step", s))
                        planned = c[1].date_input(t("followup.field.planned_date"), value=none_or(ctl["planned_date"]),
                                                  format=DATE_FMT)
                        done = c[2].date_input(t("followup.field.done_date"), value=none_or(ctl["done_date"]),
                                               format=DATE_FMT, max_value=today)
                        by = c[3].text_input(t("followup.field.performed_by"), value=ctl["performed_by"] or "",
                                             key=f"log_edit_by_{cid}")
                        c = st.columns(2)
                        req = c[0].multiselect(t("followup.field.documents_requested"), list(controls.DOCUMENTS),
                                               default=ctl["documents_requested"],
                                               format_func=lambda x: controls.label("document", x),
                                               placeholder=t("followup.field.documents_placeholder"))
                        rec = c[1].multiselect(t("followup.field.documents_received"), list(controls.DOCUMENTS),
                                               default=ctl["documents_received"],
                                               format_func=lambda x: controls.label("document", x),
                                               placeholder=t("followup.field.documents_placeholder"))
                        c = st.columns(2)
                        outs = [None, *controls.OUTCOMES]
                        outcome = c[0].selectbox(t("followup.field.outcome"), outs, index=outs.index(ctl["outcome"]),
                                                 format_func=lambda x: t("followup.log.not_set") if x is None
                                                 else controls.label("outcome", x))
                        stats = list(controls.CONTROL_STATUSES)
                        status = c[1].selectbox(t("followup.field.status"), stats, index=stats.index(ctl["status"]),
                                                format_func=lambda x: controls.label("status", x))
                        note = st.text_area(t("followup.field.note"), value=ctl["note"] or "", height=80)
                        if st.form_submit_button(t("followup.log.save"), type="primary", key=f"log_edit_submit_{cid}"):
                            try:
                                diff = controls.update_control(common.con(), user, cid, {
                                    "step": step, "planned_date": planned, "done_date": done, "performed_by": by,
                                    "documents_requested": req, "documents_received": rec, "outcome": outcome,
                                    "status": status, "note": note})
                                st.toast(t("followup.log.saved", n=len(diff)), icon=":material/check:")
                                st.rerun()
                            except ControlError as e:
                                show_error(e)
                with tabs[1]:
                    if ctl["status"] == "planned":
                        st.caption(t("followup.err.finding_on_planned"))
                    with st.form(f"log_finding_{cid}", clear_on_submit=True):
                        c = st.columns(3)
                        ftype = c[0].selectbox(t("followup.field.finding_type"), list(controls.FINDING_TYPES),
                                               format_func=lambda x: controls.label("finding_type", x),
                                               key=f"log_f_type_{cid}")
                        sev = c[1].selectbox(t("followup.field.severity"), list(controls.SEVERITIES), index=1,
                                             format_func=lambda x: controls.label("severity", x),
                                             key=f"log_f_sev_{cid}")
                        opened = c[2].date_input(t("followup.field.opened_date"), value=none_or(ctl["done_date"]),
                                                 format=DATE_FMT, max_value=today)
                        desc = st.text_area(t("followup.field.description"), height=80, key=f"log_f_desc_{cid}")
                        c = st.columns(3)
                        action = c[0].selectbox(t("followup.field.action"), [None, *controls.ACTIONS],
                                                format_func=lambda x: t("followup.log.not_set") if x is None
                                                else controls.label("action", x), key=f"log_f_action_{cid}")
                        deadline = c[1].date_input(t("followup.field.action_deadline"), value=None, format=DATE_FMT)
                        amount = common.amount_input(c[2], t("followup.field.sanction_amount"),
                                                     key=f"log_f_amount_{cid}")
                        if st.form_submit_button(t("followup.log.add_finding"), type="primary",
                                                 key=f"log_f_submit_{cid}"):
                            try:
                                controls.add_finding(common.con(), user, cid, ftype, sev, description=desc,
                                                     action=action, action_deadline=deadline,
                                                     sanction_amount=amount, opened_date=opened)
                                st.toast(t("followup.log.finding_added"), icon=":material/check:")
                                st.rerun()
                            except ControlError as e:
                                show_error(e)
                with tabs[2]:
                    if fs.empty:
                        st.caption(t("followup.log.no_findings"))
                    else:
                        fid = st.selectbox(t("followup.field.finding_id"), fs["finding_id"].astype(int).tolist(),
                                           format_func=lambda i: f"{i}: " + controls.label(
                                               "finding_type", fs.set_index("finding_id").loc[i, "finding_type"]),
                                           key=f"log_pick_finding_{cid}")
                        row = fs.set_index("finding_id").loc[fid]
                        with st.form(f"log_edit_finding_{fid}"):
                            c = st.columns(3)
                            types, sevs = list(controls.FINDING_TYPES), list(controls.SEVERITIES)
                            ftype = c[0].selectbox(t("followup.field.finding_type"), types,
                                                   index=types.index(row["finding_type"]),
                                                   format_func=lambda x: controls.label("finding_type", x))
                            sev = c[1].selectbox(t("followup.field.severity"), sevs, index=sevs.index(row["severity"]),
                                                 format_func=lambda x: controls.label("severity", x))
                            acts = [None, *controls.ACTIONS]
                            action = c[2].selectbox(t("followup.field.action"), acts,
                                                    index=acts.index(none_or(row["action"])),
                                                    format_func=lambda x: t("followup.log.not_set") if x is None
                                                    else controls.label("action", x))
                            desc = st.text_area(t("followup.field.description"),
                                                value=none_or(row["description"]) or "", height=80)
                            c = st.columns(3)
                            deadline = c[0].date_input(t("followup.field.action_deadline"),
                                                       value=none_or(row["action_deadline"]), format=DATE_FMT)
                            amount = common.amount_input(c[1], t("followup.field.sanction_amount"),
                                                         none_or(row["sanction_amount"]))
                            fstats = list(controls.FINDING_STATUSES)
                            fstatus = c[2].selectbox(t("followup.field.status"), fstats,
                                                     index=fstats.index(row["status"]),
                                                     format_func=lambda x: controls.label("finding_status", x))
                            if st.form_submit_button(t("followup.log.save"), type="primary"):
                                try:
                                    diff = controls.update_finding(common.con(), user, int(fid), {
                                        "finding_type": ftype, "severity": sev, "action": action,
                                        "description": desc, "action_deadline": deadline,
                                        "sanction_amount": amount, "status": fstatus,
                                        "closed_date": none_or(row["closed_date"]) if fstatus == "closed" else None})
                                    st.toast(t("followup.log.saved", n=len(diff)), icon=":material/check:")
                                    st.rerun()
                                except ControlError as e:
                                    show_error(e)
                with tabs[3]:
                    st.caption(t("followup.log.delete_help"))
                    confirm = st.checkbox(t("followup.log.delete_confirm", id=cid), key=f"log_del_ok_{cid}")
                    if st.button(t("followup.log.delete"), disabled=not confirm, key=f"log_del_{cid}",
                                 icon=":material/delete:"):
                        controls.delete_control(common.con(), user, cid)
                        st.query_params.pop("kontroll", None)
                        st.toast(t("followup.log.deleted", id=cid), icon=":material/check:")
                        st.rerun()
                if ctl["status"] != "closed":
                    if st.button(t("followup.log.close"), key=f"log_close_{cid}", icon=":material/task_alt:"):
                        try:
                            controls.close_control(common.con(), user, cid)
                            st.rerun()
                        except ControlError as e:
                            show_error(e)

# ---------------------------------------------------------------- overdue
with st.expander(t("followup.log.overdue_title", n=len(overdue), m=len(overdue_f)), icon=":material/schedule:"):
    if len(overdue):
        st.markdown(f"**{t('followup.log.kpi_overdue')}**")
        st.dataframe({
            t("followup.log.col_id"): overdue["control_id"].astype(int),
            t("followup.field.contract_id"): overdue["contract_id"],
            t("followup.log.col_contract"): overdue["contract_name"].fillna("–"),
            t("followup.log.col_department"): overdue["department"].fillna("–"),
            t("followup.field.step"): [controls.label("step_short", s) for s in overdue["step"]],
            t("followup.field.planned_date"): [d(x) for x in overdue["planned_date"]],
            t("followup.page.days_overdue"): [fmt.number(x) for x in overdue["days_overdue"]],
        }, hide_index=True, key="log_overdue")
    if len(overdue_f):
        st.markdown(f"**{t('followup.log.kpi_overdue_actions')}**")
        st.dataframe({
            t("followup.log.col_id"): overdue_f["finding_id"].astype(int),
            t("followup.field.contract_id"): overdue_f["contract_id"],
            t("followup.field.finding_type"): [controls.label("finding_type", x) for x in overdue_f["finding_type"]],
            t("followup.field.severity"): [controls.label("severity", x) for x in overdue_f["severity"]],
            t("followup.field.action"): [controls.label("action", none_or(x)) for x in overdue_f["action"]],
            t("followup.field.action_deadline"): [d(x) for x in overdue_f["action_deadline"]],
            t("followup.page.days_overdue"): [fmt.number(x) for x in overdue_f["days_overdue"]],
        }, hide_index=True, key="log_overdue_findings")
    if not len(overdue) and not len(overdue_f):
        st.caption(t("followup.page.none_overdue"))
