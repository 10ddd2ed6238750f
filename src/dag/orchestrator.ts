import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Bree from 'bree'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { isAbortError } from '../errors.js'
import { newRunId } from '../runId.js'
import { projectRoot } from '../s3/embeddedS3.js'
import type { ObjectStore } from '../s3/objectStore.js'
import { withQueryTag } from '../warehouse/queryTag.js'
import type { Warehouse } from '../warehouse/warehouse.js'
import { sqlTimestamp } from '../load/sqlTimestamp.js'
import { isJobMessage, isWarehouseCancel, isWarehouseRequest, type JobWorkerData, type TaskResult } from './protocol.js'
import { RunHistory, type RunRecord, type RunState, type TaskRecord } from './runHistory.js'
import { WarehouseHost } from './warehouseHost.js'

export interface TaskDef {
  name: string
  /** File under jobs/. */
  job: string
  deps: string[]
  args?: Record<string, unknown>
}

/** The seed's Airflow DAG: both loads in parallel, then silver, then gold. */
export const PIPELINE_DAG: readonly TaskDef[] = [
  { name: 'ingest-tickets', job: 'ingest-tickets.js', deps: [] },
  { name: 'ingest-logs', job: 'ingest-logs.js', deps: [] },
  { name: 'silver', job: 'transform.js', deps: ['ingest-tickets', 'ingest-logs'], args: { layers: ['silver'] } },
  { name: 'gold', job: 'transform.js', deps: ['silver'], args: { layers: ['gold'] } },
]

export const SCHEDULE_JOB = 'schedule-tick'

export type DagEvent =
  | { type: 'run-start'; runId: string }
  | { type: 'task'; runId: string; task: TaskRecord }
  /** A task's successful attempt, with what its job reported (bytes read, rows…). */
  | { type: 'task-result'; runId: string; task: string; result: Record<string, unknown> }
  | { type: 'run-end'; run: RunRecord }
  | { type: 'tick'; at: Date }

export interface OrchestratorOptions {
  cfg: Config
  /** The env the config came from: handed to workers so they see the same settings. */
  env: Record<string, string | undefined>
  store: ObjectStore
  warehouse: Warehouse
  logger?: Logger
  dag?: readonly TaskDef[]
  /** A Bree cron job whose ticks reach `onTick` (the daemon's schedule). */
  schedule?: { cron: string; timezone: string; onTick: (at: Date) => void }
  onEvent?: (e: DagEvent) => void
}

/**
 * Runs the DAG's tasks as Bree jobs in worker threads. Bree has no
 * dependencies, retries or history; this adds them: a task starts when its
 * dependencies succeeded, times out, is retried with exponential backoff
 * when its error is transient (a permanent one fails it at once), and its
 * failure skips everything downstream. Each task runs under the DAG run's
 * id (workerData.runId), which its ledger rows and staged files carry. The warehouse stays here, in
 * the main thread, and the workers' calls are executed by a WarehouseHost.
 */
export class Orchestrator {
  readonly bree: Bree
  readonly history: RunHistory
  private readonly host: WarehouseHost
  private readonly outcomes = new Map<string, TaskResult>()
  private readonly dag: readonly TaskDef[]
  private current: { runId: string; controller: AbortController; done: Promise<RunRecord> } | undefined

  constructor(private readonly opts: OrchestratorOptions) {
    this.dag = opts.dag ?? PIPELINE_DAG
    this.history = new RunHistory(opts.warehouse)
    this.host = new WarehouseHost(opts.warehouse)
    const jobsDir = path.join(projectRoot(), 'jobs')
    const log = opts.logger
    const workerData: JobWorkerData = {
      careplus: {
        env: opts.env,
        s3: { endpoint: opts.store.embedded?.endpoint ?? opts.cfg.S3_ENDPOINT, bucket: opts.store.bucket, embedded: opts.store.embedded !== undefined },
      },
    }
    const jobs: Bree.JobOptions[] = this.dag.map((t) => ({
      name: t.name,
      path: path.join(jobsDir, t.job),
      worker: { workerData: { args: t.args ?? {} } },
    }))
    if (opts.schedule) {
      jobs.push({ name: SCHEDULE_JOB, path: path.join(jobsDir, 'schedule-tick.js'), cron: opts.schedule.cron, timezone: opts.schedule.timezone })
    }
    this.bree = new Bree({
      root: false,
      doRootCheck: false,
      jobs,
      hasSeconds: opts.schedule ? opts.schedule.cron.trim().split(/\s+/).length === 6 : false,
      worker: { workerData },
      // Bree logs every worker start and exit: keep that at debug level.
      logger: {
        info: (m: unknown) => log?.debug(String(m)),
        warn: (m: unknown) => log?.warn(String(m)),
        error: (m: unknown) => log?.debug(String(m)),
      } as unknown as Bree.BreeLogger,
      errorHandler: () => {},
      workerMessageHandler: ({ name, message }: { name: string; message: unknown }) => this.onWorkerMessage(name, message),
    })
  }

