"""Each risk indicator with hand-computed cases, including missing data (shown as
unknown, never as clean). Default configuration (data/risk_config.toml); as_of
30.09.2026, so the spend window is 01.10.2025–30.09.2026."""
from __future__ import annotations

import csv

import pytest

from akrim_analytics import db
from risk_data import D, assessment, contract, control, finding, lines, one, score, spend, supplier


# ------------------------------------------------------------------------ industry

def test_industry_nace_per_classification_version(con):
    supplier(con, "S1", nace_code="81.210", nace_version="SN2007")
    supplier(con, "S2", nace_code="49.320", nace_version="SN2007")   # taxi in SN2007
    supplier(con, "S3", nace_code="49.320", nace_version="SN2025")   # tour bus in SN2025
    supplier(con, "S4", nace_code="95.310", nace_version="SN2025")   # car repair moved here from 45.20
    supplier(con, "S5", nace_code="45.200", nace_version="SN2007")
    supplier(con, "S6", nace_code="49.320", nace_version=None)       # read as SN2007 (default)
    supplier(con, "S7", nace_code="41.000", nace_version="SN2025")   # SN2025's single building code
    supplier(con, "S8", nace_code="41.109", nace_version="SN2007")   # property development, not building work
    for s in ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"):
        contract(con, f"K{s}", s)
    score(con)
    assert one(con, "contract", "KS1", "industry")[2:4] == (
        2.0, "Renhold (NACE 81.210) – allmenngjort bransje: +2 sannsynlighet")
    assert one(con, "contract", "KS2", "industry")[3].startswith("Drosje (NACE 49.320) – utsatt bransje")
    assert one(con, "contract", "KS3", "industry")[3] == (
        "Persontransport med turbil (NACE 49.320) – allmenngjort bransje: +1 sannsynlighet")
    assert one(con, "contract", "KS4", "industry")[2:4] == (
        1.0, "Bilverksted og bilpleie (NACE 95.310) – utsatt bransje for arbeidslivskriminalitet: +1 sannsynlighet")
    assert one(con, "contract", "KS5", "industry")[3].startswith("Bilverksted og bilpleie (NACE 45.200)")
    assert one(con, "contract", "KS6", "industry")[3].startswith("Drosje (NACE 49.320)")
    assert one(con, "contract", "KS7", "industry")[2] == 2.0
    s8 = one(con, "contract", "KS8", "industry")
    assert s8[2] == 0.0 and "ikke på listen over utsatte bransjer: ±0 sannsynlighet" in s8[3]
    # suppliers get the same line as their contracts
    assert one(con, "supplier", "S1", "industry")[2] == 2.0


def test_industry_not_exposed_names_the_ssb_industry(con):
    supplier(con, "S1", nace_code="62.100", nace_version="SN2025")
    supplier(con, "S2", nace_code="62.010", nace_version="SN2007")
    supplier(con, "S3", nace_code="62.010", nace_version="SN2025")      # not an SN2025 code: no name
    for s in ("S1", "S2", "S3"):
        contract(con, f"K{s}", s)
    score(con)
    f = one(con, "contract", "KS1", "industry")
    assert f[2] == 0.0 and not f[4]
    assert f[3] == "Dataprogrammeringstjenester (NACE 62.100) – ikke på listen over utsatte bransjer: ±0 sannsynlighet"
    assert one(con, "contract", "KS2", "industry")[3].startswith("Programmeringstjenester (NACE 62.010)")
    assert one(con, "contract", "KS3", "industry")[3].startswith("NACE 62.010 – ikke på listen")


def test_industry_cpv_when_it_gives_more_than_nace(con):
    supplier(con, "S1")
    contract(con, "K1", "S1", cpv="45210000")
    supplier(con, "S2", nace_code="81.210", nace_version="SN2007")
    contract(con, "K2", "S2", cpv="90911200")       # CPV 90 gives 2, NACE renhold 2: NACE wins the tie
    score(con)
    assert one(con, "contract", "K1", "industry")[2:4] == (
        2.0, "CPV 45210000 (Bygge- og anleggsarbeid) – særlig risiko etter Skatteetatens CPV-liste: +2 sannsynlighet")
    assert one(con, "contract", "K2", "industry")[3].startswith("Renhold (NACE 81.210)")


