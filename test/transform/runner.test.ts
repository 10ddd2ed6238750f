import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PipelineError } from '../../src/errors.js'
import { formatTestFailures } from '../../src/transform/report.js'
import { DataTestError, runDataTests, runTransforms } from '../../src/transform/runTransforms.js'
import type { Warehouse } from '../../src/warehouse/warehouse.js'
import { count, freshWarehouse, insertLogs, insertTickets, projectCopy } from './fixtures/bronze.js'

async function goodRun(wh: Warehouse): Promise<void> {
  await insertTickets(wh, [
    { ticket_id: 'A1', created_at: '2025-07-07 10:00:00', resolved_at: '2025-07-07 10:30:00', priority: 'Hgh' },
    { ticket_id: 'A2', created_at: '2025-07-07 11:00:00', resolved_at: null },
  ])
  await insertLogs(wh, [{ timestamp: '2025-07-07 10:05:00', log_level: 'INF0', ticket_id: 'A1', response_time_ms: 100, cpu_percent: 20, _source_line: 1 }])
  const s = await runTransforms({ warehouse: wh })
  if (s.tests.some((r) => r.failures > 0)) throw new Error('fixture run should pass')
}

const goldState = (wh: Warehouse) =>
  Promise.all([
    wh.query('SELECT ticket_id, priority, resolution_bucket FROM gold.fct_tickets ORDER BY ticket_id'),
    wh.query('SELECT ticket_id, total_log_events FROM gold.fct_ticket_log_summary ORDER BY ticket_id'),
    wh.query('SELECT ticket_id, response_bucket FROM gold.fct_logs ORDER BY ticket_id'),
  ])

t.test('a failing silver test stops gold from being replaced, and reports count and sample', async (t) => {
  const wh = await freshWarehouse(t)
  await goodRun(wh)
  const before = await goldState(wh)

  await insertTickets(wh, [
    { ticket_id: 'A1', created_at: '2025-07-07 10:00:00', resolved_at: '2025-07-07 10:30:00', priority: 'Urgent', _extracted_at: '2025-08-02 02:00:00' },
    { ticket_id: 'A3', created_at: '2025-07-08 10:00:00', priority: 'Urgent', channel: 'Fax' },
    { ticket_id: 'A4', created_at: '2025-07-08 10:00:00', priority: 'Critical' },
  ])
  const events: string[] = []
  const err = (await runTransforms({ warehouse: wh, onEvent: (e) => events.push(e.name) }).catch((e: unknown) => e)) as DataTestError
  t.ok(err instanceof PipelineError && err instanceof DataTestError, 'a PipelineError carrying the results')
  t.equal(err.code, 'ERR_DATA_TEST')
  t.equal(
    err.message,
    'data tests failed after silver: silver.stg_tickets accepted_values(priority) (2 rows), silver.stg_tickets accepted_values(channel) (1 row); gold not run',
  )
  t.notMatch(err.message, /\n/, 'one line')
  const priority = err.results.find((r) => r.test === 'accepted_values(priority)')!
  t.match(priority, { test: 'accepted_values(priority)', model: 'silver.stg_tickets', failures: 2 }, 'two offending values')
  t.same([...priority.sample].sort((a, b) => String(a.priority).localeCompare(String(b.priority))), [
    { priority: 'Critical', n_records: 1 },
    { priority: 'Urgent', n_records: 2 },
  ])
  t.ok(err.results.every((r) => r.model.startsWith('silver.')), 'no gold test ran')
  t.notOk(events.some((e) => e.startsWith('gold.')), 'no gold model ran')
  t.same(err.summary.models.map((m) => m.model), ['silver.stg_logs', 'silver.stg_tickets'], 'the partial summary has the silver timings')
  t.same(await goldState(wh), before, 'gold is exactly as before')
  const report = formatTestFailures(err.results)
  t.match(report, /^FAIL silver\.stg_tickets accepted_values\(priority\): 2 offending rows\n  \{"priority":"(Critical|Urgent)","n_records":\d\}\n/)
  t.match(report, /FAIL silver\.stg_tickets accepted_values\(channel\): 1 offending row\n  \{"channel":"Fax","n_records":1\}\n/)

  const results = await runDataTests({ warehouse: wh })
  t.same(
    results.filter((r) => r.failures > 0).map((r) => `${r.model} ${r.test} ${r.failures}`),
    [
      'silver.stg_tickets accepted_values(priority) 2',
      'silver.stg_tickets accepted_values(channel) 1',
      'gold.fct_tickets same_row_count(silver.stg_tickets) 1',
      'gold.fct_ticket_log_summary one_row_per(ticket_id, silver.stg_tickets) 2',
    ],
    'runDataTests reports the silver failures without throwing, and the gold tests see the old gold lagging silver',
  )
})

