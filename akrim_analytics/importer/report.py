"""The validation report as tables and as a downloadable xlsx (formula-injection safe:
every text cell that a spreadsheet would run as a formula is prefixed by ``'``)."""
from __future__ import annotations

import pandas as pd

from .. import export, fmt
from ..i18n import t


def _reason(item: dict, lang: str | None) -> str:
    return t(f"import.reason.{item['reason']}", lang, value=item.get("value") or "")


def report_frames(report: dict, lang: str | None = None) -> dict[str, pd.DataFrame]:
    """Sheets: summary, rejected rows, warnings, overlapping lines, total rows."""
    L = lambda key, **kw: t(f"import.report.{key}", lang, **kw)  # noqa: E731
    summary = [
        (L("file"), report.get("file")),
        (L("sheet"), report.get("sheet") or "-"),
        (L("header_row"), report.get("header_row")),
        (L("kind"), t(f"import.kind.{report.get('kind')}", lang)),
        (L("rows_read"), report.get("rows_read")),
        (L("rows_valid"), report.get("rows_valid")),
        (L("rows_rejected"), report.get("rows_rejected")),
        (L("rows_warned"), report.get("rows_warned")),
        (L("rows_total"), report.get("rows_total")),
        (L("rows_blank"), report.get("rows_blank")),
        (L("overlap_rows"), (report.get("details") or {}).get("overlap_rows", 0)),
        (L("sum_valid"), report.get("sum_valid")),
        (L("file_total"), report.get("file_total")),
        (L("accepted_valid_only"), t("import.yes" if report.get("accepted_valid_only") else "import.no", lang)),
    ]
    rec = report.get("reconciliation")
    if rec:
        summary.append((L("reconciliation"), rec))
    for k, v in (report.get("mapping") or {}).items():
        summary.append((L("mapping_of", field=t(f"import.field.{k}", lang)), v))
    frames = {L("sheet_summary"): pd.DataFrame(summary, columns=[L("what"), L("value")]).astype({L("value"): object})}

    def rows(items):
        return pd.DataFrame(
            [{L("row"): i["row"], L("column"): i.get("letter") or "", L("column_name"): i.get("column") or "",
              L("value"): i.get("value"), L("reason"): _reason(i, lang)} for i in items],
            columns=[L("row"), L("column"), L("column_name"), L("value"), L("reason")])

    frames[L("sheet_rejects")] = rows(report.get("rejects") or [])
    frames[L("sheet_warnings")] = rows(report.get("warnings") or [])
    overlaps = (report.get("details") or {}).get("overlaps") or []
    if overlaps:
        frames[L("sheet_overlaps")] = pd.DataFrame(
            [{L("row"): o["row"], L("earlier_upload"): o["upload_id"], L("supplier"): o["supplier_id"],
              L("invoice_no"): o["invoice_no"], L("date"): fmt.date(o["date"]) if o.get("date") else "",
              L("amount"): o["amount"]} for o in overlaps])
    if report.get("total_rows"):
        frames[L("sheet_totals")] = pd.DataFrame(
            [{L("row"): r["row"], L("amount"): r["amount"]} for r in report["total_rows"]])
    return frames


def report_xlsx(report: dict, lang: str | None = None) -> bytes:
    """The validation report as an .xlsx workbook."""
    return export.excel_bytes(report_frames(report, lang))
