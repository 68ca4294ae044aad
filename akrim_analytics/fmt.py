"""Norwegian number and date formats: ``1 234 567 kr``, ``31.12.2025``, ``12,5 %``."""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

THOUSANDS = " "  # Norwegian thousands separator (a space)


def number(value, decimals: int = 0) -> str:
    """``1234567.891`` → ``1 234 567,89`` (with decimals=2). None/NaN → ``–``."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and math.isnan(value):
        return "–"
    if round(float(value), decimals) == 0:
        value = 0.0  # no "-0"
    s = f"{value:,.{decimals}f}"  # '1,234,567.89'
    return s.replace(",", "\x00").replace(".", ",").replace("\x00", THOUSANDS)


def nok(value, decimals: int = 0) -> str:
    """``2123086000`` → ``2 123 086 000 kr``."""
    if value is None:
        return "–"
    return f"{number(value, decimals)} kr"


def nok_short(value) -> str:
    """Compact amounts for chart axes and KPI tiles: ``2,1 mrd. kr``, ``255,5 mill. kr``
    (in the English interface ``2,1 billion kr``: the number keeps its Norwegian form,
    the word is translated)."""
    if value is None:
        return "–"
    from .i18n import t

    v = float(value)
    a = abs(v)
    if a >= 1e9:
        return t("fmt.billion_kr", n=number(v / 1e9, 1))
    if a >= 1e6:
        return t("fmt.million_kr", n=number(v / 1e6, 1))
    return nok(v)


def pct(share, decimals: int = 1) -> str:
    """``0.125`` → ``12,5 %``."""
    if share is None:
        return "–"
    return f"{number(float(share) * 100, decimals)} %"


def date(value) -> str:
    """A date (or ISO text / datetime) → ``31.12.2025``."""
    if value is None:
        return "–"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.date()
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime().date()
    return value.strftime("%d.%m.%Y")


def datetime(value) -> str:
    """A timestamp → ``31.12.2025 14:05``."""
    if value is None:
        return "–"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.strftime("%d.%m.%Y %H:%M")


def quarter_label(year: int, quarter: int) -> str:
    """``(2025, 3)`` → ``3. kv. 2025``."""
    return f"{quarter}. kv. {year}"
