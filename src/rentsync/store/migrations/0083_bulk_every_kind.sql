-- A bulk sync covers every kind of document (issue 13, R14): orders and quotes, their payments
-- (with refunds and voids), purchase orders, vendor bills and vendor payments. The preview
-- sums each document's QBO operations as its kind counts them: those that travel as batch
-- items and those sent singly (the estimate's inputs; before, invoice creates and updates
-- were read from the planned counts). The preview walks the orders (with their payments),
-- then the vendor-side documents: `preview_stage` says which, `preview_after` is its cursor.
ALTER TABLE bulk_syncs ADD COLUMN batched_operations bigint NOT NULL DEFAULT 0;
ALTER TABLE bulk_syncs ADD COLUMN single_operations bigint NOT NULL DEFAULT 0;
ALTER TABLE bulk_syncs ADD COLUMN preview_stage text NOT NULL DEFAULT 'orders'
    CHECK (preview_stage IN ('orders', 'vendors'));
UPDATE bulk_syncs SET batched_operations = coalesce((planned->>'create')::bigint, 0),
    single_operations = coalesce((planned->>'update')::bigint, 0);
