"""Streamlit glue shared by the pages: the connection, the cache, the global filters,
the current user and small rendering helpers. Rules and numbers live in the core."""
from __future__ import annotations

import importlib
import os
import time
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from akrim_analytics import auth, db, filters, fmt, handoff, i18n, queries
from akrim_analytics.i18n import t

REPO = Path(__file__).resolve().parent.parent


@st.cache_resource(show_spinner=False)
def _connection(path: str):
    con = db.connect(path)
    if path != ":memory:" and os.environ.get("AKRIM_JOB_QUEUE", "1") != "0":
        # DuckDB lets one process open the file: operator commands (scheduled imports,
        # accounts, backups) hand their jobs to this process while it holds it (handoff)
        handoff.Server(path, con.cursor).start()
    return con


def db_path() -> str:
    return str(db.db_path())


def entry_point() -> None:
    """Called first by ``app.py``: pages run only through it, in ``st.navigation`` mode.

    Because the repository has a ``pages/`` folder, Streamlit starts a server in its old
    multipage mode (``PagesManager.uses_pages_directory``) until ``st.navigation`` is
    first called. In that mode a URL such as ``/brukere`` runs ``pages/brukere.py`` on
    its own, without the login gate and role check in ``app.py``, and widgets get other
    ids than in later runs. So the first run switches the mode off and starts again."""
    _through_entry_point()


def _through_entry_point() -> None:
    """Refuse to serve a run in the old mode (see ``entry_point``): switch Streamlit to
    ``st.navigation`` mode and rerun the same URL, so ``app.py`` runs and decides. Every
    page reaches this through ``con()``, ``current_user()`` or ``get_filters()``."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def con():
    """A cursor for this script run on the shared database connection (thread-safe use)."""
    _through_entry_point()
    return _open(db_path()).cursor()


def open_database(on_busy=None) -> None:
    """Open the shared connection first thing in a run (``app.py``); ``on_busy`` is called
    once before waiting for a file another process holds (the app hides its menu)."""
    _through_entry_point()
    _open(db_path(), on_busy)


def _open(path: str, on_busy=None):
    """The shared connection. While another process holds the file (a command-line import,
    backup or restore started when no dashboard had it open), wait for it with a spinner
    for up to ``AKRIM_DB_WAIT_S`` seconds (default 60), then say so plainly: never a
    traceback. ``_connection`` caches only a success, so the next run tries again."""
    try:
        return _connection(path)
    except db.DatabaseInUse:
        if on_busy is not None:
            on_busy()
    except db.DatabaseUnreadable as e:
        # not a DuckDB file, damaged, or a stale write-ahead log beside it: say which file
        # and what to do (a traceback would be all the page showed); retried on reload
        if on_busy is not None:
            on_busy()
        st.error(md_t(f"app.db_{e.kind}", path=str(e.path), detail=e.detail, **e.facts), icon=":material/error:")
        st.stop()
    deadline = time.monotonic() + float(os.environ.get("AKRIM_DB_WAIT_S", "60"))
    with st.spinner(t("app.db_busy_wait")):
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                return _connection(path)
            except db.DatabaseInUse:
                continue
    st.error(t("app.db_busy"), icon=":material/hourglass_top:")
    st.stop()


def data_version() -> int:
    return db.data_version(con())


@st.cache_data(show_spinner=False, max_entries=1024)
def _run_cached(module: str, name: str, version: int, path: str, args: tuple, kwargs: tuple):
    fn = getattr(importlib.import_module(module), name)
    return fn(con(), *args, **dict(kwargs))


def cached(fn, *args, **kwargs):
    """Call a core query ``fn(con, *args, **kwargs)`` cached per data version.

    An upload, an undo or a settings change bumps the data version, so nothing stale
    is ever shown. Arguments must be hashable values (dataclasses, str, int, dates)."""
    return _run_cached(fn.__module__, fn.__qualname__, data_version(), db_path(), args,
                       tuple(sorted(kwargs.items())))


def is_demo() -> bool:
    return db.is_demo(con())


def current_user() -> auth.User | None:
    """The logged-in user; in the bundled demo database a demo admin (no login).

    Elsewhere None until the user has logged in (``ui/login.py``: local accounts or single
    sign-on). Tests set ``st.session_state["user"] = auth.User(...)`` to act as a user."""
    _through_entry_point()
    if is_demo():
        return st.session_state.get("user") or auth.User("demo", "admin", "Demo")
    from ui import login

    return login.session_user()


def url_selectbox(container, label: str, options: list[str], key: str, default: str,
                  format_func=str) -> str:
    """A selectbox whose value is kept in the URL as ``?key=value`` (raw option, not label).

    The URL wins when a link is opened; afterwards the widget writes its value back,
    so the address bar always holds a link to the current view. The default value is
    left out of the URL to keep links short."""
    url_value = st.query_params.get(key)
    if key not in st.session_state or st.session_state.get(f"_url_{key}") != url_value:
        st.session_state[key] = url_value if url_value in options else default
    if st.session_state[key] not in options:
        st.session_state[key] = default
    value = container.selectbox(label, options, key=key, format_func=format_func)
    if value == default:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = value
    st.session_state[f"_url_{key}"] = st.query_params.get(key)
    return value


def setup_language() -> str:
    """Language switch (kept in the URL as ?lang=en); sets the language for this run."""
    lang = url_selectbox(st.sidebar, "Språk / Language", list(i18n.LANGUAGES), "lang", i18n.DEFAULT_LANGUAGE,
                         format_func=lambda x: {"nb": "Norsk (bokmål)", "en": "English"}[x])
    return i18n.set_language(lang)


def global_filters() -> filters.Filters | None:
    """Period, department and category in the sidebar, kept in the URL's query
    parameters (?periode=2025-K3&avdeling=4100&kategori=BYGG). None when there is no data."""
    years = cached(queries.available_years)
    if not years:
        return None
    last = cached(queries.last_spend_date)
    options = filters.period_options(years, last)
    default = filters.default_period(years, last)
    lang = i18n.get_language()
    sb = st.sidebar
    period_key = url_selectbox(sb, t("filter.period"), options, "periode", default,
                               format_func=lambda k: filters.Period.parse(k).label(lang))
    deps = cached(queries.departments)
    dep_names = dict(zip(deps["code"], deps["name"]))
    department = url_selectbox(
        sb, t("filter.department"), [""] + deps["code"].tolist(), "avdeling", "",
        format_func=lambda c: t("filter.all_departments") if c == "" else f"{c} {dep_names.get(c, '')}")
    cats = cached(queries.categories)
    cat_names = dict(zip(cats["code"], cats["name_nb" if lang == "nb" else "name_en"]))
    category = url_selectbox(
        sb, t("filter.category"), [""] + cats["code"].tolist(), "kategori", "",
        format_func=lambda c: t("filter.all_categories") if c == "" else cat_names.get(c, c))
    return filters.Filters(filters.Period.parse(period_key), department or None, category or None)


def get_filters() -> filters.Filters | None:
    """The filters chosen in the entry point's sidebar for this run."""
    _through_entry_point()
    return st.session_state.get("_filters")


