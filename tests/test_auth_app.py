"""The login gate, the account box, single sign-on and the admin pages, through AppTest."""
from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from akrim_analytics import audit, auth, db, users

from conftest import REPO, md_plain

PW = "korrekt hest batteri"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(users, "_dummy_hash", None)


@pytest.fixture
def live_db(db_path, monkeypatch):
    """A municipality's own (non-demo) database with an admin and an analyst."""
    c = db.connect(db_path)
    users.create_user(c, auth.SYSTEM, "anne", "admin", password=PW, display_name="Anne Admin")
    users.create_user(c, auth.SYSTEM, "ola", "analytiker", password=PW)
    c.close()
    monkeypatch.setenv("AKRIM_DB", str(db_path))
    return db_path


def app(**state) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    for k, v in state.items():
        at.session_state[k] = v
    return at


def button(at, label):
    return next(b for b in at.button if b.label == label)


def login(at, username, password):
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return button(at, "Logg inn").click().run()


def shown(at) -> str:
    """The page's text as a reader sees it (Markdown escapes of names from data removed)."""
    text = " ".join([e.value for e in at.title] + [e.value for e in at.error] + [e.value for e in at.info]
                    + [e.value for e in at.warning] + [e.value for e in at.markdown] + [e.value for e in at.caption])
    return md_plain(text)


def live(path):
    return db.connect(path)


def test_real_database_requires_login(live_db):
    at = app().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["A-krim-analyse"]
    assert at.text_input(key="login_username") and not at.metric   # no dashboard behind the form
    assert "Demomodus" not in shown(at)


def test_database_without_accounts_says_how_to_create_one(db_path, monkeypatch):
    db.connect(db_path).close()
    monkeypatch.setenv("AKRIM_DB", str(db_path))
    at = app().run()
    assert not at.exception
    assert "create-user" in at.code[0].value and str(db_path) in at.code[0].value
    assert not at.text_input


def test_login_logout_and_audit(live_db):
    at = app().run()
    login(at, "anne", "feil passord!!")
    assert not at.exception and "Feil brukernavn eller passord" in shown(at)
    assert at.session_state["login_password"] == "" and at.session_state["login_username"] == "anne"
    login(at, "ANNE", PW)
    assert not at.exception
    assert at.session_state["user"] == auth.User("anne", "admin", "Anne Admin")
    assert "Innlogget som **Anne Admin** (Administrator)" in shown(at)
    assert at.title[0].value == "Oversikt"
    button(at, "Logg ut").click().run()
    assert not at.exception and at.text_input(key="login_username")
    c = live(live_db)
    assert audit.entries(c)["action"].tolist() == ["logout", "login", "login_failed", "user_created", "user_created"]
    c.close()


def test_lockout_is_shown_and_stops_password_checks(live_db):
    at = app().run()
    for _ in range(5):
        login(at, "ola", "feil passord!!")
    assert "sperret til" in shown(at)
    login(at, "ola", PW)                       # the right password while locked
    assert "sperret til" in shown(at) and "user" not in at.session_state


def test_deactivation_and_role_change_take_effect_at_once(live_db):
    at = app().run()
    login(at, "ola", PW)
    assert at.session_state["user"].role == "analytiker"
    c = live(live_db)
    users.update_user(c, auth.User("anne", "admin"), "ola", role="leder")
    at.run()
    assert at.session_state["user"] == auth.User("ola", "leder")
    users.update_user(c, auth.User("anne", "admin"), "ola", active=False)
    c.close()
    at.run()
    assert not at.exception and at.text_input(key="login_username") and "user" not in at.session_state


def test_session_expires(live_db):
    at = app().run()
    login(at, "ola", PW)
    at.session_state["_auth"] = {"method": "local", "since": 0}
    at.run()
    assert "Økten er utløpt" in shown(at) and at.text_input(key="login_username")


def test_change_own_password(live_db):
    at = app().run()
    login(at, "ola", PW)
    ti = {t.label: t for t in at.text_input}
    ti["Nåværende passord"].input(PW)
    ti["Nytt passord"].input("et nytt og langt passord")
    ti["Gjenta nytt passord"].input("et nytt og langt passord")
    button(at, "Bytt passord").click().run()
    assert not at.exception and "Passordet er endret" in " ".join(s.value for s in at.success)
    c = live(live_db)
    assert users.authenticate(c, "ola", "et nytt og langt passord").ok
    c.close()


