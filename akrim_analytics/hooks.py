"""What must follow a change of data: e.g. re-scoring risk after an upload, an undo,
a contract edit or a new control. Write functions call ``data_changed`` inside their
transaction, so the derived data is stored together with the change or not at all.

Listeners are named as 'module:function' and imported lazily, so a feature plugs in
without the writers importing it (and without import cycles)."""
from __future__ import annotations

import importlib

import duckdb

from .auth import User

AFTER_DATA_CHANGE: list[str] = [
    "akrim_analytics.risk:rescore_after_change",
]


def data_changed(con: duckdb.DuckDBPyConnection, user: User, reason: str) -> None:
    for spec in AFTER_DATA_CHANGE:
        module, name = spec.split(":")
        getattr(importlib.import_module(module), name)(con, user, reason)
