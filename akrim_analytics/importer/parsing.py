"""SQL expressions that turn a raw column into a typed value, for the whole batch.

Each builder takes a generated column identifier (``c3``, never a header from the
file) and the column's Arrow type, and returns a DuckDB SQL expression. A value that
is present but cannot be read gives NULL; the pipeline compares the raw value with the
parsed one to report the row, column and reason.

Formats read:

* amounts: numbers; text in Norwegian style ``1 234 567,89`` (ordinary, no-break or
  narrow spaces, or dots as thousands separators), English ``1,234,567.89``,
  ``-1 234,50``, ``(1 234,50)``, ``1 234,50-``, ``kr 1 234``, ``1 234 kr``, ``NOK``,
  ``1 234,-``. Whether a lone separator is decimal or thousands is decided per column
  (``amount_convention``) from all its values;
* dates: Excel dates (typed cells or serial numbers), ``dd.mm.yyyy`` / ``d.m.yy``,
  ``dd/mm/yyyy``, ``dd-mm-yyyy``, ISO ``yyyy-mm-dd`` (with or without a time),
  ``yyyymmdd``, and a period ``YYYYMM`` (first day of the month);
* periods: ``YYYYMM`` as number or text, ``YYYY-MM``, ``YYYY/MM``, ``MM.YYYY``, dates;
* organisation numbers: 9 digits with MOD11 check, as text or number, with spaces,
  dots, ``NO`` prefix or ``MVA`` suffix;
* codes (account, department, supplier no.): numbers without a trailing ``.0``;
* booleans: ja/nei, yes/no, true/false, x, 1/0.
"""
from __future__ import annotations

import pyarrow as pa

WS = "[ \\t\\r\\n\u00a0\u2007\u202f\u2009\u200a]"   # whitespace incl. no-break/narrow/thin spaces


def is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_timestamp(t) or pa.types.is_date(t)


def is_null(t: pa.DataType) -> bool:
    return pa.types.is_null(t)


def raw(col: str, t: pa.DataType) -> str:
    """The value as text, as it stood in the file (NULL for an empty cell)."""
    if is_null(t):
        return "CAST(NULL AS VARCHAR)"
    if is_string(t):
        return f"nullif(regexp_replace({col}, '^{WS}+|{WS}+$', '', 'g'), '')"
    if pa.types.is_floating(t):
        return (f"CASE WHEN {col} IS NULL OR isnan({col}) THEN NULL "
                f"WHEN {col} = trunc({col}) AND abs({col}) < 1e15 THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) "
                f"ELSE CAST({col} AS VARCHAR) END")
    if pa.types.is_timestamp(t):
        return (f"CASE WHEN {col} = date_trunc('day', {col}) THEN strftime({col}, '%Y-%m-%d') "
                f"ELSE strftime({col}, '%Y-%m-%d %H:%M:%S') END")
    return f"CAST({col} AS VARCHAR)"


def text(col: str, t: pa.DataType) -> str:
    """Free text, stored verbatim (only surrounding whitespace is removed)."""
    return raw(col, t)


def code(col: str, t: pa.DataType) -> str:
    """An identifier such as an account, department or supplier number."""
    return raw(col, t)


# ------------------------------------------------------------------------ amounts

def amount_convention(col: str, t: pa.DataType) -> str:
    """SQL giving ',' or '.' for the column's decimal separator, judged on all values:
    '.' when values like ``1,234.56`` or ``1234.5`` outnumber ``1 234,56``/``1.234,5``."""
    if not is_string(t):
        return "SELECT '.'"
    v = f"regexp_replace({col}, '{WS}', '', 'g')"
    return f"""SELECT CASE WHEN
        count(*) FILTER (WHERE regexp_matches({v}, '^[-(]?[0-9]{{1,3}}(,[0-9]{{3}})+\\.[0-9]+[)-]?$')
                            OR regexp_matches({v}, '^[-(]?[0-9]+\\.[0-9]{{1,2}}[)-]?$'))
      > count(*) FILTER (WHERE regexp_matches({v}, ',[0-9]{{1,2}}[)-]?$')
                            OR regexp_matches({v}, '^[-(]?[0-9]{{1,3}}(\\.[0-9]{{3}})+,[0-9]+'))
      THEN '.' ELSE ',' END FROM _raw"""


