-- QuickBooks Online: the connection per company (tokens encrypted), OAuth state nonces, the
-- per-realm rate-limit counters shared by every process, and the QuickBooks request log.

CREATE TABLE qbo_connections (
    company_id              bigint PRIMARY KEY REFERENCES companies (id) ON DELETE CASCADE,
    status                  text NOT NULL CHECK (status IN ('connected', 'lost', 'disconnected')),
    environment             text NOT NULL,
    realm_id                text,
    company_name            text NOT NULL DEFAULT '',
    plan                    text NOT NULL DEFAULT '',
    country                 text NOT NULL DEFAULT '',
    inventory_enabled       boolean NOT NULL DEFAULT false,
    ast_enabled             boolean NOT NULL DEFAULT false,
    -- AES-256-GCM (rentsync.crypto), bound to the company and the field; NULL once disconnected.
    access_token            bytea,
    refresh_token           bytea,
    access_expires_at       timestamptz,
    refresh_expires_at      timestamptz,
    refresh_hard_expires_at timestamptz,
    connected_at            timestamptz,
    refreshed_at            timestamptz,
    lost_at                 timestamptz,
    lost_reason             text,
    disconnected_at         timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- The random part of a signed OAuth `state`, hashed; deleted when used (single use).
CREATE TABLE qbo_oauth_states (
    nonce_hash bytea PRIMARY KEY,
    company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Requests per (realm, kind, minute): a fixed-window counter every process increments.
CREATE UNLOGGED TABLE qbo_rate_windows (
    realm_id text NOT NULL,
    kind     text NOT NULL,
    minute   timestamptz NOT NULL,
    n        integer NOT NULL,
    PRIMARY KEY (realm_id, kind, minute)
);

-- The 10 in-flight slots of a realm: a request leases one while it runs.
CREATE UNLOGGED TABLE qbo_inflight_slots (
    realm_id     text NOT NULL,
    slot         integer NOT NULL,
    holder       text,
    leased_until timestamptz,
    PRIMARY KEY (realm_id, slot)
);

-- Every request to Intuit, bodies without tokens or secrets; purged after the retention.
CREATE TABLE qbo_log (
    id            bigserial PRIMARY KEY,
    company_id    bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    realm_id      text,
    at            timestamptz NOT NULL,
    method        text NOT NULL,
    path          text NOT NULL,
    status        integer,
    duration_ms   double precision NOT NULL,
    intuit_tid    text,
    requestid     text,
    request_body  text NOT NULL DEFAULT '',
    response_body text NOT NULL DEFAULT '',
    error         text
);
CREATE INDEX qbo_log_company_idx ON qbo_log (company_id, id DESC);
CREATE INDEX qbo_log_at_idx ON qbo_log (at);
