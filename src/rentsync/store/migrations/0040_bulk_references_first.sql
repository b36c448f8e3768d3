-- A bulk sync creates the customers and products its orders need before the orders (issue 13):
-- its phase ('references', then 'orders') is kept here, so a run resumed after a kill goes on in
-- the phase it was in. Bulk syncs created before this migration stay in the orders phase (their
-- orders create their references as before).
ALTER TABLE bulk_syncs ADD COLUMN phase text NOT NULL DEFAULT 'orders'
    CHECK (phase IN ('references', 'orders'));

-- When the run handed each reference to the sync (NULL: not yet).
ALTER TABLE bulk_sync_references ADD COLUMN dispatched_at timestamptz;
