"""SQL building blocks shared by the kinds: supplier keys, category names, rows an
import replaces (kept for an exact undo) and relinking spend to contracts."""
from __future__ import annotations

import json

from .. import linking

NAME_NORM = "upper(regexp_replace(trim({x}), '[ \\t\u00a0]+', ' ', 'g'))"


def supplier_key_ctes(batch: str) -> str:
    """CTEs ``b`` (the batch plus ``_nname``) and ``res`` (orgnr, supplier_no, _nname →
    supplier_id, org_eff). Join ``res`` back to ``b`` with ``supplier_join``.

    Key order: a valid org. number (a sub-unit rolls up to its legal unit when the
    register says so; an existing supplier with that org. number keeps its key), an
    existing supplier with the same ERP supplier number, ``L:<no>``, an existing
    supplier with the same (normalised) name, ``N:<normalised name>``."""
    nn_b = NAME_NORM.format(x="b.supplier_name")
    nn_s = NAME_NORM.format(x="name")
    return f"""
    b AS (SELECT *, {nn_b} AS _nname FROM {batch} b),
    ru AS (SELECT r.orgnr, arg_max(r.parent_orgnr, r.extract_date) AS parent
           FROM register_units r JOIN uploads u ON u.upload_id = r.upload_id AND u.status = 'committed'
           WHERE r.parent_orgnr IS NOT NULL GROUP BY r.orgnr),
    keys AS (SELECT DISTINCT orgnr, supplier_no, _nname FROM b),
    k2 AS (SELECT keys.*, coalesce(ru.parent, keys.orgnr) AS org_eff FROM keys LEFT JOIN ru ON ru.orgnr = keys.orgnr),
    so AS (SELECT orgnr, min(supplier_id) AS sid FROM suppliers WHERE orgnr IS NOT NULL GROUP BY orgnr),
    se AS (SELECT erp_supplier_no, min(supplier_id) AS sid FROM suppliers WHERE erp_supplier_no IS NOT NULL
           GROUP BY erp_supplier_no HAVING count(*) = 1),
    sn AS (SELECT {nn_s} AS nname, min(supplier_id) AS sid FROM suppliers GROUP BY 1 HAVING count(*) = 1),
    res AS (SELECT k2.orgnr, k2.supplier_no, k2._nname, k2.org_eff,
                   coalesce(so.sid, k2.org_eff, se.sid, 'L:' || k2.supplier_no, sn.sid, 'N:' || k2._nname) AS supplier_id
            FROM k2 LEFT JOIN so ON so.orgnr = k2.org_eff
                    LEFT JOIN se ON se.erp_supplier_no = k2.supplier_no
                    LEFT JOIN sn ON sn.nname = k2._nname AND k2.supplier_no IS NULL AND k2.org_eff IS NULL)"""


SUPPLIER_JOIN = """JOIN res ON res.orgnr IS NOT DISTINCT FROM b.orgnr
                AND res.supplier_no IS NOT DISTINCT FROM b.supplier_no
                AND res._nname IS NOT DISTINCT FROM b._nname"""

CATEGORY_CTE = """cat AS (SELECT lower(code) AS k, code FROM categories
            UNION SELECT lower(name_nb), code FROM categories UNION SELECT lower(name_en), code FROM categories)"""


def _insert_new_suppliers(con, stage: str, upload_id: int) -> None:
    """Create the suppliers a staged batch refers to that do not exist yet (named by
    their first row), then fill in register data where an extract knows them."""
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
