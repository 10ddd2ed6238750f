-- Reconciliation: bronze log rows = silver rows + duplicates removed, with the
-- duplicates counted from bronze on its own (rows beyond the first of each
-- timestamp + ticket_id + ip). Returns one row when the counts disagree.
SELECT
    b.bronze_rows,
    s.silver_rows,
    b.bronze_rows - k.distinct_events AS duplicates_removed
FROM (SELECT COUNT(*) AS bronze_rows FROM bronze.logs) AS b
CROSS JOIN (
    SELECT COUNT(*) AS distinct_events
    FROM (SELECT timestamp, ticket_id, ip FROM bronze.logs GROUP BY timestamp, ticket_id, ip) AS event_keys
) AS k
CROSS JOIN (SELECT COUNT(*) AS silver_rows FROM silver.stg_logs) AS s
WHERE b.bronze_rows <> s.silver_rows + (b.bronze_rows - k.distinct_events)
