"""Login screen for databases that are not the demo database."""
from __future__ import annotations

import streamlit as st

from akrim_analytics.i18n import t


def render() -> None:
    st.title(t("app.title"))
    st.warning(t("login.required"), icon=":material/lock:")
