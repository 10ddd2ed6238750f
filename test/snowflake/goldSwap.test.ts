import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { PipelineError } from '../../src/errors.js'
import { runTransforms } from '../../src/transform/runTransforms.js'
import type { Warehouse } from '../../src/warehouse/warehouse.js'
import { insertLogs, insertTickets, projectCopy } from '../transform/fixtures/bronze.js'
import { openTestWarehouse, snowflakeTestEnv } from '../support/snowflake.js'

/**
 * Issue 14, item 3: gold is atomic on Snowflake. Each CREATE TABLE … AS
 * commits on its own there, so gold is built in gold__build and published
 * by one ALTER SCHEMA gold SWAP WITH gold__build, as TRANSIENT tables that
 * keep the grants readers had.
 */
const GOLD = ['gold.fct_logs', 'gold.fct_ticket_log_summary', 'gold.fct_tickets']

const goldState = (wh: Warehouse) =>
  Promise.all([
    wh.query('SELECT ticket_id, priority, resolution_bucket FROM gold.fct_tickets ORDER BY ticket_id'),
    wh.query('SELECT ticket_id, total_log_events FROM gold.fct_ticket_log_summary ORDER BY ticket_id'),
    wh.query('SELECT ticket_id, response_bucket FROM gold.fct_logs ORDER BY ticket_id'),
  ])

t.test('gold is built in gold__build and swapped in whole; a model failing midway leaves yesterday\'s gold as it was', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()
  await insertTickets(wh, [
    { ticket_id: 'A1', created_at: '2025-07-07 10:00:00', resolved_at: '2025-07-07 10:30:00' },
    { ticket_id: 'A2', created_at: '2025-07-07 11:00:00', resolved_at: null },
  ])
  await insertLogs(wh, [{ timestamp: '2025-07-07 10:05:00', log_level: 'INFO', ticket_id: 'A1', response_time_ms: 100, cpu_percent: 20, _source_line: 1 }])

  const first = sf.endpoint.statements.length
  const run1 = await runTransforms({ warehouse: wh })
  t.ok(run1.tests.every((r) => r.failures === 0), 'the first run passes its tests')
  const sent = sf.endpoint.statements.slice(first).map((s) => s.sql)
  const goldBuilds = sent.filter((s) => /^CREATE OR REPLACE TRANSIENT TABLE gold__build\.\w+ COPY GRANTS AS\n/.test(s))
  t.equal(goldBuilds.length, 3, 'each gold model is built as a transient table in gold__build')
  t.ok(goldBuilds.find((s) => s.includes('gold__build.fct_ticket_log_summary'))!.includes('FROM gold__build.fct_logs AS l'), 'reading the other gold models from gold__build')
  t.notOk(sent.some((s) => /CREATE OR REPLACE (TRANSIENT )?TABLE gold\./.test(s)), 'nothing is built in gold itself')
  const swap = sent.indexOf('ALTER SCHEMA gold SWAP WITH gold__build')
  t.ok(swap > sent.lastIndexOf(goldBuilds.at(-1)!), 'one swap publishes gold, after its last model')
  t.ok(sent.slice(swap).some((s) => s.startsWith('SELECT COUNT(*) AS failures FROM (') && s.includes('FROM gold.fct_tickets')), "gold's tests run on the published gold")
  t.same(sf.endpoint.swaps, ['gold<->gold__build'])
  for (const table of GOLD) t.ok(sf.endpoint.isTransient(table), `${table} is transient`)

  // A reader is granted SELECT on a gold table; it keeps it through every later run.
  await wh.run('GRANT SELECT ON TABLE gold.fct_tickets TO ROLE analyst')
  for (const run of [2, 3]) {
    await runTransforms({ warehouse: wh })
    t.same(sf.endpoint.grantsOn('gold.fct_tickets'), ['SELECT TO ROLE ANALYST'], `run ${run}: the reader's grant is still on the published table`)
  }
  const later = sf.endpoint.statements.slice(first).map((s) => s.sql)
  t.ok(later.includes('CREATE OR REPLACE TRANSIENT TABLE gold__build.fct_tickets LIKE gold.fct_tickets COPY GRANTS'), "a build takes the live table's grants first")

  // Yesterday's gold, then a run whose last gold model fails.
  const before = await goldState(wh)
  await insertTickets(wh, [{ ticket_id: 'A9', created_at: '2025-07-09 10:00:00' }])
  const dir = projectCopy(t)
  const file = path.join(dir, 'models/gold/fct_ticket_log_summary.sql')
  writeFileSync(file, readFileSync(file, 'utf8').replace('m.last_log_at\n', 'm.last_log_at,\n    t.no_such_column\n'))
  const swapsBefore = sf.endpoint.swaps.length
  const err = (await runTransforms({ warehouse: wh, sqlDir: dir }).catch((e: unknown) => e)) as PipelineError
  t.equal(err.code, 'ERR_MODEL')
  t.match(err.message, /^gold\.fct_ticket_log_summary \(models\/gold\/fct_ticket_log_summary\.sql\): Snowflake 000904 \(42000\): SQL compilation error: .*invalid identifier 'T\.NO_SUCH_COLUMN'/)
  t.ok(sf.endpoint.statements.some((s) => s.sql.startsWith('CREATE OR REPLACE TRANSIENT TABLE gold__build.fct_tickets COPY GRANTS AS') && !s.error), 'fct_tickets was rebuilt (in gold__build) before the failure')
  t.equal(sf.endpoint.swaps.length, swapsBefore, 'no swap')
  t.same(await goldState(wh), before, "gold is yesterday's, every table of it (A9, already in silver, is in none)")
  t.same(sf.endpoint.grantsOn('gold.fct_tickets'), ['SELECT TO ROLE ANALYST'])

  await runTransforms({ warehouse: wh })
  t.same((await wh.query("SELECT count(*) AS n FROM gold.fct_tickets WHERE ticket_id = 'A9'")), [{ n: 1 }], 'the next good run publishes the new gold')
})
