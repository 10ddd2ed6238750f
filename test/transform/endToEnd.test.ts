import t from 'tap'
import path from 'node:path'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { ingestLogs } from '../../src/pipelines/ingestLogs.js'
import { ingestTickets } from '../../src/pipelines/ingestTickets.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { seedTickets } from '../../src/sources/ticketSeeder.js'
import { formatTransformSummary } from '../../src/transform/report.js'
import { runDataTests, runTransforms } from '../../src/transform/runTransforms.js'
import { MYSQL, mysqlEnv, testDatabase } from '../support/mysql.js'
import { testRuntime } from '../support/runtime.js'
import { count } from './fixtures/bronze.js'

t.test('seed-sized data: logs + tickets → bronze → silver → gold, every data test green', async (t) => {
  const { database } = await testDatabase(t)
  const rt = await testRuntime(t, mysqlEnv(database))
  const wh = rt.warehouse
  const sample = path.join(rt.home, 'sample')
  const gen = await generateLogs({ outDir: sample })
  t.equal(gen.events, 2650, 'the seed-sized log set')
  await uploadLogs({ store: rt.store, prefix: rt.cfg.S3_LOGS_PREFIX, paths: [sample], concurrency: 4 })
  const logs = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: wh })
  t.match(logs, { rows: 2650, rejects: 0 })
  await seedTickets({ ...MYSQL, database })
  const tickets = await ingestTickets({ cfg: rt.cfg, store: rt.store, warehouse: wh })
  t.equal(tickets.rows, 810)

  const summary = await runTransforms({ warehouse: wh })
  t.same(summary.tests.filter((r) => r.failures > 0), [], 'all data tests pass')
  t.ok(summary.tests.length >= 25, `${summary.tests.length} data tests ran`)

  const distinctEvents = await count(wh, 'SELECT count(*) FROM (SELECT 1 FROM bronze.logs GROUP BY timestamp, ticket_id, ip) AS k')
  const gold = {
    fct_tickets: await count(wh, 'SELECT count(*) FROM gold.fct_tickets'),
    fct_logs: await count(wh, 'SELECT count(*) FROM gold.fct_logs'),
    fct_ticket_log_summary: await count(wh, 'SELECT count(*) FROM gold.fct_ticket_log_summary'),
  }
  t.same(gold, { fct_tickets: 810, fct_logs: distinctEvents, fct_ticket_log_summary: 810 }, 'one row per ticket, one per distinct event')
  t.ok(distinctEvents < 2650 && distinctEvents > 2500, `the generator's duplicates were removed (${2650 - distinctEvents})`)
  t.same(
    summary.models.filter((m) => m.rows !== undefined).map((m) => [m.model, m.rows]),
    [
      ['gold.fct_logs', gold.fct_logs],
      ['gold.fct_tickets', 810],
      ['gold.fct_ticket_log_summary', 810],
    ],
    'the run summary counts the gold rows',
  )

  // The seed's dirt is cleaned.
  t.same(
    (await wh.query('SELECT DISTINCT priority FROM gold.fct_tickets ORDER BY 1')).map((r) => r.priority),
    ['High', 'Low', 'Medium'],
  )
  t.ok((await count(wh, "SELECT count(*) FROM bronze.tickets WHERE priority IN ('Lw', 'Medum', 'Hgh')")) > 0, 'bronze has misspelt priorities')
  t.equal(
    await count(wh, 'SELECT count(*) FROM gold.fct_tickets WHERE num_interactions IS NULL'),
    await count(wh, "SELECT count(*) FROM bronze.tickets WHERE num_interactions = '-999999'"),
    'every -999999 became NULL, nothing else did',
  )
  t.same(
    (await wh.query('SELECT DISTINCT log_level FROM gold.fct_logs ORDER BY 1')).map((r) => r.log_level),
    ['DEBUG', 'ERROR', 'INFO', 'WARNING'],
  )
  t.equal(await count(wh, 'SELECT count(*) FROM gold.fct_logs WHERE response_time_ms < 0'), 0)
  t.ok((await count(wh, 'SELECT count(*) FROM gold.fct_logs WHERE response_time_ms IS NULL')) > 0, 'negative times were nulled')
  t.equal(await count(wh, "SELECT count(*) FROM gold.fct_logs WHERE trace_id = 'None'"), 0)
  t.equal(
    await count(wh, 'SELECT count(*) FROM gold.fct_tickets WHERE is_open'),
    await count(wh, "SELECT count(*) FROM gold.fct_tickets WHERE status = 'Open'"),
    'open = no resolved_at = status Open',
  )
  t.same(
    (await wh.query('SELECT DISTINCT resolution_bucket AS b FROM gold.fct_tickets WHERE resolution_bucket IS NOT NULL ORDER BY 1')).map((r) => r.b),
    ['Over 3 days', 'Under 1 day', 'Under 1 hour', 'Under 3 days'],
    'every resolution bucket occurs',
  )
  t.equal(
    await count(wh, 'SELECT sum(total_log_events) FROM gold.fct_ticket_log_summary'),
    await count(wh, 'SELECT count(*) FROM gold.fct_logs WHERE ticket_id IN (SELECT ticket_id FROM gold.fct_tickets)'),
    'the summary accounts for every log event of a known ticket',
  )
  t.equal(await count(wh, 'SELECT count(*) FROM gold.fct_logs l WHERE NOT EXISTS (SELECT 1 FROM gold.fct_tickets k WHERE k.ticket_id = l.ticket_id)'), 0, 'every event belongs to a known ticket')

  // A rerun with nothing new gives the same gold.
  const again = await runTransforms({ warehouse: wh })
  t.ok(again.tests.every((r) => r.failures === 0))
  t.equal(await count(wh, 'SELECT count(*) FROM gold.fct_logs'), gold.fct_logs)
  t.same((await runDataTests({ warehouse: wh })).filter((r) => r.failures > 0), [], 'careplus test alone: green')

  t.comment(`gold rows: ${JSON.stringify(gold)}`)
  t.comment('\n' + formatTransformSummary(summary))
})
