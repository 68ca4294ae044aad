"""Messy files for the import tests, generated on the fly (xlsxwriter / openpyxl)."""
from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import xlsxwriter

# MOD11-valid organisation numbers (checked in the tests with orgnr.clean)
ORG_A = "974760673"     # Brønnøysundregistrene
ORG_B = "923609016"     # Equinor ASA
ORG_C = "982463718"     # Oslo kommune
ORG_BAD = "974760674"   # wrong check digit


def workbook(path: Path, sheets: dict[str, list[list]], *, formats: dict | None = None,
             merged_title: str | None = None, strings_as_text: bool = True) -> Path:
    """Write ``sheets`` (name → rows). datetime values become Excel dates; str values
    are written as text (never as formulas); ("=FORMULA", cached) tuples as formulas
    with a cached value."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    datef = wb.add_format({"num_format": "dd.mm.yyyy"})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, tuple) and isinstance(v[0], str) and v[0].startswith("="):
                    ws.write_formula(r, c, v[0], None, v[1])
                elif isinstance(v, (dt.date, dt.datetime)):
                    ws.write_datetime(r, c, v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day),
                                      datef)
                elif isinstance(v, bool):
                    ws.write_boolean(r, c, v)
                elif isinstance(v, (int, float)):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, str(v))
        if merged_title and name == next(iter(sheets)):
            pass
    wb.close()
    return path


def messy_spend(path: Path) -> Path:
    """A Visma-like export: a parameters sheet first; on the data sheet a merged title, a
    'printed by' line and a blank row above the header on row 4; Norwegian headers; amounts
    as numbers, formulas and Norwegian text; dates as Excel dates, text and periods; org.
    numbers as numbers and text with spaces; a trailing 'Sum' row."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False})
    p = wb.add_worksheet("Parametre")
    p.write_string(0, 0, "Utvalg")
    p.write_string(1, 0, "Periode")
    p.write_string(1, 1, "202501-202512")
    ws = wb.add_worksheet("Reskontro")
    datef = wb.add_format({"num_format": "dd.mm.yyyy"})
    ws.merge_range("A1:H1", "Leverandørreskontro 2025 – Demo kommune")
    ws.write_string(1, 0, "Skrevet ut av: Ola Nordmann 15.01.2026")
    ws.write_row(3, 0, ["Lev.nr", "Leverandørnavn", "Org.nr.", "Bilagsdato", "Fakturanr", "Art", "Ansvar", "Beløp"])
    r = 4
    rows = [
        (1001, "Bygg og Betong AS", int(ORG_A), dt.datetime(2025, 1, 15), "F-1", 12300, 4100, 1234.5),
        (1002, "Renhold Vest AS", "923 609 016", "15.02.2025", "F-2", "11200", "3100", "1 234 567,89"),
        (1002, "Renhold Vest AS", "923609016", "2025-03-01", "F-3", 11200, 3100, "(1 234,50)"),
        (1003, "IT-Partner AS", None, "202504", "F-4", 11300, 1200, "kr 2 000"),
        (1003, "IT-Partner AS", None, dt.datetime(2025, 5, 2), "F-5", 11300, 1200, "-1\u00a0000,25"),
        (1004, "Ukjent Leverandør", ORG_BAD, "31.05.2025", "F-6", 19999, 1100, "500 kr"),
    ]
    for row in rows:
        for c, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, dt.datetime):
                ws.write_datetime(r, c, v, datef)
            elif isinstance(v, (int, float)):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, v)
        r += 1
    # a formula with a cached value (=E5*2 → 2469)
    ws.write_row(r, 0, [1001, "Bygg og Betong AS"])
    ws.write_number(r, 2, int(ORG_A))
    ws.write_datetime(r, 3, dt.datetime(2025, 6, 30), datef)
    ws.write_string(r, 4, "F-7")
    ws.write_number(r, 5, 12300)
    ws.write_number(r, 6, 4100)
    ws.write_formula(r, 7, "=H5*2", None, 2469)
    r += 2  # a blank row before the total
    ws.write_string(r, 0, "Sum")
    ws.write_number(r, 7, 1234.5 + 1234567.89 - 1234.50 + 2000 - 1000.25 + 500 + 2469)
    wb.close()
    return path


MESSY_TOTAL = 1234.5 + 1234567.89 - 1234.50 + 2000 - 1000.25 + 500 + 2469
MESSY_ROWS = 7


def spend_rows(path: Path, rows: list[list], header=None, sheet="Data", title_rows: int = 0) -> Path:
    header = header or ["Bilagsdato", "Leverandør", "Org.nr.", "Fakturanr", "Beløp"]
    data = [[f"Tittel {i}"] for i in range(title_rows)] + [header] + rows
    return workbook(path, {sheet: data})


def zip_bomb(path: Path, inflated_mb: int = 200) -> Path:
    """A small xlsx whose sheet inflates to ``inflated_mb`` MB of zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="A" sheetId="1" r:id="rId1" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"/></sheets></workbook>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            chunk = b"0" * (1 << 20)
            for _ in range(inflated_mb):
                f.write(chunk)
    return path


def too_many_rows(path: Path) -> Path:
    """An xlsx whose sheet claims (and has) a row beyond Excel's 1 048 576."""
    tmp = path.with_suffix(".base.xlsx")
    workbook(tmp, {"Data": [["Leverandør", "Beløp"], ["A", 1]]})
    with zipfile.ZipFile(tmp) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = text.replace('<dimension ref="A1:B2"/>', '<dimension ref="A1:B1048580"/>')
                text = text.replace("</sheetData>", '<row r="1048580"><c r="A1048580" t="inlineStr"><is><t>B</t></is></c>'
                                                    '<c r="B1048580"><v>2</v></c></row></sheetData>')
                data = text.encode()
            zout.writestr(item, data)
    tmp.unlink()
    return path


def forged_bomb(path: Path, declared: int = 3_000_000_000) -> Path:
    """A tiny xlsx whose directory declares a 3 GB sheet (what a bomb looks like to a
    reader that trusts it); nothing here is ever inflated."""
    import struct

    zip_bomb(path, 2)
    data = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    c = data.find(b"PK\x01\x02" + b"\x00" * 0)  # first central header
    while c != -1:
        n_len = struct.unpack_from("<H", data, c + 28)[0]
        if data[c + 46:c + 46 + n_len] == name:
            struct.pack_into("<I", data, c + 24, declared)
            extra_len = struct.unpack_from("<H", data, c + 30)[0]
            if extra_len:  # drop a zip64 extra field so the 32-bit size is the one read
                struct.pack_into("<H", data, c + 30, 0)
                del data[c + 46 + n_len:c + 46 + n_len + extra_len]
                eocd = data.rfind(b"PK\x05\x06")
                cd_size = struct.unpack_from("<I", data, eocd + 12)[0]
                struct.pack_into("<I", data, eocd + 12, cd_size - extra_len)
        c = data.find(b"PK\x01\x02", c + 4)
    path.write_bytes(bytes(data))
    return path
