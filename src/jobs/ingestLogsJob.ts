import { formatIngestLogsSummary } from '../cli/summaries.js'
import { ingestLogs } from '../pipelines/ingestLogs.js'
import { runJob } from './jobRunner.js'

export function main(): Promise<void> {
  return runJob('ingest-logs', (rt, signal, args, runId) => ingestLogs({ ...rt, signal, runId, retryFailed: args.retryFailed === true }), formatIngestLogsSummary)
}
