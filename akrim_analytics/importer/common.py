"""SQL building blocks shared by the kinds: supplier keys, category names, rows an
import replaces (kept for an exact undo) and relinking spend to contracts."""
from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

from .. import linking

# pyarrow is imported inside the functions that use it: the command line starts reading
# a sheet before pyarrow is imported (see ``start.begin``).


def arange(start: int, stop: int, type_=None):
    """start, start + 1, ... stop - 1 as an Arrow array (int64 unless ``type_``) (numpy:
    ~100x faster than ``pa.array(range(...))``, which converts a million Python ints one by one)."""
    import pyarrow as pa

    type_ = pa.int64() if type_ is None else type_
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with pyarrow/pandas here
        return pa.array(range(start, stop), type_)
    return pa.array(np.arange(start, stop, dtype=np.int64)).cast(type_)


def one_array(col):
    """A column as one Arrow array: its only chunk as it is (``combine_chunks`` copies even
    a single chunk: a million strings), else the chunks joined."""
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


NAME_NORM = "upper(regexp_replace(trim({x}), '[ \\t\u00a0]+', ' ', 'g'))"


def supplier_resolution_sql(keys: str) -> str:
    """For each row of ``keys`` (columns _k, orgnr, supplier_no, supplier_name): _k,
    supplier_id and org_eff (the org. number after sub-unit roll-up).

    Key order: a valid org. number (a sub-unit rolls up to its legal unit when the
    register says so; an existing supplier with that org. number keeps its key), an
    existing supplier with the same ERP supplier number, ``L:<no>``, an existing
    supplier with the same (normalised) name, ``N:<normalised name>``."""
    nn_k = NAME_NORM.format(x="k.supplier_name")
    nn_s = NAME_NORM.format(x="name")
    return f"""
    WITH k AS (SELECT k.*, {nn_k} AS _nname FROM {keys} k),
    ru AS (SELECT r.orgnr, arg_max(r.parent_orgnr, r.extract_date) AS parent
           FROM register_units r JOIN uploads u ON u.upload_id = r.upload_id AND u.status = 'committed'
           WHERE r.parent_orgnr IS NOT NULL AND r.orgnr IN (SELECT orgnr FROM k) GROUP BY r.orgnr),
    k2 AS (SELECT k.*, coalesce(ru.parent, k.orgnr) AS org_eff FROM k LEFT JOIN ru ON ru.orgnr = k.orgnr),
    so AS (SELECT orgnr, min(supplier_id) AS sid FROM suppliers WHERE orgnr IS NOT NULL GROUP BY orgnr),
    se AS (SELECT erp_supplier_no, min(supplier_id) AS sid FROM suppliers WHERE erp_supplier_no IS NOT NULL
           GROUP BY erp_supplier_no HAVING count(*) = 1),
    sn AS (SELECT {nn_s} AS nname, min(supplier_id) AS sid FROM suppliers GROUP BY 1 HAVING count(*) = 1)
    SELECT k2._k, k2.org_eff,
           coalesce(so.sid, k2.org_eff, se.sid, 'L:' || k2.supplier_no, sn.sid, 'N:' || k2._nname) AS supplier_id
    FROM k2 LEFT JOIN so ON so.orgnr = k2.org_eff
            LEFT JOIN se ON se.erp_supplier_no = k2.supplier_no
            LEFT JOIN sn ON sn.nname = k2._nname AND k2.supplier_no IS NULL AND k2.org_eff IS NULL"""


def category_code_sql(keys: str) -> str:
    """For each row of ``keys`` (columns _k, category): _k and the category code the text
    names (code, Norwegian or English name, any case), NULL when none."""
    return f"""
    SELECT k._k, any_value(c.code) AS category_code
    FROM {keys} k LEFT JOIN categories c
      ON lower(trim(k.category)) IN (lower(c.code), lower(c.name_nb), lower(c.name_en))
    GROUP BY k._k"""




