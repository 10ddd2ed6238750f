-- Exactly-once loading: one row per source object, written in the same
-- transaction as the object's bronze rows. A listed object whose ETag matches
-- its ledger row is skipped; a changed ETag replaces the object's rows.
CREATE TABLE IF NOT EXISTS ops.load_ledger (
    source       VARCHAR NOT NULL,
    object_key   VARCHAR NOT NULL,
    etag         VARCHAR NOT NULL,
    size_bytes   BIGINT NOT NULL,
    blocks       BIGINT NOT NULL,
    rows_loaded  BIGINT NOT NULL,
    rejects      BIGINT NOT NULL,
    staged_files VARCHAR NOT NULL,
    run_id       VARCHAR NOT NULL,
    loaded_at    TIMESTAMP NOT NULL
);