# ----------------------------------------------------------------------- demo mode

def test_demo_database_needs_no_login_and_says_so(db_path, monkeypatch):
    c = db.connect(db_path)
    db.set_meta(c, "demo", "true")
    c.close()
    monkeypatch.setenv("AKRIM_DB", str(db_path))
    at = app().run()
    assert not at.exception
    assert "Demomodus" in " ".join(i.value for i in at.sidebar.info)
    assert at.title[0].value == "Oversikt" and "Demobruker (Administrator)" in shown(at)


# ----------------------------------------------------------------------- single sign-on

SECRETS = {
    "auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
             "microsoft": {"client_id": "id", "client_secret": "secret",
                           "server_metadata_url": "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration"}},
    "access": {"identity_claim": ["preferred_username", "email"], "role_claim": "roles",
               "role_map": {"AKrim.Admin": "admin", "AKrim.Leder": "leder"}},
}


def sso_app(claims: dict) -> AppTest:
    at = app()
    for k, v in SECRETS.items():
        at.secrets[k] = v
    at.user = claims
    return at


def test_sso_logged_out_shows_the_provider_button(live_db):
    at = sso_app({"is_logged_in": False}).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Logg inn med kommunens konto"]
    assert not at.text_input                    # no local password form with SSO


def test_sso_role_from_claim(live_db):
    at = sso_app({"is_logged_in": True, "preferred_username": "Leder@Kommune.no", "name": "Lea Leder",
                  "roles": ["AKrim.Leder"]}).run()
    assert not at.exception and at.title[0].value == "Oversikt"
    assert at.session_state["user"] == auth.User("leder@kommune.no", "leder", "Lea Leder")
    at.run()                                    # a second run does not log a second login
    c = live(live_db)
    e = audit.entries(c, action="login")
    assert e["username"].tolist() == ["leder@kommune.no"] and json.loads(e["details"][0])["method"] == "sso"
    c.close()


def test_sso_allow_list_and_refusal(live_db):
    c = live(live_db)
    users.create_user(c, auth.SYSTEM, "per@kommune.no", "analytiker")
    c.close()
    at = sso_app({"is_logged_in": True, "email": "per@kommune.no"}).run()
    assert at.session_state["user"].role == "analytiker"
    at = sso_app({"is_logged_in": True, "email": "fremmed@kommune.no"}).run()
    assert not at.exception and "user" not in at.session_state
    assert "fremmed@kommune.no" in shown(at) and "ikke tilgang" in shown(at)
    assert [b.label for b in at.button] == ["Logg ut"]
    c = live(live_db)
    assert audit.entries(c, action="login_failed")["username"].tolist() == ["fremmed@kommune.no"]
    c.close()


def test_sso_bad_role_map_is_a_clear_message(live_db):
    at = app()
    at.secrets["auth"] = SECRETS["auth"]
    at.secrets["access"] = {"role_claim": "roles", "role_map": {"X": "sjef"}}
    at.user = {"is_logged_in": True, "email": "a@k.no", "roles": ["X"]}
    at.run()
    assert not at.exception and "sjef" in shown(at)


# ----------------------------------------------------------------------- admin pages

def as_admin(path):
    at = app(user=auth.User("anne", "admin", "Anne Admin")).run()
    return at.switch_page(path).run()


