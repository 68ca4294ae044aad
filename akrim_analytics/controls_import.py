"""Import kind ``controls``: an existing control log kept in Excel, through the import
pipeline (``akrim_analytics.importer``; listed in ``importer.kinds.KIND_MODULES``).

A row is one control (contract, Trinn, planned and/or done date, who, documents
requested and received, outcome, status, note) and may carry one finding of it
(type, severity, description, action/sanction with deadline and amount, status,
closed date). Rows with the same contract, step, planned date and done date are the
same control: a log with one row per finding gives one control with several findings.

Free-text columns are read the way people write them: "Trinn 2", "2" or
"Dokumentkontroll" for the step; "Uten funn"/"OK"/"Avvik"/"Ikke gjennomført" for the
outcome; documents as a list separated by commas, semicolons or line breaks
("Arbeidsavtaler, timelister; lønnsslipper"); "Alvorlig"/"Høy"/"Middels"/"Lav" for
severity; "Pålegg om retting", "Tiltaksplan", "Dagbøter", "Tilbakeholdt betaling",
"Heving" for the action. What cannot be read rejects the row, naming row and column.

A control already in the log (same contract, step and date) is skipped with a
warning, so a log that grows can be imported again. Undo removes the upload's
controls and their findings. The pipeline itself writes the uploads row, the audit
entry, bumps the data version and calls ``hooks.data_changed`` (findings feed the
risk model).
"""
from __future__ import annotations

import uuid

from .importer.kinds import Check, CommitStats, Field, Kind, register


def _l(x: str) -> str:
    return f"lower(trim({x}))"


def step_sql(x: str) -> str:
    """Trinn 1/2/3 from '2', 'Trinn 2', 'Step 3', 'Egenrapportering', 'Dokumentkontroll', 'Stedlig kontroll'."""
    v = _l(x)
    return (f"CASE WHEN {x} IS NULL THEN NULL "
            f"WHEN regexp_matches({v}, '(^|[^0-9])[1-3]([^0-9]|$)') "
            f"THEN CAST(regexp_extract({v}, '(^|[^0-9])([1-3])([^0-9]|$)', 2) AS INTEGER) "
            f"WHEN regexp_matches({v}, 'stedlig|befaring|inspeksjon|on-site|site visit|inspection') THEN 3 "
            f"WHEN regexp_matches({v}, 'dokument|document') THEN 2 "
            f"WHEN regexp_matches({v}, 'egenrapport|risikovurdering|self-report|self report|risk assessment') THEN 1 "
            f"END")


def outcome_sql(x: str) -> str:
    v = _l(x)
    return (f"CASE WHEN {x} IS NULL THEN NULL "
            f"WHEN regexp_matches({v}, 'ikke (gjennomført|utført)|not (done|carried out)|avlyst|cancel') THEN 'not_done' "
            f"WHEN regexp_matches({v}, '(uten|ingen) (funn|avvik|merknad)|^ok$|^i orden|godkjent|^clean|no findings"
            f"|^none$|^nei$') THEN 'clean' "
            f"WHEN regexp_matches({v}, 'funn|avvik|brudd|mangl|finding|breach|^ja$') THEN 'findings' END")


def status_sql(x: str) -> str:
    v = _l(x)
    return (f"CASE WHEN {x} IS NULL THEN NULL "
            f"WHEN regexp_matches({v}, '^(planlagt|planned|ikke startet|not started)') THEN 'planned' "
            f"WHEN regexp_matches({v}, '^(åpen|åpent|open|pågår|pågående|under arbeid|i gang|in progress|ongoing)') "
            f"THEN 'open' "
            f"WHEN regexp_matches({v}, '^(lukket|closed|avsluttet|ferdig|fullført|done|completed|utført)') "
            f"THEN 'closed' END")


def finding_status_sql(x: str) -> str:
    return status_sql(x).replace("'planned'", "'open'")


def finding_type_sql(x: str) -> str:
    v = _l(x)
    return (f"CASE WHEN {x} IS NULL THEN NULL "
            f"WHEN regexp_matches({v}, 'otp|pensjon|pension') THEN 'pension' "
            f"WHEN regexp_matches({v}, 'hms') THEN 'hms_card' "
            f"WHEN regexp_matches({v}, 'underleverand|kjede|ledd|kontraktsmedhjelp|chain|subcontract') THEN 'chain' "
            f"WHEN regexp_matches({v}, 'arbeidstid|timeliste|overtid|working time|hours') THEN 'working_time' "
            f"WHEN regexp_matches({v}, 'lønn|lonn|wage|pay') THEN 'wage' "
            f"WHEN regexp_matches({v}, 'dokument|documentation') THEN 'documentation' "
            f"ELSE 'other' END")