def _insert_new_suppliers(con, stage: str, upload_id: int) -> None:
    """Create the suppliers a staged batch refers to that do not exist yet (named by
    their first row), then fill in register data where an extract knows them.

    ``stage`` has the columns _row, supplier_id, supplier_name and supplier_no: the rows
    of the batch, or only the first row of each distinct (supplier key, name, number)
    (the same result, from a few thousand rows instead of a million)."""
    con.execute(
        f"""INSERT INTO suppliers (supplier_id, orgnr, name, erp_supplier_no, created_upload_id)
            SELECT supplier_id,
                   CASE WHEN regexp_full_match(supplier_id, '[0-9]{{9}}') THEN supplier_id END,
                   coalesce(arg_min(supplier_name, _row) FILTER (WHERE supplier_name IS NOT NULL),
                            arg_min(supplier_no, _row) FILTER (WHERE supplier_no IS NOT NULL), supplier_id),
                   arg_min(supplier_no, _row) FILTER (WHERE supplier_no IS NOT NULL), ?
            FROM {stage} WHERE supplier_id IS NOT NULL AND supplier_id NOT IN (SELECT supplier_id FROM suppliers)
            GROUP BY supplier_id""", [upload_id])
    from .suppliers import _enrich_from_register

    _enrich_from_register(con, created_upload_id=upload_id)


def _delete_unused_suppliers(con, upload_id: int) -> int:
    rows = con.execute(
        """DELETE FROM suppliers WHERE created_upload_id = ?
             AND supplier_id NOT IN (SELECT DISTINCT supplier_id FROM spend WHERE supplier_id IS NOT NULL)
             AND supplier_id NOT IN (SELECT DISTINCT supplier_id FROM contracts WHERE supplier_id IS NOT NULL)
           RETURNING supplier_id""", [upload_id]).fetchall()
    return len(rows)


def _register(con, table) -> str:
    name = f"_imp_{uuid.uuid4().hex[:12]}"
    con.complete()
    con.register(name, table)
    return name


def _unregister(con, name: str) -> None:
    con.complete()
    con.unregister(name)


@contextmanager
def registered(con, table):
    """``_register`` for the duration of a ``with`` block: yields the view's name and
    unregisters it however the block ends."""
    name = _register(con, table)
    try:
        yield name
    finally:
        _unregister(con, name)


def _distinct_map(con, table, key_cols: list[str], sql_for, keep: dict | None = None, codes: dict | None = None,
                  columns: list[str] | None = None):
    """Run ``sql_for(keys)`` once per distinct combination of ``key_cols`` and spread the
    result back to every row of ``table`` (Arrow hashing; DuckDB sees only the few
    distinct keys). ``keys`` is a relation with the key columns and ``_k``; the SQL must
    return exactly one row per ``_k``. Returns the result columns (without ``_k``), one
    row per row of ``table``, in its order. ``keep``: a dict that receives ``first`` (the
    row of ``table`` where each distinct key first appears) and ``result`` (one row per
    distinct key, in that order) and ``codes`` (each row's key number: see ``codes``).
    ``codes``: {column: (code per row, number of codes)} for key columns whose equal
    values have equal codes already (no need to hash those columns again). ``columns``:
    only these result columns are spread back to every row."""
    idx, n_keys = _key_codes(table, key_cols, codes)
    first = _first_rows(idx)
    keys = table.select(key_cols).take(first).append_column("_k", arange(0, n_keys))
    with registered(con, keys) as name:
        res = _arrow(con, f"SELECT * FROM ({sql_for(name)}) ORDER BY _k")
    if res.num_rows != n_keys:
        raise RuntimeError("distinct mapping must return one row per key")
    res = res.drop_columns(["_k"])
    if keep is not None:
        keep["first"], keep["result"], keep["codes"] = first, res, (idx, n_keys)
    return (res.select(columns) if columns is not None else res).take(idx)


