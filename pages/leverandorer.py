"""Leverandører: the suppliers with spend in the period, searchable and filterable; a
click opens the supplier page (``?leverandor=974760673`` on this same page, so links
work): register data and red flags, spend over time with and without contract, the
contracts, the risk explanation, controls and findings."""
from __future__ import annotations

import streamlit as st

from akrim_analytics import fmt, i18n, views
from akrim_analytics.i18n import t
from ui import common
from ui import leadership as lv

f = common.get_filters()
lang = i18n.get_language()
supplier_id = st.query_params.get("leverandor")

if supplier_id:
    # ------------------------------------------------------------ the supplier page ("360")
    s = lv.detail_or_stop("leverandor", supplier_id, views.supplier_detail, area="views.lv",
                          page_title_key="nav.leverandorer")
    st.title(common.md_escape(s["name"]))
    latest = common.cached(views.latest_run)
    run_id = latest.run_id if latest else None
    contracts = common.cached(views.supplier_contracts, supplier_id, run_id, f)
    cols = st.columns(4)
    if f is not None:
        period = f.period.label(lang)
        sp = common.cached(views.supplier_spend_in, supplier_id, f.period)
        common.tile(cols[0], t("views.lv.spend_period", period=period), fmt.nok(sp["amount"]))
        common.tile(cols[1], t("views.lv.no_contract_period", period=period), fmt.nok(sp["no_contract"]))
    common.tile(cols[2], t("views.lv.spend_total"), lv.nok_text(s["total"]))
    common.tile(cols[3], t("views.lv.contracts"), fmt.number(len(contracts)),
                help=t("views.lv.contracts_help"))

    left, right = st.columns([3, 2])
    with left:
        st.subheader(t("views.lv.facts"))
        facts = lv.facts_frame(lv.supplier_facts(s))
        lv.table(facts, hide_index=True, width="stretch", height=lv.full_height(len(facts)))
    with right:
        st.subheader(t("views.flags.title"))
        lv.red_flags(supplier_id)

    st.subheader(t("views.lv.spend_title"))
    lv.spend_chart(common.cached(views.spend_over_time, supplier_id=supplier_id),
                   title=t("views.lv.spend_chart", name=s["name"]), period=f.period if f else None,
                   key="lv_spend", split_no_contract=True)

    st.subheader(t("views.lv.contracts_title"))
    if contracts.empty:
        st.info(t("views.lv.no_contracts"), icon=":material/info:")
    else:
        st.caption(t("views.click_row_contract"))
        lv.clickable_table(
            lv.contract_rows(contracts, amount_label=t("views.lv.col_amount_period"),
                             extra={t("views.lv.col_total"): lv.money(contracts["total"])}),
            key="lv_contracts", ids=list(contracts["contract_id"]), on_pick=lv.goto_contract)

    lv.risk_and_follow_up("supplier", supplier_id, latest, area="views.lv", key="lv",
                          caption=t("views.lv.risk_caption"))
    st.stop()

# ---------------------------------------------------------------- the list
st.title(t("nav.leverandorer"))
if f is None:
    common.empty_state()
    st.stop()
period = f.period.label(lang)
run = common.cached(views.run_for_view, f)

c1, c2, c3 = st.columns([3, 3, 2])
search = c1.text_input(t("views.lv.search"), key="lv_search", placeholder=t("views.lv.search_ph"))
levels = c2.pills(t("views.kt.levels"), list(views.ALL_LEVELS), selection_mode="multi", format_func=lv.level_text,
                  key="lv_levels")
flagged = c3.toggle(t("views.lv.flagged_only"), key="lv_flagged")
no_contract = c3.toggle(t("views.lv.no_contract_only"), key="lv_nocontract")

df = common.cached(views.suppliers_table, f, run.run_id if run else None, search or None, tuple(levels or ()),
                   bool(flagged), bool(no_contract))
st.caption(t("views.lv.caption", n=fmt.number(len(df)), period=period,
             scope=common.scope_text(f, markdown=True), amount=fmt.nok(df["amount"].sum()),
             no_contract=fmt.nok(df["no_contract"].sum()), run=lv.run_caption(run)))
if run is None:
    lv.no_risk_run()
if df.empty:
    st.info(t("views.lv.empty"), icon=":material/info:")
    st.stop()
st.caption(t("views.click_row_supplier"))
shown = lv.limited(df, "lv_list", url_param="side")
level_names = {v: lv.level_text(v) for v in views.ALL_LEVELS}
rows = {
    t("views.col.supplier"): shown["name"].tolist(),
    t("views.facts.orgnr"): [v if isinstance(v, str) else "–" for v in shown["orgnr"]],
    t("views.facts.nace"): [v if isinstance(v, str) else "–" for v in shown["nace_code"]],
    t("views.facts.org_form"): [v if isinstance(v, str) else "–" for v in shown["org_form"]],
    t("views.col.amount"): lv.money(shown["amount"]),
    t("views.lv.col_share"): [fmt.pct(v) if v == v else "–" for v in shown["share"]],
    t("views.lv.col_no_contract"): lv.money(shown["no_contract"]),
    t("views.lv.contracts"): [fmt.number(v) for v in shown["contracts"]],
    t("views.col.level"): [level_names.get(v, v) for v in shown["level"]],
    t("views.flags.title"): [", ".join(lv.flag_texts(v)) for v in shown["flags"]],
}
lv.clickable_table(rows, key="lv_list", ids=list(shown["supplier_id"]), on_pick=lv.open_supplier_here, height=640)
lv.download(df, "leverandorer", key="lv_dl")
