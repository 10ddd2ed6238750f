/** `careplus ingest-logs [--json] [--retry-failed]`: one run of the log ingest. */
import { createLogger } from '../logger.js'
import { ingestLogs } from '../pipelines/ingestLogs.js'
import { withRuntime } from '../runtime.js'
import type { CommandContext } from './commandContext.js'
import { EXIT_WITH_FAILURES } from './failuresCommand.js'
import { byteProgress } from './progress.js'
import { formatIngestLogsSummary } from './summaries.js'

export async function ingestLogsCommand(o: { json?: boolean; retryFailed?: boolean }, ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  const logger = createLogger(cfg.LOG_LEVEL)
  const summary = await withRuntime(cfg, async (rt) => {
    const bar = byteProgress('ingest-logs')
    try {
      return await ingestLogs({
        ...rt,
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
  })
  process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : formatIngestLogsSummary(summary))
  // success_with_failures: everything else loaded, but objects were quarantined.
  if (summary.failures.length > 0) process.exitCode = EXIT_WITH_FAILURES
}
