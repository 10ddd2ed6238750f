import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Config } from './config.js'
import { PipelineError } from './errors.js'
import { generateLogs } from './generate/logGenerator.js'
import { uploadLogs } from './pipelines/uploadLogs.js'
import { withRuntime } from './runtime.js'
import { seedTickets } from './sources/ticketSeeder.js'
import { mysqlSettings } from './sources/mysql.js'
import { Orchestrator, PIPELINE_DAG } from './dag/orchestrator.js'
import { formatStatusGrid } from './cli/statusGrid.js'
import { printResult } from './cli/output.js'
import type { Logger } from 'pino'

const REPORTS: Array<[string, string]> = [
  [
    'Tickets by priority and resolution bucket (gold.fct_tickets)',
    `SELECT priority,
            count_if(resolution_bucket = 'Under 1 hour') AS "Under 1 hour",
            count_if(resolution_bucket = 'Under 1 day') AS "Under 1 day",
            count_if(resolution_bucket = 'Under 3 days') AS "Under 3 days",
            count_if(resolution_bucket = 'Over 3 days') AS "Over 3 days",
            count_if(is_open) AS open,
            count(*) AS total
     FROM gold.fct_tickets GROUP BY priority ORDER BY total DESC`,
  ],
  [
    'Slowest services (gold.fct_logs)',
    `SELECT service, count(*) AS events, round(avg(response_time_ms)) AS avg_ms,
            count_if(response_bucket = 'Slow') AS slow_events
     FROM gold.fct_logs GROUP BY service ORDER BY avg_ms DESC LIMIT 5`,
  ],
  [
    'Tickets with the most errors (gold.fct_ticket_log_summary)',
    `SELECT ticket_id, priority, status, total_log_events, total_errors, round(avg_response_time_ms) AS avg_ms
     FROM gold.fct_ticket_log_summary ORDER BY total_errors DESC, total_log_events DESC, ticket_id LIMIT 5`,
  ],
]

/**
 * `npm run demo`: the whole pipeline on embedded defaults. Safe to run again:
 * the sample data is the same each time, the ledger skips loaded log objects,
 * the ticket watermark skips loaded tickets, and gold is rebuilt.
 */
export async function runDemo(cfg: Config, signal: AbortSignal, logger: Logger): Promise<void> {
  const out = process.stdout
  const sampleDir = path.join(cfg.home, 'sample', 'logs')
  if (!existsSync(path.join(sampleDir, 'careplus-2025-07-31.log'))) {
    const g = await generateLogs({ outDir: sampleDir, signal })
    out.write(`generated ${g.files.length} log files, ${g.events} events in ${sampleDir}\n`)
  }
  const mysql = mysqlSettings(cfg)
  try {
    const seeded = await seedTickets({ ...mysql, database: cfg.MYSQL_DATABASE }, { signal })
    out.write(`tickets: ${seeded.inserted} inserted, ${seeded.planned - seeded.inserted} already in ${cfg.MYSQL_DATABASE}.support_tickets\n`)
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MYSQL') {
      throw new PipelineError(
        'ERR_MYSQL',
        `${(err as Error).message.split(' (check MYSQL_HOST')[0]}; the demo needs MySQL/MariaDB for its tickets: start one (e.g. sudo start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd) or set MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD`,
      )
    }
    throw err
  }
  await withRuntime(cfg, async (rt) => {
    const up = await uploadLogs({ store: rt.store, prefix: cfg.S3_LOGS_PREFIX, paths: [sampleDir], concurrency: cfg.INGEST_CONCURRENCY, signal })
    out.write(`uploaded ${up.files} log files to ${rt.store.url}/${cfg.S3_LOGS_PREFIX}\n\nrunning the DAG: ingest-tickets ‖ ingest-logs → silver → gold\n`)
    await rt.warehouse.migrate()
    const orchestrator = new Orchestrator({ ...rt, env: process.env, logger })
    const onAbort = (): void => void orchestrator.stop(cfg.PIPELINE_GRACE_MS)
    signal.addEventListener('abort', onAbort, { once: true })
    const run = await orchestrator.trigger('demo', null)!
    signal.removeEventListener('abort', onAbort)
    const recent = await orchestrator.history.recent(5)
    out.write(formatStatusGrid(recent, PIPELINE_DAG.map((t) => t.name)))
    if (run.state !== 'success' && run.state !== 'success_with_failures') throw new PipelineError('ERR_RUN_FAILED', `run ${run.id} ${run.state}: ${run.error}`)
    for (const [title, sql] of REPORTS) {
      out.write(`\n${title}\n`)
      await printResult(rt.warehouse.stream(sql), 'table', out)
    }
    out.write(
      '\nExplore further:\n' +
        '  npx careplus query "SELECT * FROM gold.fct_ticket_log_summary ORDER BY avg_response_time_ms DESC LIMIT 10"\n' +
        '  npx careplus query "SELECT reason, count(*) FROM bronze.log_rejects GROUP BY 1" --format json\n' +
        '  npx careplus status        # runs by tasks\n' +
        '  npx careplus daemon        # the daily 02:00 schedule (npm start)\n',
    )
  })
}
