import t from 'tap'
import path from 'node:path'
import { MessageChannel } from 'node:worker_threads'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import { RemoteWarehouse } from '../../src/warehouse/remoteWarehouse.js'
import { WarehouseHost } from '../../src/dag/warehouseHost.js'
import { isWarehouseCancel, isWarehouseRequest } from '../../src/dag/protocol.js'
import { PipelineError } from '../../src/errors.js'

/** A statement DuckDB needs minutes for: only an interrupt ends it early. */
const SLOW = 'SELECT sum(hash(i) % 7) AS s FROM range(20000000000) t(i)'

/** The two ends of the protocol over a real MessageChannel, wired as the orchestrator wires Bree's workers. */
async function setup(t: Tap.Test) {
  const dir = t.testdir()
  const wh = await DuckDbWarehouse.open({ file: path.join(dir, 'w.duckdb'), tmpDir: path.join(dir, 'tmp') })
  const host = new WarehouseHost(wh)
  const { port1, port2 } = new MessageChannel()
  const cancels: number[] = []
  port2.on('message', (m: unknown) => {
    if (isWarehouseRequest(m)) void host.handle('job', m, (r) => port2.postMessage(r))
    else if (isWarehouseCancel(m)) {
      cancels.push(m.id)
      host.cancel('job', m)
    }
  })
  const remote = new RemoteWarehouse('duckdb', port1)
  t.teardown(async () => {
    await remote.close()
    port1.close()
    port2.close()
    await wh.close()
  })
  return { wh, host, remote, cancels }
}

declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0]
}

t.test('an abort in the worker cancels its statement in the owner: DuckDB interrupts it, the warehouse is free again', async (t) => {
  const { host, remote, cancels } = await setup(t)
  const controller = new AbortController()
  const started = performance.now()
  const slow = remote.query(SLOW, [], controller.signal)
  setTimeout(() => controller.abort(new PipelineError('ERR_CANCELLED', 'job cancelled')), 300)
  await t.rejects(slow, { code: 'ERR_CANCELLED', message: 'job cancelled' }, 'the caller sees its own abort reason')
  // The next statement queues behind the interrupted one: it answering means DuckDB stopped the first.
  t.same(await remote.query('SELECT 42 AS n'), [{ n: 42 }])
  t.equal(cancels.length, 1, 'one cancel crossed the thread boundary')
  t.equal(host.pending('job'), 0, 'nothing left executing for the job')
  t.ok(performance.now() - started < 60_000, 'interrupted, not run to its end')

  await t.rejects(remote.run('SELECT 1', [], AbortSignal.abort(new Error('already'))), { message: 'already' }, 'an aborted signal sends nothing')
  t.equal(cancels.length, 1)
})

t.test('inside a transaction: the cancelled statement ends before the rollback; nothing of it stays', async (t) => {
  const { remote, cancels } = await setup(t)
  await remote.run('CREATE TABLE kept (n INTEGER)')
  const controller = new AbortController()
  const tx = remote.transaction(async (x) => {
    await x.run('INSERT INTO kept VALUES (1)')
    setTimeout(() => controller.abort(new PipelineError('ERR_CANCELLED', 'stopping')), 300)
    await x.query(SLOW, [], controller.signal)
  })
  await t.rejects(tx, { code: 'ERR_CANCELLED' })
  t.equal(cancels.length, 1)
  t.same(await remote.query('SELECT count(*) AS n FROM kept'), [{ n: 0 }], 'rolled back')
  t.same(await remote.transaction((x) => x.query('SELECT 7 AS n')), [{ n: 7 }], 'the next transaction runs')
})

t.test('errors cross the boundary with their code and whether a retry can help', async (t) => {
  const { remote } = await setup(t)
  const err = (await remote.query('SELECT * FROM no_such_table').catch((e: unknown) => e)) as PipelineError
  t.match(err, { code: 'ERR_WAREHOUSE', transient: false, message: /no_such_table/ })
})