def severity_sql(x: str) -> str:
    v = _l(x)
    return (f"CASE WHEN {x} IS NULL THEN NULL "
            f"WHEN regexp_matches({v}, '^(høy|hoy|alvorlig|high|serious|stor|kritisk|critical|3)') THEN 'high' "
            f"WHEN regexp_matches({v}, '^(middels|medium|moderat|moderate|2)') THEN 'medium' "
            f"WHEN regexp_matches({v}, '^(lav|low|liten|mindre|minor|1)') THEN 'low' END")


def action_sql(x: str) -> str:
    v = _l(x)
    return (f"CASE WHEN {x} IS NULL THEN NULL "
            f"WHEN regexp_matches({v}, 'heving|hevet|hevning|termin|oppsigelse|oppsagt') THEN 'termination' "
            f"WHEN regexp_matches({v}, 'dagb|daily fine') THEN 'daily_fines' "
            f"WHEN regexp_matches({v}, 'tilbakehold|holdt tilbake|withh') THEN 'withheld_payment' "
            f"WHEN regexp_matches({v}, 'tiltaksplan|handlingsplan|action plan') THEN 'action_plan' "
            f"WHEN regexp_matches({v}, 'rett|korrig|correct|utbedr') THEN 'correction' END")


_DOC_CASE = ("CASE WHEN regexp_matches(d, 'egenrapport|self') THEN 'egenrapport' "
             "WHEN regexp_matches(d, 'arbeidsavtal|employment') THEN 'arbeidsavtaler' "
             "WHEN regexp_matches(d, 'timelist|time ?sheet|arbeidstid') THEN 'timelister' "
             "WHEN regexp_matches(d, 'lønnsslipp|lønnslipp|lonnsslipp|payslip|lønnsslipper') THEN 'lonnsslipper' "
             "WHEN regexp_matches(d, 'bank') THEN 'bankbetaling' "
             "WHEN regexp_matches(d, 'otp|pensjon|pension') THEN 'otp' "
             "WHEN regexp_matches(d, 'hms') THEN 'hms_kort' "
             "WHEN regexp_matches(d, 'underleverand|kontraktsmedhjelp|subcontract') THEN 'underleverandorer' "
             "WHEN regexp_matches(d, 'skatteattest|tax') THEN 'skatteattest' END")


def docs_tokens_sql(x: str) -> str:
    return (f"list_filter(list_transform(string_split_regex(lower(coalesce({x}, '')), '[,;/\\n]+| og | and '), "
            f"lambda d: trim(d)), lambda d: d <> '')")


def docs_sql(x: str) -> str:
    """The document codes named in a list cell (unknown names are left out)."""
    return (f"list_sort(list_distinct(list_filter(list_transform({docs_tokens_sql(x)}, lambda d: {_DOC_CASE}), "
            f"lambda c: c IS NOT NULL)))")


def docs_unknown_sql(x: str) -> str:
    return f"len(list_filter({docs_tokens_sql(x)}, lambda d: ({_DOC_CASE}) IS NULL)) > 0"


FINDING_PRESENT = "(finding_type IS NOT NULL OR finding_description IS NOT NULL OR finding_severity IS NOT NULL)"

