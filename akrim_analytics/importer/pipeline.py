"""The import pipeline: file → preview (``prepare``) → validation report → ``commit``.

``prepare`` reads the file once (nothing is written): it finds the sheet and header
row, suggests or reuses a mapping, parses and validates every row in DuckDB SQL, and
returns a ``Prepared`` holding the Arrow batch and the report. ``remap`` re-validates
with a corrected mapping without reading the file again. ``commit`` stores the valid
rows in ONE transaction (or refuses, leaving the database exactly as it was).
``import_file`` does both, for the command line and for tests.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import json
import math
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .. import audit, auth, db, fmt, hooks
from . import common, fileformat, headers, kinds, mappings, parsing, reader
from .start import Progress, SheetCandidate, Started, _progress, begin
from .errors import NO_SHEET, ImportRefused

# A cell that labels a total row: "Sum", "Totalt", "Total", "Totalsum", "I alt", "Grand total".
TOTAL_LABEL_RE = "(?i)^[ \t\u00a0]*(sum|totalt?|totalsum|grand total|i alt|sum totalt|summa)([^[:alpha:]]|$)"
_ARROW_TYPES = {
    "text": pa.string(), "code": pa.string(), "amount": pa.decimal128(18, 2), "date": pa.date32(),
    "period": pa.int32(), "orgnr": pa.string(), "bool": pa.bool_(), "int": pa.int32(), "cpv": pa.string(),
    "nace": pa.string(),
}
PARALLEL_ROWS = 100_000          # files with this many rows type their columns in two threads
REPORT_DETAIL_LIMIT = 100_000    # rejected/warned rows listed one by one in the report
STORED_DETAIL_LIMIT = 2_000      # ... and kept in uploads.report


@dataclass
class Prepared:
    info: fileformat.FileInfo
    kind: kinds.Kind
    sheets: list[SheetCandidate]
    sheet: str | None
    sheet_ambiguous: bool
    header_row: int
    raw: reader.RawTable
    mapping: dict[str, str]
    mapping_source: str                  # saved | given | suggested
    mapping_name: str | None
    signature: str
    typed: pa.Table | None = None
    report: dict = field(default_factory=dict)
    data_version: int = 0
    scan: reader.Scan | None = None
    options: dict = field(default_factory=dict)   # kind options, e.g. {"nace_version": "SN2025"}
    cache: dict = field(default_factory=dict)     # kind results reused by commit (same data version)
    # field → (code per row of ``typed``, number of codes): equal codes, equal values (a
    # column parsed over its distinct values); lets a kind group rows without hashing again
    codes: dict = field(default_factory=dict)

    def _valid_rows(self, t):
        run = _contiguous_true(self.typed.column("_valid"))
        # the valid rows are one run (the usual case: all rows, or all but a total row at
        # the end): a zero-copy slice instead of a filter that copies every column
        return t.slice(*run) if run is not None else t.filter(self.typed.column("_valid"))

    @property
    def batch(self) -> pa.Table:
        """The valid rows (typed), as Arrow."""
        if "_batch" not in self.cache:
            self.cache["_batch"] = self._valid_rows(self.typed.select(["_row"] + self.kind.field_names))
        return self.cache["_batch"]

    def batch_codes(self, fields: list[str]) -> dict:
        """{field: (code per row of ``batch``, number of codes)} for those of ``fields`` that have codes."""
        out = {}
        for f in fields:
            if f in self.codes:
                codes, n = self.codes[f]
                out[f] = (common.one_array(self._valid_rows(pa.table({"c": codes})).column("c")), n)
        return out

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.raw.columns]

    @property
    def file_name(self) -> str:
        return self.info.file_name

    @property
    def sheet_label(self) -> str:
        return self.sheet or NO_SHEET

    def blocking_problem(self, accept_valid_rows: bool = False) -> ImportRefused | None:
        """The reason commit would refuse, or None."""
        for p in self.report.get("problems", []):
            if p["code"] == "rejected_rows" and accept_valid_rows:
                continue
            return ImportRefused(p["code"], **p["params"])
        return None

    def preview_rows(self, n: int = 20):
        """The first rows as the file has them (text), with the file's row numbers."""
        t = self.raw.table.slice(0, n)
        out = {"Rad": t.column("_row").to_pylist()}
        for c in self.raw.columns:
            values = t.column(f"c{c.index}").to_pylist()
            if f"c{c.index}_x" in t.column_names:
                values = [x if x is not None else v for x, v in zip(t.column(f"c{c.index}_x").to_pylist(), values)]
            out[c.name] = ["" if v is None else _as_text(v) for v in values]
        return out


def _contiguous_true(mask) -> tuple[int, int] | None:
    """(offset, length) when the true values of ``mask`` are one unbroken run (or there
    are none), else None."""
    if mask.null_count:
        return None
    n_true = pc.sum(mask).as_py() or 0
    if n_true == 0:
        return (0, 0)
    first = pc.index(mask, True).as_py()
    return (first, n_true) if pc.all(mask.slice(first, n_true)).as_py() else None


