-- The declared schema of rentsync's own tables: what the migrations in migrations/ produce.
-- tests/store/test_migrations.py checks that both give the same catalogue. Update both together.

CREATE TABLE rentsync_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE diagnostic_pings (
    id           bigserial PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    worker_name  text
);

CREATE TABLE companies (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (btrim(name) <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

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
