-- Dialect helpers for DuckDB (the embedded default). The models call only
-- these plus SQL common to DuckDB and Snowflake. sql/dialect/snowflake.sql
-- defines the same functions with the same results. Persistent macros (not
-- TEMP), so the views keep working in any later connection to the file.
CREATE SCHEMA IF NOT EXISTS util;

-- 'YYYY-MM-DD HH:MM:SS' (or 'T' between date and time, up to 6 fractional
-- digits, surrounding blanks ignored) → TIMESTAMP. Anything else, including
-- impossible dates and values with a zone offset, → NULL. The pattern check
-- comes first because DuckDB's own cast also accepts forms Snowflake reads
-- differently (a bare date, an offset it silently drops).
CREATE OR REPLACE MACRO util.cp_try_timestamp(x) AS
    CASE
        WHEN regexp_full_match(trim(x), '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?')
        THEN TRY_CAST(trim(x) AS TIMESTAMP)
    END;

-- An optionally signed whole number of at most 9 digits → INTEGER. Anything
-- else ('3.5', '1e3', '0x10', '1_000', which DuckDB's cast would accept) → NULL.
CREATE OR REPLACE MACRO util.cp_try_int(x) AS
    CASE
        WHEN regexp_full_match(trim(x), '[+-]?[0-9]{1,9}')
        THEN CAST(trim(x) AS INTEGER)
    END;

-- Minute boundaries crossed from a to b, as Snowflake's DATEDIFF(minute, a, b)
-- counts them (10:00:59 → 10:01:00 is 1). DuckDB wants the part quoted.
CREATE OR REPLACE MACRO util.cp_minutes_between(a, b) AS
    CAST(date_diff('minute', a, b) AS INTEGER);

-- The full English day name: Monday … Sunday.
CREATE OR REPLACE MACRO util.cp_day_name(ts) AS
    dayname(ts);
