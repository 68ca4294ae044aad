"""Kind ``spend``: invoice / posting lines from the ERP (leverandørreskontro + hovedbok).

Each line needs an amount, a date or a period, and a supplier (org. number, ERP
supplier number or name). The supplier key is the org. number when it is valid
(a sub-unit's number rolls up to its legal unit when the register says so), else an
existing supplier with the same ERP number, else ``L:<supplier no>``, else an existing
supplier with the same name, else ``N:<normalised name>``. Missing suppliers and
departments are created with the upload (and removed with it when unused).

Lines that match a line of an earlier upload on supplier, invoice number, date and
amount are reported and not imported again. Without a category column the lines are
categorised by the rules as they are inserted (``categorize.pair_categories_sql``, the same
SQL ``categorize.categorize`` runs; updating a million fresh rows afterwards would be slow),
and then linked to contracts (``linking.link_contracts``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import linking
from . import common
from .kinds import Check, CommitStats, Field, Kind, register

if TYPE_CHECKING:   # imported where used: the command line starts reading before pyarrow loads
    import pyarrow as pa

FIELDS = [
    Field("posting_date", "date", (
        "Bilagsdato", "Fakturadato", "Bilagsdato/fakturadato", "Posteringsdato", "Transaksjonsdato", "Dato",
        "Invoice date", "Posting date", "Transaction date", "Document date", "Voucher date", "Date",
        "Betalingsdato", "Paid date", "Payment date", "Forfallsdato")),
    Field("period", "period", (
        "Periode", "Regnskapsperiode", "Per", "Bokføringsperiode", "År/mnd", "Aarmnd", "Årmnd", "Period",
        "Accounting period", "Fiscal period")),
    Field("supplier_no", "code", (
        "Lev.nr", "Levnr", "Leverandørnr", "Leverandørnummer", "Leverandør nr", "Leverandør-ID", "Leverandørid",
        "Lev.nr.", "Reskontronr", "Kreditornr", "Supplier ID", "Supplier no", "Supplier number", "Vendor ID",
        "Vendor no", "Vendor number", "Supplier code", "Vendor code", "Leverandør")),
    Field("supplier_name", "text", (
        "Leverandørnavn", "Leverandør navn", "Leverandør(T)", "Leverandør tekst", "Lev.navn", "Levnavn",
        "Leverandør", "Navn", "Kreditor", "Firma", "Supplier name", "Supplier", "Vendor name", "Vendor",
        "Payee", "Beneficiary", "Merchant")),
    Field("orgnr", "orgnr", (
        "Org.nr.", "Orgnr", "Org.nr", "Organisasjonsnummer", "Organisasjonsnr", "Org nummer",
        "Leverandør orgnr", "Orgnr leverandør", "Foretaksnummer", "Organisasjonsnr.", "Org.no",
        "Company number", "Company no", "Company registration number", "Registration number", "Business ID",
        "VAT number", "MVA-nummer", "Mva-nr"), on_invalid="warn"),
    Field("amount", "amount", (
        "Beløp eks. mva", "Beløp ekskl. mva", "Beløp eks mva", "Beløp ekskl mva", "Nettobeløp", "Netto beløp",
        "Net amount", "Amount excl VAT", "Amount excluding VAT", "Beløp", "Belop", "Beloep", "Amount",
        "Beløp NOK", "Beløp i NOK", "Amount NOK", "Kontantbeløp", "Bokført beløp", "Regnskap", "Value",
        "Total amount", "Invoice amount", "Sum", "Kostnad", "Utgift", "Beløp inkl. mva", "Bruttobeløp",
        "Amount incl VAT", "Gross amount"), required=True),
    Field("account", "code", (
        "Art", "Konto", "Artskonto", "Kontonr", "Kontonummer", "Art (KOSTRA)", "KOSTRA-art", "Hovedbokskonto",
        "Account", "Account code", "Expenditure code", "GL code", "Nominal code", "Cost code")),
    Field("department", "code", (
        "Ansvar", "Ansvarsnr", "Ansvarssted", "Ansvarsnummer", "Koststed", "Kostnadssted", "Avdeling", "Enhet",
        "Department", "Cost centre", "Cost center", "Cost centre code", "Cost center code", "Organisational unit",
        "Organizational unit", "Service area", "Directorate")),
    Field("department_name", "text", (
        "Ansvar(T)", "Ansvar tekst", "Ansvarsnavn", "Koststed tekst", "Koststednavn", "Avdelingsnavn",
        "Enhetsnavn", "Department name", "Cost centre name", "Cost center name", "Cost centre code (2)")),
    Field("service", "code", (
        "Tjeneste", "Funksjon", "Tjenestenr", "Tjeneste nr", "KOSTRA-funksjon", "Kostra funksjon", "Function",
        "Service")),
    Field("project", "code", ("Prosjekt", "Prosjektnr", "Prosjektnummer", "Project", "Project code")),
    Field("invoice_no", "code", (
        "Fakturanr", "Fakturanummer", "Faktura nr", "Faktura", "Eksternt fakturanr", "Bilagsnr", "Bilagsnummer",
        "Bilag", "Invoice no", "Invoice number", "Invoice", "Trans no", "Transaction no", "Transaction number",
        "Document no", "Document number", "Voucher no", "Voucher number")),
    Field("description", "text", (
        "Tekst", "Beskrivelse", "Bilagstekst", "Fakturatekst", "Posteringstekst", "Description", "Text",
        "Narrative", "Details", "Expenditure category", "Purpose")),
    Field("category", "text", (
        "Kategori", "Innkjøpskategori", "Anskaffelseskategori", "Category", "Spend category",
        "Procurement category")),
]

CHECKS = [
    Check("no_date", "posting_date__raw IS NULL AND period__raw IS NULL", "posting_date"),
    Check("no_supplier", "orgnr IS NULL AND supplier_no IS NULL AND supplier_name IS NULL", "supplier_name"),
    Check("date_out_of_range",
          "coalesce(year(posting_date), period // 100) NOT BETWEEN 1980 AND 2100", "posting_date"),
]



def _is_number_like(v) -> bool:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return True
    s = str(v).strip().replace(" ", "")
    return bool(s) and s.replace(".", "").replace("-", "").isdigit()


def refine_mapping(mapping: dict, columns: list[str], samples: dict, header_of: dict) -> dict:
    """'Leverandør' is the number in some ERPs and the name in others: look at the values."""
    mapping = dict(mapping)

    def numeric_share(col):
        vals = samples.get(col) or []
        return sum(_is_number_like(v) for v in vals) / len(vals) if vals else 0.0

    name_col, no_col = mapping.get("supplier_name"), mapping.get("supplier_no")
    if name_col and not no_col and numeric_share(name_col) >= 0.8:
        mapping["supplier_no"] = mapping.pop("supplier_name")
    elif no_col and not name_col and numeric_share(no_col) < 0.2 and samples.get(no_col):
        mapping["supplier_name"] = mapping.pop("supplier_no")
    return mapping


def _stage(con, prepared) -> pa.Table:
    """The valid rows with their supplier key and the category named in the file.

    Reused by commit when the data has not changed since the preview."""
    import pyarrow as pa

    from .. import db

    version = db.data_version(con)
    cached = prepared.cache.get("spend_stage")
    if cached is not None and cached[0] == version:
        return cached[1]
    b = prepared.batch
    keep: dict = {}
    sup = common._distinct_map(con, b, ["orgnr", "supplier_no", "supplier_name"], common.supplier_resolution_sql,
                               keep=keep, codes=prepared.batch_codes(["orgnr", "supplier_no", "supplier_name"]),
                               columns=["supplier_id"])
    if "category" in prepared.mapping:
        cat = common._distinct_map(con, b, ["category"], common.category_code_sql).column("category_code")
    else:
        cat = pa.nulls(b.num_rows, pa.string())
    stage = pa.table({
        "_row": b.column("_row"), "supplier_id": sup.column("supplier_id"),
        "supplier_no": b.column("supplier_no"), "supplier_name": b.column("supplier_name"),
        "posting_date": b.column("posting_date"), "period": b.column("period"), "amount": b.column("amount"),
        "account": b.column("account"), "department": b.column("department"),
        "department_name": b.column("department_name"), "service": b.column("service"),
        "project": b.column("project"), "invoice_no": b.column("invoice_no"),
        "description": b.column("description"), "category_raw": b.column("category"), "category_code": cat,
    })
    # the first row of each distinct supplier key: new suppliers are counted and created from these
    sup_keys = stage.select(["_row", "supplier_no", "supplier_name"]).take(keep["first"]) \
                    .append_column("supplier_id", keep["result"].column("supplier_id"))
    prepared.cache["spend_stage"] = (version, stage)
    prepared.cache["spend_supplier_keys"] = (version, sup_keys)
    prepared.cache["spend_supplier_codes"] = (version, keep["codes"])   # equal supplier key → equal code
    # the first row of each distinct (department, department name): new departments from these
    dep, _ = common._key_codes(b, ["department", "department_name"],
                               prepared.batch_codes(["department", "department_name"]))
    prepared.cache["spend_department_keys"] = (
        version, stage.select(["_row", "department", "department_name"]).take(common._first_rows(dep)))
    return stage


def _supplier_keys(con, prepared) -> pa.Table:
    _stage(con, prepared)
    return prepared.cache["spend_supplier_keys"][1]


def _department_keys(con, prepared) -> pa.Table:
    _stage(con, prepared)
    return prepared.cache["spend_department_keys"][1]


def _overlaps(con, stage_name: str) -> pa.Table:
    """Rows that repeat a line of an earlier upload (supplier, invoice no., date, amount)."""
    return common._arrow(con, f"""
        SELECT r._row, min(s.upload_id) AS upload_id FROM {stage_name} r
        JOIN spend s ON s.supplier_id = r.supplier_id AND s.invoice_no = r.invoice_no
                    AND s.posting_date = coalesce(r.posting_date, make_date(r.period // 100, r.period % 100, 1))
                    AND s.amount = r.amount
        WHERE r.invoice_no IS NOT NULL GROUP BY r._row ORDER BY r._row""")


def _analyse(con, batch: str, prepared) -> dict:
    from .. import db

    with common.registered(con, _stage(con, prepared)) as name:
        ov = _overlaps(con, name)
        prepared.cache["spend_overlaps"] = (db.data_version(con), ov)
        with common.registered(con, ov) as ov_name:
            o = con.execute(f"""SELECT count(*), sum(r.amount) FROM {ov_name} o JOIN {name} r USING (_row)""").fetchall()[0]
            overlaps = con.execute(
                f"""SELECT o._row, o.upload_id, r.supplier_id, r.invoice_no,
                           coalesce(r.posting_date, make_date(r.period // 100, r.period % 100, 1)), r.amount
                    FROM {ov_name} o JOIN {name} r USING (_row) ORDER BY o._row LIMIT 10000""").fetchall()
        with common.registered(con, _supplier_keys(con, prepared)) as keys_name:
            new_sup = con.execute(
                f"""SELECT count(DISTINCT supplier_id) FROM {keys_name}
                    WHERE supplier_id NOT IN (SELECT supplier_id FROM suppliers)""").fetchall()[0][0]
        with common.registered(con, _department_keys(con, prepared)) as dep_name:
            new_dep = con.execute(
                f"""SELECT count(DISTINCT department) FROM {dep_name}
                    WHERE department IS NOT NULL AND department NOT IN (SELECT code FROM departments)""").fetchall()[0][0]
        unknown_cats = [r[0] for r in con.execute(
            f"""SELECT category_raw, count(*) FROM {name} WHERE category_raw IS NOT NULL AND category_code IS NULL
                GROUP BY 1 ORDER BY 2 DESC LIMIT 20""").fetchall()]
    return {
        "overlap_rows": o[0], "overlap_sum": float(o[1]) if o[1] is not None else 0.0,
        "overlaps": [{"row": r[0], "upload_id": r[1], "supplier_id": r[2], "invoice_no": r[3],
                      "date": r[4].isoformat() if r[4] else None, "amount": float(r[5])} for r in overlaps],
        "new_suppliers": new_sup, "new_departments": new_dep, "unknown_categories": unknown_cats,
        "category_column": "category" in prepared.mapping,
    }


def _commit(con, user, upload_id: int, batch: str, prepared, progress=lambda f: None) -> CommitStats:
    import pyarrow.compute as pc

    from .. import categorize, db

    version = db.data_version(con)
    stage = _stage(con, prepared)
    with common.registered(con, stage) as name:
        cached = prepared.cache.get("spend_overlaps")
        ov = cached[1] if cached is not None and cached[0] == version else _overlaps(con, name)
        progress(0.15)
        with common.registered(con, _supplier_keys(con, prepared)) as keys_name:
            common._insert_new_suppliers(con, keys_name, upload_id)
        # (from the first row of each distinct department and name: the same as from every row)
        with common.registered(con, _department_keys(con, prepared)) as dep_name:
            con.execute(
                f"""INSERT INTO departments (code, name, created_upload_id)
                    SELECT department, coalesce(arg_min(department_name, _row) FILTER (WHERE department_name IS NOT NULL),
                                                department), ?
                    FROM {dep_name} WHERE department IS NOT NULL AND department NOT IN (SELECT code FROM departments)
                    GROUP BY department""", [upload_id])
        progress(0.3)
        # Categorised as they are inserted, by the same rules as categorize.categorize
        # (categorize.pair_categories_sql, over the distinct supplier/account pairs):
        # updating a million fresh rows afterwards would be slow.
        cats = common._distinct_map(
            con, stage, ["supplier_id", "account"],
            lambda k: f"""SELECT k._k, pc.category, pc.category_source FROM {k} k
                          LEFT JOIN ({categorize.pair_categories_sql(k)}) pc
                            ON pc.supplier_id IS NOT DISTINCT FROM k.supplier_id
                           AND pc.account IS NOT DISTINCT FROM k.account""",
            codes={"supplier_id": prepared.cache["spend_supplier_codes"][1], **prepared.batch_codes(["account"])})
        final = stage.append_column("rule_category", cats.column("category")) \
                     .append_column("rule_source", cats.column("category_source"))
        if ov.num_rows:
            final = final.filter(pc.invert(pc.is_in(final.column("_row"), value_set=ov.column("_row").combine_chunks())))
        progress(0.5)
        with common.registered(con, final) as final_name:
            # spend has no order; letting DuckDB insert in parallel is faster (this connection only)
            con.execute("SET SESSION preserve_insertion_order = false")
            try:
                con.execute(
                    f"""INSERT INTO spend (upload_id, source_row, posting_date, period, supplier_id, amount, account,
                                           department, service, project, invoice_no, description, category, category_source)
                        SELECT ?, _row, coalesce(posting_date, make_date(period // 100, period % 100, 1)),
                               coalesce(period, year(posting_date) * 100 + month(posting_date)),
                               supplier_id, amount, account, department, service, project, invoice_no, description,
                               coalesce(category_code, rule_category),
                               CASE WHEN category_code IS NOT NULL THEN 'file' ELSE rule_source END
                        FROM {final_name}""", [upload_id])
            finally:
                con.execute("RESET SESSION preserve_insertion_order")
        progress(0.8)
        linking.link_contracts(con, upload_id)
        rows, total = con.execute(
            "SELECT count(*), sum(amount) FROM spend WHERE upload_id = ?", [upload_id]).fetchall()[0]
        n_sup = con.execute("SELECT count(*) FROM suppliers WHERE created_upload_id = ?", [upload_id]).fetchall()[0][0]
        n_dep = con.execute("SELECT count(*) FROM departments WHERE created_upload_id = ?", [upload_id]).fetchall()[0][0]
    return CommitStats(rows=rows, total=float(total) if total is not None else None,
                       details={"new_suppliers": n_sup, "new_departments": n_dep, "overlapping_rows": ov.num_rows})


def _undo(con, user, upload_id: int) -> dict:
    n = con.execute("SELECT count(*) FROM spend WHERE upload_id = ?", [upload_id]).fetchone()[0]
    con.execute("DELETE FROM spend WHERE upload_id = ?", [upload_id])
    n_sup = common._delete_unused_suppliers(con, upload_id)
    dep = con.execute(
        """DELETE FROM departments WHERE created_upload_id = ?
             AND code NOT IN (SELECT DISTINCT department FROM spend WHERE department IS NOT NULL)
             AND code NOT IN (SELECT DISTINCT department FROM contracts WHERE department IS NOT NULL)
           RETURNING code""", [upload_id]).fetchall()
    return {"rows": n, "suppliers_removed": n_sup, "departments_removed": len(dep)}


KIND = register(Kind(
    name="spend",
    label_key="import.kind.spend",
    fields=FIELDS,
    commit=_commit,
    undo=_undo,
    required_any=[("amount",), ("posting_date", "period"), ("orgnr", "supplier_no", "supplier_name")],
    checks=CHECKS,
    amount_field="amount",
    identity_fields=("orgnr", "supplier_no", "invoice_no", "posting_date", "account"),
    anchor_fields=("amount",),
    analyse=_analyse,
    refine_mapping=refine_mapping,
    priority={"supplier_name": 1, "supplier_no": 2, "posting_date": 3, "amount": 0},
))
