"""The registry of import kinds: what a file of each kind holds and how it is stored.

A kind is a ``Kind``: its canonical ``Field``s (with header synonyms and a type the
SQL parsers know), row ``Check``s in SQL, and the functions that store (``commit``)
and remove (``undo``) an upload. The generic pipeline does everything else: reading,
header and sheet detection, mapping, parsing, total rows, the validation report, the
transaction, the uploads row, audit log, data version and hooks.

Kinds are defined in modules listed in ``KIND_MODULES``; each calls ``register(kind)``
when imported. See the package docstring (``akrim_analytics.importer``) for how to add
one.
"""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

# Modules that define kinds (imported lazily, in this order). Another feature adds its
# module here, e.g. "akrim_analytics.followup.import_controls".
KIND_MODULES: list[str] = [
    "akrim_analytics.importer.spend",
    "akrim_analytics.importer.contracts",
    "akrim_analytics.importer.suppliers",
    "akrim_analytics.controls_import",
]

FIELD_TYPES = ("text", "code", "amount", "date", "period", "orgnr", "bool", "int", "cpv", "nace")


@dataclass(frozen=True)
class Field:
    """A canonical column of a kind.

    ``type`` is one of FIELD_TYPES (parsers in ``parsing.py``). ``synonyms`` are header
    variants in order of preference (compared normalised, see ``headers.normalise``).
    ``on_invalid``: a value that is present but unreadable rejects the row (``reject``)
    or is dropped with a warning (``warn``)."""
    name: str
    type: str
    synonyms: tuple[str, ...]
    required: bool = False
    on_invalid: str = "reject"

    def __post_init__(self):
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}")
        if self.on_invalid not in ("reject", "warn"):
            raise ValueError("on_invalid must be 'reject' or 'warn'")


@dataclass(frozen=True)
class Check:
    """A row rule in SQL over the typed batch: rows where ``condition`` is true are
    rejected (or only warned about when ``warn``) with reason ``import.reason.<reason>``;
    ``field`` names the column blamed in the report. The condition may use every field
    name (typed value, NULL when not mapped) and ``<field>__raw`` (text as in the file);
    the row is ``t``, and ``{typed}`` stands for the whole batch (for rules across rows,
    e.g. ``EXISTS (SELECT 1 FROM {typed} d WHERE d.id = t.id AND d._row < t._row
    AND NOT d._blank AND NOT d._total)`` for a repeated id)."""
    reason: str
    condition: str
    field: str | None = None
    warn: bool = False


@dataclass
class CommitStats:
    rows: int
    total: float | None = None
    details: dict = field(default_factory=dict)


@dataclass
class Kind:
    """One kind of import.

    commit(con, user, upload_id, batch, prepared) -> CommitStats
        Called inside the import transaction. ``batch`` is the name of a registered
        relation holding the valid rows (``_row`` and every field, typed). It must
        write only rows it can later find again by ``upload_id``.
    undo(con, user, upload_id) -> dict
        Called inside the undo transaction; removes exactly what commit wrote
        (restoring rows it replaced) and returns counts for the audit log.
    analyse(con, batch, prepared) -> dict   (optional)
        Read-only look at the batch against the database for the preview and report,
        e.g. lines that overlap earlier uploads or suppliers that will be created.
        Its result is in ``prepared.report['kind']`` and reaches ``commit``.
    refine_mapping(mapping, columns, samples) -> mapping   (optional)
        Content-based corrections of the suggested mapping.
    """
    name: str
    label_key: str
    fields: list[Field]
    commit: Callable[..., CommitStats]
    undo: Callable[..., dict]
    required_any: list[tuple[str, ...]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    amount_field: str | None = None          # enables total rows and sums
    identity_fields: tuple[str, ...] = ()    # a row with one of these is never a total row
    anchor_fields: tuple[str, ...] = ()      # a header row must match one of these
    analyse: Callable[..., dict] | None = None
    refine_mapping: Callable[..., dict] | None = None
    priority: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def synonym_table(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(f.name, f.synonyms) for f in self.fields]


_KINDS: dict[str, Kind] = {}
_MODULE_OF: dict[str, str] = {}   # kind name → the module that registered it
_loaded = False


def register(kind: Kind) -> Kind:
    """Add (or replace) a kind in the registry."""
    names = kind.field_names
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate field names in kind {kind.name}")
    for group in kind.required_any:
        for f in group:
            if f not in names:
                raise ValueError(f"kind {kind.name}: required field {f} is not a field")
    _KINDS[kind.name] = kind
    _MODULE_OF[kind.name] = sys._getframe(1).f_globals.get("__name__", "")
    return kind


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in KIND_MODULES:
        importlib.import_module(module)


def get(name: str) -> Kind:
    if name not in _KINDS:   # import kind modules one by one until the kind is known
        for module in KIND_MODULES:
            importlib.import_module(module)
            if name in _KINDS:
                break
    if name not in _KINDS:
        _load()
    if name not in _KINDS:
        from .errors import ImportRefused

        raise ImportRefused("unknown_kind", kind=name, kinds=", ".join(sorted(_KINDS)))
    return _KINDS[name]


def names() -> list[str]:
    """Every kind, in the order of ``KIND_MODULES`` (spend first: the page's default),
    whichever module happened to be imported first; kinds from other modules last."""
    _load()
    rank = {m: i for i, m in enumerate(KIND_MODULES)}
    order = {n: i for i, n in enumerate(_KINDS)}
    return sorted(_KINDS, key=lambda n: (rank.get(_MODULE_OF.get(n, ""), len(rank)), order[n]))
