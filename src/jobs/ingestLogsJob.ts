import { formatIngestLogsSummary } from '../cli/summaries.js'
import { ingestLogs } from '../pipelines/ingestLogs.js'
import { withRuntime } from '../runtime.js'
import { runJob } from './jobRunner.js'

export function main(): Promise<void> {
  return runJob(
    'ingest-logs',
    (cfg, signal) => withRuntime(cfg, (rt) => ingestLogs({ ...rt, signal })),
    formatIngestLogsSummary,
  )
}
