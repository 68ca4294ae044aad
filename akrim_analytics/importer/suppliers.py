"""Kind ``suppliers``: an Enhetsregisteret extract (domain.md §5.4) that enriches suppliers.

Both real formats are read: the bulk CSV with dotted camelCase headers
(``organisasjonsnummer``, ``naeringskode1.kode``, ``antallAnsatte``, … in 2024 and in the
2026 column order) and the xlsx download with label headers (``Organisasjonsnummer``,
``Næringskode 1``, ``Antall ansatte``, …). Sub-unit files (underenheter) work too: their
``overordnetEnhet`` lets later spend on a sub-unit's number roll up to the legal unit.

Every row is kept in ``register_units`` (so a supplier first seen in a later spend file
is enriched as well); suppliers with the same org. number get the register fields.
Rules: a blank ``antallAnsatte`` is unknown (NULL), never 0, unless
``harRegistrertAntallAnsatte`` is false; ``nace_version`` is SN2007 or SN2025, judged
from the codes themselves (codes that exist in only one of the two classifications,
``data/reference``), else from the 2026 column set. The extract date is taken from the
file name (``…2026-10-01…``) or is the upload day.

Undo deletes the upload's register rows and puts back the supplier rows as they were
(rows a later import changed again are re-enriched from what remains).
"""
from __future__ import annotations

import csv
import datetime as dt
import re
import uuid
from functools import lru_cache

from .. import categorize, db
from . import common
from .kinds import Check, CommitStats, Field, Kind, register

FIELDS = [
    Field("orgnr", "orgnr", ("organisasjonsnummer", "Organisasjonsnummer", "Orgnr", "Org.nr.", "Org.nr"), required=True),
    Field("name", "text", ("navn", "Navn", "Name")),
    Field("org_form", "code", ("organisasjonsform.kode", "Organisasjonsform.kode", "Organisasjonsform kode",
                               "Organisasjonsform", "Orgform")),
    Field("nace_code", "nace", ("naeringskode1.kode", "Næringskode 1", "Næringskode1.kode", "Næringskode 1.kode",
                                "Næringskode 1 kode", "Næringskode", "NACE", "Næringskode1")),
    Field("employees", "int", ("antallAnsatte", "Antall ansatte")),
    Field("has_employees", "bool", ("harRegistrertAntallAnsatte", "Har registrert antall ansatte")),
    Field("founded_date", "date", ("stiftelsesdato", "Stiftelsesdato", "stiftelsedato")),
    Field("registered_date", "date", ("registreringsdatoenhetsregisteret", "registreringsdatoEnhetsregisteret",
                                      "registreringsdatoIEnhetsregisteret", "Registreringsdato i Enhetsregisteret",
                                      "Registreringsdato Enhetsregisteret", "Registreringsdato")),
    Field("vat_registered", "bool", ("registrertIMvaRegisteret", "registrertIMvaregisteret",
                                     "Registrert i MVA-registeret", "Registrert i Merverdiavgiftsregisteret",
                                     "Registrert i MVA registeret")),
    Field("bankrupt", "bool", ("konkurs", "Konkurs")),
    Field("under_liquidation", "bool", ("underAvvikling", "Under avvikling")),
    Field("forced_dissolution", "bool", ("underTvangsavviklingEllerTvangsopplosning",
                                         "Under tvangsavvikling eller tvangsoppløsning")),
    Field("forced_1", "date", ("tvangsopplostPgaManglendeDagligLederDato",
                               "Tvangsoppløst pga manglende daglig leder dato")),
    Field("forced_2", "date", ("tvangsopplostPgaManglendeRevisorDato", "Tvangsoppløst pga manglende revisor dato")),
    Field("forced_3", "date", ("tvangsopplostPgaManglendeRegnskapDato", "Tvangsoppløst pga manglende regnskap dato")),
    Field("forced_4", "date", ("tvangsopplostPgaMangelfulltStyreDato", "Tvangsoppløst pga mangelfullt styre dato")),
    Field("forced_5", "date", ("tvangsavvikletPgaManglendeSlettingDato", "Tvangsavviklet pga manglende sletting dato")),
    Field("deleted_date", "date", ("slettedato", "Slettedato", "nedleggelsesdato", "Nedleggelsesdato")),
    Field("last_accounts_year", "int", ("sisteInnsendteAarsregnskap", "Siste innsendte årsregnskap")),
    Field("municipality_no", "code", ("forretningsadresse.kommunenummer", "Forretningsadresse.kommunenummer",
                                      "Forretningsadresse kommunenummer", "beliggenhetsadresse.kommunenummer",
                                      "Beliggenhetsadresse.kommunenummer", "Beliggenhetsadresse kommunenummer",
                                      "Kommunenummer")),
    Field("country_code", "code", ("forretningsadresse.landkode", "Forretningsadresse.landkode",
                                   "Forretningsadresse landkode", "beliggenhetsadresse.landkode",
                                   "Beliggenhetsadresse.landkode", "Landkode")),
    Field("parent_orgnr", "orgnr", ("overordnetEnhet", "Overordnet enhet", "Overordnet enhet i offentlig sektor"),
          on_invalid="warn"),
]

