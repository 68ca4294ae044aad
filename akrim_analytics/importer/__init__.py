"""Import of real ERP exports, contract registers and Enhetsregisteret extracts.

Forgiving with messy files (title rows above the header, the data on another sheet,
Norwegian and English header variants, Norwegian number and date formats, total rows),
fast (fastexcel/Rust → Arrow → DuckDB SQL over the whole batch), and safe (a file is
identified by its bytes, zip bombs are refused from the archive's declared sizes, and a
refused file leaves the database exactly as it was).

Public API (no Streamlit)::

    from akrim_analytics import importer

    prepared = importer.prepare(con, path, kind="spend", file_name="reskontro.xlsx",
                                sheet=None, mapping=None, progress=cb)   # nothing written
    # or, to open the database while a large sheet is read (the command line does this):
    started = importer.begin(path, kind="spend")  # no database: checks the file, finds the
    prepared = importer.prepare(con, path, kind="spend", started=started)  # header, starts the read
    prepared.report          # rows read/valid/rejected, rejects with row+column+reason,
                             # total row and reconciliation, overlaps, problems
    prepared = importer.remap(con, prepared, {"amount": "Beløp", ...})  # analyst's correction
    result = importer.commit(con, user, prepared, accept_valid_rows=False,
                             save_mapping_as="Visma reskontro", progress=cb)  # one transaction
    result = importer.import_file(con, user, path, kind="spend", sheet=None, mapping=None,
                                  accept_valid_rows=False, progress=cb)  # both in one call
    importer.undo_upload(con, user, upload_id)
    importer.list_uploads(con)
    importer.report_xlsx(prepared.report)   # the validation report, formula-injection safe

Errors for the user are ``ImportRefused`` (``str(e)`` is the message in the current
language, naming file, sheet, row and column); roles raise ``auth.PermissionDenied``.
``progress(stage, fraction)`` is called with stage ``read``, ``validate`` and ``commit``.

Adding an import kind (e.g. ``controls``, the control log)
-----------------------------------------------------------
Write a module that builds a ``kinds.Kind`` and calls ``kinds.register(kind)``, and add
the module's name to ``kinds.KIND_MODULES``. Nothing else in this package changes::

    from akrim_analytics.importer.kinds import Check, CommitStats, Field, Kind, register

    def _commit(con, user, upload_id, batch, prepared, progress=lambda f: None):
        # inside the import transaction; `batch` is a registered relation with the
        # valid rows: `_row` (row number in the file) and one typed column per field
        con.execute(f"INSERT INTO controls (contract_id, step, planned_date, status, upload_id) "
                    f"SELECT contract_id, step, planned_date, 'planned', ? FROM {batch}", [upload_id])
        n = con.execute("SELECT count(*) FROM controls WHERE upload_id = ?", [upload_id]).fetchone()[0]
        return CommitStats(rows=n)

    def _undo(con, user, upload_id):
        con.execute("DELETE FROM controls WHERE upload_id = ?", [upload_id])
        return {}

    register(Kind(
        name="controls", label_key="import.kind.controls",   # add the key to your locale file
        fields=[Field("contract_id", "code", ("Kontraktsnr", "Contract ID"), required=True),
                Field("step", "int", ("Trinn", "Step"), required=True),
                Field("planned_date", "date", ("Planlagt dato", "Planned date"))],
        checks=[Check("step_invalid", "step NOT IN (1, 2, 3)", "step")],   # + import.reason.step_invalid
        commit=_commit, undo=_undo,
        required_any=[("contract_id",), ("step",)], anchor_fields=("contract_id",)))

Field types: text, code, amount, date, period, orgnr, bool, int, cpv, nace (parsers in
``parsing.py``). A Check's condition is SQL over the typed batch (see ``kinds.Check``);
its reason needs a key ``import.reason.<reason>`` in a locale file, and each field a key
``import.field.<name>``. The generic pipeline then gives the new kind header/sheet
detection, mapping suggestion and saved mappings, the validation report, sha256
duplicate detection, the uploads row, audit log, data version bump,
``hooks.data_changed(con, user, "import")``, the Import page and the
``python -m akrim_analytics import FILE --kind controls`` command.
"""
from __future__ import annotations

import importlib

from .errors import ImportRefused
from .kinds import Check, CommitStats, Field, Kind, register
# Loaded on first use (PEP 562): the pipeline imports pyarrow (and mappings DuckDB), and
# the command line starts reading a large sheet (``start.begin``) before those imports.
_LAZY = {
    "delete_mapping": ("mappings", "delete"), "list_mappings": ("mappings", "list_mappings"),
    **{name: "pipeline" for name in ("ImportResult", "Prepared", "commit", "describe", "import_file", "prepare",
                                     "reconciliation", "remap")},
    **{name: "start" for name in ("Started", "begin")},
    **{name: "rules" for name in ("add_rule", "delete_rule", "list_rules", "unclassified_summary", "update_rule")},
    **{name: "uploads" for name in ("can_undo", "get_report", "list_uploads", "undo_upload")},
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name] if isinstance(_LAZY[name], tuple) else (_LAZY[name], name)
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
    else:
        try:
            value = importlib.import_module(f".{name}", __name__)   # a submodule, e.g. importer.pipeline
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value



def report_frames(report: dict, lang: str | None = None):
    """The validation report as tables (pandas is imported only when a report is made)."""
    from .report import report_frames as frames

    return frames(report, lang)


def report_xlsx(report: dict, lang: str | None = None) -> bytes:
    """The validation report as an .xlsx workbook, formula-injection safe."""
    from .report import report_xlsx as xlsx

    return xlsx(report, lang)


__all__ = [
    "ImportRefused", "ImportResult", "Prepared", "Started", "begin", "prepare", "remap", "commit", "import_file", "describe",
    "reconciliation", "report_xlsx", "report_frames", "undo_upload", "list_uploads", "get_report", "can_undo",
    "list_mappings", "delete_mapping", "add_rule", "update_rule", "delete_rule", "list_rules",
    "unclassified_summary", "Kind", "Field", "Check", "CommitStats", "register",
]