_DATE_CELL_TEXT = re.compile(r"\d{4}-\d{2}-\d{2} 00:00:00")


def _as_text(v) -> str:
    """A cell of the preview as a Norwegian analyst sees it in Excel: text as it is, a
    date cell as ``15.01.2025`` (with the time when it has one), a number without
    thousands separators (org. numbers and accounts stay digits) and with a decimal
    comma (``1234,5``)."""
    if isinstance(v, str):   # (a date cell in a text column comes as "2025-01-15 00:00:00")
        return fmt.date(v[:10]) if _DATE_CELL_TEXT.fullmatch(v) else v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v).replace(".", ",") if math.isfinite(v) else str(v)
    if isinstance(v, dt.datetime):
        return fmt.datetime(v) if (v.hour, v.minute, v.second, v.microsecond) != (0, 0, 0, 0) else fmt.date(v)
    if isinstance(v, dt.date):
        return fmt.date(v)
    return str(v)


@dataclass
class ImportResult:
    upload_id: int
    kind: str
    file_name: str
    sheet: str | None
    rows: int
    total: float | None
    file_total: float | None
    rejected_rows: int
    overlaps: int
    accepted_valid_only: bool
    report: dict

    def summary(self) -> dict:
        return {"upload_id": self.upload_id, "kind": self.kind, "file": self.file_name, "sheet": self.sheet,
                "rows": self.rows, "total": self.total, "file_total": self.file_total,
                "rejected_rows": self.rejected_rows, "overlapping_rows": self.overlaps,
                "accepted_valid_only": self.accepted_valid_only}


# -------------------------------------------------------------------- prepare

def prepare(con: duckdb.DuckDBPyConnection, path: str | Path, *, kind: str = "spend",
            file_name: str | None = None, sheet: str | None = None,
            mapping: str | dict | None = None, progress: Progress | None = None,
            started: Started | None = None) -> Prepared:
    """Read and validate a file without writing anything.

    ``mapping``: None (a saved mapping for a file of this shape, else a suggestion),
    the name of a saved mapping, or a dict {field: column name}. ``started``: the result
    of ``begin`` for this file (else it is called here)."""
    st = started or begin(path, kind=kind, file_name=file_name, sheet=sheet, progress=progress)
    k, info, scan_result, cands = st.kind, st.info, st.scan, st.cands
    chosen, ambiguous = st.chosen, st.ambiguous
    raw = st.raw()
    _progress(progress, "read", 1.0)
    if raw.table.num_rows == 0:
        raise ImportRefused("no_rows", file=info.file_name, sheet=chosen.name or NO_SHEET, row=chosen.header_row + 1)
    column_names = [c.name for c in raw.columns]
    sig = headers.signature(k.name, [c.header for c in raw.columns])
    mapping_name = None
    if isinstance(mapping, str):
        saved = mappings.get(con, mapping)
        if saved is None:
            raise ImportRefused("mapping_not_found", name=mapping)
        if saved["kind"] != k.name:
            raise ImportRefused("mapping_wrong_kind", name=mapping, kind=saved["kind"])
        the_mapping, source, mapping_name = dict(saved["mapping"]), "saved", saved["name"]
        _check_mapping_columns(info, chosen, the_mapping, column_names, mapping_name)
    elif isinstance(mapping, dict):
        the_mapping, source = {f: c for f, c in mapping.items() if c}, "given"
        _check_mapping_columns(info, chosen, the_mapping, column_names, None)
    else:
        saved = mappings.find_by_signature(con, k.name, sig)
        if saved and all(c in column_names for c in saved["mapping"].values()):
            the_mapping, source, mapping_name = dict(saved["mapping"]), "saved", saved["name"]
        else:
            the_mapping, source = suggest_mapping(k, raw), "suggested"
    unknown = [f for f in the_mapping if f not in k.field_names]
    for f in unknown:
        the_mapping.pop(f)
    prepared = Prepared(info=info, kind=k, sheets=cands, sheet=chosen.name, sheet_ambiguous=ambiguous,
                        header_row=chosen.header_row, raw=raw, mapping=the_mapping, mapping_source=source,
                        mapping_name=mapping_name, signature=sig, scan=scan_result)
    validate(con, prepared, progress=progress)
    return prepared


def _check_mapping_columns(info, chosen, mapping: dict, column_names: list[str], name: str | None) -> None:
    missing = [c for c in mapping.values() if c not in column_names]
    if missing:
        raise ImportRefused("mapping_column_missing", file=info.file_name, sheet=chosen.name or NO_SHEET,
                            name=name or "-", columns=", ".join(f"«{c}»" for c in missing),
                            found=", ".join(f"«{c}»" for c in column_names))


