-- gold.fct_tickets: one row per support ticket, enriched.
--   created_date, created_day_of_week (Monday … Sunday), created_hour (0-23)
--   resolution_bucket  Under 1 hour (< 60 min) / Under 1 day (< 1,440) /
--                      Under 3 days (< 4,320) / Over 3 days, NULL while open,
--                      and when the time is unknown or negative
-- @test not_null(ticket_id)
-- @test unique(ticket_id)
-- @test same_row_count(silver.stg_tickets)
-- @test accepted_values(resolution_bucket, 'Under 1 hour', 'Under 1 day', 'Under 3 days', 'Over 3 days')
-- @test accepted_values(created_day_of_week, 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday')
-- @test accepted_values(priority, 'High', 'Medium', 'Low')
CREATE OR REPLACE TABLE gold.fct_tickets AS
SELECT
    t.ticket_id,
    t.created_at,
    t.resolved_at,
    t.agent,
    t.priority,
    t.num_interactions,
    t.issue_cat,
    t.channel,
    t.status,
    t.agent_feedback,
    t.resolution_time_mins,
    t.is_open,
    CAST(t.created_at AS DATE) AS created_date,
    util.cp_day_name(t.created_at) AS created_day_of_week,
    CAST(EXTRACT(HOUR FROM t.created_at) AS INTEGER) AS created_hour,
    CASE
        WHEN t.is_open OR t.resolution_time_mins IS NULL OR t.resolution_time_mins < 0 THEN NULL
        WHEN t.resolution_time_mins < 60 THEN 'Under 1 hour'
        WHEN t.resolution_time_mins < 1440 THEN 'Under 1 day'
        WHEN t.resolution_time_mins < 4320 THEN 'Under 3 days'
        ELSE 'Over 3 days'
    END AS resolution_bucket
FROM silver.stg_tickets AS t;
