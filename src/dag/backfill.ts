import { CronExpressionParser } from 'cron-parser'
import { PipelineError } from '../errors.js'
import type { Orchestrator } from './orchestrator.js'
import type { RunRecord } from './runHistory.js'

/** The most schedule slots one backfill may cover: a typo in a date should not queue years of runs. */
export const MAX_BACKFILL_SLOTS = 1000

/**
 * A date from the command line or the control API: `YYYY-MM-DD` (midnight
 * UTC; as the end of a range, the end of that day) or an ISO timestamp.
 */
export function parseLogicalDate(value: unknown, what: string, endOfDay = false): Date {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    throw new PipelineError('ERR_USAGE', `${what} must be a date (YYYY-MM-DD) or an ISO timestamp (got ${JSON.stringify(value)})`)
  }
  const v = value.trim()
  const dateOnly = v.length === 10
  const d = new Date(dateOnly ? `${v}T00:00:00Z` : v)
  if (Number.isNaN(d.getTime())) throw new PipelineError('ERR_USAGE', `${what} is not a real date (got ${JSON.stringify(value)})`)
  return dateOnly && endOfDay ? new Date(d.getTime() + 86_400_000 - 1) : d
}

/** The times the cron schedule fires from `from` to `to`, both included. */
export function scheduleSlots(cron: string, tz: string, from: Date, to: Date): Date[] {
  if (to < from) throw new PipelineError('ERR_USAGE', `--to (${to.toISOString()}) is before --from (${from.toISOString()})`)
  const expr = CronExpressionParser.parse(cron, { currentDate: new Date(from.getTime() - 1), endDate: to, tz })
  const slots: Date[] = []
  while (expr.hasNext()) {
    slots.push(expr.next().toDate())
    if (slots.length > MAX_BACKFILL_SLOTS) {
      throw new PipelineError('ERR_USAGE', `the range has more than ${MAX_BACKFILL_SLOTS} slots of "${cron}": backfill it in parts`)
    }
  }
  return slots
}

/**
 * One run per slot, one after another, recorded like scheduled runs
 * (trigger `backfill`, scheduled for the slot). A run already going (a
 * scheduled one) is waited for; the backfill stops at `signal`.
 */
export async function runSlots(orchestrator: Orchestrator, slots: Date[], opts: { signal?: AbortSignal; onRun?: (run: RunRecord) => void } = {}): Promise<RunRecord[]> {
  const runs: RunRecord[] = []
  for (const slot of slots) {
    let started = orchestrator.begin('backfill', slot)
    while (!started) {
      opts.signal?.throwIfAborted()
      await orchestrator.idle()
      started = orchestrator.begin('backfill', slot)
    }
    const run = await started.done
    runs.push(run)
    opts.onRun?.(run)
    opts.signal?.throwIfAborted()
  }
  return runs
}
