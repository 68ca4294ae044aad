"""Norwegian number and date formats: ``1 234 567 kr``, ``31.12.2025``, ``12,5 %``."""
from __future__ import annotations

import datetime as dt
import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_CURRENCY = re.compile(r"^(?:kr\.?|nok)|(?:kr\.?|nok|,-|\.-)$", re.IGNORECASE)
_DOT_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+")
_PLAIN = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_ENGLISH = re.compile(r"\d{1,3}(?:,\d{3})+\.\d+")    # 1,234.56: unambiguous, so read too
_MAX_AMOUNT = Decimal("1e16")


def _typed_number(value, *, currency: bool) -> Decimal | None:
    """The number in what a person typed (see ``parse_amount``); ``currency``: a
    ``kr``/``NOK``/``,-`` around it is allowed. Blank → None; ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (int, float, Decimal)):
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    else:
        s = _SPACES.sub("", str(value))
        if not s:
            return None
        if currency:
            s = _CURRENCY.sub("", s)
        s = s.replace("\u2212", "-").replace("\u2013", "-")
        neg = False
        if s.startswith("(") and s.endswith(")"):
            neg, s = True, s[1:-1]
        elif s.startswith("-"):
            neg, s = True, s[1:]
        elif s.endswith("-"):
            neg, s = True, s[:-1]
        s = s.removeprefix("+")
        if _ENGLISH.fullmatch(s):
            s = s.replace(",", "")
        elif "," in s:
            whole, _, frac = s.partition(",")
            if "," in frac or "." in frac or ("." in whole and not _DOT_THOUSANDS.fullmatch(whole)):
                raise ValueError(value)
            s = whole.replace(".", "") + "." + frac
        elif _DOT_THOUSANDS.fullmatch(s):
            s = s.replace(".", "")
        if not _PLAIN.fullmatch(s):
            raise ValueError(value)
        d = Decimal(s)
        if neg:
            d = -d
    if not d.is_finite() or abs(d) >= _MAX_AMOUNT:
        raise ValueError(value)
    return d


def parse_amount(value) -> Decimal | None:
    """An amount a person typed, read the way ``number`` writes it: ``1 234 567``,
    ``1 234 567,89`` (ordinary, no-break or narrow spaces), ``1.234.567,89``,
    ``1234567.89``, ``1,234,567.89``, ``kr``/``NOK`` before or after, ``,-`` after, ``-``/``−`` or
    ``(…)`` for negative. Numbers pass through. Rounded to øre half away from zero
    (1,005 → 1,01), as the import's reader and DuckDB round; blank → None.
    Raises ValueError for anything else (also a dot that could be either separator is
    read as the import reads it: ``1.234`` is 1 234, a thousands dot)."""
    d = _typed_number(value, currency=True)
    if d is None:
        return None
    try:
        return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(value) from None


def parse_decimal(value) -> float | None:
    """A number a person typed that is not an amount (hours, FTEs, weights, points), read
    like ``parse_amount`` but without currency and not rounded: ``1,5`` and ``1.5`` are
    both one and a half (Streamlit's number field drops the comma and reads ``1,5`` as
    15), ``1 695`` and ``2.500`` (a thousands dot) are whole numbers. Blank → None;
    ValueError for anything else."""
    d = _typed_number(value, currency=False)
    return None if d is None else float(d)


def decimal_text(value, max_decimals: int = 4) -> str:
    """A number for a text field a person edits, as ``parse_decimal`` reads it back:
    ``1,5``, ``424``, ``1 695``, ``0,25`` (no trailing zeros; blank when None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    digits = f"{float(value):.{max_decimals}f}".rstrip("0").partition(".")[2]
    return number(float(value), len(digits))


def amount_text(value) -> str:
    """An amount for a text field a person edits: ``12 500 000`` or ``12 500 000,50``
    (øre only when there are any; blank when None); ``parse_amount`` reads it back."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return number(d, 0 if d == d.to_integral_value() else 2)


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
