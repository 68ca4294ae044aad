"""Rapport: the quarterly leadership report (PowerPoint and Excel) in one click, its frozen
editions, and the evidence export for Arbeidstilsynet. Everything is computed and
rendered by ``akrim_analytics.report``; this page only picks, shows and hands out files."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from akrim_analytics import fmt, i18n, report
from akrim_analytics.i18n import t
from akrim_analytics.report import evidence
from akrim_analytics.report import labels as L
from ui import common

st.title(t("report.page.title"))
user = common.current_user()
lang = i18n.get_language()
cur = common.con()

quarters = common.cached(report.quarter_options)
if not quarters:
    common.empty_state()
    st.stop()

f = common.get_filters()
default = f.period.key if f is not None and f.period.key in quarters else common.cached(report.default_quarter)
period = common.url_selectbox(st, t("report.page.quarter"), quarters, "kvartal", default,
                              format_func=lambda k: L.period_label(k, lang))
st.caption(t("report.page.caption"))

editions = report.editions(cur, period)
snap = None
if len(editions):
    choices = editions["edition"].astype(int).tolist()
    if len(choices) > 1:
        chosen = st.selectbox(t("report.page.edition"), choices, index=0,
                              format_func=lambda e: t("report.page.edition_option", edition=e,
                                                      created=fmt.datetime(editions.loc[editions["edition"] == e,
                                                                                        "created_at"].iloc[0])))
    else:
        chosen = choices[0]
    snap = report.load(cur, period, chosen)

# -- status: which numbers a download will contain ---------------------------------------
if snap is None:
    st.info(t("report.page.not_frozen", period=L.period_label(period, lang), data_version=common.data_version()),
            icon=":material/ac_unit:")
else:
    st.success(t("report.page.frozen", edition=snap.edition, created=fmt.datetime(snap.created_at),
                 user=snap.created_by, data_version=snap.data_version,
                 config_version=snap.risk_config_version if snap.risk_config_version is not None else "–",
                 run_id=snap.risk_run_id if snap.risk_run_id is not None else "–",
                 fingerprint=snap.fingerprint[:12]), icon=":material/lock:")
    if report.is_stale(cur, snap) and snap.edition == int(editions["edition"].max()):
        st.warning(t("report.page.stale", data_version=common.data_version()), icon=":material/update:")

# -- the one click: each download freezes the quarter (first time), renders and audit-logs -
conn = common._connection(common.db_path())
edition_arg = None if snap is None or snap.edition == int(editions["edition"].max()) else snap.edition


def _producer(file_format: str):
    """Runs when the button is clicked (Streamlit's deferred download), outside the script."""
    def produce() -> bytes:
        c = conn.cursor()
        try:
            data, _, _ = report.generate(c, user, period, file_format, lang=lang, edition=edition_arg)
        finally:
            c.close()
        return data
    return produce


cols = st.columns(3)
for col, file_format, icon in ((cols[0], "pptx", ":material/slideshow:"), (cols[1], "xlsx", ":material/table:")):
    name = (report.file_name(snap, file_format, lang) if snap is not None
            else L.file_name_for(period, 1, file_format, lang))
    col.download_button(t(f"report.page.download_{file_format}"), data=_producer(file_format), file_name=name,
                        mime=report.MIME[file_format], icon=icon, type="primary" if file_format == "pptx" else "secondary",
                        key=f"dl_{file_format}", width="stretch")

# -- new edition -----------------------------------------------------------------------------
if snap is not None:
    with st.expander(t("report.page.new_edition")):
        st.write(t("report.page.new_edition_help"))
        reason = st.text_input(t("report.page.reason"), key="new_edition_reason", max_chars=300)
        if st.button(t("report.page.new_edition_button"), key="new_edition", icon=":material/add_circle:",
                     disabled=not reason.strip()):
            new = report.freeze(cur, user, period, reason=reason.strip())
            st.session_state.pop("new_edition_reason", None)
            st.toast(t("report.page.new_edition_done", edition=new.edition), icon=":material/check_circle:")
            st.rerun()

# -- preview of what the report holds ----------------------------------------------------------
ds = snap.dataset if snap is not None else common.cached(report.build, period)
st.subheader(t("report.page.preview") if snap is not None else t("report.page.preview_live"))
if not ds.meta.get("complete"):
    st.warning(t("report.incomplete", last=L.value_text("date", ds.meta.get("last_spend_date"), lang)),
               icon=":material/warning:")
kpis = ds.table("kpis")
for i, rec in enumerate(kpis.to_dict("records")):
    if i % 4 == 0:
        cols = st.columns(4)   # one row of four tiles at a time: the tiles of a row are equally tall
    kind = {"nok": "nok", "pct": "pct"}.get(rec["unit"], "int")
    delta = None if L.is_missing(rec["change"]) else L.change_text(kind, rec["change"], lang, ascii_minus=True)
    inverse = rec["kpi"] in ("spend_without_contract_share", "unclassified_share", "contracts_high", "spend_high",
                             "findings_open_end")
    colour = "inverse" if inverse else "normal" if rec["kpi"] in ("high_controlled_share", "controls_done") else "off"
    common.tile(cols[i % 4], L.code_text("kpi", rec["kpi"], lang), L.short_text(kind, rec["value"], lang), delta,
                delta_color="off" if rec["change"] == 0 else colour,
                delta_arrow="off" if rec["change"] == 0 else "auto",
                delta_description=t("report.page.vs_previous") if delta else None,
                help=L.value_text(kind, rec["value"], lang))


def table(name: str, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    header, rows, _ = L.formatted(ds.table(name), name, lang, drop)
    return pd.DataFrame(rows, columns=header)


tabs = st.tabs([t(f"report.section.{n}") for n in ("top_contracts", "spend_by_category", "controls_plan",
                                                    "findings_sanctions", "resource")])
with tabs[0]:
    if ds.meta.get("risk_run_id") is None:
        st.info(t("report.no_risk_run"), icon=":material/info:")
    else:
        st.dataframe(table("top_contracts", drop=("contract_id",)), hide_index=True)
with tabs[1]:
    st.dataframe(table("spend_by_category", drop=("category",)), hide_index=True)
with tabs[2]:
    st.dataframe(table("controls_plan"), hide_index=True)
    st.caption(t("report.controls.note") + " " + L.plan_source_text(ds.meta, lang))
    st.dataframe(table("controls_by_department", drop=("department",)), hide_index=True)
with tabs[3]:
    st.dataframe(table("findings"), hide_index=True)
    st.dataframe(table("sanctions"), hide_index=True)
with tabs[4]:
    st.dataframe(table("resource"), hide_index=True)
    st.caption(L.resource_note(ds.meta, lang))

if len(editions):
    with st.expander(t("report.page.editions", n=len(editions))):
        st.dataframe(pd.DataFrame({
            t("report.page.col_edition"): editions["edition"].astype(int),
            t("report.page.col_created"): [fmt.datetime(v) for v in editions["created_at"]],
            t("report.page.col_by"): editions["created_by"],
            t("report.page.col_reason"): editions["reason"].fillna("–"),
            t("report.page.col_data_version"): editions["data_version"],
            t("report.page.col_config"): ["–" if pd.isna(v) else f"v{int(v)}" for v in editions["risk_config_version"]],
            t("report.page.col_fingerprint"): editions["fingerprint"].str[:12],
        }), hide_index=True)

# -- evidence for supervision -----------------------------------------------------------------------
st.divider()
st.subheader(t("report.page.evidence_title"))
st.write(t("report.page.evidence_help"))
ev = common.cached(evidence.build, None)
if ev.meta["run_id"] is None:
    st.info(t("report.no_risk_run"), icon=":material/info:")
else:
    s = ev.summary
    n = s["covered_contracts"]
    share = (lambda k: fmt.pct(s[k] / n) if n else "–")
    cols = st.columns(4)
    common.tile(cols[0], t("report.evidence.summary.covered_contracts"), fmt.number(n))
    common.tile(cols[1], t("report.page.ev_wage"), share("wage_clause_yes"))
    common.tile(cols[2], t("report.page.ev_seriousness"), share("seriousness_clause_yes"))
    common.tile(cols[3], t("report.page.ev_required_met"), share("required_met"))
    st.caption(t("report.page.evidence_basis", data_version=ev.meta["data_version"], run_id=ev.meta["run_id"],
                 as_of=fmt.date(ev.meta["as_of"]), config_version=ev.meta["config_version"]))

    def _evidence() -> bytes:
        c = conn.cursor()
        try:
            data, _, _ = evidence.export_evidence(c, user, lang=lang)
        finally:
            c.close()
        return data

    st.download_button(t("report.page.download_evidence"), data=_evidence, file_name=evidence.file_name(ev, lang),
                       mime=report.MIME["xlsx"], icon=":material/gavel:", key="dl_evidence")
