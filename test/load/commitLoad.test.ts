import t from 'tap'
import { LOG_COLUMNS, type LogRecord } from '../../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { StageWriter } from '../../sinks/stageWriter.js'
import { BRONZE_LOG_REJECTS, BRONZE_LOGS } from '../../src/load/bronzeSchema.js'
import { commitLoad, type LoadCommit } from '../../src/load/commitLoad.js'
import { readWatermark } from '../../src/load/watermarks.js'
import { testRuntime, type TestRuntime } from '../support/runtime.js'

const record = (file: string, line: number): LogRecord => ({
  timestamp: '2025-07-01 00:21:00',
  log_level: 'INFO',
  service: 'svc',
  ticket_id: 'TCK0701000',
  session_id: 's',
  ip: '1.2.3.4',
  response_time_ms: 5,
  cpu_percent: 1.5,
  event_type: 'e',
  error: 'false',
  user_agent: 'ua',
  message: 'm',
  debug: 'd',
  trace_id: 'None',
  _source_file: file,
  _source_line: line,
})

/** One staged rows file holding the given number of rows of each object. */
async function stage(rt: TestRuntime, objects: Record<string, number>): Promise<string[]> {
  const w = new StageWriter({ store: rt.store, keyPrefix: 'stage/logs/r1/batch-00001/rows/', header: csvHeader(LOG_COLUMNS), maxFileBytes: 1e6 })
  const rows = Object.entries(objects).flatMap(([file, n]) => Array.from({ length: n }, (_, i) => record(file, 1 + 7 * i)))
  await w.write(encodeCsvBatch(rows, LOG_COLUMNS), rows.length)
  return (await w.close()).map((f) => f.key)
}

const load = (files: string[], objects: LoadCommit['objects'], extra: Partial<LoadCommit> = {}): LoadCommit => ({
  source: 'logs',
  ctx: { runId: 'r1', loadedAt: '2025-08-01 02:00:05.000' },
  targets: [
    { table: BRONZE_LOGS, files, rows: objects.reduce((n, o) => n + o.rows, 0) },
    { table: BRONZE_LOG_REJECTS, files: [], rows: 0 },
  ],
  objects,
  reconcileBySourceFile: { rows: BRONZE_LOGS, rejects: BRONZE_LOG_REJECTS },
  ...extra,
})
const entry = (key: string, rows: number, blocks = rows) => ({ key, etag: 'e1', sizeBytes: 100, blocks, rows, rejects: 0, stagedFiles: [] })

t.test('commitLoad: rows, ledger and watermark commit together, or none of them', async (t) => {
  const rt = await testRuntime(t)
  const wh = rt.warehouse
  await wh.migrate()
  const files = await stage(rt, { 'logs/a.log': 3, 'logs/b.log': 2 })
  const count = async (sql: string) => Number(Object.values((await wh.query(sql))[0]!)[0])

  // The ledger says a.log had 4 blocks but 3 rows were staged: its reconciliation fails after the COPY.
  await t.rejects(
    wh.transaction((tx) => commitLoad(tx, load(files, [entry('logs/a.log', 3, 4), entry('logs/b.log', 2)], { watermark: { cursorColumn: 'c', value: 'v1' } }))),
    { code: 'ERR_LOAD_RECONCILE', message: /logs\/a\.log: 4 blocks, staged 3 rows \+ 0 rejects/ },
  )
  // Staged counts that do not match the files: the COPY check fails.
  await t.rejects(wh.transaction((tx) => commitLoad(tx, load(files, [entry('logs/a.log', 3), entry('logs/b.log', 3)]))), { code: 'ERR_LOAD_RECONCILE', message: /staged 6 rows but COPY loaded 5/ })
  // A reconciled count that is not the object's: b.log's rows counted as a.log's.
  await t.rejects(wh.transaction((tx) => commitLoad(tx, load(files, [entry('logs/a.log', 5), entry('logs/b.log', 0)]))), { code: 'ERR_LOAD_RECONCILE', message: /bronze holds 3 rows/ })
  t.equal(await count('SELECT count(*) FROM bronze.logs'), 0, 'no rows committed')
  t.equal(await count('SELECT count(*) FROM ops.load_ledger'), 0, 'no ledger rows')
  t.equal(await readWatermark(wh, 'logs', 'c'), null, 'the watermark did not move')

  const loaded = await wh.transaction((tx) => commitLoad(tx, load(files, [entry('logs/a.log', 3), entry('logs/b.log', 2)], { watermark: { cursorColumn: 'c', value: 'v1' } })))
  t.same(loaded, [5, 0])
  t.equal(await count('SELECT count(*) FROM bronze.logs'), 5)
  t.same(await wh.query('SELECT object_key, rows_loaded, run_id FROM ops.load_ledger ORDER BY 1'), [
    { object_key: 'logs/a.log', rows_loaded: 3, run_id: 'r1' },
    { object_key: 'logs/b.log', rows_loaded: 2, run_id: 'r1' },
  ])
  t.equal(await readWatermark(wh, 'logs', 'c'), 'v1')
})
