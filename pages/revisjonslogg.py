"""Revisjonslogg (admin): read and filter the append-only audit trail."""
from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from akrim_analytics import audit, auth, fmt, i18n
from akrim_analytics.i18n import t
from ui import common

user = common.current_user()
auth.require(user, "admin", "read the audit log")
con = common.con()
lang = i18n.get_language()

st.title(t("auth.log.title"))
st.caption(t("auth.log.intro"))


today = date.today()
c1, c2, c3, c4, c5 = st.columns([2, 3, 1.4, 1.4, 2.2])
who = c1.selectbox(t("auth.log.user"), [""] + audit.usernames(con), key="log_user",
                   format_func=lambda u: "–" if u == "" else u)
acts = c2.multiselect(t("auth.log.action"), audit.actions(con), key="log_actions",
                      format_func=lambda a: audit.action_label(a, lang), placeholder=t("auth.log.all_actions"))
d_from = c3.date_input(t("auth.log.from"), value=today - timedelta(days=30), key="log_from", format="DD.MM.YYYY")
d_to = c4.date_input(t("auth.log.to"), value=today, key="log_to", format="DD.MM.YYYY")
text = c5.text_input(t("auth.log.text"), key="log_text", help=t("auth.log.text_help"))

if d_from and d_to and d_from > d_to:
    st.warning(t("auth.log.bad_range"), icon=":material/warning:")
    st.stop()

filters = dict(username=who or None, actions=acts or None, date_from=d_from or None, date_to=d_to or None,
               text=text or None)
total = audit.count(con, **filters)
df = audit.entries(con, limit=1000, **filters)
if df.empty:
    st.info(t("auth.log.empty"), icon=":material/info:")
    st.stop()

st.caption(t("auth.log.shown", shown=fmt.number(len(df)), total=fmt.number(total)))
st.dataframe(audit.readable(df, lang), hide_index=True, height=560,
             column_config={t("auth.log.col_details"): st.column_config.TextColumn(width=900)})

download_con = con.cursor()
st.download_button(
    t("auth.log.download"),
    data=lambda: audit.export_workbook(download_con, user, lang=lang, **filters),
    file_name=f"{t('auth.log.file_name')}-{today:%Y%m%d}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    icon=":material/download:",
    on_click="ignore",
)
