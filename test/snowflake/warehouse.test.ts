import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { StageWriter } from '../../sinks/stageWriter.js'
import { REJECT_COLUMNS, LOG_COLUMNS } from '../../parsers/logRecord.js'
import { PipelineError } from '../../src/errors.js'
import type { ObjectStore } from '../../src/s3/objectStore.js'
import { withQueryTag } from '../../src/warehouse/queryTag.js'
import { SnowflakeWarehouse, snowflakeSettings } from '../../src/warehouse/snowflakeWarehouse.js'
import { ddlColumnTypes } from '../../src/load/ddlColumnTypes.js'
import { snowflakeCopyStatement } from '../../src/load/snowflakeCopy.js'
import { openTestWarehouse, snowflakeTestEnv, SF_ACCOUNT } from '../support/snowflake.js'

const AWKWARD = [
  null,
  '',
  'quote " and ""double""',
  'comma, and\nnewline\r\nand CRLF',
  'back\\slash \\N \\"',
  'C:\\plain\\backslash',
  '\\N',
  'non-ASCII é ü — 日本 ℹ️ 🚀',
  ' leading and trailing spaces ',
  'NULL',
]

/** Stages rows for bronze.log_rejects the way the ingests do (StageWriter, the shared CSV dialect). */
async function stageRejects(store: ObjectStore, prefix: string, raws: Array<string | null>) {
  const writer = new StageWriter({ store, keyPrefix: prefix, header: csvHeader(REJECT_COLUMNS), maxFileBytes: 1e6 })
  const rows = raws.map((raw, i) => ({ _source_file: 'logs/x.log', _source_line: i + 1, reason: 'test', raw }))
  await writer.write(encodeCsvBatch(rows, REJECT_COLUMNS), rows.length)
  return writer.close()
}

t.test('statements through snowflake-sdk: binds, types, counts, lower-case names, NULL apart from empty', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.run('CREATE TABLE ops.sf_probe (id INTEGER, name VARCHAR, seen_at TIMESTAMP, ok BOOLEAN, ratio DOUBLE)')
  const inserted = await wh.run('INSERT INTO ops.sf_probe VALUES (?, ?, CAST(? AS TIMESTAMP), ?, ?), (?, ?, CAST(? AS TIMESTAMP), ?, ?)', [
    1,
    'it\'s "one"',
    '2025-07-01 00:21:00.123',
    true,
    0.25,
    2,
    '',
    null,
    false,
    null,
  ])
  t.equal(inserted, 2, 'INSERT reports its rows (Snowflake: "number of rows inserted")')
  const rows = await wh.query('SELECT id, name, seen_at, ok, ratio, name IS NULL AS name_null FROM ops.sf_probe WHERE id >= ? ORDER BY id', [1])
  t.same(rows, [
    { id: 1, name: 'it\'s "one"', seen_at: new Date('2025-07-01T00:21:00.123Z'), ok: true, ratio: 0.25, name_null: false },
    { id: 2, name: '', seen_at: null, ok: false, ratio: null, name_null: false },
  ])
  t.ok(rows[0]!.seen_at instanceof Date && Object.getPrototypeOf(rows[0]!.seen_at) === Date.prototype, 'timestamps are plain Dates, as on DuckDB')
  t.equal(await wh.run('UPDATE ops.sf_probe SET ok = ? WHERE id = ?', [true, 2]), 1, 'UPDATE count')
  t.equal(await wh.run('DELETE FROM ops.sf_probe WHERE ok = ?', [true]), 2, 'DELETE count')

  const chunks = []
  for await (const chunk of wh.stream('SELECT 7 AS seven, CAST(NULL AS VARCHAR) AS nothing')) chunks.push(chunk)
  t.same(chunks, [{ columns: ['seven', 'nothing'], rows: [[7, null]] }], 'stream(): lower-case columns, plain values')
})

