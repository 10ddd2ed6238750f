-- Run history, like Airflow's DAG runs and task instances.
-- state: running, success, failed, skipped, cancelled.
CREATE TABLE IF NOT EXISTS ops.runs (
    run_id        VARCHAR NOT NULL,
    run_trigger   VARCHAR NOT NULL,  -- `trigger` is reserved in Snowflake
    scheduled_for TIMESTAMP,
    state         VARCHAR NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP,
    error         VARCHAR
);

CREATE TABLE IF NOT EXISTS ops.task_runs (
    run_id     VARCHAR NOT NULL,
    task       VARCHAR NOT NULL,
    state      VARCHAR NOT NULL,
    attempts   INTEGER NOT NULL,
    started_at TIMESTAMP,
    ended_at   TIMESTAMP,
    rows_in    BIGINT,
    rows_out   BIGINT,
    rejects    BIGINT,
    error      VARCHAR
);
