import t from 'tap'
import { copyFileSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { Orchestrator } from '../../src/dag/orchestrator.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { seedTickets } from '../../src/sources/ticketSeeder.js'
import { MYSQL, mysqlEnv, testDatabase } from '../support/mysql.js'
import { openTestWarehouse, snowflakeTestEnv } from '../support/snowflake.js'

/** Bronze, silver and gold row counts, read through the pipeline's own Snowflake engine. */
async function counts(wh: { query: (sql: string) => Promise<Record<string, unknown>[]> }) {
  const [r] = await wh.query(
    `SELECT (SELECT count(*) FROM bronze.logs) AS logs, (SELECT count(*) FROM bronze.tickets) AS tickets,
            (SELECT count(*) FROM silver.stg_logs) AS stg_logs, (SELECT count(*) FROM gold.fct_tickets) AS fct_tickets,
            (SELECT count(*) FROM gold.fct_ticket_log_summary) AS summary, (SELECT count(*) FROM ops.load_ledger) AS ledger`,
  )
  return r as Record<string, number>
}

t.test('the whole DAG on Snowflake (WAREHOUSE=snowflake) through snowflake-sdk: loads, gold, data tests; a rerun adds nothing; a lost session fails a task and its retry succeeds', async (t) => {
  const { database } = await testDatabase(t)
  const sf = await snowflakeTestEnv(t, { env: { ...mysqlEnv(database), PIPELINE_RETRIES: '2', PIPELINE_RETRY_DELAY_MS: '50' } })
  await seedTickets({ ...MYSQL, database })
  const sample = path.join(sf.home, 'sample')
  const gen = await generateLogs({ outDir: sample, seed: 11 })
  await uploadLogs({ store: sf.store, prefix: sf.cfg.S3_LOGS_PREFIX, paths: [sample], concurrency: 2 })

  // The DAG as the daemon runs it: the warehouse (one Snowflake session) here, the tasks in Bree workers.
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()
  const orchestrator = new Orchestrator({ cfg: sf.cfg, env: sf.env, store: sf.store, warehouse: wh })

  // Statements sent while a run goes, per run: each must carry a run id in its QUERY_TAG.
  const during: Array<{ sql: string; queryTag?: string }> = []
  const run = async () => {
    const from = sf.endpoint.statements.length
    const r = await orchestrator.trigger('manual', null)!
    during.push(...sf.endpoint.statements.slice(from))
    return r
  }

  const first = await run()
  t.equal(first.state, 'success', first.error ?? '')
  const byName = Object.fromEntries(first.tasks.map((x) => [x.name, x]))
  t.match(byName, {
    'ingest-logs': { state: 'success', attempts: 1, rows: gen.events },
    'ingest-tickets': { state: 'success', attempts: 1, rows: 810 },
    silver: { state: 'success', attempts: 1 },
    gold: { state: 'success', attempts: 1 },
  })
  const after1 = await counts(wh)
  t.match(after1, { logs: gen.events, tickets: 810, fct_tickets: 810, summary: 810, ledger: 32 }, 'logs and tickets in bronze, gold built (31 log objects + 1 ticket load in the ledger)')
  t.ok(after1.stg_logs! > 0 && after1.stg_logs! < gen.events, 'silver dropped the duplicate events')

  const statements = sf.endpoint.statements
  const copies = statements.filter((s) => s.sql.startsWith('COPY INTO '))
  t.equal(copies.filter((s) => s.sql.startsWith('COPY INTO bronze.logs ')).length, 1, 'one COPY of bronze.logs for the 31 log objects: they make one load batch')
  t.ok(copies.every((s) => !s.error), 'every COPY loaded')
  const tests = statements.filter((s) => s.sql.startsWith('SELECT COUNT(*) AS failures FROM ('))
  t.equal(tests.length, 25, 'the data tests ran on Snowflake (silver and gold)')
  t.ok(tests.every((s) => JSON.parse(s.queryTag!).task === 'transform' && !s.error), 'as part of the transform tasks')
  t.ok(statements.some((s) => /^CREATE OR REPLACE FUNCTION util\.cp_try_timestamp/.test(s.sql)), 'the Snowflake dialect (sql/dialect/snowflake.sql) was installed')
  const logRun = JSON.parse(copies.find((s) => s.sql.startsWith('COPY INTO bronze.logs '))!.queryTag!)
  t.match(logRun, { app: 'careplus', task: 'ingest-logs', run_id: /^\d{8}T\d{6}Z-[0-9a-f]{6}$/ }, 'statements sent from a worker carry its run id')
  const [loadedBy] = await wh.query(`SELECT DISTINCT _run_id FROM bronze.logs`)
  t.equal(loadedBy!._run_id, logRun.run_id, "the tag's run id is the _run_id the rows carry")

  const second = await run()
  t.equal(second.state, 'success', second.error ?? '')
  t.match(Object.fromEntries(second.tasks.map((x) => [x.name, x.rows])), { 'ingest-logs': 0, 'ingest-tickets': 0 })
  t.same(await counts(wh), after1, 'a rerun adds nothing (ledger and watermark)')

  // A new log object, and Snowflake loses the session in the middle of its COPY.
  const extra = path.join(sf.home, 'extra')
  mkdirSync(extra)
  copyFileSync(path.join(sample, 'careplus-2025-07-01.log'), path.join(extra, 'careplus-2025-08-01.log'))
  await uploadLogs({ store: sf.store, prefix: sf.cfg.S3_LOGS_PREFIX, paths: [extra], concurrency: 1 })
  const [{ n: extraRows }] = (await wh.query("SELECT count(*) AS n FROM bronze.logs WHERE _source_file LIKE '%careplus-2025-07-01.log'")) as Array<{ n: number }>
  const loginsBefore = sf.endpoint.logins.length
  sf.endpoint.faultOn(/^COPY INTO bronze\.logs /, 'lose-session')
  const third = await run()
  t.equal(third.state, 'success', third.error ?? '')
  t.match(
    third.tasks.find((x) => x.name === 'ingest-logs'),
    { state: 'success', attempts: 2, rows: extraRows },
    'the task failed once (the session was lost mid-COPY) and its retry loaded the object',
  )
  t.equal(sf.endpoint.logins.length, loginsBefore + 1, 'the engine logged in again')
  const after3 = await counts(wh)
  t.equal(after3.logs, after1.logs! + extraRows!, 'the new object loaded exactly once')
  t.equal(after3.ledger, after1.ledger! + 1)
  t.same(
    await wh.query("SELECT state, attempts FROM ops.task_runs WHERE task = 'ingest-logs' AND run_id = ?", [third.id]),
    [{ state: 'success', attempts: 2 }],
    'the run history on Snowflake has the retry',
  )
  t.same(sf.endpoint.untagged(), [], 'every statement carried a query tag')
  t.same(
    during.filter((s) => !JSON.parse(s.queryTag!).run_id).map((s) => s.sql),
    [],
    'every statement of the three runs named its run: the DAG run for history, the task\'s run inside tasks',
  )
  t.ok(during.some((s) => /^INSERT INTO ops\.runs/.test(s.sql) && JSON.parse(s.queryTag!).run_id === first.id), 'the history rows are tagged with the DAG run id')
})
