"""Kind ``contracts``: the contract register (kontraktsregister), usually an xlsx.

A row needs a contract id; the name falls back to the id. A contract already in the
database is updated in the columns the file has (other columns, e.g. ones an analyst
set in the app, are kept) and its previous version is saved so that undo restores it.
Suppliers are found or created like for spend. After the import (and after undo)
every spend line is linked to its contract again.
"""
from __future__ import annotations

import pyarrow as pa

from . import common
from .kinds import Check, CommitStats, Field, Kind, register

FIELDS = [
    Field("contract_id", "code", (
        "Kontraktsnr", "Kontraktsnummer", "Kontrakt-ID", "KontraktID", "Kontrakt nr", "Kontrakt-nr", "Avtalenr",
        "Avtalenummer", "Avtale-ID", "Avtale nr", "Kontraktsreferanse", "Referanse", "Contract ID", "Contract no",
        "Contract number", "Contract reference", "Agreement ID"), required=True),
    Field("name", "text", (
        "Kontraktsnavn", "Kontrakt", "Avtalenavn", "Avtale", "Kontraktstittel", "Tittel", "Navn", "Beskrivelse",
        "Contract name", "Contract title", "Title", "Contract", "Description")),
    Field("orgnr", "orgnr", (
        "Org.nr.", "Orgnr", "Org.nr", "Organisasjonsnummer", "Leverandør orgnr", "Orgnr leverandør",
        "Leverandørens org.nr", "Company number", "Supplier company number"), on_invalid="warn"),
    Field("supplier_no", "code", ("Lev.nr", "Levnr", "Leverandørnr", "Leverandørnummer", "Supplier ID", "Supplier no",
                                  "Vendor ID")),
    Field("supplier_name", "text", ("Leverandør", "Leverandørnavn", "Leverandør navn", "Supplier", "Supplier name",
                                    "Vendor", "Vendor name")),
    Field("category", "text", ("Kategori", "Innkjøpskategori", "Anskaffelseskategori", "Category")),
    Field("department", "code", ("Ansvar", "Avdeling", "Enhet", "Kontraktseier", "Eier", "Eierenhet", "Department",
                                 "Owner", "Cost centre")),
    Field("responsible", "text", ("Kontraktsansvarlig", "Ansvarlig", "Kontraktsforvalter", "Kontaktperson",
                                  "Oppfølgingsansvarlig", "Contract manager", "Responsible", "Contact")),
    Field("start_date", "date", ("Startdato", "Start", "Fra dato", "Fra", "Gyldig fra", "Kontraktsstart",
                                 "Avtalestart", "Oppstart", "Start date", "Valid from", "Contract start")),
    Field("end_date", "date", ("Sluttdato", "Slutt", "Til dato", "Til", "Gyldig til", "Utløpsdato", "Utløp",
                               "Kontraktsslutt", "Avtaleslutt", "End date", "Expiry date", "Valid to",
                               "Contract end")),
    Field("estimated_value", "amount", ("Estimert verdi", "Estimert kontraktsverdi", "Kontraktsverdi",
                                        "Anslått verdi", "Anslått kontraktsverdi", "Verdi", "Totalverdi",
                                        "Verdi eks. mva", "Estimated value", "Contract value", "Value",
                                        "Total value")),
    Field("cpv", "cpv", ("CPV", "CPV-kode", "CPV kode", "CPV code", "Hoved-CPV")),
    Field("labour_intensive", "bool", ("Arbeidsintensiv", "Arbeidsintensiv tjeneste", "Labour intensive",
                                       "Labor intensive")),
    Field("subcontractor_levels", "int", ("Antall ledd", "Ledd i kjeden", "Underleverandørledd",
                                          "Antall underleverandørledd", "Ledd", "Subcontractor levels")),
    Field("foreign_workers", "bool", ("Utenlandsk arbeidskraft", "Utenlandske arbeidstakere",
                                      "Utsendte arbeidstakere", "Foreign workers", "Posted workers")),
    Field("own_sites", "bool", ("Egne lokaler", "Arbeid på kommunens eiendom", "Utføres på kommunens lokasjoner",
                                "Egne byggeplasser", "Kommunens lokaler", "Own sites")),
    Field("workers", "int", ("Antall arbeidere", "Antall arbeidstakere", "Antall ansatte på kontrakten",
                             "Arbeidere", "Workers", "Number of workers")),
    Field("wage_clause", "bool", ("Lønnsklausul", "Lønns- og arbeidsvilkår", "Klausul lønns- og arbeidsvilkår",
                                  "Lønns- og arbeidsvilkårsklausul", "Wage clause")),
    Field("seriousness_clause", "bool", ("Seriøsitetskrav", "Seriøsitetsklausul", "Seriøsitetsbestemmelser",
                                         "Seriousness clause")),
]

CHECKS = [
    Check("end_before_start", "end_date < start_date", "end_date"),
    Check("duplicate_id",
          "EXISTS (SELECT 1 FROM {typed} d WHERE d.contract_id = t.contract_id AND d._row < t._row "
          "AND NOT d._blank AND NOT d._total)", "contract_id"),
    Check("negative_value", "estimated_value < 0", "estimated_value"),
]

