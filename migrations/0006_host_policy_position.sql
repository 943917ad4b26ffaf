-- Where in the change log the model stood when a host's stored content was
-- compiled (change_log.seq). A replica whose model is behind that does not
-- number its (older) content over it: it waits until it has followed the
-- log that far, then finds the same content and takes its generation.
ALTER TABLE host_policies ADD COLUMN log_seq BIGINT NOT NULL DEFAULT 0;
