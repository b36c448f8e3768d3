-- The references phase no longer holds every document back (issue 13, P1): a document goes once
-- the customers, products and vendors needed by the documents up to it are settled. first_seq:
-- the preview's seq of the first document that needs the reference (the run hands references
-- over in that order). NULL for references stored before this migration: such a run holds every
-- document back until all its references are settled, as before.
ALTER TABLE bulk_sync_references ADD COLUMN first_seq integer;
