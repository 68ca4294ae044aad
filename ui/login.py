"""Login for databases that are not the demo database, and the account box in the sidebar.

With an ``[auth]`` section in ``.streamlit/secrets.toml`` the app uses Streamlit's OIDC
login (``st.login``/``st.user``/``st.logout``) and maps the identity token to a role
(``akrim_analytics.users.sso_user``, settings in the ``[access]`` section). Otherwise
it shows a username/password form for the local accounts in the database.

The session keeps ``st.session_state["user"]`` (an ``auth.User``) and, for a login made
here, ``st.session_state["_auth"]`` with how and when. A local session is checked
against the database on every run, so deactivating a user or changing a role takes
effect at once; it ends after ``SESSION_HOURS``."""
from __future__ import annotations

import time
from collections.abc import Mapping

import streamlit as st

from akrim_analytics import auth, fmt, users
from akrim_analytics.i18n import t
from ui import common

SESSION_HOURS = 12


# --------------------------------------------------------------------------- configuration

def _auth_section() -> Mapping | None:
    try:
        section = st.secrets.get("auth")
    except Exception:          # no secrets.toml at all
        return None
    return section if isinstance(section, Mapping) else None


def sso_configured() -> bool:
    """True when ``[auth]`` names an identity provider (default or ``[auth.<name>]``)."""
    section = _auth_section()
    if not section:
        return False
    return "client_id" in section or any(isinstance(v, Mapping) and "client_id" in v for v in section.values())


def sso_settings() -> users.SsoSettings:
    try:
        access = st.secrets.get("access")
    except Exception:
        access = None
    settings = users.SsoSettings.from_mapping(access if isinstance(access, Mapping) else None)
    if settings.provider is None:
        named = [k for k, v in (_auth_section() or {}).items() if isinstance(v, Mapping) and "client_id" in v]
        if len(named) == 1 and "client_id" not in (_auth_section() or {}):
            settings = users.SsoSettings(settings.identity_claims, settings.role_claim, settings.role_map, named[0],
                                         settings.allow)
    return settings


def _client_ip() -> str | None:
    """The browser's address as the server sees it (for the audit log), when known."""
    try:
        return st.context.ip_address
    except Exception:
        return None


def _st_user_claims() -> dict | None:
    """The identity token's claims when the browser is logged in through OIDC."""
    try:
        if not st.user.get("is_logged_in"):
            return None
        return st.user.to_dict()
    except Exception:
        return None


# --------------------------------------------------------------------------- the session

def _clear() -> None:
    for key in ("user", "_auth"):
        st.session_state.pop(key, None)


def session_user() -> auth.User | None:
    """The logged-in user of this browser session, or None (then the login screen shows)."""
    user = st.session_state.get("user")
    meta = st.session_state.get("_auth")
    if user is not None and meta is None:
        return user                      # set by trusted server code (e.g. page tests)
    if user is not None and meta.get("method") == "local":
        if time.time() - meta.get("since", 0) > SESSION_HOURS * 3600:
            _clear()
            st.session_state["_auth_notice"] = "auth.login.session_expired"
            return None
        fresh = users.active_user(common.con(), user.username)
        if fresh is None:
            _clear()
            return None
        if fresh != user:
            st.session_state["user"] = fresh
        return fresh
    if sso_configured():
        claims = _st_user_claims()
        if claims is None:
            _clear()
            return None
        try:
            settings = sso_settings()
        except ValueError as e:
            st.session_state["_sso_error"] = str(e)
            return None
        st.session_state.pop("_sso_error", None)
        decision = users.sso_user(common.con(), claims, settings)
        if st.session_state.get("_sso_recorded") != (decision.identity, decision.reason):
            users.record_sso_login(common.con(), decision, ip=_client_ip())
            st.session_state["_sso_recorded"] = (decision.identity, decision.reason)
        st.session_state["_sso_decision"] = decision
        if decision.user is None:
            _clear()
            return None
        st.session_state["user"] = decision.user
        st.session_state["_auth"] = {"method": "sso", "since": time.time()}
        return decision.user
    if user is not None:                 # an SSO session after the provider was removed
        _clear()
    return None


# --------------------------------------------------------------------------- the login screen

def render() -> None:
    st.title(t("app.title"))
    notice = st.session_state.pop("_auth_notice", None)
    if notice:
        st.info(t(notice), icon=":material/schedule:")
    if sso_configured():
        _render_sso()
    else:
        _render_local()


