/** `careplus prune-logs [--dry-run] [--json]`: bronze and ledger rows of log objects deleted from S3, removed in one transaction. */
import { formatPruneSummary, pruneLogs } from '../pipelines/pruneLogs.js'
import { withRuntime } from '../runtime.js'
import type { CommandContext } from './commandContext.js'

export async function pruneLogsCommand(o: { dryRun?: boolean; json?: boolean }, ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  const summary = await withRuntime(cfg, (rt) => pruneLogs({ ...rt, dryRun: o.dryRun === true, signal: ctx.signal }))
  process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : formatPruneSummary(summary))
}
