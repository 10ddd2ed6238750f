-- Incremental extraction state: the highest cursor value loaded per source.
-- Written in the same transaction as the rows it covers, so it only moves
-- when they commit.
CREATE TABLE IF NOT EXISTS ops.watermarks (
    source        VARCHAR NOT NULL,
    cursor_column VARCHAR NOT NULL,
    value         VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
