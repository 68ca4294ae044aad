"""akrim-analytics: entry point and navigation.

Run with ``streamlit run app.py`` (``make run`` does it on the demo database)."""
from __future__ import annotations

import streamlit as st

from akrim_analytics import auth, nav
from akrim_analytics.i18n import t
from ui import common, login

common.entry_point()   # pages run only through this script (login gate, role check)
st.set_page_config(page_title="A-krim-analyse", page_icon=":material/shield:", layout="wide")
st.html(common.REPO / "ui" / "style.css")   # style only: takes no space on the page

lang = common.setup_language()


# the pages of this checkout (a feature's page file may be absent)
specs = [spec for spec in nav.PAGES if (common.REPO / spec.path).exists()]


def _page(spec: nav.PageSpec):
    # Every page keeps its own path, the start page too (Streamlit's default page would
    # be served at "/" only, and a link to /oversikt would say "Page not found").
    return st.Page(str(common.REPO / spec.path), title=t(spec.title_key), icon=spec.icon,
                   url_path=spec.url_path)


def _root(start, spec: nav.PageSpec):
    """The hidden page at "/": opens the start page under its own path, filters kept."""
    def _open_start_page() -> None:
        st.switch_page(start, query_params=st.query_params.to_dict())

    return st.Page(_open_start_page, title=t(spec.title_key), url_path="start", default=True, visibility="hidden")


def _hide_menu() -> None:
    """Replace the menu of an earlier run (or Streamlit's own list of page files) while
    the database is busy in another process."""
    st.navigation([_page(spec) for spec in specs], position="hidden")


common.open_database(on_busy=_hide_menu)
user = common.current_user()

pages_by_section: dict[str, list] = {}
spec_of_page: dict[int, nav.PageSpec] = {}
for spec in specs:
    if user is not None and not user.has(spec.min_role):
        continue
    page = _page(spec)
    pages_by_section.setdefault(t(spec.section_key), []).append(page)
    spec_of_page[id(page)] = spec
    if spec.default:
        root = _root(page, spec)
        pages_by_section[t(spec.section_key)].append(root)
        spec_of_page[id(root)] = spec

if common.is_demo():
    st.sidebar.info(t("app.demo_banner"), icon=":material/science:")

if user is None:
    if pages_by_section:   # replace any menu an earlier run sent; nothing runs before login
        st.navigation(pages_by_section, position="hidden")
    login.render()
    st.stop()

st.session_state["_filters"] = common.global_filters()
pg = st.navigation(pages_by_section)
st.sidebar.caption(t("app.data_version", version=common.data_version()))
login.sidebar_account(user)

# The menu only lists the pages the role may open; this check refuses any other way in,
# and a write refused by the core (auth.require) becomes a message, not a traceback.
spec = spec_of_page.get(id(pg))
if spec is None or not user.has(spec.min_role):
    st.session_state["_page"] = None
    st.error(t("auth.page_denied", role=t(f"auth.role.{spec.min_role if spec else 'admin'}")),
             icon=":material/block:")
    st.stop()
st.session_state["_page"] = spec.url_path   # which page ran (read by tests)
try:
    pg.run()
except auth.PermissionDenied:
    st.error(t("auth.action_denied"), icon=":material/block:")
