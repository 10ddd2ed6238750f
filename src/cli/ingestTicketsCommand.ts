/** `careplus ingest-tickets [--json] [--full-refresh]`: one incremental run of the ticket ingest. */
import { ingestTickets } from '../pipelines/ingestTickets.js'
import { withRuntime } from '../runtime.js'
import type { CommandContext } from './commandContext.js'
import { byteProgress } from './progress.js'
import { formatIngestTicketsSummary } from './summaries.js'

export async function ingestTicketsCommand(o: { json?: boolean; fullRefresh?: boolean }, ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  const summary = await withRuntime(cfg, async (rt) => {
    const bar = byteProgress('ingest-tickets', 'rows')
    bar.start(0)
    try {
      return await ingestTickets({ ...rt, signal: ctx.signal, fullRefresh: o.fullRefresh, onProgress: (p) => bar.add(p.rows) })
    } finally {
      bar.stop()
    }
  })
  process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : formatIngestTicketsSummary(summary))
}
