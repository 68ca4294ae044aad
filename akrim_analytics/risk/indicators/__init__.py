"""The registry of risk indicators.

An indicator is one small function decorated with ``@indicator(key, source)``. It
receives a ``Context`` (its own settings from ``[indicators.<key>]``, the whole
configuration, the as_of date) and returns one or more ``(sql, params)`` pairs. Each
SQL is a SELECT over the temporary table ``_risk_base`` (one row per assessed entity,
see ``engine``), set-based over all entities at once, giving the columns::

    entity_type, entity_no, dimension ('likelihood' | 'consequence'), points DOUBLE,
    unknown BOOLEAN, <ctx.explain(...)>

(``entity_no`` is the entity's number in ``_risk_base``; the stored line refers to it
and the view ``risk_factors`` shows the entity's type and id from its assessment.)

The explanation is declared once for both languages with ``ctx.explain``: cases of
``(SQL condition, text(template name, values…))``, the templates coming from
``locale/risk.toml`` (keys ``risk.x.<key>.<name>``, plain ``{}`` placeholders) and the
values given as ``val`` (shown as DuckDB spells it), ``nok`` (an amount), ``date``,
``lang`` (a different value per language), ``const`` (a setting, written into the
template), ``nested`` (another template in place) or ``pick`` (one of several fixed
texts). The run stores each indicator's templates once (``risk_factor_parts``) and each
line only its template number and values; the view writes the text (migration 0012).
An indicator may instead give ``body_nb, body_en`` (whole texts, e.g. from DuckDB's
``format``): the engine stores those as they are.

Rows with NULL points are dropped, and so are ±0 lines of suppliers that do not
report missing data (a supplier's list shows what moves its score; contracts keep
their ±0 lines such as "not an exposed industry"), unless the indicator is
registered with ``always=True`` (the coverage line). The engine stores the rows in
``risk_factor_lines`` (the factor key and source once per part, in ``risk_factor_parts``);
the view ``risk_factors`` shows each with its points text ("+2 sannsynlighet") made
from the line's own points. The scores are computed from those stored points only.
Parameters are named (``$name``) and always bound.

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


MAX_VALUES = 6   # values per explanation template (columns a1 … a6 of risk_factor_lines)


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
        ``$<name>_nb`` / ``$<name>_en``; returns them for ``params`` (for an indicator
        that gives whole texts; the built-in ones use ``explain``)."""
        nb, en = self._entry(name)
        return {f"{name}_nb": nb, f"{name}_en": en}

    def tpls(self, *names: str) -> dict:
        out: dict = {}
        for n in names:
            out.update(self.tpl(n))
        return out

    def get(self, name: str, default=None):
        return self.settings.get(name, default)

    # -- explanations as template + values (see ``explain``) --------------------------
    _templates: list = field(default_factory=list)   # [(nb pieces, en pieces, slot formats)]
    _template_no: dict = field(default_factory=dict)

    def _entry(self, name: str) -> tuple[str, str]:
        """The nb and en text of ``risk.x.<key>.<name>`` ("" for the empty name)."""
        if name == "":
            return "", ""
        entry = i18n.strings().get(f"risk.x.{self.key}.{name}")
        if entry is None:
            raise KeyError(f"missing explanation template risk.x.{self.key}.{name} in locale/risk.toml")
        return entry["nb"], entry.get("en") or entry["nb"]

    def _number(self, nb: list[str], en: list[str], fmts: list[str]) -> int:
        key = (tuple(nb), tuple(en), tuple(fmts))
        if key not in self._template_no:
            self._templates.append((list(nb), list(en), list(fmts)))
            self._template_no[key] = len(self._templates)
        return self._template_no[key]

    def _flatten(self, text: "Text") -> tuple[list[str], list[str], list[tuple[str, str]]]:
        """The template ``text.name`` with its constants and nested templates written
        into the text: (nb pieces, en pieces, [(slot format, slot SQL)]), one piece more
        than slots."""
        nb_t, en_t = self._entry(text.name)
        nb_parts, en_parts = nb_t.split("{}"), en_t.split("{}")
        if len(nb_parts) != len(text.args) + 1 or len(en_parts) != len(text.args) + 1:
            raise ValueError(f"risk.x.{self.key}.{text.name}: the template has {len(nb_parts) - 1} (nb) and "
                             f"{len(en_parts) - 1} (en) placeholders for {len(text.args)} values")
        if any("{" in x or "}" in x for x in nb_parts + en_parts):
            raise ValueError(f"risk.x.{self.key}.{text.name}: only plain {{}} placeholders are supported")
        nb, en, slots = [nb_parts[0]], [en_parts[0]], []
        for i, a in enumerate(text.args):
            if a.kind == "const":
                nb[-1] += a.text + nb_parts[i + 1]
                en[-1] += a.text + en_parts[i + 1]
            elif a.kind == "nested":
                n_nb, n_en, n_slots = self._flatten(a.nested)
                nb[-1] += n_nb[0]
                en[-1] += n_en[0]
                nb.extend(n_nb[1:])
                en.extend(n_en[1:])
                nb[-1] += nb_parts[i + 1]
                en[-1] += en_parts[i + 1]
                slots.extend(n_slots)
            elif a.kind == "lang":
                # two values, each shown only in its own language
                slots.extend([("nb", a.sql), ("en", a.sql_en)])
                nb.extend(["", nb_parts[i + 1]])
                en.extend(["", en_parts[i + 1]])
            elif a.kind == "pick":
                whens, otherwise = [], ""
                for cond, name in a.cases:   # each fixed text a template without values
                    nb_text, en_text = self._entry(name)
                    no = self._number([nb_text], [en_text], [])
                    if cond is None:
                        otherwise = f" ELSE {no}"
                    else:
                        whens.append(f"WHEN {cond} THEN {no}")
                slots.append(("t", "CASE " + " ".join(whens) + otherwise + " END"))
                nb.append(nb_parts[i + 1])
                en.append(en_parts[i + 1])
            else:
                slots.append((a.fmt, a.sql))
                nb.append(nb_parts[i + 1])
                en.append(en_parts[i + 1])
        return nb, en, slots

    def explain(self, *cases: "tuple[str | None, Text]") -> str:
        """The SQL of the columns ``tpl, a1 … a6`` of an indicator's SELECT: which
        explanation template a line uses and the values that fill it, one ``(condition,
        text(...))`` per case, tried in order like a CASE (condition None: otherwise).

        The stored line keeps only these; the view ``risk_factors`` writes the
        explanation from them in Norwegian and English (``risk_fill``, migration 0012),
        so a run stores each template's fixed text once, not on every line. Amounts
        (``nok``) and dates (``date``) are stored as plain values and formatted per
        language when read; constants (``const``) and nested templates (``nested``)
        are written into the template itself; ``pick`` chooses a fixed text."""
        whens: list[str] = []                      # per case: "WHEN cond THEN" or "ELSE"
        numbers: list[int] = []                    # per case: its template
        values: list[list[str | None]] = []        # per case: the SQL of each value column
        for cond, t in cases:
            nb, en, slots = self._flatten(t)
            if len(slots) > MAX_VALUES:
                raise ValueError(f"risk.x.{self.key}.{t.name}: more than {MAX_VALUES} values")
            numbers.append(self._number(nb, en, [f for f, _ in slots]))
            whens.append("ELSE" if cond is None else f"WHEN {cond} THEN")
            row: list[str | None] = [None] * MAX_VALUES
            for j, (fmt, sql) in enumerate(slots):
                if fmt == "nok":
                    row[j] = f"CAST(CAST(({sql}) AS DOUBLE) AS VARCHAR)"
                elif fmt == "date":
                    row[j] = f"CAST(CAST(({sql}) AS DATE) AS VARCHAR)"
                else:
                    row[j] = f"CAST(({sql}) AS VARCHAR)"
            values.append(row)
            if cond is None:
                break

        def case(items: list[str | None], cast: str) -> str:
            if all(v is None for v in items):
                return f"NULL::{cast}"
            if whens == ["ELSE"]:
                return f"CAST({items[0]} AS {cast})"
            body = " ".join(f"{w} {v if v is not None else 'NULL'}" for w, v in zip(whens, items))
            return f"CAST(CASE {body} END AS {cast})"

        cols = [case([str(n) for n in numbers], "SMALLINT") + " AS tpl"]
        cols += [case([r[j] for r in values], "VARCHAR") + f" AS a{j + 1}" for j in range(MAX_VALUES)]
        return ", ".join(cols)

    def templates(self) -> list[tuple[list[str], list[str], list[str]]]:
        """The templates ``explain`` registered, numbered from 1 in this order."""
        return list(self._templates)