def suggest_mapping(k: kinds.Kind, raw: reader.RawTable) -> dict[str, str]:
    matcher = headers.Matcher(k.synonym_table())
    names = [c.name for c in raw.columns]
    header_of = {c.name: c.header for c in raw.columns}
    # match on the header text (the unique display name only differs for duplicates/blanks)
    mapping = headers.suggest(matcher, names, k.priority, texts=[c.header for c in raw.columns])
    if k.refine_mapping is not None:
        samples = {}
        for c in raw.columns:
            col = raw.table.column(f"c{c.index}").slice(0, 500)
            samples[c.name] = [v for v in col.to_pylist() if v is not None][:200]
        mapping = k.refine_mapping(mapping, names, samples, header_of)
    return mapping


def remap(con: duckdb.DuckDBPyConnection, prepared: Prepared, mapping: dict[str, str],
          progress: Progress | None = None) -> Prepared:
    """Validate again with a corrected mapping (no new read of the file)."""
    mapping = {f: c for f, c in mapping.items() if c and f in prepared.kind.field_names}
    _check_mapping_columns(prepared.info, SheetCandidate(prepared.sheet, prepared.header_row, 0, []),
                           mapping, prepared.column_names, None)
    if mapping != prepared.mapping:
        prepared.mapping = mapping
        prepared.mapping_source = "given"
        prepared.mapping_name = None
    validate(con, prepared, progress=progress)
    return prepared


# ------------------------------------------------------------------- validate

def _trimmed(arr: pa.Array) -> pa.Array:
    """Text without surrounding whitespace (also no-break spaces); empty text → null."""
    t = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(t, ""), pa.scalar(None, pa.string()), t)


def _column_pair(con, arr: pa.Array, ftype: str, convention: str,
                 codes: dict | None = None) -> tuple[pa.Array, pa.Array]:
    """(parsed, raw) for one column. ``raw`` is the cell as the file has it: text
    (trimmed, empty → null) or the typed value of a number/date cell.

    Fast paths in Arrow for typed cells; anything else is parsed in DuckDB over the
    column's distinct values and spread back (an ERP export repeats suppliers, dates and
    accounts, so a million cells are a few thousand parses); then ``codes`` (when given)
    receives "codes" and "n": each row's index into those distinct values."""
    n = len(arr)
    if pa.types.is_null(arr.type):
        return pa.nulls(n, _ARROW_TYPES[ftype]), pa.nulls(n, pa.string())
    if parsing.is_string(arr.type):
        arr = _trimmed(arr.cast(pa.string()))
        if ftype == "text":
            return arr, arr
        raw = arr
    else:
        raw = arr
        if ftype == "amount" and (pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type)):
            x = arr.cast(pa.float64())
            ok = pc.and_(pc.is_finite(x), pc.less(pc.abs(x), 1e15)).fill_null(False)
            dec = pc.cast(pc.round(pc.if_else(ok, x, 0.0), 2), pa.decimal128(18, 2), safe=False)
            return pc.if_else(ok, dec, pa.scalar(None, pa.decimal128(18, 2))), raw
        if ftype == "date" and pa.types.is_timestamp(arr.type):
            d = pc.cast(arr, pa.date32())
            y = pc.year(d)
            ok = pc.and_(pc.greater_equal(y, 1600), pc.less_equal(y, 2199)).fill_null(False)
            return pc.if_else(ok, d, pa.scalar(None, pa.date32())), raw
    # one hash pass gives both the distinct values and each row's index into them
    # (null is a value of its own, so every row has an index)
    enc = pc.dictionary_encode(arr, null_encoding="encode")
    values = enc.dictionary
    # (DuckDB may return the rows of a parallel scan in another order: sort on _i)
    with common.registered(con, pa.table({"v": values, "_i": common.arange(0, len(values))})) as name:
        res = common._arrow(con, f"SELECT {parsing.parse_expr(ftype, 'v', values.type, convention)} AS p "
                                 f"FROM {name} ORDER BY _i")
    if codes is not None:
        codes["codes"], codes["n"] = enc.indices, len(values)
    return pc.take(common.one_array(res.column("p")), enc.indices), raw


def _with_texts(raw: pa.Array, mask: pa.Array, idx: pa.Array, texts: pa.Array) -> pa.Array:
    """``raw`` as text, with ``texts`` (when not null) in the rows ``idx`` (= where ``mask``).

    A typed column becomes a dictionary-encoded text column (DuckDB reads it as VARCHAR):
    each distinct value is cast to text once (dates repeat in an export) and the few
    texts join the dictionary, instead of casting and copying a million cells."""
    texts = texts.cast(pa.string())
    if parsing.is_string(raw.type):
        return pc.replace_with_mask(raw, mask, pc.coalesce(texts, pc.take(raw, idx)))
    enc = pc.dictionary_encode(raw)
    values = enc.dictionary.cast(pa.string())
    put = pc.coalesce(texts, pc.take(values, pc.take(enc.indices, idx)))
    n = len(values)
    codes = pc.if_else(pc.is_valid(put), common.arange(n, n + len(put), enc.indices.type),
                       pa.scalar(None, enc.indices.type))
    return pa.DictionaryArray.from_arrays(pc.replace_with_mask(enc.indices, mask, codes),
                                          pa.concat_arrays([values, put]))