def _render_sso() -> None:
    st.subheader(t("auth.login.title"))
    error = st.session_state.get("_sso_error")
    if error:
        st.error(t("auth.login.sso_misconfigured", error=error), icon=":material/error:")
        return
    decision: users.SsoDecision | None = st.session_state.get("_sso_decision")
    if decision is not None and decision.user is None and _st_user_claims() is not None:
        if decision.reason == "no_identity":
            st.error(t("auth.login.sso_no_identity"), icon=":material/block:")
        else:
            st.error(common.md_t("auth.login.sso_refused", identity=decision.identity),
                     icon=":material/block:")
        if st.button(t("auth.sidebar.logout"), key="sso_refused_logout"):
            st.logout()
        return
    st.caption(t("auth.login.sso_help"))
    if st.button(t("auth.login.sso_button"), type="primary", icon=":material/login:", key="sso_login"):
        provider = sso_settings().provider
        st.login(provider) if provider else st.login()


def _render_local() -> None:
    con = common.con()
    if not users.has_accounts(con):
        st.warning(t("login.required"), icon=":material/lock:")
        st.markdown(t("auth.login.no_accounts"))
        st.code(f"python -m akrim_analytics create-user --db {common.db_path()} "
                "--username <navn> --role admin", language="sh")
        return
    with st.form("login", border=True, width=420):
        st.subheader(t("auth.login.title"))
        st.text_input(t("auth.login.username"), key="login_username", autocomplete="username")
        st.text_input(t("auth.login.password"), type="password", key="login_password",
                      autocomplete="current-password")
        st.form_submit_button(t("auth.login.submit"), type="primary", on_click=_submit_login)
    result: users.LoginResult | None = st.session_state.pop("_login_result", None)
    if result is None:
        return
    if result.status == "locked":
        st.error(t("auth.login.locked", until=fmt.datetime(result.locked_until)), icon=":material/lock_clock:")
    elif result.attempts_left is not None and result.attempts_left <= 2:
        st.error(t("auth.login.attempts_left", n=result.attempts_left), icon=":material/error:")
    else:
        st.error(t("auth.login.invalid"), icon=":material/error:")


def _submit_login() -> None:
    """The form's callback: check the password, then forget it (it is not kept in the
    session, not even in the widget)."""
    ss = st.session_state
    result = users.authenticate(common.con(), ss.get("login_username") or "", ss.get("login_password") or "",
                                ip=_client_ip())
    ss["login_password"] = ""
    if result.ok:
        ss["user"] = result.user
        ss["_auth"] = {"method": "local", "since": time.time()}
    else:
        ss["_login_result"] = result


# --------------------------------------------------------------------------- sidebar

def role_label(role: str) -> str:
    return t(f"auth.role.{role}")


def sidebar_account(user: auth.User) -> None:
    """Who is logged in, a logout button and (local accounts) a password change."""
    sb = st.sidebar
    meta = st.session_state.get("_auth")
    if meta is None and common.is_demo() and st.session_state.get("user") is None:
        sb.caption(t("auth.sidebar.demo", role=role_label(user.role)))
        return
    sb.markdown(common.md_t("auth.sidebar.signed_in", name=user.display_name or user.username,
                            role=role_label(user.role)))
    method = (meta or {}).get("method")
    if method == "local":
        with sb.popover(t("auth.sidebar.change_password"), icon=":material/key:"):
            _change_password_form(user)
    if method is not None and sb.button(t("auth.sidebar.logout"), icon=":material/logout:", key="logout"):
        users.logout(common.con(), user, method)
        _clear()
        st.session_state.pop("_sso_recorded", None)
        if method == "sso":
            st.logout()
        st.rerun()


def _change_password_form(user: auth.User) -> None:
    with st.form("change_password", border=False, clear_on_submit=True):
        old = st.text_input(t("auth.sidebar.old_password"), type="password", autocomplete="current-password")
        new = st.text_input(t("auth.sidebar.new_password"), type="password", autocomplete="new-password")
        rep = st.text_input(t("auth.sidebar.repeat_password"), type="password", autocomplete="new-password")
        if not st.form_submit_button(t("auth.sidebar.change_password")):
            return
    if new != rep:
        st.error(t("auth.error.password_mismatch"))
        return
    try:
        users.change_own_password(common.con(), user, old, new)
    except users.AccountError as e:
        st.error(t(e.key, **e.params))
    else:
        st.success(t("auth.sidebar.password_changed"))

