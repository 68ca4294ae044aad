"""Norwegian organisation numbers (9 digits, MOD11), via python-stdnum."""
from __future__ import annotations

from stdnum.no import orgnr as _orgnr


def clean(value) -> str | None:
    """Return the 9-digit number if ``value`` is a valid org number, else None.

    Accepts text or numbers, with spaces, dots or an 'NO'/'MVA' decoration."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value or not value.is_integer():
            return None
        value = int(value)
    s = str(value).strip().upper()
    if s.startswith("NO"):
        s = s[2:]
    if s.endswith("MVA"):
        s = s[:-3]
    s = "".join(ch for ch in s if ch.isdigit() or ch.isalpha())
    try:
        return _orgnr.validate(s)
    except Exception:
        return None


def is_valid(value) -> bool:
    return clean(value) is not None


def check_digit(first8: str) -> int | None:
    """The MOD11 check digit for 8 leading digits, or None when none exists (remainder 1)."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    total = sum(int(d) * w for d, w in zip(first8, weights))
    r = 11 - total % 11
    if r == 11:
        return 0
    if r == 10:
        return None
    return r
