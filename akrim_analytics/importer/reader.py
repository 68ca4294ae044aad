"""Reading spreadsheets and CSV files into Arrow, fast.

Two steps:

1. ``scan(info)`` looks at the first rows of every sheet to find the header row. For
   xlsx it streams only the start of each sheet's XML (a 1 000 000-row sheet is not
   parsed twice); for xls/xlsb/ods it uses python-calamine; for CSV it decodes the
   start of the file (UTF-8, else Windows-1252) and sniffs the delimiter.
2. ``read(info, head, header_row)`` reads the whole sheet once with fastexcel (Rust,
   straight to Arrow; types inferred from *all* rows so a late text cell in a number
   column is never lost), or the whole CSV with Python's csv module in chunks of
   100 000 records straight into Arrow (all text; row numbers are the file's lines).

The result is a ``RawTable``: an Arrow table with generated column names ``c0, c1, …``
(a header from the file never becomes an identifier) plus ``_row``, the 1-based row
number in the file, used in every message.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .errors import NO_SHEET, ImportRefused
from .fileformat import FileInfo

if TYPE_CHECKING:   # pyarrow is imported where a sheet is converted (the read starts before it)
    import pyarrow as pa

HEAD_ROWS = 40
EXCEL_MAX_ROWS = 1_048_576
CSV_MAX_ROWS = 5_000_000
NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_RE = re.compile(r"^([A-Z]+)(\d+)$")


def col_letter(idx: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    s = ""
    idx += 1
    while idx:
        idx, r = divmod(idx - 1, 26)
        s = chr(65 + r) + s
    return s


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


@dataclass
class SheetHead:
    """The first rows of one sheet: ``rows`` is a list of (absolute row index, cells by
    absolute column index)."""
    name: str
    visible: bool = True
    rows: list[tuple[int, dict[int, object]]] = field(default_factory=list)
    declared_rows: int | None = None   # from <dimension>, when present


@dataclass
class CsvDialect:
    encoding: str
    delimiter: str
    path: Path


@dataclass
class Scan:
    sheets: list[SheetHead]
    csv: CsvDialect | None = None


@dataclass
class Column:
    index: int           # position in the table (c<index>)
    abs_index: int       # absolute column in the sheet (0 = A)
    header: str          # header text as in the file ('' when blank)
    name: str            # unique display name (header, made unique, or 'Kolonne F')

    @property
    def letter(self) -> str:
        return col_letter(self.abs_index)


@dataclass
class RawTable:
    table: pa.Table              # c0..cN and _row
    columns: list[Column]
    sheet: str | None
    header_row: int              # 1-based row number of the header in the file
    overrides: list[int] = field(default_factory=list)  # columns with a sparse text column c<i>_x


# --------------------------------------------------------------------------- xlsx

def _xlsx_parts(zf: zipfile.ZipFile, file_name: str):
    """(sheets [(name, path, visible)], shared strings path)"""
    try:
        wb = ET.fromstring(zf.read("xl/workbook.xml"))
        rels_xml = zf.read("xl/_rels/workbook.xml.rels")
    except (KeyError, ET.ParseError, zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise ImportRefused("corrupt", file=file_name)
    except Exception:
        raise ImportRefused("corrupt", file=file_name)
    rels = {}
    shared = None
    for rel in ET.fromstring(rels_xml):
        target = rel.get("Target", "")
        if target.startswith("/"):
            path = target.lstrip("/")
        else:
            path = str(PurePosixPath("xl") / target)
        # normalise "xl/worksheets/../x"
        parts = []
        for p in path.split("/"):
            if p == "..":
                parts and parts.pop()
            elif p and p != ".":
                parts.append(p)
        path = "/".join(parts)
        rels[rel.get("Id")] = path
        if rel.get("Type", "").endswith("/sharedStrings"):
            shared = path
    sheets = []
    for sh in wb.iter(f"{NS}sheet"):
        rid = sh.get(f"{REL_NS}id")
        path = rels.get(rid)
        if path is None:
            continue
        sheets.append((sh.get("name"), path, sh.get("state", "visible") == "visible"))
    return sheets, shared


def _shared_strings(zf: zipfile.ZipFile, path: str | None, needed: set[int]) -> dict[int, str]:
    """The shared strings with the given indexes (streams only as far as needed)."""
    if not needed or not path or path not in zf.namelist():
        return {}
    last = max(needed)
    out: dict[int, str] = {}
    idx = 0
    with zf.open(path) as f:
        for event, el in ET.iterparse(f, events=("end",)):
            if el.tag == f"{NS}si":
                if idx in needed:
                    out[idx] = "".join(t.text or "" for t in el.iter(f"{NS}t")
                                       if not _inside_phonetic(el, t))
                idx += 1
                el.clear()
                if idx > last:
                    break
    return out


def _inside_phonetic(si, t) -> bool:
    for rph in si.iter(f"{NS}rPh"):
        if t in list(rph.iter()):
            return True
    return False


def _scan_xlsx(info: FileInfo) -> list[SheetHead]:
    heads = []
    try:
        zf = zipfile.ZipFile(info.path)
    except Exception:
        raise ImportRefused("corrupt", file=info.file_name)
    with zf:
        sheets, shared_path = _xlsx_parts(zf, info.file_name)
        names = set(zf.namelist())
        pending: list[tuple[SheetHead, list]] = []
        needed: set[int] = set()
        for name, path, visible in sheets:
            head = SheetHead(name=name, visible=visible)
            cells_raw = []
            if path in names:
                try:
                    _stream_sheet_head(zf, path, head, cells_raw, needed)
                except ImportRefused:
                    raise
                except Exception:
                    raise ImportRefused("corrupt_sheet", file=info.file_name, sheet=name)
            pending.append((head, cells_raw))
        try:
            strings = _shared_strings(zf, shared_path, needed)
        except Exception:
            raise ImportRefused("corrupt", file=info.file_name)
        for head, cells_raw in pending:
            rows: dict[int, dict[int, object]] = {}
            for r, c, kind, value in cells_raw:
                if kind == "s":
                    try:
                        value = strings.get(int(value))
                    except ValueError:
                        value = None
                rows.setdefault(r, {})
                if value is not None and value != "":
                    rows[r][c] = value
            head.rows = [(r, cells) for r, cells in sorted(rows.items()) if cells]
            heads.append(head)
    return heads


def _stream_sheet_head(zf, path, head: SheetHead, out: list, needed: set[int]) -> None:
    n_rows = 0
    with zf.open(path) as f:
        for event, el in ET.iterparse(f, events=("end",)):
            tag = el.tag
            if tag == f"{NS}dimension":
                ref = el.get("ref", "")
                m = re.search(r"(\d+)$", ref)
                if m:
                    head.declared_rows = int(m.group(1))
            elif tag == f"{NS}row":
                r_attr = el.get("r")
                for c in el.iter(f"{NS}c"):
                    ref = c.get("r") or ""
                    m = _CELL_RE.match(ref)
                    if not m:
                        continue
                    col = _col_index(m.group(1))
                    row = int(m.group(2)) - 1
                    t = c.get("t", "n")
                    if t == "inlineStr":
                        is_el = c.find(f"{NS}is")
                        value = "".join(x.text or "" for x in is_el.iter(f"{NS}t")) if is_el is not None else None
                        out.append((row, col, "str", value))
                    else:
                        v = c.find(f"{NS}v")
                        if v is None or v.text is None:
                            continue
                        if t == "s":
                            needed.add(int(v.text))
                            out.append((row, col, "s", v.text))
                        elif t in ("str", "e"):
                            out.append((row, col, "str", v.text))
                        elif t == "b":
                            out.append((row, col, "bool", v.text == "1"))
                        else:
                            try:
                                out.append((row, col, "num", float(v.text)))
                            except ValueError:
                                out.append((row, col, "str", v.text))
                el.clear()
                n_rows += 1
                if n_rows >= HEAD_ROWS:
                    break
                if r_attr and int(r_attr) > EXCEL_MAX_ROWS:
                    break


# ------------------------------------------------------------- xls / xlsb / ods

def _scan_calamine(info: FileInfo) -> list[SheetHead]:
    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_path(str(info.path))
    except Exception as e:
        raise _calamine_error(info, e)
    heads = []
    for meta in wb.sheets_metadata:
        name = meta.name
        visible = str(getattr(meta, "visible", "Visible")).lower().endswith("visible") and \
            "hidden" not in str(getattr(meta, "visible", "")).lower()
        if "work" not in str(getattr(meta, "typ", "worksheet")).lower():
            continue
        head = SheetHead(name=name, visible=visible)
        try:
            sheet = wb.get_sheet_by_name(name)
            start = sheet.start or (0, 0)
            data = sheet.to_python(nrows=HEAD_ROWS)
            head.declared_rows = sheet.total_height
        except Exception as e:
            raise _calamine_error(info, e, name)
        for i, row in enumerate(data):
            cells = {start[1] + j: v for j, v in enumerate(row) if v is not None and v != ""}
            if cells:
                head.rows.append((start[0] + i, cells))
        heads.append(head)
    return heads


def _calamine_error(info: FileInfo, e: Exception, sheet: str | None = None) -> ImportRefused:
    text = str(e).lower()
    if "password" in text or "encrypt" in text:
        return ImportRefused("encrypted", file=info.file_name)
    if sheet:
        return ImportRefused("corrupt_sheet", file=info.file_name, sheet=sheet)
    return ImportRefused("corrupt", file=info.file_name)


# --------------------------------------------------------------------------- CSV

def _detect_encoding(path: Path) -> str:
    with path.open("rb") as f:
        start = f.read(4)
        if start.startswith(b"\xef\xbb\xbf"):
            return "utf-8-sig"
        if start.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "utf-16"
        f.seek(0)
        dec = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                dec.decode(chunk)
            dec.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            return "cp1252"


def _sniff_delimiter(sample: str) -> str:
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    best, best_score = ",", -1.0
    for d in (";", ",", "\t", "|"):
        counts = [ln.count(d) for ln in lines]
        nonzero = [c for c in counts if c]
        if not nonzero:
            continue
        # many lines with the same, non-zero count of the delimiter
        common = max(set(nonzero), key=nonzero.count)
        score = nonzero.count(common) * (1 + min(common, 20) / 20)
        if score > best_score:
            best, best_score = d, score
    return best


def _csv_records(path: Path, encoding: str, delimiter: str):
    """(0-based line index where the record starts, fields) for every non-empty record."""
    csv.field_size_limit(16 * 1024 * 1024)
    with path.open("r", encoding=encoding, errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quotechar='"')
        prev = 0
        for rec in reader:
            start = prev
            prev = reader.line_num
            if rec:
                yield start, rec


def _scan_csv(info: FileInfo) -> tuple[list[SheetHead], CsvDialect]:
    encoding = _detect_encoding(info.path)
    with info.path.open("r", encoding=encoding, errors="replace", newline="") as f:
        sample = f.read(256 * 1024)
    delimiter = _sniff_delimiter(sample)
    head = SheetHead(name=None)
    try:
        for n, (line, rec) in enumerate(_csv_records(info.path, encoding, delimiter)):
            if n >= HEAD_ROWS:
                break
            cells = {j: v for j, v in enumerate(rec) if v is not None and v.strip() != ""}
            if cells:
                head.rows.append((line, cells))
    except (csv.Error, UnicodeError):
        raise ImportRefused("corrupt", file=info.file_name)
    return [head], CsvDialect(encoding=encoding, delimiter=delimiter, path=info.path)


# ----------------------------------------------------------------------- public

def scan(info: FileInfo) -> Scan:
    """The first rows of every sheet (or of the CSV file)."""
    if info.format == "xlsx":
        heads = _scan_xlsx(info)
        for h in heads:
            if h.declared_rows and h.declared_rows > EXCEL_MAX_ROWS:
                raise ImportRefused("too_many_rows", file=info.file_name, sheet=h.name,
                                    rows=f"{h.declared_rows:,}".replace(",", " "),
                                    limit=f"{EXCEL_MAX_ROWS:,}".replace(",", " "))
        return Scan(heads)
    if info.format in ("xls", "xlsb", "ods"):
        return Scan(_scan_calamine(info))
    heads, dialect = _scan_csv(info)
    return Scan(heads, dialect)


def _unique_names(headers: list[tuple[int, str]]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for abs_idx, h in headers:
        base = h.strip() if h and h.strip() else f"Kolonne {col_letter(abs_idx)}"
        n = seen.get(base, 0) + 1
        seen[base] = n
        out.append(base if n == 1 else f"{base} ({n})")
    return out


def read(info: FileInfo, scan_result: Scan, sheet: str | None, header_row: int) -> RawTable:
    """Read the whole sheet below ``header_row`` (0-based absolute index)."""
    if info.format == "csv":
        return _read_csv(info, scan_result, header_row)
    return _read_excel(info, scan_result, sheet, header_row)


def _header_cells(scan_result: Scan, sheet: str | None, header_row: int) -> dict[int, object]:
    for h in scan_result.sheets:
        if h.name == sheet:
            for r, cells in h.rows:
                if r == header_row:
                    return cells
    return {}


_DETAIL_RE = re.compile(r"^Expected \w+ but got '(\w+)\((.*)\)'$", re.S)
_EXCEL_ERRORS = {"Div0": "#DIV/0!", "NA": "#N/A", "Name": "#NAME?", "Null": "#NULL!", "Num": "#NUM!",
                 "Ref": "#REF!", "Value": "#VALUE!", "GettingData": "#GETTING_DATA"}
_ESC_RE = re.compile(r"\\(u\{[0-9a-fA-F]{1,6}\}|.)", re.S)
_ESC = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def _rust_unescape(body: str) -> str | None:
    """The text of a Rust debug string literal's body (``a\\"b\\u{a0}`` → ``a"b\xa0``)."""
    def sub(m):
        e = m.group(1)
        if e.startswith("u{"):
            return chr(int(e[2:-1], 16))
        if e in _ESC:
            return _ESC[e]
        raise ValueError(e)
    try:
        return _ESC_RE.sub(sub, body)
    except (ValueError, OverflowError):
        return None


