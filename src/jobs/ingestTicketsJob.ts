import { formatIngestTicketsSummary } from '../cli/summaries.js'
import { ingestTickets } from '../pipelines/ingestTickets.js'
import { withRuntime } from '../runtime.js'
import { runJob } from './jobRunner.js'

export function main(): Promise<void> {
  return runJob('ingest-tickets', (cfg, signal) => withRuntime(cfg, (rt) => ingestTickets({ ...rt, signal })), formatIngestTicketsSummary)
}
