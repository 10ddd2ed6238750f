import { existsSync } from 'node:fs'
import Table from 'cli-table3'
import { taskLogPath } from '../dag/taskLog.js'
import type { RunRecord, TaskRecord } from '../dag/runHistory.js'

const MARK: Record<string, string> = { success: '✔', success_with_failures: '⚠', failed: '✘', skipped: '↷', cancelled: '⊘', running: '▶', retrying: '↻', pending: '·' }

function cell(t: TaskRecord | undefined): string {
  if (!t) return ''
  const parts = [`${MARK[t.state] ?? '?'} ${t.state}`]
  if (t.attempts > 1) parts.push(`×${t.attempts}`)
  if (t.error_code && (t.state === 'failed' || t.state === 'retrying')) parts.push(t.error_code)
  if (t.rows !== null) parts.push(`${t.rows.toLocaleString('en-US')} rows`)
  if (t.rejects) parts.push(`${t.rejects} rejects`)
  return parts.join(' ')
}

function seconds(r: RunRecord): string {
  if (!r.ended_at) return ''
  return `${((Date.parse(r.ended_at + 'Z') - Date.parse(r.started_at + 'Z')) / 1000).toFixed(1)} s`
}

/** Runs by tasks, newest first, like Airflow's grid view. */
export function formatStatusGrid(runs: RunRecord[], taskNames: readonly string[]): string {
  if (runs.length === 0) return 'no runs yet\n'
  const table = new Table({ head: ['run', 'trigger', 'scheduled for', 'state', ...taskNames, 'took'], style: { head: [], border: [] } })
  for (const r of runs) {
    table.push([r.id, r.trigger, r.scheduled_for?.slice(0, 16) ?? '', `${MARK[r.state] ?? ''} ${r.state}`, ...taskNames.map((n) => cell(r.tasks.find((t) => t.name === n))), seconds(r)])
  }
  const errors = runs.filter((r) => r.error).map((r) => `  ${r.id}: ${r.error}`)
  const withTasks = runs.find((r) => r.tasks.length > 0)
  return (
    table.toString() +
    '\n' +
    (errors.length ? `errors:\n${errors.join('\n')}\n` : '') +
    (withTasks ? `task logs: careplus logs <run> [task] (e.g. careplus logs ${withTasks.id})\n` : '')
  )
}

/** The JSON form: `{"runs": [{"id", "state", "scheduled_for", "started_at", "ended_at", "tasks": [{"name", "state", "attempts", "rows", "error", "error_code", "log"}]}]}`; `log` is the task's log file, null when it has none. */
export function statusJson(runs: RunRecord[], home: string): string {
  const log = (run: string, task: string): string | null => {
    const file = taskLogPath(home, run, task)
    return existsSync(file) ? file : null
  }
  return (
    JSON.stringify({
      runs: runs.map((r) => ({
        id: r.id,
        state: r.state,
        trigger: r.trigger,
        scheduled_for: r.scheduled_for,
        started_at: r.started_at,
        ended_at: r.ended_at,
        error: r.error,
        tasks: r.tasks.map((t) => ({ name: t.name, state: t.state, attempts: t.attempts, rows: t.rows, rejects: t.rejects, error: t.error, error_code: t.error_code, log: log(r.id, t.name) })),
      })),
    }) + '\n'
  )
}
