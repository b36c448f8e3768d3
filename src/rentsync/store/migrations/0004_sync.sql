-- The sync engine: snapshots of the rental system's documents, the ledger of what QBO holds,
-- the history of attempts, each company's sync settings, and the tax rates pulled from QBO.

-- The newest state of every document the rental system told us about (state-based sync: a job
-- carries only the key and reads this row when it runs).
CREATE TABLE documents (
    company_id    bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    doc_type      text NOT NULL CHECK (doc_type IN ('customer', 'product', 'order')),
    source_id     text NOT NULL,
    version       bigint,
    revision      bigint NOT NULL DEFAULT 1,
    body          jsonb,
    deleted_at    timestamptz,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, doc_type, source_id),
    CHECK ((body IS NULL) = (deleted_at IS NOT NULL))
);

-- The ledger: per document, what QBO holds and how the last sync went.
CREATE TABLE sync_records (
    company_id      bigint NOT NULL,
    doc_type        text NOT NULL,
    source_id       text NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'synced', 'skipped', 'failed')),
    trigger         text NOT NULL
                    CHECK (trigger IN ('arrival', 'automatic', 'update', 'resync', 'bulk_sync')),
    last_user_action_at timestamptz,
    requested_revision bigint NOT NULL DEFAULT 0,
    qbo_entity      text,
    qbo_id          text,
    sync_token      text,
    synced_hash     text,
    synced_revision bigint,
    skip_reason     text,
    error           jsonb,
    attempts        integer NOT NULL DEFAULT 0,
    write_generation integer NOT NULL DEFAULT 0,
    failing_since   timestamptz,
    synced_at       timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, doc_type, source_id),
    FOREIGN KEY (company_id, doc_type, source_id)
        REFERENCES documents (company_id, doc_type, source_id) ON DELETE CASCADE
);
CREATE INDEX sync_records_state_idx ON sync_records (company_id, state, updated_at);

CREATE TABLE sync_attempts (
    id          bigserial PRIMARY KEY,
    company_id  bigint NOT NULL,
    doc_type    text NOT NULL,
    source_id   text NOT NULL,
    revision    bigint NOT NULL,
    trigger     text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    outcome     text NOT NULL,
    detail      jsonb,
    FOREIGN KEY (company_id, doc_type, source_id)
        REFERENCES documents (company_id, doc_type, source_id) ON DELETE CASCADE
);
CREATE INDEX sync_attempts_document_idx ON sync_attempts (company_id, doc_type, source_id, id);

CREATE TABLE company_settings (
    company_id bigint PRIMARY KEY REFERENCES companies (id) ON DELETE CASCADE,
    sync_mode  text NOT NULL DEFAULT 'orders_and_quotes_with_payment'
               CHECK (sync_mode IN ('orders_and_quotes_with_payment', 'all_orders_and_quotes')),
    accounts   jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- QBO tax codes (with their combined rate), pulled on request and offered to the rental system.
CREATE TABLE tax_rates (
    company_id   bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    qbo_id       text NOT NULL,
    name         text NOT NULL,
    rate_percent numeric(9, 4) NOT NULL,
    active       boolean NOT NULL,
    synced_at    timestamptz NOT NULL,
    PRIMARY KEY (company_id, qbo_id)
);
