-- Dialect helpers for Snowflake (production): the same functions as
-- sql/dialect/duckdb.sql, as SQL UDFs. Bodies are $$-delimited (Snowflake
-- accepts '…' or $$…$$ around a function definition), so the quotes and
-- patterns inside read exactly as they run.
CREATE SCHEMA IF NOT EXISTS util;

-- Gold is built here, then published with ALTER SCHEMA gold SWAP WITH
-- gold__build (src/transform/project.ts, layerBuild): Snowflake commits each
-- CREATE TABLE … AS on its own, so building in place would leave gold mixed.
CREATE SCHEMA IF NOT EXISTS gold__build;

-- 'YYYY-MM-DD HH:MM:SS' (or 'T' between date and time, up to 6 fractional
-- digits, surrounding blanks ignored) → TIMESTAMP_NTZ, anything else → NULL.
-- REGEXP_LIKE matches the whole string and 'AUTO' pins the input format
-- whatever the session's TIMESTAMP_INPUT_FORMAT says.
CREATE OR REPLACE FUNCTION util.cp_try_timestamp(x VARCHAR)
    RETURNS TIMESTAMP_NTZ
    AS $$
        IFF(REGEXP_LIKE(TRIM(x), '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?'),
            TRY_TO_TIMESTAMP_NTZ(TRIM(x), 'AUTO'),
            NULL)
    $$;

-- An optionally signed whole number of at most 9 digits → INTEGER, else NULL.
CREATE OR REPLACE FUNCTION util.cp_try_int(x VARCHAR)
    RETURNS INTEGER
    AS $$
        IFF(REGEXP_LIKE(TRIM(x), '[+-]?[0-9]{1,9}'), CAST(TRY_TO_NUMBER(TRIM(x)) AS INTEGER), NULL)
    $$;

-- Minute boundaries crossed from a to b.
CREATE OR REPLACE FUNCTION util.cp_minutes_between(a TIMESTAMP_NTZ, b TIMESTAMP_NTZ)
    RETURNS INTEGER
    AS $$
        DATEDIFF(minute, a, b)
    $$;

-- The full English day name: Monday … Sunday (DAYNAME gives 'Mon'). ISO day
-- numbers do not depend on the WEEK_START parameter.
CREATE OR REPLACE FUNCTION util.cp_day_name(ts TIMESTAMP_NTZ)
    RETURNS VARCHAR
    AS $$
        DECODE(DAYOFWEEKISO(ts), 1, 'Monday', 2, 'Tuesday', 3, 'Wednesday', 4, 'Thursday', 5, 'Friday', 6, 'Saturday', 7, 'Sunday')
    $$;
