"""Small hand-made databases for the risk tests: insert helpers with neutral defaults
(an IT consultancy with a clean register record and a goods-free service contract), so
each test sets only the fields its indicator reads."""
from __future__ import annotations

import datetime as dt

from akrim_analytics import risk
from akrim_analytics.auth import SYSTEM

AS_OF = dt.date(2026, 9, 30)
D = dt.date


def _insert(con, table: str, row: dict) -> None:
    cols = list(row)
    con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [row[c] for c in cols])


def supplier(con, supplier_id: str, **kw) -> str:
    row = dict(supplier_id=supplier_id, orgnr=supplier_id, name=f"Leverandør {supplier_id}", nace_code="62.100",
               nace_version="SN2025", org_form="AS", founded_date=D(2000, 1, 1), registered_date=D(2000, 1, 15),
               vat_registered=True, employees=25, bankrupt=False, under_liquidation=False, forced_dissolution=False,
               deleted_date=None, last_accounts_year=2025, country_code="NO", register_extract_date=D(2026, 10, 1))
    row.update(kw)
    _insert(con, "suppliers", row)
    return supplier_id


def contract(con, contract_id: str, supplier_id: str | None, **kw) -> str:
    row = dict(contract_id=contract_id, name=f"Avtale {contract_id}", supplier_id=supplier_id, category="IKT",
               department="1100", start_date=D(2025, 1, 1), end_date=D(2027, 12, 31), estimated_value=1_000_000,
               cpv=None, labour_intensive=False, subcontractor_levels=0, foreign_workers=False, workers=None,
               wage_clause=True, seriousness_clause=True)
    row.update(kw)
    _insert(con, "contracts", row)
    return contract_id


def spend(con, supplier_id: str | None, amount: float, posting_date: dt.date, contract_id: str | None = None,
          category: str = "IKT", department: str = "1100") -> None:
    _insert(con, "spend", dict(upload_id=1, posting_date=posting_date,
                               period=posting_date.year * 100 + posting_date.month, supplier_id=supplier_id,
                               amount=amount, category=category, department=department, contract_id=contract_id))


def control(con, contract_id: str, step: int, done: dt.date | None, outcome: str | None = "clean") -> int:
    return con.execute(
        """INSERT INTO controls (contract_id, step, planned_date, done_date, outcome, status)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING control_id""",
        [contract_id, step, done, done, outcome, "closed" if done else "planned"]).fetchone()[0]


def finding(con, contract_id: str, severity: str, opened: dt.date, closed: dt.date | None = None,
            status: str | None = None) -> None:
    cid = control(con, contract_id, 2, opened, "findings")
    con.execute(
        """INSERT INTO findings (control_id, contract_id, finding_type, severity, status, opened_date, closed_date)
           VALUES (?, ?, 'wage', ?, ?, ?, ?)""",
        [cid, contract_id, severity, status or ("closed" if closed else "open"), opened, closed])


def score(con, as_of: dt.date = AS_OF, **kw) -> int:
    return risk.score_all(con, SYSTEM, as_of, **kw)


def lines(con, entity_type: str, entity_id: str, factor: str | None = None, run_id: int | None = None):
    """[(factor, dimension, points, explanation_nb, unknown)] of an entity, optionally one factor."""
    df = risk.explain(con, entity_type, entity_id, run_id)
    rows = [(r.factor, r.dimension, float(r.points), r.explanation_nb, bool(r.unknown)) for r in df.itertuples()]
    return [r for r in rows if factor is None or r[0] == factor]


def one(con, entity_type: str, entity_id: str, factor: str, run_id: int | None = None):
    """The single line of ``factor`` for an entity (asserts there is exactly one)."""
    found = lines(con, entity_type, entity_id, factor, run_id)
    assert len(found) == 1, f"{entity_type} {entity_id}: expected one {factor} line, got {found}"
    return found[0]


def assessment(con, entity_type: str, entity_id: str, run_id: int | None = None) -> dict:
    a = risk.assessment(con, entity_type, entity_id, run_id)
    assert a is not None, f"{entity_type} {entity_id} was not assessed"
    return a