def category_name(code: str, lang: str | None = None) -> str:
    cats = cached(queries.categories)
    col = "name_nb" if (lang or i18n.get_language()) == "nb" else "name_en"
    row = cats[cats["code"] == code]
    return row[col].iloc[0] if len(row) else code


def scope_text(f: filters.Filters, *, markdown: bool) -> str:
    """' – Eiendom – Bygg, anlegg …': what the numbers are limited to, for a chart title
    (plain text: ``charts.style`` makes it safe for Plotly) or, with ``markdown``, for a
    caption (a department name from an export is Markdown-escaped)."""
    parts = []
    if f.department:
        deps = cached(queries.departments)
        name = deps.loc[deps["code"] == f.department, "name"]
        parts.append(name.iloc[0] if len(name) else f.department)
    if f.category:
        parts.append(category_name(f.category))
    return "".join(f" – {md_escape(p) if markdown else p}" for p in parts)


def tile(where, label: str, value, delta=None, **kwargs) -> None:
    """A key-figure tile (``st.metric`` with a border) in ``where``, a column: the tiles
    of a row stretch to one height, and ``ui/style.css`` keeps their numbers, labels and
    changes whole."""
    where.metric(label, value, delta, border=True, height="stretch", **kwargs)


def empty_state(message_key: str = "app.no_data") -> None:
    st.info(t(message_key), icon=":material/info:")


def uploader_texts() -> None:
    """Streamlit's file uploader says "Upload" and "200MB per file" in English whatever
    the page's language, with no setting for either (streamlit#13500). The size hint is
    hidden (``ui/style.css``; the page's label gives the limit, translated), and in
    Norwegian the button's label is drawn over with CSS (a screen reader still reads
    Streamlit's "Upload" inside the drop zone named by the translated label). A fixed
    stylesheet: no data reaches it."""
    if i18n.get_language() != "nb":
        return
    st.html("""<style>
[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"] p { font-size: 0; }
[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"] p::after {
  content: "Last opp"; font-size: 14px;
}
</style>""")


def amount_input(container, label: str, value=None, *, key: str | None = None, help: str | None = None) -> str:
    """A text field for an amount in kroner, shown and typed the Norwegian way
    (``12 500 000``, ``1 234,50``; a number field would show ``12500000.00``). Returns
    the text as typed: the core reads it (``fmt.parse_amount``) and names the field when
    it is not an amount."""
    return container.text_input(label, value=fmt.amount_text(value), key=key, help=help,
                                placeholder=t("app.amount_placeholder"))


def decimal_input(container, label: str, value=None, *, key: str | None = None, help: str | None = None,
                  min_value: float | None = None) -> float | None:
    """A text field for a number that is not an amount (hours, FTEs, weights, points),
    shown and typed the Norwegian way: ``1,5``, ``1 695``. A number field would drop the
    comma a Norwegian types and read ``1,5`` as 15. Returns the number, or None after
    showing under the field why the text is not one (or is below ``min_value``)."""
    text = container.text_input(label, value=fmt.decimal_text(value), key=key, help=help)
    try:
        got = fmt.parse_decimal(text)
    except ValueError:
        got = None
    if got is None:
        container.error(md_t("app.decimal_invalid", field=label, value=text), icon=":material/error:")
        return None
    if min_value is not None and got < min_value:
        container.error(md_t("app.decimal_below", field=label, min=fmt.decimal_text(min_value)),
                        icon=":material/error:")
        return None
    return got


_MD_SPECIAL = set("\\`*_{}[]<>()#+-.!|~$:=")


def md_escape(text) -> str:
    """Text from data shown through Markdown (titles, labels, table cells): every Markdown
    and Streamlit directive character is escaped, so it shows as typed."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))


def md_t(key: str, **params) -> str:
    """``t(key, **params)`` for a Markdown element, with every text parameter escaped
    (ids, names and paths from data or the URL show as typed; the template's own
    wording is kept)."""
    return t(key, **{k: md_escape(v) if isinstance(v, str) else v for k, v in params.items()})