def amount(col: str, t: pa.DataType, convention: str = ",") -> str:
    """DECIMAL(18,2); NULL when absent or unreadable."""
    if is_null(t):
        return "CAST(NULL AS DECIMAL(18,2))"
    if is_number(t):
        return (f"CASE WHEN {col} IS NULL OR isnan(CAST({col} AS DOUBLE)) OR isinf(CAST({col} AS DOUBLE)) "
                f"OR abs(CAST({col} AS DOUBLE)) >= 1e15 THEN NULL "
                f"ELSE CAST(round(CAST({col} AS DOUBLE), 2) AS DECIMAL(18,2)) END")
    if not is_string(t):
        return "CAST(NULL AS DECIMAL(18,2))"
    # 1) drop whitespace and currency; 2) sign from '-', '−', '(…)' or a trailing '-';
    # 3) decide the decimal separator; 4) cast.
    s0 = f"regexp_replace({col}, '{WS}', '', 'g')"
    s1 = (f"regexp_replace(regexp_replace({s0}, '^(?i)(kr\\.?|nok)', ''), "
          f"'(?i)(kr\\.?|nok|,-|\\.-)$', '')")
    s1 = f"replace(replace({s1}, '\u2212', '-'), '\u2013', '-')"
    neg = f"(starts_with({s1}, '-') OR ends_with({s1}, '-') OR (starts_with({s1}, '(') AND ends_with({s1}, ')')))"
    body = f"regexp_replace({s1}, '^[-+(]+|[-)]+$', '', 'g')"
    if convention == ".":
        dec = (f"CASE WHEN contains({body}, ',') AND contains({body}, '.') AND strpos({body}, ',') > strpos({body}, '.') "
               f"THEN replace(replace({body}, '.', ''), ',', '.') "
               f"WHEN contains({body}, ',') AND NOT contains({body}, '.') "
               f"     AND NOT regexp_matches({body}, '^[0-9]{{1,3}}(,[0-9]{{3}})+$') THEN replace({body}, ',', '.') "
               f"ELSE replace({body}, ',', '') END")
    else:
        dec = (f"CASE WHEN contains({body}, ',') AND contains({body}, '.') AND strpos({body}, '.') > strpos({body}, ',') "
               f"THEN replace({body}, ',', '') "
               f"WHEN contains({body}, ',') THEN replace(replace({body}, '.', ''), ',', '.') "
               f"WHEN regexp_matches({body}, '^[0-9]{{1,3}}(\\.[0-9]{{3}})+$') THEN replace({body}, '.', '') "
               f"ELSE {body} END")
    return (f"(SELECT CASE WHEN regexp_full_match(d, '[0-9]+(\\.[0-9]*)?|\\.[0-9]+') AND length(d) <= 20 "
            f"AND TRY_CAST(d AS DOUBLE) < 1e15 "
            f"THEN CAST(round(CAST(d AS DECIMAL(38,6)), 2) AS DECIMAL(18,2)) * CASE WHEN n THEN -1 ELSE 1 END "
            f"END FROM (SELECT {dec} AS d, {neg} AS n))")


# -------------------------------------------------------------------------- dates

DATE_FORMATS_4Y = ["%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y.%m.%d", "%Y/%m/%d",
                   "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M:%S",
                   "%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%S.%f",
                   "%Y-%m-%d %H:%M:%S.%f"]
DATE_FORMATS_2Y = ["%d.%m.%y", "%d/%m/%y", "%d-%m-%y"]


def _fmt_list(formats: list[str]) -> str:
    return "[" + ", ".join("'" + f + "'" for f in formats) + "]"


def _number_to_date(x: str) -> str:
    """A number as a date: yyyymmdd, yyyymm (first of month) or an Excel serial."""
    return (f"CASE WHEN {x} IS NULL OR isnan({x}) THEN NULL "
            f"WHEN {x} >= 1 AND {x} < 109575 THEN DATE '1899-12-30' + CAST(floor({x}) AS INTEGER) "
            f"WHEN {x} <> trunc({x}) THEN NULL "
            f"WHEN {x} BETWEEN 19000101 AND 21991231 THEN TRY_CAST(try_strptime(CAST(CAST({x} AS BIGINT) AS VARCHAR), '%Y%m%d') AS DATE) "
            f"WHEN {x} BETWEEN 190001 AND 219912 THEN TRY_CAST(try_strptime(CAST(CAST({x} AS BIGINT) AS VARCHAR), '%Y%m') AS DATE) END")


