"""The demo municipality: a realistic, reproducible mid-sized Norwegian kommune.

``build(path)`` creates, from a fixed seed, about 2 500 suppliers with valid org
numbers and realistic NACE codes, 11 departments, spend for 2022–2025 and 2026 up to
30 September (> 1 000 000 lines), > 1 500 contracts and a history of controls with
findings. For 2025 the category totals equal the seed table (domain.md §0) to the
krone. Spend lines are generated with NumPy and loaded through Arrow in bulk; the
categories come from the same SQL rules an import uses (``categorize``).
"""
from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import audit, db
from .auth import SYSTEM
from .categorize import ACCOUNT_CATEGORY_SQL, SUPPLIER_CATEGORY_SQL, UNCLASSIFIED
from .linking import link_contracts
from .orgnr import check_digit

SEED = 20251231

# domain.md §0: purchases by category in 2025, in 1000 NOK.
SEED_2025_KNOK = {
    "BYGG": 2_123_086,
    "PERSONELL": 1_003_744,
    "IKT": 255_549,
    "TRANSPORT": 169_703,
    "FORBRUK": 169_081,
    "UKLASS": 147_330,
    "ADMIN": 94_584,
    "MAT": 80_606,
    "KUNNSKAP": 39_488,
}
# Volume relative to 2025 (2026 covers January–September only).
YEAR_FACTORS = {2022: 0.87, 2023: 0.92, 2024: 0.96, 2025: 1.0, 2026: 0.78}
YEARS = tuple(YEAR_FACTORS)
LAST_DAY = dt.date(2026, 9, 30)
EXTRACT_DATE = dt.date(2026, 10, 1)

DEPARTMENTS = [
    ("1100", "Rådmannens stab og administrasjon", "Administrasjon"),
    ("1200", "Digitalisering og IKT", "Administrasjon"),
    ("2100", "Barnehager", "Oppvekst"),
    ("2200", "Skoler", "Oppvekst"),
    ("3100", "Helse og omsorg", "Helse og sosial"),
    ("3200", "Sosialtjenester og NAV", "Helse og sosial"),
    ("4100", "Eiendom", "Miljø og teknikk"),
    ("4200", "Vei og trafikk", "Miljø og teknikk"),
    ("4300", "Vann og avløp", "Miljø og teknikk"),
    ("4400", "Renovasjon og miljø", "Miljø og teknikk"),
    ("5100", "Kultur og idrett", "Kultur"),
]
DEPT_CODES = [d[0] for d in DEPARTMENTS]
# KOSTRA funksjon per department (first 3 digits of Stavanger-style tjeneste codes).
DEPT_SERVICES = {
    "1100": ["120", "100"], "1200": ["120"], "2100": ["201", "211"], "2200": ["202", "213", "222"],
    "3100": ["253", "254", "234"], "3200": ["242", "276"], "4100": ["121", "221", "222", "261"],
    "4200": ["332", "333"], "4300": ["340", "345", "350", "353"], "4400": ["355", "357"],
    "5100": ["380", "385", "386"],
}

# Per category: how suppliers are spread over departments (weights follow DEPT_CODES).
DEPT_WEIGHTS = {
    "BYGG":      [1, 1, 2, 4, 3, 0, 55, 17, 14, 2, 3],
    "PERSONELL": [2, 1, 12, 14, 45, 12, 9, 1, 1, 1, 2],
    "IKT":       [10, 55, 4, 14, 9, 2, 2, 1, 1, 1, 1],
    "TRANSPORT": [2, 1, 3, 12, 10, 4, 5, 18, 8, 35, 2],
    "FORBRUK":   [6, 4, 14, 18, 24, 3, 10, 6, 6, 4, 5],
    "UKLASS":    [14, 2, 6, 8, 14, 10, 18, 6, 8, 4, 10],
    "ADMIN":     [45, 8, 3, 5, 8, 6, 10, 3, 3, 3, 6],
    "MAT":       [3, 1, 25, 15, 45, 3, 1, 1, 1, 1, 4],
    "KUNNSKAP":  [12, 4, 14, 45, 10, 5, 2, 1, 1, 1, 5],
}
# Accounts (Stavanger-style 5-digit art) per category; every one places the line in
# its category by the account rules, so a supplier without register data still lands right.
ACCOUNTS = {
    "BYGG": (["12300", "12301", "12400", "12500"], [50, 20, 15, 15]),
    "PERSONELL": (["12600", "13750", "10200"], [40, 45, 15]),
    "IKT": (["11300", "11301"], [60, 40]),
    "TRANSPORT": (["11700", "13800"], [60, 40]),
    "FORBRUK": (["11200", "11000", "12000", "11100"], [40, 20, 25, 15]),
    "UKLASS": (["11900", "11950", "11801", "13700"], [35, 25, 25, 15]),
    "ADMIN": (["12710", "12720"], [60, 40]),
    "MAT": (["11150"], [100]),
    "KUNNSKAP": (["11500", "11050"], [60, 40]),
}
# Lines per category per full year, and the spread (lognormal sigma) of line amounts.
LINES_PER_YEAR = {"BYGG": 34_000, "PERSONELL": 48_000, "IKT": 20_000, "TRANSPORT": 20_000,
                  "FORBRUK": 62_000, "UKLASS": 20_000, "ADMIN": 15_000, "MAT": 17_000, "KUNNSKAP": 6_000}
