import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs'
import type { Server } from 'node:http'
import { once } from 'node:events'
import path from 'node:path'
import { CronExpressionParser } from 'cron-parser'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { PipelineError } from './errors.js'
import { daemonMetrics } from './dag/daemonMetrics.js'
import { Orchestrator, type DagEvent } from './dag/orchestrator.js'
import type { RunRecord } from './dag/runHistory.js'
import { createControlServer } from './daemon/controlServer.js'
import { ensureToken } from './daemon/token.js'
import { isPaused } from './dag/pauseFlag.js'
import { newRunId } from './runId.js'
import { openWarehouse } from './runtime.js'
import { openObjectStore, type ObjectStore } from './s3/objectStore.js'
import type { Warehouse } from './warehouse/warehouse.js'

/** The latest time the cron schedule fired at or before `now`. */
export function latestScheduledTime(cron: string, tz: string, now: Date): Date {
  const expr = CronExpressionParser.parse(cron, { currentDate: new Date(now.getTime() + 1), tz })
  return expr.prev().toDate()
}

export function validateCron(cron: string, tz: string): void {
  try {
    CronExpressionParser.parse(cron, { tz })
  } catch (err) {
    throw new PipelineError('ERR_CONFIG', `invalid setting PIPELINE_CRON: ${(err as Error).message} (got ${JSON.stringify(cron)})`)
  }
}

/** Where a running daemon says how to reach it. */
export function daemonFile(cfg: Config): string {
  return path.join(cfg.home, 'daemon.json')
}

export interface DaemonHandle {
  port: number
  orchestrator: Orchestrator
  /** Stops scheduling, cancels the current run within the grace period, closes everything. */
  stop(): Promise<void>
}

/**
 * `careplus daemon`: owns the warehouse and the (embedded) S3 endpoint for
 * its lifetime, runs the DAG on PIPELINE_CRON through Bree (unless paused),
 * catches up a missed schedule at start-up, and answers the control API
 * (daemon/controlServer.ts) on a loopback port, so the CLI works through it
 * while it holds the DuckDB file.
 */