  get running(): boolean {
    return this.current !== undefined
  }

  get currentRunId(): string | undefined {
    return this.current?.runId
  }

  private onWorkerMessage(name: string, message: unknown): void {
    if (isWarehouseRequest(message)) {
      void this.host.handle(name, message, (reply) => this.bree.workers.get(name)?.postMessage(reply))
      return
    }
    if (isWarehouseCancel(message)) return this.host.cancel(name, message)
    if (isJobMessage(message)) {
      this.outcomes.set(name, message.result)
      return
    }
    const m = message as { type?: string; at?: string } | null
    if (m?.type === 'tick') {
      this.opts.onEvent?.({ type: 'tick', at: new Date(m.at!) })
      this.opts.schedule?.onTick(new Date(m.at!))
    }
  }

  async start(): Promise<void> {
    if (this.opts.schedule) await this.bree.start(SCHEDULE_JOB)
  }

  /**
   * Stops the schedule and cancels the current run; returns as soon as its
   * tasks have ended (and the run is recorded), or after `graceMs`, when
   * the workers still going are terminated.
   */
  async stop(graceMs: number, reason = 'the daemon is stopping'): Promise<void> {
    // Named case: a schedule job already stopped (a second stop) has nothing to stop.
    if (this.opts.schedule) await this.bree.stop(SCHEDULE_JOB).catch(() => {})
    const cur = this.current
    if (cur) {
      cur.controller.abort(new Error(`cancelled: ${reason}`))
      const grace = new AbortController()
      // The grace timer is cleared once the run has ended: a pending one would hold the process for all of graceMs.
      await Promise.race([cur.done.catch(() => {}), sleep(graceMs, undefined, { signal: grace.signal }).catch(() => {})])
      grace.abort()
    }
    for (const w of this.bree.workers.values()) await w.terminate()
  }

  /** Starts one DAG run unless one is going; returns it, or undefined when it was skipped. */
  trigger(trigger: string, scheduledFor: Date | null): Promise<RunRecord> | undefined {
    if (this.current) return undefined
    const runId = newRunId()
    const controller = new AbortController()
    // The run's own statements (history, migrate) carry its id as their query tag; tasks tag theirs.
    const done = withQueryTag({ run_id: runId, task: 'dag' }, () => this.execute(runId, trigger, scheduledFor, controller.signal)).finally(() => {
      this.current = undefined
    })
    this.current = { runId, controller, done }
    return done
  }

  /** One run: tasks in dependency order, in parallel where the DAG allows. */
  private async execute(runId: string, trigger: string, scheduledFor: Date | null, signal: AbortSignal): Promise<RunRecord> {
    await this.history.startRun({ id: runId, trigger, scheduledFor })
    this.opts.onEvent?.({ type: 'run-start', runId })
    const tasks = new Map<string, TaskRecord>(
      this.dag.map((t) => [t.name, { name: t.name, state: 'pending', attempts: 0, started_at: null, ended_at: null, rows: null, rows_in: null, rejects: null, error: null, error_code: null }]),
    )
    for (const t of tasks.values()) await this.history.saveTask(runId, t)
    const save = async (t: TaskRecord): Promise<void> => {
      await this.history.saveTask(runId, t)
      this.opts.onEvent?.({ type: 'task', runId, task: { ...t } })
    }

    const inFlight = new Map<string, Promise<void>>()
    for (;;) {
      for (const def of this.dag) {
        const t = tasks.get(def.name)!
        if (t.state !== 'pending') continue
        const deps = def.deps.map((d) => tasks.get(d)!.state)
        if (signal.aborted) {
          t.state = 'cancelled'
          await save(t)
        } else if (deps.some((s) => s === 'failed' || s === 'skipped' || s === 'cancelled')) {
          t.state = 'skipped'
          t.error = `upstream ${def.deps.filter((d) => ['failed', 'skipped', 'cancelled'].includes(tasks.get(d)!.state)).join(', ')} did not succeed`
          await save(t)
        } else if (deps.every((s) => s === 'success')) {
          t.state = 'running'
          inFlight.set(def.name, this.runTask(runId, def, t, save, signal).finally(() => inFlight.delete(def.name)))
        }
      }
      if (inFlight.size === 0) break
      await Promise.race(inFlight.values())
    }

    const states = [...tasks.values()].map((t) => t.state)
    const state: RunState = states.includes('cancelled') ? 'cancelled' : states.every((s) => s === 'success') ? 'success' : 'failed'
    const failed = [...tasks.values()].find((t) => t.state === 'failed' || t.state === 'cancelled')
    const error = state === 'success' ? null : failed ? `${failed.name}${failed.error_code ? ` (${failed.error_code})` : ''}: ${failed.error}` : null
    await this.history.endRun(runId, state, error)
    const [run] = (await this.history.recent(50)).filter((r) => r.id === runId)
    this.opts.onEvent?.({ type: 'run-end', run: run! })
    return run!
  }

