"""One small translation module: Norwegian bokmål by default, English on request.

Strings live in ``akrim_analytics/locale/*.toml`` (one file per area, so features do not
collide), each key a table with ``nb`` and ``en``::

    [nav.oversikt]
    nb = "Oversikt"
    en = "Overview"

The current language is per thread/context (a Streamlit session runs its script in
its own thread), set with ``set_language`` at the top of each run.
"""
from __future__ import annotations

import contextvars
import tomllib
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("nb", "en")
DEFAULT_LANGUAGE = "nb"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_language: contextvars.ContextVar[str] = contextvars.ContextVar("akrim_language", default=DEFAULT_LANGUAGE)


@lru_cache(maxsize=1)
def strings() -> dict[str, dict[str, str]]:
    """All keys from every locale file. A key defined twice is an error."""
    out: dict[str, dict[str, str]] = {}

    def walk(prefix: str, table: dict, source: Path) -> None:
        if "nb" in table and isinstance(table["nb"], str):
            if prefix in out:
                raise ValueError(f"translation key {prefix!r} defined twice ({source.name})")
            out[prefix] = {k: v for k, v in table.items() if isinstance(v, str)}
            return
        for k, v in table.items():
            if isinstance(v, dict):
                walk(f"{prefix}.{k}" if prefix else k, v, source)

    for path in sorted(LOCALE_DIR.glob("*.toml")):
        with path.open("rb") as f:
            walk("", tomllib.load(f), path)
    return out


def set_language(lang: str | None) -> str:
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    _language.set(lang)
    return lang


def get_language() -> str:
    return _language.get()


def t(key: str, lang: str | None = None, **kwargs) -> str:
    """The text for ``key`` in the current language, formatted with ``kwargs``.

    A missing English text falls back to Norwegian; a missing key shows the key
    itself, so a gap is visible instead of crashing a page."""
    entry = strings().get(key)
    if entry is None:
        text = key
    else:
        text = entry.get(lang or get_language()) or entry.get(DEFAULT_LANGUAGE) or key
    return text.format(**kwargs) if kwargs else text
