-- Migration: the code of a task's failure (ERR_MYSQL, ERR_DATA_TEST…), next to its message.
-- Tables created before it gain the column; on newer ones it is a no-op (DuckDB and Snowflake).
ALTER TABLE ops.task_runs ADD COLUMN IF NOT EXISTS error_code VARCHAR;
