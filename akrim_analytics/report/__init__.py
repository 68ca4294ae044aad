"""The quarterly leadership report and the evidence export for Arbeidstilsynet.

Quarterly report
================
For a chosen quarter one call produces a PowerPoint deck (native, editable charts and
tables) and an Excel workbook (the same tables, one sheet each): key figures with the
change from the previous quarter, spend by category, the 5×5 risk heatmap, the ten
highest-risk contracts with their reasons, controls against need and plan (per DFØ
step and per department), findings and sanctions, and the resource scenario (what one
more dedicated person would cover).

Reproducibility — the design choice
-----------------------------------
The report **freezes its dataset**. The first time a quarter is generated, every table
is computed from the database (``dataset.build``) and stored, with the data version,
the risk run and the risk-configuration version it came from, as *edition 1* in
``report_snapshots`` (migration 0007; ``snapshot.freeze``, audit action
``report_edition``). Every later generation for that quarter renders from the stored
edition, so a deck downloaded again in a month shows exactly the numbers the
leadership saw, even after later uploads, corrections or a changed risk model. When
someone explicitly asks for a *new edition* (``new_edition=True``, with a reason),
today's data is frozen as edition n+1; old editions are kept unchanged and can still
be downloaded. Every slide and sheet carries the stamp — data version, risk
configuration version, risk run and its date, edition, and the SHA-256 checksum of
the dataset — and the files' document properties carry the same values.

The alternative, restricting every query to "what was known at the snapshot", was
rejected: an undo deletes rows, the risk engine prunes superseded runs, and
contracts/controls are edited in place, so the past cannot be re-derived reliably.

Rendering is pure: ``deck.render(snapshot, lang)`` and ``workbook.render(snapshot, lang)``
turn a stored edition into bytes without touching the database. Every download or
CLI export is audit-logged with action ``export`` (``export.record_export``).

Evidence for supervision
========================
``evidence`` lists, for every contract the wage regulation covers (``covered`` in the
risk run), whether the wage and seriousness clauses are in it, its documented risk
assessment (level, likelihood, consequence, the factors, date and configuration
version), and every control performed with date, step and outcome, with findings and
sanctions — as an Excel workbook stamped with the data version and risk run.

Public API::

    quarter_options(con) -> ['2026-K3', ...];  default_quarter(con) -> '2026-K2'
    get_or_freeze(con, user, '2026-K3', new_edition=False, reason=None) -> Snapshot
    load(con, '2026-K3', edition=None) -> Snapshot | None;  editions(con, period=None)
    render(snapshot, 'pptx' | 'xlsx', lang='nb') -> bytes;  file_name(snapshot, fmt, lang)
    generate(con, user, '2026-K3', 'pptx', lang='nb', new_edition=False) -> (bytes, name, Snapshot)
    evidence.build(con, as_of=None) / evidence.render(ev, lang) / export_evidence(con, user, ...)
"""
from __future__ import annotations

import duckdb

from .. import export
from ..auth import User, require
from .dataset import DATASET_LAYOUT, TABLES, Dataset, build, default_quarter, parse_quarter, quarter_options  # noqa: F401
from .snapshot import REPORT_ROLE, Snapshot, editions, freeze, get_or_freeze, is_stale, load, load_id  # noqa: F401

FORMATS = ("pptx", "xlsx")
MIME = {"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def render(snap: Snapshot, file_format: str, lang: str = "nb") -> bytes:
    """A stored edition as a file (no database access, no audit entry)."""
    if file_format == "pptx":
        from . import deck

        return deck.render(snap, lang)
    if file_format == "xlsx":
        from . import workbook

        return workbook.render(snap, lang)
    raise ValueError(f"unknown report format {file_format!r} (expected one of {', '.join(FORMATS)})")


def file_name(snap: Snapshot, file_format: str, lang: str = "nb") -> str:
    from .labels import file_name as _fn

    return _fn(snap, file_format, lang)


def record_download(con: duckdb.DuckDBPyConnection, user: User, snap: Snapshot, file_format: str) -> None:
    """The audit entry for one download of an edition (action ``export``)."""
    export.record_export(con, user, "quarterly_report", file_format,
                         details={"period": snap.period, "edition": snap.edition,
                                  "data_version": snap.data_version, "risk_run_id": snap.risk_run_id,
                                  "risk_config_version": snap.risk_config_version,
                                  "fingerprint": snap.fingerprint})


def generate(con: duckdb.DuckDBPyConnection, user: User, period: str, file_format: str, *, lang: str = "nb",
             new_edition: bool = False, reason: str | None = None,
             edition: int | None = None) -> tuple[bytes, str, Snapshot]:
    """Everything behind the one click: the edition to report from (frozen now if the
    quarter has none, or if ``new_edition``), rendered, and the export audit-logged.

    ``edition`` picks an older stored edition instead of the newest."""
    require(user, REPORT_ROLE, "generate reports")
    if file_format not in FORMATS:
        raise ValueError(f"unknown report format {file_format!r} (expected one of {', '.join(FORMATS)})")
    if edition is not None and not new_edition:
        snap = load(con, period, edition)
        if snap is None:
            raise LookupError(f"the report for {period} has no edition {edition}")
    else:
        snap = get_or_freeze(con, user, period, new_edition=new_edition, reason=reason)
    data = render(snap, file_format, lang)
    record_download(con, user, snap, file_format)
    return data, file_name(snap, file_format, lang), snap
