import { createWriteStream, existsSync, mkdirSync, readdirSync, type WriteStream } from 'node:fs'
import path from 'node:path'
import { PipelineError } from '../errors.js'

const RUN_ID = /^[A-Za-z0-9_-]{1,100}$/

/** `$CAREPLUS_HOME/logs/<run>/<task>.log`: one file per task run, every attempt appended. */
export function taskLogPath(home: string, runId: string, task: string): string {
  if (!RUN_ID.test(runId) || !RUN_ID.test(task)) throw new PipelineError('ERR_USAGE', `not a run id or task name: ${JSON.stringify(RUN_ID.test(runId) ? task : runId)}`)
  return path.join(home, 'logs', runId, `${task}.log`)
}

/** The task logs a run has, by task name (none when the run wrote none). */
export function runLogs(home: string, runId: string): string[] {
  const dir = path.dirname(taskLogPath(home, runId, 'x'))
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => f.slice(0, -4))
    .sort()
}

/**
 * Appends a task run's lines: the orchestrator's own (attempts, retries, the
 * outcome) as JSON lines like the daemon's log, and whatever the task's worker
 * writes to stdout/stderr, as it comes.
 */
export class TaskLog {
  private readonly out: WriteStream

  constructor(home: string, runId: string, task: string) {
    const file = taskLogPath(home, runId, task)
    mkdirSync(path.dirname(file), { recursive: true })
    this.out = createWriteStream(file, { flags: 'a' })
  }

  line(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
    this.out.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n')
  }

  /** The worker's output, written through as it is (its own lines). */
  raw(chunk: Buffer | string): void {
    this.out.write(chunk)
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve))
  }
}