def date(col: str, t: pa.DataType) -> str:
    """DATE within 1600–2199; NULL when absent or unreadable."""
    if is_null(t):
        return "CAST(NULL AS DATE)"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        e = f"CAST({col} AS DATE)"
    elif is_number(t):
        e = _number_to_date(f"CAST({col} AS DOUBLE)")
    elif is_string(t):
        s = f"regexp_replace({col}, '^{WS}+|{WS}+$', '', 'g')"
        e = (f"CASE WHEN regexp_full_match({s}, '[0-9]{{1,2}}[./-][0-9]{{1,2}}[./-][0-9]{{2}}') "
             f"THEN CAST(try_strptime({s}, {_fmt_list(DATE_FORMATS_2Y)}) AS DATE) "
             f"WHEN regexp_full_match({s}, '[0-9]{{1,2}}[./-][0-9]{{1,2}}[./-][0-9]{{4}}.*') "
             f"  OR regexp_full_match({s}, '[0-9]{{4}}[./-][0-9]{{1,2}}[./-][0-9]{{1,2}}.*') "
             f"THEN CAST(try_strptime({s}, {_fmt_list(DATE_FORMATS_4Y)}) AS DATE) "
             f"WHEN regexp_full_match({s}, '[0-9]{{5,8}}(\\.0+)?') "
             f"THEN {_number_to_date(f'TRY_CAST({s} AS DOUBLE)')} END")
    else:
        return "CAST(NULL AS DATE)"
    return f"(SELECT CASE WHEN year(d) BETWEEN 1600 AND 2199 THEN d END FROM (SELECT {e} AS d))"


def period(col: str, t: pa.DataType) -> str:
    """INTEGER YYYYMM (month 1–12, year 1900–2199); NULL when absent or unreadable."""
    if is_null(t):
        return "CAST(NULL AS INTEGER)"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        e = f"year({col}) * 100 + month({col})"
    elif is_number(t):
        x = f"CAST({col} AS DOUBLE)"
        e = (f"CASE WHEN {x} = trunc({x}) AND {x} BETWEEN 190001 AND 219912 THEN CAST({x} AS INTEGER) "
             f"WHEN {x} = trunc({x}) AND {x} BETWEEN 19000101 AND 21991231 THEN CAST({x} / 100 AS INTEGER) END")
    elif is_string(t):
        s = f"regexp_replace({col}, '{WS}', '', 'g')"
        e = (f"CASE WHEN regexp_full_match({s}, '[0-9]{{6}}(\\.0+)?') THEN TRY_CAST(substr({s}, 1, 6) AS INTEGER) "
             f"WHEN regexp_full_match({s}, '[0-9]{{4}}[-/.M][0-9]{{1,2}}') "
             f"THEN TRY_CAST(substr({s}, 1, 4) AS INTEGER) * 100 + TRY_CAST(substr({s}, 6) AS INTEGER) "
             f"WHEN regexp_full_match({s}, '[0-9]{{1,2}}[-/.][0-9]{{4}}') "
             f"THEN TRY_CAST(regexp_extract({s}, '([0-9]{{4}})$', 1) AS INTEGER) * 100 "
             f"   + TRY_CAST(regexp_extract({s}, '^([0-9]{{1,2}})', 1) AS INTEGER) "
             f"ELSE (SELECT year(d) * 100 + month(d) FROM (SELECT {date(col, t)} AS d)) END")
    else:
        return "CAST(NULL AS INTEGER)"
    return (f"(SELECT CASE WHEN p BETWEEN 190001 AND 219912 AND p % 100 BETWEEN 1 AND 12 THEN p END "
            f"FROM (SELECT {e} AS p))")


# ------------------------------------------------------------------------- orgnr

def orgnr_digits(col: str, t: pa.DataType) -> str:
    """The digits a cell gives as an organisation number (not yet checked)."""
    if is_null(t):
        return "CAST(NULL AS VARCHAR)"
    if is_number(t):
        x = f"CAST({col} AS DOUBLE)"
        return f"CASE WHEN {x} = trunc({x}) AND {x} BETWEEN 0 AND 999999999 THEN lpad(CAST(CAST({x} AS BIGINT) AS VARCHAR), 9, '0') END"
    if not is_string(t):
        return "CAST(NULL AS VARCHAR)"
    s = f"upper(regexp_replace({col}, '{WS}', '', 'g'))"
    return f"nullif(regexp_replace(regexp_replace({s}, '^NO|MVA$', '', 'g'), '[^0-9]', '', 'g'), '')"


