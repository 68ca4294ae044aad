"""Brukere (admin): accounts, roles, locks; for single sign-on the allow-list; and taking a
backup while the app runs (DuckDB lets only this process open the file)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from akrim_analytics import auth, backup, fmt, users
from akrim_analytics.i18n import t
from ui import common, login

user = common.current_user()
auth.require(user, "admin", "manage users")
con = common.con()

st.title(t("auth.users.title"))
sso = login.sso_configured()
if sso:
    try:
        claim = login.sso_settings().role_claim or "–"
    except ValueError:
        claim = "–"
    st.caption(t("auth.users.mode_sso", claim=claim))
else:
    st.caption(t("auth.users.mode_local", n=users.FREE_ATTEMPTS))
st.caption(t("auth.users.roles_help"))

flash = st.session_state.pop("_users_flash", None)
if flash:
    st.success(flash, icon=":material/check_circle:")


def _ts(value) -> str:
    return "–" if value is None or pd.isna(value) else fmt.datetime(pd.Timestamp(value).to_pydatetime())


def _status(row) -> str:
    if not row.active:
        return t("auth.users.status_inactive")
    if pd.notna(row.locked_until):
        return t("auth.users.status_locked", until=_ts(row.locked_until))
    return t("auth.users.status_active")


accounts = users.list_users(con)
if accounts.empty:
    st.info(t("auth.users.none"), icon=":material/info:")
else:
    st.dataframe(
        {
            t("auth.users.col_username"): accounts["username"].tolist(),
            t("auth.users.col_name"): accounts["display_name"].fillna("").tolist(),
            t("auth.users.col_role"): [login.role_label(r) for r in accounts["role"]],
            t("auth.users.col_status"): [_status(r) for r in accounts.itertuples()],
            t("auth.users.col_login"): [t("auth.users.login_password") if p else t("auth.users.login_sso")
                                        for p in accounts["has_password"]],
            t("auth.users.col_last_login"): [_ts(v) for v in accounts["last_login_at"]],
            t("auth.users.col_created"): [_ts(v) for v in accounts["created_at"]],
        },
        hide_index=True,
    )


def _done(message: str) -> None:
    st.session_state["_users_flash"] = message
    st.rerun()


left, right = st.columns(2, gap="large")

with left:
    st.subheader(t("auth.users.new"))
    with st.form("new_user", clear_on_submit=False):
        username = st.text_input(t("auth.users.col_username"), key="new_username",
                                 placeholder="ola.nordmann" if not sso else "ola.nordmann@kommune.no")
        display = st.text_input(t("auth.users.display_name"), key="new_display")
        role = st.selectbox(t("auth.users.col_role"), list(auth.ROLES), format_func=login.role_label, key="new_role")
        kinds = ["sso", "password"] if sso else ["password", "sso"]
        kind = st.radio(t("auth.users.kind"), kinds, horizontal=True, key="new_kind",
                        format_func=lambda k: t("auth.users.login_sso") if k == "sso" else t("auth.users.login_password"))
        pw1 = st.text_input(t("auth.login.password"), type="password", key="new_pw1", autocomplete="new-password")
        pw2 = st.text_input(t("auth.users.password_repeat"), type="password", key="new_pw2", autocomplete="new-password")
        create = st.form_submit_button(t("auth.users.create"), type="primary", icon=":material/person_add:")
    if create:
        if kind == "password" and pw1 != pw2:
            st.error(t("auth.error.password_mismatch"))
        else:
            try:
                u = users.create_user(con, user, username, role, password=pw1 if kind == "password" else None,
                                      display_name=display)
            except users.AccountError as e:
                st.error(common.md_t(e.key, **e.params))
            else:
                _done(t("auth.users.created", username=u.username))

with right:
    st.subheader(t("auth.users.edit"))
    if accounts.empty:
        st.info(t("auth.users.none"), icon=":material/info:")
    else:
        names = accounts["username"].tolist()
        picked = st.selectbox(t("auth.users.pick"), names, key="edit_user")
        row = accounts.set_index("username").loc[picked]
        with st.form("edit_user_form"):
            new_display = st.text_input(t("auth.users.display_name"), value=row["display_name"] or "",
                                        key=f"edit_display_{picked}")
            new_role = st.selectbox(t("auth.users.col_role"), list(auth.ROLES), index=auth.ROLES.index(row["role"]),
                                    format_func=login.role_label, key=f"edit_role_{picked}")
            new_active = st.checkbox(t("auth.users.active"), value=bool(row["active"]), key=f"edit_active_{picked}")
            save = st.form_submit_button(t("auth.users.save"), icon=":material/save:")
        if save:
            try:
                users.update_user(con, user, picked, role=new_role, display_name=new_display, active=new_active)
            except users.AccountError as e:
                st.error(common.md_t(e.key, **e.params))
            else:
                _done(t("auth.users.saved", username=picked))

        if pd.notna(row["locked_until"]):
            if st.button(t("auth.users.unlock"), icon=":material/lock_open:", key="unlock"):
                users.unlock(con, user, picked)
                _done(t("auth.users.unlocked", username=picked))

        if not sso or row["has_password"]:
            with st.expander(t("auth.users.set_password"), icon=":material/key:"):
                with st.form("set_password_form", clear_on_submit=True):
                    sp1 = st.text_input(t("auth.sidebar.new_password"), type="password", key="set_pw1",
                                        autocomplete="new-password")
                    sp2 = st.text_input(t("auth.sidebar.repeat_password"), type="password", key="set_pw2",
                                        autocomplete="new-password")
                    set_pw = st.form_submit_button(t("auth.users.set_password"))
                if set_pw:
                    if sp1 != sp2:
                        st.error(t("auth.error.password_mismatch"))
                    else:
                        try:
                            users.set_password(con, user, picked, sp1)
                        except users.AccountError as e:
                            st.error(common.md_t(e.key, **e.params))
                        else:
                            _done(t("auth.users.password_set", username=picked))

st.divider()
with st.expander(t("auth.backup.title"), icon=":material/backup:"):
    target = backup.default_dir(common.db_path())
    st.caption(t("auth.backup.intro", dir=str(target)))
    if st.button(t("auth.backup.now"), icon=":material/save:", key="backup_now"):
        try:
            m = backup.backup_into(con, target, user, source=common.db_path())
        except (backup.BackupError, OSError) as e:
            st.error(common.md_t("auth.backup.failed", error=str(e)))
        else:
            _done(common.md_t("auth.backup.done", name=Path(m["path"]).name,
                    rows=fmt.number(sum(v["rows"] for v in m["tables"].values()))))
    found = backup.list_backups(target)
    if not found:
        st.caption(t("auth.backup.none"))
    else:
        st.dataframe(
            {
                t("auth.backup.col_name"): [b["name"] for b in found],
                t("auth.backup.col_time"): [fmt.datetime(datetime.fromisoformat(b["created_at"])) if b["created_at"]
                                            else "–" for b in found],
                t("auth.backup.col_by"): [b["created_by"] or "–" for b in found],
                t("auth.backup.col_rows"): [fmt.number(b["rows"]) for b in found],
                t("auth.backup.col_version"): [b["schema_version"] for b in found],
            },
            hide_index=True,
        )
        st.caption(t("auth.backup.restore_help"))
        st.code(f"python -m akrim_analytics restore --from {found[0]['path']} --db {common.db_path()} --force",
                language="sh")
