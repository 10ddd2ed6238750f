import t from 'tap'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { seedTickets } from '../../src/sources/ticketSeeder.js'
import { Orchestrator, type DagEvent } from '../../src/dag/orchestrator.js'
import { testRuntime } from '../support/runtime.js'
import { MYSQL, mysqlEnv, testDatabase } from '../support/mysql.js'
import { startTcpProxy } from '../support/tcpProxy.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

/** Counts rows from a separate process: only what was committed to the file counts. */
function countFromFreshProcess(file: string, sql: string): number {
  const script = `import('${path.join(ROOT, 'dist/src/warehouse/duckdbWarehouse.js')}').then(async (m) => { const wh = await m.DuckDbWarehouse.open({ file: process.argv[1], tmpDir: process.argv[2] }); const [r] = await wh.query(process.argv[3]); console.log(JSON.stringify(Object.values(r)[0])); await wh.close() })`
  const r = spawnSync(process.execPath, ['-e', script, file, path.dirname(file) + '/tmp', sql], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return Number(JSON.parse(r.stdout))
}

async function setup(t: Tap.Test, env: Record<string, string> = {}) {
  const { database, q } = await testDatabase(t)
  const fullEnv = { ...mysqlEnv(database), PIPELINE_RETRY_DELAY_MS: '50', ...env }
  const rt = await testRuntime(t, fullEnv)
  const envForWorkers = { ...fullEnv, CAREPLUS_HOME: rt.home, LOG_LEVEL: 'silent' }
  return { rt, database, q, envForWorkers }
}

declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0]
}

t.test('the DAG in real Bree worker threads: order, parallel ingests, concurrent writes all kept', async (t) => {
  const { rt, database, envForWorkers } = await setup(t)
  await seedTickets({ ...MYSQL, database })
  const gen = await generateLogs({ outDir: path.join(rt.home, 'sample'), seed: 5 })
  await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [path.join(rt.home, 'sample')], concurrency: 4 })
  await rt.warehouse.migrate()
  const events: DagEvent[] = []
  const o = new Orchestrator({ cfg: rt.cfg, env: envForWorkers, store: rt.store, warehouse: rt.warehouse, onEvent: (e) => events.push(e) })
  const run = await o.trigger('manual', null)!
  t.equal(run.state, 'success', run.error ?? '')
  t.same(run.tasks.map((x) => [x.name, x.state, x.attempts]).sort(), [
    ['gold', 'success', 1],
    ['ingest-logs', 'success', 1],
    ['ingest-tickets', 'success', 1],
    ['silver', 'success', 1],
  ])
  const order = events.filter((e): e is Extract<DagEvent, { type: 'task' }> => e.type === 'task').map((e) => `${e.task.name}:${e.task.state}`)
  const at = (s: string) => order.indexOf(s)
  t.ok(at('ingest-tickets:running') < at('ingest-logs:success') && at('ingest-logs:running') < at('ingest-tickets:success'), 'both ingests ran at the same time')
  t.ok(at('silver:running') > at('ingest-tickets:success') && at('silver:running') > at('ingest-logs:success'), 'silver after both ingests')
  t.ok(at('gold:running') > at('silver:success'), 'gold after silver')
  const tasks = Object.fromEntries(run.tasks.map((x) => [x.name, x]))
  t.equal(tasks['ingest-logs']!.rows, gen.events)
  t.equal(tasks['ingest-tickets']!.rows, 810)

  await rt.warehouse.close()
  const file = path.join(rt.home, 'warehouse.duckdb')
  t.equal(countFromFreshProcess(file, 'SELECT count(*) FROM bronze.logs'), gen.events, 'every log row written by its worker is in the file')
  t.equal(countFromFreshProcess(file, 'SELECT count(*) FROM bronze.tickets'), 810, 'every ticket row written by the other worker too')
  t.equal(countFromFreshProcess(file, 'SELECT count(*) FROM gold.fct_ticket_log_summary'), 810)
  t.equal(countFromFreshProcess(file, "SELECT count(*) FROM ops.task_runs WHERE state = 'success'"), 4)
  await rt.reopenWarehouse()
})

t.test('a transient fault is retried, a permanent one fails at once; downstream skipped; no overlap', async (t) => {
  const { rt, database, envForWorkers } = await setup(t, { PIPELINE_RETRIES: '2' })
  await rt.warehouse.migrate()
  await seedTickets({ ...MYSQL, database })
  // The first MySQL connection is reset mid-extraction (past the handshake, into the rows): a network fault.
  const proxy = await startTcpProxy(t, MYSQL)
  proxy.resetAfter(1, 20_000)
  const events: DagEvent[] = []
  const o = new Orchestrator({ cfg: rt.cfg, env: { ...envForWorkers, MYSQL_PORT: String(proxy.port) }, store: rt.store, warehouse: rt.warehouse, onEvent: (e) => events.push(e) })
  const first = o.trigger('manual', null)!
  t.equal(o.trigger('manual', null), undefined, 'a second run does not start while one is going')
  const run = await first
  t.equal(run.state, 'success', run.error ?? '')
  t.equal(proxy.resets, 1, 'the proxy reset one connection')
  const tickets = run.tasks.find((x) => x.name === 'ingest-tickets')!
  t.match(tickets, { state: 'success', attempts: 2, rows: 810, error: null, error_code: null }, 'retried once, then succeeded')
  const retrying = events.find((e): e is Extract<DagEvent, { type: 'task' }> => e.type === 'task' && e.task.state === 'retrying')
  t.match(retrying?.task, { name: 'ingest-tickets', error_code: 'ERR_MYSQL', error: /lost the extraction from MySQL/ }, 'the transient error, recorded while retrying')
  const [counts] = await rt.warehouse.query(
    `SELECT (SELECT count(*) FROM bronze.tickets) AS rows, (SELECT count(DISTINCT ticket_id) FROM bronze.tickets) AS tickets,
            (SELECT count(*) FROM ops.load_ledger WHERE source = 'tickets') AS ledger, (SELECT count(*) FROM ops.load_ledger WHERE run_id <> ?) AS foreign_runs`,
    [run.id],
  )
  t.same(counts, { rows: 810, tickets: 810, ledger: 1, foreign_runs: 0 }, 'exactly once, every ledger row under the DAG run id')

  // A refused connection is a setting to fix (MYSQL_PORT): failed at the first attempt, whatever PIPELINE_RETRIES says.
  const broken = new Orchestrator({ cfg: rt.cfg, env: { ...envForWorkers, MYSQL_PORT: '1' }, store: rt.store, warehouse: rt.warehouse })
  const failed = await broken.trigger('manual', null)!
  t.equal(failed.state, 'failed')
  const by = Object.fromEntries(failed.tasks.map((x) => [x.name, x]))
  t.match(by['ingest-tickets'], { state: 'failed', attempts: 1, error_code: 'ERR_MYSQL', error: /cannot connect to MySQL at 127\.0\.0\.1:1 .*check MYSQL_HOST and MYSQL_PORT/ })
  t.match(by['ingest-logs'], { state: 'success' })
  t.match(by['silver'], { state: 'skipped', attempts: 0, error: /upstream ingest-tickets did not succeed/ })
  t.match(by['gold'], { state: 'skipped', attempts: 0 })
  t.match(failed.error, /^ingest-tickets \(ERR_MYSQL\): cannot connect/)
  const [row] = await rt.warehouse.query("SELECT error_code, attempts FROM ops.task_runs WHERE run_id = ? AND task = 'ingest-tickets'", [failed.id])
  t.same(row, { error_code: 'ERR_MYSQL', attempts: 1 }, 'the code is in ops.task_runs')
})