@dataclass(frozen=True)
class Arg:
    """One value of an explanation template (see ``Context.explain``)."""
    kind: str                      # sql | const | lang | pick | nested
    sql: str = ""                  # sql: the expression; lang: the Norwegian one
    sql_en: str = ""               # lang: the English expression
    fmt: str = ""                  # sql: "" (as text), "nok" (amount), "date"
    text: str = ""                 # const: the text, the same in both languages
    cases: tuple = ()              # pick: ((condition or None, template name), ...)
    nested: "Text | None" = None   # nested: a template written into this one


@dataclass(frozen=True)
class Text:
    """An explanation template ``risk.x.<key>.<name>`` and its values, in order."""
    name: str
    args: tuple = ()


def text(name: str, *args: Arg) -> Text:
    return Text(name, tuple(args))


def val(sql: str) -> Arg:
    """A value shown as DuckDB spells it as text (codes, names, counts, years)."""
    return Arg("sql", sql=sql)


def nok(sql: str) -> Arg:
    """An amount: ``1 234 567 kr`` / ``NOK 1,234,567``."""
    return Arg("sql", sql=sql, fmt="nok")


def date(sql: str) -> Arg:
    """A date: ``31.12.2025`` / ``2025-12-31``."""
    return Arg("sql", sql=sql, fmt="date")


def const(value) -> Arg:
    """A value fixed for the whole run (a setting), written into the template."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"const takes an int or a str, not {type(value).__name__}")
    return Arg("const", text=str(value))


def lang(nb_sql: str, en_sql: str) -> Arg:
    """A value that differs by language (e.g. an industry's name from the settings)."""
    return Arg("lang", sql=nb_sql, sql_en=en_sql)


def pick(*cases: tuple[str | None, str]) -> Arg:
    """One of several fixed texts (template names; "" for none), by SQL condition."""
    return Arg("pick", cases=tuple(cases))


def nested(name: str, *args: Arg) -> Arg:
    """Another template of the same indicator, with its own values, in place."""
    return Arg("nested", nested=Text(name, tuple(args)))


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
