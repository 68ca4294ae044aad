"""Kontrakter: the contracts running in the period, searchable and filterable; a
click opens the contract page (``?kontrakt=K-2023-0001`` on this same page, so links
work): spend over time, the supplier's register red flags, the risk explanation,
controls and findings."""
from __future__ import annotations

import streamlit as st

from akrim_analytics import fmt, i18n, views
from akrim_analytics.i18n import t
from ui import common, contract_forms
from ui import leadership as lv

f = common.get_filters()
lang = i18n.get_language()
contract_id = st.query_params.get("kontrakt")

if contract_id:
    # ------------------------------------------------------------ the contract page ("360")
    c = lv.detail_or_stop("kontrakt", contract_id, views.contract_detail, area="views.kt",
                          page_title_key="nav.kontrakter")
    st.title(common.md_escape(f"{c['contract_id']} {c['name']}"))
    contract_forms.flash()
    latest = common.cached(views.latest_run)
    a = common.cached(views.assessment, latest.run_id if latest else None, "contract", contract_id)
    period = f.period.label(lang) if f else None
    in_period = common.cached(views.spend_over_time, contract_id=contract_id)
    total = float(in_period["amount"].sum()) if len(in_period) else 0.0
    cols = st.columns(4)
    common.tile(cols[0], t("views.kt.level"), lv.level_text(a["level"] if a else None),
                help=lv.run_caption(latest).capitalize())
    if f is not None:
        amount = common.cached(views.contract_spend_in, contract_id, f.period)
        common.tile(cols[1], t("views.kt.spend_period", period=period), fmt.nok(amount))
    common.tile(cols[2], t("views.kt.spend_total"), fmt.nok(total))
    common.tile(cols[3], t("views.kt.estimated_value"), lv.nok_text(c["estimated_value"]))

    left, right = st.columns([3, 2])
    with left:
        st.subheader(t("views.kt.facts"))
        facts = lv.facts_frame(lv.contract_facts(c))
        lv.table(facts, hide_index=True, width="stretch", height=lv.full_height(len(facts)))
        if c["supplier_id"] and st.button(common.md_t("views.kt.open_supplier",
                                                      name=c["supplier_name"] or c["supplier_id"]),
                                          icon=":material/business:"):
            lv.goto_supplier(c["supplier_id"])
    with right:
        st.subheader(t("views.flags.title"))
        lv.red_flags(c["supplier_id"])
    contract_forms.edit_section(contract_id)

    st.subheader(t("views.kt.spend_title"))
    lv.spend_chart(in_period, title=t("views.kt.spend_chart", name=c["contract_id"]), period=f.period if f else None,
                   key="kt_spend")

    lv.risk_and_follow_up("contract", contract_id, latest, area="views.kt", key="kt")
    st.stop()

# ---------------------------------------------------------------- the list
st.title(t("nav.kontrakter"))
contract_forms.flash()
contract_forms.new_section()
if f is None:
    common.empty_state()
    st.stop()
period = f.period.label(lang)
run = common.cached(views.run_for_view, f)

c1, c2, c3 = st.columns([3, 3, 2])
search = c1.text_input(t("views.kt.search"), key="kt_search", placeholder=t("views.kt.search_ph"))
levels = c2.pills(t("views.kt.levels"), list(views.ALL_LEVELS), selection_mode="multi", format_func=lv.level_text,
                  key="kt_levels")
c3.write("")
open_only = c3.toggle(t("views.kt.open_only"), key="kt_open")

df = common.cached(views.contracts_table, f, run.run_id if run else None, search or None, tuple(levels or ()),
                   bool(open_only))
st.caption(t("views.kt.caption", n=fmt.number(len(df)), period=period,
             scope=common.scope_text(f, markdown=True), amount=fmt.nok(df["amount"].sum()), run=lv.run_caption(run)))
if run is None:
    lv.no_risk_run()
if df.empty:
    st.info(t("views.kt.empty"), icon=":material/info:")
    st.stop()
st.caption(t("views.click_row_contract"))
shown = lv.limited(df, "kt_list", url_param="side")
lv.clickable_table(lv.contract_rows(shown), key="kt_list", ids=list(shown["contract_id"]),
                   on_pick=lv.open_contract_here, height=640)
lv.download(df, "kontrakter", key="kt_dl")