FIELDS = [
    Field("contract_id", "code", (
        "Kontraktsnr", "Kontraktsnummer", "Kontrakt-ID", "KontraktID", "Kontrakt nr", "Kontrakt", "Avtalenr",
        "Avtalenummer", "Avtale", "Contract ID", "Contract no", "Contract"), required=True),
    Field("control_step", "text", ("Trinn", "Kontrolltrinn", "Kontrollnivå", "Nivå", "Type kontroll",
                                   "Kontrolltype", "Step", "Control step", "Control type"), required=True),
    Field("planned_date", "date", ("Planlagt dato", "Planlagt", "Dato planlagt", "Frist for kontroll",
                                   "Planned date", "Planned")),
    Field("done_date", "date", ("Utført dato", "Dato utført", "Utført", "Gjennomført dato", "Gjennomført",
                                "Kontrolldato", "Dato", "Done date", "Date done", "Completed", "Control date")),
    Field("performed_by", "text", ("Utført av", "Kontrollør", "Saksbehandler", "Kontrollert av", "Ansvarlig kontroll",
                                   "Performed by", "Inspector", "Controller")),
    Field("documents_requested", "text", ("Dokumenter etterspurt", "Etterspurte dokumenter", "Etterspurt",
                                          "Dokumentasjon etterspurt", "Innhentet dokumentasjon", "Documents requested",
                                          "Requested documents")),
    Field("documents_received", "text", ("Dokumenter mottatt", "Mottatte dokumenter", "Mottatt",
                                         "Dokumentasjon mottatt", "Documents received", "Received documents")),
    Field("outcome", "text", ("Resultat", "Utfall", "Konklusjon", "Funn (ja/nei)", "Outcome", "Result")),
    Field("control_status", "text", ("Status", "Status kontroll", "Kontrollstatus", "Control status")),
    Field("control_note", "text", ("Notat", "Merknad", "Kommentar", "Merknader", "Note", "Notes", "Comment")),
    Field("finding_type", "text", ("Type funn", "Funn", "Avvik", "Avvikstype", "Type avvik", "Funntype",
                                   "Finding type", "Finding", "Non-conformity")),
    Field("finding_severity", "text", ("Alvorlighet", "Alvorlighetsgrad", "Grad", "Severity")),
    Field("finding_description", "text", ("Beskrivelse av funn", "Beskrivelse av avvik", "Funnbeskrivelse",
                                          "Beskrivelse", "Finding description", "Description")),
    Field("finding_action", "text", ("Tiltak", "Sanksjon", "Reaksjon", "Tiltak / sanksjon", "Tiltak/sanksjon",
                                     "Action", "Sanction")),
    Field("action_deadline", "date", ("Frist", "Tiltaksfrist", "Frist for tiltak", "Frist retting", "Deadline")),
    Field("sanction_amount", "amount", ("Beløp", "Sanksjonsbeløp", "Dagbot per dag", "Dagbøter per dag",
                                        "Tilbakeholdt beløp", "Amount", "Sanction amount")),
    Field("finding_status", "text", ("Status funn", "Funnstatus", "Avviksstatus", "Status avvik", "Finding status")),
    Field("finding_closed_date", "date", ("Lukket dato", "Dato lukket", "Avvik lukket", "Funn lukket", "Closed date",
                                          "Date closed")),
]

# A control already in the log: same contract, step and date (done, else planned).
_EXISTS = (f"EXISTS (SELECT 1 FROM controls k WHERE k.contract_id = t.contract_id AND k.step = {step_sql('t.control_step')} "
           "AND coalesce(k.done_date, k.planned_date) = coalesce(t.done_date, t.planned_date))")

