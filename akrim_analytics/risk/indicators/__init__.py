"""The registry of risk indicators.

An indicator is one small function decorated with ``@indicator(key, source)``. It
receives a ``Context`` (its own settings from ``[indicators.<key>]``, the whole
configuration, the as_of date and the explanation templates) and returns one or more
``(sql, params)`` pairs. Each SQL is a SELECT over the temporary table ``_risk_base``
(one row per assessed entity, see ``engine``), set-based over all entities at once,
giving the columns::

    entity_type, entity_no, dimension ('likelihood' | 'consequence'), points DOUBLE,
    unknown BOOLEAN, body_nb VARCHAR, body_en VARCHAR

(``entity_no`` is the entity's number in ``_risk_base``; the stored line refers to it
and the view ``risk_factors`` shows the entity's type and id from its assessment.)

Rows with NULL points are dropped, and so are ±0 lines of suppliers that do not
report missing data (a supplier's list shows what moves its score; contracts keep
their ±0 lines such as "not an exposed industry"), unless the indicator is
registered with ``always=True`` (the coverage line). The engine stores the rows in
``risk_factor_lines`` (the factor key and source once per part, in ``risk_factor_parts``);
the view ``risk_factors`` shows each with its points text ("+2 sannsynlighet") made
from the line's own points. The scores are computed from those stored points only.
Parameters are named (``$name``) and always bound; explanation templates come from
``locale/risk.toml`` (keys ``risk.x.<key>.<name>``) and are filled with DuckDB's ``format`` (the engine turns
``format($tpl, …)`` of a template with plain ``{}`` placeholders into the same text by
concatenation, which is several times cheaper per line; see ``engine._concat_templates``).

To add an indicator: write a function in one of the modules below (or a new module
imported here), give it a docstring naming its source in domain.md and its settings,
add its settings table to ``data/risk_config.toml`` and its texts to the locale file.
Nothing else changes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from ... import i18n


@dataclass
class Context:
    cfg: dict                 # the whole configuration
    settings: dict            # this indicator's [indicators.<key>] table
    as_of: dt.date
    window_start: dt.date     # spend window: (window_start, as_of]
    key: str = ""
    _params: dict = field(default_factory=dict)

    def tpl(self, name: str) -> dict:
        """Bind the nb and en explanation templates ``risk.x.<key>.<name>`` as
        ``$<name>_nb`` / ``$<name>_en``; returns them for ``params``."""
        entry = i18n.strings().get(f"risk.x.{self.key}.{name}")
        if entry is None:
            raise KeyError(f"missing explanation template risk.x.{self.key}.{name} in locale/risk.toml")
        return {f"{name}_nb": entry["nb"], f"{name}_en": entry.get("en") or entry["nb"]}

    def tpls(self, *names: str) -> dict:
        out: dict = {}
        for n in names:
            out.update(self.tpl(n))
        return out

    def get(self, name: str, default=None):
        return self.settings.get(name, default)


@dataclass(frozen=True)
class Indicator:
    key: str
    source: str                                  # section(s) of domain.md
    build: Callable[[Context], list[tuple[str, dict]]]
    doc: str
    always: bool = False                         # keep ±0 supplier lines too


INDICATORS: list[Indicator] = []


def indicator(key: str, source: str, *, always: bool = False):
    """Register ``fn(ctx) -> [(sql, params), ...]`` as the indicator ``key``."""
    def deco(fn):
        if any(i.key == key for i in INDICATORS):
            raise ValueError(f"indicator {key!r} registered twice")
        INDICATORS.append(Indicator(key, source, fn, (fn.__doc__ or "").strip(), always))
        return fn
    return deco


def band_sql(expr: str, bands: list, name: str = "band") -> tuple[str, dict]:
    """SQL giving the points of the highest band ``expr`` reaches (0 below the first),
    with the band limits and points as bound parameters."""
    params: dict = {}
    whens = []
    for i, (limit, points) in reversed(list(enumerate(bands))):
        params[f"{name}_l{i}"] = float(limit)
        params[f"{name}_p{i}"] = float(points)
        whens.append(f"WHEN ({expr}) >= ${name}_l{i} THEN ${name}_p{i}")
    if not whens:
        return "0.0", {}
    return "CASE " + " ".join(whens) + " ELSE 0.0 END", params


# Import order is the display order (likelihood first, then consequence).
from . import industry, contract, register, history, consequence  # noqa: E402,F401


def source_of(factor: str) -> str | None:
    """The domain.md source of an indicator (stored factor rows leave it to this)."""
    return next((i.source for i in INDICATORS if i.key == factor), None)
