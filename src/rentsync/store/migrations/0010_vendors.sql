-- The vendor side (issue 11): vendors, vendor bills, vendor payments and purchase orders are
-- documents; a vendor's bills, payments and purchase orders take the vendor's job lock.
ALTER TABLE documents DROP CONSTRAINT documents_doc_type_check;
ALTER TABLE documents ADD CONSTRAINT documents_doc_type_check
    CHECK (doc_type IN ('customer', 'product', 'order', 'payment', 'refund', 'payment_void',
                        'vendor', 'vendor_bill', 'vendor_payment', 'purchase_order'));