def test_industry_missing_code_is_unknown(con):
    supplier(con, "S1", nace_code=None, nace_version=None)                   # looked up, no code
    supplier(con, "S2", nace_code=None, nace_version=None, register_extract_date=None)   # never looked up
    contract(con, "K1", "S1")
    contract(con, "K2", "S2")
    score(con)
    f = one(con, "contract", "K1", "industry")
    assert f[2] == 0.5 and f[4] and "bransje UKJENT" in f[3]
    assert lines(con, "contract", "K2", "industry") == []          # the register_unknown line stands for it
    assert one(con, "contract", "K2", "register_unknown")[4]


def test_every_risky_sn2007_code_has_a_risky_sn2025_successor():
    """The SN2025 code lists must follow SSB's SN2007 → SN2025 changes (reference file)."""
    from akrim_analytics.risk import default_config

    cfg = default_config()

    def match(code, version):
        hits = [(len(p), i["key"]) for i in cfg["industries"] for p in i[version] if code.startswith(p)]
        return max(hits)[1] if hits else None

    succ: dict[str, list[str]] = {}
    with (db.DATA_DIR / "reference" / "ssb_sn2007_to_sn2025_changed.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            succ.setdefault(row["sn2007_code"], []).append(row["sn2025_code"])
    checked = 0
    for old, news in succ.items():
        if match(old, "sn2007"):
            checked += 1
            assert any(match(n, "sn2025") for n in news), f"{old} is risky in SN2007 but none of {news} is in SN2025"
    assert checked >= 20
    # and codes whose meaning changed are told apart
    assert match("49.320", "sn2007") == "drosje" and match("49.320", "sn2025") == "turbil"
    assert match("45.200", "sn2007") == "bilverksted" and match("95.310", "sn2025") == "bilverksted"


# ------------------------------------------------------------------------ contract facts

def test_labour(con):
    supplier(con, "S1")
    supplier(con, "S2", nace_code="43.210", nace_version="SN2007")
    contract(con, "K1", "S1", labour_intensive=True)
    contract(con, "K2", "S2", labour_intensive=None)                 # assumed from the industry
    contract(con, "K3", "S1", labour_intensive=None)                 # IT, nothing registered: unknown
    contract(con, "K4", "S1", labour_intensive=False)
    contract(con, "K5", "S1", labour_intensive=None, cpv="30213000")  # goods: never labour-intensive
    score(con)
    assert one(con, "contract", "K1", "labour")[2:] == (1.0, "Arbeidsintensiv tjeneste: +1 sannsynlighet", False)
    assert one(con, "contract", "K2", "labour")[3].startswith("Arbeidsintensiv tjeneste (antatt ut fra bransjen")
    f = one(con, "contract", "K3", "labour")
    assert f[2] == 0.5 and f[4] and "UKJENT" in f[3]
    assert lines(con, "contract", "K4", "labour") == []
    assert lines(con, "contract", "K5", "labour") == []


def test_subcontractors(con):
    supplier(con, "S1")
    contract(con, "K3", "S1", subcontractor_levels=3)
    contract(con, "K2", "S1", subcontractor_levels=2)
    contract(con, "K1", "S1", subcontractor_levels=1)
    contract(con, "K0", "S1", subcontractor_levels=0)
    contract(con, "KU", "S1", subcontractor_levels=None, labour_intensive=True)
    contract(con, "KG", "S1", subcontractor_levels=None, labour_intensive=False)
    score(con)
    assert one(con, "contract", "K3", "subcontractors")[2:4] == (
        3.0, "3 ledd underleverandører – over Norgesmodellens grense på 2 ledd: +3 sannsynlighet")
    assert one(con, "contract", "K2", "subcontractors")[2] == 1.0
    assert one(con, "contract", "K1", "subcontractors")[3] == (
        "1 ledd underleverandør (innenfor Norgesmodellens grense): +1 sannsynlighet")
    assert lines(con, "contract", "K0", "subcontractors") == []
    f = one(con, "contract", "KU", "subcontractors")
    assert f[2] == 0.5 and f[4]
    assert lines(con, "contract", "KG", "subcontractors") == []
    # a supplier: its longest chain
    assert one(con, "supplier", "S1", "subcontractors")[2] == 3.0


def test_foreign_workers(con):
    supplier(con, "S1")
    contract(con, "K1", "S1", foreign_workers=True)
    contract(con, "K2", "S1", foreign_workers=None, labour_intensive=True)
    contract(con, "K3", "S1", foreign_workers=False, labour_intensive=True)
    score(con)
    assert one(con, "contract", "K1", "foreign_workers")[2:4] == (
        1.0, "Bruker utenlandske eller utsendte arbeidstakere: +1 sannsynlighet")
    f = one(con, "contract", "K2", "foreign_workers")
    assert f[2] == 0.5 and f[4]
    assert lines(con, "contract", "K3", "foreign_workers") == []


def test_clauses(con):
    supplier(con, "S1")
    supplier(con, "S2", nace_code="81.210", nace_version="SN2007")
    contract(con, "K1", "S1", estimated_value=5_000_000, wage_clause=False)
    contract(con, "K2", "S1", estimated_value=5_000_000, wage_clause=None)
    contract(con, "K3", "S1", estimated_value=5_000_000, wage_clause=False, cpv="30213000")   # goods
    contract(con, "K4", "S2", estimated_value=5_000_000, seriousness_clause=False)
    score(con)
    assert one(con, "contract", "K1", "clauses")[2:4] == (
        1.0, "Mangler klausul om lønns- og arbeidsvilkår (kreves av lønnsforskriften): +1 sannsynlighet")
    f = one(con, "contract", "K2", "clauses")
    assert f[2] == 0.0 and f[4]
    assert lines(con, "contract", "K3", "clauses") == []
    assert one(con, "contract", "K4", "clauses")[2] == 0.5


# ------------------------------------------------------------------------ register

def test_register_unknown(con):
    supplier(con, "S1", register_extract_date=None, nace_code=None, org_form=None, vat_registered=None,
             employees=None, bankrupt=None)
    supplier(con, "L:77", orgnr=None, register_extract_date=None)
    contract(con, "K1", "S1", labour_intensive=True)
    contract(con, "K2", "L:77")
    contract(con, "K3", None)
    spend(con, "S1", 100_000, D(2026, 3, 1), "K1")
    score(con)
    f = one(con, "contract", "K1", "register_unknown")
    assert f[2:] == (1.0, "Leverandøren er ikke slått opp i Enhetsregisteret – registerstatus UKJENT: "
                          "+1 sannsynlighet", True)
    # the register signals themselves stay silent (the unknown line stands for them)
    for factor in ("vat", "employees", "register_status", "annual_accounts", "newly_founded", "enk_nuf"):
        assert lines(con, "contract", "K1", factor) == []
    assert "mangler organisasjonsnummer" in one(con, "contract", "K2", "register_unknown")[3]
    assert "ingen registrert leverandør" in one(con, "contract", "K3", "register_unknown")[3]


def test_register_status(con):
    supplier(con, "S1", bankrupt=True)
    supplier(con, "S2", under_liquidation=True)
    supplier(con, "S3", forced_dissolution=True)
    supplier(con, "S4", deleted_date=D(2026, 5, 1))
    supplier(con, "S5", deleted_date=D(2026, 12, 1))     # after as_of
    supplier(con, "S6", bankrupt=True, under_liquidation=True)
    for s in ("S1", "S2", "S3", "S4", "S5", "S6"):
        contract(con, f"K{s}", s)
    score(con)
    assert one(con, "contract", "KS1", "register_status")[2:4] == (3.0, "Konkurs (Enhetsregisteret): +3 sannsynlighet")
    assert one(con, "contract", "KS2", "register_status")[2] == 2.0
    assert one(con, "contract", "KS3", "register_status")[2] == 3.0
    assert one(con, "contract", "KS4", "register_status")[3] == (
        "Slettet fra Enhetsregisteret 01.05.2026: +3 sannsynlighet")
    assert lines(con, "contract", "KS5", "register_status") == []
    assert sorted(f[2] for f in lines(con, "contract", "KS6", "register_status")) == [2.0, 3.0]


def test_enk_nuf(con):
    supplier(con, "S1", org_form="ENK", nace_code="43.210", nace_version="SN2007")
    supplier(con, "S2", org_form="ENK")
    supplier(con, "S3", org_form="NUF", nace_code="43.210", nace_version="SN2007")
    supplier(con, "S4", org_form="NUF")
    for s in ("S1", "S2", "S3", "S4"):
        contract(con, f"K{s}", s)
    score(con)
    assert one(con, "contract", "KS1", "enk_nuf")[2:4] == (
        1.0, "Enkeltpersonforetak (ENK) i utsatt bransje: +1 sannsynlighet")
    assert lines(con, "contract", "KS2", "enk_nuf") == []
    assert one(con, "contract", "KS3", "enk_nuf")[3].startswith("Norskregistrert utenlandsk foretak (NUF) i utsatt")
    assert one(con, "contract", "KS4", "enk_nuf")[2] == 0.5


def test_vat(con):
    supplier(con, "S1", vat_registered=False)
    supplier(con, "S2", vat_registered=False)
    supplier(con, "S3", vat_registered=None)
    supplier(con, "S4", vat_registered=False)
    for s in ("S1", "S2", "S3", "S4"):
        contract(con, f"K{s}", s)
    spend(con, "S1", 60_000, D(2026, 2, 1))
    spend(con, "S2", 40_000, D(2026, 2, 1))
    spend(con, "S3", 60_000, D(2026, 2, 1))
    spend(con, "S4", 70_000, D(2025, 6, 1))          # before the window
    spend(con, "S4", 30_000, D(2026, 10, 5))         # after as_of
    score(con)
    assert one(con, "contract", "KS1", "vat")[2:4] == (
        2.0, "Ikke registrert i Merverdiavgiftsregisteret, men fakturerte 60 000 kr siste 12 mnd "
             "(over 50 000 kr): +2 sannsynlighet")
    assert lines(con, "contract", "KS2", "vat") == []
    f = one(con, "contract", "KS3", "vat")
    assert f[2] == 0.5 and f[4]
    assert lines(con, "contract", "KS4", "vat") == []


def test_employees(con):
    supplier(con, "S1", employees=0)
    supplier(con, "S2", employees=None)
    supplier(con, "S3", employees=0)
    contract(con, "K1", "S1", labour_intensive=True)
    contract(con, "K2", "S2", labour_intensive=True)
    contract(con, "K3", "S3", labour_intensive=False)
    score(con)
    assert one(con, "contract", "K1", "employees")[2:4] == (
        2.0, "Ingen registrerte ansatte i Enhetsregisteret, men leverer arbeidsintensive tjenester: +2 sannsynlighet")
    f = one(con, "contract", "K2", "employees")
    assert f[2] == 0.5 and f[4] and "0–4" in f[3]
    assert lines(con, "contract", "K3", "employees") == []


def test_newly_founded(con):
    supplier(con, "S1", founded_date=D(2025, 1, 10), registered_date=D(2025, 1, 20))
    supplier(con, "S2")
    supplier(con, "S3", founded_date=None, registered_date=None)
    supplier(con, "S4", founded_date=None, registered_date=D(2025, 2, 1))
    for s in ("S1", "S2", "S3", "S4"):
        contract(con, f"K{s}", s, start_date=D(2025, 6, 1))
    spend(con, "S1", 10_000, D(2025, 4, 20))
    spend(con, "S2", 10_000, D(2025, 4, 20))
    spend(con, "S3", 10_000, D(2025, 4, 20))
    spend(con, "S4", 10_000, D(2025, 3, 1))
    score(con)
    assert one(con, "contract", "KS1", "newly_founded")[2:4] == (
        1.0, "Stiftet 10.01.2025, første faktura eller kontraktstart 20.04.2025 – 3 mnd etter stiftelsen: "
             "+1 sannsynlighet")
    assert lines(con, "contract", "KS2", "newly_founded") == []
    f = one(con, "contract", "KS3", "newly_founded")
    assert f[2] == 0.0 and f[4] and "UKJENT" in f[3]
    assert one(con, "contract", "KS4", "newly_founded")[2] == 1.0      # registration date as fallback


def test_annual_accounts(con):
    supplier(con, "S1", last_accounts_year=2024)
    supplier(con, "S2", last_accounts_year=2025)
    supplier(con, "S3", last_accounts_year=None)
    supplier(con, "S4", org_form="ENK", last_accounts_year=None)
    supplier(con, "S5", last_accounts_year=None, founded_date=D(2026, 2, 1), registered_date=D(2026, 2, 1))
    for s in ("S1", "S2", "S3", "S4", "S5"):
        contract(con, f"K{s}", s)
    score(con)
    assert one(con, "contract", "KS1", "annual_accounts")[2:4] == (
        1.0, "Siste innsendte årsregnskap er for 2024 (forventet for 2025): +1 sannsynlighet")
    assert lines(con, "contract", "KS2", "annual_accounts") == []
    assert one(con, "contract", "KS3", "annual_accounts")[3].startswith("Ingen innsendte årsregnskap registrert")
    assert lines(con, "contract", "KS4", "annual_accounts") == []
    assert lines(con, "contract", "KS5", "annual_accounts") == []       # not yet due
    # before the filing deadline (August) only 2024 is expected
    run = score(con, D(2026, 5, 31))
    assert lines(con, "contract", "KS1", "annual_accounts", run) == []


# ------------------------------------------------------------------------ history

def test_findings_open_closed_and_as_of(con):
    supplier(con, "S1")
    contract(con, "K1", "S1")
    contract(con, "K2", "S1")
    finding(con, "K1", "high", D(2026, 3, 1))
    finding(con, "K1", "medium", D(2026, 8, 1), closed=D(2026, 10, 10))     # closed after as_of: open then
    finding(con, "K1", "high", D(2026, 10, 15))                              # opened after as_of: ignored
    finding(con, "K2", "low", D(2024, 5, 1), closed=D(2025, 9, 30))          # closed 365 days before as_of
    score(con)
    fs = sorted(lines(con, "contract", "K2", "findings"), key=lambda f: -f[2])
    assert fs[0][2:4] == (3.0, "2 åpne avvik hos leverandøren (alvorligste: høy, sist åpnet 01.08.2026): "
                               "+3 sannsynlighet")
    # closed: 1 × (1 − 365/1095) = 0.67 → 0.7
    assert fs[1][2:4] == (0.7, "1 lukket avvik hos leverandøren, lukket 30.09.2025 (vekten avtar med tiden): "
                               "+0,7 sannsynlighet")
    # before any finding was opened there is nothing
    run = score(con, D(2024, 3, 31))
    assert lines(con, "contract", "K1", "findings", run) == []


def test_clean_controls_fade(con):
    supplier(con, "S1")
    contract(con, "K1", "S1")
    control(con, "K1", 2, D(2025, 9, 30), "clean")            # 365 of 730 days: −1 × 0.5 = −0.5
    control(con, "K1", 1, D(2024, 10, 1), "clean")            # 729 days: −0.5 × 0.001 → 0
    control(con, "K1", 3, D(2026, 10, 2), "clean")            # after as_of: ignored
    control(con, "K1", 3, D(2026, 9, 1), "findings")          # not clean
    score(con)
    assert one(con, "contract", "K1", "clean_controls")[2:4] == (
        -0.5, "Kontroll uten avvik (Trinn 2) 30.09.2025 på kontrakt K1 (effekten avtar med tiden): "
              "−0,5 sannsynlighet")
    # a year later the step 3 control of 02.10.2026 counts: −1.5 × (1 − 363/730) = −0.75 → −0.8
    run = score(con, D(2027, 9, 30))
    assert one(con, "contract", "K1", "clean_controls", run)[2] == -0.8
    run = score(con, D(2028, 10, 2))                          # 731 days later: faded away
    assert lines(con, "contract", "K1", "clean_controls", run) == []


def test_self_report(con):
    supplier(con, "S1")
    contract(con, "K1", "S1", estimated_value=5_000_000)
    contract(con, "K2", "S1", estimated_value=5_000_000)
    contract(con, "K3", "S1", estimated_value=5_000_000)
    contract(con, "K4", "S1", estimated_value=5_000_000, start_date=D(2026, 9, 15))   # within a month of start
    contract(con, "K5", "S1", estimated_value=5_000_000, cpv="30213000")             # goods: not covered
    control(con, "K2", 1, D(2026, 3, 1), "clean")
    control(con, "K3", 1, D(2025, 6, 1), "clean")                                   # older than 12 months
    score(con)
    assert one(con, "contract", "K1", "self_report")[2:4] == (
        1.0, "Ingen egenrapportering (Trinn 1) registrert siste 12 mnd: +1 sannsynlighet")
    assert lines(con, "contract", "K2", "self_report") == []
    assert one(con, "contract", "K3", "self_report")[2] == 1.0
    assert lines(con, "contract", "K4", "self_report") == []
    assert lines(con, "contract", "K5", "self_report") == []
    assert one(con, "supplier", "S1", "self_report")[3] == (
        "2 av 3 omfattede kontrakter mangler egenrapportering (Trinn 1) siste 12 mnd: +1 sannsynlighet")


def test_spend_without_contract(con):
    supplier(con, "S1")
    supplier(con, "S2")
    contract(con, "K2", "S2")
    spend(con, "S1", 300_000, D(2026, 1, 15))
    spend(con, "S2", 200_000, D(2026, 1, 15), "K2")
    spend(con, "S2", 50_000, D(2026, 1, 20))
    score(con)
    a = assessment(con, "supplier", "S1")
    assert a["no_contract"] and float(a["spend_12m"]) == 300_000
    assert one(con, "supplier", "S1", "no_contract")[2:4] == (
        1.0, "Kjøp for 300 000 kr uten registrert kontrakt siste 12 mnd: +1 sannsynlighet")
    b = assessment(con, "supplier", "S2")
    assert not b["no_contract"] and float(b["spend_without_contract_12m"]) == 50_000
    assert float(b["spend_12m"]) == 250_000
    assert float(assessment(con, "contract", "K2")["spend_12m"]) == 200_000


# ------------------------------------------------------------------------ coverage and consequence

def test_coverage_and_thresholds(con):
    supplier(con, "S1")
    supplier(con, "S2", nace_code="81.210", nace_version="SN2007")
    contract(con, "KG", "S1", estimated_value=5_000_000, cpv="30213000")
    contract(con, "KA", "S1", estimated_value=2_500_000)
    contract(con, "KB", "S1", estimated_value=2_250_000)                                # below 2.3 m (2024 →)
    contract(con, "K22", "S1", estimated_value=2_250_000, start_date=D(2023, 1, 1))      # above 2.2 m (2022 →)
    contract(con, "KR", "S2", estimated_value=1_000_000)                                # cleaning: any value
    contract(con, "KU", "S1", estimated_value=None)
    contract(con, "KS", "S1", estimated_value=1_000_000)
    spend(con, "S1", 2_400_000, D(2026, 2, 1), "KS")                                     # spend above threshold
    score(con)
    g = assessment(con, "contract", "KG")
    assert (g["covered"], g["required_step"], g["contract_kind"]) == (False, 0, "goods")
    assert one(con, "contract", "KG", "coverage")[3].startswith("Varekjøp (CPV 30213000) – ikke omfattet")
    a = assessment(con, "contract", "KA")
    assert a["covered"] and a["required_step"] >= 1 and float(a["threshold_nok"]) == 2_300_000
    assert one(con, "contract", "KA", "coverage")[3] == (
        "Tjenestekontrakt på 2 500 000 kr – over terskelverdien 2 300 000 kr (kommunal, fra 14.03.2024, "
        "uverifisert) – omfattet av lønnsforskriften: ±0 konsekvens")
    b = assessment(con, "contract", "KB")
    assert (b["covered"], b["required_step"]) == (False, 0)
    c = assessment(con, "contract", "K22")
    assert c["covered"] and float(c["threshold_nok"]) == 2_200_000
    assert "2 200 000 kr (kommunal, fra 23.03.2022)" in one(con, "contract", "K22", "coverage")[3]
    assert assessment(con, "contract", "KR")["covered"]
    assert "allmenngjort bransje gjelder påseplikten uansett verdi" in one(con, "contract", "KR", "coverage")[3]
    u = assessment(con, "contract", "KU")
    assert u["covered"] and one(con, "contract", "KU", "coverage")[4]
    assert assessment(con, "contract", "KS")["covered"]


def test_state_thresholds(con):
    from akrim_analytics import risk
    from akrim_analytics.auth import SYSTEM

    supplier(con, "S1")
    contract(con, "K1", "S1", estimated_value=1_500_000)
    score(con)
    assert not assessment(con, "contract", "K1")["covered"]
    cfg = risk.load_config(con)
    cfg["general"]["authority"] = "state"
    risk.save_config(con, SYSTEM, cfg, "state authority")
    a = assessment(con, "contract", "K1")
    assert a["covered"] and float(a["threshold_nok"]) == 1_300_000
    assert "(statlig, fra 14.03.2024, uverifisert)" in one(con, "contract", "K1", "coverage")[3]


def test_consequence_value_spend_workers_duration(con):
    supplier(con, "S1")
    contract(con, "K1", "S1", estimated_value=12_000_000, workers=25, labour_intensive=True,
             start_date=D(2025, 1, 1), end_date=D(2029, 12, 31))
    contract(con, "K2", "S1", estimated_value=None, workers=None, labour_intensive=True, end_date=None)
    spend(con, "S1", 1_500_000, D(2026, 6, 1), "K1")
    score(con)
    assert one(con, "contract", "K1", "contract_value")[1:4] == (
        "consequence", 2.0, "Kontraktsverdi 12 000 000 kr: +2 konsekvens")
    assert one(con, "contract", "K1", "spend")[2:4] == (1.0, "Kjøp for 1 500 000 kr siste 12 mnd: +1 konsekvens")
    assert one(con, "contract", "K1", "workers")[2:4] == (1.0, "25 arbeidstakere: +1 konsekvens")
    assert one(con, "contract", "K1", "duration")[2:4] == (
        1.0, "Varighet 60 mnd (01.01.2025–31.12.2029): +1 konsekvens")
    v = one(con, "contract", "K2", "contract_value")
    assert v[2] == 1.0 and v[4]
    w = one(con, "contract", "K2", "workers")
    assert w[2] == 0.0 and w[4]
    assert one(con, "contract", "K2", "duration")[3] == (
        "Ingen sluttdato registrert (løpende fra 01.01.2025): +1 konsekvens")
    assert one(con, "contract", "K2", "spend")[2] == 0.0


# ------------------------------------------------------------------------ scores come from the lines

def test_scores_are_the_sum_of_the_stored_lines(con):
    supplier(con, "S1", nace_code="43.210", nace_version="SN2007", org_form="ENK", employees=0)
    contract(con, "K1", "S1", labour_intensive=True, subcontractor_levels=3, foreign_workers=True,
             estimated_value=30_000_000, workers=60)
    spend(con, "S1", 8_000_000, D(2026, 5, 1), "K1")
    finding(con, "K1", "high", D(2026, 4, 1))
    run = score(con)
    rows = con.execute(
        """SELECT a.entity_type, a.entity_id, a.likelihood_points, a.consequence_points,
                  sum(f.points) FILTER (WHERE f.dimension = 'likelihood'),
                  sum(f.points) FILTER (WHERE f.dimension = 'consequence')
           FROM risk_assessments a JOIN risk_factors f USING (run_id, entity_type, entity_id)
           WHERE a.run_id = ? GROUP BY ALL""", [run]).fetchall()
    assert rows
    for et, eid, lp, cp, sl, sc in rows:
        assert lp == pytest.approx(sl or 0) and cp == pytest.approx(sc or 0), (et, eid)
    a = assessment(con, "contract", "K1")
    # 2 industry + 1 labour + 3 chain + 1 foreign + 1 ENK + 2 no employees + 3 open finding
    # + 1 no self-report = 14 → likelihood 5; consequence 2 value + 1 spend + 1 workers + 0 = 4 → 4
    assert (a["likelihood_points"], a["likelihood"]) == (14.0, 5)
    assert (a["consequence_points"], a["consequence"]) == (4.0, 4)
    assert (a["level"], a["required_step"]) == ("høy", 3)
    # exposure = max(spend 12 m = 8 m, value per year 30 m / ~2.99 years ≈ 10 m) × 5 / 5
    assert float(a["exposure"]) == pytest.approx(30_000_000 / ((D(2027, 12, 31) - D(2025, 1, 1)).days / 365.25), abs=1)


def test_scope_running_and_recently_ended_contracts(con):
    supplier(con, "S1")
    contract(con, "KOLD", "S1", start_date=D(2020, 1, 1), end_date=D(2025, 6, 1))     # ended > 12 months ago
    contract(con, "KEND", "S1", start_date=D(2022, 1, 1), end_date=D(2026, 3, 1))     # ended within 12 months
    contract(con, "KNEW", "S1", start_date=D(2026, 12, 1), end_date=D(2028, 12, 1))   # not started
    contract(con, "KRUN", "S1", start_date=None, end_date=None)
    score(con)
    from akrim_analytics import risk

    assert risk.assessment(con, "contract", "KOLD") is None
    assert risk.assessment(con, "contract", "KNEW") is None
    assert assessment(con, "contract", "KEND")["active"] is False
    assert assessment(con, "contract", "KRUN")["active"] is True
