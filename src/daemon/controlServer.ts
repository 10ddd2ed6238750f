import { timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { printResult } from '../cli/output.js'
import type { Config } from '../config.js'
import { PipelineError, type ErrorCode } from '../errors.js'
import { parseLogicalDate, scheduleSlots, runSlots } from '../dag/backfill.js'
import type { Orchestrator } from '../dag/orchestrator.js'
import { isPaused, setPaused } from '../dag/pauseFlag.js'
import { newRunId } from '../runId.js'
import type { Warehouse } from '../warehouse/warehouse.js'

/** The largest request body the control API reads (a query's SQL, a run's options). */
export const MAX_BODY_BYTES = 64 * 1024

export interface ControlContext {
  cfg: Config
  token: string
  orchestrator: Orchestrator
  warehouse: Warehouse
  metrics: Registry
  logger: Logger
}

interface Backfill {
  id: string
  slots: string[]
  runs: Array<{ id: string; state: string; scheduled_for: string | null }>
  done: boolean
  error: string | null
}

/** A client's mistake, answered with its status and `{"error":{"code","message"}}`. */
class HttpError extends PipelineError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message)
  }
}

const STATUS_OF: Record<string, number> = {
  ERR_USAGE: 400,
  ERR_READ_ONLY: 400,
  ERR_QUERY: 400,
  ERR_NOT_FOUND: 404,
  ERR_RUN_IN_PROGRESS: 409,
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], query: URLSearchParams) => Promise<void>

interface Route {
  method: 'GET' | 'POST'
  pattern: RegExp
  open?: boolean
  handler: Handler
}

/**
 * The daemon's control API on DAEMON_HOST:DAEMON_PORT. `/healthz`,
 * `/metrics` and `/status` are open; everything else needs
 * `Authorization: Bearer <$CAREPLUS_HOME/daemon.token>`. Every handler
 * finishes its work (or, for a query, reads the first chunk) before it writes
 * a header, so a failure is always a clean JSON error, and no request can
 * crash or wedge the daemon.
 */
