/** `careplus ingest-logs [--json] [--retry-failed]`: one run of the log ingest. */
import { createLogger } from '../logger.js'
import { ingestLogs, type IngestLogsSummary } from '../pipelines/ingestLogs.js'
import { withRuntime } from '../runtime.js'
import type { CommandContext } from './commandContext.js'
import { EXIT_WITH_FAILURES } from './failuresCommand.js'
import { byteProgress } from './progress.js'
import { formatIngestLogsSummary } from './summaries.js'

export async function ingestLogsCommand(o: { json?: boolean; retryFailed?: boolean }, ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  const logger = createLogger(cfg.LOG_LEVEL)
  // While a daemon holds the warehouse, it runs the task (a single-task run) and this command waits.
  const { throughDaemon } = await import('./oneOffTask.js')
  const remote = await throughDaemon(cfg, ['ingest-logs'], { args: o.retryFailed ? { 'ingest-logs': { retryFailed: true } } : undefined, signal: ctx.signal })
  const { recordOneOff } = await import('../dag/oneOffRun.js')
  const summary = remote ? (remote.results['ingest-logs'] as IngestLogsSummary) : await withRuntime(cfg, (rt) => recordOneOff({ warehouse: rt.warehouse, home: cfg.home, task: 'ingest-logs' }, async (runId) => {
    const bar = byteProgress('ingest-logs')
    try {
      return await ingestLogs({
        ...rt,
        runId,
        signal: ctx.signal,
        retryFailed: o.retryFailed,
        onProgress: (p) => {
          if (p.type === 'plan') bar.start(p.bytes)
          else if (p.type === 'bytes') bar.add(p.bytes)
          else logger.debug({ key: p.key, rows: p.rows, rejects: p.rejects }, 'object loaded')
        },
      })
    } finally {
      bar.stop()
    }
  }), { warehouseInChildProcess: true })
  process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : formatIngestLogsSummary(summary))
  // success_with_failures: everything else loaded, but objects were quarantined.
  if (summary.failures.length > 0) process.exitCode = EXIT_WITH_FAILURES
}
