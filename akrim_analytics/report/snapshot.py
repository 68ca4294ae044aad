"""Frozen editions of the quarterly report (table ``report_snapshots``, migration 0007).

The first generation of a quarter computes the dataset and stores it as edition 1;
every later generation of that quarter renders from the stored edition, so the
numbers never change after later uploads. ``new_edition=True`` recomputes from
today's data and stores edition n+1 (audit-logged with the reason); earlier editions
stay available and are never changed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from .. import audit, db
from ..auth import User, require
from ..filters import Period
from .dataset import DATASET_LAYOUT, Dataset, build, parse_quarter

REPORT_ROLE = "leder"   # least role that may generate (freeze) and download reports


@dataclass(frozen=True)
class Snapshot:
    """One stored edition of a quarter's report."""
    snapshot_id: int
    period: str
    edition: int
    created_at: dt.datetime
    created_by: str
    reason: str | None
    data_version: int
    risk_run_id: int | None
    risk_config_version: int | None
    risk_as_of: dt.date | None
    fingerprint: str
    dataset: Dataset

    @property
    def stamp(self) -> dict:
        """The values printed on every slide and sheet."""
        return {"period": self.period, "edition": self.edition, "data_version": self.data_version,
                "risk_config_version": self.risk_config_version, "risk_run_id": self.risk_run_id,
                "risk_as_of": self.risk_as_of, "created_at": self.created_at, "created_by": self.created_by,
                "fingerprint": self.fingerprint}


_COLUMNS = ("snapshot_id, period, edition, created_at, created_by, reason, data_version, risk_run_id, "
            "risk_config_version, risk_as_of, fingerprint, dataset")


def _row_to_snapshot(row) -> Snapshot:
    ds = Dataset.from_json(row[11])
    return Snapshot(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10], ds)


def _key(period: Period | str) -> str:
    p = parse_quarter(period) if isinstance(period, str) else period
    if p.quarter is None:
        raise ValueError("the report is made per quarter")
    return p.key


def load(con: duckdb.DuckDBPyConnection, period: Period | str, edition: int | None = None) -> Snapshot | None:
    """A stored edition (the newest when ``edition`` is None), or None if none is stored."""
    row = con.execute(
        f"""SELECT {_COLUMNS} FROM report_snapshots WHERE period = ? AND (? IS NULL OR edition = ?)
            ORDER BY edition DESC LIMIT 1""", [_key(period), edition, edition]).fetchone()
    return _row_to_snapshot(row) if row else None


def editions(con: duckdb.DuckDBPyConnection, period: Period | str | None = None) -> pd.DataFrame:
    """Stored editions (without their data), newest period and edition first."""
    key = None if period is None else _key(period)
    return con.execute(
        """SELECT snapshot_id, period, edition, created_at, created_by, reason, data_version, risk_run_id,
                  risk_config_version, risk_as_of, fingerprint
           FROM report_snapshots WHERE ? IS NULL OR period = ?
           ORDER BY period DESC, edition DESC""", [key, key]).df()


def freeze(con: duckdb.DuckDBPyConnection, user: User, period: Period | str, *, reason: str | None = None) -> Snapshot:
    """Compute the quarter's dataset from today's data and store it as a new edition."""
    require(user, REPORT_ROLE, "generate reports")
    key = _key(period)
    with db.transaction(con):
        ds = build(con, key)
        edition = con.execute("SELECT coalesce(max(edition), 0) + 1 FROM report_snapshots WHERE period = ?",
                              [key]).fetchone()[0]
        meta = ds.meta
        snapshot_id = con.execute(
            """INSERT INTO report_snapshots (period, edition, created_by, reason, data_version, risk_run_id,
                   risk_config_version, risk_as_of, layout_version, fingerprint, dataset)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING snapshot_id""",
            [key, edition, user.username, reason, meta["data_version"], meta["risk_run_id"],
             meta["risk_config_version"], meta["risk_as_of"], DATASET_LAYOUT, ds.fingerprint, ds.to_json()],
        ).fetchone()[0]
        audit.log(con, user, "report_edition", "report", f"{key}#{edition}",
                  {"period": key, "edition": edition, "data_version": meta["data_version"],
                   "risk_run_id": meta["risk_run_id"], "risk_config_version": meta["risk_config_version"],
                   "fingerprint": ds.fingerprint, "reason": reason})
    return load_id(con, snapshot_id)


def load_id(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> Snapshot:
    row = con.execute(f"SELECT {_COLUMNS} FROM report_snapshots WHERE snapshot_id = ?", [snapshot_id]).fetchone()
    if row is None:
        raise KeyError(snapshot_id)
    return _row_to_snapshot(row)


def get_or_freeze(con: duckdb.DuckDBPyConnection, user: User, period: Period | str, *,
                  new_edition: bool = False, reason: str | None = None) -> Snapshot:
    """The edition to report from: the newest stored one, or — the first time, or when
    ``new_edition`` is asked for — a newly frozen one."""
    require(user, REPORT_ROLE, "generate reports")
    if not new_edition:
        found = load(con, period)
        if found is not None:
            return found
    return freeze(con, user, period, reason=reason)


def is_stale(con: duckdb.DuckDBPyConnection, snap: Snapshot) -> bool:
    """True when the data or the risk picture has changed since the edition was frozen
    (a new edition would give other numbers)."""
    return db.data_version(con) != snap.data_version
