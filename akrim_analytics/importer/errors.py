"""The one exception the importer raises for anything the user must fix.

Its text comes from the locale file (``import.err.<code>``), so the page and the
command line show the same message, in the user's language. The message names the
file and, where it applies, the sheet, row and column."""
from __future__ import annotations

from ..i18n import strings, t

NO_SHEET = "-"   # the sheet named in a message about a file without sheets (CSV)


class ImportRefused(Exception):
    """The file cannot be imported as it is; nothing was written."""

    def __init__(self, code: str, **params):
        self.code = code
        self.params = params
        super().__init__(code)

    def message(self, lang: str | None = None) -> str:
        key = f"import.err.{self.code}"
        if self.params.get("sheet") == NO_SHEET and f"{key}_file" in strings():
            key += "_file"   # a CSV file has no sheet to name
        return t(key, lang, **self.params)

    def __str__(self) -> str:
        return self.message()