def mod11_valid(d: str) -> str:
    """SQL: true when the 9-digit text ``d`` has a correct MOD11 check digit."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    s = " + ".join(f"{w} * CAST(substr({d}, {i + 1}, 1) AS INTEGER)" for i, w in enumerate(weights))
    return (f"(regexp_full_match({d}, '[0-9]{{9}}') AND "
            f"(CASE (11 - ({s}) % 11) WHEN 11 THEN 0 WHEN 10 THEN -1 ELSE 11 - ({s}) % 11 END) "
            f"= CAST(substr({d}, 9, 1) AS INTEGER))")


def orgnr(col: str, t: pa.DataType) -> str:
    """VARCHAR 9 digits when valid (MOD11), else NULL."""
    d = orgnr_digits(col, t)
    return f"(SELECT CASE WHEN {mod11_valid('d')} THEN d END FROM (SELECT {d} AS d))"


# ----------------------------------------------------------------- other scalars

TRUE_WORDS = ("ja", "j", "yes", "y", "true", "sann", "x", "1", "✓", "✔", "sant")
FALSE_WORDS = ("nei", "n", "no", "false", "usann", "0", "-", "usant")


def boolean(col: str, t: pa.DataType) -> str:
    if is_null(t):
        return "CAST(NULL AS BOOLEAN)"
    if pa.types.is_boolean(t):
        return col
    if is_number(t):
        return f"CASE WHEN {col} = 1 THEN true WHEN {col} = 0 THEN false END"
    if not is_string(t):
        return "CAST(NULL AS BOOLEAN)"
    s = f"lower(regexp_replace({col}, '{WS}', '', 'g'))"
    tw = ", ".join(f"'{w}'" for w in TRUE_WORDS)
    fw = ", ".join(f"'{w}'" for w in FALSE_WORDS)
    return f"CASE WHEN {s} IN ({tw}) THEN true WHEN {s} IN ({fw}) THEN false END"


def integer(col: str, t: pa.DataType) -> str:
    if is_null(t):
        return "CAST(NULL AS INTEGER)"
    if is_number(t):
        x = f"CAST({col} AS DOUBLE)"
        return f"CASE WHEN {x} = trunc({x}) AND abs({x}) < 2e9 THEN CAST({x} AS INTEGER) END"
    if not is_string(t):
        return "CAST(NULL AS INTEGER)"
    s = f"regexp_replace({col}, '{WS}', '', 'g')"
    return f"CASE WHEN regexp_full_match({s}, '-?[0-9]{{1,9}}(\\.0+|,0+)?') THEN CAST(regexp_extract({s}, '^(-?[0-9]+)', 1) AS INTEGER) END"


def cpv(col: str, t: pa.DataType) -> str:
    """CPV as 8 digits (a check digit ``-7`` and spaces removed)."""
    if is_null(t):
        return "CAST(NULL AS VARCHAR)"
    if is_number(t):
        x = f"CAST({col} AS DOUBLE)"
        return f"CASE WHEN {x} = trunc({x}) AND {x} BETWEEN 1000000 AND 99999999 THEN lpad(CAST(CAST({x} AS BIGINT) AS VARCHAR), 8, '0') END"
    s = f"regexp_replace({col}, '{WS}', '', 'g')"
    return f"CASE WHEN regexp_full_match({s}, '[0-9]{{8}}(-[0-9])?') THEN substr({s}, 1, 8) END"


def nace(col: str, t: pa.DataType) -> str:
    """NACE code as 'NN.NNN' (also accepts 'NNNNN' and 'NN.NN')."""
    if is_null(t):
        return "CAST(NULL AS VARCHAR)"
    if is_number(t):
        return "CAST(NULL AS VARCHAR)"
    s = f"regexp_replace({col}, '{WS}', '', 'g')"
    return (f"CASE WHEN regexp_full_match({s}, '[0-9]{{2}}\\.[0-9]{{1,3}}') THEN {s} "
            f"WHEN regexp_full_match({s}, '[0-9]{{5}}') THEN substr({s}, 1, 2) || '.' || substr({s}, 3) "
            f"WHEN regexp_full_match({s}, '[0-9]{{2}}') THEN {s} END")


BUILDERS = {
    "text": text, "code": code, "date": date, "period": period, "orgnr": orgnr,
    "bool": boolean, "int": integer, "cpv": cpv, "nace": nace,
}
SQL_TYPES = {
    "text": "VARCHAR", "code": "VARCHAR", "amount": "DECIMAL(18,2)", "date": "DATE", "period": "INTEGER",
    "orgnr": "VARCHAR", "bool": "BOOLEAN", "int": "INTEGER", "cpv": "VARCHAR", "nace": "VARCHAR",
}


def parse_expr(ftype: str, col: str, t: pa.DataType, convention: str = ",") -> str:
    if ftype == "amount":
        return amount(col, t, convention)
    return BUILDERS[ftype](col, t)