SIGMA = {"BYGG": 1.5, "PERSONELL": 1.1, "IKT": 1.2, "TRANSPORT": 1.0, "FORBRUK": 1.0,
         "UKLASS": 1.3, "ADMIN": 1.1, "MAT": 0.8, "KUNNSKAP": 1.0}

# (SN2007 code, weight, trade word for names, labour-intensive, CPV) per category.
PROFILES = {
    "BYGG": [
        ("41.200", 20, "Bygg", True, "45210000"), ("42.110", 6, "Anlegg", True, "45233000"),
        ("42.210", 4, "VA-Anlegg", True, "45232400"), ("43.120", 8, "Graving", True, "45112000"),
        ("43.210", 14, "Elektro", True, "45310000"), ("43.221", 11, "Rør", True, "45330000"),
        ("43.222", 4, "Varme og Kulde", True, "45331000"), ("43.320", 8, "Snekkeri", True, "45421000"),
        ("43.341", 7, "Maler", True, "45442100"), ("43.342", 2, "Glass", True, "45441000"),
        ("43.330", 3, "Gulv", True, "45432000"), ("43.911", 3, "Blikk og Tak", True, "45261000"),
        ("43.990", 3, "Byggservice", True, "45450000"), ("71.121", 5, "Byggrådgivning", False, "71300000"),
        ("81.300", 4, "Grøntanlegg", True, "77310000"), ("39.000", 1, "Miljøsanering", True, "90650000"),
    ],
    "PERSONELL": [
        ("81.210", 30, "Renhold", True, "90911200"), ("81.220", 4, "Fasadevask", True, "90911300"),
        ("81.299", 3, "Rengjøring", True, "90919000"), ("78.200", 20, "Bemanning", True, "79620000"),
        ("78.100", 5, "Rekruttering", False, "79600000"), ("80.100", 9, "Vakt og Sikkerhet", True, "79713000"),
        ("87.301", 8, "Omsorg", True, "85144000"), ("88.101", 10, "Hjemmetjenester", True, "85312000"),
        ("86.909", 6, "Helse", True, "85100000"), ("88.991", 5, "Barnevern", True, "85311300"),
    ],
    "IKT": [
        ("62.010", 30, "Software", False, "72200000"), ("62.020", 22, "IT-Rådgivning", False, "72220000"),
        ("62.030", 12, "IT-Drift", False, "72500000"), ("63.110", 10, "Data", False, "72310000"),
        ("61.100", 6, "Telecom", False, "64200000"), ("61.200", 5, "Mobil", False, "64212000"),
        ("46.510", 10, "Datautstyr", False, "30213000"), ("58.290", 5, "Systemer", False, "48000000"),
    ],
    "TRANSPORT": [
        ("49.410", 35, "Transport", True, "60100000"), ("49.392", 10, "Buss", True, "60172000"),
        ("49.320", 15, "Taxi", True, "60120000"), ("38.110", 10, "Renovasjon", True, "90511000"),
        ("38.120", 3, "Spesialavfall", True, "90524000"), ("45.200", 12, "Bilverksted", True, "50112000"),
        ("53.200", 5, "Bud", True, "64120000"), ("77.110", 5, "Bilutleie", False, "34110000"),
    ],
    "FORBRUK": [
        ("46.739", 14, "Byggevarer", False, "44100000"), ("46.740", 10, "Jernvare", False, "44500000"),
        ("46.460", 14, "Medisinsk", False, "33140000"), ("46.190", 10, "Engros", False, "39000000"),
        ("46.650", 8, "Interiør", False, "39130000"), ("46.660", 6, "Kontorutstyr", False, "30190000"),
        ("46.421", 6, "Arbeidsklær", False, "18100000"), ("31.010", 6, "Møbler", False, "39100000"),
        ("28.290", 5, "Maskin", False, "42000000"), ("20.410", 8, "Renholdsprodukter", False, "39830000"),
        ("22.290", 5, "Plast", False, "19520000"), ("47.190", 8, "Handel", False, "30190000"),
    ],
    "UKLASS": [
        ("94.991", 25, "Forening", False, None), ("84.110", 10, "Interkommunalt", False, None),
        ("35.140", 15, "Kraft", False, "09310000"), ("93.110", 10, "Idrettsanlegg", False, None),
        ("68.209", 25, "Eiendom", False, "70130000"), ("36.000", 5, "Vannverk", False, "65100000"),
        ("90.011", 10, "Scene", False, "92300000"),
    ],
    "ADMIN": [
        ("69.201", 15, "Regnskap", False, "79211000"), ("69.202", 10, "Revisjon", False, "79212000"),
        ("69.100", 15, "Advokatfirma", False, "79100000"), ("70.220", 25, "Rådgivning", False, "79400000"),
        ("66.220", 5, "Forsikringsmegling", False, "66518000"), ("65.120", 10, "Forsikring", False, "66510000"),
        ("64.190", 5, "Sparebank", False, "66110000"), ("73.110", 8, "Reklame", False, "79341000"),
        ("82.110", 7, "Kontorservice", True, "79500000"),
    ],
    "MAT": [
        ("56.290", 30, "Kantine", True, "55510000"), ("56.210", 20, "Catering", True, "55520000"),
        ("46.390", 25, "Matengros", False, "15000000"), ("47.111", 10, "Dagligvare", False, "15000000"),
        ("10.710", 10, "Bakeri", False, "15810000"), ("11.070", 5, "Drikke", False, "15980000"),
    ],
    "KUNNSKAP": [
        ("85.599", 40, "Kurs", False, "80500000"), ("85.609", 15, "Pedagogikk", False, "80000000"),
        ("72.190", 15, "Forskning", False, "73000000"), ("58.110", 20, "Forlag", False, "22110000"),
        ("85.510", 10, "Idrettsskole", False, "80000000"),
    ],
}
SUPPLIERS_PER_CATEGORY = {"BYGG": 620, "PERSONELL": 430, "IKT": 210, "TRANSPORT": 200, "FORBRUK": 420,
                          "UKLASS": 240, "ADMIN": 190, "MAT": 110, "KUNNSKAP": 100}
