-- Raw support tickets, append-only: every extraction of a ticket is a new
-- version of its row. Values are the source's text exactly (NULL apart from
-- ''); casting is silver's job. IssUeCat is named issue_cat.
CREATE TABLE IF NOT EXISTS bronze.tickets (
    ticket_id        VARCHAR,
    created_at       VARCHAR,
    resolved_at      VARCHAR,
    agent            VARCHAR,
    priority         VARCHAR,
    num_interactions VARCHAR,
    issue_cat        VARCHAR,
    channel          VARCHAR,
    status           VARCHAR,
    agent_feedback   VARCHAR,
    _cursor_value    VARCHAR,
    _row_hash        VARCHAR NOT NULL,
    _extracted_at    TIMESTAMP NOT NULL,
    _loaded_at       TIMESTAMP NOT NULL,
    _run_id          VARCHAR NOT NULL
);