def test_brukere_create_edit_password_unlock(live_db):
    at = as_admin("pages/brukere.py")
    assert not at.exception and at.title[0].value == "Brukere"
    at.text_input(key="new_username").input("kari.nordmann")
    at.text_input(key="new_display").input("Kari")
    at.selectbox(key="new_role").select("leder")
    at.text_input(key="new_pw1").input(PW)
    at.text_input(key="new_pw2").input(PW)
    button(at, "Opprett bruker").click().run()
    assert not at.exception and "kari.nordmann er opprettet" in " ".join(s.value for s in at.success)
    c = live(live_db)
    assert users.get(c, "kari.nordmann")["role"] == "leder"

    # A refused change is a message on the page, not an exception.
    at.selectbox(key="edit_user").select("anne").run()
    at.checkbox(key="edit_active_anne").uncheck()
    button(at, "Lagre endringer").click().run()
    assert not at.exception and "din egen bruker" in shown(at)

    at.selectbox(key="edit_user").select("kari.nordmann").run()
    at.selectbox(key="edit_role_kari.nordmann").select("analytiker")
    button(at, "Lagre endringer").click().run()
    assert users.get(c, "kari.nordmann")["role"] == "analytiker"

    for _ in range(5):
        users.authenticate(c, "kari.nordmann", "feil passord!!")
    at.run()
    assert any("Sperret til" in str(v) for v in at.dataframe[0].value.iloc[:, 3])
    button(at, "Opphev sperre").click().run()
    assert users.lock_state(c, "kari.nordmann").locked_until is None

    at.text_input(key="set_pw1").input("et annet langt passord")
    at.text_input(key="set_pw2").input("et annet langt passord")
    button(at, "Sett nytt passord").click().run()
    assert users.authenticate(c, "kari.nordmann", "et annet langt passord").ok
    acts = audit.entries(c)["action"].tolist()
    c.close()
    assert {"user_created", "user_changed", "user_unlocked", "password_set"} <= set(acts)


def test_revisjonslogg_filters(live_db):
    c = live(live_db)
    users.authenticate(c, "ola", "feil passord!!")
    users.authenticate(c, "ola", PW)
    audit.log(c, auth.User("ola", "analytiker"), "upload", "upload", 7, {"file": "Reskontro 2025.xlsx"})
    c.close()
    at = as_admin("pages/revisjonslogg.py")
    assert not at.exception and at.title[0].value == "Revisjonslogg"
    assert len(at.dataframe[0].value) == 5
    at.multiselect(key="log_actions").select("login_failed").run()
    assert at.dataframe[0].value.iloc[:, 2].tolist() == ["Mislykket innlogging"]
    at.multiselect(key="log_actions").unselect("login_failed")
    at.text_input(key="log_text").input("reskontro").run()
    df = at.dataframe[0].value
    assert len(df) == 1 and df.iloc[0, 1] == "ola" and df.iloc[0, 2] == "Opplasting"
    assert (df.iloc[0, 3], df.iloc[0, 4]) == ("Opplasting 7", "Fil: Reskontro 2025.xlsx")   # words, not JSON
    at.text_input(key="log_text").input("")
    at.selectbox(key="log_user").select("ola").run()
    assert set(at.dataframe[0].value.iloc[:, 1]) == {"ola"} and len(at.dataframe[0].value) == 3
    at.selectbox(key="log_user").select("")
    import datetime as dt
    at.date_input(key="log_to").set_value(dt.date(2020, 1, 1)).run()
    assert "Fra dato" in shown(at) and not at.exception


def test_audit_log_export_is_neutralised_and_logged(live_db):
    import io

    import openpyxl

    c = live(live_db)
    audit.log(c, auth.User("ola", "analytiker"), "edit", "contract", "=cmd|' /C calc'!A0", None)
    data = audit.export_workbook(c, auth.User("anne", "admin"), actions=["edit"])
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws.max_row == 2 and ws.cell(2, 6).value == "'=cmd|' /C calc'!A0"
    e = audit.entries(c, action="export")
    assert e["object_id"].tolist() == ["audit_log"] and json.loads(e["details"][0])["rows"] == 1
    with pytest.raises(auth.PermissionDenied):
        audit.export_workbook(c, auth.User("ola", "analytiker"))
    c.close()


def test_backup_from_the_running_app(live_db, tmp_path, monkeypatch):
    from akrim_analytics import backup

    monkeypatch.setenv("AKRIM_BACKUP_DIR", str(tmp_path / "backups"))
    at = as_admin("pages/brukere.py")
    assert not at.exception and "Ingen sikkerhetskopier" in shown(at)
    button(at, "Ta sikkerhetskopi nå").click().run()
    assert not at.exception and "er laget" in " ".join(s.value for s in at.success)
    found = backup.list_backups(tmp_path / "backups")
    assert len(found) == 1 and found[0]["created_by"] == "anne"
    assert any("restore --from" in c.value for c in at.code)
    # The backup restores to the same accounts.
    r = backup.restore(found[0]["path"], tmp_path / "restored.duckdb")
    c = db.connect(tmp_path / "restored.duckdb")
    try:
        assert users.authenticate(c, "ola", PW).ok
    finally:
        c.close()
