import { isErrorCode, PipelineError } from '../errors.js'
import type { WarehouseCancel, WarehouseReply, WarehouseRequest } from '../dag/protocol.js'
import { currentQueryTag } from './queryTag.js'
import { assertReadOnlySql } from './readOnlySql.js'
import type { CopySpec, Row, Warehouse, WarehouseTx } from './warehouse.js'

/** What carries the messages to the warehouse's owner: a worker's parentPort, or a child process's IPC channel (warehouseProcess.ts). */
export interface WarehousePort {
  postMessage(message: unknown): void
  on(event: 'message', listener: (message: unknown) => void): unknown
  off(event: 'message', listener: (message: unknown) => void): unknown
}

/**
 * The warehouse as a job in a worker thread sees it: every call is a message
 * to the one owner of the warehouse connection in the main thread. Two
 * workers opening the same DuckDB file themselves would corrupt each other's
 * writes (DuckDB's lock is per process); through the owner they queue.
 * A call's abort signal crosses the thread: when it aborts, a cancel for the
 * request goes to the owner, which aborts that statement in the engine, and
 * the call rejects with the signal's reason.
 */
export class RemoteWarehouse implements Warehouse {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  /** Set once the owner is gone (abandon). */
  private gone: Error | undefined
  private readonly onMessage = (m: unknown): void => {
    if (typeof m !== 'object' || m === null || (m as WarehouseReply).type !== 'warehouse-reply') return
    const reply = m as WarehouseReply
    const p = this.pending.get(reply.id)
    if (!p) return
    this.pending.delete(reply.id)
    if (reply.error) {
      const { code, message, transient } = reply.error
      p.reject(new PipelineError(isErrorCode(code) ? code : 'ERR_WAREHOUSE', message, { transient }))
    } else p.resolve(reply.result)
  }

  constructor(
    readonly engine: 'duckdb' | 'snowflake',
    private readonly port: WarehousePort,
  ) {
    port.on('message', this.onMessage)
  }

  /** The owner is gone (its process exited): every call in flight rejects with `err`, and so does every later one. */
  protected abandon(err: Error): void {
    this.gone = err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }

  private call<T>(req: Omit<WarehouseRequest, 'type' | 'id'>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error)
    if (this.gone) return Promise.reject(this.gone)
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.port.postMessage({ type: 'warehouse-cancel', id } satisfies WarehouseCancel)
        // The reply (the engine's cancel error, or a result that won the race) is dropped: the caller sees the abort.
        this.pending.delete(id)
        reject(signal!.reason as Error)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): void => signal?.removeEventListener('abort', onAbort)
      this.pending.set(id, {
        resolve: (v) => (done(), resolve(v as T)),
        reject: (e) => (done(), reject(e)),
      })
      this.port.postMessage({ type: 'warehouse', id, ...req, tag: currentQueryTag() } satisfies WarehouseRequest)
    })
  }

  migrate(): Promise<void> {
    return this.call({ op: 'migrate' })
  }
  run(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<number> {
    return this.call({ op: 'run', sql, params }, signal)
  }
  query(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<Row[]> {
    return this.call({ op: 'query', sql, params }, signal)
  }
  async transaction<T>(fn: (tx: WarehouseTx) => Promise<T>): Promise<T> {
    const tx = await this.call<number>({ op: 'begin' })
    const handle: WarehouseTx = {
      run: (sql, params, signal) => this.call({ op: 'run', tx, sql, params }, signal),
      query: (sql, params, signal) => this.call({ op: 'query', tx, sql, params }, signal),
      copyFromStage: (spec: CopySpec, signal) => this.call({ op: 'copyFromStage', tx, spec }, signal),
    }
    try {
      const out = await fn(handle)
      await this.call({ op: 'commit', tx })
      return out
    } catch (err) {
      // Named case: a rollback that fails (the worker's port closing) is settled by the host's release of the worker.
      await this.call({ op: 'rollback', tx }).catch(() => {})
      throw err
    }
  }
  // eslint-disable-next-line require-yield
  async assertReadOnly(sql: string): Promise<void> {
    assertReadOnlySql(sql)
  }

  async *stream(): AsyncIterable<{ columns: string[]; rows: unknown[][] }> {
    throw new PipelineError('ERR_WAREHOUSE', 'streaming queries are not available inside a job')
  }
  async close(): Promise<void> {
    this.port.off('message', this.onMessage)
  }
}
