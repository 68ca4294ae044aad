-- 0008: accounts and login attempts (akrim_analytics.users).
--
-- A row in `users` is either a local account (argon2id hash in password_hash) or, with
-- password_hash NULL, an entry on the single-sign-on allow-list: the username is then the
-- e-mail / UPN the identity provider reports. Usernames are stored lower-case.
-- Accounts are never deleted (the audit trail names them); they are deactivated.
CREATE TABLE users (
    username            VARCHAR PRIMARY KEY,
    display_name        VARCHAR,
    role                VARCHAR NOT NULL CHECK (role IN ('leder', 'analytiker', 'admin')),
    password_hash       VARCHAR,
    active              BOOLEAN NOT NULL DEFAULT true,
    created_at          TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by          VARCHAR NOT NULL,
    changed_at          TIMESTAMP,
    changed_by          VARCHAR,
    password_changed_at TIMESTAMP,
    last_login_at       TIMESTAMP
);

-- Every login attempt, kept for throttling: consecutive failures since the last success
-- (or an administrator's unlock, outcome 'reset') lock the username for a growing delay.
-- Attempts for unknown usernames are stored too, so a locked name says nothing about
-- whether the account exists. Append-only, like audit_log.
CREATE SEQUENCE login_attempt_seq START 1;
CREATE TABLE login_attempts (
    attempt_id   BIGINT PRIMARY KEY DEFAULT nextval('login_attempt_seq'),
    username     VARCHAR NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    outcome      VARCHAR NOT NULL CHECK (outcome IN ('success', 'failure', 'locked', 'reset')),
    method       VARCHAR NOT NULL CHECK (method IN ('local', 'sso', 'admin'))
);
CREATE INDEX login_attempts_username ON login_attempts (username);