def _label_rows(con, arrays: list[pa.Array]) -> pa.Array:
    """True where any of the (few) text cells labels a total row ("Sum", "Totalt", …)."""
    n = len(arrays[0]) if arrays else 0
    out = pa.nulls(n, pa.bool_()).fill_null(False)
    for arr in arrays:
        if not parsing.is_string(arr.type) or n == 0:
            continue
        with common.registered(con, pa.table({"v": arr, "_i": common.arange(0, len(arr))})) as name:
            res = common._arrow(con, f"SELECT coalesce(regexp_matches(v, '{TOTAL_LABEL_RE}'), false) AS l "
                                     f"FROM {name} ORDER BY _i")
        out = pc.or_(out, common.one_array(res.column("l")))
    return out


def _any(arrays: list[pa.Array], n: int) -> pa.Array:
    out = pa.nulls(n, pa.bool_()).fill_null(False)
    for a in arrays:
        out = pc.or_(out, a)
    return out


def _all(arrays: list[pa.Array], n: int) -> pa.Array:
    out = pa.nulls(n, pa.bool_()).fill_null(True)
    for a in arrays:
        out = pc.and_(out, a)
    return out


def _build_typed(con, prepared: Prepared, progress: Progress | None, codes: dict | None = None) -> pa.Table:
    """_row, every field typed (NULL when not mapped), ``<field>__raw`` (the cell as in
    the file), and the flags _blank (nothing in the mapped columns) and _total.
    ``codes`` receives the fields' codes (see ``Prepared.codes``)."""
    codes = {} if codes is None else codes
    k = prepared.kind
    t = prepared.raw.table
    n = t.num_rows
    by_name = {c.name: c for c in prepared.raw.columns}
    cols: dict[str, pa.Array] = {"_row": common.one_array(t.column("_row"))}
    raws: dict[str, pa.Array] = {}
    mapped = [f for f in k.fields if prepared.mapping.get(f.name) in by_name]

    def one_field(cur, f) -> tuple[pa.Array, pa.Array, tuple | None]:
        col = by_name[prepared.mapping[f.name]]
        arr = common.one_array(t.column(f"c{col.index}"))
        convention = ","
        if f.type == "amount" and parsing.is_string(arr.type):
            with common.registered(cur, pa.table({"v": pc.unique(arr)})) as name:
                convention = cur.execute(parsing.amount_convention("v", arr.type).replace("FROM _raw", f"FROM {name}")
                                         ).fetchall()[0][0]
        got: dict = {}
        p, r = _column_pair(cur, arr, f.type, convention, got)
        field_codes = (got["codes"], got["n"]) if "codes" in got and col.index not in prepared.raw.overrides else None
        if col.index in prepared.raw.overrides:
            # cells of another type than the column's (text in a number column): their text
            # wins. Only those (few) cells are parsed and put in place.
            xarr = common.one_array(t.column(f"c{col.index}_x"))
            mask = pc.is_valid(xarr)
            idx = pc.indices_nonzero(mask)
            px, rx = _column_pair(cur, pc.take(xarr, idx), f.type, convention)
            p = p.cast(_ARROW_TYPES[f.type])
            p = pc.replace_with_mask(p, mask, pc.coalesce(px.cast(_ARROW_TYPES[f.type]), pc.take(p, idx)))
            r = _with_texts(r, mask, idx, rx)
        return p.cast(_ARROW_TYPES[f.type]), r, field_codes

    # Large files: a second thread (with its own DuckDB cursor) types every other column;
    # Arrow's kernels and DuckDB release the GIL, so the two run on two cores.
    done: dict[str, tuple] = {}
    other = mapped[1::2] if n >= PARALLEL_ROWS and len(mapped) > 1 else []
    failed: list[BaseException] = []

    def second() -> None:
        cur = con.cursor()
        try:
            for f in other:
                done[f.name] = one_field(cur, f)
        except BaseException as e:  # re-raised by the main thread
            failed.append(e)
        finally:
            cur.close()

    worker = None
    if other:
        worker = threading.Thread(target=contextvars.copy_context().run, args=(second,), name="import-typing",
                                  daemon=True)
        worker.start()
    try:
        for i, f in enumerate(mapped):
            if f not in other:
                done[f.name] = one_field(con, f)
                _progress(progress, "validate", 0.05 + 0.45 * (i + 1) / len(mapped))
    finally:
        if worker is not None:
            worker.join()
    if failed:
        raise failed[0]
    for f in k.fields:
        if f.name in done:
            cols[f.name], raws[f.name], field_codes = done[f.name]
            if field_codes is not None:
                codes[f.name] = field_codes
        else:
            cols[f.name] = pa.nulls(n, _ARROW_TYPES[f.type])
            raws[f.name] = pa.nulls(n, pa.string())
    blank = _all([pc.is_null(raws[f.name]) for f in mapped], n)
    total = pa.nulls(n, pa.bool_()).fill_null(False)
    if k.amount_field and k.amount_field in prepared.mapping:
        # A total row has an amount and no identity (a parsed date/org. number, or a code
        # that is not itself a label), and is labelled ("Sum", in any column) or has
        # nothing but the amount. Labels are looked for only on the few candidate rows.
        strong = [pc.is_valid(cols[f]) for f in k.identity_fields
                  if f in prepared.mapping and k.field(f).type not in ("text", "code")]
        weak = [f for f in k.identity_fields if f in prepared.mapping and k.field(f).type in ("text", "code")]
        cand = _all([pc.invert(blank), pc.is_valid(cols[k.amount_field]), pc.invert(_any(strong, n))], n)
        idx = pc.indices_nonzero(cand)
        if len(idx):
            sub_raws = {f: pc.take(raws[f], idx) for f in weak}
            labels_weak = {f: _label_rows(con, [sub_raws[f]]) for f in weak}
            ident = _any([pc.and_(pc.is_valid(sub_raws[f]), pc.invert(labels_weak[f])) for f in weak], len(idx))
            label_any = _label_rows(con, [pc.take(common.one_array(t.column(c)), idx) for c in t.column_names
                                          if c != "_row" and parsing.is_string(t.schema.field(c).type)])
            others_null = _all([pc.is_null(pc.take(raws[f.name], idx)) for f in mapped
                                if f.name != k.amount_field], len(idx))
            is_total = pc.and_(pc.invert(ident), pc.or_(label_any, others_null))
            hits = pc.filter(idx, is_total).to_numpy()
            if len(hits):
                import numpy as np

                mask = np.zeros(n, dtype=bool)
                mask[hits] = True
                total = pa.array(mask)
    arrays = dict(cols)
    for f in k.fields:
        arrays[f"{f.name}__raw"] = raws[f.name]
    arrays["_blank"] = blank
    arrays["_total"] = total
    return pa.table(arrays)


