"""akrim-analytics: entry point and navigation.

Run with ``streamlit run app.py`` (``make run`` does it on the demo database)."""
from __future__ import annotations

import streamlit as st

from akrim_analytics import nav
from akrim_analytics.i18n import t
from ui import common

st.set_page_config(page_title="A-krim-analyse", page_icon=":material/shield:", layout="wide")

lang = common.setup_language()
user = common.current_user()

pages_by_section: dict[str, list] = {}
for spec in nav.PAGES:
    if not (common.REPO / spec.path).exists():
        continue
    if user is not None and not user.has(spec.min_role):
        continue
    page = st.Page(str(common.REPO / spec.path), title=t(spec.title_key), icon=spec.icon,
                   url_path=spec.url_path, default=spec.default)
    pages_by_section.setdefault(t(spec.section_key), []).append(page)

if common.is_demo():
    st.sidebar.info(t("app.demo_banner"), icon=":material/science:")

if user is None:
    from ui import login

    login.render()
    st.stop()

st.session_state["_filters"] = common.global_filters()
pg = st.navigation(pages_by_section)
st.sidebar.caption(t("app.data_version", version=common.data_version()))
pg.run()
