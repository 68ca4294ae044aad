"""The quarterly report (and the supervision evidence) as Excel workbooks.

One sheet per table, formatted for reading: a title and the stamp above a bold,
frozen header row with a filter; amounts as numbers in Norwegian krone format
(``#,##0 "kr"`` in the file — Excel and LibreOffice show the thousands separator of
the reader's locale, a space in Norwegian: ``1 234 567 kr``), shares as ``0,0 %``,
dates as ``dd.mm.yyyy``, sensible column widths.

Formula injection: every text cell goes through :func:`akrim_analytics.export.safe_cell`
(a leading ``=``, ``+``, ``-``, ``@``, tab or CR gets an apostrophe) and is written with
``write_string``; the workbook is also told never to turn strings into formulas or links.
"""
from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Iterable, Sequence

import pandas as pd
import xlsxwriter

from .. import export, fmt
from ..i18n import t
from . import labels as L
from .snapshot import Snapshot

NOK_FORMAT = '#,##0 "kr"'
PCT_FORMAT = '0.0 %'
INT_FORMAT = '#,##0'
NUM_FORMAT = '#,##0.0'
DATE_FORMAT = 'dd.mm.yyyy'
HEADER_ROW = 3            # 0-based: title, stamp, blank, header


_UNIT_KIND = {"nok": "nok", "pct": "pct", "count": "int"}
_NUMBER_FORMATS = ("nok", "pct", "int", "num")




def _is_coded(kind: str) -> bool:
    return kind in ("bool3", "bool", "step", "level") or kind.startswith("code:")


@functools.lru_cache(maxsize=8192)
def _coded_text(kind: str, value, lang: str) -> str:
    """Translated text of a code, level, step or yes/no (cached: a column repeats few values)."""
    return export.safe_cell(L.value_text(kind, value, lang))


def _number_width(kind: str, v: float) -> int:
    digits = len(f"{abs(v):,.0f}") + (v < 0)
    return digits + {"nok": 4, "pct": 4, "num": 2}.get(kind, 1)


class Writer:
    """A workbook being written: sheets of typed columns with shared formats."""

    def __init__(self, properties: dict | None = None, custom: dict | None = None):
        self.buf = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buf, {"in_memory": True, "strings_to_formulas": False,
                                                 "strings_to_urls": False, "strings_to_numbers": False,
                                                 "remove_timezone": True})
        if properties:
            self.wb.set_properties(properties)
        for k, v in (custom or {}).items():
            if v is not None:
                self.wb.set_custom_property(k, v if isinstance(v, (int, str, bool, dt.datetime)) else str(v))
        f = self.wb.add_format
        self.fmt = {
            "title": f({"bold": True, "font_size": 14, "font_color": "#" + L.PRIMARY}),
            "stamp": f({"italic": True, "font_size": 9, "font_color": "#" + L.GREY}),
            "header": f({"bold": True, "font_color": "#FFFFFF", "bg_color": "#" + L.PRIMARY, "text_wrap": True,
                         "valign": "top", "border": 1, "border_color": "#BFBFBF"}),
            "text": f({"valign": "top"}),
            "wrap": f({"valign": "top", "text_wrap": True}),
            "nok": f({"num_format": NOK_FORMAT, "valign": "top"}),
            "pct": f({"num_format": PCT_FORMAT, "valign": "top"}),
            "int": f({"num_format": INT_FORMAT, "valign": "top"}),
            "num": f({"num_format": NUM_FORMAT, "valign": "top"}),
            "date": f({"num_format": DATE_FORMAT, "valign": "top", "align": "left"}),
        }
        self.level_fmt = {lv: f({"bg_color": "#" + c, "valign": "top"}) for lv, c in L.LEVEL_FILL.items()}
        self.used: set[str] = set()

    def sheet_name(self, name: str) -> str:
        base = export.sheet_name(name)
        sname, n = base, 2
        while sname.lower() in self.used:
            suffix = f" ({n})"
            sname, n = base[:31 - len(suffix)] + suffix, n + 1
        self.used.add(sname.lower())
        return sname

    def write_cell(self, ws, r: int, c: int, kind: str, value, lang: str, unit: str | None = None) -> int:
        """Write one typed value; returns the displayed width estimate."""
        if kind == "num" and unit:
            kind = _UNIT_KIND.get(unit, "num")
        if _is_coded(kind):
            if kind != "bool3" and L.is_missing(value):
                ws.write_blank(r, c, None, self.fmt["text"])
                return 1
            text = _coded_text(kind, None if L.is_missing(value) else value, lang)
            ws.write_string(r, c, text, self.level_fmt.get(value, self.fmt["text"]) if kind == "level"
                            else self.fmt["text"])
            return len(text)
        if L.is_missing(value):
            ws.write_blank(r, c, None, self.fmt["text"])
            return 1
        if kind in _NUMBER_FORMATS:
            v = float(value)
            ws.write_number(r, c, v, self.fmt[kind])
            return _number_width(kind, v)
        if kind == "date":
            d = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
            ws.write_datetime(r, c, dt.datetime(d.year, d.month, d.day), self.fmt["date"])
            return 10
        if kind == "datetime":
            ws.write_string(r, c, fmt.datetime(value), self.fmt["text"])
            return 16
        text = export.safe_cell(str(value))
        ws.write_string(r, c, text, self.fmt["wrap"] if len(text) > 60 else self.fmt["text"])
        return min(len(text), 60)

    def add_table(self, name: str, title: str, stamp: str, columns: Sequence[tuple[str, str, str]],
                  rows: Iterable[Sequence], lang: str, unit_col: int | None = None,
                  widths: dict[int, int] | None = None):
        """A sheet: title, stamp, header (frozen, filtered) and typed rows.

        ``columns`` is [(header, kind, _)]; ``unit_col`` names a column whose value is the
        unit of the row's ``num`` cells (the key-figure sheet mixes kroner, counts, shares)."""
        ws = self.wb.add_worksheet(self.sheet_name(name))
        ws.write_string(0, 0, export.safe_cell(title), self.fmt["title"])
        ws.write_string(1, 0, export.safe_cell(stamp), self.fmt["stamp"])
        width = [len(h) + 2 for h, _, _ in columns]
        for c, (header, _, _) in enumerate(columns):
            ws.write_string(HEADER_ROW, c, export.safe_cell(header), self.fmt["header"])
        n = 0
        for n, row in enumerate(rows, start=1):
            unit = row[unit_col] if unit_col is not None else None
            for c, ((_, kind, _), v) in enumerate(zip(columns, row)):
                width[c] = max(width[c], self.write_cell(ws, HEADER_ROW + n, c, kind, v, lang, unit))
        ws.freeze_panes(HEADER_ROW + 1, 0)
        if columns:
            ws.autofilter(HEADER_ROW, 0, HEADER_ROW + max(n, 1), len(columns) - 1)
        for c, w in enumerate(width):
            ws.set_column(c, c, (widths or {}).get(c, min(max(w + 2, 9), 62)))
        ws.set_row(HEADER_ROW, 32)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(HEADER_ROW)
        return ws

    def close(self) -> bytes:
        self.wb.close()
        return self.buf.getvalue()


