-- What every controller replica on one database must share beyond the model
-- (DESIGN.md section 3, "Store"): the controller CA's certificate (ca.crt,
-- public) and its private key (ca.key), the key sealed with AES-256-GCM
-- under the replicas' store key (--store-key, 32 bytes, never in the
-- database). Used on PostgreSQL; a single SQLite controller keeps its CA in
-- its data directory.
CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
