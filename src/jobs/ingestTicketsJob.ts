import { formatIngestTicketsSummary } from '../cli/summaries.js'
import { ingestTickets } from '../pipelines/ingestTickets.js'
import { runJob } from './jobRunner.js'

export function main(): Promise<void> {
  return runJob('ingest-tickets', (rt, signal, args, runId) => ingestTickets({ ...rt, signal, runId, fullRefresh: args.fullRefresh === true }), formatIngestTicketsSummary)
}
