-- Every committed write's changes in commit order, one row per object
-- changed (DESIGN.md section 3, "Store"): how a controller replica learns
-- what another committed (PostgreSQL announces each commit on the channel
-- vnet_changes; the replica reads the rows past the last it applied and
-- reloads those objects), and the sequence a write returns. Sequences are
-- given under the database's single writer lock, so they follow commit
-- order without gaps. Old rows are pruned by the writers.
CREATE TABLE change_log (
  seq BIGINT PRIMARY KEY,
  collection TEXT NOT NULL,
  object_id TEXT NOT NULL
);
