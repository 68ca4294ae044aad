"""Innstillinger (admin): the risk model's configuration — weights, matrix, thresholds,
industries — versioned; saving audit-logs the change and re-scores everything."""
from __future__ import annotations

import copy
import datetime as dt

import pandas as pd
import streamlit as st

from akrim_analytics import auth, fmt, risk
from akrim_analytics.i18n import t
from akrim_analytics.risk import config as rconfig
from akrim_analytics.risk import sources
from ui import charts, common
from ui.risk_widgets import level_label

user = common.current_user()
auth.require(user, "admin", "change the risk settings")
con = common.con()

st.title(t("risk.settings.title"))
st.caption(t("risk.settings.intro"))

version = risk.config_version(con)
cfg = risk.load_config(con)
if version is None:
    st.caption(t("risk.settings.no_version"))
else:
    v = risk.versions(con).iloc[0]
    st.caption(t("risk.settings.version_caption", version=version, when=fmt.datetime(v["created_at"]),
                 who=v["created_by"], note=f" – {v['note']}" if isinstance(v["note"], str) and v["note"] else ""))

flash = st.session_state.pop("_risk_settings_flash", None)
if flash:
    getattr(st, flash[0])(flash[1], icon=":material/check_circle:" if flash[0] == "success" else ":material/info:")

K = f"rs{version or 0}_"          # widget keys start afresh after every saved version
new = copy.deepcopy(cfg)


def save(config: dict, note: str | None) -> None:
    """Store a new version (admin), re-score, and report what changed."""
    before = risk.current_run_id(con)
    try:
        v = risk.save_config(con, user, config, note)
    except risk.ConfigError as e:
        st.error(t("risk.settings.invalid") + "\n\n" + "\n".join(f"- {err}" for err in e.errors),
                 icon=":material/error:")
        return
    if v == version:
        st.session_state["_risk_settings_flash"] = ("info", t("risk.settings.unchanged"))
    else:
        after = risk.current_run_id(con)
        changes = risk.level_changes(con, after, before) if before else None
        changed = int((changes["change"].isin(["up", "down"])).sum()) if changes is not None else 0
        st.session_state["_risk_settings_flash"] = (
            "success", t("risk.settings.saved", version=v, run_id=after, changed=changed))
    st.rerun()


invalid: list[str] = []   # fields whose text is not a number, named (nothing is saved then)


def num(label: str, value, key: str, *, help=None, where: str | None = None):
    """A whole-number setting as a number field; a decimal one (points, bands) as a text
    field read the Norwegian way, 0,5 (a number field reads 0,5 as 5): while its text is
    not a number the field says so, keeps the stored value and blocks saving. ``where``
    names the group the field sits in (an indicator, a band table), so the refusal to
    save tells «Poeng» of one indicator from another's."""
    if isinstance(value, int) and not isinstance(value, bool):
        return st.number_input(label, value=value, step=1, key=K + key, help=help)
    got = common.decimal_input(st, label, value, key=K + key, help=help)
    if got is None:
        invalid.append(f"{where}: {label}" if where else label)
        return value
    return got


tabs = st.tabs([t("risk.settings.tab_weights"), t("risk.settings.tab_matrix"), t("risk.settings.tab_thresholds"),
                t("risk.settings.tab_industries"), t("risk.settings.tab_general"), t("risk.settings.tab_toml"),
                t("risk.settings.tab_history")])

# ---------------------------------------------------------------- weights per indicator
with tabs[0]:
    st.markdown(t("risk.settings.method"))
    for ind in risk.INDICATORS:
        sec = new["indicators"].get(ind.key)
        with st.expander(t(f"risk.ind.{ind.key}"), expanded=False):
            st.caption(common.md_t("risk.settings.source", source=sources.public(ind.source), ref=ind.source))
            if ind.key == "industry":
                st.caption(t("risk.settings.industry_weights_hint"))
            if ind.key == "coverage":
                st.caption(t("risk.settings.coverage_hint"))
            if sec is None:  # no settings of its own (e.g. coverage: see Thresholds and General)
                continue
            if "enabled" in sec:
                sec["enabled"] = st.checkbox(t("risk.settings.enabled"), value=bool(sec["enabled"]),
                                             key=K + f"{ind.key}.enabled")
            cols = st.columns(2)
            i = 0
            for name, value in list(sec.items()):
                if name == "enabled":
                    continue
                label = t(f"risk.setting.{name}")
                if name == "bands":
                    frame = pd.DataFrame(value or [], columns=["from", "points"])
                    edited = st.data_editor(
                        frame, num_rows="dynamic", key=K + f"{ind.key}.bands", hide_index=True,
                        column_config={"from": st.column_config.NumberColumn(t("risk.settings.bands_from"),
                                                                             format="localized"),
                                       "points": st.column_config.NumberColumn(t("risk.settings.bands_points"),
                                                                               format="localized")})
                    sec[name] = rconfig.bands_from_rows(edited.to_dict("records"))
                elif isinstance(value, list):
                    sec[name] = rconfig.split_list(cols[i % 2].text_input(label, ", ".join(value),
                                                                          key=K + f"{ind.key}.{name}"))
                    i += 1
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    with cols[i % 2]:
                        sec[name] = num(label, value, f"{ind.key}.{name}", where=t(f"risk.ind.{ind.key}"))
                    i += 1

