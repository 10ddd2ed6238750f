import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Bree from 'bree'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { isAbortError, PipelineError } from '../errors.js'
import { newRunId } from '../runId.js'
import { projectRoot } from '../projectRoot.js'
import type { ObjectStore } from '../s3/objectStore.js'
import { withQueryTag } from '../warehouse/queryTag.js'
import type { Warehouse } from '../warehouse/warehouse.js'
import { sqlTimestamp } from '../load/sqlTimestamp.js'
import { isJobMessage, isWarehouseCancel, isWarehouseRequest, type JobWorkerData, type TaskResult } from './protocol.js'
import { PIPELINE_DAG, type TaskDef } from './pipelineDag.js'
import { RunHistory, type RunRecord, type RunState, type TaskRecord } from './runHistory.js'
import { TaskLog } from './taskLog.js'
import { WarehouseHost } from './warehouseHost.js'

export { PIPELINE_DAG, type TaskDef } from './pipelineDag.js'

export const SCHEDULE_JOB = 'schedule-tick'

export type DagEvent =
  | { type: 'run-start'; runId: string }
  /** A task's successful attempt, with what its job reported (bytes read, rows…). */
  | { type: 'task-result'; runId: string; task: string; result: Record<string, unknown> }
  | { type: 'task'; runId: string; task: TaskRecord }
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

/** What a run is asked to do beyond the whole DAG with its own arguments. */
export interface RunOptions {
  /** Only these tasks (a one-off run, e.g. `careplus ingest-logs` under a daemon); tasks upstream of them are not run. */
  tasks?: string[]
  /** Job arguments for this run, by task, over the DAG's own (`{ 'ingest-logs': { retryFailed: true } }`). */
  args?: Record<string, Record<string, unknown>>
}