def cell_error_text(detail: str) -> str | None:
    """The cell's own value, as text, from a fastexcel type-mismatch message, e.g.
    ``Expected float but got 'String("1 234,50")'`` → ``1 234,50``; None when unknown."""
    m = _DETAIL_RE.match(detail or "")
    if not m:
        return None
    kind, payload = m.group(1), m.group(2)
    if kind in ("String", "DateTimeIso", "DurationIso"):
        if len(payload) >= 2 and payload[0] == '"' and payload[-1] == '"':
            return _rust_unescape(payload[1:-1])
        return None
    if kind in ("Float", "Int"):
        return payload
    if kind == "Bool":
        return payload
    if kind == "Error":
        return _EXCEL_ERRORS.get(payload, "#" + payload.upper())
    if kind == "DateTime":
        v = re.search(r"value: ([0-9.eE+-]+)", payload)
        if not v:
            return None
        base = dt.datetime(1904, 1, 1) if "is_1904: true" in payload else dt.datetime(1899, 12, 30)
        try:
            when = base + dt.timedelta(days=float(v.group(1)))
        except (ValueError, OverflowError):
            return None
        when = when.replace(microsecond=0)
        return when.date().isoformat() if when.time() == dt.time() else when.isoformat(sep=" ")
    if kind == "Empty":
        return ""
    return None


