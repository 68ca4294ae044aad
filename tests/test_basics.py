import datetime as dt
from decimal import Decimal

import pytest

from akrim_analytics import fmt, i18n, orgnr
from akrim_analytics.filters import Filters, Period, default_period, period_options


def test_nok_format():
    assert fmt.nok(2123086000) == "2 123 086 000 kr"
    assert fmt.nok(-1234.5, 2) == "-1 234,50 kr"
    assert fmt.nok(0.004) == "0 kr"
    assert fmt.number(1234567.891, 2) == "1 234 567,89"
    assert fmt.nok(None) == "–"
    assert fmt.pct(0.125) == "12,5 %"


AMOUNTS_TYPED = [
    ("12 500 000", "12500000.00"), ("12\u00a0500\u00a0000,50", "12500000.50"), ("1\u202f234", "1234.00"),
    ("1.234.567,89", "1234567.89"), ("1234567.89", "1234567.89"), ("1,234,567.89", "1234567.89"),
    ("kr 1 234", "1234.00"), ("1 234 kr", "1234.00"), ("NOK 99", "99.00"), ("1 234,-", "1234.00"),
    ("-1 234,50", "-1234.50"), ("(1 234,50)", "-1234.50"), ("\u22125", "-5.00"), ("1.234", "1234.00"),
    ("0,5", "0.50"), ("1,005", "1.01"), ("-0,125", "-0.13"), ("+100", "100.00"), (5000.0, "5000.00"),
    (7, "7.00"),
    ("  ", None), (None, None), (float("nan"), None),
]


@pytest.mark.parametrize("typed, expected", AMOUNTS_TYPED)
def test_amounts_are_read_as_a_person_types_them(typed, expected):
    got = fmt.parse_amount(typed)
    assert (None if got is None else str(got)) == expected


def test_a_typed_amount_reads_as_the_import_reads_it():
    """The forms' reader (``fmt.parse_amount``) and the import's SQL reader
    (``importer.parsing.amount``, Norwegian convention) are two implementations of the
    same rules: every text the form accepts gives the import's value, and what the form
    refuses the import does not read as a number either — except two slips the import,
    reading a whole column of an ERP's export, lets pass and a person typing is asked to
    correct: a dot misplaced as a thousands separator before a decimal comma, a doubled
    minus."""
    import duckdb
    import pyarrow as pa

    from akrim_analytics.importer import parsing

    texts = [v for v, _ in AMOUNTS_TYPED if isinstance(v, str)] + [
        "0,125", "1 234,565", "2,675", "(12)", "12-", "kr. 5", "5 NOK", "5,-", "1.000.000", "100.000,5", "1,234"]
    refused = ["mye", "1,2,3", "1.2.3", "12.34,5", "1e5", "1 234 kr kr", "--5", "1,234,567"]
    c = duckdb.connect()
    c.register("_raw", pa.table({"c0": pa.array(texts + refused)}))
    read = [r[0] for r in c.execute(f"SELECT {parsing.amount('c0', pa.string(), ',')} FROM _raw").fetchall()]
    assert [fmt.parse_amount(v) for v in texts] == read[:len(texts)]
    for v in refused:
        with pytest.raises(ValueError):
            fmt.parse_amount(v)
    lenient = {"12.34,5": Decimal("1234.50"), "--5": Decimal("-5.00")}
    assert read[len(texts):] == [lenient.get(v) for v in refused]


@pytest.mark.parametrize("typed", ["mye", "1,2,3", "1.2.3", "12.34,5", "1,2.3", "1e5", "nan", "Infinity",
                                   "99 999 999 999 999 999", True, "1 234 kr kr", "--5"])
def test_what_is_not_an_amount_is_refused(typed):
    with pytest.raises(ValueError):
        fmt.parse_amount(typed)


DECIMALS_TYPED = [
    ("1,5", 1.5), ("1.5", 1.5), ("0,25", 0.25), ("1 695", 1695.0), ("1\u00a0695,5", 1695.5), ("2.500", 2500.0),
    ("-0,5", -0.5), ("1,234", 1.234), ("424", 424.0), (3, 3.0), ("", None), (None, None),
]