export function createControlServer(ctx: ControlContext): Server {
  const { orchestrator, cfg, logger } = ctx
  const backfills = new Map<string, Backfill>()
  const expected = Buffer.from(ctx.token)

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: /^\/healthz$/,
      open: true,
      handler: async (_req, res) => json(res, 200, { status: 'ok', pid: process.pid, running: orchestrator.currentRunId ?? null, paused: isPaused(cfg.home) }),
    },
    {
      method: 'GET',
      pattern: /^\/metrics$/,
      open: true,
      handler: async (_req, res) => {
        const text = await ctx.metrics.metrics()
        res.writeHead(200, { 'content-type': ctx.metrics.contentType }).end(text)
      },
    },
    {
      method: 'GET',
      pattern: /^\/status$/,
      open: true,
      handler: async (_req, res, _p, q) => {
        const limit = intParam(q, 'limit', 20, 1, 1000)
        json(res, 200, { runs: await orchestrator.history.recent(limit), paused: isPaused(cfg.home) })
      },
    },
    {
      method: 'POST',
      pattern: /^\/runs$/,
      handler: async (req, res) => {
        const body = await readJson(req)
        const logicalDate = body.logicalDate === undefined || body.logicalDate === null ? null : parseLogicalDate(body.logicalDate, 'logicalDate')
        const tasks = optionalList(body.tasks, 'tasks')
        const args = body.args === undefined ? undefined : objectOf(body.args, 'args')
        const trigger = body.trigger === undefined ? 'manual' : String(body.trigger)
        if (!/^[a-z][a-z0-9:-]{0,40}$/.test(trigger)) throw new HttpError(400, 'ERR_USAGE', 'trigger must be a short lower-case word, e.g. manual')
        const started = orchestrator.begin(trigger, logicalDate, { tasks, args: args as Record<string, Record<string, unknown>> | undefined })
        if (!started) throw new HttpError(409, 'ERR_RUN_IN_PROGRESS', `run ${orchestrator.currentRunId} is in progress: try again when it ends`)
        started.done.catch((err: Error) => logger.error({ err: err.message }, 'run crashed'))
        logger.info({ runId: started.runId, trigger, tasks, logicalDate }, 'run triggered over the control API')
        json(res, 202, { runId: started.runId })
      },
    },
    {
      method: 'GET',
      pattern: /^\/runs\/([A-Za-z0-9_-]{1,100})$/,
      handler: async (_req, res, [id]) => {
        const run = await orchestrator.history.get(id!)
        if (!run) throw new HttpError(404, 'ERR_NOT_FOUND', `no run ${id}`)
        json(res, 200, { run, results: orchestrator.resultsOf(id!) })
      },
    },
    {
      method: 'POST',
      pattern: /^\/runs\/([A-Za-z0-9_-]{1,100})\/clear$/,
      handler: async (req, res, [id]) => {
        const body = await readJson(req)
        if (typeof body.task !== 'string' || body.task === '') throw new HttpError(400, 'ERR_USAGE', 'say which task to clear: {"task": "<name>"}')
        const started = await orchestrator.clear(id!, body.task)
        started.done.catch((err: Error) => logger.error({ err: err.message }, 'run crashed'))
        logger.info({ runId: id, task: body.task }, 'task cleared over the control API: it and its downstream run again')
        json(res, 202, { runId: started.runId })
      },
    },
    ...(['pause', 'unpause'] as const).map(
      (what): Route => ({
        method: 'POST',
        pattern: new RegExp(`^/${what}$`),
        handler: async (req, res) => {
          await readBody(req)
          setPaused(cfg.home, what === 'pause')
          logger.info(what === 'pause' ? 'schedule paused: scheduled runs are skipped until unpause' : 'schedule unpaused')
          json(res, 200, { paused: isPaused(cfg.home) })
        },
      }),
    ),
    {
      method: 'POST',
      pattern: /^\/backfills$/,
      handler: async (req, res) => {
        const body = await readJson(req)
        const from = parseLogicalDate(body.from, 'from')
        const to = parseLogicalDate(body.to, 'to', true)
        const slots = scheduleSlots(cfg.PIPELINE_CRON, cfg.PIPELINE_TZ, from, to)
        const b: Backfill = { id: newRunId(), slots: slots.map((s) => s.toISOString()), runs: [], done: false, error: null }
        backfills.set(b.id, b)
        logger.info({ backfill: b.id, slots: slots.length, from, to }, 'backfill started')
        void runSlots(orchestrator, slots, { onRun: (r) => b.runs.push({ id: r.id, state: r.state, scheduled_for: r.scheduled_for }) })
          .catch((err: Error) => {
            b.error = err.message
            logger.error({ backfill: b.id, err: err.message }, 'backfill stopped')
          })
          .finally(() => {
            b.done = true
            logger.info({ backfill: b.id, runs: b.runs.length }, 'backfill ended')
          })
        json(res, 202, b)
      },
    },
    {
      method: 'GET',
      pattern: /^\/backfills\/([A-Za-z0-9_-]{1,100})$/,
      handler: async (_req, res, [id]) => {
        const b = backfills.get(id!)
        if (!b) throw new HttpError(404, 'ERR_NOT_FOUND', `no backfill ${id} (this daemon's backfills are kept until it stops)`)
        json(res, 200, b)
      },
    },
    {
      method: 'POST',
      pattern: /^\/query$/,
      handler: (req, res) => query(ctx, req, res),
    },
  ]

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: Error) => {
      // Named case: the response could not even be written (the client is gone); nothing is left to answer.
      logger.debug({ err: err.message }, 'control API: a response could not be written')
      res.destroy()
    })
  })
  // Node's own limits and its default clientError handling stay: a request it cannot parse gets its 400
  // (431 for headers too large, 408 for a timeout) without a body, and the socket is closed.

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const raw = req.url ?? '/'
      const q = raw.indexOf('?')
      const pathname = q < 0 ? raw : raw.slice(0, q)
      const search = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1))
      let decoded: string
      try {
        decoded = decodeURIComponent(pathname)
      } catch {
        throw new HttpError(400, 'ERR_BAD_REQUEST', 'the path is not valid percent-encoding')
      }
      const matching = routes.map((r) => ({ r, m: r.pattern.exec(decoded) })).filter((x) => x.m !== null)
      if (matching.length === 0) throw new HttpError(404, 'ERR_NOT_FOUND', `no route ${decoded.slice(0, 200)} (see the README's control API)`)
      const hit = matching.find((x) => x.r.method === req.method)
      if (!hit) {
        res.setHeader('allow', matching.map((x) => x.r.method).join(', '))
        throw new HttpError(405, 'ERR_METHOD', `${String(req.method).slice(0, 20)} is not allowed on ${decoded}: use ${matching.map((x) => x.r.method).join(' or ')}`)
      }
      if (!hit.r.open && !authorized(req.headers.authorization)) {
        res.setHeader('www-authenticate', 'Bearer')
        throw new HttpError(401, 'ERR_UNAUTHORIZED', `send Authorization: Bearer <token>; the token is in ${cfg.home}/daemon.token (mode 0600)`)
      }
      await hit.r.handler(req, res, hit.m!.slice(1), search)
    } catch (err) {
      if (res.headersSent) {
        // A streamed answer failed midway: its own error line was written (query), or the client left.
        res.destroy()
        return
      }
      const status = err instanceof HttpError ? err.status : err instanceof PipelineError ? (STATUS_OF[err.code] ?? 500) : 500
      const known = err instanceof PipelineError
      if (!known || status >= 500) logger.error({ err: (err as Error).message, url: req.url?.slice(0, 200) }, 'control API request failed')
      // Read what the client still sends before answering, so the answer reaches it instead of a reset
      // and a kept-alive socket stays in step; a body that goes on (an oversized one) gets the answer and a close.
      if (!req.readableEnded) {
        req.resume()
        const ended = await Promise.race([once(req, 'end').then(() => true, () => false), sleep(2000, false, { ref: false })])
        if (!ended) res.setHeader('connection', 'close')
      }
      json(res, status, { error: { code: known ? err.code : 'ERR_INTERNAL', message: known ? err.message : 'internal error: see the daemon log' } })
    }
  }

  function authorized(header: string | undefined): boolean {
    const m = /^Bearer (\S+)$/i.exec(header ?? '')
    if (!m) return false
    const got = Buffer.from(m[1]!)
    return got.length === expected.length && timingSafeEqual(got, expected)
  }

  return server
}

