-- silver.stg_tickets: the latest version of each ticket, cleaned and typed.
-- bronze.tickets is append-only (every extraction is a new version): the
-- latest is the highest _extracted_at, then _run_id.
--   priority          Lw/Medum/Hgh (any case, blanks trimmed) → Low/Medium/High
--   num_interactions  INTEGER, NULL when negative or not a whole number
--   created_at, resolved_at  TIMESTAMP, NULL when malformed (never a failed run)
--   resolution_time_mins     minute boundaries crossed, created → resolved
--   is_open           no resolved_at in the source (a malformed one still
--                     means resolved, at an unknown time)
-- @test not_null(ticket_id)
-- @test unique(ticket_id)
-- @test one_row_per(ticket_id, bronze.tickets)
-- @test accepted_values(priority, 'High', 'Medium', 'Low')
-- @test accepted_values(status, 'Open', 'Resolved')
-- @test accepted_values(channel, 'Chat', 'Phone', 'Web Form')
CREATE OR REPLACE VIEW silver.stg_tickets AS
WITH latest AS (
    SELECT *
    FROM bronze.tickets
    QUALIFY ROW_NUMBER() OVER (PARTITION BY ticket_id ORDER BY _extracted_at DESC, _run_id DESC) = 1
),
typed AS (
    SELECT
        ticket_id,
        util.cp_try_timestamp(created_at) AS created_at,
        util.cp_try_timestamp(resolved_at) AS resolved_at,
        agent,
        CASE LOWER(TRIM(priority))
            WHEN 'low' THEN 'Low'
            WHEN 'lw' THEN 'Low'
            WHEN 'medium' THEN 'Medium'
            WHEN 'medum' THEN 'Medium'
            WHEN 'high' THEN 'High'
            WHEN 'hgh' THEN 'High'
            ELSE priority
        END AS priority,
        CASE WHEN util.cp_try_int(num_interactions) >= 0 THEN util.cp_try_int(num_interactions) END AS num_interactions,
        issue_cat,
        channel,
        status,
        agent_feedback,
        (resolved_at IS NULL OR TRIM(resolved_at) = '') AS is_open,
        _extracted_at,
        _run_id
    FROM latest
)
SELECT
    ticket_id,
    created_at,
    resolved_at,
    agent,
    priority,
    num_interactions,
    issue_cat,
    channel,
    status,
    agent_feedback,
    util.cp_minutes_between(created_at, resolved_at) AS resolution_time_mins,
    is_open,
    _extracted_at,
    _run_id
FROM typed;