t.test('a failing gold model leaves every previous gold table intact and readable', async (t) => {
  const wh = await freshWarehouse(t)
  await goodRun(wh)
  const before = await goldState(wh)
  await insertTickets(wh, [{ ticket_id: 'A9', created_at: '2025-07-09 10:00:00' }])

  const dir = projectCopy(t)
  const file = path.join(dir, 'models/gold/fct_ticket_log_summary.sql')
  writeFileSync(file, readFileSync(file, 'utf8').replace('m.last_log_at\n', 'm.last_log_at,\n    t.no_such_column\n'))
  const err = (await runTransforms({ warehouse: wh, sqlDir: dir }).catch((e: unknown) => e)) as PipelineError
  t.equal(err.code, 'ERR_MODEL')
  t.match(err.message, /^gold\.fct_ticket_log_summary \(models\/gold\/fct_ticket_log_summary\.sql\): .*no_such_column/)
  t.same(await goldState(wh), before, 'fct_logs and fct_tickets, built before the failure in the same run, were rolled back too')
  t.equal(await count(wh, "SELECT count(*) FROM silver.stg_tickets WHERE ticket_id = 'A9'"), 1, 'silver (its own layer) was built')

  const again = await runTransforms({ warehouse: wh })
  t.ok(again.tests.every((r) => r.failures === 0))
  t.equal(await count(wh, 'SELECT count(*) FROM gold.fct_tickets'), 3, 'the next good run replaces gold')
})

t.test('a failing gold test: gold is built (as dbt build does), the run fails with the results', async (t) => {
  const wh = await freshWarehouse(t)
  const dir = projectCopy(t)
  const file = path.join(dir, 'models/gold/fct_tickets.sql')
  writeFileSync(file, readFileSync(file, 'utf8').replace('-- @test not_null(ticket_id)', "-- @test not_null(ticket_id)\n-- @test accepted_values(channel, 'Phone')"))
  await insertTickets(wh, [{ ticket_id: 'B1', created_at: '2025-07-07 10:00:00' }])
  const err = (await runTransforms({ warehouse: wh, sqlDir: dir }).catch((e: unknown) => e)) as DataTestError
  t.equal(err.code, 'ERR_DATA_TEST')
  t.equal(err.message, 'data tests failed after gold: gold.fct_tickets accepted_values(channel) (1 row)')
  t.same(err.results.find((r) => r.failures > 0)!.sample, [{ channel: 'Chat', n_records: 1 }])
  t.equal(await count(wh, 'SELECT count(*) FROM gold.fct_tickets'), 1)
})

t.test('cancellation between statements rolls the layer back', async (t) => {
  const wh = await freshWarehouse(t)
  await goodRun(wh)
  const before = await goldState(wh)
  await insertTickets(wh, [{ ticket_id: 'C1', created_at: '2025-07-09 10:00:00' }])
  const controller = new AbortController()
  const reason = new PipelineError('ERR_CANCELLED', 'cancelled by test')
  const run = runTransforms({
    warehouse: wh,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.name === 'gold.fct_logs') controller.abort(reason)
    },
  })
  await t.rejects(run, reason)
  t.same(await goldState(wh), before, 'gold unchanged')
  await t.rejects(runTransforms({ warehouse: wh, signal: controller.signal }), reason, 'an aborted signal stops the run before anything')
})

t.test('tests against a warehouse never transformed: a clear error', async (t) => {
  const wh = await freshWarehouse(t)
  await t.rejects(runDataTests({ warehouse: wh, layers: ['gold'] }), { code: 'ERR_DATA_TEST_QUERY', message: /^data test gold\.fct_logs .*does not exist.*run "careplus transform" first/ })
  await t.rejects(runTransforms({ warehouse: wh, layers: ['bronze' as 'gold'] }), { code: 'ERR_USAGE' })
})

t.test('the job takes its layers from the DAG arguments', async (t) => {
  const { layersArg } = await import('../../src/jobs/transformJob.js')
  t.equal(layersArg({}), undefined, 'both layers by default')
  t.same(layersArg({ layers: ['silver'] }), ['silver'])
  t.same(layersArg({ layer: 'gold' }), ['gold'])
  t.throws(() => layersArg({ layers: ['bronze'] }), { code: 'ERR_USAGE' })
})
