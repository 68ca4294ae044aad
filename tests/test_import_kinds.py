"""Import of real reference files, the contract register, Enhetsregisteret extracts,
category rules and the command line."""
from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal

import pytest

from akrim_analytics import audit, auth, db
from akrim_analytics import importer
from akrim_analytics.importer import ImportRefused

import import_corpus as corpus
from conftest import REPO, run_cli
from test_import import ADMIN, ANNA, snapshot

REF = REPO.parent / "shared" / "reference"
needs_ref = pytest.mark.skipif(not REF.exists(), reason="shared/reference not present")


# ----------------------------------------------------------------------- real spend files

@needs_ref
@pytest.mark.parametrize("name", ["uk_oxford_spend_over_500_apr-jun-2015.csv", "uk_oxford_spend_over_500_jul-sep-2017.csv",
                                  "uk_oxford_spend_over_500_jan-mar-2018.csv", "uk_oxford_spend_over_500_jan-mar-2014.csv"])
def test_oxford_spend_csv_with_header_drift(con, name):
    """Four quarters, four schemas (typos included): each maps and sums like the file."""
    with (REF / name).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip().lower() for h in rows[0]]
    ia, isn, isi, idt = (header.index(h) for h in (
        "amount", "supplier name" if "supplier name" in header else "supplier_name",
        "supplier id" if "supplier id" in header else "supplier_id",
        "paid date" if "paid date" in header else "paid_date"))
    good = [r for r in rows[1:] if any(c.strip() for c in r) and r[ia].strip() and r[idt].strip()
            and (r[isn].strip() or r[isi].strip())]
    expected = sum(Decimal(r[ia].replace(",", "")) for r in good)
    result = importer.import_file(con, ANNA, REF / name, accept_valid_rows=True)
    assert result.rows == len(good)
    assert con.execute("SELECT sum(amount) FROM spend").fetchone()[0] == expected
    # dd/mm/yyyy dates
    d = dt.datetime.strptime(good[0][idt].strip(), "%d/%m/%Y").date()
    assert con.execute("SELECT count(*) FROM spend WHERE posting_date = ?", [d]).fetchone()[0] >= 1


@needs_ref
def test_craven_cp1252_duplicate_headers_and_unlabelled_total(con):
    prepared = importer.prepare(con, REF / "uk_craven_payments_2017-03.csv")
    rep = prepared.report
    assert prepared.mapping["amount"] == "Amount" and prepared.mapping["account"] == "Account Code"
    assert "Account Code (2)" in prepared.column_names
    assert rep["rows_total"] == 1 and rep["file_total"] == pytest.approx(726583.94)
    assert "Det stemmer" in rep["reconciliation"]
    importer.commit(con, ANNA, prepared)
    assert con.execute("SELECT sum(amount) FROM spend").fetchone()[0] == Decimal("726583.94")
    assert con.execute("SELECT count(*) FROM suppliers WHERE name LIKE 'Neville´s%'").fetchone()[0] == 1


@needs_ref
def test_bufetat_pivot_dump_is_refused_with_a_clear_message(con):
    before = snapshot(con)
    with pytest.raises(ImportRefused) as e:
        importer.import_file(con, ANNA, REF / "no_bufetat_lokalkostnader_2025_aggregert.csv")
    assert e.value.code == "missing_field" and "Leverandørnavn" in str(e.value)
    assert snapshot(con) == before


@needs_ref
def test_bufetat_amount_formats_parse():
    """'  2 850 830' and '-   18 647' as the Agresso/Cognos dump writes them."""
    import duckdb
    import pyarrow as pa

    from akrim_analytics.importer import parsing

    with (REF / "no_bufetat_lokalkostnader_2025_aggregert.csv").open(encoding="cp1252") as f:
        cells = [c for row in csv.reader(f, delimiter=";") for c in row[1:] if c.strip()
                 and c.strip().replace(" ", "").lstrip("-").isdigit()]
    assert len(cells) > 20
    c = duckdb.connect()
    c.register("_raw", pa.table({"c0": pa.array(cells)}))
    got = [r[0] for r in c.execute(f"SELECT {parsing.amount('c0', pa.string(), ',')} FROM _raw").fetchall()]
    assert got == [Decimal(x.replace(" ", "")) for x in cells]


# ----------------------------------------------------------------------- contracts

