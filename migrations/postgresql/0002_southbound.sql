-- PostgreSQL's form of ../0002_southbound.sql: 64-bit integers (Unix
-- seconds and generations outlive 2^31). Keep the two in step.

-- The southbound side of DESIGN.md section 3: what reached the hosts and who
-- may speak for them. Rows go with their host (ON DELETE CASCADE).

-- The generation of each host's compiled policy and a hash of its content,
-- so a restarted controller bumps a generation only when the content changed.
CREATE TABLE host_policies (
  host_id TEXT PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
  generation BIGINT NOT NULL,
  sha256 TEXT NOT NULL
);

-- One-time enrollment tokens (stored hashed), valid until expires_at (Unix
-- seconds), spent when used_at is set.
CREATE TABLE enrollment_tokens (
  token_sha256 TEXT PRIMARY KEY,
  host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX enrollment_tokens_host ON enrollment_tokens(host_id);

-- The one certificate a host may present: its serial (hex). Enrolling again
-- replaces it; revoking deletes it; either way older certificates are refused.
CREATE TABLE host_certificates (
  host_id TEXT PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
  serial TEXT NOT NULL,
  not_after BIGINT NOT NULL,
  issued_at BIGINT NOT NULL
);