RISKY_TRADES = ("41", "42", "43", "81.2", "49.4", "78", "56", "45.2", "80")

SURNAMES = ["Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
            "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen", "Dahl",
            "Jacobsen", "Halvorsen", "Henriksen", "Lund", "Sørensen", "Moen", "Gundersen", "Iversen",
            "Strand", "Solberg", "Svendsen", "Eide", "Knutsen", "Martinsen", "Paulsen", "Bakken",
            "Mathisen", "Lie", "Amundsen", "Nguyen", "Rasmussen", "Ali", "Lunde", "Solheim", "Berge",
            "Moe", "Nygård", "Bakke", "Kowalski", "Nowak", "Kazlauskas", "Ahmed", "Holm"]
FIRST_NAMES = ["Ola", "Kari", "Per", "Anne", "Lars", "Ingrid", "Jonas", "Marte", "Arne", "Nina",
               "Tomasz", "Piotr", "Ewa", "Mohammed", "Linh", "Sara", "Eirik", "Hilde", "Bjørn", "Sofie"]
PLACES = ["Bærum", "Sandvika", "Asker", "Oslo", "Fornebu", "Bekkestua", "Stabekk", "Lysaker", "Høvik",
          "Rud", "Kolsås", "Drammen", "Lillestrøm", "Vestby", "Ski", "Nittedal", "Viken", "Follo",
          "Romerike", "Vestfold", "Hamar", "Gjøvik", "Norsk", "Nordisk", "Østlandet", "Akershus"]
FOREIGN = ["Budimex", "Baltic", "Vilnius", "Gdansk", "Riga", "Krakow", "Tallinn", "Sofia"]


