-- A bulk sync's documents by kind (issue 13, B5): the preview's summary said "orders" for every
-- document it counted (payments, refunds, vendor bills too). kinds: {"order": n, "quote": n,
-- "payment": n, "refund": n, "payment_void": n, "purchase_order": n, "vendor_bill": n,
-- "vendor_payment": n}, added up by each preview step; earlier bulk syncs counted from their items.
ALTER TABLE bulk_syncs ADD COLUMN kinds jsonb NOT NULL DEFAULT '{}';

UPDATE bulk_syncs b SET kinds = counted.kinds
FROM (
    SELECT bulk_sync_id, jsonb_object_agg(kind, n) AS kinds
    FROM (
        SELECT i.bulk_sync_id,
               CASE WHEN i.doc_type = 'order' AND d.body ->> 'kind' = 'quote' THEN 'quote'
                    ELSE i.doc_type END AS kind,
               count(*) AS n
        FROM bulk_sync_items i
        LEFT JOIN documents d ON d.company_id = i.company_id AND d.doc_type = i.doc_type
            AND d.source_id = i.source_id
        GROUP BY 1, 2
    ) per_kind
    GROUP BY bulk_sync_id
) counted
WHERE b.id = counted.bulk_sync_id;