# ---------------------------------------------------------------- matrix, bands, control
with tabs[1]:
    st.caption(t("risk.settings.matrix_help"))
    for dim in ("likelihood_bands", "consequence_bands"):
        st.markdown(f"**{t(f'risk.settings.{dim}')}**")
        cols = st.columns(4)
        vals = []
        for j, b in enumerate(new["scoring"][dim]):
            with cols[j]:
                vals.append(float(num(t("risk.settings.band_n", n=j + 2), float(b), f"{dim}.{j}",
                                      where=t(f"risk.settings.{dim}_short"))))
        new["scoring"][dim] = vals
    rows = [t("risk.settings.matrix_row", n=n) for n in range(5, 0, -1)]
    colnames = [t("risk.settings.matrix_col", n=m) for m in range(1, 6)]
    mframe = pd.DataFrame([new["levels"]["matrix"][n - 1] for n in range(5, 0, -1)], index=rows, columns=colnames)
    edited = st.data_editor(
        mframe, key=K + "matrix",
        column_config={c: st.column_config.SelectboxColumn(c, options=list(rconfig.LEVELS), required=True)
                       for c in colnames})
    new["levels"]["matrix"] = [list(edited.iloc[5 - n]) for n in range(1, 6)]
    label_color = {level_label(k): charts.RISK_COLORS[k] for k in rconfig.LEVELS}
    shown = pd.DataFrame([[level_label(x) for x in r] for r in reversed(new["levels"]["matrix"])],
                         index=rows, columns=colnames)
    st.dataframe(shown.style.map(lambda v: f"background-color: {label_color.get(v, '')}; color: black"))
    st.markdown(f"**{t('risk.settings.control')}**")
    cols = st.columns(3)
    for j, lvl in enumerate(rconfig.LEVELS):
        new["control"][lvl] = cols[j].selectbox(level_label(lvl), [1, 2, 3], index=[1, 2, 3].index(new["control"][lvl]),
                                                key=K + f"control.{lvl}", format_func=lambda s: t(f"risk.step.{s}"))
    st.caption(t("risk.settings.control_note"))

# ---------------------------------------------------------------- thresholds
with tabs[2]:
    st.caption(t("risk.settings.thresholds_help"))
    new["general"]["authority"] = st.radio(
        t("risk.settings.authority"), list(rconfig.AUTHORITIES),
        index=list(rconfig.AUTHORITIES).index(new["general"]["authority"]),
        format_func=lambda a: t(f"risk.settings.authority_{a}"), key=K + "authority", horizontal=True)
    tframe = pd.DataFrame([{**r, "from": dt.date.fromisoformat(r["from"])} for r in new["thresholds"]],
                          columns=["from", "state", "municipal", "verified", "source"])
    edited = st.data_editor(
        tframe, num_rows="dynamic", key=K + "thresholds", hide_index=True,
        column_config={"from": st.column_config.DateColumn(t("risk.settings.col_from"), format="DD.MM.YYYY"),
                       "state": st.column_config.NumberColumn(t("risk.settings.col_state"), format="localized"),
                       "municipal": st.column_config.NumberColumn(t("risk.settings.col_municipal"),
                                                                  format="localized"),
                       "verified": st.column_config.CheckboxColumn(t("risk.settings.col_verified")),
                       "source": st.column_config.TextColumn(t("risk.settings.col_source"), width="large")})
    new["thresholds"] = rconfig.thresholds_from_rows(edited.to_dict("records"))

# ---------------------------------------------------------------- industries and CPV
with tabs[3]:
    st.caption(t("risk.settings.industries_help"))
    iframe = pd.DataFrame([{**r, "sn2007": ", ".join(r["sn2007"]), "sn2025": ", ".join(r["sn2025"])}
                           for r in new["industries"]],
                          columns=["key", "name_nb", "name_en", "sn2007", "sn2025", "allmenngjort", "points"])
    edited = st.data_editor(
        iframe, num_rows="dynamic", key=K + "industries", hide_index=True,
        column_config={"key": st.column_config.TextColumn(t("risk.settings.col_key")),
                       "name_nb": st.column_config.TextColumn(t("risk.settings.col_name_nb")),
                       "name_en": st.column_config.TextColumn(t("risk.settings.col_name_en")),
                       "sn2007": st.column_config.TextColumn(t("risk.settings.col_sn2007")),
                       "sn2025": st.column_config.TextColumn(t("risk.settings.col_sn2025")),
                       "allmenngjort": st.column_config.SelectboxColumn(t("risk.settings.col_allmenngjort"),
                                                                        options=list(rconfig.ALLMENNGJORT)),
                       "points": st.column_config.NumberColumn(t("risk.settings.col_points"), step=0.5,
                                                                  format="localized")})
    new["industries"] = rconfig.industries_from_rows(edited.to_dict("records"))
    st.caption(t("risk.settings.cpv_help"))
    cframe = pd.DataFrame(new["cpv_risk"], columns=["prefix", "name_nb", "name_en", "points"])
    edited = st.data_editor(
        cframe, num_rows="dynamic", key=K + "cpv", hide_index=True,
        column_config={"prefix": st.column_config.TextColumn(t("risk.settings.col_prefix")),
                       "name_nb": st.column_config.TextColumn(t("risk.settings.col_name_nb")),
                       "name_en": st.column_config.TextColumn(t("risk.settings.col_name_en")),
                       "points": st.column_config.NumberColumn(t("risk.settings.col_points"), step=0.5,
                                                                  format="localized")})
    new["cpv_risk"] = rconfig.cpv_from_rows(edited.to_dict("records"))