def _absolute_columns(names: list[str], header: dict[int, object]) -> list[int] | None:
    """The sheet column of each fastexcel column, from the header row we scanned.

    fastexcel names a column by its header text (a repeat gets ``_1``, ``_2`` …; a blank
    header ``__UNNAMED__<position>``) and its columns run contiguously from the first
    used column of the sheet, so one offset aligns them. None when the names disagree."""
    texts = {a: v for a, v in header.items() if isinstance(v, str)}
    offsets = [a - i for i, nm in enumerate(names) for a, v in texts.items() if v == nm]
    if not offsets:
        return None
    offset = max(set(offsets), key=offsets.count)
    if offset < 0:
        return None
    for i, nm in enumerate(names):
        if nm.startswith("__UNNAMED__"):
            if texts.get(offset + i):
                return None
            continue
        v = header.get(offset + i)
        if not isinstance(v, str):
            if v is None:
                return None
            continue   # a number or date as header: fastexcel's own text for it
        if nm != v and not re.fullmatch(re.escape(v) + r"_\d+", nm):
            return None
    return [offset + i for i in range(len(names))]


def _read_excel(info: FileInfo, scan_result: Scan, sheet: str, header_row: int) -> RawTable:
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(info.path))
        loaded = reader.load_sheet(sheet, header_row=header_row, dtype_coercion="coerce")
        table, errors = loaded.to_arrow_with_errors()
    except ImportRefused:
        raise
    except Exception as e:
        text = str(e).lower()
        if "password" in text or "encrypt" in text:
            raise ImportRefused("encrypted", file=info.file_name)
        raise ImportRefused("corrupt_sheet", file=info.file_name, sheet=sheet)
    # imported only now: the command line starts this read before pyarrow is imported
    import pyarrow as pa

    from .common import arange

    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    n = table.num_rows
    # Types are inferred from the first rows; a later cell of another type (text in a
    # number column, "Sum" in a date column) comes back as an error: keep its value as
    # text in a sparse column c<i>_x, so nothing is lost and the fast typed path stays.
    overrides: dict[int, dict[int, str]] = {}
    unreadable: set[int] = set()
    for e in (getattr(errors, "errors", None) or []):
        r, c = e.offset_position
        value = cell_error_text(e.detail)
        if value is None:
            unreadable.add(c)
        else:
            overrides.setdefault(c, {})[r] = value
    if unreadable:
        # (fastexcel reads an int key of dtypes as the sheet column, not the table's position)
        loaded = reader.load_sheet(sheet, header_row=header_row, schema_sample_rows=None,
                                   dtypes={table.column_names[i]: "string" for i in unreadable})
        table = loaded.to_arrow()
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        for c in unreadable:
            overrides.pop(c, None)
    if header_row + 1 + n > EXCEL_MAX_ROWS:
        raise ImportRefused("too_many_rows", file=info.file_name, sheet=sheet,
                            rows=f"{header_row + 1 + n:,}".replace(",", " "),
                            limit=f"{EXCEL_MAX_ROWS:,}".replace(",", " "))
    hdr = _header_cells(scan_result, sheet, header_row)
    abs_idx = _absolute_columns(table.column_names, hdr)
    if abs_idx is None:   # could not align the names with the scanned header: ask fastexcel (slower)
        abs_idx = [c.absolute_index for c in loaded.available_columns()]
    headers = [(a, str(hdr.get(a, "")).strip() if hdr.get(a) is not None else "") for a in abs_idx]
    names = _unique_names(headers)
    columns = [Column(i, a, h, nm) for i, ((a, h), nm) in enumerate(zip(headers, names))]
    arrays = {f"c{i}": table.column(i) for i in range(table.num_columns)}
    if overrides:
        import numpy as np
        import pyarrow.compute as pc
    for c, cells in overrides.items():
        # a sparse text column: null except in the few cells (no million-item Python list)
        rows = sorted(r for r in cells if 0 <= r < n)
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        arrays[f"c{c}_x"] = pc.replace_with_mask(pa.nulls(n, pa.string()), pa.array(mask),
                                                 pa.array([cells[r] for r in rows], pa.string()))
    arrays["_row"] = arange(header_row + 2, header_row + 2 + n, pa.int32())
    return RawTable(pa.table(arrays), columns, sheet, header_row + 1, overrides=sorted(overrides))