function json(res: ServerResponse, status: number, body: unknown): void {
  // A length, not chunked: a HEAD's answer then ends where its headers do, and a kept-alive socket stays in step.
  const text = JSON.stringify(body) + '\n'
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text)
}

function intParam(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const v = q.get(name)
  if (v === null) return dflt
  const n = Number(v)
  if (!/^\d+$/.test(v) || n < min || n > max) throw new HttpError(400, 'ERR_BAD_REQUEST', `${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(v.slice(0, 40))})`)
  return n
}

function optionalList(v: unknown, name: string): string[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) throw new HttpError(400, 'ERR_BAD_REQUEST', `${name} must be a non-empty list of names`)
  return v as string[]
}

function objectOf(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'ERR_BAD_REQUEST', `${name} must be a JSON object`)
  return v as Record<string, unknown>
}

/** The request body, at most MAX_BODY_BYTES (413 past that, without reading the rest). */
async function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'ERR_BODY_TOO_LARGE', `the body is limited to ${MAX_BODY_BYTES} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'ERR_BODY_TOO_LARGE', `the body is limited to ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req)
  if (text.trim() === '') return {}
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (err) {
    throw new HttpError(400, 'ERR_BAD_JSON', `the body is not JSON: ${(err as Error).message.slice(0, 200)}`)
  }
  return objectOf(v, 'the body')
}

/** Writes one chunk, waiting for 'drain' when the socket's buffer is full; false once the client is gone. */
async function send(res: ServerResponse, text: string): Promise<boolean> {
  if (res.destroyed) return false
  if (res.write(text)) return true
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => () => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      resolve(ok)
    }
    const onDrain = done(true)
    const onClose = done(false)
    res.once('drain', onDrain)
    res.once('close', onClose)
  })
}

/**
 * POST /query `{"sql", "format"?}`: one read-only statement (the engine's own
 * check: DuckDB's statement type; Snowflake's lexical one), streamed in
 * chunks as the warehouse yields them, at the client's pace. `ndjson`
 * (default; what the CLI reads): `{"columns","rows"}` lines, then
 * `{"end":{"rows":N}}` or `{"error":{…}}`. `csv` and `json` are the CLI's
 * own formats. The client leaving interrupts the statement.
 */
async function query(ctx: ControlContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJson(req)
  if (typeof body.sql !== 'string' || body.sql.trim() === '') throw new HttpError(400, 'ERR_USAGE', 'send {"sql": "<one SELECT statement>"}')
  const format = body.format ?? 'ndjson'
  if (format !== 'ndjson' && format !== 'csv' && format !== 'json') throw new HttpError(400, 'ERR_USAGE', 'format must be ndjson, csv or json')
  await ctx.warehouse.assertReadOnly(body.sql)
  const controller = new AbortController()
  res.on('close', () => controller.abort(new PipelineError('ERR_CANCELLED', 'the client closed the query')))
  const it = ctx.warehouse.stream(body.sql, controller.signal)[Symbol.asyncIterator]()
  // The first chunk before the headers: a failing statement still gets a 400.
  let first: IteratorResult<{ columns: string[]; rows: unknown[][] }>
  try {
    first = await it.next()
  } catch (err) {
    await it.return?.()
    throw err
  }
  const chunks = (async function* () {
    if (!first.done) yield first.value
    for (;;) {
      const n = await it.next()
      if (n.done) return
      yield n.value
    }
  })()
  const types = { ndjson: 'application/x-ndjson', csv: 'text/csv', json: 'application/json' }
  res.writeHead(200, { 'content-type': `${types[format]}; charset=utf-8` })
  let count = 0
  try {
    if (format === 'ndjson') {
      for await (const c of chunks) {
        count += c.rows.length
        if (!(await send(res, JSON.stringify(c) + '\n'))) return
      }
      await send(res, JSON.stringify({ end: { rows: count } }) + '\n')
    } else {
      await printResult(chunks, format, res)
    }
    res.end()
  } catch (err) {
    const e = err as Error & { code?: string }
    // Headers are sent: the error goes in the stream, where the CLI reads it.
    if (format === 'ndjson' && !res.destroyed) res.end(JSON.stringify({ error: { code: e.code ?? 'ERR_QUERY', message: e.message } }) + '\n')
    else res.destroy()
  } finally {
    await it.return?.()
  }
}