def frame_rows(df: pd.DataFrame, cols: list[str]) -> list[tuple]:
    return list(df[cols].itertuples(index=False, name=None))


def render(snap: Snapshot, lang: str = "nb") -> bytes:
    """The report workbook for a stored edition, as .xlsx bytes."""
    ds = snap.dataset
    stamp = L.stamp_text(snap, lang)
    period = L.period_label(snap.period, lang)
    created = snap.created_at if isinstance(snap.created_at, dt.datetime) else None
    w = Writer(
        properties={"title": f"{t('report.title', lang)} – {period}", "subject": snap.period,
                    "author": snap.created_by, "comments": stamp, "category": "A-krim",
                    "keywords": f"data_version={snap.data_version}; risk_config_version={snap.risk_config_version}; "
                                f"risk_run_id={snap.risk_run_id}; edition={snap.edition}",
                    **({"created": created} if created else {})},
        custom={"period": snap.period, "edition": int(snap.edition), "data_version": int(snap.data_version),
                "risk_config_version": snap.risk_config_version, "risk_run_id": snap.risk_run_id,
                "fingerprint": snap.fingerprint})
    for name in ("kpis", "spend_by_category", "risk_heatmap", "top_contracts", "controls_plan",
                 "controls_by_department", "findings", "sanctions", "resource", "resource_curve"):
        cols = L.visible_columns(name, lang)
        columns = [(L.label(c, lang), k, c) for c, k in cols]
        unit_col = next((i for i, (c, _) in enumerate(cols) if c == "unit"), None) if name == "kpis" else None
        title = f"{t(f'report.section.{name}', lang)} – {period}"
        ws = w.add_table(t(f"report.sheet.{name}", lang), title, stamp, columns,
                         frame_rows(ds.table(name), [c for c, _ in cols]), lang, unit_col=unit_col)
        if name == "risk_heatmap":
            _matrix(w, ws, ds.table(name), lang, first_col=len(cols) + 1)
        note = {"controls_plan": lambda: t("report.controls.note", lang) + " " + L.plan_source_text(ds.meta, lang),
                "resource": lambda: L.resource_note(ds.meta, lang),
                "top_contracts": lambda: t("report.top.note", lang)}.get(name)
        if note:
            ws.write_string(HEADER_ROW + len(ds.table(name)) + 2, 0, export.safe_cell(note()), w.fmt["text"])
    ws = w.add_table(t("report.sheet.about", lang), t("report.section.about", lang), stamp,
                     [(t("report.about.key", lang), "text", "k"), (t("report.about.value", lang), "text", "v")],
                     L.about_rows(snap, lang), lang)
    ws.write_string(HEADER_ROW + len(L.about_rows(snap, lang)) + 2, 0,
                    t("report.about.method", lang, edition=snap.edition), w.fmt["text"])
    return w.close()


def _matrix(w: Writer, ws, df: pd.DataFrame, lang: str, first_col: int) -> None:
    """The 5×5 matrix beside the long table: likelihood 5→1 down, consequence 1→5 across."""
    r0, c0 = HEADER_ROW, first_col
    head = w.fmt["header"]
    ws.write_string(r0, c0, f"{t('report.heatmap.likelihood', lang)} \\ {t('report.heatmap.consequence', lang)}", head)
    for ci in range(1, 6):
        ws.write_number(r0, c0 + ci, ci, head)
    cell = {(int(r.likelihood), int(r.consequence)): r for r in df.itertuples(index=False)}
    for i, li in enumerate(range(5, 0, -1), start=1):
        ws.write_number(r0 + i, c0, li, head)
        for ci in range(1, 6):
            r = cell.get((li, ci))
            if r is None:
                continue
            ws.write_number(r0 + i, c0 + ci, int(r.contracts), w.level_fmt.get(r.level, w.fmt["int"]))
    ws.set_column(c0, c0, 26)
    ws.set_column(c0 + 1, c0 + 5, 8)
