import { withQueryTag } from '../warehouse/queryTag.js'
import type { Warehouse, WarehouseTx } from '../warehouse/warehouse.js'
import type { WarehouseReply, WarehouseRequest } from '../warehouse/remoteWarehouse.js'

interface OpenTx {
  owner: string
  tx: Promise<WarehouseTx>
  finish: (commit: boolean) => void
  done: Promise<unknown>
}

/**
 * The owner side of RemoteWarehouse: executes the workers' calls on the one
 * warehouse connection of this process. A transaction holds the warehouse's
 * queue until its worker commits or rolls back, and is rolled back when its
 * worker goes away without saying (a crash, a terminate after cancel).
 */
export class WarehouseHost {
  private nextTx = 1
  private readonly txs = new Map<number, OpenTx>()

  constructor(private readonly warehouse: Warehouse) {}

  async handle(owner: string, req: WarehouseRequest, reply: (r: WarehouseReply) => void): Promise<void> {
    try {
      reply({ type: 'warehouse-reply', id: req.id, result: await withQueryTag(req.tag, () => this.execute(owner, req)) })
    } catch (err) {
      const e = err as Error & { code?: string }
      reply({ type: 'warehouse-reply', id: req.id, error: { message: e.message, code: e.code } })
    }
  }

  /** Rolls back whatever an owner left open. */
  async release(owner: string): Promise<void> {
    for (const [id, t] of this.txs) {
      if (t.owner !== owner) continue
      this.txs.delete(id)
      t.finish(false)
      await t.done.catch(() => {})
    }
  }

  private async execute(owner: string, req: WarehouseRequest): Promise<unknown> {
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
      this.txs.set(id, { owner, tx, finish, done })
      await tx
      return id
    }
    if (req.tx !== undefined) {
      const open = this.txs.get(req.tx)
      if (!open) throw new Error(`transaction ${req.tx} is not open`)
      if (req.op === 'commit' || req.op === 'rollback') {
        this.txs.delete(req.tx)
        open.finish(req.op === 'commit')
        await open.done.catch((err: unknown) => {
          if (!(err instanceof RollbackRequested)) throw err
        })
        return null
      }
      const t = await open.tx
      if (req.op === 'run') return t.run(req.sql!, req.params)
      if (req.op === 'query') return t.query(req.sql!, req.params)
      if (req.op === 'copyFromStage') return t.copyFromStage(req.spec!)
    }
    if (req.op === 'migrate') return wh.migrate()
    if (req.op === 'run') return wh.run(req.sql!, req.params)
    if (req.op === 'query') return wh.query(req.sql!, req.params)
    throw new Error(`unknown warehouse op ${req.op}`)
  }
}

class RollbackRequested extends Error {}