CHECKS = [
    Check("control_unknown_contract",
          "contract_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contracts c WHERE c.contract_id = t.contract_id)",
          "contract_id"),
    Check("control_step_invalid", f"control_step IS NOT NULL AND {step_sql('control_step')} IS NULL", "control_step"),
    Check("control_no_date", "planned_date IS NULL AND done_date IS NULL", "planned_date"),
    Check("control_done_in_future", "done_date > current_date", "done_date"),
    Check("control_outcome_invalid", f"outcome IS NOT NULL AND {outcome_sql('outcome')} IS NULL", "outcome"),
    Check("control_status_invalid", f"control_status IS NOT NULL AND {status_sql('control_status')} IS NULL",
          "control_status"),
    Check("control_planned_but_done",
          f"{status_sql('control_status')} = 'planned' AND (done_date IS NOT NULL OR {outcome_sql('outcome')} IS NOT NULL)",
          "control_status"),
    Check("control_outcome_without_date", f"{outcome_sql('outcome')} IN ('clean', 'findings') AND done_date IS NULL",
          "done_date"),
    Check("control_finding_not_done",
          f"{FINDING_PRESENT} AND done_date IS NULL AND coalesce({status_sql('control_status')}, '') <> 'open'",
          "finding_type"),
    Check("control_finding_but_clean", f"{FINDING_PRESENT} AND {outcome_sql('outcome')} = 'clean'", "outcome"),
    Check("control_severity_invalid",
          f"finding_severity IS NOT NULL AND {severity_sql('finding_severity')} IS NULL", "finding_severity"),
    Check("control_severity_default", f"{FINDING_PRESENT} AND finding_severity IS NULL", "finding_severity",
          warn=True),
    Check("control_action_invalid", f"finding_action IS NOT NULL AND {action_sql('finding_action')} IS NULL",
          "finding_action"),
    Check("control_action_without_finding", f"finding_action IS NOT NULL AND NOT {FINDING_PRESENT}",
          "finding_action"),
    Check("control_plan_needs_deadline",
          f"{action_sql('finding_action')} = 'action_plan' AND action_deadline IS NULL", "action_deadline"),
    Check("control_amount_negative", "sanction_amount < 0", "sanction_amount"),
    Check("control_finding_status_invalid",
          f"finding_status IS NOT NULL AND {finding_status_sql('finding_status')} IS NULL", "finding_status"),
    Check("control_closed_open_finding",
          f"{status_sql('control_status')} = 'closed' AND {FINDING_PRESENT} "
          f"AND coalesce({finding_status_sql('finding_status')}, "
          f"CASE WHEN finding_closed_date IS NULL THEN 'open' ELSE 'closed' END) = 'open'",
          "control_status"),
    Check("control_document_unknown", f"documents_requested IS NOT NULL AND {docs_unknown_sql('documents_requested')}",
          "documents_requested", warn=True),
    Check("control_document_unknown", f"documents_received IS NOT NULL AND {docs_unknown_sql('documents_received')}",
          "documents_received", warn=True),
    Check("control_already_in_log", _EXISTS, "contract_id", warn=True),
]


def _stage_sql(batch: str) -> str:
    return f"""
    SELECT t._row, t.contract_id, {step_sql('t.control_step')} AS step, t.planned_date, t.done_date,
           t.performed_by, {docs_sql('t.documents_requested')} AS docs_req, {docs_sql('t.documents_received')} AS docs_rec,
           {outcome_sql('t.outcome')} AS outcome, {status_sql('t.control_status')} AS status_in, t.control_note AS note,
           {FINDING_PRESENT.replace('finding_', 't.finding_')} AS has_finding,
           {finding_type_sql('coalesce(t.finding_type, t.finding_description)')} AS finding_type,
           coalesce({severity_sql('t.finding_severity')}, 'medium') AS severity,
           coalesce(t.finding_description, t.finding_type) AS description,
           {action_sql('t.finding_action')} AS action, t.action_deadline,
           t.sanction_amount, t.finding_closed_date,
           coalesce({finding_status_sql('t.finding_status')},
                    CASE WHEN t.finding_closed_date IS NULL THEN 'open' ELSE 'closed' END) AS finding_status
    FROM {batch} t
    WHERE NOT {_EXISTS}
    """


def _analyse(con, batch: str, prepared) -> dict:
    row = con.execute(
        f"""SELECT count(*), count(DISTINCT (contract_id, step, planned_date, done_date)),
                   count(*) FILTER (WHERE has_finding)
            FROM ({_stage_sql(batch)})""").fetchone()
    return {"rows": row[0], "controls": row[1], "findings": row[2]}


