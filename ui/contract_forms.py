"""Forms to keep the contract register up to date (analytiker and up): "Ny kontrakt"
on the contract list, "Rediger kontrakt" (edit / end) on the contract page. Rules and
validation live in ``akrim_analytics.contracts``; this only reads inputs and shows
the outcome."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from akrim_analytics import contracts, fmt
from akrim_analytics.contracts import ContractError
from akrim_analytics.i18n import t
from ui import common
from ui import leadership as lv

DATE_FMT = "DD.MM.YYYY"
MIN_DATE, MAX_DATE = dt.date(1990, 1, 1), dt.date(2100, 12, 31)
_FLASH = "_ct_flash"


def can_edit() -> bool:
    user = common.current_user()
    return user is not None and user.has("analytiker")


def flash() -> None:
    """The confirmation of the last save (kept across the rerun that shows new values)."""
    msg = st.session_state.pop(_FLASH, None)
    if msg:
        st.success(msg, icon=":material/check_circle:")


def _done(message: str, prefix: str) -> None:
    st.session_state[_FLASH] = message
    _reset(prefix)
    st.rerun()


def _reset(prefix: str) -> None:
    for k in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix)]:
        del st.session_state[k]


def _fresh(prefix: str, marker) -> None:
    """Forget typed values when the form is for another contract or the data changed
    (e.g. after a save), so the widgets start from the stored values."""
    key = f"_{prefix}marker"
    if st.session_state.get(key) != marker:
        _reset(prefix)
        st.session_state[key] = marker


def _bool_text(v) -> str:
    return t("contracts.form.unknown") if v is None else t("contracts.form.yes" if v else "contracts.form.no")


def _fields(prefix: str, v: dict, *, new: bool) -> dict:
    """The widgets of one form; returns the entered values by field."""
    L = contracts.field_label
    out: dict = {}
    if new:
        c = st.columns([1, 2])
        out["contract_id"] = c[0].text_input(L("contract_id"), key=f"{prefix}contract_id",
                                             help=t("contracts.form.id_help"))
        out["name"] = c[1].text_input(L("name"), key=f"{prefix}name")
    else:
        out["name"] = st.text_input(L("name"), value=v.get("name") or "", key=f"{prefix}name")
    c = st.columns(2)
    out["supplier_id"] = c[0].text_input(L("supplier_id"), value=v.get("supplier_id") or "",
                                         key=f"{prefix}supplier_id", help=t("contracts.form.supplier_help"))
    out["supplier_name"] = c[1].text_input(L("supplier_name"), key=f"{prefix}supplier_name")

    cats = lv.category_labels()
    cat_opts = [None, *cats]
    if v.get("category") and v["category"] not in cat_opts:
        cat_opts.append(v["category"])
    deps = lv.department_labels()
    dep_opts = [None, *deps]
    if v.get("department") and v["department"] not in dep_opts:
        dep_opts.append(v["department"])
    c = st.columns(3)
    out["category"] = c[0].selectbox(L("category"), cat_opts, index=cat_opts.index(v.get("category")),
                                     key=f"{prefix}category",
                                     format_func=lambda x: t("contracts.form.none") if x is None else cats.get(x, x))
    out["department"] = c[1].selectbox(L("department"), dep_opts, index=dep_opts.index(v.get("department")),
                                       key=f"{prefix}department",
                                       format_func=lambda x: t("contracts.form.none") if x is None else deps.get(x, x))
    out["responsible"] = c[2].text_input(L("responsible"), value=v.get("responsible") or "",
                                         key=f"{prefix}responsible")

    c = st.columns(4)
    out["start_date"] = c[0].date_input(L("start_date"), value=v.get("start_date"), min_value=MIN_DATE,
                                        max_value=MAX_DATE, format=DATE_FMT, key=f"{prefix}start_date")
    out["end_date"] = c[1].date_input(L("end_date"), value=v.get("end_date"), min_value=MIN_DATE,
                                      max_value=MAX_DATE, format=DATE_FMT, key=f"{prefix}end_date")
    out["estimated_value"] = common.amount_input(c[2], L("estimated_value"), v.get("estimated_value"),
                                                 key=f"{prefix}estimated_value")
    out["cpv"] = c[3].text_input(L("cpv"), value=v.get("cpv") or "", key=f"{prefix}cpv", placeholder="45000000")

    c = st.columns(4)
    for i, f in enumerate(("labour_intensive", "foreign_workers", "own_sites", "wage_clause")):
        out[f] = c[i].selectbox(L(f), [None, True, False], index=[None, True, False].index(v.get(f)),
                                key=f"{prefix}{f}", format_func=_bool_text)
    c = st.columns(4)
    out["seriousness_clause"] = c[0].selectbox(
        L("seriousness_clause"), [None, True, False], index=[None, True, False].index(v.get("seriousness_clause")),
        key=f"{prefix}seriousness_clause", format_func=_bool_text)
    for i, f in enumerate(("subcontractor_levels", "workers"), start=1):
        out[f] = c[i].number_input(L(f), value=v.get(f), min_value=0, step=1, key=f"{prefix}{f}")
    return out


def new_section() -> None:
    """"Ny kontrakt" on the contract list (analytiker and up)."""
    if not can_edit():
        return
    prefix = "ct_new_"
    with st.expander(t("contracts.form.new_title"), icon=":material/add:"):
        with st.form("ct_new_form", clear_on_submit=False, border=False):
            values = _fields(prefix, {}, new=True)
            if st.form_submit_button(t("contracts.form.create"), type="primary", key=f"{prefix}submit"):
                try:
                    cid = contracts.create_contract(common.con(), common.current_user(), values)
                except ContractError as e:
                    st.error(f"{e} {t('contracts.form.not_saved')}", icon=":material/error:")
                else:
                    st.query_params["kontrakt"] = cid
                    _done(common.md_t("contracts.form.created", id=cid), prefix)


def edit_section(contract_id: str) -> None:
    """"Rediger kontrakt" on the contract page: edit the fields, or end the contract."""
    if not can_edit():
        return
    v = common.cached(contracts.contract_values, contract_id)
    if v is None:
        return
    prefix = "ct_edit_"
    _fresh(prefix, (contract_id, common.data_version()))
    _fresh("ct_end_", (contract_id, common.data_version()))
    with st.expander(t("contracts.form.edit_title"), icon=":material/edit:"):
        st.caption(t("contracts.form.edit_help"))
        edit, end = st.tabs([t("contracts.form.edit_title"), t("contracts.form.end_title")])
        with edit:
            with st.form("ct_edit_form", border=False):
                values = _fields(prefix, v, new=False)
                if not values["supplier_name"]:
                    values.pop("supplier_name")
                if st.form_submit_button(t("contracts.form.save"), type="primary", key=f"{prefix}submit"):
                    try:
                        diff = contracts.update_contract(common.con(), common.current_user(), contract_id, values)
                    except ContractError as e:
                        st.error(f"{e} {t('contracts.form.not_saved')}", icon=":material/error:")
                    else:
                        if diff:
                            _done(t("contracts.form.saved", n=len(diff)), prefix)
                        st.info(t("contracts.form.unchanged"), icon=":material/info:")
        with end:
            with st.form("ct_end_form", border=False):
                c = st.columns([1, 3])
                end_date = c[0].date_input(contracts.field_label("end_date"), value=None, min_value=MIN_DATE,
                                           max_value=MAX_DATE, format=DATE_FMT, key="ct_end_date")
                reason = c[1].text_input(contracts.field_label("reason"), key="ct_end_reason",
                                         help=t("contracts.form.reason_help"))
                if st.form_submit_button(t("contracts.form.end"), key="ct_end_submit"):
                    try:
                        contracts.end_contract(common.con(), common.current_user(), contract_id, end_date, reason)
                    except ContractError as e:
                        st.error(f"{e} {t('contracts.form.not_saved')}", icon=":material/error:")
                    else:
                        _done(t("contracts.form.ended", date=fmt.date(end_date)), "ct_end_")
