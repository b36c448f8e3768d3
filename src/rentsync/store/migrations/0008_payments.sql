-- Customer payments (issue 10): payments, their refunds and voids are documents; a payment's
-- jobs and its parts' take its order's lock (`job_lock`), so a payment never reaches QBO before
-- its invoice and an order's payments run one at a time, in order. A third sync mode.
ALTER TABLE documents DROP CONSTRAINT documents_doc_type_check;
ALTER TABLE documents ADD CONSTRAINT documents_doc_type_check
    CHECK (doc_type IN ('customer', 'product', 'order', 'payment', 'refund', 'payment_void'));
ALTER TABLE documents ADD COLUMN job_lock text;
CREATE INDEX documents_job_lock_idx ON documents (company_id, job_lock)
    WHERE job_lock IS NOT NULL;
ALTER TABLE company_settings DROP CONSTRAINT company_settings_sync_mode_check;
ALTER TABLE company_settings ADD CONSTRAINT company_settings_sync_mode_check
    CHECK (sync_mode IN ('orders_and_quotes_with_payment', 'all_orders_and_quotes',
                         'only_with_payment'));
