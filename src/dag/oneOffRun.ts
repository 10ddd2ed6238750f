import { isErrorCode } from '../errors.js'
import { sqlTimestamp } from '../load/sqlTimestamp.js'
import { newRunId } from '../runId.js'
import type { Warehouse } from '../warehouse/warehouse.js'
import { taskCounts } from './orchestrator.js'
import { RunHistory, type TaskRecord } from './runHistory.js'
import { TaskLog } from './taskLog.js'

/**
 * A task run outside the DAG (`careplus ingest-logs`, `node jobs/x.js` with
 * no daemon) recorded like the daemon's: a run with one task in
 * ops.runs/ops.task_runs, and its task log, so `careplus status` shows it.
 */
export async function recordOneOff<T>(opts: { warehouse: Warehouse; home: string; task: string; trigger?: string }, fn: (runId: string) => Promise<T>): Promise<T> {
  await opts.warehouse.migrate()
  const history = new RunHistory(opts.warehouse)
  const runId = newRunId()
  const log = new TaskLog(opts.home, runId, opts.task)
  const t: TaskRecord = { name: opts.task, state: 'running', attempts: 1, started_at: sqlTimestamp(), ended_at: null, rows: null, rows_in: null, rejects: null, error: null, error_code: null }
  await history.startRun({ id: runId, trigger: opts.trigger ?? 'manual', scheduledFor: null })
  await history.saveTask(runId, t)
  log.line('info', 'attempt 1 started (a one-off run outside the DAG)', { run: runId, task: opts.task })
  try {
    const result = await fn(runId)
    Object.assign(t, { state: 'success' }, taskCounts((result ?? {}) as Record<string, unknown>))
    log.line('info', 'success', { rows: t.rows, rows_in: t.rows_in, rejects: t.rejects })
    return result
  } catch (err) {
    const e = err as Error & { code?: string }
    t.state = e.code === 'ERR_CANCELLED' ? 'cancelled' : 'failed'
    t.error = e.message.split('\n')[0]!
    t.error_code = isErrorCode(e.code) ? e.code : null
    log.line('error', `attempt 1 failed: ${t.error}`)
    throw err
  } finally {
    t.ended_at = sqlTimestamp()
    // Recorded even when the body failed; a failure to record must not hide the body's own error.
    await history.saveTask(runId, t).catch(() => {})
    await history.endRun(runId, t.state === 'success' ? 'success' : t.state === 'cancelled' ? 'cancelled' : 'failed', t.error ? `${t.name}: ${t.error}` : null).catch(() => {})
    await log.close()
  }
}
