import { isTransient } from '../errors.js'
import { withQueryTag } from '../warehouse/queryTag.js'
import type { Warehouse, WarehouseTx } from '../warehouse/warehouse.js'
import type { WarehouseCancel, WarehouseReply, WarehouseRequest } from './protocol.js'

interface OpenTx {
  owner: string
  tx: Promise<WarehouseTx>
  finish: (commit: boolean) => void
  done: Promise<unknown>
  /** Statements of this transaction still executing: it ends only after them. */
  busy: Set<Promise<unknown>>
}

/**
 * The owner side of RemoteWarehouse: executes the workers' calls on the one
 * warehouse connection of this process. A transaction holds the warehouse's
 * queue until its worker commits or rolls back, and is rolled back when its
 * worker goes away without saying (a crash, a terminate after cancel). A
 * worker's cancel aborts its statement in the engine (the signal every
 * Warehouse statement takes: DuckDB's interrupt, Snowflake's abort-request).
 */
export class WarehouseHost {
  private nextTx = 1
  private readonly txs = new Map<number, OpenTx>()
  private readonly inFlight = new Map<string, AbortController>()

  constructor(private readonly warehouse: Warehouse) {}

  async handle(owner: string, req: WarehouseRequest, reply: (r: WarehouseReply) => void): Promise<void> {
    const key = `${owner}\u0000${req.id}`
    const controller = new AbortController()
    this.inFlight.set(key, controller)
    try {
      reply({ type: 'warehouse-reply', id: req.id, result: await withQueryTag(req.tag, () => this.execute(owner, req, controller.signal)) })
    } catch (err) {
      const e = err as Error & { code?: string }
      const cancelled = controller.signal.aborted
      reply({ type: 'warehouse-reply', id: req.id, error: { message: e.message, code: e.code, transient: !cancelled && isTransient(e), cancelled } })
    } finally {
      this.inFlight.delete(key)
    }
  }

  /** The worker's signal aborted: abort that request's statement. */
  cancel(owner: string, msg: WarehouseCancel): void {
    this.inFlight.get(`${owner}\u0000${msg.id}`)?.abort(new Error('cancelled by the job'))
  }

  /** Statements of `owner` still executing (a cancelled one ends once the engine has stopped it). */
  pending(owner: string): number {
    let n = 0
    for (const k of this.inFlight.keys()) if (k.startsWith(owner + '\u0000')) n++
    return n
  }

  /** Aborts whatever an owner still has executing, then rolls back what it left open. */
  async release(owner: string): Promise<void> {
    for (const [k, c] of this.inFlight) if (k.startsWith(owner + '\u0000')) c.abort(new Error('the job ended'))
    for (const [id, t] of this.txs) {
      if (t.owner !== owner) continue
      this.txs.delete(id)
      await Promise.allSettled(t.busy)
      t.finish(false)
      await t.done.catch(() => {})
    }
  }

  private async execute(owner: string, req: WarehouseRequest, signal: AbortSignal): Promise<unknown> {
    const wh = this.warehouse
    if (req.op === 'begin') {
      const id = this.nextTx++
      let enter!: (tx: WarehouseTx) => void
      let finish!: (commit: boolean) => void
      const tx = new Promise<WarehouseTx>((r) => (enter = r))
      const decided = new Promise<boolean>((r) => (finish = r))
      const done = wh.transaction(async (t) => {
        enter(t)
        if (!(await decided)) throw new RollbackRequested()
      })
      done.catch(() => {})
      this.txs.set(id, { owner, tx, finish, done, busy: new Set() })
      await tx
      return id
    }
    if (req.tx !== undefined) {
      const open = this.txs.get(req.tx)
      if (!open) throw new Error(`transaction ${req.tx} is not open`)
      if (req.op === 'commit' || req.op === 'rollback') {
        this.txs.delete(req.tx)
        // A cancelled statement may still be stopping in the engine: the transaction ends after it.
        await Promise.allSettled(open.busy)
        open.finish(req.op === 'commit')
        await open.done.catch((err: unknown) => {
          if (!(err instanceof RollbackRequested)) throw err
        })
        return null
      }
      const t = await open.tx
      const work =
        req.op === 'run' ? t.run(req.sql!, req.params, signal) : req.op === 'query' ? t.query(req.sql!, req.params, signal) : req.op === 'copyFromStage' ? t.copyFromStage(req.spec!, signal) : undefined
      if (!work) throw new Error(`unknown warehouse op ${req.op}`)
      open.busy.add(work)
      try {
        return await work
      } finally {
        open.busy.delete(work)
      }
    }
    if (req.op === 'migrate') return wh.migrate()
    if (req.op === 'run') return wh.run(req.sql!, req.params, signal)
    if (req.op === 'query') return wh.query(req.sql!, req.params, signal)
    throw new Error(`unknown warehouse op ${req.op}`)
  }
}

class RollbackRequested extends Error {}
