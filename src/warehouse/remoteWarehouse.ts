import type { MessagePort } from 'node:worker_threads'
import { assertReadOnlySql } from './readOnlySql.js'
import { PipelineError } from '../errors.js'
import { currentQueryTag, type QueryTag } from './queryTag.js'
import type { CopySpec, Row, Warehouse, WarehouseTx } from './warehouse.js'

/** Messages between a job's worker thread and the warehouse owner in the main thread. */
export type WarehouseRequest = {
  type: 'warehouse'
  id: number
  op: 'migrate' | 'run' | 'query' | 'begin' | 'commit' | 'rollback' | 'copyFromStage'
  tx?: number
  sql?: string
  params?: readonly unknown[]
  spec?: CopySpec
  /** The caller's query tag (its run), for the owner to issue the statement under. */
  tag?: QueryTag
}
export type WarehouseReply = { type: 'warehouse-reply'; id: number; result?: unknown; error?: { message: string; code?: string } }

export function isWarehouseRequest(m: unknown): m is WarehouseRequest {
  return typeof m === 'object' && m !== null && (m as { type?: string }).type === 'warehouse'
}

/**
 * The warehouse as a job in a worker thread sees it: every call is a message
 * to the one owner of the warehouse connection in the main thread. Two
 * workers opening the same DuckDB file themselves would corrupt each other's
 * writes (DuckDB's lock is per process); through the owner they queue.
 */
export class RemoteWarehouse implements Warehouse {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private readonly onMessage = (m: unknown): void => {
    if (typeof m !== 'object' || m === null || (m as WarehouseReply).type !== 'warehouse-reply') return
    const reply = m as WarehouseReply
    const p = this.pending.get(reply.id)
    if (!p) return
    this.pending.delete(reply.id)
    if (reply.error) p.reject(new PipelineError(reply.error.code ?? 'ERR_WAREHOUSE', reply.error.message))
    else p.resolve(reply.result)
  }

  constructor(
    readonly engine: 'duckdb' | 'snowflake',
    private readonly port: MessagePort,
  ) {
    port.on('message', this.onMessage)
  }

  private call<T>(req: Omit<WarehouseRequest, 'type' | 'id'>): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.port.postMessage({ type: 'warehouse', id, ...req, tag: currentQueryTag() } satisfies WarehouseRequest)
    })
  }

  migrate(): Promise<void> {
    return this.call({ op: 'migrate' })
  }
  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.call({ op: 'run', sql, params })
  }
  query(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.call({ op: 'query', sql, params })
  }
  async transaction<T>(fn: (tx: WarehouseTx) => Promise<T>): Promise<T> {
    const tx = await this.call<number>({ op: 'begin' })
    const handle: WarehouseTx = {
      run: (sql, params) => this.call({ op: 'run', tx, sql, params }),
      query: (sql, params) => this.call({ op: 'query', tx, sql, params }),
      copyFromStage: (spec) => this.call({ op: 'copyFromStage', tx, spec }),
    }
    try {
      const out = await fn(handle)
      await this.call({ op: 'commit', tx })
      return out
    } catch (err) {
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