def _read_csv(info: FileInfo, scan_result: Scan, header_row: int) -> RawTable:
    import pyarrow as pa
    dialect = scan_result.csv
    chunks: list[pa.Table] = []
    width = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    total = 0

    def flush():
        nonlocal rows, lines
        if not rows:
            return
        w = max(len(r) for r in rows)
        cols = {}
        for j in range(w):
            cols[f"c{j}"] = pa.array([r[j] if j < len(r) else None for r in rows], pa.string())
        cols["_row"] = pa.array(lines, pa.int32())
        chunks.append(pa.table(cols))
        rows, lines = [], []

    try:
        for line, rec in _csv_records(dialect.path, dialect.encoding, dialect.delimiter):
            if line <= header_row:
                if line == header_row:
                    width = max(width, len(rec))
                continue
            rows.append(rec)
            lines.append(line + 1)
            width = max(width, len(rec))
            total += 1
            if total > CSV_MAX_ROWS:
                raise ImportRefused("too_many_rows", file=info.file_name, sheet=NO_SHEET,
                                    rows=f"> {CSV_MAX_ROWS:,}".replace(",", " "),
                                    limit=f"{CSV_MAX_ROWS:,}".replace(",", " "))
            if len(rows) >= 100_000:
                flush()
        flush()
    except (csv.Error, UnicodeError):
        raise ImportRefused("corrupt", file=info.file_name)
    # pad every chunk to the same width
    out = []
    for t in chunks:
        for j in range(width):
            if f"c{j}" not in t.column_names:
                t = t.append_column(f"c{j}", pa.nulls(t.num_rows, pa.string()))
        out.append(t.select([f"c{j}" for j in range(width)] + ["_row"]))
    if out:
        table = pa.concat_tables(out)
    else:
        table = pa.table({**{f"c{j}": pa.array([], pa.string()) for j in range(width)},
                          "_row": pa.array([], pa.int32())})
    hdr = _header_cells(scan_result, None, header_row)
    headers = [(j, str(hdr.get(j, "")).strip()) for j in range(width)]
    names = _unique_names(headers)
    columns = [Column(j, j, h, nm) for j, ((_, h), nm) in enumerate(zip(headers, names))]
    return RawTable(table, columns, None, header_row + 1)
