-- What the agents' sessions say, for every controller replica to show
-- (GET /hosts/{id} is the same through any replica, DESIGN.md section 3):
-- written by the replica that holds the host's session (replica: its
-- random id for this run), refreshed every few seconds while connected
-- (updated_at, Unix seconds), so a replica killed without a word is seen
-- as disconnected once its rows go stale. A session elsewhere takes the
-- row over; a replica only ends a row it owns. Used on PostgreSQL.
CREATE TABLE host_status (
  host_id TEXT PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
  replica TEXT NOT NULL,
  connected BIGINT NOT NULL,
  realized BIGINT NOT NULL,
  last_seen BIGINT,
  uplink TEXT NOT NULL,
  problems TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