t.test('a failing statement surfaces Snowflake\'s code, SQLSTATE and message; a failed transaction leaves nothing', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const wh = await openTestWarehouse(t, sf.cfg)
  const err = await wh.query('SELECT * FROM bronze.no_such_table').then(
    () => undefined,
    (e: unknown) => e as PipelineError & { snowflakeCode?: string; sqlState?: string; queryId?: string },
  )
  t.ok(err instanceof PipelineError)
  t.equal(err?.code, 'ERR_SNOWFLAKE_QUERY')
  t.equal(err?.snowflakeCode, '002003')
  t.equal(err?.sqlState, '42S02')
  t.match(err?.message, /^Snowflake 002003 \(42S02\): SQL compilation error: Object 'BRONZE\.NO_SUCH_TABLE' does not exist or not authorized\. \[query [0-9a-f-]+\]$/)

  await wh.migrate()
  await t.rejects(
    wh.transaction(async (tx) => {
      await tx.run("INSERT INTO ops.watermarks VALUES ('s', 'c', 'v', 'r', CAST('2025-07-01 00:00:00' AS TIMESTAMP))")
      await tx.run('INSERT INTO ops.watermarks (source) VALUES (?)', ['only a source'])
    }),
    { code: 'ERR_SNOWFLAKE_QUERY', message: /NULL result in a non-nullable column|NOT NULL/ },
  )
  t.same(await wh.query('SELECT count(*) AS n FROM ops.watermarks'), [{ n: 0 }], 'the first insert rolled back with its transaction')
  await wh.transaction((tx) => tx.run("INSERT INTO ops.watermarks VALUES ('s', 'c', 'v', 'r', CAST('2025-07-01 00:00:00' AS TIMESTAMP))"))
  t.same(await wh.query('SELECT value FROM ops.watermarks'), [{ value: 'v' }], 'the next transaction commits')
  const verbs = sf.endpoint.statements.filter((s) => /^(BEGIN|COMMIT|ROLLBACK)\b/.test(s.sql)).map((s) => s.sql)
  t.same(verbs, ['BEGIN TRANSACTION', 'ROLLBACK', 'BEGIN TRANSACTION', 'COMMIT'], 'BEGIN TRANSACTION … COMMIT/ROLLBACK on the session (Snowflake recommends it over a bare BEGIN)')
})

t.test('every statement carries a QUERY_TAG naming its run', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const wh = await openTestWarehouse(t, sf.cfg)
  await withQueryTag({ run_id: '20250801T020000Z-abc123', task: 'ingest-logs' }, async () => {
    await wh.query('SELECT 1 AS one')
    await wh.transaction((tx) => tx.query('SELECT 2 AS two'))
  })
  const tagged = sf.endpoint.statements.filter((s) => /^(SELECT [12] AS|BEGIN|COMMIT)/.test(s.sql))
  t.equal(tagged.length, 4)
  for (const s of tagged) t.same(JSON.parse(s.queryTag!), { app: 'careplus', run_id: '20250801T020000Z-abc123', task: 'ingest-logs' }, s.sql)
  t.same(sf.endpoint.untagged(), [], 'no statement without a tag, setup and session statements included')
})

