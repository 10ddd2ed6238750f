import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import path from 'node:path'
import { CronExpressionParser } from 'cron-parser'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { PipelineError } from './errors.js'
import { daemonMetrics } from './dag/daemonMetrics.js'
import { Orchestrator, type DagEvent } from './dag/orchestrator.js'
import type { RunRecord } from './dag/runHistory.js'
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
 * its lifetime, runs the DAG on PIPELINE_CRON through Bree, catches up a
 * missed schedule at start-up, and answers /healthz, /metrics and /status on
 * a loopback port, so `careplus status` works while it holds the DuckDB file.
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
    const run = orchestrator.trigger(trigger, scheduledFor)
    if (run) {
      await run.catch((err: Error) => logger.error({ err: err.message }, 'run crashed'))
      return
    }
    logger.warn({ scheduledFor }, 'previous run still in progress: this scheduled run is skipped')
    metrics.skippedRun()
    const { newRunId } = await import('./runId.js')
    await orchestrator.history.startRun({ id: newRunId(), trigger, scheduledFor, state: 'skipped', error: `run ${orchestrator.currentRunId} still in progress` })
  }

  const abandoned = await orchestrator.history.markAbandoned()
  if (abandoned > 0) logger.warn({ runs: abandoned }, 'runs left running by a stopped process were marked failed')

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost')
      try {
        if (url.pathname === '/healthz') {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ status: 'ok', pid: process.pid, running: orchestrator.currentRunId ?? null }))
        } else if (url.pathname === '/metrics') {
          res.writeHead(200, { 'content-type': metrics.registry.contentType })
          res.end(await metrics.registry.metrics())
        } else if (url.pathname === '/status') {
          const limit = Number(url.searchParams.get('limit') ?? 20)
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ runs: await orchestrator.history.recent(limit) }))
        } else {
          res.writeHead(404).end()
        }
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end((err as Error).message)
      }
    })()
  })
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
