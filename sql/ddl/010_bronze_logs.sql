-- Raw log events, one row per parsed block, exactly as written in the source
-- (dirty levels, negative times, duplicates and TraceID=None included).
-- Typed where the parser guarantees a valid value; cleaning is silver's job.
CREATE TABLE IF NOT EXISTS bronze.logs (
    timestamp        TIMESTAMP,
    log_level        VARCHAR,
    service          VARCHAR,
    ticket_id        VARCHAR,
    session_id       VARCHAR,
    ip               VARCHAR,
    response_time_ms INTEGER,
    cpu_percent      DOUBLE,
    event_type       VARCHAR,
    error            VARCHAR,
    user_agent       VARCHAR,
    message          VARCHAR,
    debug            VARCHAR,
    trace_id         VARCHAR,
    _source_file     VARCHAR NOT NULL,
    _source_line     BIGINT NOT NULL,
    _loaded_at       TIMESTAMP NOT NULL,
    _run_id          VARCHAR NOT NULL
);

-- Blocks the parser could not turn into a row, with the reason and the raw text (capped).
CREATE TABLE IF NOT EXISTS bronze.log_rejects (
    _source_file VARCHAR NOT NULL,
    _source_line BIGINT NOT NULL,
    reason       VARCHAR NOT NULL,
    raw          VARCHAR,
    _loaded_at   TIMESTAMP NOT NULL,
    _run_id      VARCHAR NOT NULL
);