t.test('COPY INTO from the S3 stage: values byte for byte, per-file results, load metadata, FORCE, first error', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()
  const files = await stageRejects(sf.store, 'stage/logs/awkward.log/etag1/rejects/', AWKWARD)
  const spec = { table: 'bronze.log_rejects', csvColumns: REJECT_COLUMNS, files: files.map((f) => f.key), constants: { _loaded_at: '2025-08-01 02:00:05.000', _run_id: 'run-1' } }

  t.equal(await wh.transaction((tx) => tx.copyFromStage(spec)), AWKWARD.length, 'rows loaded, from COPY\'s per-file result')
  const copy = sf.endpoint.statements.find((s) => s.sql.startsWith('COPY INTO bronze.log_rejects'))!
  const compiled = snowflakeCopyStatement(spec, ddlColumnTypes().get(spec.table)!, { stage: sf.cfg.SNOWFLAKE_STAGE, stagePrefix: sf.cfg.S3_STAGE_PREFIX })
  t.equal(copy.sql, compiled, 'the statement sent is the one `careplus compile --target snowflake` builds')
  t.match(copy.sql, /FROM \(SELECT \$1, \$2, \$3, \$4, CAST\('2025-08-01 02:00:05\.000' AS TIMESTAMP\), CAST\('run-1' AS VARCHAR\) FROM @bronze\.careplus_stage\/logs\/awkward\.log\/etag1\/rejects\/\)\nFILES = \('part-00000\.csv\.gz'\)/, 'the stage is over the stage prefix: paths are keys without it')
  const rows = await wh.query('SELECT raw, raw IS NULL AS is_null, _run_id, _loaded_at FROM bronze.log_rejects ORDER BY _source_line')
  t.same(rows.map((r) => r.raw), AWKWARD, 'every value byte for byte')
  t.same(rows.map((r) => r.is_null), AWKWARD.map((v) => v === null), 'NULL (empty unquoted) apart from \'\' ("")')
  t.ok(rows.every((r) => r._run_id === 'run-1' && (r._loaded_at as Date).toISOString() === '2025-08-01T02:00:05.000Z'), 'constants as typed literals')

  // Snowflake remembers the file: without FORCE a second COPY loads nothing, which must not pass as a load.
  await t.rejects(wh.transaction((tx) => tx.copyFromStage(spec)), { code: 'ERR_LOAD_SKIPPED', message: /COPY INTO bronze\.log_rejects: Snowflake skipped 1 of 1 staged file as already loaded .*stage\/logs\/awkward\.log\/etag1\/rejects\/part-00000\.csv\.gz/ })
  // The ledger's reload (its rows deleted in the same transaction) forces it.
  const reloaded = await wh.transaction(async (tx) => {
    await tx.run("DELETE FROM bronze.log_rejects WHERE _source_file = 'logs/x.log'")
    return tx.copyFromStage({ ...spec, force: true })
  })
  t.equal(reloaded, AWKWARD.length)
  t.same(await wh.query('SELECT count(*) AS n FROM bronze.log_rejects'), [{ n: AWKWARD.length }])

  // A bad value: the file is LOAD_FAILED with Snowflake's first error, and nothing of the load commits.
  const header = csvHeader(LOG_COLUMNS)
  const good = ['2025-07-01 00:21:00', 'INFO', 'svc', 'TCK1', 'sess', '1.2.3.4', '120', '27.5', 'e', 'false', 'ua', 'm', 'd', 'None', 'logs/a.log', '1']
  const bad = [...good.slice(0, 6), '12O', ...good.slice(7, 15), '7']
  const w = new StageWriter({ store: sf.store, keyPrefix: 'stage/logs/a.log/etag2/rows/', header, maxFileBytes: 1e6 })
  await w.write(encodeCsvBatch([good, good, bad].map((r) => Object.fromEntries(LOG_COLUMNS.map((c, i) => [c, r[i]!]))), LOG_COLUMNS as unknown as string[]), 3)
  const badFiles = await w.close()
  const err = await wh
    .transaction(async (tx) => {
      await tx.copyFromStage({ table: 'bronze.logs', csvColumns: LOG_COLUMNS, files: badFiles.map((f) => f.key), constants: { _loaded_at: '2025-08-01 02:00:05.000', _run_id: 'run-2' } })
    })
    .then(
      () => undefined,
      (e: unknown) => e as PipelineError,
    )
  t.equal(err?.code, 'ERR_LOAD_FAILED')
  t.equal(
    err?.message,
    'COPY INTO bronze.logs: LOAD_FAILED s3://careplus/stage/logs/a.log/etag2/rows/part-00000.csv.gz: Numeric value \'12O\' is not recognized (line 4, column "LOGS"["RESPONSE_TIME_MS":7]); nothing was committed',
  )
  t.same(await wh.query('SELECT count(*) AS n FROM bronze.logs'), [{ n: 0 }])
})

t.test('long statements are polled for their result; a lost response is resent and answered once', async (t) => {
  const sf = await snowflakeTestEnv(t, { endpoint: { asyncAfterMs: 0 } })
  const wh = await openTestWarehouse(t, sf.cfg)
  t.same(await wh.query('SELECT 41 + 1 AS answer'), [{ answer: 42 }])
  t.ok(sf.endpoint.requests.some((r) => /^GET \/queries\/[^/]+\/result$/.test(r)), 'the driver polled the result URL')

  await wh.migrate()
  sf.endpoint.faultOn(/^INSERT INTO ops\.watermarks/, 'drop-response')
  t.equal(await wh.run("INSERT INTO ops.watermarks VALUES ('s', 'c', 'v', 'r', CAST('2025-07-01 00:00:00' AS TIMESTAMP))"), 1)
  t.same(await wh.query('SELECT count(*) AS n FROM ops.watermarks'), [{ n: 1 }], 'executed once: the retry (same requestId) got the first answer')
  t.equal(sf.endpoint.requests.filter((r) => r === 'POST /queries/v1/query-request').length - sf.endpoint.statements.length, 1, 'the request was sent twice')
})