def _orgnrs(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct valid (MOD11) organisation numbers starting with 8 or 9."""
    out: set[str] = set()
    while len(out) < n:
        base = rng.integers(80_000_000, 99_999_999, size=n * 2)
        for b in base:
            s = str(int(b))
            cd = check_digit(s)
            if cd is not None:
                out.add(s + str(cd))
                if len(out) == n:
                    break
    return np.array(sorted(out))[rng.permutation(n)]


def _sn2025_map() -> dict[str, str]:
    """SN2007 code → its SN2025 code (the successor that keeps the code or division)."""
    succ: dict[str, list[str]] = {}
    path = db.DATA_DIR / "reference" / "ssb_sn2007_to_sn2025_changed.csv"
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            succ.setdefault(row["sn2007_code"], []).append(row["sn2025_code"])
    out = {}
    for old, news in succ.items():
        if old in news:
            out[old] = old
        else:
            same_div = [c for c in news if c[:2] == old[:2]]
            out[old] = (same_div or news)[0]
    return out


def _date(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=int(rng.integers(0, max(1, (end - start).days + 1))))


def _suppliers(rng: np.random.Generator, scale: float = 1.0) -> list[dict]:
    sn2025 = _sn2025_map()
    per_category = {c: int(round(n * scale)) for c, n in SUPPLIERS_PER_CATEGORY.items()}
    total = sum(per_category.values())
    numbers = _orgnrs(rng, total)
    names_seen: set[str] = set()
    rows: list[dict] = []
    i = 0
    for cat, n in per_category.items():
        prof = PROFILES[cat]
        weights = np.array([p[1] for p in prof], dtype=float)
        picks = rng.choice(len(prof), size=n, p=weights / weights.sum())
        for k in picks:
            code, _, word, labour, cpv = prof[k]
            risky = code.startswith(RISKY_TRADES)
            form = "AS"
            u = rng.random()
            if risky and u < 0.14:
                form = "ENK"
            elif risky and code[:2] in ("41", "43", "78", "81", "49") and u < 0.19:
                form = "NUF"
            elif cat == "UKLASS" and code.startswith("94"):
                form = "FLI"
            elif cat == "UKLASS" and code.startswith("84"):
                form = "IKS"
            elif u > 0.97:
                form = "ASA"
            # a unique, plausible name
            for attempt in range(20):
                if form == "ENK":
                    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)} {word}"
                elif form == "NUF":
                    name = f"{rng.choice(FOREIGN)} {word} {rng.choice(['Sp. z o.o.', 'UAB', 'SIA', 'OÜ'])} NUF"
                elif form == "FLI":
                    name = f"{rng.choice(PLACES)} {rng.choice(['Idrettslag', 'Velforening', 'Musikkorps', 'Frivilligsentral'])}"
                elif form == "IKS":
                    name = f"{rng.choice(PLACES)} {rng.choice(['Brannvesen', 'Revisjon', 'Krisesenter', 'Arkiv'])} IKS"
                else:
                    stem = rng.choice(SURNAMES) if rng.random() < 0.5 else rng.choice(PLACES)
                    name = f"{stem} {word} {form}"
                if attempt > 5:
                    name = name.replace(f" {form}", f" {attempt} {form}")
                if name not in names_seen:
                    break
            names_seen.add(name)
            # register extract: most from this autumn (SN2025 codes), some older (SN2007), a few never
            r = rng.random()
            if r < 0.05:
                extract, nace, version = None, None, None
            elif r < 0.17:
                extract, nace, version = dt.date(2024, 11, 4), code, "SN2007"
            else:
                extract, nace, version = EXTRACT_DATE, sn2025.get(code, code), "SN2025"
            founded = _date(rng, dt.date(1960, 1, 1), dt.date(2019, 12, 31))
            active_from = dt.date(2022, 1, 1)
            active_to = LAST_DAY
            flags = dict(bankrupt=False, under_liquidation=False, forced_dissolution=False, deleted_date=None)
            f = rng.random()
            p_flag = 2.0 if risky else 1.0
            if f < 0.05 * p_flag:  # newly founded shortly before its first invoice
                active_from = _date(rng, dt.date(2023, 1, 1), dt.date(2026, 3, 31))
                founded = active_from - dt.timedelta(days=int(rng.integers(10, 150)))
            elif f < 0.065 * p_flag:
                flags["bankrupt"] = True
                active_to = _date(rng, dt.date(2023, 6, 1), dt.date(2026, 8, 31))
            elif f < 0.075 * p_flag:
                flags["under_liquidation"] = True
            elif f < 0.082 * p_flag:
                flags["forced_dissolution"] = True
            if form == "NUF":
                founded = max(founded, dt.date(2012, 1, 1))
            employees = None
            if extract is not None:
                if form == "ENK":
                    employees = int(rng.choice([0, 0, 1, 2])) if rng.random() > 0.2 else None
                elif form in ("AS", "ASA", "NUF"):
                    employees = int(np.clip(rng.lognormal(2.5 if labour else 2.0, 1.2), 0, 4000))
                    if rng.random() < 0.06:
                        employees = 0 if labour else None
            vat = None if extract is None else bool(rng.random() > (0.10 if form == "ENK" else 0.015))
            accounts_year = None
            if extract is not None and form in ("AS", "ASA"):
                accounts_year = 2025 if rng.random() < 0.85 else (2024 if rng.random() < 0.7 else 2022)
            rows.append({
                "supplier_id": numbers[i], "orgnr": numbers[i], "name": name,
                "erp_supplier_no": str(100000 + i), "nace_code": nace, "nace_version": version,
                "org_form": form if extract is not None else None,
                "founded_date": founded if extract is not None else None,
                "registered_date": (founded + dt.timedelta(days=int(rng.integers(0, 40)))) if extract is not None else None,
                "vat_registered": vat, "employees": employees,
                "bankrupt": flags["bankrupt"] if extract is not None else None,
                "under_liquidation": flags["under_liquidation"] if extract is not None else None,
                "forced_dissolution": flags["forced_dissolution"] if extract is not None else None,
                "deleted_date": None, "last_accounts_year": accounts_year,
                "municipality_no": str(rng.choice(["3201", "3203", "0301", "3301", "3205", "3207"])) if extract else None,
                "country_code": "NO" if form != "NUF" else str(rng.choice(["PL", "LT", "LV", "EE", "BG"])),
                "register_extract_date": extract,
                # generator-only attributes (not stored)
                "_cat": cat, "_code": code, "_labour": labour, "_cpv": cpv, "_word": word,
                "_from": active_from, "_to": active_to,
            })
            i += 1
    return rows


def _insert_df(con, table: str, df, columns: list[str]) -> None:
    con.register("_demo_src", df)
    try:
        cols = ", ".join(columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _demo_src")
    finally:
        con.unregister("_demo_src")


def _spend(rng: np.random.Generator, sup: list[dict], sup_cat: dict[str, str], acc_cat: dict[str, str],
           year_uploads: dict[int, int], line_scale: float = 1.0) -> pa.Table:
    """All spend lines, vectorised; amounts calibrated per (year, category) to the krone."""
    n_sup = len(sup)
    cat_codes = list(SEED_2025_KNOK)
    sup_intended = np.array([cat_codes.index(s["_cat"]) for s in sup])
    sup_from = np.array([np.datetime64(s["_from"]) for s in sup])
    sup_to = np.array([np.datetime64(s["_to"]) for s in sup])
    # home department per supplier
    home = np.empty(n_sup, dtype=np.int64)
    for ci, cat in enumerate(cat_codes):
        idx = np.where(sup_intended == ci)[0]
        w = np.array(DEPT_WEIGHTS[cat], dtype=float)
        home[idx] = rng.choice(len(DEPT_CODES), size=len(idx), p=w / w.sum())
    # a Zipf-like size per supplier: a few large suppliers carry most of the spend
    size = np.empty(n_sup)
    for ci in range(len(cat_codes)):
        idx = np.where(sup_intended == ci)[0]
        ranks = rng.permutation(len(idx)) + 1
        size[idx] = 1.0 / ranks ** 1.05

    parts = []
    for year, factor in YEAR_FACTORS.items():
        start = np.datetime64(f"{year}-01-01")
        end = np.datetime64(LAST_DAY) if year == 2026 else np.datetime64(f"{year}-12-31")
        ndays = int((end - start).astype(int)) + 1
        for ci, cat in enumerate(cat_codes):
            idx = np.where(sup_intended == ci)[0]
            n = int(LINES_PER_YEAR[cat] * line_scale * (ndays / 365.0))
            p = size[idx] / size[idx].sum()
            s_idx = idx[rng.choice(len(idx), size=n, p=p)]
            dates = start + rng.integers(0, ndays, size=n).astype("timedelta64[D]")
            keep = (dates >= sup_from[s_idx]) & (dates <= sup_to[s_idx])
            s_idx, dates = s_idx[keep], dates[keep]
            n = len(s_idx)
            amount = rng.lognormal(mean=9.0, sigma=SIGMA[cat], size=n)
            credit = rng.random(n) < 0.015
            amount[credit] *= -0.3
            dept = np.where(rng.random(n) < 0.7, home[s_idx],
                            rng.choice(len(DEPT_CODES), size=n,
                                       p=np.array(DEPT_WEIGHTS[cat]) / sum(DEPT_WEIGHTS[cat])))
            accs, aw = ACCOUNTS[cat]
            acc = np.array(accs)[rng.choice(len(accs), size=n, p=np.array(aw) / sum(aw))]
            parts.append(dict(year=np.full(n, year), sup=s_idx, date=dates, amount=amount, dept=dept, acc=acc))

    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(cols["sup"])
    supplier_ids = np.array([s["supplier_id"] for s in sup])[cols["sup"]]
    # the category the rules give: NACE first, then account, else unclassified
    sup_rule = np.array([sup_cat.get(s["supplier_id"]) or "" for s in sup])[cols["sup"]]
    acc_rule = np.vectorize(lambda a: acc_cat.get(a, ""))(cols["acc"])
    category = np.where(sup_rule != "", sup_rule, np.where(acc_rule != "", acc_rule, UNCLASSIFIED))
    source = np.where(sup_rule != "", "nace", np.where(acc_rule != "", "account", "none"))

    # calibrate: the (year, category) totals hit their targets exactly, in øre
    amount_ore = np.zeros(n, dtype=np.int64)
    noise = {(y, c): (1.0 if y == 2025 else float(rng.uniform(0.94, 1.06))) for y in YEARS for c in cat_codes}
    for year in YEARS:
        ymask = cols["year"] == year
        for cat in cat_codes:
            m = np.where(ymask & (category == cat))[0]
            if len(m) == 0:
                continue
            target_ore = int(round(SEED_2025_KNOK[cat] * 1000 * YEAR_FACTORS[year] * noise[(year, cat)])) * 100
            raw = cols["amount"][m]
            scaled = np.round(raw / raw.sum() * target_ore).astype(np.int64)
            scaled[np.argmax(scaled)] += target_ore - scaled.sum()
            amount_ore[m] = scaled

    order = np.lexsort((cols["sup"], cols["date"]))
    dept_codes = np.array(DEPT_CODES)[cols["dept"]]
    service = np.empty(n, dtype=object)
    for di, code in enumerate(DEPT_CODES):
        m = cols["dept"] == di
        service[m] = np.array(DEPT_SERVICES[code])[rng.integers(0, len(DEPT_SERVICES[code]), size=int(m.sum()))]
    project = np.where((category == "BYGG") & (rng.random(n) < 0.25),
                       np.char.add("P", rng.integers(4000, 4400, size=n).astype(str)), None)
    upload = np.array([year_uploads[int(y)] for y in YEARS])[np.searchsorted(YEARS, cols["year"])]
    dates = cols["date"].astype("datetime64[D]")
    period = (dates.astype("datetime64[Y]").astype(int) + 1970) * 100 + (dates.astype("datetime64[M]").astype(int) % 12) + 1
    table = pa.table({
        "upload_id": pa.array(upload[order], pa.int32()),
        "source_row": pa.array(np.arange(n)[order] % 200_000 + 2, pa.int32()),
        "posting_date": pa.array(dates[order]),
        "period": pa.array(period[order], pa.int32()),
        "supplier_id": pa.array(supplier_ids[order]),
        "amount_ore": pa.array(amount_ore[order], pa.int64()),
        "account": pa.array(cols["acc"][order]),
        "department": pa.array(dept_codes[order]),
        "service": pa.array(service[order].astype(str)),
        "project": pa.array(project[order]),
        "invoice_no": pa.array(np.char.add("F", (np.arange(n) + 1_000_000).astype(str))),
        "category": pa.array(category[order]),
        "category_source": pa.array(source[order]),
    })
    return table


# Above this yearly spend a building contract is not a service agreement (a "Serviceavtale
# elektro" of 250 MNOK a year would puzzle anyone who has bought building services).
LARGE_WORKS_NOK = 20_000_000


def _contract_name(rng, s: dict, dept_name: str, annual: float = 0.0) -> str:
    word = s["_word"].lower()
    cat = s["_cat"]
    if cat == "BYGG":
        site = rng.choice(["Bekkestua skole", "Rud sykehjem", "Sandvika rådhus", "Fornebu barnehage",
                           "Kolsås idrettshall", "Høvik kirkevei", "Lysaker brygge VA", "Stabekk ungdomsskole",
                           "Eiksmarka omsorgsboliger", "Bærums Verk bibliotek", "Rykkinn helsehus"])
        kind = rng.choice(["Totalentreprise", "Rammeavtale", "Utførelsesentreprise", "Serviceavtale"])
        if kind == "Serviceavtale" and annual >= LARGE_WORKS_NOK:
            kind = "Utførelsesentreprise"   # (drawn all the same: the other demo draws stay as they were)
        return f"{kind} {word} – {site}"
    if cat == "PERSONELL":
        return f"Rammeavtale {word} – {dept_name}"
    return f"Avtale {word} – {dept_name}"


def _contracts(rng, con, sup: list[dict], dept_names: dict[str, str]) -> list[dict]:
    by_id = {s["supplier_id"]: s for s in sup}
    # Deterministic in every detail (the random draws below follow this order): the most
    # frequent department and category with ties to the smallest code (DuckDB's mode()
    # breaks ties by whichever parallel batch came first), equal totals by supplier.
    stats = con.execute(
        """WITH d AS (SELECT supplier_id, department, count(*) AS n FROM spend
                      WHERE department IS NOT NULL GROUP BY ALL),
                c AS (SELECT supplier_id, category, count(*) AS n FROM spend
                      WHERE category IS NOT NULL GROUP BY ALL),
                t AS (SELECT supplier_id, sum(amount) AS total, min(posting_date) AS first,
                             max(posting_date) AS last FROM spend GROUP BY supplier_id)
           SELECT t.supplier_id, t.total, t.first, t.last,
                  (SELECT first(d.department ORDER BY d.n DESC, d.department) FROM d
                   WHERE d.supplier_id = t.supplier_id) AS dept,
                  (SELECT first(c.category ORDER BY c.n DESC, c.category) FROM c
                   WHERE c.supplier_id = t.supplier_id) AS cat
           FROM t ORDER BY t.total DESC, t.supplier_id"""
    ).fetchall()
    contracts: list[dict] = []
    people = [f"{f} {l}" for f in FIRST_NAMES[:12] for l in SURNAMES[:10]]
    seq = 1
    for rank, (sid, total, first, last, dept, cat) in enumerate(stats):
        s = by_id[sid]
        share_rank = rank / len(stats)
        p_contract = 0.97 if share_rank < 0.3 else (0.85 if share_rank < 0.7 else 0.45)
        if s["_cat"] == "UKLASS":
            p_contract *= 0.4
        if rng.random() > p_contract:
            continue
        # a chain of successive contracts from before the first invoice to beyond today,
        # now and then with a lapse between two of them (spend without contract)
        periods = []
        start = min(first, _date(rng, dt.date(2018, 1, 1), dt.date(2021, 12, 31)))
        while start <= LAST_DAY:
            end = start + dt.timedelta(days=int(rng.integers(2, 5) * 365) - 1)
            periods.append((start, end))
            gap = int(rng.integers(60, 270)) if rng.random() < 0.12 else 0
            start = end + dt.timedelta(days=1 + gap)
        annual = float(total) / 4.75
        labour = s["_labour"]
        for start, end in periods:
            years = (end - start).days / 365.0
            cid = f"K-{start.year}-{seq:04d}"
            seq += 1
            bygg = s["_cat"] == "BYGG"
            clean = (s["_code"] or "").startswith("81.2")
            contracts.append({
                "contract_id": cid, "name": _contract_name(rng, s, dept_names[dept], annual), "supplier_id": sid,
                "category": cat, "department": dept,
                "responsible": str(rng.choice(people)),
                "start_date": start, "end_date": end,
                "estimated_value": round(annual * years * float(rng.uniform(0.85, 1.4)), -4),
                "cpv": s["_cpv"],
                "labour_intensive": labour,
                "subcontractor_levels": (int(rng.choice([0, 1, 2, 3, 4], p=[.2, .35, .3, .1, .05])) if bygg
                                         else int(rng.choice([0, 1, 2], p=[.6, .3, .1])) if labour else 0)
                if rng.random() > 0.1 else None,
                "foreign_workers": bool(s["org_form"] == "NUF" or rng.random() < (0.28 if (bygg or clean) else 0.15 if labour else 0.03)),
                "own_sites": bool(rng.random() < (0.85 if (bygg or clean or s["_word"] == "Vakt og Sikkerhet") else 0.3)),
                "workers": int(rng.integers(2, 80)) if labour and rng.random() < 0.7 else None,
                "wage_clause": bool(rng.random() < (0.93 if labour or bygg else 0.6)),
                "seriousness_clause": bool(rng.random() < (0.86 if bygg or clean else 0.5)),
                "upload_id": None, "updated_at": dt.datetime(2026, 10, 1, 8, 0), "updated_by": "system",
            })
    return contracts


FINDING_TYPES = [("wage", "Lønn under allmenngjort minstelønn"), ("working_time", "Manglende eller mangelfulle timelister"),
                 ("pension", "OTP ikke dokumentert"), ("hms_card", "Arbeidstakere uten gyldig HMS-kort"),
                 ("chain", "Flere enn to ledd underleverandører"), ("documentation", "Dokumentasjon ikke levert innen frist")]
DOCS = ["egenrapport", "arbeidsavtaler", "timelister", "lonnsslipper", "bankbetaling", "otp",
        "hms_kort", "underleverandorer", "skatteattest"]


def _controls(rng, contracts: list[dict], sup_by_id: dict[str, dict]):
    controls, findings = [], []
    cid_seq = 1
    fid_seq = 1
    inspectors = ["Kari Nordmann", "Ola Hansen", "Marte Lie", "Arne Solberg", "Nina Berg"]
    for c in contracts:
        s = sup_by_id[c["supplier_id"]]
        risky_sup = bool(s["bankrupt"] or s["under_liquidation"] or s["forced_dissolution"]
                         or s["org_form"] in ("ENK", "NUF") or c["foreign_workers"])
        labour = c["labour_intensive"]
        for year in YEARS:
            y_start, y_end = dt.date(year, 1, 1), dt.date(year, 12, 31)
            if c["start_date"] > y_end or c["end_date"] < y_start:
                continue
            lo, hi = max(y_start, c["start_date"]), min(y_end, c["end_date"])
            steps = []
            if rng.random() < (0.55 if labour else 0.15):
                steps.append(1)
                if labour and rng.random() < (0.45 if risky_sup else 0.2):
                    steps.append(2)
                    if c["category"] in ("BYGG", "PERSONELL") and rng.random() < 0.35:
                        steps.append(3)
            for step in steps:
                day = _date(rng, lo, hi)
                planned = day - dt.timedelta(days=int(rng.integers(0, 30)))
                done = day if day <= LAST_DAY else None
                status = "closed" if done else "planned"
                outcome = None
                if done:
                    p_find = {1: 0.05, 2: 0.3, 3: 0.35}[step] * (1.8 if risky_sup else 1.0)
                    outcome = "findings" if rng.random() < p_find else "clean"
                requested = ["egenrapport"] if step == 1 else list(rng.choice(DOCS[1:], size=int(rng.integers(3, 7)), replace=False))
                received = requested if outcome == "clean" else requested[: max(0, len(requested) - int(rng.integers(0, 3)))]
                ctrl = {"control_id": cid_seq, "contract_id": c["contract_id"], "step": step, "planned_date": planned,
                        "done_date": done, "performed_by": str(rng.choice(inspectors)) if done else None,
                        "documents_requested": requested, "documents_received": received if done else [],
                        "outcome": outcome, "status": status, "note": None, "upload_id": None,
                        "created_by": "system", "created_at": dt.datetime.combine(planned, dt.time(9)),
                        "updated_by": None, "updated_at": None}
                if outcome == "findings":
                    n_find = int(rng.integers(1, 3))
                    any_open = False
                    for k in rng.choice(len(FINDING_TYPES), size=n_find, replace=False):
                        ftype, text = FINDING_TYPES[k]
                        sev = str(rng.choice(["low", "medium", "high"], p=[.4, .4, .2]))
                        action = {"low": "correction", "medium": str(rng.choice(["action_plan", "correction"])),
                                  "high": str(rng.choice(["action_plan", "daily_fines", "withheld_payment", "termination"],
                                                         p=[.5, .2, .2, .1]))}[sev]
                        age = (LAST_DAY - done).days
                        closed = rng.random() < (0.9 if age > 240 else 0.45 if age > 90 else 0.1)
                        closed_date = done + dt.timedelta(days=int(rng.integers(14, max(15, min(age, 200))))) if closed else None
                        if closed_date and closed_date > LAST_DAY:
                            closed_date = LAST_DAY
                        any_open = any_open or not closed
                        findings.append({"finding_id": fid_seq, "control_id": cid_seq, "contract_id": c["contract_id"],
                                         "finding_type": ftype, "severity": sev, "description": text, "action": action,
                                         "action_deadline": done + dt.timedelta(days=30),
                                         "status": "closed" if closed else "open", "opened_date": done,
                                         "closed_date": closed_date, "upload_id": None})
                        fid_seq += 1
                    ctrl["status"] = "open" if any_open else "closed"
                controls.append(ctrl)
                cid_seq += 1
    return controls, findings


def build(path: str | os.PathLike, *, seed: int = SEED, overwrite: bool = True,
          supplier_scale: float = 1.0, line_scale: float = 1.0, max_contracts: int | None = None) -> dict:
    """Build the demo database at ``path``; returns counts. Deterministic for a seed.

    The scale arguments make larger databases for benchmarks (e.g. 50 000 suppliers,
    5 000 000 lines, 20 000 contracts); the defaults give the bundled demo."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(path)
    # never replace a file another process (a running dashboard) holds: it would go on
    # writing to the old one; held until the new file is in place
    guard = db.hold_file(path)
    try:
        return _build(path, seed=seed, supplier_scale=supplier_scale, line_scale=line_scale,
                      max_contracts=max_contracts, guard=guard)
    finally:
        guard.close()


def _build(path: Path, *, seed: int, supplier_scale: float, line_scale: float, max_contracts: int | None,
           guard) -> dict:
    import pandas as pd

    tmp = path.with_name(path.name + ".building")
    for p in (tmp, tmp.with_name(tmp.name + ".wal")):
        if p.exists():
            p.unlink()
    rng = np.random.default_rng(seed)
    con = db.connect(tmp)
    try:
        con.execute("BEGIN TRANSACTION")
        con.executemany("INSERT INTO departments (code, name, area) VALUES (?, ?, ?)", DEPARTMENTS)
        sup = _suppliers(rng, supplier_scale)
        sup_cols = ["supplier_id", "orgnr", "name", "erp_supplier_no", "nace_code", "nace_version", "org_form",
                    "founded_date", "registered_date", "vat_registered", "employees", "bankrupt",
                    "under_liquidation", "forced_dissolution", "deleted_date", "last_accounts_year",
                    "municipality_no", "country_code", "register_extract_date"]
        sdf = pd.DataFrame([{k: s[k] for k in sup_cols} for s in sup])
        sdf["employees"] = sdf["employees"].astype("Int64")
        sdf["last_accounts_year"] = sdf["last_accounts_year"].astype("Int64")
        for col in ("vat_registered", "bankrupt", "under_liquidation", "forced_dissolution"):
            sdf[col] = sdf[col].astype("boolean")
        for col in ("founded_date", "registered_date", "deleted_date", "register_extract_date"):
            sdf[col] = pd.to_datetime(sdf[col]).dt.date
        _insert_df(con, "suppliers", sdf, sup_cols)

        year_uploads = {}
        for year in YEARS:
            uid = con.execute(
                """INSERT INTO uploads (file_name, sha256, kind, uploaded_by, uploaded_at, status)
                   VALUES (?, NULL, 'demo', 'system', ?, 'committed') RETURNING upload_id""",
                [f"demo-leverandorreskontro-{year}.xlsx",
                 dt.datetime(year + 1, 1, 15, 8, 0) if year < 2026 else dt.datetime(2026, 10, 5, 8, 0)],
            ).fetchone()[0]
            year_uploads[year] = uid

        sup_cat = dict(con.execute(SUPPLIER_CATEGORY_SQL).fetchall())
        accounts = sorted({a for accs, _ in ACCOUNTS.values() for a in accs})
        con.execute("CREATE TEMP TABLE _acc AS SELECT unnest(?::VARCHAR[]) AS account", [accounts])
        acc_cat = dict(con.execute(ACCOUNT_CATEGORY_SQL.replace("FROM spend WHERE account IS NOT NULL", "FROM _acc")).fetchall())
        table = _spend(rng, sup, sup_cat, acc_cat, year_uploads, line_scale)
        con.register("_spend_src", table)
        con.execute(
            """INSERT INTO spend (upload_id, source_row, posting_date, period, supplier_id, amount, account,
                                  department, service, project, invoice_no, description, category, category_source)
               SELECT upload_id, source_row, posting_date, period, supplier_id,
                      CAST(amount_ore AS DECIMAL(18, 2)) / 100, account, department, service, project,
                      invoice_no, NULL, category, category_source
               FROM _spend_src"""
        )
        con.unregister("_spend_src")
        con.execute(
            """UPDATE uploads SET rows = t.n, total = t.total
               FROM (SELECT upload_id, count(*) AS n, sum(amount) AS total FROM spend GROUP BY upload_id) t
               WHERE uploads.upload_id = t.upload_id"""
        )

        contracts = _contracts(rng, con, sup, {d[0]: d[1] for d in DEPARTMENTS})
        if max_contracts is not None and len(contracts) > max_contracts:
            keep = np.sort(rng.choice(len(contracts), size=max_contracts, replace=False))
            contracts = [contracts[i] for i in keep]
        cdf = pd.DataFrame(contracts)
        for col in ("subcontractor_levels", "workers", "upload_id"):
            cdf[col] = cdf[col].astype("Int64")
        _insert_df(con, "contracts", cdf, list(cdf.columns))
        link_contracts(con)

        sup_by_id = {s["supplier_id"]: s for s in sup}
        controls, findings = _controls(rng, contracts, sup_by_id)
        kdf = pd.DataFrame(controls)
        for col in ("upload_id",):
            kdf[col] = kdf[col].astype("Int64")
        _insert_df(con, "controls", kdf, list(kdf.columns))
        fdf = pd.DataFrame(findings)
        fdf["upload_id"] = fdf["upload_id"].astype("Int64")
        _insert_df(con, "findings", fdf, list(fdf.columns))
        _advance_sequence(con, "control_seq", len(controls))
        _advance_sequence(con, "finding_seq", len(findings))

        db.set_meta(con, "demo", "true")
        db.set_meta(con, "demo_seed", str(seed))
        db.set_meta(con, "municipality", "Demo kommune")
        db.bump_data_version(con)
        audit.log(con, SYSTEM, "demo_build", "database", str(path), {"seed": seed})
        # Risk: the demo's "today" is its last day of data; one pinned run per quarter
        # end from 2024 so "change from the previous quarter" has history.
        from . import risk

        db.set_meta(con, "risk_as_of", LAST_DAY.isoformat())
        risk_runs = risk.score_quarters(con, SYSTEM, dt.date(2024, 1, 1), LAST_DAY)
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        counts = {
            "suppliers": len(sup), "contracts": len(contracts), "controls": len(controls),
            "findings": len(findings), "spend_rows": table.num_rows, "risk_runs": len(risk_runs),
        }
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    guard.close()   # the old file's last reader: its WAL is folded in and closed before the swap
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    os.replace(tmp, path)
    return counts


def _advance_sequence(con, name: str, n: int) -> None:
    """DuckDB has no setval: draw n values so the next id follows the generated ones."""
    if n > 0:
        con.execute(f"SELECT nextval('{name}') FROM range(?)", [n])
