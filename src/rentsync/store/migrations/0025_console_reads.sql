-- The web console's read side (issue 12): what the dashboard charts need, and the indexes that
-- keep its lists bounded.
--
-- sync_records.pending_since: when the oldest change still waiting for QBO was stored (set by
-- the PUT or resync that schedules the job, kept through retries, cleared by any final outcome).
-- sync_attempts keeps it with each outcome, and the state the outcome left, so the dashboard
-- counts synced / failed / skipped per hour and the event -> QBO latency from the history alone.
ALTER TABLE sync_records ADD COLUMN pending_since timestamptz;
ALTER TABLE sync_attempts ADD COLUMN state text;
ALTER TABLE sync_attempts ADD COLUMN pending_since timestamptz;

-- The hourly series: one company's outcomes of the last days.
CREATE INDEX sync_attempts_company_finished_idx ON sync_attempts (company_id, finished_at);
-- The documents list: one company's documents, newest change first, keyset-paged.
CREATE INDEX documents_company_updated_idx
    ON documents (company_id, updated_at DESC, doc_type DESC, source_id DESC);