t.test('a lost session fails the statement and its transaction; the next call logs in again', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()
  const logins = sf.endpoint.logins.length
  sf.endpoint.faultOn(/^INSERT INTO ops\.watermarks/, 'lose-session')
  await t.rejects(
    wh.transaction((tx) => tx.run("INSERT INTO ops.watermarks VALUES ('s', 'c', 'v', 'r', CAST('2025-07-01 00:00:00' AS TIMESTAMP))")),
    { code: 'ERR_SNOWFLAKE_CONNECTION', message: /^lost the Snowflake session of user careplus_svc on account careplus-test: .*the next call logs in again$/ },
  )
  t.same(await wh.query('SELECT count(*) AS n FROM ops.watermarks'), [{ n: 0 }], 'logged in again; the lost transaction left nothing')
  t.equal(sf.endpoint.logins.length, logins + 1, 'one new login')
})

t.test('login failures: one clear line, Snowflake\'s code, never the secret', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const settings = snowflakeSettings(sf.cfg)
  const wrongPassword = await SnowflakeWarehouse.open({ ...settings, privateKeyPath: undefined, password: 'not-the-password-42' }).then(
    () => undefined,
    (e: unknown) => e as PipelineError,
  )
  t.equal(wrongPassword?.code, 'ERR_SNOWFLAKE_LOGIN')
  t.equal(wrongPassword?.message, `Snowflake login failed for user careplus_svc on account ${SF_ACCOUNT} at ${sf.endpoint.url}: Incorrect username or password was specified. (390100)`)
  t.notMatch(wrongPassword?.message, /not-the-password-42/)

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
  const otherKey = path.join(sf.home, 'other_key.p8')
  writeFileSync(otherKey, privateKey)
  await t.rejects(SnowflakeWarehouse.open({ ...settings, privateKeyPath: otherKey, privateKeyPassphrase: undefined }), {
    code: 'ERR_SNOWFLAKE_LOGIN',
    message: /: JWT token is invalid\. \[.*\] \(390144\)$/,
  })
  t.same(
    sf.endpoint.logins.filter((l) => l.user === 'careplus_svc').map((l) => [l.authenticator, l.ok]),
    [
      ['SNOWFLAKE_JWT', true],
      ['SNOWFLAKE', false],
      ['SNOWFLAKE_JWT', false],
    ],
    'key-pair login of the provisioned user worked; the wrong password and the unregistered key did not',
  )
})

t.test('a cancelled load cancels its COPY in Snowflake and commits nothing', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()
  const files = await stageRejects(sf.store, 'stage/logs/slow.log/e1/rejects/', ['a', 'b'])
  sf.endpoint.faultOn(/^COPY INTO bronze\.log_rejects/, 'stall')
  const controller = new AbortController()
  const reason = new PipelineError('ERR_CANCELLED', 'cancelled by SIGTERM')
  setTimeout(() => controller.abort(reason), 300)
  await t.rejects(
    wh.transaction((tx) =>
      tx.copyFromStage({ table: 'bronze.log_rejects', csvColumns: REJECT_COLUMNS, files: files.map((f) => f.key), constants: { _loaded_at: '2025-08-01 00:00:00', _run_id: 'r' } }, controller.signal),
    ),
    reason,
    'the abort reason, not a Snowflake error',
  )
  t.equal(sf.endpoint.cancelled.length, 1, 'the driver sent Snowflake an abort-request for the COPY')
  t.ok(sf.endpoint.requests.some((r) => /^POST \/queries\/[^/]+\/abort-request$/.test(r)))
  t.same(await wh.query('SELECT count(*) AS n FROM bronze.log_rejects'), [{ n: 0 }], 'rolled back; the session is still usable')
})
