"""Import: upload → preview (sheet, header row, mapping) → validation report → commit
with a progress bar; the list of uploads with undo; saved mappings; category rules
(admin). Everything is done by akrim_analytics.importer; this page only shows it."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from akrim_analytics import auth, export, fmt, i18n, importer, queries
from akrim_analytics.i18n import t
from akrim_analytics.importer import kinds
from ui import common

user = common.current_user()
auth.require(user, "analytiker", "import data")
con = common.con()
lang = i18n.get_language()
NONE = "__none__"
STAGES = {"read": (0.0, 0.35), "validate": (0.35, 0.7), "commit": (0.7, 1.0)}

st.title(t("import.page.title"))
st.caption(t("import.page.intro"))

flash = st.session_state.pop("_import_flash", None)
if flash:
    st.success(flash, icon=":material/check_circle:")


def _unclassified_line() -> None:
    """The share of spend no rule places: always visible on this page."""
    f = common.get_filters()
    summary = importer.unclassified_summary(con, f.period.year if f is not None else None)
    if summary["total"]:
        st.metric(t("import.page.unclassified", year=summary["year"]), fmt.pct(summary["share"]),
                  help=t("import.page.unclassified_help", amount=fmt.nok(summary["unclassified"]),
                         total=fmt.nok(summary["total"])))
    return summary


def _progress_bar():
    bar = st.progress(0.0, text=t("import.page.stage.read"))

    def cb(stage: str, fraction: float) -> None:
        lo, hi = STAGES.get(stage, (0.0, 1.0))
        bar.progress(min(1.0, lo + (hi - lo) * fraction), text=t(f"import.page.stage.{stage}"))
    return bar, cb


def _stored_file(uploaded) -> tuple[Path, str]:
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    files = st.session_state.setdefault("_import_files", {})
    if digest not in files or not Path(files[digest]).exists():
        d = Path(tempfile.mkdtemp(prefix="akrim-upload-"))
        path = d / "upload.bin"
        path.write_bytes(data)
        files[digest] = str(path)
    return Path(files[digest]), digest


def _forget_file(digest: str) -> None:
    """Remove the temporary copy of an uploaded file once it is imported."""
    stored = st.session_state.get("_import_files", {}).pop(digest, None)
    if stored:
        path = Path(stored)
        path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()
        except OSError:
            pass


def _field_label(name: str) -> str:
    return t(f"import.field.{name}")


def _show_report(prepared: importer.Prepared) -> None:
    rep = prepared.report
    details = rep.get("details") or {}
    cols = st.columns(5)
    cols[0].metric(t("import.report.rows_read"), fmt.number(rep["rows_read"]))
    cols[1].metric(t("import.report.rows_valid"), fmt.number(rep["rows_valid"]))
    cols[2].metric(t("import.report.rows_rejected"), fmt.number(rep["rows_rejected"]))
    cols[3].metric(t("import.report.rows_total"), fmt.number(rep["rows_total"]))
    if prepared.kind.amount_field:
        cols[4].metric(t("import.report.sum_valid"), fmt.nok(rep.get("sum_valid") or 0))
    if rep.get("reconciliation"):
        st.info(rep["reconciliation"], icon=":material/balance:")
    if details.get("overlap_rows"):
        st.warning(t("import.page.overlaps", n=fmt.number(details["overlap_rows"]),
                     amount=fmt.nok(details.get("overlap_sum") or 0)), icon=":material/content_copy:")
    if details.get("new_suppliers"):
        st.caption(t("import.page.new_suppliers", n=fmt.number(details["new_suppliers"])))
    if details.get("nace_version"):
        st.caption(t("import.page.nace_version", version=details["nace_version"],
                     matched=fmt.number(details.get("matched_suppliers", 0))))
    if details.get("unknown_categories"):
        st.caption(common.md_t("import.page.unknown_categories", names=", ".join(details["unknown_categories"][:10])))
    for p in rep.get("problems", []):
        if p["code"] == "rejected_rows":
            continue
        st.error(common.md_escape(importer.ImportRefused(p["code"], **p["params"]).message()),
                 icon=":material/error:")
    items = rep.get("rejects", []) + rep.get("warnings", [])
    if items:
        st.subheader(t("import.page.problems_title"))
        frame = pd.DataFrame([{
            t("import.report.row"): i["row"],
            t("import.report.column"): f"{i.get('letter') or ''} {i.get('column') or ''}".strip(),
            t("import.report.value"): "" if i.get("value") is None else str(i["value"]),
            t("import.report.reason"): t(f"import.reason.{i['reason']}", value=i.get("value") or ""),
            t("import.page.severity"): t("import.page.warning") if i in rep.get("warnings", [])
            else t("import.page.rejected"),
        } for i in items[:500]])
        st.dataframe(frame, hide_index=True)
        if len(items) > 500:
            st.caption(t("import.page.more_in_report", n=fmt.number(len(items))))
    st.download_button(t("import.page.download_report"), data=importer.report_xlsx(rep),
                       file_name=f"valideringsrapport-{Path(prepared.file_name).stem}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="imp_report_download", on_click=export.record_export,
                       args=(con, user, "import_validation_report", "xlsx"),
                       kwargs={"rows": len(items)}, icon=":material/download:")


def _upload_tab() -> None:
    kind_names = kinds.names()
    kind = st.selectbox(t("import.page.kind"), kind_names, key="imp_kind",
                        format_func=lambda k: t(kinds.get(k).label_key))
    help_key = f"import.page.kind_help.{kind}"
    if t(help_key) != help_key:
        st.caption(t(help_key))
    gen = st.session_state.get("_import_gen", 0)
    common.uploader_texts()
    uploaded = st.file_uploader(t("import.page.file", mb=st.get_option("server.maxUploadSize")),
                                key=f"imp_file_{gen}", help=t("import.page.file_help"))
    if uploaded is None:
        return
    path, digest = _stored_file(uploaded)
    if st.session_state.get("_import_digest") != (digest, kind):
        # another file (or kind): forget the sheet and choices made for the previous one
        for key in ("imp_sheet", "imp_accept"):
            st.session_state.pop(key, None)
        st.session_state["_import_digest"] = (digest, kind)
    sheet_choice = st.session_state.get("imp_sheet")
    state_key = (digest, kind, sheet_choice)
    prepared: importer.Prepared | None = st.session_state.get("_import_prepared")
    if prepared is None or st.session_state.get("_import_key") != state_key:
        bar, cb = _progress_bar()
        try:
            prepared = importer.prepare(con, path, kind=kind, file_name=uploaded.name,
                                        sheet=sheet_choice, progress=cb)
        except importer.ImportRefused as e:
            bar.empty()
            st.session_state.pop("_import_prepared", None)
            st.error(common.md_escape(e.message()), icon=":material/error:")
            return
        bar.empty()
        st.session_state["_import_prepared"] = prepared
        st.session_state["_import_key"] = state_key
        for f in prepared.kind.field_names:
            st.session_state[f"imp_map_{f}"] = prepared.mapping.get(f, NONE)

    st.subheader(t("import.page.preview_title"))
    data_sheets = [c.name for c in prepared.sheets if c.is_data]
    if len(data_sheets) > 1:
        current = prepared.sheet if prepared.sheet in data_sheets else data_sheets[0]
        if "imp_sheet" not in st.session_state or st.session_state["imp_sheet"] not in data_sheets:
            st.session_state["imp_sheet"] = current
        st.radio(t("import.page.choose_sheet"), data_sheets, key="imp_sheet", horizontal=True)
    where = common.md_t("import.page.detected", sheet=prepared.sheet or "–",
                        row=prepared.header_row + 1, rows=fmt.number(prepared.raw.table.num_rows))
    st.markdown(where)
    if prepared.mapping_source == "saved":
        st.caption(common.md_t("import.page.mapping_saved", name=prepared.mapping_name))
    else:
        st.caption(t("import.page.mapping_suggested"))

    with st.expander(t("import.page.mapping_title"), expanded=True):
        options = [NONE] + prepared.column_names
        chosen = {}
        grid = st.columns(3)
        for i, f in enumerate(prepared.kind.fields):
            key = f"imp_map_{f.name}"
            if st.session_state.get(key) not in options:
                st.session_state[key] = NONE
            required = f.required or any(f.name in g and len(g) == 1 for g in prepared.kind.required_any)
            label = _field_label(f.name) + (" *" if required else "")
            value = grid[i % 3].selectbox(label, options, key=key,
                                          format_func=lambda c: t("import.page.not_in_file") if c == NONE else c)
            if value != NONE:
                chosen[f.name] = value
    if chosen != prepared.mapping:
        try:
            prepared = importer.remap(con, prepared, chosen)
        except importer.ImportRefused as e:
            st.error(common.md_escape(e.message()), icon=":material/error:")
            return
        st.session_state["_import_prepared"] = prepared

    st.dataframe(pd.DataFrame(prepared.preview_rows(20)).astype("string"), hide_index=True)

    st.subheader(t("import.page.report_title"))
    _show_report(prepared)

    rep = prepared.report
    accept = False
    if rep["rows_rejected"]:
        accept = st.checkbox(t("import.page.accept_valid", n=fmt.number(rep["rows_valid"]),
                               rejected=fmt.number(rep["rows_rejected"])), key="imp_accept")
    default_name = prepared.mapping_name or ""
    save_as = st.text_input(t("import.page.save_mapping"), value=default_name, key="imp_save_mapping",
                            help=t("import.page.save_mapping_help"))
    problem = prepared.blocking_problem(accept)
    if problem is not None and problem.code == "rejected_rows":
        st.warning(common.md_escape(problem.message()), icon=":material/warning:")
    sheet_ok = problem is not None and problem.code == "ambiguous_sheet" and "imp_sheet" in st.session_state
    if st.button(t("import.page.commit"), key="imp_commit", type="primary",
                 disabled=problem is not None and not sheet_ok, icon=":material/upload:"):
        bar, cb = _progress_bar()
        try:
            result = importer.commit(con, user, prepared, accept_valid_rows=accept,
                                     save_mapping_as=save_as.strip() or None,
                                     sheet_confirmed=sheet_ok, progress=cb)
        except importer.ImportRefused as e:
            bar.empty()
            st.error(common.md_escape(e.message()), icon=":material/error:")
            return
        message = common.md_t("import.page.done", rows=fmt.number(result.rows), file=result.file_name,
                              upload_id=result.upload_id)
        if result.total is not None:
            message += " " + t("import.page.done_total", total=fmt.nok(result.total))
        if result.report.get("reconciliation"):
            message += " " + result.report["reconciliation"]
        st.session_state["_import_flash"] = message
        _forget_file(digest)
        for key in ("_import_prepared", "_import_key", "imp_sheet", "imp_accept", "imp_save_mapping"):
            st.session_state.pop(key, None)
        st.session_state["_import_gen"] = gen + 1
        st.rerun()


def _scheduled_hint() -> None:
    """How to import the same files on a schedule (the command hands its job to this
    dashboard while it runs: akrim_analytics/handoff.py)."""
    with st.expander(t("import.page.scheduled_title"), icon=":material/schedule:"):
        st.caption(t("import.page.scheduled_help"))
        st.code(f"python -m akrim_analytics import FIL.xlsx --db {Path(common.db_path()).resolve()} "
                "--accept-valid-rows", language="sh")


def _uploads_tab() -> None:
    uploads = importer.list_uploads(con)
    _scheduled_hint()
    if uploads.empty:
        st.info(t("import.page.no_uploads"), icon=":material/info:")
        return
    st.dataframe(pd.DataFrame({
        t("import.page.col_id"): uploads["upload_id"],
        t("import.page.col_when"): [fmt.datetime(pd.Timestamp(v).to_pydatetime()) for v in uploads["uploaded_at"]],
        t("import.page.col_who"): uploads["uploaded_by"],
        t("import.page.col_file"): uploads["file_name"].astype("string"),
        t("import.page.col_kind"): [t(f"import.kind.{k}") for k in uploads["kind"]],
        t("import.page.col_rows"): [fmt.number(v) for v in uploads["rows"]],
        t("import.page.col_total"): [fmt.nok(v) if pd.notna(v) else "–" for v in uploads["total"]],
        t("import.page.col_status"): [t(f"import.page.status.{s}") for s in uploads["status"]],
    }), hide_index=True)
    records = uploads.to_dict("records")
    with_report = [r for r in records if r["kind"] != "demo"]
    if with_report:
        labels_r = {r["upload_id"]: f"{r['upload_id']} – {r['file_name']}" for r in with_report}
        rid = st.selectbox(t("import.page.report_pick"), list(labels_r), key="imp_report_pick",
                           format_func=lambda i: labels_r[i])
        stored = importer.get_report(con, int(rid))
        if stored:
            st.download_button(t("import.page.download_stored_report"), data=importer.report_xlsx(stored),
                               file_name=f"valideringsrapport-opplasting-{rid}.xlsx",
                               mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               key="imp_stored_report", on_click=export.record_export,
                               args=(con, user, "import_validation_report", "xlsx"), icon=":material/download:")
    undoable = [r for r in records if importer.can_undo(user, r)]
    if not undoable:
        st.caption(t("import.page.nothing_to_undo"))
        return
    labels = {r["upload_id"]: f"{r['upload_id']} – {r['file_name']} ({r['uploaded_by']})" for r in undoable}
    chosen = st.selectbox(t("import.page.undo_pick"), list(labels), key="imp_undo_pick",
                          format_func=lambda i: labels[i])
    confirm = st.checkbox(t("import.page.undo_confirm"), key="imp_undo_confirm")
    if st.button(t("import.page.undo"), key="imp_undo", disabled=not confirm, icon=":material/undo:"):
        try:
            details = importer.undo_upload(con, user, int(chosen))
        except importer.ImportRefused as e:
            st.error(common.md_escape(e.message()), icon=":material/error:")
            return
        st.session_state["_import_flash"] = t("import.page.undone", upload_id=chosen,
                                              rows=fmt.number(details.get("rows", 0)))
        st.session_state.pop("imp_undo_confirm", None)
        st.rerun()


def _mappings_tab() -> None:
    saved = importer.list_mappings(con)
    if saved.empty:
        st.info(t("import.page.no_mappings"), icon=":material/info:")
        return
    st.dataframe(pd.DataFrame({
        t("import.page.col_name"): saved["name"].astype("string"),
        t("import.page.col_kind"): [t(f"import.kind.{k}") for k in saved["kind"]],
        t("import.page.col_who"): saved["created_by"],
        t("import.page.col_used"): [fmt.datetime(pd.Timestamp(v).to_pydatetime()) if pd.notna(v) else "–"
                                   for v in saved["last_used_at"]],
    }), hide_index=True)
    name = st.selectbox(t("import.page.mapping_pick"), saved["name"].tolist(), key="imp_mapping_pick")
    if st.button(t("import.page.mapping_delete"), key="imp_mapping_delete", icon=":material/delete:"):
        importer.delete_mapping(con, user, name)
        st.session_state["_import_flash"] = common.md_t("import.page.mapping_deleted", name=name)
        st.rerun()


def _rules_tab(summary: dict) -> None:
    st.caption(t("import.page.rules_intro"))
    if summary["total"]:
        c1, c2 = st.columns(2)
        c1.metric(t("import.page.unclassified", year=summary["year"]), fmt.pct(summary["share"]))
        c2.metric(t("import.page.unclassified_amount"), fmt.nok(summary["unclassified"]))
        top = summary["top_suppliers"]
        if not top.empty:
            st.markdown(t("import.page.top_unclassified"))
            st.dataframe(pd.DataFrame({
                t("import.report.supplier"): top["name"].astype("string"),
                t("import.field.orgnr"): top["supplier_id"].astype("string"),
                t("import.field.nace_code"): top["nace_code"].astype("string").fillna("–"),
                t("import.report.amount"): [fmt.nok(v) for v in top["amount"]],
            }), hide_index=True)
    rules = importer.list_rules(con)
    cats = queries.categories(con)
    cat_names = dict(zip(cats["code"], cats["name_nb" if lang == "nb" else "name_en"]))
    st.dataframe(pd.DataFrame({
        "#": rules["rule_id"],
        t("import.page.rule_type"): [t(f"import.page.rule_type.{r}") for r in rules["rule_type"]],
        t("import.page.rule_prefix"): rules["prefix"].astype("string"),
        t("import.field.category"): [cat_names.get(c, c) for c in rules["category"]],
        t("import.page.rule_note"): rules["note"].astype("string").fillna(""),
        t("import.page.col_who"): rules["updated_by"],
    }), hide_index=True)
    with st.form("imp_rule_add"):
        st.markdown(t("import.page.rule_add_title"))
        c1, c2, c3 = st.columns(3)
        rtype = c1.selectbox(t("import.page.rule_type"), ["nace", "account"], key="rule_new_type",
                             format_func=lambda r: t(f"import.page.rule_type.{r}"))
        prefix = c2.text_input(t("import.page.rule_prefix"), key="rule_new_prefix")
        cat = c3.selectbox(t("import.field.category"), cats["code"].tolist(), key="rule_new_category",
                           format_func=lambda c: cat_names.get(c, c))
        note = st.text_input(t("import.page.rule_note"), key="rule_new_note")
        if st.form_submit_button(t("import.page.rule_add")):
            try:
                importer.add_rule(con, user, rtype, prefix, cat, note or None)
                st.session_state["_import_flash"] = t("import.page.rule_saved")
                st.rerun()
            except importer.ImportRefused as e:
                st.error(common.md_escape(e.message()), icon=":material/error:")
    if rules.empty:
        return
    labels = {int(r.rule_id): f"{r.rule_id}: {r.rule_type} {r.prefix} → {cat_names.get(r.category, r.category)}"
              for r in rules.itertuples()}
    rid = st.selectbox(t("import.page.rule_pick"), list(labels), key="rule_edit_pick", format_func=lambda i: labels[i])
    row = rules[rules["rule_id"] == rid].iloc[0]
    c1, c2 = st.columns(2)
    new_prefix = c1.text_input(t("import.page.rule_prefix"), value=str(row["prefix"]), key=f"rule_edit_prefix_{rid}")
    codes = cats["code"].tolist()
    new_cat = c2.selectbox(t("import.field.category"), codes, index=codes.index(row["category"])
                           if row["category"] in codes else 0, key=f"rule_edit_category_{rid}",
                           format_func=lambda c: cat_names.get(c, c))
    b1, b2 = st.columns(2)
    if b1.button(t("import.page.rule_save"), key="rule_edit_save"):
        try:
            importer.update_rule(con, user, int(rid), prefix=new_prefix, category=new_cat)
            st.session_state["_import_flash"] = t("import.page.rule_saved")
            st.rerun()
        except importer.ImportRefused as e:
            st.error(common.md_escape(e.message()), icon=":material/error:")
    if b2.button(t("import.page.rule_delete"), key="rule_edit_delete"):
        importer.delete_rule(con, user, int(rid))
        st.session_state["_import_flash"] = t("import.page.rule_deleted")
        st.rerun()


summary = _unclassified_line()
tab_names = [t("import.page.tab_upload"), t("import.page.tab_uploads"), t("import.page.tab_mappings")]
if user.has("admin"):
    tab_names.append(t("import.page.tab_rules"))
tabs = st.tabs(tab_names)
with tabs[0]:
    _upload_tab()
with tabs[1]:
    _uploads_tab()
with tabs[2]:
    _mappings_tab()
if user.has("admin"):
    with tabs[3]:
        _rules_tab(summary)