def _key_codes(table, key_cols: list[str], codes: dict | None = None):
    """(code per row, number of codes) for the combinations of ``key_cols``: equal
    combinations, equal codes, numbered in order of first appearance (no nulls).
    ``codes``: see ``_distinct_map``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(key_cols) == 1:
        key = one_array(table.column(key_cols[0]))
    else:
        # one int64 per row from the columns' dictionary codes (null = its own code)
        key, span = None, 1
        for c in key_cols:
            if codes and c in codes:
                col_codes, card = codes[c]
                col_codes = col_codes.cast(pa.int64())
            else:
                d = pc.dictionary_encode(one_array(table.column(c)))
                card = len(d.dictionary) + 1
                col_codes = d.indices.cast(pa.int64()).fill_null(card - 1)
            key = col_codes if key is None else pc.add(pc.multiply(key, card), col_codes)
            span *= card
        if span >= 2 ** 62:  # too many combinations for an int64: join the texts instead
            parts = [pc.cast(table.column(c), pa.string()).combine_chunks() for c in key_cols]
            key = pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace", null_replacement="\x00")
    # one hash pass: the distinct keys (in order of first appearance) and each row's index
    enc = pc.dictionary_encode(key, null_encoding="encode")
    return enc.indices, len(enc.dictionary)


def _first_rows(codes):
    """The row of the first appearance of each code of a dictionary encoding without
    nulls (codes are numbered in order of first appearance, so a row holds a new code
    exactly when its code exceeds every code before it)."""
    import numpy as np
    import pyarrow as pa

    c = codes.to_numpy(zero_copy_only=False)
    if len(c) == 0:
        return pa.array([], pa.int64())
    m = np.maximum.accumulate(c)
    new = np.empty(len(c), dtype=bool)
    new[0] = True
    np.greater(m[1:], m[:-1], out=new[1:])
    return pa.array(np.flatnonzero(new))


def _arrow(con, sql: str):
    """Run ``sql`` and return an Arrow table (finishing any result still open on ``con``)."""
    con.complete()
    return con.sql(sql).to_arrow_table()


def _table_structure(con, table: str) -> str:
    cols = con.execute(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position""", [table]).fetchall()
    return json.dumps({n: t for n, t in cols})


def _save_replaced(con, upload_id: int, table: str, key_col: str, keys_sql: str) -> int:
    """Keep the current rows of ``table`` whose ``key_col`` is in ``keys_sql`` (a query
    giving one column of keys), so that undo can put them back exactly."""
    return con.execute(
        f"""INSERT INTO import_replaced_rows (upload_id, table_name, row_key, row_data)
            SELECT ?, ?, CAST(t.{key_col} AS VARCHAR), to_json(t) FROM {table} t
            WHERE t.{key_col} IN ({keys_sql}) RETURNING row_key""", [upload_id, table]).fetchall().__len__()


def _restore_replaced(con, upload_id: int, table: str, key_col: str, only_if_sql: str | None = None) -> int:
    """Put back the rows an upload replaced. A row is restored when the key is absent
    now, or when ``only_if_sql`` (a condition on ``cur``, the current row) holds, in
    which case the current row is replaced."""
    structure = _table_structure(con, table)
    if only_if_sql:
        con.execute(
            f"""DELETE FROM {table} WHERE {key_col} IN (
                    SELECT r.row_key FROM import_replaced_rows r JOIN {table} cur ON CAST(cur.{key_col} AS VARCHAR) = r.row_key
                    WHERE r.upload_id = ? AND r.table_name = ? AND ({only_if_sql}))""", [upload_id, table])
    n = con.execute(
        f"""INSERT INTO {table} BY NAME
            SELECT unnest(json_transform(r.row_data, ?)) FROM import_replaced_rows r
            WHERE r.upload_id = ? AND r.table_name = ?
              AND r.row_key NOT IN (SELECT CAST({key_col} AS VARCHAR) FROM {table})
            RETURNING 1""", [structure, upload_id, table]).fetchall()
    return len(n)


def _relink_all(con) -> None:
    """Link every spend line to its contract again (after the contract register changed)."""
    con.execute("UPDATE spend SET contract_id = NULL WHERE contract_id IS NOT NULL")
    linking.link_contracts(con)