_NO_PROBLEMS_SQL = ("SELECT CAST(NULL AS INTEGER) AS _row, CAST(NULL AS VARCHAR) AS field, "
                    "CAST(NULL AS VARCHAR) AS value, CAST(NULL AS VARCHAR) AS reason, false AS warn WHERE false")


def _checks_sql(con, prepared: Prepared, typed_name: str, unreadable: set[str] | None = None) -> str:
    """SQL giving one row per problem: (_row, field, value, reason, warn). ``unreadable``:
    the fields with a value that did not parse somewhere (None: check every mapped field).

    A first scan (run here) reads only the columns the rules use and finds the rows that break any
    rule (usually none, or a few); each rule then looks only at those rows (instead of
    every rule scanning every row)."""
    k = prepared.kind
    unreadable = set(k.field_names) if unreadable is None else unreadable
    rules = []   # (condition on the row t, field, value expression, reason, warn)
    for f in k.fields:
        mapped = f.name in prepared.mapping
        if f.required:
            rules.append((f"\"{f.name}__raw\" IS NULL", f"'{f.name}'", "CAST(NULL AS VARCHAR)", "missing", "false"))
        if mapped and f.type not in ("text", "code") and f.name in unreadable:
            rules.append((f"\"{f.name}__raw\" IS NOT NULL AND \"{f.name}\" IS NULL", f"'{f.name}'",
                          f"CAST(\"{f.name}__raw\" AS VARCHAR)", f"unreadable_{f.type}",
                          str(f.on_invalid == "warn").lower()))
    for ch in k.checks:
        fld = ch.field
        value = f'CAST("{fld}__raw" AS VARCHAR)' if fld else "CAST(NULL AS VARCHAR)"
        cond = ch.condition.replace("{typed}", typed_name)
        rules.append((f"coalesce(({cond}), false)", db.sql_literal(fld) if fld else "NULL", value, ch.reason,
                      str(ch.warn).lower()))
    if not rules:
        return _NO_PROBLEMS_SQL
    hits = " OR ".join(f"({cond})" for cond, *_ in rules)
    rows = con.execute(f"SELECT _row FROM {typed_name} t WHERE NOT _blank AND NOT _total AND ({hits}) "
                       f"LIMIT 10001").fetchall()
    if not rows:
        return _NO_PROBLEMS_SQL
    hit_rows = "(" + ", ".join(str(int(r[0])) for r in rows) + ")" if len(rows) <= 10_000 else None
    where = f"_row IN {hit_rows}" if hit_rows else "true"
    selects = [f"SELECT _row, {fld}, {value}, '{reason}', {warn} FROM _hits t WHERE {cond}"
               for cond, fld, value, reason, warn in rules]
    return (f"WITH _hits AS MATERIALIZED (SELECT * FROM {typed_name} t WHERE NOT _blank AND NOT _total AND {where} "
            f"AND ({hits})) SELECT * FROM ({' UNION ALL '.join(selects)}) AS p(_row, field, value, reason, warn)")


