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
