-- gold.fct_logs: one row per log event, deduplicated and enriched.
--   log_date, log_hour (0-23)
--   response_bucket  Fast (< 500 ms) / Normal (< 1,000) / Slow (>= 1,000), NULL when the time is NULL
--   cpu_load         Low (< 50 %) / Medium (< 80 %) / High (>= 80 %), NULL when the CPU is NULL
-- @test same_row_count(silver.stg_logs)
-- @test unique_combination(timestamp, ticket_id, ip)
-- @test accepted_values(log_level, 'INFO', 'DEBUG', 'WARNING', 'ERROR')
-- @test accepted_values(response_bucket, 'Fast', 'Normal', 'Slow')
-- @test accepted_values(cpu_load, 'Low', 'Medium', 'High')
CREATE OR REPLACE TABLE gold.fct_logs AS
SELECT
    l.timestamp,
    l.log_level,
    l.service,
    l.ticket_id,
    l.session_id,
    l.ip,
    l.response_time_ms,
    l.cpu_percent,
    l.event_type,
    l.error,
    l.user_agent,
    l.message,
    l.debug,
    l.trace_id,
    CAST(l.timestamp AS DATE) AS log_date,
    CAST(EXTRACT(HOUR FROM l.timestamp) AS INTEGER) AS log_hour,
    CASE
        WHEN l.response_time_ms IS NULL THEN NULL
        WHEN l.response_time_ms < 500 THEN 'Fast'
        WHEN l.response_time_ms < 1000 THEN 'Normal'
        ELSE 'Slow'
    END AS response_bucket,
    CASE
        WHEN l.cpu_percent IS NULL THEN NULL
        WHEN l.cpu_percent < 50 THEN 'Low'
        WHEN l.cpu_percent < 80 THEN 'Medium'
        ELSE 'High'
    END AS cpu_load
FROM silver.stg_logs AS l;
