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


def warm_up() -> None:
    """Let each listener load what it reads from disk on first use (reference tables,
    the default configuration), e.g. while a large upload is still being read. A
    listener module opts in with a ``warm_up()`` function of its own."""
    for spec in AFTER_DATA_CHANGE:
        fn = getattr(importlib.import_module(spec.split(":")[0]), "warm_up", None)
        if fn is not None:
            fn()