def validate(con: duckdb.DuckDBPyConnection, prepared: Prepared, progress: Progress | None = None) -> None:
    """Parse and check every row; fill ``prepared.typed`` and ``prepared.report``."""
    k = prepared.kind
    _progress(progress, "validate", 0.05)
    names = []
    try:
        codes: dict = {}
        typed = _build_typed(con, prepared, progress, codes)
        typed_name = common._register(con, typed)
        names.append(typed_name)
        unreadable = {f.name for f in k.fields if f.name in prepared.mapping and f.type not in ("text", "code")
                      and pc.sum(pc.and_(pc.is_valid(typed.column(f"{f.name}__raw")),
                                         pc.is_null(typed.column(f.name)))).as_py()}
        problems = common._arrow(con, _checks_sql(con, prepared, typed_name, unreadable))
        problems_name = common._register(con, problems)
        names.append(problems_name)
        bad = pc.unique(pc.filter(problems.column("_row"), pc.invert(problems.column("warn").fill_null(False))))
        valid = pc.and_(pc.invert(pc.or_(typed.column("_blank"), typed.column("_total"))),
                        pc.invert(pc.is_in(typed.column("_row"), value_set=bad.combine_chunks()
                                           if isinstance(bad, pa.ChunkedArray) else bad)))
        typed = typed.append_column("_valid", valid)
        prepared.typed = typed
        prepared.codes = codes
        common._unregister(con, typed_name)
        con.register(typed_name, typed)
        _progress(progress, "validate", 0.7)
        report = _report(con, prepared, typed_name, problems_name)
        prepared.report = report
        prepared.data_version = db.data_version(con)
        prepared.cache.clear()
        if k.analyse is not None:
            valid_name = common._register(con, prepared.batch)
            names.append(valid_name)
            report["details"] = k.analyse(con, valid_name, prepared) or {}
        else:
            report["details"] = {}
        _finish_report(con, prepared)
        _progress(progress, "validate", 1.0)
    finally:
        for n in names:
            try:
                common._unregister(con, n)
            except Exception:
                pass


def _float(v):
    if v is None:
        return None
    return float(v) if isinstance(v, Decimal) else v


def _report(con, prepared: Prepared, typed_name: str, problems_name: str) -> dict:
    k = prepared.kind
    by_field = {f: prepared.mapping.get(f) for f in k.field_names}
    letter = {c.name: c.letter for c in prepared.raw.columns}
    amount = f'"{k.amount_field}"' if k.amount_field else "NULL"
    row = con.execute(
        f"""SELECT count(*) FILTER (WHERE NOT _blank),
                   count(*) FILTER (WHERE _blank),
                   count(*) FILTER (WHERE _total),
                   count(*) FILTER (WHERE _valid),
                   count(*) FILTER (WHERE NOT _blank AND NOT _total AND NOT _valid),
                   sum({amount}) FILTER (WHERE _valid),
                   sum({amount}) FILTER (WHERE NOT _blank AND NOT _total),
                   arg_max({amount}, _row) FILTER (WHERE _total),
                   max(_row) FILTER (WHERE _total),
                   min(_row), max(_row)
            FROM {typed_name}""").fetchone()
    totals = con.execute(
        f"SELECT _row, {amount} FROM {typed_name} WHERE _total ORDER BY _row").fetchall() if k.amount_field else []
    counts = con.execute(
        f"""SELECT reason, field, warn, count(DISTINCT _row) FROM {problems_name}
            GROUP BY ALL ORDER BY 4 DESC""").fetchall()
    details = con.execute(
        f"""SELECT _row, field, value, reason, warn FROM {problems_name}
            ORDER BY warn, _row, field LIMIT {REPORT_DETAIL_LIMIT}""").fetchall()
    n_warn_rows = con.execute(f"SELECT count(DISTINCT _row) FROM {problems_name} WHERE warn").fetchone()[0]

    def item(r):
        col = by_field.get(r[1]) if r[1] else None
        return {"row": r[0], "field": r[1], "column": col, "letter": letter.get(col) if col else None,
                "value": r[2], "reason": r[3]}

    return {
        "file": prepared.info.file_name, "sha256": prepared.info.sha256, "format": prepared.info.format,
        "kind": k.name, "sheet": prepared.sheet, "header_row": prepared.header_row + 1,
        "mapping": dict(prepared.mapping), "mapping_name": prepared.mapping_name,
        "mapping_source": prepared.mapping_source,
        "rows_read": row[0], "rows_blank": row[1], "rows_total": row[2], "rows_valid": row[3],
        "rows_rejected": row[4], "rows_warned": n_warn_rows,
        "sum_valid": _float(row[5]), "sum_all": _float(row[6]),
        "file_total": _float(row[7]), "file_total_row": row[8],
        "total_rows": [{"row": r[0], "amount": _float(r[1])} for r in totals],
        "first_row": row[9], "last_row": row[10],
        "problem_counts": [{"reason": r[0], "field": r[1], "column": by_field.get(r[1]) if r[1] else None,
                            "warn": r[2], "rows": r[3]} for r in counts],
        "rejects": [item(r) for r in details if not r[4]],
        "warnings": [item(r) for r in details if r[4]],
    }