def _commit(con, user, upload_id: int, batch: str, prepared, progress=lambda f: None) -> CommitStats:
    stage = f"_ctl_stage_{uuid.uuid4().hex[:10]}"
    groups = f"_ctl_groups_{uuid.uuid4().hex[:10]}"
    con.execute(f"CREATE TEMP TABLE {stage} AS {_stage_sql(batch)}")
    try:
        # one control per (contract, step, planned date, done date); ids drawn in file order
        con.execute(f"""
            CREATE TEMP TABLE {groups} AS
            SELECT nextval('control_seq') AS control_id, g.* FROM (
              SELECT contract_id, step, planned_date, done_date, min(_row) AS first_row,
                     arg_min(performed_by, _row) FILTER (WHERE performed_by IS NOT NULL) AS performed_by,
                     list_sort(list_distinct(flatten(list(docs_req)))) AS docs_req,
                     list_sort(list_distinct(flatten(list(docs_rec)))) AS docs_rec,
                     bool_or(has_finding) AS any_finding,
                     bool_or(has_finding AND finding_status = 'open') AS any_open,
                     arg_min(outcome, _row) FILTER (WHERE outcome IS NOT NULL) AS outcome_in,
                     arg_min(status_in, _row) FILTER (WHERE status_in IS NOT NULL) AS status_in,
                     string_agg(DISTINCT note, ' | ') AS note
              FROM {stage} GROUP BY contract_id, step, planned_date, done_date ORDER BY first_row) g""")
        progress(0.4)
        con.execute(f"""
            INSERT INTO controls (control_id, contract_id, step, planned_date, done_date, performed_by,
                                  documents_requested, documents_received, outcome, status, note, upload_id,
                                  created_by, created_at)
            SELECT control_id, contract_id, step, planned_date, done_date, performed_by, docs_req, docs_rec,
                   CASE WHEN any_finding THEN 'findings' ELSE outcome_in END,
                   CASE WHEN any_open THEN 'open'
                        WHEN status_in IS NOT NULL THEN status_in
                        WHEN done_date IS NULL AND outcome_in IS NULL AND NOT any_finding THEN 'planned'
                        WHEN outcome_in IN ('clean', 'not_done') OR any_finding THEN 'closed'
                        ELSE 'open' END,
                   note, ?, ?, current_timestamp
            FROM {groups} ORDER BY control_id""", [upload_id, user.username])
        progress(0.7)
        con.execute(f"""
            INSERT INTO findings (control_id, contract_id, finding_type, severity, description, action,
                                  action_deadline, sanction_amount, status, opened_date, closed_date, upload_id,
                                  created_by, created_at)
            SELECT g.control_id, s.contract_id, s.finding_type, s.severity, s.description, s.action, s.action_deadline,
                   CASE WHEN s.action IN ('daily_fines', 'withheld_payment') THEN s.sanction_amount END,
                   s.finding_status, coalesce(s.done_date, s.planned_date),
                   CASE WHEN s.finding_status = 'closed'
                        THEN greatest(coalesce(s.finding_closed_date, s.done_date, s.planned_date),
                                      coalesce(s.done_date, s.planned_date)) END,
                   ?, ?, current_timestamp
            FROM {stage} s JOIN {groups} g
              ON g.contract_id = s.contract_id AND g.step = s.step
             AND g.planned_date IS NOT DISTINCT FROM s.planned_date AND g.done_date IS NOT DISTINCT FROM s.done_date
            WHERE s.has_finding ORDER BY s._row""", [upload_id, user.username])
        n_controls = con.execute("SELECT count(*) FROM controls WHERE upload_id = ?", [upload_id]).fetchone()[0]
        n_findings = con.execute("SELECT count(*) FROM findings WHERE upload_id = ?", [upload_id]).fetchone()[0]
        n_rows = con.execute(f"SELECT count(*) FROM {batch}").fetchone()[0]
        n_staged = con.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
    finally:
        con.execute(f"DROP TABLE IF EXISTS {stage}")
        con.execute(f"DROP TABLE IF EXISTS {groups}")
    return CommitStats(rows=n_controls, details={"controls": n_controls, "findings": n_findings,
                                                 "skipped_already_in_log": n_rows - n_staged})


def _undo(con, user, upload_id: int) -> dict:
    """Remove the upload's controls with every finding recorded on them (also ones added
    in the app afterwards) and the findings the upload added."""
    n_f = con.execute(
        """SELECT count(*) FROM findings WHERE upload_id = ?
             OR control_id IN (SELECT control_id FROM controls WHERE upload_id = ?)""",
        [upload_id, upload_id]).fetchone()[0]
    con.execute("""DELETE FROM findings WHERE upload_id = ?
                     OR control_id IN (SELECT control_id FROM controls WHERE upload_id = ?)""", [upload_id, upload_id])
    n_c = con.execute("SELECT count(*) FROM controls WHERE upload_id = ?", [upload_id]).fetchone()[0]
    con.execute("DELETE FROM controls WHERE upload_id = ?", [upload_id])
    return {"rows": n_c, "controls": n_c, "findings": n_f}


KIND = register(Kind(
    name="controls",
    label_key="import.kind.controls",
    fields=FIELDS,
    commit=_commit,
    undo=_undo,
    required_any=[("contract_id",), ("control_step",)],
    checks=CHECKS,
    identity_fields=("contract_id", "control_step", "planned_date", "done_date"),
    anchor_fields=("contract_id", "control_step"),
    analyse=_analyse,
    priority={"contract_id": 0, "control_step": 1, "done_date": 2},
))
