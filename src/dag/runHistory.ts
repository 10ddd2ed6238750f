import { sqlTimestamp } from '../load/sqlTimestamp.js'
import type { Warehouse } from '../warehouse/warehouse.js'

/** `success_with_failures`: every task succeeded, but log objects were quarantined (`careplus failures`). */
export type RunState = 'running' | 'success' | 'success_with_failures' | 'failed' | 'skipped' | 'cancelled'
export type TaskState = RunState | 'pending' | 'retrying'

export interface TaskRecord {
  name: string
  state: TaskState
  attempts: number
  started_at: string | null
  ended_at: string | null
  rows: number | null
  rows_in: number | null
  rejects: number | null
  error: string | null
  /** The failure's PipelineError code (ERR_MYSQL, ERR_DATA_TEST…): with `error`, what an operator acts on. */
  error_code: string | null
}

export interface RunRecord {
  id: string
  trigger: string
  state: RunState
  scheduled_for: string | null
  started_at: string
  ended_at: string | null
  error: string | null
  tasks: TaskRecord[]
}


function text(v: unknown): string | null {
  if (v === null || v === undefined) return null
  if (v instanceof Date) return v.toISOString()
  return String(v)
}

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v)
}

/** Writes runs and task instances to ops.runs / ops.task_runs. */
export class RunHistory {
  constructor(private readonly wh: Warehouse) {}

  async startRun(r: { id: string; trigger: string; scheduledFor: Date | null; state?: RunState; error?: string }): Promise<void> {
    const now = sqlTimestamp()
    const final = r.state && r.state !== 'running'
    await this.wh.run(
      'INSERT INTO ops.runs (run_id, run_trigger, scheduled_for, state, started_at, ended_at, error) VALUES (?, ?, CAST(? AS TIMESTAMP), ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?)',
      [r.id, r.trigger, r.scheduledFor ? sqlTimestamp(r.scheduledFor) : null, r.state ?? 'running', now, final ? now : null, r.error ?? null],
    )
  }

  async endRun(id: string, state: RunState, error: string | null): Promise<void> {
    await this.wh.run('UPDATE ops.runs SET state = ?, ended_at = CAST(? AS TIMESTAMP), error = ? WHERE run_id = ?', [state, sqlTimestamp(), error, id])
  }

  async saveTask(runId: string, t: TaskRecord): Promise<void> {
    await this.wh.transaction(async (tx) => {
      await tx.run('DELETE FROM ops.task_runs WHERE run_id = ? AND task = ?', [runId, t.name])
      await tx.run(
        `INSERT INTO ops.task_runs (run_id, task, state, attempts, started_at, ended_at, rows_in, rows_out, rejects, error, error_code)
         VALUES (?, ?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?, ?, ?, ?, ?)`,
        [runId, t.name, t.state, t.attempts, t.started_at, t.ended_at, t.rows_in, t.rows, t.rejects, t.error, t.error_code],
      )
    })
  }

  /** Runs still marked running belong to a process that died: they did not finish. */
  async markAbandoned(): Promise<number> {
    const n = await this.wh.run("UPDATE ops.runs SET state = 'failed', ended_at = CAST(? AS TIMESTAMP), error = 'abandoned: the process running it stopped' WHERE state = 'running'", [sqlTimestamp()])
    await this.wh.run("UPDATE ops.task_runs SET state = 'failed', error = 'abandoned' WHERE state IN ('running', 'retrying', 'pending')")
    return n
  }

  async hasSuccessfulRunFor(scheduledFor: Date): Promise<boolean> {
    const rows = await this.wh.query("SELECT count(*) AS n FROM ops.runs WHERE state IN ('success', 'success_with_failures') AND scheduled_for = CAST(? AS TIMESTAMP)", [sqlTimestamp(scheduledFor)])
    return Number(rows[0]!.n) > 0
  }

  /** A cleared run runs again: back to running until its tasks end. */
  async reopenRun(id: string): Promise<void> {
    await this.wh.run("UPDATE ops.runs SET state = 'running', ended_at = NULL, error = NULL WHERE run_id = ?", [id])
  }

  async get(id: string): Promise<RunRecord | undefined> {
    return (await this.select('WHERE run_id = ?', [id], 1))[0]
  }

  async recent(limit = 20): Promise<RunRecord[]> {
    return this.select('', [], limit)
  }

  private async select(where: string, params: unknown[], limit: number): Promise<RunRecord[]> {
    const n = Number.isFinite(limit) ? Math.max(1, Math.floor(limit)) : 20
    const runs = await this.wh.query(
      `SELECT run_id, run_trigger, state, CAST(scheduled_for AS VARCHAR) AS scheduled_for, CAST(started_at AS VARCHAR) AS started_at,
              CAST(ended_at AS VARCHAR) AS ended_at, error
       FROM ops.runs ${where} ORDER BY started_at DESC, run_id DESC LIMIT ${n}`,
      params,
    )
    if (runs.length === 0) return []
    const ids = runs.map((r) => String(r.run_id))
    const tasks = await this.wh.query(
      `SELECT run_id, task, state, attempts, CAST(started_at AS VARCHAR) AS started_at, CAST(ended_at AS VARCHAR) AS ended_at, rows_in, rows_out, rejects, error, error_code
       FROM ops.task_runs WHERE run_id IN (${ids.map(() => '?').join(', ')})`,
      ids,
    )
    return runs.map((r) => ({
      id: String(r.run_id),
      trigger: String(r.run_trigger),
      state: r.state as RunState,
      scheduled_for: text(r.scheduled_for),
      started_at: String(r.started_at),
      ended_at: text(r.ended_at),
      error: text(r.error),
      tasks: tasks
        .filter((t) => t.run_id === r.run_id)
        .map((t) => ({
          name: String(t.task),
          state: t.state as TaskState,
          attempts: Number(t.attempts),
          started_at: text(t.started_at),
          ended_at: text(t.ended_at),
          rows: num(t.rows_out),
          rows_in: num(t.rows_in),
          rejects: num(t.rejects),
          error: text(t.error),
          error_code: text(t.error_code),
        })),
    }))
  }
}
