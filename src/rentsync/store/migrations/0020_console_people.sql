-- The web console (issue 12): its users, one-time sign-in links, sign-in attempts (the rate
-- limit holds across processes) and the audit of every console action.

-- A user belongs to one company. The e-mail address signs in, so it is unique across companies
-- (stored lower-case). Only an Argon2id hash of the password is kept; NULL: sign-in by link
-- only. session_version is part of every session cookie: raising it ends all of them.
CREATE TABLE console_users (
    id              bigserial PRIMARY KEY,
    company_id      bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    email           text NOT NULL UNIQUE CHECK (email = lower(email) AND email LIKE '%_@_%'),
    name            text NOT NULL CHECK (btrim(name) <> ''),
    role            text NOT NULL CHECK (role IN ('owner', 'bookkeeper', 'viewer')),
    view_qbo_logs   boolean NOT NULL DEFAULT false,
    password_hash   text,
    session_version integer NOT NULL DEFAULT 1,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_users_company_id_idx ON console_users (company_id);

-- A one-time sign-in link: only a keyed hash (HMAC-SHA256) of its token is stored.
CREATE TABLE console_signin_links (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX console_signin_links_expires_at_idx ON console_signin_links (expires_at);

-- Failed sign-ins, counted per e-mail address and per client address over a window.
CREATE TABLE console_signin_failures (
    id        bigserial PRIMARY KEY,
    email     text NOT NULL,
    client_ip text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_signin_failures_email_idx ON console_signin_failures (email, at);
CREATE INDEX console_signin_failures_ip_idx ON console_signin_failures (client_ip, at);

-- Every console action: who (user id and the e-mail at the time), what, on what, when.
CREATE TABLE console_audit (
    id         bigserial PRIMARY KEY,
    company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id    bigint REFERENCES console_users (id) ON DELETE SET NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    detail     jsonb NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_audit_company_idx ON console_audit (company_id, id DESC);
