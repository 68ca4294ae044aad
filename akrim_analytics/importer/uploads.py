"""The list of uploads and undo.

Undo removes exactly the rows an upload wrote (and puts back rows it replaced), in one
transaction. An analytiker may undo their own uploads, an admin any upload."""
from __future__ import annotations

import json

import duckdb

from .. import audit, auth, db, hooks
from . import kinds
from .errors import ImportRefused


def list_uploads(con: duckdb.DuckDBPyConnection, *, kind: str | None = None, limit: int = 500):
    """Newest first: who, when, file, kind, rows, total, status."""
    return con.execute(
        """SELECT upload_id, kind, file_name, sheet, uploaded_by, uploaded_at, rows, total, file_total,
                  rejected_rows, accepted_valid_only, status, undone_by, undone_at, mapping_name
           FROM uploads WHERE ? IS NULL OR kind = ? ORDER BY upload_id DESC LIMIT ?""",
        [kind, kind, limit]).df()


def get_report(con: duckdb.DuckDBPyConnection, upload_id: int) -> dict | None:
    row = con.execute("SELECT report FROM uploads WHERE upload_id = ?", [upload_id]).fetchone()
    if row is None or row[0] is None:
        return None
    return json.loads(row[0])


def can_undo(user: auth.User | None, upload: dict) -> bool:
    if user is None or upload.get("status") != "committed" or upload.get("kind") == "demo":
        return False
    if user.has("admin"):
        return True
    return user.has("analytiker") and upload.get("uploaded_by") == user.username


def undo_upload(con: duckdb.DuckDBPyConnection, user: auth.User, upload_id: int) -> dict:
    """Remove an upload's rows. Raises PermissionDenied or ImportRefused."""
    auth.require(user, "analytiker", "undo an upload")
    with db.transaction(con):
        row = con.execute(
            "SELECT upload_id, kind, status, uploaded_by, file_name FROM uploads WHERE upload_id = ?",
            [upload_id]).fetchone()
        if row is None:
            raise ImportRefused("upload_not_found", upload_id=upload_id)
        upload = {"upload_id": row[0], "kind": row[1], "status": row[2], "uploaded_by": row[3], "file": row[4]}
        if upload["status"] != "committed":
            raise ImportRefused("upload_not_committed", upload_id=upload_id, status=upload["status"])
        if upload["uploaded_by"] != user.username:
            auth.require(user, "admin", "undo another user's upload")
        if upload["kind"] == "demo":
            raise ImportRefused("upload_demo", upload_id=upload_id)
        k = kinds.get(upload["kind"])
        details = k.undo(con, user, upload_id) or {}
        con.execute(
            """UPDATE uploads SET status = 'undone', undone_by = ?, undone_at = current_timestamp
               WHERE upload_id = ?""", [user.username, upload_id])
        con.execute("DELETE FROM import_replaced_rows WHERE upload_id = ?", [upload_id])
        audit.log(con, user, "undo", "upload", upload_id, {"kind": upload["kind"], "file": upload["file"], **details})
        db.bump_data_version(con)
        hooks.data_changed(con, user, "undo")
    return details
