"""Excel/CSV exports neutralise formula-like text; every export is audited."""
from __future__ import annotations

import io
from datetime import date

import openpyxl
import pandas as pd
import pytest

from akrim_analytics import audit, auth, export

EVIL = ['=HYPERLINK("http://x","klikk")', "+47 22 00 00 00", "-2+3", "@SUM(A1)", "\tTab", "\rCR",
        "Normal AS", "", "a=b"]


def test_safe_cell():
    assert [export.safe_cell(v) for v in EVIL] == [
        '\'=HYPERLINK("http://x","klikk")', "'+47 22 00 00 00", "'-2+3", "'@SUM(A1)", "'\tTab", "'\rCR",
        "Normal AS", "", "a=b"]
    assert export.safe_cell(-5) == -5 and export.safe_cell(None) is None


def frame():
    return pd.DataFrame({
        "Leverandør": EVIL,
        "Beløp": [-1234.5, 2.0, 3, 4, 5, 6, 7, 8, 9],
        "Dato": pd.to_datetime(["2025-01-31"] * 9),
        "Kategori": pd.Categorical(["=1+1"] + ["BYGG"] * 8),
        "Blandet": [1, "=2", None, 4.5, "-x", date(2025, 1, 1), "ok", "@", "+"],
        "=Overskrift": ["x"] * 9,
        "Tom": [None] * 9,
    })


def test_safe_frame_keeps_numbers_and_dates():
    out = export.safe_frame(frame())
    assert out["Leverandør"].tolist()[:6] == [export.safe_cell(v) for v in EVIL[:6]]
    assert out["Beløp"].tolist()[0] == -1234.5 and pd.api.types.is_numeric_dtype(out["Beløp"])
    assert pd.api.types.is_datetime64_any_dtype(out["Dato"])
    assert out["Kategori"].tolist()[0] == "'=1+1"
    assert out["Blandet"].tolist()[:5] == [1, "'=2", None, 4.5, "'-x"]
    assert "'=Overskrift" in out.columns


def test_excel_cells_are_text_not_formulas():
    data = export.excel_bytes({"Leverandører: [topp]": frame(), "Andre": frame().head(1)})
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Leverandører topp", "Andre"]
    ws = wb.worksheets[0]
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a cell became a formula"
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [v for v in texts if v.startswith(export.DANGEROUS_PREFIXES)]
    assert ws["A2"].value == '\'=HYPERLINK("http://x","klikk")'
    assert ws["B2"].value == -1234.5      # numbers stay numbers


def test_csv_is_neutralised_and_excel_friendly():
    raw = export.csv_bytes(frame())
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(raw), sep=";", decimal=",", encoding="utf-8-sig", keep_default_na=False)
    for col in back.columns:
        for v in back[col].astype(str):
            assert not v.startswith(("=", "+", "@")), (col, v)
    assert back["Beløp"].iloc[0] == -1234.5


def test_record_export_audits_and_needs_a_user(con):
    export.record_export(con, auth.User("leder1", "leder"), "kvartalsrapport", "pptx", rows=12,
                         details={"period": "2025-K3"})
    e = audit.entries(con, action="export")
    assert e["username"].tolist() == ["leder1"] and e["object_id"].tolist() == ["kvartalsrapport"]
    assert '"period": "2025-K3"' in e["details"].iloc[0]
    with pytest.raises(auth.PermissionDenied):
        export.record_export(con, None, "x", "csv")
