import { existsSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../config.js'
import { daemonFile } from '../daemon.js'
import { readToken } from '../daemon/token.js'
import { isErrorCode, PipelineError } from '../errors.js'
import type { RunOptions } from '../dag/orchestrator.js'
import type { RunRecord } from '../dag/runHistory.js'

export interface RunResult {
  run: RunRecord
  /** Each task's result (its job's summary), as the daemon remembers it. */
  results: Record<string, unknown>
}

/**
 * The CLI's side of the control API (daemon/controlServer.ts): found through
 * `$CAREPLUS_HOME/daemon.json`, authorised with `$CAREPLUS_HOME/daemon.token`.
 * The daemon's errors come back as PipelineErrors with its codes.
 */
export class DaemonClient {
  private constructor(
    readonly base: string,
    private readonly token: string | undefined,
    private readonly cfg: Config,
  ) {}

  /** The daemon that holds this home's warehouse, when one answers /healthz; undefined otherwise. */
  static async find(cfg: Config): Promise<DaemonClient | undefined> {
    const file = daemonFile(cfg)
    if (!existsSync(file)) return undefined
    try {
      const { host, port } = JSON.parse(readFileSync(file, 'utf8')) as { host: string; port: number }
      const base = `http://${host}:${port}`
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) })
      if (!res.ok) return undefined
      await res.body?.cancel()
      return new DaemonClient(base, readToken(cfg.home), cfg)
    } catch {
      // Named case: a daemon.json left by a daemon that died answers nothing; the caller works locally.
      return undefined
    }
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (this.token) headers.authorization = `Bearer ${this.token}`
    let res: Response
    try {
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal })
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      throw new PipelineError('ERR_DAEMON', `the daemon at ${this.base} stopped answering: ${(err as Error).message}`)
    }
    if (res.ok) return res
    const e = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } }
    const hint = res.status === 401 && !this.token ? ` (no token in ${this.cfg.home}/daemon.token: run as the daemon's user)` : ''
    throw new PipelineError(isErrorCode(e.error?.code) ? e.error.code : 'ERR_DAEMON', `daemon: ${e.error?.message ?? `HTTP ${res.status}`}${hint}`)
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return (await (await this.request(method, path, body, signal)).json()) as T
  }

  /** POST /query: the rows as the chunks the daemon's warehouse yielded, read as they arrive. */
  async *query(sql: string, signal?: AbortSignal): AsyncIterable<{ columns: string[]; rows: unknown[][] }> {
    const res = await this.request('POST', '/query', { sql }, signal)
    let ended = false
    let buf = ''
    // Read as the caller prints: the socket is read no faster, so the daemon's writes wait (backpressure).
    outer: for await (const piece of res.body!.pipeThrough(new TextDecoderStream())) {
      buf += piece
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line === '') continue
        const m = JSON.parse(line) as { columns?: string[]; rows?: unknown[][]; end?: unknown; error?: { code: string; message: string } }
        if (m.error) throw new PipelineError(isErrorCode(m.error.code) ? m.error.code : 'ERR_DAEMON', m.error.message)
        if (m.end) {
          ended = true
          break outer
        }
        yield { columns: m.columns!, rows: m.rows! }
      }
    }
    if (!ended) throw new PipelineError('ERR_DAEMON', 'the daemon ended the query without its end line (it stopped mid-query?)')
  }

  /**
   * Starts a run; with `waitTurn`, a run already going is waited for (a
   * one-off task queues behind a scheduled run) instead of refused.
   */
  async startRun(body: { logicalDate?: string; trigger?: string } & RunOptions, opts: { waitTurn?: boolean; signal?: AbortSignal; onWait?: (msg: string) => void } = {}): Promise<string> {
    let told = false
    for (;;) {
      try {
        return (await this.call<{ runId: string }>('POST', '/runs', body, opts.signal)).runId
      } catch (err) {
        if (!opts.waitTurn || (err as PipelineError).code !== 'ERR_RUN_IN_PROGRESS') throw err
        if (!told) opts.onWait?.(`${(err as Error).message.replace(/: try again.*$/, '')}: waiting for it to end`)
        told = true
        await sleep(1000, undefined, { signal: opts.signal })
      }
    }
  }

  /** Polls a run until it is no longer running. */
  async waitRun(runId: string, signal?: AbortSignal): Promise<RunResult> {
    for (;;) {
      const r = await this.call<RunResult>('GET', `/runs/${encodeURIComponent(runId)}`, undefined, signal)
      if (r.run.state !== 'running') return r
      await sleep(500, undefined, { signal })
    }
  }
}