# contract columns a file can set, and the batch expression for each
COLUMNS = {
    "name": "coalesce(r.name, r.contract_id)",
    "supplier_id": "r.supplier_id",
    "category": "r.category_code",
    "department": "r.department",
    "responsible": "r.responsible",
    "start_date": "r.start_date",
    "end_date": "r.end_date",
    "estimated_value": "r.estimated_value",
    "cpv": "r.cpv",
    "labour_intensive": "r.labour_intensive",
    "subcontractor_levels": "r.subcontractor_levels",
    "foreign_workers": "r.foreign_workers",
    "own_sites": "r.own_sites",
    "workers": "r.workers",
    "wage_clause": "r.wage_clause",
    "seriousness_clause": "r.seriousness_clause",
}
# which file fields set each column
SOURCE_FIELDS = {"supplier_id": ("orgnr", "supplier_no", "supplier_name"), "category": ("category",)}


def _stage(con, prepared) -> pa.Table:
    """The valid rows with their supplier key and category code."""
    b = prepared.batch
    sup = common._distinct_map(con, b, ["orgnr", "supplier_no", "supplier_name"], common.supplier_resolution_sql)
    cat = common._distinct_map(con, b, ["category"], common.category_code_sql)
    return b.append_column("supplier_id", sup.column("supplier_id")).append_column(
        "category_code", cat.column("category_code"))


def _analyse(con, batch: str, prepared) -> dict:
    with common.registered(con, _stage(con, prepared)) as stage:
        row = con.execute(
            f"""SELECT count(*) FILTER (WHERE contract_id IN (SELECT contract_id FROM contracts)),
                       count(*) FILTER (WHERE contract_id NOT IN (SELECT contract_id FROM contracts))
                FROM {stage}""").fetchall()[0]
        unknown_cats = [r[0] for r in con.execute(
            f"""SELECT category, count(*) FROM {stage}
                WHERE category IS NOT NULL AND category_code IS NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 20""").fetchall()]
    return {"updated_contracts": row[0], "new_contracts": row[1], "unknown_categories": unknown_cats}


def _commit(con, user, upload_id: int, batch: str, prepared, progress=lambda f: None) -> CommitStats:
    with common.registered(con, _stage(con, prepared)) as stage:
        has_supplier = any(f in prepared.mapping for f in SOURCE_FIELDS["supplier_id"])
        if has_supplier:
            common._insert_new_suppliers(con, stage, upload_id)
        progress(0.3)
        common._save_replaced(con, upload_id, "contracts", "contract_id", f"SELECT contract_id FROM {stage}")
        cols = []
        for col, expr in COLUMNS.items():
            sources = SOURCE_FIELDS.get(col, (col,))
            if col == "name" or any(f in prepared.mapping for f in sources):
                cols.append((col, expr))
        names = ", ".join(c for c, _ in cols)
        exprs = ", ".join(e for _, e in cols)
        updates = ", ".join(f"{c} = excluded.{c}" for c, _ in cols if c != "name" or "name" in prepared.mapping)
        con.execute(
            f"""INSERT INTO contracts (contract_id, {names}, upload_id, updated_at, updated_by)
                SELECT r.contract_id, {exprs}, ?, current_timestamp, ? FROM {stage} r ORDER BY r._row
                ON CONFLICT (contract_id) DO UPDATE SET {updates + ', ' if updates else ''}
                    upload_id = excluded.upload_id, updated_at = excluded.updated_at, updated_by = excluded.updated_by""",
            [upload_id, user.username])
        progress(0.6)
        common._relink_all(con)
        rows, total = con.execute(
            "SELECT count(*), sum(estimated_value) FROM contracts WHERE upload_id = ?", [upload_id]).fetchone()
        replaced = con.execute(
            "SELECT count(*) FROM import_replaced_rows WHERE upload_id = ? AND table_name = 'contracts'",
            [upload_id]).fetchone()[0]
    return CommitStats(rows=rows, total=float(total) if total is not None else None,
                       details={"updated_contracts": replaced, "new_contracts": rows - replaced})


def _undo(con, user, upload_id: int) -> dict:
    n = con.execute("SELECT count(*) FROM contracts WHERE upload_id = ?", [upload_id]).fetchone()[0]
    con.execute("DELETE FROM contracts WHERE upload_id = ?", [upload_id])
    restored = common._restore_replaced(con, upload_id, "contracts", "contract_id")
    n_sup = common._delete_unused_suppliers(con, upload_id)
    common._relink_all(con)
    return {"rows": n, "contracts_restored": restored, "suppliers_removed": n_sup}


KIND = register(Kind(
    name="contracts",
    label_key="import.kind.contracts",
    fields=FIELDS,
    commit=_commit,
    undo=_undo,
    required_any=[("contract_id",)],
    checks=CHECKS,
    amount_field="estimated_value",
    identity_fields=("orgnr", "supplier_no", "start_date", "end_date", "cpv"),
    anchor_fields=("contract_id",),
    analyse=_analyse,
    priority={"contract_id": 0, "name": 1, "supplier_name": 2},
))
