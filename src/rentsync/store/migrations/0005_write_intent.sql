-- The engine's promise under races and kills (issue 8).
--
-- write_intent: a create sent to QBO whose outcome is not known yet (the answer was lost, the
-- worker died): how to find what it may have written (entity, a queryable natural key and its
-- value). Set before the create is sent, cleared once the outcome is known, so a retry, a later
-- delete or a reference's own job looks it up before creating again or forgetting it.
--
-- not_synced: a customer or product with nothing in QBO that nothing needs there yet (it is
-- created with the first order that uses it).
ALTER TABLE sync_records ADD COLUMN write_intent jsonb;
ALTER TABLE sync_records DROP CONSTRAINT sync_records_state_check;
ALTER TABLE sync_records ADD CONSTRAINT sync_records_state_check
    CHECK (state IN ('pending', 'synced', 'skipped', 'failed', 'not_synced'));
