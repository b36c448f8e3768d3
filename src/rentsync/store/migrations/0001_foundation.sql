-- Foundation: bookkeeping for the schema itself and the end-to-end diagnostic job.

CREATE TABLE rentsync_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- A ping travels API -> database -> worker -> database, proving the queue flows.
CREATE TABLE diagnostic_pings (
    id           bigserial PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    worker_name  text
);
