"""Safe Excel and CSV exports, and the audit entry for every export.

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read as a formula by Excel and LibreOffice ("CSV/formula injection"): a supplier called
``=HYPERLINK("http://evil", "Klikk")`` would become a live link in a report opened by
a manager. Every export goes through :func:`safe_frame` (or :func:`safe_cell`), which
prefixes such text with an apostrophe, so it is shown as the text it is. Numbers and
dates stay numbers and dates; column headers are neutralised as well.

Use::

    data = export.excel_bytes({"Leverandører": df})        # or export.csv_bytes(df)
    st.download_button(..., data=data, on_click=export.record_export,
                       args=(con, user, "leverandorer", "xlsx"), kwargs={"rows": len(df)})
"""
from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import duckdb
import pandas as pd

from . import audit, db
from .auth import User, require

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def safe_cell(value: Any) -> Any:
    """The value, with text that a spreadsheet would run as a formula prefixed by ``'``."""
    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        return "'" + value
    return value


def _safe_series(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s) \
            or isinstance(s.dtype, pd.PeriodDtype) or pd.api.types.is_timedelta64_dtype(s):
        return s
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    text = s.map(lambda v: isinstance(v, str)) if s.dtype == object else pd.Series(True, index=s.index)
    starts = s.astype("string").str.startswith(DANGEROUS_PREFIXES).fillna(False).astype(bool) & text
    if not starts.any():
        return s
    out = s.astype(object).copy()
    out[starts] = "'" + s[starts].astype(str)
    return out


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` in which every text cell (and header) is safe for a spreadsheet."""
    out = df.copy()
    for col in out.columns:
        out[col] = _safe_series(out[col])
    out.columns = [safe_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def csv_bytes(df: pd.DataFrame, *, sep: str = ";", decimal: str = ",") -> bytes:
    """CSV for Norwegian Excel: semicolon-separated, decimal comma, UTF-8 with BOM, CRLF
    line ends (so a field holding a line break or carriage return is quoted)."""
    return safe_frame(df).to_csv(index=False, sep=sep, decimal=decimal, lineterminator="\r\n").encode("utf-8-sig")


def sheet_name(name: str) -> str:
    """An Excel-valid sheet name (max 31 characters, none of []:*?/\\)."""
    clean = re.sub(r"\s+", " ", _SHEET_BAD.sub(" ", str(name))).strip().strip("'") or "Ark"
    return clean[:31]


def excel_bytes(sheets: Mapping[str, pd.DataFrame] | pd.DataFrame, *, sheet: str = "Data") -> bytes:
    """An .xlsx workbook, one sheet per frame, with every text cell neutralised.

    xlsxwriter is also told never to turn strings into formulas or links, so a cell
    is text even when someone bypasses ``safe_frame``."""
    if isinstance(sheets, pd.DataFrame):
        sheets = {sheet: sheets}
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False,
                                                   "remove_timezone": True}}) as xw:
        used: set[str] = set()
        for name, df in sheets.items():
            base = sheet_name(name)
            sname, n = base, 2
            while sname.lower() in used:
                suffix = f" ({n})"
                sname, n = base[:31 - len(suffix)] + suffix, n + 1
            used.add(sname.lower())
            safe = safe_frame(df)
            safe.to_excel(xw, sheet_name=sname, index=False)
            ws = xw.sheets[sname]
            ws.freeze_panes(1, 0)
            for i, col in enumerate(safe.columns):
                longest = safe[col].head(500).astype("string").fillna("").str.len().max()
                width = max(len(str(col)), 0 if pd.isna(longest) else int(longest))
                ws.set_column(i, i, min(max(width + 2, 8), 60))
    return buf.getvalue()


def record_export(con: duckdb.DuckDBPyConnection, user: User, report: str, file_format: str, *,
                  rows: int | None = None, details: Mapping[str, Any] | None = None) -> None:
    """Write the audit entry for one export (any logged-in role may export what it sees)."""
    require(user, "leder", "export reports")
    with db.transaction(con):
        audit.log(con, user, "export", "report", report,
                  {"format": file_format, **({"rows": int(rows)} if rows is not None else {}), **dict(details or {})})
