"""The global filters every view shares: period (a year or a quarter), department, category.

``Filters.spend_where()`` gives a fixed SQL predicate with bound parameters, so every
query applies the filters the same way and no user value is pasted into SQL."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_PERIOD_RE = re.compile(r"^(\d{4})(?:-K([1-4]))?$")


@dataclass(frozen=True)
class Period:
    year: int
    quarter: int | None = None   # None = the whole year

    @classmethod
    def parse(cls, text: str) -> "Period":
        """'2025' → the year 2025; '2025-K3' → the third quarter of 2025."""
        m = _PERIOD_RE.match(str(text).strip())
        if not m:
            raise ValueError(f"not a period: {text!r} (expected YYYY or YYYY-K1..K4)")
        return cls(int(m.group(1)), int(m.group(2)) if m.group(2) else None)

    @property
    def key(self) -> str:
        return f"{self.year}" if self.quarter is None else f"{self.year}-K{self.quarter}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 1 if self.quarter is None else 3 * self.quarter - 2, 1)

    @property
    def end(self) -> dt.date:
        """Last day of the period (inclusive)."""
        if self.quarter is None:
            return dt.date(self.year, 12, 31)
        nxt = dt.date(self.year + (self.quarter == 4), 1 if self.quarter == 4 else 3 * self.quarter + 1, 1)
        return nxt - dt.timedelta(days=1)

    def previous(self) -> "Period":
        """The period before: last year for a year, the previous quarter for a quarter."""
        if self.quarter is None:
            return Period(self.year - 1)
        return Period(self.year - 1, 4) if self.quarter == 1 else Period(self.year, self.quarter - 1)

    def previous_quarter_end(self) -> "Period":
        """The quarter before the period's last quarter (for 'change from previous quarter')."""
        q = Period(self.year, 4) if self.quarter is None else self
        return q.previous()

    def label(self, lang: str = "nb") -> str:
        if self.quarter is None:
            return str(self.year)
        return f"{self.quarter}. kv. {self.year}" if lang == "nb" else f"Q{self.quarter} {self.year}"


@dataclass(frozen=True)
class Filters:
    period: Period
    department: str | None = None   # departments.code, None = all
    category: str | None = None     # categories.code, None = all

    def spend_where(self, alias: str = "s") -> tuple[str, list]:
        """Predicate on a spend table alias and its parameters."""
        a = alias
        sql = (f"{a}.posting_date BETWEEN ? AND ? AND (? IS NULL OR {a}.department = ?) "
               f"AND (? IS NULL OR {a}.category = ?)")
        return sql, [self.period.start, self.period.end, self.department, self.department,
                     self.category, self.category]

    def with_period(self, period: Period) -> "Filters":
        return Filters(period, self.department, self.category)


def period_options(years: list[int], last_date: dt.date | None = None) -> list[str]:
    """Choosable periods, newest first: each year and each of its quarters that has begun."""
    out: list[str] = []
    for y in sorted(years, reverse=True):
        out.append(str(y))
        for q in (4, 3, 2, 1):
            p = Period(y, q)
            if last_date is None or p.start <= last_date:
                out.append(p.key)
    return out


def default_period(years: list[int], last_date: dt.date | None) -> str | None:
    """The latest complete year when there is one (leaders compare whole years), else the latest."""
    if not years:
        return None
    if last_date is not None and last_date < dt.date(last_date.year, 12, 1) and len(years) > 1:
        return str(max(y for y in years if y < last_date.year))
    return str(max(years))