# ---------------------------------------------------------------- general
with tabs[4]:
    g = new["general"]
    c1, c2 = st.columns(2)
    with c1:
        g["window_months"] = int(num(t("risk.settings.window_months"), int(g["window_months"]), "window_months"))
        g["ended_within_months"] = int(num(t("risk.settings.ended_within_months"), int(g["ended_within_months"]),
                                           "ended_within_months"))
    with c2:
        g["nace_version_when_missing"] = st.selectbox(
            t("risk.settings.nace_version_when_missing"), list(rconfig.NACE_VERSIONS),
            index=list(rconfig.NACE_VERSIONS).index(g["nace_version_when_missing"]), key=K + "nace_version")
        g["allmenngjort_any_value"] = st.checkbox(t("risk.settings.allmenngjort_any_value"),
                                                  value=bool(g["allmenngjort_any_value"]), key=K + "allm_any")
    g["goods_nace_prefixes"] = rconfig.split_list(st.text_input(
        t("risk.settings.goods_nace_prefixes"), ", ".join(g["goods_nace_prefixes"]), key=K + "goods"))

# ---------------------------------------------------------------- TOML
with tabs[5]:
    st.caption(t("risk.settings.toml_help"))
    text = rconfig.to_toml(cfg)
    st.download_button(t("risk.settings.download"), text, file_name=f"risk_config_v{version or 0}.toml",
                       mime="application/toml", key=K + "download")
    edited_text = st.text_area(t("risk.settings.toml_label"), text, height=420, key=K + "toml")
    toml_note = st.text_input(t("risk.settings.note"), key=K + "toml_note")
    c1, c2 = st.columns(2)
    if c1.button(t("risk.settings.toml_save"), key=K + "toml_save", type="primary"):
        try:
            parsed = rconfig.parse_toml(edited_text)
        except risk.ConfigError as e:
            st.error(t("risk.settings.invalid") + "\n\n" + "\n".join(f"- {err}" for err in e.errors),
                     icon=":material/error:")
        else:
            save(parsed, toml_note or None)
    if c2.button(t("risk.settings.restore_default"), key=K + "restore_default"):
        save(risk.default_config(), t("risk.settings.default_note"))

# ---------------------------------------------------------------- history
with tabs[6]:
    hist = risk.versions(con)
    if not hist.empty:
        st.dataframe({
            t("risk.settings.col_version"): hist["version"].tolist(),
            t("risk.settings.col_created"): [fmt.datetime(x) for x in hist["created_at"]],
            t("risk.settings.col_by"): hist["created_by"].tolist(),
            t("risk.settings.col_note"): hist["note"].fillna("").tolist(),
        }, hide_index=True)
        choice = st.selectbox(t("risk.settings.history_restore"), hist["version"].tolist(), key=K + "restore_v")
        if st.button(t("risk.settings.history_restore_button"), key=K + "restore"):
            save(risk.load_config(con, int(choice)), t("risk.settings.restored_note", version=int(choice)))
    st.markdown(f"**{t('risk.settings.runs_title')}**")
    runs = risk.runs(con)
    if not runs.empty:
        st.dataframe({
            t("risk.settings.col_run"): runs["run_id"].tolist(),
            t("risk.settings.col_as_of"): [fmt.date(x) for x in runs["as_of"]],
            t("risk.settings.col_version"): runs["config_version"].tolist(),
            t("risk.settings.col_reason"): runs["reason"].fillna("").tolist(),
            t("risk.settings.col_contracts"): runs["n_contracts"].tolist(),
            t("risk.settings.col_suppliers"): runs["n_suppliers"].tolist(),
            t("risk.settings.col_pinned"): ["✓" if p else "" for p in runs["pinned"]],
        }, hide_index=True)

# ---------------------------------------------------------------- save (form tabs)
st.divider()
if rconfig.diff(cfg, new):
    st.caption(t("risk.settings.pending"))
note = st.text_input(t("risk.settings.note"), key=K + "note")
if st.button(t("risk.settings.save"), type="primary", key=K + "save"):
    if invalid:
        st.error(common.md_t("app.fix_fields", fields=", ".join(invalid)), icon=":material/error:")
    else:
        save(new, note or None)