  private async runTask(runId: string, def: TaskDef, t: TaskRecord, save: (t: TaskRecord) => Promise<void>, signal: AbortSignal): Promise<void> {
    const { cfg, logger } = this.opts
    t.started_at = sqlTimestamp()
    for (let attempt = 1; ; attempt++) {
      t.attempts = attempt
      t.state = 'running'
      await save(t)
      const outcome = await this.launch(runId, def.name, cfg.PIPELINE_TASK_TIMEOUT_MS, signal)
      if (outcome.ok) {
        const r = outcome.result
        t.state = 'success'
        t.error = null
        t.error_code = null
        t.rows = numberOf(r.rows) ?? sumOf(r.models, 'rows')
        t.rows_in = numberOf(r.blocks) ?? numberOf(r.rowsRead)
        t.rejects = numberOf(r.rejects)
        this.opts.onEvent?.({ type: 'task-result', runId, task: def.name, result: r })
        break
      }
      t.error = outcome.message
      t.error_code = outcome.code ?? null
      if (outcome.cancelled || signal.aborted) {
        t.state = 'cancelled'
        break
      }
      // A permanent error (configuration, credentials, schema, a data test) fails the same way again: no retry.
      if (!outcome.transient || attempt > cfg.PIPELINE_RETRIES) {
        t.state = 'failed'
        if (!outcome.transient) logger?.error({ task: def.name, code: t.error_code, error: t.error }, 'task failed with a permanent error: not retried')
        break
      }
      t.state = 'retrying'
      await save(t)
      const delay = cfg.PIPELINE_RETRY_DELAY_MS * 2 ** (attempt - 1)
      logger?.warn({ task: def.name, attempt, delayMs: delay, code: t.error_code, error: t.error }, 'task failed with a transient error, retrying')
      try {
        await sleep(delay, undefined, { signal })
      } catch (err) {
        if (!isAbortError(err)) throw err
        t.state = 'cancelled'
        break
      }
    }
    t.ended_at = sqlTimestamp()
    await save(t)
  }

  /** Runs one Bree job to its end: its result, its error, a timeout, or a cancel. */
  private async launch(runId: string, name: string, timeoutMs: number, signal: AbortSignal): Promise<TaskResult> {
    this.outcomes.delete(name)
    // Bree builds each worker's workerData from its job's at run time: this attempt's run id goes there.
    const job = this.bree.config.jobs.find((j) => j.name === name)
    if (job) job.worker = { ...job.worker, workerData: { ...(job.worker?.workerData as JobWorkerData | undefined), runId } satisfies JobWorkerData }
    const exited = new Promise<void>((resolve) => {
      const onDeleted = (n: string): void => {
        if (n !== name) return
        this.bree.off('worker deleted', onDeleted)
        resolve()
      }
      this.bree.on('worker deleted', onDeleted)
    })
    let timedOut = false
    const cancel = (): void => void this.cancelWorker(name)
    const timer = setTimeout(() => {
      timedOut = true
      cancel()
    }, timeoutMs)
    signal.addEventListener('abort', cancel, { once: true })
    try {
      await this.bree.run(name)
      await exited
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', cancel)
      // Whatever the worker left open in the warehouse is rolled back.
      await this.host.release(name)
    }
    if (timedOut) return { ok: false, cancelled: false, code: 'ERR_TASK_TIMEOUT', transient: true, message: `timed out after ${Math.round(timeoutMs / 1000)} s (PIPELINE_TASK_TIMEOUT_MS)` }
    return this.outcomes.get(name) ?? { ok: false, cancelled: signal.aborted, code: 'ERR_WORKER_EXITED', transient: true, message: 'the job exited without reporting a result' }
  }

  /** Bree's cancel message; a worker that does not stop within 10 s is terminated. */
  private async cancelWorker(name: string): Promise<void> {
    const worker = this.bree.workers.get(name)
    if (!worker) return
    worker.postMessage('cancel')
    await sleep(10_000, undefined, { ref: false })
    await this.bree.workers.get(name)?.terminate()
  }
}

function numberOf(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

function sumOf(list: unknown, key: string): number | null {
  if (!Array.isArray(list)) return null
  const values = list.map((x) => numberOf((x as Record<string, unknown>)[key])).filter((x): x is number => x !== null)
  return values.length ? values.reduce((a, b) => a + b, 0) : null
}
