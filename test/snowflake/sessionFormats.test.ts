import t from 'tap'
import { LOG_COLUMNS } from '../../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { StageWriter } from '../../sinks/stageWriter.js'
import type { PipelineError } from '../../src/errors.js'
import { splitStatements } from '../../src/warehouse/sqlFiles.js'
import { formatSetup, snowflakeSetup } from '../../src/warehouse/snowflakeSetup.js'
import { sessionStatements, snowflakeSettings } from '../../src/warehouse/snowflakeWarehouse.js'
import { openTestWarehouse, snowflakeTestEnv } from '../support/snowflake.js'

/**
 * Issue 14, item 2: the session's formats. The COPY file format's
 * TIMESTAMP_FORMAT defaults to AUTO, which defers to the session's
 * TIMESTAMP_INPUT_FORMAT, as do CAST('…' AS TIMESTAMP) and CAST(? AS
 * TIMESTAMP). On an account whose administrator set other formats, the
 * pipeline's sessions pin their own at login.
 */
const ACCOUNT = {
  TIMESTAMP_INPUT_FORMAT: 'DD/MM/YYYY HH24:MI:SS',
  DATE_INPUT_FORMAT: 'DD/MM/YYYY',
  TIMESTAMP_NTZ_OUTPUT_FORMAT: 'DD.MM.YYYY HH24:MI',
}

t.test('on an account with other date/time formats, the pipeline pins its own: casts, binds, text output and COPY work', async (t) => {
  const sf = await snowflakeTestEnv(t, { endpoint: { accountParameters: ACCOUNT } })
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()

  // A staged log file, written as the ingest writes it.
  const w = new StageWriter({ store: sf.store, keyPrefix: 'stage/logs/f.log/e1/rows/', header: csvHeader(LOG_COLUMNS), maxFileBytes: 1e6 })
  const row = ['2025-07-01 00:21:00', 'INFO', 'svc', 'TCK1', 'sess', '1.2.3.4', '120', '27.5', 'e', 'false', 'ua', 'm', 'd', 'None', 'logs/f.log', '1']
  await w.write(encodeCsvBatch([Object.fromEntries(LOG_COLUMNS.map((c, i) => [c, row[i]!]))], LOG_COLUMNS as unknown as string[]), 1)
  const files = (await w.close()).map((f) => f.key)
  const load = { table: 'bronze.logs', csvColumns: LOG_COLUMNS, files, constants: { _loaded_at: '2025-08-01 02:00:05.000', _run_id: 'run-1' } }

  // What the account's formats would do to a session that did not pin them (the endpoint honours them as Snowflake does).
  await wh.run('ALTER SESSION UNSET TIMESTAMP_INPUT_FORMAT, DATE_INPUT_FORMAT, TIMESTAMP_NTZ_OUTPUT_FORMAT')
  await t.rejects(wh.query("SELECT CAST('2025-07-01 00:21:00' AS TIMESTAMP) AS ts"), { code: 'ERR_SNOWFLAKE_QUERY', message: /^Snowflake 100035 \(22007\): Timestamp '2025-07-01 00:21:00' is not recognized/ })
  t.same(await wh.query("SELECT CAST(CAST('01/07/2025 00:21:00' AS TIMESTAMP) AS VARCHAR) AS s"), [{ s: '01.07.2025 00:21' }], "the account's input and output formats")
  const misread = await wh.transaction((tx) => tx.copyFromStage(load)).then(
    () => undefined,
    (e: unknown) => e as PipelineError,
  )
  t.equal(misread?.code, 'ERR_LOAD_FAILED', "an unpinned session's COPY rejects the staged timestamps")
  t.match(misread?.message, /Timestamp '2025-07-01 00:21:00' is not recognized/)

  // The pipeline's own session: everything pinned at login.
  const pinned = await openTestWarehouse(t, sf.cfg)
  const settings = snowflakeSettings(sf.cfg)
  const login = sf.endpoint.statements.filter((s) => s.session === sf.endpoint.statements.at(-1)!.session).map((s) => s.sql)
  t.same(login.slice(0, 7), sessionStatements(settings), 'the session statements, first thing after login')
  t.ok(login.includes("ALTER SESSION SET TIMESTAMP_INPUT_FORMAT = 'AUTO'") && login.includes("ALTER SESSION SET DATE_INPUT_FORMAT = 'AUTO'"))
  t.same(await pinned.query("SELECT CAST('2025-07-01 00:21:00' AS TIMESTAMP) AS ts, CAST('2025-07-01' AS DATE) AS d"), [{ ts: new Date('2025-07-01T00:21:00Z'), d: new Date('2025-07-01T00:00:00Z') }])
  t.same(await pinned.query('SELECT CAST(CAST(? AS TIMESTAMP) AS VARCHAR) AS s', ['2025-07-01 00:21:00.123']), [{ s: '2025-07-01 00:21:00.123' }], 'a bind, and text as DuckDB prints it')
  t.equal(await pinned.transaction((tx) => tx.copyFromStage(load)), 1, 'the staged file loads')
  t.same(await pinned.query('SELECT timestamp, _loaded_at FROM bronze.logs'), [{ timestamp: new Date('2025-07-01T00:21:00Z'), _loaded_at: new Date('2025-08-01T02:00:05Z') }], 'read as written: UTC, not day and month swapped')
})

t.test('setup --print starts the pipeline part with the same session lines, TIMESTAMP_TYPE_MAPPING included', async (t) => {
  const sf = await snowflakeTestEnv(t, { provision: false, env: { SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS: '3600', SNOWFLAKE_LOCK_TIMEOUT: '600' } })
  const text = formatSetup(snowflakeSetup(sf.cfg))
  const pipelinePart = splitStatements(text.slice(text.indexOf("-- 2. The pipeline's part.")))
  const afterUse = pipelinePart.filter((s) => !/^USE /.test(s))
  const expected = sessionStatements(snowflakeSettings(sf.cfg))
  t.same(afterUse.slice(0, expected.length), expected, 'right after the USE lines, before any DDL')
  t.ok(expected.includes("ALTER SESSION SET TIMESTAMP_TYPE_MAPPING = 'TIMESTAMP_NTZ'"))
  t.ok(expected.includes('ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 3600') && expected.includes('ALTER SESSION SET LOCK_TIMEOUT = 600'), 'from the settings')
  t.match(afterUse[expected.length], /^CREATE SCHEMA IF NOT EXISTS bronze/)
})
