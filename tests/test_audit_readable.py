"""The audit log in words: the Revisjonslogg page and its Excel export show each entry's
details as readable text (labels in the user's language, Norwegian dates and numbers,
changes as "before → after", codes translated) beside the stored JSON, which stays the
record. A static check keeps every action and object type the core logs translated."""
from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import openpyxl
import pytest

from akrim_analytics import audit, auth, db, i18n

REPO = Path(__file__).resolve().parent.parent


def test_login_failure_in_both_languages():
    d = json.dumps({"method": "local", "reason": "wrong_password", "consecutive_failures": 3, "ip": "10.0.0.1"})
    assert audit.describe(d, "nb") == ("Innloggingsmåte: passord · Grunn: feil passord · "
                                       "Mislykkede forsøk på rad: 3 · IP-adresse: 10.0.0.1")
    assert audit.describe(d, "en") == ("Login method: password · Reason: wrong password · "
                                       "Consecutive failures: 3 · IP address: 10.0.0.1")


def test_changes_read_before_and_after_with_the_forms_field_names():
    d = {"changes": {"end_date": {"old": "2025-12-31", "new": "2026-06-30"},
                     "estimated_value": {"old": 1200000.0, "new": 2500000.5}},
         "reason": "Hevet etter funn"}
    assert audit.describe(d, "nb", "contract") == (
        "Endringer: Sluttdato: 31.12.2025 → 30.06.2026; "
        "Estimert verdi (kr eks. mva.): 1 200 000 → 2 500 000,50 · Grunn: Hevet etter funn")
    # a control's fields are named as on the control log form; an empty before is a dash
    d = {"contract_id": "K1", "control_changes": {"outcome": {"old": None, "new": "avvik"}}}
    assert audit.describe(d, "nb", "finding") == "Kontrakt: K1 · Endringer i kontrollen: Resultat: – → avvik"


def test_account_changes_stored_as_pairs_read_as_changes():
    d = json.dumps({"role": ["analytiker", "leder"], "active": [True, False]})
    assert audit.describe(d, "nb", "user", "user_changed") == "Rolle: Analytiker → Leder · Aktiv: ja → nei"
    # other actions' lists stay lists
    assert audit.describe({"replaced": [3, 4]}, "nb", "plan", "plan_save") == "Erstattet: 3, 4"


def test_configuration_changes_are_listed_and_long_lists_counted():
    changes = [{"path": f"weights.w{i}", "old": i, "new": i + 1} for i in range(15)]
    text = audit.describe({"previous_version": 1, "note": None, "changes": changes, "n_changes": 15}, "nb",
                          "risk_config")
    assert text.startswith("Forrige versjon: 1 · Endringer: weights.w0: 0 → 1; weights.w1: 1 → 2")
    assert "weights.w11: 11 → 12; … og 3 til · Antall endringer: 15" in text
    assert "weights.w12" not in text and "Merknad" not in text      # no value, no label


def test_reasons_for_a_re_score_are_words():
    assert audit.describe({"reason": "settings v2"}, "nb") == "Grunn: innstillinger endret (versjon 2)"
    assert audit.describe({"reason": "quarter history"}, "en") == "Reason: quarter history"
    assert audit.describe({"reason": "import"}, "nb") == "Grunn: opplasting"
    assert audit.describe({"reason": "settings vX"}, "nb") == "Grunn: settings vX"


def test_dates_times_numbers_and_unknown_keys():
    text = audit.describe({"as_of": "2026-09-30", "locked_until": "2026-11-27T14:05:00", "rows": 1115043,
                           "total": 74068734755.16, "year": 2026, "risk_run_id": 12345,
                           "accepted_valid_only": False, "something_new": "x"}, "nb")
    assert text == ("Per dato: 30.09.2026 · Sperret til: 27.11.2026 14:05 · Rader: 1 115 043 · "
                    "Sum: 74 068 734 755,16 · År: 2026 · Risikoberegning: 12345 · "
                    "Bare gyldige rader importert: nei · something new: x")


@pytest.mark.parametrize("raw, expected", [
    (None, ""), ("", ""), ("  ", ""), (float("nan"), ""),
    ("ikke JSON <b>fet</b>", "ikke JSON <b>fet</b>"),      # text is text (the table shows it as text)
    ("[1, 2]", "1, 2"), ("17", "17"),
])
def test_odd_details(raw, expected):
    assert audit.describe(raw, "nb") == expected


def test_very_long_details_are_cut_but_the_json_is_kept():
    text = audit.describe({"note": "x" * 5000}, "nb")
    assert len(text) == 2000 and text.endswith("…")


def test_objects_and_actions_are_named():
    assert audit.object_label("risk_run", "11", "nb") == "Risikoberegning 11"
    assert audit.object_label("risk_run", "11", "en") == "Risk run 11"
    assert audit.object_label("mystery", "x", "nb") == "mystery x"
    assert audit.object_label(None, None, "nb") == ""
    assert audit.action_label("contract_end", "nb") == "Kontrakt avsluttet"
    assert audit.action_label("no_such_action", "nb") == "no_such_action"