export async function startDaemon(opts: { cfg: Config; env: Record<string, string | undefined>; logger: Logger; now?: () => Date; onEvent?: (e: DagEvent) => void }): Promise<DaemonHandle> {
  const { cfg, logger } = opts
  const now = opts.now ?? (() => new Date())
  validateCron(cfg.PIPELINE_CRON, cfg.PIPELINE_TZ)
  mkdirSync(cfg.home, { recursive: true })
  let store: ObjectStore | undefined
  let warehouse: Warehouse | undefined
  try {
    store = await openObjectStore(cfg)
    warehouse = await openWarehouse(cfg, store)
    await warehouse.migrate()
  } catch (err) {
    await warehouse?.close()
    await store?.close()
    throw err
  }

  const metrics = daemonMetrics()
  const onEvent = (e: DagEvent): void => {
    opts.onEvent?.(e)
    metrics.onEvent(e)
    if (e.type === 'run-start') {
      logger.info({ runId: e.runId }, 'run started')
    } else if (e.type === 'task' && ['success', 'failed', 'cancelled', 'skipped'].includes(e.task.state)) {
      const t = e.task
      logger.info({ runId: e.runId, task: t.name, state: t.state, attempts: t.attempts, rows: t.rows, code: t.error_code ?? undefined, error: t.error ?? undefined }, 'task ended')
    } else if (e.type === 'run-end') {
      logger.info({ runId: e.run.id, state: e.run.state, error: e.run.error ?? undefined }, 'run ended')
    }
  }

  const orchestrator: Orchestrator = new Orchestrator({
    cfg,
    env: opts.env,
    store,
    warehouse,
    logger,
    onEvent,
    schedule: {
      cron: cfg.PIPELINE_CRON,
      timezone: cfg.PIPELINE_TZ,
      onTick: (at) => void tick('schedule', latestScheduledTime(cfg.PIPELINE_CRON, cfg.PIPELINE_TZ, at)),
    },
  })

  // Two runs never overlap: a tick during a run is recorded as skipped.
  const tick = async (trigger: string, scheduledFor: Date): Promise<void> => {
    if (isPaused(cfg.home)) {
      logger.warn({ scheduledFor }, 'the schedule is paused: this scheduled run is skipped (careplus unpause resumes it)')
      metrics.skippedRun()
      await orchestrator.history.startRun({ id: newRunId(), trigger, scheduledFor, state: 'skipped', error: 'paused (careplus unpause resumes the schedule)' })
      return
    }
    const run = orchestrator.trigger(trigger, scheduledFor)
    if (run) {
      await run.catch((err: Error) => logger.error({ err: err.message }, 'run crashed'))
      return
    }
    logger.warn({ scheduledFor }, 'previous run still in progress: this scheduled run is skipped')
    metrics.skippedRun()
    await orchestrator.history.startRun({ id: newRunId(), trigger, scheduledFor, state: 'skipped', error: `run ${orchestrator.currentRunId} still in progress` })
  }

  const abandoned = await orchestrator.history.markAbandoned()
  if (abandoned > 0) logger.warn({ runs: abandoned }, 'runs left running by a stopped process were marked failed')

  const token = ensureToken(cfg.home)
  const server: Server = createControlServer({ cfg, token, orchestrator, warehouse, metrics: metrics.registry, logger })
  server.listen(cfg.DAEMON_PORT, cfg.DAEMON_HOST)
  try {
    await once(server, 'listening')
  } catch (err) {
    await warehouse.close()
    await store.close()
    throw new PipelineError('ERR_DAEMON_PORT', `cannot listen on ${cfg.DAEMON_HOST}:${cfg.DAEMON_PORT}: ${(err as Error).message} (set DAEMON_PORT or DAEMON_HOST)`)
  }
  const port = (server.address() as { port: number }).port
  // Where a local `careplus status` reaches this daemon: loopback when it listens on every address.
  const host = ['0.0.0.0', '::'].includes(cfg.DAEMON_HOST) ? '127.0.0.1' : cfg.DAEMON_HOST.includes(':') ? `[${cfg.DAEMON_HOST}]` : cfg.DAEMON_HOST
  writeFileSync(daemonFile(cfg), JSON.stringify({ pid: process.pid, host, port, startedAt: new Date().toISOString() }) + '\n')

  await orchestrator.start()
  logger.info({ cron: cfg.PIPELINE_CRON, tz: cfg.PIPELINE_TZ, port }, 'daemon started')

  if (cfg.PIPELINE_CATCHUP) {
    const due = latestScheduledTime(cfg.PIPELINE_CRON, cfg.PIPELINE_TZ, now())
    if (!(await orchestrator.history.hasSuccessfulRunFor(due))) {
      logger.info({ scheduledFor: due.toISOString() }, 'catch-up: the latest scheduled run has not succeeded, running it now')
      void tick('catchup', due)
    }
  }

  let stopping: Promise<void> | undefined
  return {
    port,
    orchestrator,
    stop() {
      stopping ??= (async () => {
        logger.info('stopping: no new runs; cancelling the current one')
        await orchestrator.stop(cfg.PIPELINE_GRACE_MS)
        server.close()
        // Independent: the DuckDB file's close and the embedded S3 server's exit overlap.
        await Promise.all([warehouse.close(), store.close()])
        rmSync(daemonFile(cfg), { force: true })
      })()
      return stopping
    },
  }
}

/** Reads the status of a running daemon over HTTP; undefined when none answers. */
export async function daemonStatus(cfg: Config, limit: number): Promise<{ runs: RunRecord[] } | undefined> {
  const file = daemonFile(cfg)
  if (!existsSync(file)) return undefined
  try {
    const { host, port } = JSON.parse(readFileSync(file, 'utf8')) as { host: string; port: number }
    const res = await fetch(`http://${host}:${port}/status?limit=${limit}`, { signal: AbortSignal.timeout(5000) })
    if (!res.ok) return undefined
    return (await res.json()) as { runs: RunRecord[] }
  } catch {
    // Named case: a daemon.json left by a daemon that died answers nothing; read the warehouse instead.
    return undefined
  }
}
