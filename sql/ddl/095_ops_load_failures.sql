-- Quarantine: source objects that could not be read to the end (corrupt
-- gzip, a body that never matched its size), one row per object, beside the
-- ledger. Written in the transaction of the batch the object failed in; a
-- listed object whose ETag equals its row here is skipped (not retried
-- silently forever) until its ETag changes or `ingest-logs --retry-failed`;
-- a later successful load deletes the row. `careplus failures` lists them.
CREATE TABLE IF NOT EXISTS ops.load_failures (
    source          VARCHAR NOT NULL,
    object_key      VARCHAR NOT NULL,
    etag            VARCHAR NOT NULL,
    size_bytes      BIGINT NOT NULL,
    code            VARCHAR NOT NULL,
    reason          VARCHAR NOT NULL,
    attempts        INTEGER NOT NULL,
    run_id          VARCHAR NOT NULL,
    first_failed_at TIMESTAMP NOT NULL,
    last_failed_at  TIMESTAMP NOT NULL
);
