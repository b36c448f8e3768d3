-- Bulk syncs (R18, B5): a selection of orders previewed (what each would become in QuickBooks
-- and what it costs) and, once confirmed, handed to the sync a bounded window at a time.
CREATE TABLE bulk_syncs (
    id             bigserial PRIMARY KEY,
    company_id     bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    selection      jsonb NOT NULL,
    state          text NOT NULL
                   CHECK (state IN ('previewing', 'previewed', 'running', 'cancelled', 'done')),
    start_when_previewed boolean NOT NULL DEFAULT false,
    preview_after  text,
    items          bigint NOT NULL DEFAULT 0,
    dispatched     bigint NOT NULL DEFAULT 0,
    planned        jsonb NOT NULL DEFAULT '{}',
    estimated_calls bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    previewed_at   timestamptz,
    started_at     timestamptz,
    cancelled_at   timestamptz,
    finished_at    timestamptz
);
CREATE INDEX bulk_syncs_company_idx ON bulk_syncs (company_id, id DESC);

-- One row per selected document, in the order the run takes them (seq): what the preview
-- planned for it, at which revision, and when the run handed it to the sync.
CREATE TABLE bulk_sync_items (
    bulk_sync_id   bigint NOT NULL REFERENCES bulk_syncs (id) ON DELETE CASCADE,
    seq            bigint NOT NULL,
    company_id     bigint NOT NULL,
    doc_type       text NOT NULL,
    source_id      text NOT NULL,
    revision       bigint NOT NULL,
    planned        text NOT NULL CHECK (planned IN ('create', 'update', 'skip', 'fail')),
    reason         text,
    message        text,
    calls          integer NOT NULL DEFAULT 0,
    dispatched_at  timestamptz,
    PRIMARY KEY (bulk_sync_id, seq),
    FOREIGN KEY (company_id, doc_type, source_id)
        REFERENCES documents (company_id, doc_type, source_id) ON DELETE CASCADE
);

-- The customers and products a bulk sync's preview already counted (created once, up front).
CREATE TABLE bulk_sync_references (
    bulk_sync_id   bigint NOT NULL REFERENCES bulk_syncs (id) ON DELETE CASCADE,
    doc_type       text NOT NULL,
    source_id      text NOT NULL,
    PRIMARY KEY (bulk_sync_id, doc_type, source_id)
);