@pytest.mark.parametrize("typed, expected", DECIMALS_TYPED)
def test_decimals_are_read_the_norwegian_way_and_not_rounded(typed, expected):
    assert fmt.parse_decimal(typed) == expected


@pytest.mark.parametrize("typed", ["to", "1,5 t", "kr 5", "1,2,3", "1e5", True])
def test_what_is_not_a_decimal_is_refused(typed):
    with pytest.raises(ValueError):
        fmt.parse_decimal(typed)


def test_decimal_text_is_read_back_unchanged():
    assert [fmt.decimal_text(v) for v in (1.5, 424.0, 1695, 0.25, 0.1 + 0.2, None)] == \
        ["1,5", "424", "1 695", "0,25", "0,3", ""]
    for v in (0.0, 1.5, 1695.5, -2.25, 12345.125):
        assert fmt.parse_decimal(fmt.decimal_text(v)) == v


def test_amount_text_is_read_back_unchanged():
    assert fmt.amount_text(12_500_000) == "12 500 000"
    assert fmt.amount_text(12_500_000.5) == "12 500 000,50"
    assert fmt.amount_text(None) == "" and fmt.amount_text(float("nan")) == ""
    for v in ("0.00", "1234567.89", "-42.10", "9999999999999.99"):
        assert fmt.parse_amount(fmt.amount_text(Decimal(v))) == Decimal(v)


def test_short_amounts_translate_the_word_not_the_number():
    assert fmt.nok_short(2_123_086_000) == "2,1 mrd. kr"
    assert fmt.nok_short(-255_500_000) == "-255,5 mill. kr"
    assert fmt.nok_short(999_999) == "999 999 kr"
    prev = i18n.get_language()
    try:
        i18n.set_language("en")
        assert fmt.nok_short(2_123_086_000) == "2,1 billion kr"
        assert fmt.nok_short(255_500_000) == "255,5 million kr"
    finally:
        i18n.set_language(prev)


def test_date_format():
    assert fmt.date(dt.date(2025, 12, 31)) == "31.12.2025"
    assert fmt.date("2025-01-05") == "05.01.2025"
    assert fmt.datetime(dt.datetime(2025, 12, 31, 14, 5)) == "31.12.2025 14:05"


def test_orgnr():
    assert orgnr.clean("974 760 673") == "974760673"
    assert orgnr.clean(974760673) == "974760673"
    assert orgnr.clean(974760673.0) == "974760673"
    assert orgnr.clean("NO 974760673 MVA") == "974760673"
    assert orgnr.clean("974760674") is None
    assert orgnr.clean("") is None and orgnr.clean(None) is None
    assert orgnr.check_digit("97476067") == 3


def test_periods():
    q = Period.parse("2025-K3")
    assert (q.start, q.end) == (dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    assert Period.parse("2025-K1").previous() == Period(2024, 4)
    assert Period.parse("2025").previous() == Period(2024)
    assert Period.parse("2024-K4").end == dt.date(2024, 12, 31)
    assert Period(2025, 2).label("nb") == "2. kv. 2025"
    with pytest.raises(ValueError):
        Period.parse("2025-Q3")
    opts = period_options([2025, 2026], dt.date(2026, 9, 30))
    assert opts[:4] == ["2026", "2026-K3", "2026-K2", "2026-K1"]
    assert "2026-K4" not in opts
    assert default_period([2025, 2026], dt.date(2026, 9, 30)) == "2025"
    assert default_period([2025], dt.date(2025, 12, 31)) == "2025"


def test_filters_bind_values(con):
    f = Filters(Period(2025), department="4100'; DROP TABLE spend; --", category=None)
    where, params = f.spend_where("s")
    assert "DROP" not in where
    con.execute(f"SELECT count(*) FROM spend s WHERE {where}", params).fetchone()
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name='spend'").fetchone()[0] == 1


def test_translations_complete():
    """Every key has both languages; t() formats and falls back visibly."""
    for key, entry in i18n.strings().items():
        assert entry.get("nb"), key
        assert entry.get("en"), key
    assert i18n.t("nav.oversikt", lang="en") == "Overview"
    assert i18n.t("oversikt.total_spend", lang="nb", year=2025) == "Samlet innkjøp 2025"
    assert i18n.t("no.such.key") == "no.such.key"
