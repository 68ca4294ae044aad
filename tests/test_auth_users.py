"""Local accounts, argon2 hashes, login throttling and the single-sign-on role mapping."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher

from akrim_analytics import audit, auth, db, users
from akrim_analytics.auth import User

ADMIN = User("anne", "admin", "Anne Admin")
PW = "korrekt hest batteri"
T0 = datetime(2026, 3, 2, 9, 0, 0)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """argon2id with small parameters: the same code path, a hundred times faster."""
    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(users, "_dummy_hash", None)


@pytest.fixture
def con_users(con):
    users.create_user(con, auth.SYSTEM, "anne", "admin", password=PW, display_name="Anne Admin")
    users.create_user(con, ADMIN, "Ola.Nordmann", "analytiker", password=PW)
    return con


def actions(con):
    return [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY audit_id").fetchall()]


def test_default_hasher_is_argon2id(monkeypatch):
    monkeypatch.setattr(users, "HASHER", PasswordHasher())
    h = users.hash_password(PW)
    assert h.startswith("$argon2id$") and "m=65536" in h
    assert users._verify(h, PW) and not users._verify(h, PW + "x")


def test_password_is_stored_as_argon2_hash_only(con_users):
    stored = con_users.execute("SELECT password_hash FROM users WHERE username = 'ola.nordmann'").fetchone()[0]
    assert stored.startswith("$argon2id$") and PW not in stored
    dump = con_users.execute("SELECT * FROM users").df().to_string() + str(audit.entries(con_users).to_dict())
    assert PW not in dump


def test_login_ok_and_usernames_are_case_insensitive(con_users):
    r = users.authenticate(con_users, " OLA.nordmann ", PW, now=T0)
    assert r.ok and r.user == User("ola.nordmann", "analytiker", None)
    e = audit.entries(con_users, action="login")
    assert e["username"].tolist() == ["ola.nordmann"]
    assert con_users.execute("SELECT last_login_at FROM users WHERE username='ola.nordmann'").fetchone()[0] == T0


def test_wrong_password_unknown_user_and_inactive_all_look_the_same(con_users):
    users.update_user(con_users, ADMIN, "ola.nordmann", active=False)
    results = [users.authenticate(con_users, "anne", "feil passord!!", now=T0),
               users.authenticate(con_users, "finnes.ikke", PW, now=T0),
               users.authenticate(con_users, "ola.nordmann", PW, now=T0)]
    assert [(r.ok, r.status, r.attempts_left) for r in results] == [(False, "invalid", 4)] * 3
    reasons = [__import__("json").loads(d)["reason"] for d in audit.entries(con_users, action="login_failed")["details"]]
    assert sorted(reasons) == ["inactive", "unknown_user", "wrong_password"]


def test_throttling_locks_after_five_failures_with_growing_delay(con_users):
    c = con_users
    now = T0
    for i in range(4):
        r = users.authenticate(c, "ola.nordmann", "feil passord!!", now=now)
        assert r.status == "invalid" and r.attempts_left == 4 - i
    r = users.authenticate(c, "ola.nordmann", "feil passord!!", now=now)
    assert r.status == "locked" and r.locked_until == now + timedelta(minutes=1)

    # While locked even the right password is refused, and not even checked.
    checked = []
    real = users._verify
    users._verify = lambda *a: checked.append(a) or real(*a)
    try:
        r = users.authenticate(c, "ola.nordmann", PW, now=now + timedelta(seconds=59))
    finally:
        users._verify = real
    assert r.status == "locked" and not checked
    assert users.lock_state(c, "ola.nordmann", now + timedelta(seconds=59)).failures == 5   # 'locked' does not count

    # After the lock, one more failure locks for twice as long, then four times.
    now += timedelta(minutes=1, seconds=1)
    r = users.authenticate(c, "ola.nordmann", "feil passord!!", now=now)
    assert r.status == "locked" and r.locked_until == now + timedelta(minutes=2)
    now += timedelta(minutes=2, seconds=1)
    r = users.authenticate(c, "ola.nordmann", "feil passord!!", now=now)
    assert r.locked_until == now + timedelta(minutes=4)

    # Another user is not affected.
    assert users.authenticate(c, "anne", PW, now=now).ok

    # Once the lock has run out the right password works and resets the count.
    now += timedelta(minutes=4, seconds=1)
    assert users.authenticate(c, "ola.nordmann", PW, now=now).ok
    assert users.lock_state(c, "ola.nordmann", now).failures == 0
    assert users.authenticate(c, "ola.nordmann", "feil passord!!", now=now).attempts_left == 4
    assert "login_locked" in actions(c)


def test_lock_delay_is_capped():
    assert users.lock_delay(4) == timedelta(0)
    assert users.lock_delay(5) == timedelta(minutes=1)
    assert users.lock_delay(8) == timedelta(minutes=8)
    assert users.lock_delay(50) == users.MAX_LOCK == timedelta(hours=1)


def test_unknown_usernames_are_throttled_too(con):
    for _ in range(5):
        r = users.authenticate(con, "gjett", "noe som helst", now=T0)
    assert r.status == "locked"


def test_admin_unlock_and_password_reset_lift_the_lock(con_users):
    c = con_users
    for _ in range(5):
        users.authenticate(c, "ola.nordmann", "feil passord!!", now=T0)
    assert users.list_users(c, now=T0).set_index("username").loc["ola.nordmann", "locked_until"] == T0 + timedelta(minutes=1)
    users.unlock(c, ADMIN, "ola.nordmann")
    assert users.lock_state(c, "ola.nordmann", T0).locked_until is None
    for _ in range(5):
        users.authenticate(c, "ola.nordmann", "feil passord!!", now=T0)
    users.set_password(c, ADMIN, "ola.nordmann", "et helt nytt passord")
    r = users.authenticate(c, "ola.nordmann", "et helt nytt passord", now=T0)
    assert r.ok
    assert {"user_unlocked", "password_set"} <= set(actions(c))


def test_parallel_guesses_count_before_the_password_is_checked(con_users, monkeypatch):
    # The failure is stored before the (slow) hash check: a burst of guesses cannot
    # all pass the lock test before the first of them is counted.
    seen = []
    real = users._verify

    def spy(stored, pw):
        seen.append(users.lock_state(con_users, "ola.nordmann", T0).failures)
        return real(stored, pw)

    monkeypatch.setattr(users, "_verify", spy)
    users.authenticate(con_users, "ola.nordmann", "feil passord!!", now=T0)
    assert seen == [1]


def test_password_rules(con_users):
    with pytest.raises(users.AccountError) as e:
        users.create_user(con_users, ADMIN, "kari", "leder", password="kort")
    assert e.value.key == "auth.error.password_short"
    with pytest.raises(users.AccountError):
        users.create_user(con_users, ADMIN, "kari", "leder", password="aaaaaaaaaaaaaaaa")
    with pytest.raises(users.AccountError) as e:
        users.create_user(con_users, ADMIN, "x", "leder", password=PW)
    assert e.value.key == "auth.error.username_invalid"
    with pytest.raises(users.AccountError) as e:
        users.create_user(con_users, ADMIN, "ANNE", "leder", password=PW)
    assert e.value.key == "auth.error.exists"
    with pytest.raises(users.AccountError):
        users.create_user(con_users, ADMIN, "kari", "sjef", password=PW)


def test_change_own_password(con_users):
    ola = User("ola.nordmann", "analytiker")
    with pytest.raises(users.AccountError):
        users.change_own_password(con_users, ola, "feil", "et nytt langt passord")
    users.change_own_password(con_users, ola, PW, "et nytt langt passord")
    assert users.authenticate(con_users, "ola.nordmann", "et nytt langt passord", now=T0).ok
    assert not users.authenticate(con_users, "ola.nordmann", PW, now=T0).ok


def test_last_admin_and_self_protection(con_users):
    c = con_users
    with pytest.raises(users.AccountError) as e:
        users.update_user(c, ADMIN, "anne", active=False)
    assert e.value.key == "auth.error.self_change"
    with pytest.raises(users.AccountError) as e:
        users.update_user(c, User("ops", "admin"), "anne", role="analytiker")
    assert e.value.key == "auth.error.last_admin"
    users.update_user(c, ADMIN, "ola.nordmann", role="admin")
    users.update_user(c, User("ola.nordmann", "admin"), "anne", role="leder")
    assert users.get(c, "anne")["role"] == "leder"
    changed = audit.entries(c, action="user_changed")
    assert '"role": ["admin", "leder"]' in changed["details"].iloc[0]


def test_active_user_reflects_changes_at_once(con_users):
    assert users.active_user(con_users, "ola.nordmann") == User("ola.nordmann", "analytiker")
    users.update_user(con_users, ADMIN, "ola.nordmann", role="leder", display_name="Ola N.")
    assert users.active_user(con_users, "ola.nordmann") == User("ola.nordmann", "leder", "Ola N.")
    users.update_user(con_users, ADMIN, "ola.nordmann", active=False)
    assert users.active_user(con_users, "ola.nordmann") is None


@pytest.mark.parametrize("role", ["leder", "analytiker"])
def test_account_changes_need_admin(con_users, role):
    someone = User("someone", role)
    before = con_users.execute("SELECT count(*) FROM users").fetchone()[0], len(actions(con_users))
    for call in (lambda: users.create_user(con_users, someone, "ny.bruker", "admin", password=PW),
                 lambda: users.update_user(con_users, someone, "anne", active=False),
                 lambda: users.set_password(con_users, someone, "anne", "et helt nytt passord"),
                 lambda: users.unlock(con_users, someone, "anne"),
                 lambda: users.create_user(con_users, None, "ny.bruker", "admin")):
        with pytest.raises(auth.PermissionDenied):
            call()
    assert (con_users.execute("SELECT count(*) FROM users").fetchone()[0], len(actions(con_users))) == before


# ----------------------------------------------------------------------- single sign-on

ENTRA = users.SsoSettings.from_mapping({
    "identity_claim": ["preferred_username", "email"],
    "role_claim": "roles",
    "role_map": {"AKrim.Leder": "leder", "AKrim.Analytiker": "analytiker", "AKrim.Admin": "admin"},
})


def test_sso_role_from_claim_highest_wins(con):
    d = users.sso_user(con, {"preferred_username": "Kari@Baerum.Kommune.no", "name": "Kari",
                             "roles": ["AKrim.Leder", "AKrim.Admin", "Other"]}, ENTRA)
    assert d.user == User("kari@baerum.kommune.no", "admin", "Kari") and d.reason == "claim"


def test_sso_single_string_claim_and_groups(con):
    groups = users.SsoSettings.from_mapping({"role_claim": "groups",
                                             "role_map": {"0f1e-analysts": "analytiker"}})
    d = users.sso_user(con, {"email": "per@k.no", "groups": "0f1e-analysts"}, groups)
    assert d.user.role == "analytiker"


def test_sso_allow_list_and_refusals(con):
    users.create_user(con, auth.SYSTEM, "leder@k.no", "leder", display_name="Leder")
    d = users.sso_user(con, {"email": "LEDER@k.no"}, ENTRA)
    assert d.user == User("leder@k.no", "leder", "Leder") and d.reason == "allow_list"
    assert users.sso_user(con, {"email": "fremmed@k.no"}, ENTRA).reason == "not_allowed"
    assert users.sso_user(con, {"sub": "abc"}, ENTRA).reason == "no_identity"
    # A deactivated account is refused even though the claim would grant a role.
    users.update_user(con, auth.SYSTEM, "leder@k.no", active=False)
    d = users.sso_user(con, {"email": "leder@k.no", "roles": ["AKrim.Admin"]}, ENTRA)
    assert d.user is None and d.reason == "inactive"


def test_sso_login_is_recorded(con):
    d = users.sso_user(con, {"email": "a@k.no", "roles": "AKrim.Analytiker"}, ENTRA)
    users.record_sso_login(con, d, now=T0)
    users.record_sso_login(con, users.sso_user(con, {"email": "b@k.no"}, ENTRA), now=T0)
    e = audit.entries(con)
    assert e[["username", "action"]].values.tolist() == [["b@k.no", "login_failed"], ["a@k.no", "login"]]


def test_sso_settings_reject_unknown_roles():
    with pytest.raises(ValueError, match="sjef"):
        users.SsoSettings.from_mapping({"role_map": {"x": "sjef"}})


def test_sso_only_accounts_cannot_log_in_locally(con):
    users.create_user(con, auth.SYSTEM, "sso@k.no", "admin")
    r = users.authenticate(con, "sso@k.no", "", now=T0)
    assert not r.ok
    r = users.authenticate(con, "sso@k.no", "hva som helst!", now=T0)
    assert not r.ok and '"no_password"' in audit.entries(con, action="login_failed")["details"].iloc[0]


def test_write_lock_serialises_transactions(con):
    # Two threads updating the same row in DuckDB would conflict; db.transaction queues them.
    import threading

    errors = []

    def bump():
        cur = con.cursor()
        try:
            for _ in range(20):
                with db.transaction(cur):
                    db.bump_data_version(cur)
        except Exception as e:  # pragma: no cover - the failure being tested for
            errors.append(e)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and db.data_version(con) == 80


def test_sso_allow_list_in_the_configuration(con):
    settings = users.SsoSettings.from_mapping({"allow": {"Ops@Kommune.no": "admin"}})
    d = users.sso_user(con, {"email": "ops@kommune.no"}, settings)
    assert d.user == User("ops@kommune.no", "admin", None) and d.reason == "config_allow_list"
    # The database wins: an account there (here deactivated) overrides the configuration.
    users.create_user(con, auth.SYSTEM, "ops@kommune.no", "leder")
    assert users.sso_user(con, {"email": "ops@kommune.no"}, settings).user.role == "leder"
    users.update_user(con, auth.SYSTEM, "ops@kommune.no", active=False)
    assert users.sso_user(con, {"email": "ops@kommune.no"}, settings).reason == "inactive"
    with pytest.raises(ValueError, match="sjef"):
        users.SsoSettings.from_mapping({"allow": {"x@k.no": "sjef"}})


def test_the_client_address_is_in_the_login_entries(con_users):
    users.authenticate(con_users, "ola.nordmann", "feil passord!!", now=T0, ip="10.1.2.3")
    users.authenticate(con_users, "ola.nordmann", PW, now=T0, ip="10.1.2.3")
    e = audit.entries(con_users, actions=["login", "login_failed"])
    assert [__import__("json").loads(d)["ip"] for d in e["details"]] == ["10.1.2.3", "10.1.2.3"]