CHECKS = [
    Check("duplicate_orgnr",
          "EXISTS (SELECT 1 FROM {typed} d WHERE d.orgnr = t.orgnr AND d._row > t._row AND NOT d._blank AND NOT d._total)",
          "orgnr", warn=True),
]

# Columns that only the 2026 bulk format has (its næringskoder are SN2025).
FORMAT_2026_MARKERS = {"registreringsdatoantallansatteenhetsregisteret", "paategninger", "erikonsern",
                       "kapitalbelop", "registreringsdatomerverdiavgiftsregisteret"}
SUBUNIT_FORMS = ("BEDR", "AAFY")


@lru_cache(maxsize=1)
def nace_code_sets() -> tuple[frozenset, frozenset]:
    """5-digit codes of SN2007 and of SN2025 (SSB KLASS files in data/reference)."""
    ref = db.DATA_DIR / "reference"
    sn2007, sn2025 = set(), set()
    try:
        with (ref / "ssb_sn2007_klass_v30.csv").open(encoding="utf-8") as f:
            for row in csv.reader(f, delimiter=";"):
                if len(row) > 2 and row[2] == "5":
                    sn2007.add(row[0])
        with (ref / "ssb_sn2025_klass_v3218.csv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("level") == "5":
                    sn2025.add(row["code"])
    except OSError:
        pass
    return frozenset(sn2007), frozenset(sn2025)


def detect_nace_version(codes: list[str], headers_norm: set[str]) -> tuple[str | None, dict]:
    sn2007, sn2025 = nace_code_sets()
    only07 = sum(1 for c in codes if c in sn2007 and c not in sn2025)
    only25 = sum(1 for c in codes if c in sn2025 and c not in sn2007)
    hint = bool(headers_norm & FORMAT_2026_MARKERS)
    if only25 > only07:
        version = "SN2025"
    elif only07 > only25:
        version = "SN2007"
    elif hint:
        version = "SN2025"
    else:
        version = None
    return version, {"sn2007_only_codes": only07, "sn2025_only_codes": only25, "format_2026": hint}


def extract_date_from_name(file_name: str) -> dt.date | None:
    m = re.search(r"(20\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])", file_name or "")
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _options(prepared) -> dict:
    from .headers import normalise

    opts = getattr(prepared, "options", None) or {}
    extract = opts.get("extract_date") or extract_date_from_name(prepared.info.file_name) or dt.date.today()
    return {"extract_date": extract, "nace_version": opts.get("nace_version"),
            "headers_norm": {normalise(c.header) for c in prepared.raw.columns}}


def _analyse(con, batch: str, prepared) -> dict:
    o = _options(prepared)
    codes = [r[0] for r in con.execute(f"SELECT nace_code FROM {batch} WHERE nace_code IS NOT NULL").fetchall()]
    version, evidence = detect_nace_version(codes, o["headers_norm"])
    if o["nace_version"] in ("SN2007", "SN2025"):
        version = o["nace_version"]
    matched = con.execute(
        f"""SELECT count(DISTINCT s.supplier_id) FROM suppliers s JOIN {batch} b ON b.orgnr = s.orgnr""").fetchone()[0]
    subunits = con.execute(
        f"SELECT count(*) FROM {batch} WHERE org_form IN ('BEDR', 'AAFY')").fetchone()[0]
    return {"nace_version": version, "nace_evidence": evidence, "extract_date": o["extract_date"].isoformat(),
            "matched_suppliers": matched, "subunits": subunits}


def _unit_select(batch: str, upload_id_param: str = "?") -> str:
    forced_dates = " OR ".join(f"forced_{i} IS NOT NULL" for i in range(1, 6))
    return f"""
        SELECT {upload_id_param} AS upload_id, orgnr,
               CASE WHEN org_form IN {SUBUNIT_FORMS} THEN parent_orgnr END AS parent_orgnr,
               name, org_form, nace_code, CAST(? AS VARCHAR) AS nace_version, founded_date, registered_date,
               vat_registered,
               CASE WHEN employees IS NOT NULL THEN employees WHEN has_employees = false THEN 0 END AS employees,
               bankrupt, under_liquidation,
               CASE WHEN forced_dissolution IS NULL AND NOT ({forced_dates}) THEN NULL
                    ELSE coalesce(forced_dissolution, false) OR ({forced_dates}) END AS forced_dissolution,
               deleted_date, last_accounts_year, municipality_no, country_code, CAST(? AS DATE) AS extract_date
        FROM {batch}
        QUALIFY row_number() OVER (PARTITION BY orgnr ORDER BY _row DESC) = 1"""


ENRICH_COLUMNS = ("nace_code", "nace_version", "org_form", "founded_date", "registered_date", "vat_registered",
                  "employees", "bankrupt", "under_liquidation", "forced_dissolution", "deleted_date",
                  "last_accounts_year", "municipality_no", "country_code")


def _latest_units_sql(where_upload: str = "") -> str:
    return f"""SELECT r.* FROM register_units r JOIN uploads u ON u.upload_id = r.upload_id AND u.status = 'committed'
               {where_upload}
               QUALIFY row_number() OVER (PARTITION BY r.orgnr ORDER BY r.extract_date DESC, r.upload_id DESC) = 1"""


def _set_clause() -> str:
    sets = ", ".join(f"{c} = r.{c}" for c in ENRICH_COLUMNS)
    return f"{sets}, register_extract_date = r.extract_date, enriched_upload_id = r.upload_id"


def _enrich_from_register(con, *, created_upload_id: int | None = None, supplier_ids_sql: str | None = None) -> None:
    """Fill register fields of suppliers from the newest committed register row for their
    org. number: those created by ``created_upload_id``, or those in ``supplier_ids_sql``."""
    cond = []
    params = []
    if created_upload_id is not None:
        cond.append("suppliers.created_upload_id = ?")
        params.append(created_upload_id)
    if supplier_ids_sql is not None:
        cond.append(f"suppliers.supplier_id IN ({supplier_ids_sql})")
    where = " AND ".join(cond) if cond else "true"
    con.execute(
        f"""UPDATE suppliers SET {_set_clause()}
            FROM ({_latest_units_sql()}) r
            WHERE suppliers.orgnr = r.orgnr AND {where}""", params)


def _commit(con, user, upload_id: int, batch: str, prepared, progress=lambda f: None) -> CommitStats:
    info = prepared.report.get("details", {})
    version = info.get("nace_version")
    extract = info.get("extract_date") or _options(prepared)["extract_date"].isoformat()
    con.execute(f"INSERT INTO register_units BY NAME {_unit_select(batch)}", [upload_id, version, extract])
    progress(0.4)
    targets = f"""SELECT s.supplier_id FROM suppliers s JOIN register_units r ON r.orgnr = s.orgnr AND r.upload_id = {int(upload_id)}
                  WHERE s.register_extract_date IS NULL OR s.register_extract_date <= r.extract_date"""
    common._save_replaced(con, upload_id, "suppliers", "supplier_id", targets)
    con.execute(
        f"""UPDATE suppliers SET {_set_clause()}
            FROM (SELECT * FROM register_units WHERE upload_id = ?) r
            WHERE suppliers.orgnr = r.orgnr
              AND (suppliers.register_extract_date IS NULL OR suppliers.register_extract_date <= r.extract_date)""",
        [upload_id])
    progress(0.7)
    categorize.categorize(con)
    n = con.execute("SELECT count(*) FROM register_units WHERE upload_id = ?", [upload_id]).fetchone()[0]
    matched = con.execute("SELECT count(*) FROM suppliers WHERE enriched_upload_id = ?", [upload_id]).fetchone()[0]
    return CommitStats(rows=n, total=None, details={"enriched_suppliers": matched, "nace_version": version,
                                                    "extract_date": extract})


def _undo(con, user, upload_id: int) -> dict:
    n = con.execute("SELECT count(*) FROM register_units WHERE upload_id = ?", [upload_id]).fetchone()[0]
    con.execute("DELETE FROM register_units WHERE upload_id = ?", [upload_id])
    # Put back the supplier rows this extract changed, unless a later import changed them again.
    restored = common._restore_replaced(con, upload_id, "suppliers", "supplier_id",
                                       only_if_sql=f"cur.enriched_upload_id = {int(upload_id)}")
    # Suppliers still pointing at this extract (created later by spend): use what remains.
    left = f"SELECT supplier_id FROM suppliers WHERE enriched_upload_id = {int(upload_id)}"
    tmp = f"_left_{uuid.uuid4().hex[:8]}"
    con.execute(f"CREATE TEMP TABLE {tmp} AS {left}")
    try:
        nulls = ", ".join(f"{c} = NULL" for c in ENRICH_COLUMNS)
        con.execute(f"""UPDATE suppliers SET {nulls}, register_extract_date = NULL, enriched_upload_id = NULL
                        WHERE supplier_id IN (SELECT supplier_id FROM {tmp})""")
        _enrich_from_register(con, supplier_ids_sql=f"SELECT supplier_id FROM {tmp}")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {tmp}")
    categorize.categorize(con)
    return {"rows": n, "suppliers_restored": restored}


KIND = register(Kind(
    name="suppliers",
    label_key="import.kind.suppliers",
    fields=FIELDS,
    commit=_commit,
    undo=_undo,
    required_any=[("orgnr",)],
    checks=CHECKS,
    anchor_fields=("orgnr",),
    analyse=_analyse,
    priority={"orgnr": 0, "name": 1, "nace_code": 2},
))
