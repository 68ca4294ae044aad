"""Accounts, passwords, login throttling and the single-sign-on role mapping.

Two ways in, never both for one installation:

* **Single sign-on (OIDC)**, e.g. the municipality's Entra ID, when ``.streamlit/secrets.toml``
  has an ``[auth]`` section. The identity provider authenticates; :func:`sso_user` maps the
  identity token's claims to a role, from a configured claim (app roles or groups) or from
  the allow-list kept in the ``users`` table (rows without a password).
* **Local accounts** otherwise: argon2id password hashes in the ``users`` table, created with
  ``python -m akrim_analytics create-user`` or on the Brukere page; :func:`authenticate`
  checks a password and throttles repeated failures.

Every change to an account requires the admin role and is written to the audit log in the
same transaction. Accounts are never deleted, only deactivated: the audit trail names them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from . import audit, db
from .auth import ROLES, User, require

# argon2id with the library's defaults (RFC 9106 low-memory profile: 64 MiB, t=3, p=4).
# Tests may swap in cheaper parameters; stored hashes carry their own parameters.
HASHER = PasswordHasher()

MIN_PASSWORD_LENGTH = 12
FREE_ATTEMPTS = 5                 # consecutive failures before the first lock
BASE_LOCK = timedelta(minutes=1)  # the first lock; each further failure doubles it
MAX_LOCK = timedelta(hours=1)

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@+\-]{1,127}$")
_RANK = {r: i for i, r in enumerate(ROLES)}


class AccountError(ValueError):
    """A refused account change, with a message key for the UI (``t(key, **params)``)."""

    def __init__(self, key: str, **params):
        self.key = key
        self.params = params
        super().__init__(f"{key} {params}" if params else key)


def normalise(username: str | None) -> str:
    return (username or "").strip().lower()


def check_username(username: str) -> str:
    name = normalise(username)
    if not _USERNAME_RE.match(name):
        raise AccountError("auth.error.username_invalid")
    return name


def check_password(password: str, username: str = "") -> None:
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("auth.error.password_short", min=MIN_PASSWORD_LENGTH)
    if normalise(password) == normalise(username) or len(set(password)) < 4:
        raise AccountError("auth.error.password_weak")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def checked_hash(password_hash: str) -> str:
    """An argon2 hash made elsewhere (the command line hashes a password before handing an
    account job to the dashboard, so the password itself never leaves the command)."""
    from argon2 import extract_parameters

    try:
        extract_parameters(password_hash)
    except (InvalidHashError, ValueError, TypeError):
        raise AccountError("auth.error.hash_invalid") from None
    return password_hash


_dummy_hash: str | None = None


def _verify(stored: str | None, password: str) -> bool:
    """Check a password; with no stored hash, spend the same time and fail."""
    global _dummy_hash
    if stored is None:
        if _dummy_hash is None:
            _dummy_hash = HASHER.hash("not a password of anyone")
        stored, password = _dummy_hash, password + "\x00"
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --------------------------------------------------------------------------- reading

def get(con: duckdb.DuckDBPyConnection, username: str) -> dict | None:
    """One account as a dict (without the hash), or None."""
    row = con.execute(
        """SELECT username, display_name, role, active, password_hash IS NOT NULL AS has_password,
                  created_at, created_by, changed_at, changed_by, last_login_at
           FROM users WHERE username = ?""", [normalise(username)]).fetchone()
    if row is None:
        return None
    keys = ("username", "display_name", "role", "active", "has_password", "created_at",
            "created_by", "changed_at", "changed_by", "last_login_at")
    return dict(zip(keys, row))


def active_user(con: duckdb.DuckDBPyConnection, username: str) -> User | None:
    """The account as a ``User`` when it exists and is active, else None.

    The app calls this on every run for a locally logged-in session, so a deactivation or
    a role change takes effect at once, not at the next login."""
    row = con.execute("SELECT username, role, display_name FROM users WHERE username = ? AND active",
                      [normalise(username)]).fetchone()
    return User(row[0], row[1], row[2]) if row else None


def has_accounts(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM users WHERE active").fetchone()[0] > 0


def list_users(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> pd.DataFrame:
    """All accounts with their lock state, admins first."""
    now = now or datetime.now()
    df = con.execute(
        f"""WITH {_ATTEMPT_STATE_SQL}
           SELECT u.username, u.display_name, u.role, u.active,
                  u.password_hash IS NOT NULL AS has_password, u.created_at, u.created_by,
                  u.changed_at, u.changed_by, u.last_login_at,
                  coalesce(s.failures, 0) AS failures, s.last_failure
           FROM users u LEFT JOIN state s USING (username)
           ORDER BY CASE u.role WHEN 'admin' THEN 0 WHEN 'analytiker' THEN 1 ELSE 2 END, u.username""",
        [None]).df()
    until = df["last_failure"] + _lock_delays(df["failures"])
    df["locked_until"] = until.where((df["failures"] >= FREE_ATTEMPTS) & (until > now))
    return df


# --------------------------------------------------------------------------- throttling

# Consecutive failures since the last success or unlock, per username (all when ? is NULL).
_ATTEMPT_STATE_SQL = """
    p AS (SELECT CAST(? AS VARCHAR) AS only_user),
    a AS (SELECT l.* FROM login_attempts l, p WHERE p.only_user IS NULL OR l.username = p.only_user),
    last_ok AS (
        SELECT username, max(attempt_id) AS ok_id FROM a
        WHERE outcome IN ('success', 'reset') GROUP BY username),
    state AS (
        SELECT a.username, count(*) AS failures, max(a.attempted_at) AS last_failure
        FROM a LEFT JOIN last_ok o USING (username)
        WHERE a.outcome = 'failure' AND a.attempt_id > coalesce(o.ok_id, 0)
        GROUP BY a.username)"""


def lock_delay(failures: int) -> timedelta:
    """How long a username is locked after ``failures`` consecutive failures."""
    if failures < FREE_ATTEMPTS:
        return timedelta(0)
    return min(BASE_LOCK * 2 ** min(failures - FREE_ATTEMPTS, 20), MAX_LOCK)


def _lock_delays(failures: pd.Series) -> pd.Series:
    exp = (failures - FREE_ATTEMPTS).clip(lower=0, upper=20)
    seconds = (BASE_LOCK.total_seconds() * 2.0 ** exp).clip(upper=MAX_LOCK.total_seconds())
    return pd.to_timedelta(seconds.where(failures >= FREE_ATTEMPTS, 0), unit="s")


@dataclass(frozen=True)
class LockState:
    failures: int
    last_failure: datetime | None
    locked_until: datetime | None


def lock_state(con: duckdb.DuckDBPyConnection, username: str, now: datetime | None = None) -> LockState:
    now = now or datetime.now()
    name = normalise(username)
    row = con.execute(f"WITH {_ATTEMPT_STATE_SQL} SELECT failures, last_failure FROM state",
                      [name]).fetchone()
    failures, last = (int(row[0]), row[1]) if row else (0, None)
    until = last + lock_delay(failures) if last is not None and failures >= FREE_ATTEMPTS else None
    return LockState(failures, last, until if until is not None and until > now else None)


def _attempt(con, username: str, outcome: str, method: str, now: datetime) -> None:
    con.execute("INSERT INTO login_attempts (username, attempted_at, outcome, method) VALUES (?, ?, ?, ?)",
                [username, now, outcome, method])


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    status: str                      # ok | invalid | locked
    locked_until: datetime | None = None
    attempts_left: int | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def authenticate(con: duckdb.DuckDBPyConnection, username: str, password: str,
                 now: datetime | None = None, *, ip: str | None = None) -> LoginResult:
    """Check a local login and record it (login_attempts + audit log).

    A failure is recorded *before* the password is checked and turned into a success
    afterwards, so parallel guesses count at once. While a username is locked its
    password is not checked at all. Unknown usernames are throttled the same way and
    take the same time, so the answer never tells whether an account exists. ``ip`` (the
    browser's address, when known) goes into the audit entry."""
    now = now or datetime.now()
    client = {"ip": ip} if ip else {}
    name = normalise(username)
    if not name or not password:
        return LoginResult(None, "invalid")
    name = name[:128]
    with db.transaction(con):
        state = lock_state(con, name, now)
        if state.locked_until is not None:
            _attempt(con, name, "locked", "local", now)
            audit.log(con, name, "login_locked", "user", name,
                      {"locked_until": state.locked_until.isoformat(timespec="seconds"), **client})
            return LoginResult(None, "locked", state.locked_until)
        _attempt(con, name, "failure", "local", now)   # turned into a success below
        row = con.execute("SELECT password_hash, role, display_name, active FROM users WHERE username = ?",
                          [name]).fetchone()
    stored = row[0] if row else None
    ok = _verify(stored, password) and row is not None and bool(row[3])
    with db.transaction(con):
        if ok:
            _attempt(con, name, "success", "local", now)
            params: list = [now, name]
            sql = "UPDATE users SET last_login_at = ? WHERE username = ?"
            if HASHER.check_needs_rehash(stored):
                sql = "UPDATE users SET last_login_at = ?, password_hash = ? WHERE username = ?"
                params = [now, HASHER.hash(password), name]
            con.execute(sql, params)
            audit.log(con, name, "login", "user", name, {"method": "local", **client})
            return LoginResult(User(name, row[1], row[2]), "ok")
        reason = "unknown_user" if row is None else ("inactive" if not row[3] else
                                                      ("no_password" if stored is None else "wrong_password"))
        state = lock_state(con, name, now)
        audit.log(con, name, "login_failed", "user", name,
                  {"method": "local", "reason": reason, "consecutive_failures": state.failures, **client})
    if state.locked_until is not None:
        return LoginResult(None, "locked", state.locked_until)
    return LoginResult(None, "invalid", attempts_left=FREE_ATTEMPTS - state.failures)


def logout(con: duckdb.DuckDBPyConnection, user: User, method: str = "local") -> None:
    require(user, "leder", "log out")
    with db.transaction(con):
        audit.log(con, user, "logout", "user", user.username, {"method": method})


# --------------------------------------------------------------------------- single sign-on

@dataclass(frozen=True)
class SsoSettings:
    """How identity-token claims become a user and a role (the ``[access]`` secrets section).

    ``identity_claims``: the claims tried in turn for the username (Entra ID puts the UPN in
    ``preferred_username``; ``email`` is only present when the account has a mailbox).
    ``role_claim`` + ``role_map``: e.g. ``roles`` with app-role values, or ``groups`` with
    group object ids, mapped to leder/analytiker/admin; the highest mapped role wins.
    Without a mapped claim value the allow-list decides: the ``users`` table (Brukere page),
    then ``allow`` (``[access.allow]`` in secrets.toml, e.g. to let the first administrator in)."""
    identity_claims: tuple[str, ...] = ("email", "preferred_username", "upn")
    role_claim: str | None = None
    role_map: Mapping[str, str] = field(default_factory=dict)
    provider: str | None = None      # a named [auth.<provider>] section, else the default
    allow: Mapping[str, str] = field(default_factory=dict)   # [access.allow]: e-mail/UPN -> role

    @classmethod
    def from_mapping(cls, m: Mapping | None) -> "SsoSettings":
        m = dict(m or {})
        claims = m.get("identity_claim") or m.get("identity_claims") or cls.identity_claims
        if isinstance(claims, str):
            claims = (claims,)
        role_map = {str(k): str(v) for k, v in dict(m.get("role_map") or {}).items()}
        bad = sorted({v for v in role_map.values() if v not in _RANK})
        if bad:
            raise ValueError(f"[access.role_map]: unknown role(s) {', '.join(bad)}; use one of {', '.join(ROLES)}")
        allow = {normalise(str(k)): str(v) for k, v in dict(m.get("allow") or {}).items()}
        bad = sorted({v for v in allow.values() if v not in _RANK})
        if bad:
            raise ValueError(f"[access.allow]: unknown role(s) {', '.join(bad)}; use one of {', '.join(ROLES)}")
        return cls(tuple(claims), m.get("role_claim") or None, role_map, m.get("provider") or None, allow)


@dataclass(frozen=True)
class SsoDecision:
    user: User | None
    identity: str | None
    reason: str          # claim | allow_list | config_allow_list | no_identity | inactive | not_allowed


def sso_user(con: duckdb.DuckDBPyConnection, claims: Mapping, settings: SsoSettings) -> SsoDecision:
    """Map an identity token's claims to a user, or refuse.

    A deactivated account in the database is refused even when the claim grants a role,
    so an administrator can shut one person out at once."""
    identity = next((normalise(str(claims[c])) for c in settings.identity_claims if claims.get(c)), None)
    if not identity:
        return SsoDecision(None, None, "no_identity")
    row = con.execute("SELECT role, display_name, active FROM users WHERE username = ?", [identity]).fetchone()
    if row is not None and not row[2]:
        return SsoDecision(None, identity, "inactive")
    name = claims.get("name") or (row[1] if row else None)
    if settings.role_claim:
        values = claims.get(settings.role_claim) or []
        if isinstance(values, str):
            values = [values]
        mapped = [settings.role_map[str(v)] for v in values if str(v) in settings.role_map]
        if mapped:
            return SsoDecision(User(identity, max(mapped, key=_RANK.__getitem__), name), identity, "claim")
    if row is not None:
        return SsoDecision(User(identity, row[0], name), identity, "allow_list")
    if identity in settings.allow:
        return SsoDecision(User(identity, settings.allow[identity], name), identity, "config_allow_list")
    return SsoDecision(None, identity, "not_allowed")


def record_sso_login(con: duckdb.DuckDBPyConnection, decision: SsoDecision, now: datetime | None = None, *,
                     ip: str | None = None) -> None:
    """Store one single-sign-on login (or refusal) in login_attempts and the audit log."""
    now = now or datetime.now()
    client = {"ip": ip} if ip else {}
    identity = decision.identity or "?"
    with db.transaction(con):
        if decision.user is not None:
            _attempt(con, identity, "success", "sso", now)
            con.execute("UPDATE users SET last_login_at = ? WHERE username = ?", [now, identity])
            audit.log(con, decision.user, "login", "user", identity,
                      {"method": "sso", "role": decision.user.role, "via": decision.reason, **client})
        else:
            _attempt(con, identity, "failure", "sso", now)
            audit.log(con, identity, "login_failed", "user", identity,
                      {"method": "sso", "reason": decision.reason, **client})


# --------------------------------------------------------------------------- changes (admin)

def _active_admins(con) -> int:
    return con.execute("SELECT count(*) FROM users WHERE active AND role = 'admin'").fetchone()[0]


def create_user(con: duckdb.DuckDBPyConnection, actor: User, username: str, role: str, *,
                password: str | None = None, display_name: str | None = None,
                password_hash: str | None = None) -> User:
    """Create an account. Without a password it is an SSO allow-list entry (username = e-mail/UPN).
    ``password_hash``: instead of ``password``, its hash, checked against the rules where it was made."""
    require(actor, "admin", "create users")
    name = check_username(username)
    if role not in _RANK:
        raise AccountError("auth.error.role_invalid")
    pw_hash = None
    if password is not None:
        check_password(password, name)
        pw_hash = hash_password(password)
    elif password_hash is not None:
        pw_hash = checked_hash(password_hash)
    display = (display_name or "").strip() or None
    with db.transaction(con):
        if con.execute("SELECT count(*) FROM users WHERE username = ?", [name]).fetchone()[0]:
            raise AccountError("auth.error.exists", username=name)
        con.execute(
            """INSERT INTO users (username, display_name, role, password_hash, created_by, password_changed_at)
               VALUES (?, ?, ?, ?, ?, CASE WHEN ? THEN current_timestamp END)""",
            [name, display, role, pw_hash, actor.username, pw_hash is not None])
        audit.log(con, actor, "user_created", "user", name,
                  {"role": role, "display_name": display, "local_password": pw_hash is not None})
    return User(name, role, display)


def update_user(con: duckdb.DuckDBPyConnection, actor: User, username: str, *, role: str | None = None,
                display_name: str | None = None, active: bool | None = None) -> dict:
    """Change role, display name or active flag. Refuses to leave no active admin, and an
    admin cannot deactivate or demote their own account."""
    require(actor, "admin", "change users")
    name = normalise(username)
    if role is not None and role not in _RANK:
        raise AccountError("auth.error.role_invalid")
    with db.transaction(con):
        before = get(con, name)
        if before is None:
            raise AccountError("auth.error.unknown_user", username=name)
        new_role = before["role"] if role is None else role
        new_active = before["active"] if active is None else bool(active)
        new_display = before["display_name"] if display_name is None else (display_name.strip() or None)
        if name == actor.username and (not new_active or new_role != before["role"]):
            raise AccountError("auth.error.self_change")
        was_admin = before["active"] and before["role"] == "admin"
        if was_admin and not (new_active and new_role == "admin") and _active_admins(con) <= 1:
            raise AccountError("auth.error.last_admin")
        changes = {k: [before[k], v] for k, v in
                   (("role", new_role), ("active", new_active), ("display_name", new_display)) if before[k] != v}
        if not changes:
            return before
        con.execute(
            """UPDATE users SET role = ?, active = ?, display_name = ?, changed_at = current_timestamp,
                                changed_by = ? WHERE username = ?""",
            [new_role, new_active, new_display, actor.username, name])
        audit.log(con, actor, "user_changed", "user", name, changes)
        return get(con, name)


def set_password(con: duckdb.DuckDBPyConnection, actor: User, username: str, password: str | None,
                 *, password_hash: str | None = None) -> None:
    """An administrator sets a new password (and so lifts a lock on the account).
    ``password_hash``: instead of ``password``, its hash (see ``create_user``)."""
    require(actor, "admin", "set passwords")
    name = normalise(username)
    if password is None and password_hash is not None:
        pw_hash = checked_hash(password_hash)
    else:
        check_password(password, name)
        pw_hash = hash_password(password)
    with db.transaction(con):
        if get(con, name) is None:
            raise AccountError("auth.error.unknown_user", username=name)
        con.execute("""UPDATE users SET password_hash = ?, password_changed_at = current_timestamp,
                       changed_at = current_timestamp, changed_by = ? WHERE username = ?""",
                    [pw_hash, actor.username, name])
        _attempt(con, name, "reset", "admin", datetime.now())
        audit.log(con, actor, "password_set", "user", name, None)


def change_own_password(con: duckdb.DuckDBPyConnection, user: User, old_password: str, new_password: str) -> None:
    """Any logged-in local user changes their own password, proving the old one."""
    require(user, "leder", "change their password")
    row = con.execute("SELECT password_hash FROM users WHERE username = ? AND active", [user.username]).fetchone()
    if row is None or row[0] is None or not _verify(row[0], old_password):
        raise AccountError("auth.error.old_password")
    check_password(new_password, user.username)
    pw_hash = hash_password(new_password)
    with db.transaction(con):
        con.execute("""UPDATE users SET password_hash = ?, password_changed_at = current_timestamp
                       WHERE username = ?""", [pw_hash, user.username])
        audit.log(con, user, "password_changed", "user", user.username, None)


def unlock(con: duckdb.DuckDBPyConnection, actor: User, username: str) -> None:
    """Lift the throttling lock on a username (known or not)."""
    require(actor, "admin", "unlock users")
    name = normalise(username)
    with db.transaction(con):
        _attempt(con, name, "reset", "admin", datetime.now())
        audit.log(con, actor, "user_unlocked", "user", name, None)