def _finish_report(con, prepared: Prepared) -> None:
    """Blocking problems (in order) and the reconciliation line."""
    from ..i18n import t

    k, rep = prepared.kind, prepared.report
    file, sheet = prepared.info.file_name, prepared.sheet_label
    problems = []
    missing = []
    for group in k.required_any:
        if not any(f in prepared.mapping for f in group):
            missing.append(" / ".join(t(f"import.field.{f}") for f in group))
    if missing:
        problems.append({"code": "missing_field", "params": {
            "file": file, "sheet": sheet, "row": prepared.header_row + 1, "fields": ", ".join(missing),
            "found": ", ".join(f"«{c}»" for c in prepared.column_names if not c.startswith("Kolonne "))}})
    if prepared.sheet_ambiguous:
        problems.append({"code": "ambiguous_sheet", "params": {
            "file": file, "sheets": ", ".join(f"«{c.name}»" for c in prepared.sheets if c.is_data)}})
    dup = con.execute(
        """SELECT upload_id, uploaded_by, uploaded_at FROM uploads
           WHERE sha256 = ? AND kind = ? AND status = 'committed' ORDER BY upload_id LIMIT 1""",
        [prepared.info.sha256, k.name]).fetchone()
    if dup:
        from .. import fmt

        problems.append({"code": "duplicate_file", "params": {
            "file": file, "upload_id": dup[0], "user": dup[1], "when": fmt.datetime(dup[2])}})
    if not missing and rep["rows_rejected"]:
        first = rep["rejects"][0] if rep["rejects"] else None
        problems.append({"code": "rejected_rows", "params": {
            "file": file, "sheet": sheet, "n": rep["rows_rejected"], "first": describe(first) if first else ""}})
    if not missing and rep["rows_valid"] - rep.get("details", {}).get("overlap_rows", 0) <= 0 and not rep["rows_rejected"]:
        problems.append({"code": "no_valid_rows", "params": {"file": file, "sheet": sheet}})
    rep["problems"] = problems
    rep["reconciliation"] = reconciliation(rep)


def describe(item: dict, lang: str | None = None) -> str:
    """'row 12, column E «Beløp»: could not read «12,3,4» as an amount'."""
    from ..i18n import t

    where = t("import.where.row", lang, row=item["row"])
    if item.get("column"):
        where += ", " + t("import.where.column", lang, letter=item.get("letter") or "?", column=item["column"])
    reason = t(f"import.reason.{item['reason']}", lang, value=item.get("value") or "")
    return f"{where}: {reason}"


def reconciliation(rep: dict, lang: str | None = None) -> str | None:
    """'The file's total row says X; the imported rows sum to Y.'"""
    from .. import fmt
    from ..i18n import t

    if rep.get("file_total") is None:
        return None
    imported = (rep.get("sum_valid") or 0) - (rep.get("details", {}).get("overlap_sum") or 0)
    text = t("import.reconcile", lang, row=rep["file_total_row"], file_total=fmt.nok(rep["file_total"], 2),
             imported=fmt.nok(imported, 2))
    diff = round(rep["file_total"] - imported, 2)
    if abs(diff) < 0.005:
        text += " " + t("import.reconcile_ok", lang)
    else:
        text += " " + t("import.reconcile_diff", lang, diff=fmt.nok(diff, 2))
        if len(rep.get("total_rows", [])) > 1:
            text += " " + t("import.reconcile_subtotals", lang, n=len(rep["total_rows"]) - 1)
    return text


# --------------------------------------------------------------------- commit

