-- gold.fct_ticket_log_summary: one row per ticket with its log metrics, the
-- primary analytics table. Tickets without logs have 0 events and NULL
-- averages, times and first/last timestamps.
--   avg_response_time_ms, max_response_time_ms  over the non-NULL times
--   total_errors / total_warnings / total_debug_events  events whose
--   normalised level is ERROR / WARNING / DEBUG
-- @test not_null(ticket_id)
-- @test unique(ticket_id)
-- @test one_row_per(ticket_id, silver.stg_tickets)
-- @test accepted_values(resolution_bucket, 'Under 1 hour', 'Under 1 day', 'Under 3 days', 'Over 3 days')
CREATE OR REPLACE TABLE gold.fct_ticket_log_summary AS
WITH log_metrics AS (
    SELECT
        l.ticket_id,
        COUNT(*) AS total_log_events,
        CAST(AVG(l.response_time_ms) AS DOUBLE) AS avg_response_time_ms,
        MAX(l.response_time_ms) AS max_response_time_ms,
        CAST(AVG(l.cpu_percent) AS DOUBLE) AS avg_cpu_percent,
        COUNT(CASE WHEN l.log_level = 'ERROR' THEN 1 END) AS total_errors,
        COUNT(CASE WHEN l.log_level = 'WARNING' THEN 1 END) AS total_warnings,
        COUNT(CASE WHEN l.log_level = 'DEBUG' THEN 1 END) AS total_debug_events,
        MIN(l.timestamp) AS first_log_at,
        MAX(l.timestamp) AS last_log_at
    FROM gold.fct_logs AS l
    GROUP BY l.ticket_id
)
SELECT
    t.ticket_id,
    t.created_at,
    t.resolved_at,
    t.agent,
    t.priority,
    t.issue_cat,
    t.channel,
    t.status,
    t.resolution_time_mins,
    t.resolution_bucket,
    t.is_open,
    COALESCE(m.total_log_events, 0) AS total_log_events,
    m.avg_response_time_ms,
    m.max_response_time_ms,
    m.avg_cpu_percent,
    COALESCE(m.total_errors, 0) AS total_errors,
    COALESCE(m.total_warnings, 0) AS total_warnings,
    COALESCE(m.total_debug_events, 0) AS total_debug_events,
    m.first_log_at,
    m.last_log_at
FROM gold.fct_tickets AS t
LEFT JOIN log_metrics AS m ON m.ticket_id = t.ticket_id;
