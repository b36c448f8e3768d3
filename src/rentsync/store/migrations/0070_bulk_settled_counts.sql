-- A bulk sync's progress without an aggregate over all its items on every read (issue 13): the
-- dispatch step marks each order whose outcome for the run has ended (synced, skipped, failed)
-- and adds it to the run's settled counts; a read adds the few orders still in the sync and
-- derives the waiting ones from the preview's planned counts. At 100,000 orders the whole
-- aggregate took 0.5 s of PostgreSQL per read.
ALTER TABLE bulk_sync_items ADD COLUMN settled_at timestamptz;
-- [[planned, outcome, count, changed since the preview], ...]
ALTER TABLE bulk_syncs ADD COLUMN settled_counts jsonb NOT NULL DEFAULT '[]';
CREATE INDEX bulk_sync_items_in_sync_idx ON bulk_sync_items (bulk_sync_id, seq)
    WHERE dispatched_at IS NOT NULL AND settled_at IS NULL;