def _contracts_file(path, rows):
    header = ["Kontraktsnr", "Kontraktsnavn", "Leverandør", "Org.nr.", "Startdato", "Sluttdato", "Estimert verdi",
              "CPV", "Arbeidsintensiv", "Kategori"]
    return corpus.workbook(path, {"Kontrakter": [["Kontraktsregister Demo kommune"], [], header] + rows})


def test_contract_register_import_links_spend_and_undo_restores(con, tmp_path):
    spend = [["01.03.2025", "Bygg AS", corpus.ORG_A, "1", 100], ["01.03.2023", "Bygg AS", corpus.ORG_A, "2", 50]]
    importer.import_file(con, ANNA, corpus.spend_rows(tmp_path / "s.xlsx", spend))
    rows = [["K-1", "Rammeavtale bygg", "Bygg AS", corpus.ORG_A, "01.01.2024", "31.12.2026", "2 500 000",
             "45000000-7", "ja", "BYGG"],
            ["K-2", "Renhold skoler", "Vask AS", corpus.ORG_B, dt.datetime(2024, 6, 1), None, 800000, 90910000,
             "nei", "Personell"]]
    result = importer.import_file(con, ANNA, _contracts_file(tmp_path / "k.xlsx", rows), kind="contracts")
    assert result.rows == 2 and result.total == 3_300_000
    got = con.execute("""SELECT contract_id, name, supplier_id, start_date, end_date, estimated_value, cpv,
                                labour_intensive, category FROM contracts ORDER BY 1""").fetchall()
    assert got == [("K-1", "Rammeavtale bygg", corpus.ORG_A, dt.date(2024, 1, 1), dt.date(2026, 12, 31),
                    Decimal("2500000.00"), "45000000", True, "BYGG"),
                   ("K-2", "Renhold skoler", corpus.ORG_B, dt.date(2024, 6, 1), None, Decimal("800000.00"),
                    "90910000", False, "PERSONELL")]
    # spend of 2025 linked to K-1; the 2023 line is before the contract
    assert con.execute("SELECT source_row, contract_id FROM spend ORDER BY 1").fetchall() == [(2, "K-1"), (3, None)]
    assert con.execute("SELECT name FROM suppliers WHERE supplier_id = ?", [corpus.ORG_B]).fetchone()[0] == "Vask AS"

    # an analyst's own edit of a column the register does not have is kept on re-import
    con.execute("UPDATE contracts SET subcontractor_levels = 3 WHERE contract_id = 'K-1'")
    rows2 = [["K-1", "Rammeavtale bygg (forlenget)", "Bygg AS", corpus.ORG_A, "01.01.2024", "31.12.2027",
              "3 000 000", "45000000", "ja", "BYGG"]]
    r2 = importer.import_file(con, ANNA, _contracts_file(tmp_path / "k2.xlsx", rows2), kind="contracts")
    assert con.execute("SELECT name, end_date, subcontractor_levels FROM contracts WHERE contract_id = 'K-1'"
                       ).fetchone() == ("Rammeavtale bygg (forlenget)", dt.date(2027, 12, 31), 3)
    importer.undo_upload(con, ANNA, r2.upload_id)
    assert con.execute("SELECT name, end_date, subcontractor_levels FROM contracts WHERE contract_id = 'K-1'"
                       ).fetchone() == ("Rammeavtale bygg", dt.date(2026, 12, 31), 3)
    importer.undo_upload(con, ANNA, result.upload_id)
    assert con.execute("SELECT count(*) FROM contracts").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM spend WHERE contract_id IS NOT NULL").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM suppliers WHERE supplier_id = ?", [corpus.ORG_B]).fetchone()[0] == 0


def test_contract_rows_checked(con, tmp_path):
    rows = [["K-1", "A", "A AS", None, "01.01.2025", "01.01.2024", 10, None, None, None],
            ["K-2", "B", "B AS", None, "01.01.2025", None, 10, None, "kanskje", None],
            ["K-2", "C", "C AS", None, "01.01.2025", None, 10, None, None, None]]
    prepared = importer.prepare(con, _contracts_file(tmp_path / "k.xlsx", rows), kind="contracts")
    assert {(r["row"], r["reason"]) for r in prepared.report["rejects"]} == {
        (4, "end_before_start"), (5, "unreadable_bool"), (6, "duplicate_id")}


# ----------------------------------------------------------------------- Enhetsregisteret

