"""The part of an import that needs no database and no Arrow: check the file, find the
sheet and the header row, and start reading the sheet (``begin``).

Kept free of pyarrow, DuckDB queries and pandas so that the command line can start the
sheet read (fastexcel, which releases the GIL) before those are imported: a scheduled
import of a large file then imports them and opens the database while the sheet is read.
``pipeline.prepare`` continues from a ``Started``.
"""
from __future__ import annotations

import contextvars
import importlib
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import fileformat, headers, kinds, reader
from .errors import NO_SHEET, ImportRefused

Progress = Callable[[str, float], None]

WARM_UP_BYTES = 1_000_000       # files whose read takes long enough to overlap the imports with


def _warm_up() -> None:
    """Import, in a background thread, what validation and commit will need while the
    sheet is read: pandas (DuckDB imports it the first time a Python object such as an
    Arrow table is registered), the listeners of ``hooks.data_changed`` (risk scoring),
    categorisation, linking and the translated strings, and what the listeners read
    from disk (``hooks.warm_up``). fastexcel releases the GIL while
    it reads, so with a free core this work overlaps the read instead of following it
    (~0.5-1 s of a command-line import). Nothing runs when all of it is loaded already
    (the app); a failure here only means the main thread imports it itself later."""
    from .. import hooks   # (imports DuckDB: after the read has started)

    modules = ["pandas", "akrim_analytics.categorize", "akrim_analytics.linking"]
    modules += [spec.split(":")[0] for spec in hooks.AFTER_DATA_CHANGE]
    missing = [m for m in modules if m not in sys.modules]
    if not missing:
        return

    def run() -> None:
        try:
            for m in missing:
                importlib.import_module(m)
            from ..i18n import strings

            strings()
            hooks.warm_up()
        except Exception:
            pass

    threading.Thread(target=run, name="import-warm-up", daemon=True).start()


def _progress(cb: Progress | None, stage: str, fraction: float) -> None:
    if cb is not None:
        try:
            cb(stage, max(0.0, min(1.0, fraction)))
        except Exception:
            pass


@dataclass
class SheetCandidate:
    name: str | None
    header_row: int            # 0-based absolute row index
    score: float
    fields: list[str]
    visible: bool = True
    is_data: bool = False      # could be the data (has an anchor field and 2+ fields)


# ----------------------------------------------------------------- sheet & header

def _candidates(scan_result: reader.Scan, kind: kinds.Kind, matcher: headers.Matcher) -> list[SheetCandidate]:
    out = []
    anchors = set(kind.anchor_fields)
    for head in scan_result.sheets:
        best: SheetCandidate | None = None
        for r, cells in head.rows:
            values = list(cells.values())
            score, n = matcher.score_row(values)
            if n == 0:
                continue
            matched = _matched_fields(matcher, values)
            texts = sum(1 for v in values if isinstance(v, str))
            ok = n >= 2 or (n == 1 and texts >= 2 and matched & anchors)
            if not ok:
                continue
            cand = SheetCandidate(head.name, r, score, sorted(matched), head.visible,
                                  bool(matched & anchors or not anchors) and n >= 2)
            if best is None or cand.score > best.score + 1e-9:
                best = cand
        if best is not None:
            out.append(best)
    return out


def _matched_fields(matcher: headers.Matcher, values) -> set[str]:
    found = set()
    for v in values:
        if isinstance(v, str):
            hits = matcher.hits(v)
            if hits:
                found.add(hits[0].field)
    return found


# ---------------------------------------------------------------------- begin

class Started:
    """A file whose sheet and header row are found and whose read has started (``begin``)."""

    def __init__(self, kind: kinds.Kind, info: fileformat.FileInfo, scan: reader.Scan,
                 cands: list[SheetCandidate], chosen: SheetCandidate, ambiguous: bool, background: bool):
        self.kind, self.info, self.scan = kind, info, scan
        self.cands, self.chosen, self.ambiguous = cands, chosen, ambiguous
        self._raw: reader.RawTable | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            ctx = contextvars.copy_context()   # the language of messages
            self._thread = threading.Thread(target=ctx.run, args=(self._read,), name="import-read", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        try:
            self._raw = reader.read(self.info, self.scan, self.chosen.name, self.chosen.header_row)
        except BaseException as e:  # handed to the caller of raw()
            self._error = e

    def raw(self) -> reader.RawTable:
        """The whole sheet below the header (waits for the read; raises its error)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        elif self._raw is None and self._error is None:
            self._read()
        if self._error is not None:
            raise self._error
        return self._raw


def begin(path: str | Path, *, kind: str = "spend", file_name: str | None = None, sheet: str | None = None,
          progress: Progress | None = None) -> Started:
    """The part of ``prepare`` that needs no database: check the file, find the sheet and
    the header row, and start reading the sheet. For a file of 1 MB or more the read runs
    in a background thread (fastexcel releases the GIL), so the caller can open the
    database meanwhile (the command line does). Raises ImportRefused."""
    k = kinds.get(kind)
    _progress(progress, "read", 0.02)
    info = fileformat.inspect(path, file_name)
    scan_result = reader.scan(info)
    _progress(progress, "read", 0.1)
    matcher = headers.Matcher(k.synonym_table())
    cands = _candidates(scan_result, k, matcher)
    sheet_names = [h.name for h in scan_result.sheets]
    nonempty = [h for h in scan_result.sheets if h.rows]
    if not nonempty:
        raise ImportRefused("empty_workbook", file=info.file_name)
    if sheet is not None and info.format != "csv":
        if sheet not in sheet_names:
            raise ImportRefused("sheet_not_found", file=info.file_name, sheet=sheet,
                                sheets=", ".join(f"«{s}»" for s in sheet_names))
        chosen = next((c for c in cands if c.name == sheet), None)
        if chosen is None:
            head = next(h for h in scan_result.sheets if h.name == sheet)
            if not head.rows:
                raise ImportRefused("empty_sheet", file=info.file_name, sheet=sheet)
            raise ImportRefused("no_header", file=info.file_name, sheet=sheet,
                                expected=_expected_text(k))
        ambiguous = False
    else:
        if not cands:
            raise ImportRefused("no_header", file=info.file_name,
                                sheet=", ".join(f"«{h.name}»" for h in nonempty) if info.format != "csv" else NO_SHEET,
                                expected=_expected_text(k))
        data = [c for c in cands if c.is_data]
        pool = data or cands
        # visible sheets first, then the best score, then the first sheet
        chosen = sorted(pool, key=lambda c: (not c.visible, -c.score, sheet_names.index(c.name)))[0]
        ambiguous = info.format != "csv" and len(data) > 1
    large = info.size >= WARM_UP_BYTES
    started = Started(k, info, scan_result, cands, chosen, ambiguous, background=large)
    if large:
        _warm_up()   # after the read has started: it competes with the read's start for the GIL
    return started


def _expected_text(k: kinds.Kind) -> str:
    from ..i18n import t

    names = k.anchor_fields or tuple(f.name for f in k.fields[:3])
    return ", ".join(t(f"import.field.{n}") for n in names)
