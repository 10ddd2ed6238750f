/** `careplus ingest-tickets [--json] [--full-refresh]`: one incremental run of the ticket ingest. */
import { ingestTickets, type IngestTicketsSummary } from '../pipelines/ingestTickets.js'
import { withRuntime } from '../runtime.js'
import type { CommandContext } from './commandContext.js'
import { byteProgress } from './progress.js'
import { formatIngestTicketsSummary } from './summaries.js'

export async function ingestTicketsCommand(o: { json?: boolean; fullRefresh?: boolean }, ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  // While a daemon holds the warehouse, it runs the task (a single-task run) and this command waits.
  const { throughDaemon } = await import('./oneOffTask.js')
  const remote = await throughDaemon(cfg, ['ingest-tickets'], { args: o.fullRefresh ? { 'ingest-tickets': { fullRefresh: true } } : undefined, signal: ctx.signal })
  const { recordOneOff } = await import('../dag/oneOffRun.js')
  const summary = remote ? (remote.results['ingest-tickets'] as IngestTicketsSummary) : await withRuntime(cfg, (rt) => recordOneOff({ warehouse: rt.warehouse, home: cfg.home, task: 'ingest-tickets' }, async (runId) => {
    const bar = byteProgress('ingest-tickets', 'rows')
    bar.start(0)
    try {
      return await ingestTickets({ ...rt, runId, signal: ctx.signal, fullRefresh: o.fullRefresh, onProgress: (p) => bar.add(p.rows) })
    } finally {
      bar.stop()
    }
  }), { warehouseInChildProcess: true })
  process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : formatIngestTicketsSummary(summary))
}
