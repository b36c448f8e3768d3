-- Companies (one rental business each) and the API keys their rental system calls us with.

CREATE TABLE companies (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (btrim(name) <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The key itself is never stored: only a SHA-256 of it (keys are 256 random bits, so a slow
-- password hash adds nothing) and a public prefix to find the row.
CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    prefix      text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    permissions text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_company_id_idx ON api_keys (company_id);
