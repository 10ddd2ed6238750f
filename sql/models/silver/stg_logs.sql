-- silver.stg_logs: one row per distinct log event, cleaned.
--   log_level         INF0/DEBG/EROR/warnING (any case, blanks trimmed) → INFO/DEBUG/ERROR/WARNING
--   response_time_ms  NULL when negative
--   error             BOOLEAN from the raw 'true'/'false' (anything else → NULL)
--   trace_id          NULL for the source's TraceID=None (or an empty value)
--   duplicates        events with the same timestamp, ticket_id and ip are one
--                     event: the first in source order is kept
-- Lineage (_source_file, _source_line, _run_id) is kept.
-- @test not_null(timestamp)
-- @test unique_combination(timestamp, ticket_id, ip)
-- @test accepted_values(log_level, 'INFO', 'DEBUG', 'WARNING', 'ERROR')
-- Singular test beside this file: stg_logs.reconciles_with_bronze.test.sql
CREATE OR REPLACE VIEW silver.stg_logs AS
SELECT
    timestamp,
    CASE UPPER(TRIM(log_level))
        WHEN 'INF0' THEN 'INFO'
        WHEN 'DEBG' THEN 'DEBUG'
        WHEN 'EROR' THEN 'ERROR'
        ELSE UPPER(TRIM(log_level))
    END AS log_level,
    service,
    ticket_id,
    session_id,
    ip,
    CASE WHEN response_time_ms < 0 THEN NULL ELSE response_time_ms END AS response_time_ms,
    cpu_percent,
    event_type,
    CASE LOWER(TRIM(error)) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END AS error,
    user_agent,
    message,
    debug,
    CASE WHEN trace_id = 'None' OR TRIM(trace_id) = '' THEN NULL ELSE trace_id END AS trace_id,
    _source_file,
    _source_line,
    _run_id
FROM bronze.logs
QUALIFY ROW_NUMBER() OVER (PARTITION BY timestamp, ticket_id, ip ORDER BY _source_file, _source_line) = 1;