def commit(con: duckdb.DuckDBPyConnection, user: auth.User, prepared: Prepared, *,
           accept_valid_rows: bool = False, save_mapping_as: str | None = None,
           sheet_confirmed: bool = False, progress: Progress | None = None) -> ImportResult:
    """Store the valid rows in one transaction, or refuse and write nothing.

    By default a file with rejected rows is refused whole; ``accept_valid_rows`` imports
    the valid rows and keeps that choice and the report with the upload."""
    auth.require(user, "analytiker", "import data")
    k = prepared.kind
    problem = prepared.blocking_problem(accept_valid_rows)
    if problem is not None and not (problem.code == "ambiguous_sheet" and sheet_confirmed):
        raise problem
    if problem is not None:  # ambiguous sheet confirmed: look for a later problem
        rest = [p for p in prepared.report["problems"] if p["code"] != "ambiguous_sheet"
                and not (p["code"] == "rejected_rows" and accept_valid_rows)]
        if rest:
            raise ImportRefused(rest[0]["code"], **rest[0]["params"])
    _progress(progress, "commit", 0.0)
    batch = common._register(con, prepared.batch)
    try:
        with db.transaction(con):
            dup = con.execute(
                "SELECT upload_id FROM uploads WHERE sha256 = ? AND kind = ? AND status = 'committed' LIMIT 1",
                [prepared.info.sha256, k.name]).fetchone()
            if dup:
                raise ImportRefused("duplicate_file_now", file=prepared.info.file_name, upload_id=dup[0])
            if db.data_version(con) != prepared.data_version and k.analyse is not None:
                # someone changed the data since the preview: look again, inside the transaction
                prepared.report["details"] = k.analyse(con, batch, prepared) or {}
            report = _stored_report(prepared, accept_valid_rows)
            upload_id = con.execute(
                """INSERT INTO uploads (file_name, sha256, kind, sheet, mapping_name, uploaded_by, rows, total,
                                        file_total, status, accepted_valid_only, rejected_rows, report)
                   VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?, 'committed', ?, ?, ?) RETURNING upload_id""",
                [prepared.info.file_name, prepared.info.sha256, k.name, prepared.sheet,
                 save_mapping_as or prepared.mapping_name, user.username,
                 prepared.report.get("file_total"), bool(accept_valid_rows and prepared.report["rows_rejected"]),
                 prepared.report["rows_rejected"], json.dumps(report, ensure_ascii=False, default=str)],
            ).fetchone()[0]
            _progress(progress, "commit", 0.1)
            stats = k.commit(con, user, upload_id, batch, prepared,
                             progress=lambda f: _progress(progress, "commit", 0.1 + 0.8 * f))
            if stats.rows == 0:
                raise ImportRefused("no_valid_rows", file=prepared.info.file_name, sheet=prepared.sheet_label)
            con.execute("UPDATE uploads SET rows = ?, total = ? WHERE upload_id = ?",
                        [stats.rows, stats.total, upload_id])
            if save_mapping_as:
                mappings.save(con, user, save_mapping_as, k.name, prepared.signature,
                              [c.header for c in prepared.raw.columns], prepared.mapping, in_transaction=True)
            elif prepared.mapping_name:
                mappings.touch(con, prepared.mapping_name)
            audit.log(con, user, "upload", "upload", upload_id, {
                "kind": k.name, "file": prepared.info.file_name, "sha256": prepared.info.sha256,
                "sheet": prepared.sheet, "rows": stats.rows, "total": stats.total,
                "rejected_rows": prepared.report["rows_rejected"], "accepted_valid_only": bool(accept_valid_rows),
                **stats.details})
            db.bump_data_version(con)
            hooks.data_changed(con, user, "import")
            _progress(progress, "commit", 1.0)
    except (duckdb.TransactionException, duckdb.ConstraintException) as e:
        # another import or edit wrote the same rows at the same time: nothing was stored
        raise ImportRefused("concurrent_change", file=prepared.info.file_name) from e
    finally:
        try:
            common._unregister(con, batch)
        except Exception:
            pass
    rep = prepared.report
    return ImportResult(upload_id=upload_id, kind=k.name, file_name=prepared.info.file_name, sheet=prepared.sheet,
                        rows=stats.rows, total=stats.total, file_total=rep.get("file_total"),
                        rejected_rows=rep["rows_rejected"], overlaps=rep.get("details", {}).get("overlap_rows", 0),
                        accepted_valid_only=bool(accept_valid_rows and rep["rows_rejected"]), report=rep)


def _stored_report(prepared: Prepared, accept_valid_rows: bool) -> dict:
    rep = dict(prepared.report)
    rep["accepted_valid_only"] = bool(accept_valid_rows)
    rep["rejects_total_listed"] = len(rep.get("rejects", []))
    rep["rejects"] = rep.get("rejects", [])[:STORED_DETAIL_LIMIT]
    rep["warnings"] = rep.get("warnings", [])[:STORED_DETAIL_LIMIT]
    kind = dict(rep.get("details", {}))
    for key in list(kind):
        if isinstance(kind[key], list):
            kind[key] = kind[key][:STORED_DETAIL_LIMIT]
    rep["details"] = kind
    rep.pop("problems", None)
    return rep


def import_file(con: duckdb.DuckDBPyConnection, user: auth.User, path: str | Path, *, kind: str = "spend",
                sheet: str | None = None, mapping: str | dict | None = None, accept_valid_rows: bool = False,
                progress: Progress | None = None, file_name: str | None = None,
                save_mapping_as: str | None = None) -> ImportResult:
    """Read, validate and store a file in one go (the command line, scheduled imports, tests).

    Raises ImportRefused (nothing written) or PermissionDenied."""
    auth.require(user, "analytiker", "import data")
    prepared = prepare(con, path, kind=kind, file_name=file_name, sheet=sheet, mapping=mapping, progress=progress)
    return commit(con, user, prepared, accept_valid_rows=accept_valid_rows, save_mapping_as=save_mapping_as,
                  sheet_confirmed=sheet is not None, progress=progress)