def _logged_actions_and_objects() -> set[tuple[str, str]]:
    """(action, object type) of every ``audit.log(con, user, "action", "type", …)`` call
    with literal names in the core (the rules module passes its action in a variable)."""
    out = set()
    for path in (REPO / "akrim_analytics").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "log"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit"):
                args = node.args[2:4]
                if len(args) == 2 and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                    out.add((args[0].value, args[1].value))
    return out


def test_every_logged_action_and_object_type_has_a_name():
    found = _logged_actions_and_objects()
    assert len(found) >= 30 and ("risk_score", "risk_run") in found
    strings = i18n.strings()
    missing = sorted({f"auth.action.{a}" for a, _ in found if f"auth.action.{a}" not in strings}
                     | {f"auth.log.object.{o}" for _, o in found if f"auth.log.object.{o}" not in strings}
                     | ({"auth.log.object.category_rule", "auth.action.rule_add", "auth.action.rule_edit",
                         "auth.action.rule_delete"} - set(strings)))
    assert not missing, f"add these to akrim_analytics/locale/auth.toml: {missing}"


def test_readable_columns_and_export_on_a_database(tmp_path):
    con = db.connect(tmp_path / "a.duckdb")
    ola = auth.User("ola", "analytiker")
    audit.log(con, ola, "upload", "upload", 7, {"kind": "spend", "file": "Reskontro.xlsx", "rows": 12000,
                                               "total": 1234567.5, "accepted_valid_only": True})
    audit.log(con, ola, "edit", "contract", "=HYPERLINK(\"http://x\")", {"note": "=1+1"})
    df = audit.entries(con)
    cols = audit.readable(df, "nb")
    assert list(cols) == ["Tidspunkt", "Bruker", "Handling", "Objekt", "Detaljer"]
    assert cols["Objekt"] == ["Kontrakt =HYPERLINK(\"http://x\")", "Opplasting 7"]
    assert cols["Detaljer"] == ["Merknad: =1+1", "Type: kjøpsdata · Fil: Reskontro.xlsx · Rader: 12 000 · "
                                "Sum: 1 234 567,50 · Bare gyldige rader importert: ja"]
    assert cols["Handling"] == ["Endring", "Opplasting"]

    ws = openpyxl.load_workbook(io.BytesIO(audit.export_workbook(con, auth.User("anne", "admin"),
                                                                 actions=["edit", "upload"]))).worksheets[0]
    head = [c.value for c in ws[1]]
    assert head[-2:] == ["Detaljer", "Detaljer (JSON)"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    edit = next(r for r in rows.values() if r[3] == "edit")
    assert edit[-2] == "Merknad: =1+1"                       # text (starts with a label, not "=")
    assert edit[5] == "'=HYPERLINK(\"http://x\")"              # neutralised, like every cell
    assert json.loads(edit[-1]) == {"note": "=1+1"}          # the record, unchanged
    con.close()


def test_text_search_finds_the_names_the_page_shows(tmp_path):
    con = db.connect(tmp_path / "s.duckdb")
    audit.log(con, "ola", "login_failed", "user", "ola", {"method": "local", "reason": "wrong_password"})
    audit.log(con, "ola", "contract_update", "contract", "K-1", {"changes": {}})
    audit.log(con, "system", "risk_score", "risk_run", 3, {"reason": "import"})
    audit.log(con, "system", "mystery_action", None, None, None)

    def found(text):
        return sorted(audit.entries(con, text=text)["action"])

    assert found("innlogging") == ["login_failed"]                 # "Mislykket innlogging"
    assert found("Failed login") == ["login_failed"]               # the English name too
    assert found("kontrakt") == ["contract_update"]                # action and object names
    assert found("risikoberegning") == ["risk_score"]              # object name only
    assert found("k-1") == ["contract_update"]                     # stored values as before
    assert found("mystery") == ["mystery_action"]                  # untranslated: its code
    assert audit.count(con, text="innlogging") == 1
    con.close()


def test_text_search_finds_coded_values_by_the_words_the_page_shows(tmp_path):
    """The details column says "feil passord" where the record says wrong_password: the
    search finds the entry by those words, in either language, and by a role's name in a
    change; a value merely mentioned under another key does not count."""
    con = db.connect(tmp_path / "v.duckdb")
    audit.log(con, "ola", "login_failed", "user", "ola", {"method": "local", "reason": "wrong_password"})
    audit.log(con, "kari", "login_failed", "user", "kari", {"method": "local", "reason": "unknown_user"})
    audit.log(con, "admin", "user_update", "user", "kari", {"role": {"old": "leder", "new": "admin"}})
    audit.log(con, "system", "risk_score", "risk_run", 4, {"reason": "settings v3"})
    audit.log(con, "system", "note", None, None, {"text": "wrong_password"})

    def found(text):
        return sorted(audit.entries(con, text=text)["object_id"].fillna("-"))

    assert found("feil passord") == ["ola"]
    assert found("Wrong password") == ["ola"]                 # the English words
    assert found("wrong_password") == ["-", "ola"]            # the stored text, as before
    assert found("ukjent bruker") == ["kari"]
    assert found("administrator") == ["kari"]                 # auth.role.admin, the new role
    assert found("innstillinger endret") == ["4"]
    assert audit.count(con, text="feil passord") == 1
    assert found("finnes ikke") == []
    con.close()