export interface StartedRun {
  runId: string
  done: Promise<RunRecord>
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
  /** Each task's result of recent runs (the job's summary), kept in memory for `run --wait` and one-off runs. */
  private readonly results = new Map<string, Record<string, unknown>>()
  private readonly taskLogs = new Map<string, TaskLog>()

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
      // Each worker's stdout/stderr goes to its task's log (taskLog.ts), not the daemon's.
      worker: { workerData, stdout: true, stderr: true },
      // Bree logs every worker start and exit: keep that at debug level.
      logger: {
        info: (m: unknown) => log?.debug(String(m)),
        warn: (m: unknown) => log?.warn(String(m)),
        error: (m: unknown) => log?.debug(String(m)),
      } as unknown as Bree.BreeLogger,
      errorHandler: () => {},
      workerMessageHandler: ({ name, message }: { name: string; message: unknown }) => this.onWorkerMessage(name, message),
    })
    this.bree.on('worker created', (name: string) => {
      const w = this.bree.workers.get(name)
      for (const s of [w?.stdout, w?.stderr]) s?.on('data', (chunk: Buffer) => this.taskLogs.get(name)?.raw(chunk))
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

  get taskNames(): string[] {
    return this.dag.map((t) => t.name)
  }

  /** Starts one DAG run unless one is going; returns it, or undefined when it was skipped. */
  trigger(trigger: string, scheduledFor: Date | null, opts: RunOptions = {}): Promise<RunRecord> | undefined {
    return this.begin(trigger, scheduledFor, opts)?.done
  }

  /** Like trigger, with the new run's id at once (the control API answers with it before the run ends). */
  begin(trigger: string, scheduledFor: Date | null, opts: RunOptions = {}): StartedRun | undefined {
    if (this.current) return undefined
    const unknown = (opts.tasks ?? []).find((n) => !this.dag.some((t) => t.name === n))
    if (unknown) throw new PipelineError('ERR_USAGE', `no task ${JSON.stringify(unknown)} in the DAG (tasks: ${this.taskNames.join(', ')})`)
    const runId = newRunId()
    const dag = opts.tasks ? this.dag.filter((t) => opts.tasks!.includes(t.name)) : this.dag
    return this.own(runId, async (signal) => {
      await this.history.startRun({ id: runId, trigger, scheduledFor })
      this.opts.onEvent?.({ type: 'run-start', runId })
      const tasks = new Map<string, TaskRecord>(dag.map((t) => [t.name, freshTask(t.name)]))
      for (const t of tasks.values()) await this.history.saveTask(runId, t)
      return this.execute(runId, dag, tasks, signal, opts.args ?? {})
    })
  }

  /**
   * Airflow's clear: `task` and everything downstream of it in run `runId`
   * run again, recorded in the same run (its state back to running, then its
   * new outcome). Refused while any run is going.
   */
  async clear(runId: string, task: string): Promise<StartedRun> {
    if (this.current) throw new PipelineError('ERR_RUN_IN_PROGRESS', `run ${this.current.runId} is in progress: clear ${runId} once it ends`)
    const run = await this.history.get(runId)
    if (!run) throw new PipelineError('ERR_NOT_FOUND', `no run ${runId} (careplus status lists the runs)`)
    if (!run.tasks.some((t) => t.name === task)) {
      throw new PipelineError('ERR_NOT_FOUND', `run ${runId} has no task ${JSON.stringify(task)} (its tasks: ${run.tasks.map((t) => t.name).join(', ') || 'none'})`)
    }
    // Checked again: another request may have started a run while history was read.
    const started = this.current as { runId: string } | undefined
    if (started) throw new PipelineError('ERR_RUN_IN_PROGRESS', `run ${started.runId} is in progress: clear ${runId} once it ends`)
    const dag = this.dag.filter((t) => run.tasks.some((r) => r.name === t.name))
    const cleared = downstreamOf(dag, task)
    return this.own(runId, async (signal) => {
      await this.history.reopenRun(runId)
      this.opts.onEvent?.({ type: 'run-start', runId })
      const tasks = new Map<string, TaskRecord>(dag.map((t) => [t.name, run.tasks.find((r) => r.name === t.name)!]))
      for (const name of cleared) {
        const t = freshTask(name)
        tasks.set(name, t)
        await this.history.saveTask(runId, t)
        const log = new TaskLog(this.opts.cfg.home, runId, name)
        log.line('info', `cleared: ${name} runs again (cleared from ${task})`)
        await log.close()
      }
      return this.execute(runId, dag, tasks, signal, {})
    })
  }

  /** Waits for the current run, if any, to end. */
  async idle(): Promise<void> {
    while (this.current) await this.current.done.catch(() => {})
  }

  /** Each task's result (the job's summary) in run `runId`, while this process remembers it. */
  resultsOf(runId: string): Record<string, unknown> {
    return this.results.get(runId) ?? {}
  }

  private own(runId: string, body: (signal: AbortSignal) => Promise<RunRecord>): StartedRun {
    const controller = new AbortController()
    // The run's own statements (history, migrate) carry its id as their query tag; tasks tag theirs.
    const done = withQueryTag({ run_id: runId, task: 'dag' }, () => body(controller.signal)).finally(() => {
      this.current = undefined
    })
    this.current = { runId, controller, done }
    if (this.results.size >= 100) this.results.delete(this.results.keys().next().value!)
    this.results.set(runId, { ...this.results.get(runId) })
    return { runId, done }
  }

  /** One run: tasks in dependency order, in parallel where the DAG allows; a dependency outside `dag` counts as met. */
  private async execute(
    runId: string,
    dag: readonly TaskDef[],
    tasks: Map<string, TaskRecord>,
    signal: AbortSignal,
    args: Record<string, Record<string, unknown>>,
  ): Promise<RunRecord> {
    const save = async (t: TaskRecord): Promise<void> => {
      await this.history.saveTask(runId, t)
      this.opts.onEvent?.({ type: 'task', runId, task: { ...t } })
    }

    const inFlight = new Map<string, Promise<void>>()
    for (;;) {
      for (const def of dag) {
        const t = tasks.get(def.name)!
        if (t.state !== 'pending') continue
        const deps = def.deps.filter((d) => tasks.has(d)).map((d) => tasks.get(d)!.state)
        if (signal.aborted) {
          t.state = 'cancelled'
          await save(t)
        } else if (deps.some((s) => s === 'failed' || s === 'skipped' || s === 'cancelled')) {
          t.state = 'skipped'
          t.error = `upstream ${def.deps.filter((d) => tasks.has(d) && ['failed', 'skipped', 'cancelled'].includes(tasks.get(d)!.state)).join(', ')} did not succeed`
          await save(t)
        } else if (deps.every((s) => s === 'success')) {
          t.state = 'running'
          inFlight.set(def.name, this.runTask(runId, def, t, save, signal, args[def.name]).finally(() => inFlight.delete(def.name)))
        }
      }
      if (inFlight.size === 0) break
      await Promise.race(inFlight.values())
    }

    const states = [...tasks.values()].map((t) => t.state)
    const quarantined = quarantinedObjects(this.results.get(runId) ?? {})
    const state: RunState = states.includes('cancelled')
      ? 'cancelled'
      : !states.every((s) => s === 'success')
        ? 'failed'
        : quarantined > 0
          ? 'success_with_failures'
          : 'success'
    const failed = [...tasks.values()].find((t) => t.state === 'failed' || t.state === 'cancelled')
    const error =
      state === 'success'
        ? null
        : state === 'success_with_failures'
          ? `${quarantined} object${quarantined === 1 ? '' : 's'} quarantined (careplus failures lists them)`
          : failed
            ? `${failed.name}${failed.error_code ? ` (${failed.error_code})` : ''}: ${failed.error}`
            : null
    await this.history.endRun(runId, state, error)
    const run = await this.history.get(runId)
    this.opts.onEvent?.({ type: 'run-end', run: run! })
    return run!
  }

  private async runTask(
    runId: string,
    def: TaskDef,
    t: TaskRecord,
    save: (t: TaskRecord) => Promise<void>,
    signal: AbortSignal,
    args: Record<string, unknown> | undefined,
  ): Promise<void> {
    const { cfg, logger } = this.opts
    const log = new TaskLog(cfg.home, runId, def.name)
    this.taskLogs.set(def.name, log)
    t.started_at = sqlTimestamp()
    try {
      for (let attempt = 1; ; attempt++) {
        t.attempts = attempt
        t.state = 'running'
        await save(t)
        log.line('info', `attempt ${attempt} started`, { run: runId, task: def.name, attempt })
        const outcome = await this.launch(runId, def.name, cfg.PIPELINE_TASK_TIMEOUT_MS, signal, args)
        if (outcome.ok) {
          const r = outcome.result
          this.results.get(runId)![def.name] = r
          Object.assign(t, { state: 'success', error: null, error_code: null }, taskCounts(r))
          this.opts.onEvent?.({ type: 'task-result', runId, task: def.name, result: r })
          log.line('info', 'success', { attempt, rows: t.rows, rows_in: t.rows_in, rejects: t.rejects })
          break
        }
        t.error = outcome.message
        t.error_code = outcome.code ?? null
        log.line('error', `attempt ${attempt} failed: ${t.error}`, { attempt, code: t.error_code, transient: outcome.transient, cancelled: outcome.cancelled || signal.aborted })
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
        log.line('warn', `retrying in ${delay} ms`, { attempt, delayMs: delay })
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
    } finally {
      this.taskLogs.delete(def.name)
      await log.close()
    }
  }

  /** Runs one Bree job to its end: its result, its error, a timeout, or a cancel. */
  private async launch(runId: string, name: string, timeoutMs: number, signal: AbortSignal, args: Record<string, unknown> | undefined): Promise<TaskResult> {
    this.outcomes.delete(name)
    // Bree reads a job's workerData when it starts the worker: this attempt's run id, and this run's arguments over the DAG's.
    const job = this.bree.config.jobs.find((j) => j.name === name)
    const def = this.dag.find((t) => t.name === name)
    if (job) job.worker = { ...job.worker, workerData: { ...(job.worker?.workerData as JobWorkerData | undefined), runId, args: { ...def?.args, ...args } } satisfies JobWorkerData }
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

function freshTask(name: string): TaskRecord {
  return { name, state: 'pending', attempts: 0, started_at: null, ended_at: null, rows: null, rows_in: null, rejects: null, error: null, error_code: null }
}

/** `task` and every task that depends on it, directly or not, in DAG order. */
export function downstreamOf(dag: readonly TaskDef[], task: string): string[] {
  const out = new Set([task])
  for (let grew = true; grew; ) {
    grew = false
    for (const t of dag) {
      if (!out.has(t.name) && t.deps.some((d) => out.has(d))) {
        out.add(t.name)
        grew = true
      }
    }
  }
  return dag.map((t) => t.name).filter((n) => out.has(n))
}

/** The counts a task run records, from its job's result (ingest summaries, transform summaries). */
export function taskCounts(r: Record<string, unknown>): Pick<TaskRecord, 'rows' | 'rows_in' | 'rejects'> {
  return { rows: numberOf(r.rows) ?? sumOf(r.models, 'rows'), rows_in: numberOf(r.blocks) ?? numberOf(r.rowsRead), rejects: numberOf(r.rejects) }
}

/** A run's outcome as an exit code: 0 success, 3 success with quarantined objects (success_with_failures), 1 otherwise. */
export function runExitCode(run: RunRecord): number {
  return run.state === 'success' ? 0 : run.state === 'success_with_failures' ? 3 : 1
}

/** Objects the run's tasks quarantined (an ingest's `failures`): a run with any is `success_with_failures`. */
function quarantinedObjects(results: Record<string, unknown>): number {
  return Object.values(results).reduce<number>((n, r) => n + (Array.isArray((r as { failures?: unknown }).failures) ? (r as { failures: unknown[] }).failures.length : 0), 0)
}

function numberOf(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

function sumOf(list: unknown, key: string): number | null {
  if (!Array.isArray(list)) return null
  const values = list.map((x) => numberOf((x as Record<string, unknown>)[key])).filter((x): x is number => x !== null)
  return values.length ? values.reduce((a, b) => a + b, 0) : null
}
