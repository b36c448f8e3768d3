-- The preview's estimate counts how the run's documents wait for one another (issue 13, B5): a
-- lock's documents (an order and its payments, a vendor's documents) run one after another, the
-- locks side by side. groups: the locks among the documents handed to the sync; longest_*: the
-- QBO operations (batch items, singles) of the lock with the longest chain.
ALTER TABLE bulk_syncs
    ADD COLUMN groups bigint NOT NULL DEFAULT 0,
    ADD COLUMN longest_batched integer NOT NULL DEFAULT 0,
    ADD COLUMN longest_single integer NOT NULL DEFAULT 0;