def _suppliers_from_sample(con, n=40):
    with (REF / "brreg_enheter_sample_2024.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    picked = rows[:n]
    for r in picked:
        con.execute("INSERT INTO suppliers (supplier_id, orgnr, name) VALUES (?, ?, ?)",
                    [r["organisasjonsnummer"], r["organisasjonsnummer"], r["navn"].title()])
    return rows, picked


@needs_ref
def test_brreg_bulk_csv_2024_enriches_suppliers_and_undo_restores(con):
    rows, picked = _suppliers_from_sample(con)
    result = importer.import_file(con, ANNA, REF / "brreg_enheter_sample_2024.csv", kind="suppliers")
    assert result.rows == len(rows)
    assert result.report["details"]["nace_version"] == "SN2007"
    assert result.report["details"]["matched_suppliers"] == len(picked)
    for r in picked:
        got = con.execute("""SELECT nace_code, nace_version, org_form, employees, vat_registered, bankrupt,
                                    founded_date, enriched_upload_id FROM suppliers WHERE supplier_id = ?""",
                          [r["organisasjonsnummer"]]).fetchone()
        assert got[0] == (r["naeringskode1.kode"] or None) and got[1] == "SN2007" and got[2] == r["organisasjonsform.kode"]
        if r["antallAnsatte"]:
            assert got[3] == int(r["antallAnsatte"])
        elif r["harRegistrertAntallAnsatte"] == "false":
            assert got[3] == 0
        else:
            assert got[3] is None          # blank = unknown, never 0
        assert got[4] == (r["registrertIMvaRegisteret"] == "true") and got[5] == (r["konkurs"] == "true")
        assert got[6] == (dt.date.fromisoformat(r["stiftelsesdato"]) if r["stiftelsesdato"] else None)
        assert got[7] == result.upload_id
    importer.undo_upload(con, ANNA, result.upload_id)
    assert con.execute("SELECT count(*) FROM suppliers WHERE nace_code IS NOT NULL OR enriched_upload_id IS NOT NULL"
                       ).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM register_units").fetchone()[0] == 0


@needs_ref
def test_brreg_enrichment_reaches_suppliers_created_later(con, tmp_path):
    with (REF / "brreg_enheter_sample_2024.csv").open(encoding="utf-8", newline="") as f:
        r = next(x for x in csv.DictReader(f) if x["naeringskode1.kode"].startswith("43"))
    importer.import_file(con, ANNA, REF / "brreg_enheter_sample_2024.csv", kind="suppliers")
    importer.import_file(con, ANNA, corpus.spend_rows(tmp_path / "s.xlsx", [
        ["01.03.2025", "Håndverker", r["organisasjonsnummer"], "1", 1000]]))
    assert con.execute("SELECT nace_code, category FROM suppliers JOIN spend USING (supplier_id)").fetchone() == (
        r["naeringskode1.kode"], "BYGG")


@needs_ref
def test_brreg_2026_bulk_format_is_sn2025(con, tmp_path):
    header = (REF / "brreg_enheter_csv_header_2026-10-01.csv").read_text(encoding="utf-8").splitlines()[0]
    cols = next(csv.reader([header]))
    recs = [{"organisasjonsnummer": corpus.ORG_A, "navn": "BRØNNØYSUNDREGISTRENE", "organisasjonsform.kode": "ORGL",
             "naeringskode1.kode": "84.110", "antallAnsatte": "550", "harRegistrertAntallAnsatte": "true",
             "konkurs": "false", "registrertIMvaRegisteret": "false"},
            {"organisasjonsnummer": corpus.ORG_B, "navn": "EQUINOR ASA", "organisasjonsform.kode": "ASA",
             "naeringskode1.kode": "62.100", "antallAnsatte": "", "harRegistrertAntallAnsatte": "true",
             "konkurs": "false", "registrertIMvaRegisteret": "true"}]
    path = tmp_path / "enheter_2026-10-01.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(cols)
        for rec in recs:
            w.writerow([rec.get(c, "") for c in cols])
    con.execute("INSERT INTO suppliers (supplier_id, orgnr, name) VALUES (?, ?, 'Equinor')", [corpus.ORG_B, corpus.ORG_B])
    result = importer.import_file(con, ANNA, path, kind="suppliers")
    assert result.report["details"]["nace_version"] == "SN2025"
    assert result.report["details"]["extract_date"] == "2026-10-01"
    assert con.execute("SELECT nace_code, nace_version, employees, register_extract_date FROM suppliers").fetchone() == (
        "62.100", "SN2025", None, dt.date(2026, 10, 1))


def test_brreg_xlsx_with_label_headers(con, tmp_path):
    header = ["Organisasjonsnummer", "Navn", "Organisasjonsform.kode", "Næringskode 1", "Næringskode 1.beskrivelse",
              "Antall ansatte", "Registreringsdato i Enhetsregisteret", "Stiftelsesdato", "Registrert i MVA-registeret",
              "Konkurs", "Under avvikling", "Under tvangsavvikling eller tvangsoppløsning", "Målform"]
    rows = [[corpus.ORG_A, "RENHOLD AS", "AS", "81.210", "Rengjøring", 12, "2020-01-02", "2019-12-01", "Ja",
             "Nei", "Nei", "Nei", "Bokmål"],
            [int(corpus.ORG_C), "SMÅ ENK", "ENK", "43.341", "Maling", None, dt.datetime(2024, 5, 1), None, "Nei",
             "Ja", "Nei", "Ja", "Bokmål"]]
    path = corpus.workbook(tmp_path / "enheter.xlsx", {"Enheter": [header] + rows})
    for o in (corpus.ORG_A, corpus.ORG_C):
        con.execute("INSERT INTO suppliers (supplier_id, orgnr, name) VALUES (?, ?, 'x')", [o, o])
    importer.import_file(con, ANNA, path, kind="suppliers")
    got = con.execute("""SELECT supplier_id, org_form, nace_code, nace_version, employees, registered_date, vat_registered,
                                bankrupt, forced_dissolution FROM suppliers ORDER BY 1""").fetchall()
    assert got == [(corpus.ORG_A, "AS", "81.210", "SN2007", 12, dt.date(2020, 1, 2), True, False, False),
                   (corpus.ORG_C, "ENK", "43.341", "SN2007", None, dt.date(2024, 5, 1), False, True, True)]


# ----------------------------------------------------------------------- category rules

def test_category_rules_admin_only_audited_and_recategorise(con, tmp_path):
    rows = [["01.01.2025", "Vask AS", None, "1", 100, "19990"], ["01.01.2025", "Vask AS", None, "2", 50, "19880"]]
    importer.import_file(con, ANNA, corpus.spend_rows(tmp_path / "r.xlsx", rows,
                                                      header=["Bilagsdato", "Leverandørnavn", "Org.nr.",
                                                              "Fakturanr", "Beløp", "Art"]))
    assert importer.unclassified_summary(con, 2025)["share"] == 1.0
    with pytest.raises(auth.PermissionDenied):
        importer.add_rule(con, ANNA, "account", "1999", "PERSONELL")
    rule = importer.add_rule(con, ADMIN, "account", "1999", "PERSONELL", "Vikarer lokal konto")
    assert con.execute("SELECT category, category_source FROM spend ORDER BY source_row").fetchall() == [
        ("PERSONELL", "account"), ("UKLASS", "none")]
    assert importer.unclassified_summary(con, 2025)["share"] == pytest.approx(50 / 150)
    with pytest.raises(ImportRefused) as e:
        importer.add_rule(con, ADMIN, "nace", "4x", "BYGG")
    assert e.value.code == "rule_prefix_invalid_nace"
    with pytest.raises(ImportRefused):
        importer.add_rule(con, ADMIN, "account", "1999", "IKT")       # exists
    importer.update_rule(con, ADMIN, rule, category="IKT")
    assert con.execute("SELECT category FROM spend WHERE source_row = 2").fetchone()[0] == "IKT"
    importer.delete_rule(con, ADMIN, rule)
    assert con.execute("SELECT category FROM spend WHERE source_row = 2").fetchone()[0] == "UKLASS"
    assert audit.entries(con, action="rule_add").shape[0] == 1
    assert audit.entries(con, action="rule_edit").shape[0] == 1
    assert audit.entries(con, action="rule_delete").shape[0] == 1


# ----------------------------------------------------------------------- command line

def test_cli_import_creates_the_database_and_prints_rows_and_total(tmp_path):
    path = corpus.messy_spend(tmp_path / "reskontro.xlsx")
    dbp = tmp_path / "ny" / "kommune.duckdb"
    p = run_cli("import", path, "--db", dbp)
    assert p.returncode == 0, p.stderr
    assert "Importert 7 rader fra «reskontro.xlsx» (opplasting 1), sum 1 238 536,64 kr." in p.stdout
    assert "Det stemmer" in p.stdout
    p = run_cli("import", path, "--db", dbp, "--json")
    assert p.returncode == 1 and "allerede importert" in p.stderr
    rows = [["01.01.2025", "A AS", None, "1", 100], ["bad", "B AS", None, "2", 200]]
    bad = corpus.spend_rows(tmp_path / "feil.xlsx", rows)
    p = run_cli("import", bad, "--db", dbp)
    assert p.returncode == 1 and "rad 3, kolonne A «Bilagsdato»" in p.stderr
    report = tmp_path / "rapport.xlsx"
    p = run_cli("import", bad, "--db", dbp, "--accept-valid-rows", "--json", "--report", report)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["rows"] == 1 and out["rejected_rows"] == 1 and out["accepted_valid_only"] is True
    assert report.stat().st_size > 1000
    c = db.connect(dbp)
    assert c.execute("SELECT uploaded_by FROM uploads WHERE upload_id = 2").fetchone()[0] == "system"
    c.close()
    p = run_cli("import-undo", 2, "--db", dbp)
    assert p.returncode == 0 and "angret" in p.stdout


_POOL_PROBE = """
import sys
from akrim_analytics.cli import main
code = main(["import", sys.argv[1], "--db", sys.argv[2]])
import os
import pyarrow as pa
print(code, pa.default_memory_pool().backend_name, os.environ.get("OPENBLAS_NUM_THREADS"))
"""


@pytest.mark.parametrize("given, used", [(None, "system"), ("mimalloc", "mimalloc")])
def test_cli_import_uses_the_system_allocator_unless_told_otherwise(tmp_path, monkeypatch, given, used):
    """pyarrow's default mimalloc cost a million-row command-line import ~0.5 s of kernel
    time (transparent huge pages zeroed on first touch; docs/performance.md, Import), so the
    command picks the system allocator before pyarrow allocates; an operator's own
    ARROW_DEFAULT_MEMORY_POOL wins."""
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    if given is None:
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    else:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", given)
    path = corpus.messy_spend(tmp_path / "reskontro.xlsx")
    p = subprocess.run([sys.executable, "-c", _POOL_PROBE, str(path), str(tmp_path / "k.duckdb")],
                       cwd=REPO, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == f"0 {used} 1"     # (and no spinning OpenBLAS threads)


@needs_ref
def test_spend_on_a_subunit_rolls_up_to_its_legal_unit(con, tmp_path):
    """An invoice with an underenhet's org number counts on the legal unit (overordnetEnhet)."""
    with (REF / "brreg_underenheter_sample_2024.csv").open(encoding="utf-8", newline="") as f:
        sub = next(r for r in csv.DictReader(f) if r["overordnetEnhet"] and r["organisasjonsform.kode"] == "BEDR")
    result = importer.import_file(con, ANNA, REF / "brreg_underenheter_sample_2024.csv", kind="suppliers",
                                  accept_valid_rows=True)
    assert result.report["details"]["subunits"] > 1000
    importer.import_file(con, ANNA, REF / "brreg_enheter_sample_2024.csv", kind="suppliers")
    importer.import_file(con, ANNA, corpus.spend_rows(tmp_path / "s.xlsx", [
        ["01.03.2025", sub["navn"], sub["organisasjonsnummer"], "1", 1000]]))
    assert con.execute("SELECT supplier_id FROM spend").fetchone()[0] == sub["overordnetEnhet"]
    assert con.execute("SELECT orgnr FROM suppliers").fetchall() == [(sub["overordnetEnhet"],)]


def test_kind_order_does_not_depend_on_what_was_imported_first():
    """The Import page offers the kinds in KIND_MODULES order with spend first (its
    default), even when another kind's module was imported earlier in the process."""
    code = ("import akrim_analytics.controls_import, akrim_analytics.importer.suppliers\n"
            "from akrim_analytics.importer import kinds\n"
            "kinds.register(kinds.Kind(name='zz_extra', label_key='x', fields=[kinds.Field('a', 'text', ('A',))], "
            "commit=None, undo=None))\n"
            "print(','.join(kinds.names()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "spend,contracts,suppliers,controls,zz_extra"
