import t from 'tap'
import path from 'node:path'
import { StageWriter } from '../../sinks/stageWriter.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { testRuntime } from '../support/runtime.js'

const AWKWARD = [
  { id: '1', v: null },
  { id: '2', v: '' },
  { id: '3', v: 'quote " and ""double""' },
  { id: '4', v: 'comma, and\nnewline\r\nand CRLF' },
  { id: '5', v: 'back\\slash \\N \\"' },
  { id: '6', v: 'non-ASCII é ü — 日本 ℹ️ 🚀' },
  { id: '7', v: ' leading and trailing spaces ' },
  { id: '8', v: 'NULL' },
]

t.test('COPY from the stage keeps every value byte for byte, NULL apart from empty', async (t) => {
  const rt = await testRuntime(t)
  const wh = rt.warehouse
  await wh.migrate()
  await wh.run('CREATE TABLE bronze.awkward (id VARCHAR, v VARCHAR, _loaded_at TIMESTAMP, _run_id VARCHAR)')
  const writer = new StageWriter({ store: rt.store, keyPrefix: 'stage/awkward/', header: csvHeader(['id', 'v']), maxFileBytes: 1e6 })
  await writer.write(encodeCsvBatch(AWKWARD, ['id', 'v']), AWKWARD.length)
  const files = await writer.close()
  const n = await wh.transaction((tx) =>
    tx.copyFromStage({ table: 'bronze.awkward', csvColumns: ['id', 'v'], files: files.map((f) => f.key), constants: { _loaded_at: '2025-07-01 00:00:00', _run_id: 'r1' } }),
  )
  t.equal(n, AWKWARD.length)
  const rows = await wh.query('SELECT id, v, v IS NULL AS is_null, _run_id FROM bronze.awkward ORDER BY id')
  t.same(
    rows.map((r) => r.v),
    AWKWARD.map((a) => a.v),
  )
  t.same(
    rows.map((r) => r.is_null),
    AWKWARD.map((a) => a.v === null),
  )
  t.ok(rows.every((r) => r._run_id === 'r1'))
})

t.test("a COPY runs under the load's own settings, and the instance's come back after it, also when it fails", async (t) => {
  const rt = await testRuntime(t)
  const wh = rt.warehouse
  await wh.migrate()
  const settings = async () =>
    (await wh.query("SELECT current_setting('memory_limit') AS m, current_setting('preserve_insertion_order') AS p, current_setting('threads') AS n"))[0]
  const before = await settings()
  t.match(before, { p: true }, 'insertion order kept outside loads')
  await wh.run('CREATE TABLE bronze.awkward (id VARCHAR, v VARCHAR, _loaded_at TIMESTAMP, _run_id VARCHAR)')
  const writer = new StageWriter({ store: rt.store, keyPrefix: 'stage/settings/', header: csvHeader(['id', 'v']), maxFileBytes: 1e6 })
  await writer.write(encodeCsvBatch(AWKWARD, ['id', 'v']), AWKWARD.length)
  const files = await writer.close()
  const spec = { table: 'bronze.awkward', csvColumns: ['id', 'v'], files: files.map((f) => f.key), constants: { _loaded_at: '2025-07-01 00:00:00', _run_id: 'r1' } }
  let during: unknown
  await wh.transaction(async (tx) => {
    await tx.copyFromStage(spec)
    during = (await tx.query("SELECT current_setting('preserve_insertion_order') AS p"))[0]
  })
  t.same(await settings(), before, 'the instance settings after a COPY')
  t.same(during, { p: true }, 'and already right after it, inside the transaction')
  // A COPY that fails (a constant the column type refuses) restores them too.
  await t.rejects(wh.transaction((tx) => tx.copyFromStage({ ...spec, constants: { _loaded_at: 'not a time', _run_id: 'r2' } })))
  t.same(await settings(), before, 'the instance settings after a failed COPY')
})

t.test('a failed transaction leaves nothing, and the next one works', async (t) => {
  const rt = await testRuntime(t)
  const wh = rt.warehouse
  await wh.migrate()
  await wh.run('CREATE TABLE bronze.t (x INTEGER)')
  await t.rejects(
    wh.transaction(async (tx) => {
      await tx.run('INSERT INTO bronze.t VALUES (1), (2)')
      throw new Error('boom')
    }),
    { message: 'boom' },
  )
  t.same(await wh.query('SELECT count(*) AS n FROM bronze.t'), [{ n: 0 }])
  await wh.transaction((tx) => tx.run('INSERT INTO bronze.t VALUES (3)'))
  const fresh = await rt.reopenWarehouse()
  t.same(await fresh.query('SELECT x FROM bronze.t'), [{ x: 3 }], 'committed data survives a reopen')
})

t.test('statements from concurrent callers never interleave inside a transaction', async (t) => {
  const rt = await testRuntime(t)
  const wh = rt.warehouse
  await wh.migrate()
  await wh.run('CREATE TABLE bronze.c (k INTEGER, x INTEGER)')
  await Promise.all(
    Array.from({ length: 8 }, (_, k) =>
      wh
        .transaction(async (tx) => {
          for (let i = 0; i < 5; i++) {
            await tx.run('INSERT INTO bronze.c VALUES (?, ?)', [k, i])
            await new Promise((r) => setImmediate(r))
          }
          if (k % 2 === 1) throw new Error(`fail ${k}`)
        })
        .catch(() => {}),
    ),
  )
  const rows = await wh.query('SELECT k, count(*) AS n FROM bronze.c GROUP BY k ORDER BY k')
  t.same(rows, [0, 2, 4, 6].map((k) => ({ k, n: 5 })), 'even transactions committed whole, odd ones not at all')
})

t.test('a second process cannot open the file while it is held: a clear error', async (t) => {
  const rt = await testRuntime(t)
  await rt.warehouse.migrate()
  const { spawnSync } = await import('node:child_process')
  const script = `import('${path.join(process.cwd(), 'dist/src/warehouse/duckdbWarehouse.js')}').then(m => m.DuckDbWarehouse.open({ file: process.argv[1], tmpDir: process.argv[2] })).then(() => console.log('opened'), (e) => console.log(e.code + ' ' + e.message))`
  const r = spawnSync(process.execPath, ['-e', script, path.join(rt.home, 'warehouse.duckdb'), path.join(rt.home, 'tmp')], { encoding: 'utf8' })
  t.match(r.stdout, /^ERR_WAREHOUSE_LOCKED DuckDB file .* is in use by another process/)
})

t.test('a lock released within the wait of an open is taken: the open succeeds once the holder exits', async (t) => {
  const home = t.testdir()
  const file = path.join(home, 'held.duckdb')
  const { spawn } = await import('node:child_process')
  const { once } = await import('node:events')
  const { DuckDbWarehouse } = await import('../../src/warehouse/duckdbWarehouse.js')
  // Holds the file, says so, and exits 500 ms later without closing (as a killed process lets go).
  const script = `import('${path.join(process.cwd(), 'dist/src/warehouse/duckdbWarehouse.js')}').then(m => m.DuckDbWarehouse.open({ file: process.argv[1], tmpDir: process.argv[2] })).then((wh) => { globalThis.held = wh; console.log('held'); setTimeout(() => process.exit(0), 500) })`
  const holder = spawn(process.execPath, ['-e', script, file, path.join(home, 'tmp-holder')], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => void holder.kill('SIGKILL'))
  await once(holder.stdout!, 'data')
  const exited = once(holder, 'exit')
  const wh = await DuckDbWarehouse.open({ file, tmpDir: path.join(home, 'tmp') })
  t.teardown(() => wh.close())
  t.equal(holder.exitCode, 0, 'the holder had exited by the time the open got the file')
  await exited
  t.same(await wh.query('SELECT 1 AS one'), [{ one: 1 }])
})

t.test('an abort signal interrupts the running statement (DuckDB interrupt) and rejects with its reason', async (t) => {
  const { freshWarehouse } = await import('../transform/fixtures/bronze.js')
  const wh = await freshWarehouse(t)
  // Billions of rows: minutes of work unless the interrupt stops it.
  const long = 'SELECT sum(i * i) AS s FROM range(100000000000) AS r(i)'
  for (const call of ['query', 'run', 'tx.query', 'stream'] as const) {
    const controller = new AbortController()
    const reason = new Error(`cancelled ${call}`)
    setTimeout(() => controller.abort(reason), 200)
    const work =
      call === 'query'
        ? wh.query(long, undefined, controller.signal)
        : call === 'run'
          ? wh.run(long, undefined, controller.signal)
          : call === 'tx.query'
            ? wh.transaction((tx) => tx.query(long, undefined, controller.signal))
            : (async () => {
                for await (const c of wh.stream(long, controller.signal)) void c
              })()
    await t.rejects(work.then(() => {}), reason, call)
  }
  t.same(await wh.query('SELECT 42 AS n'), [{ n: 42 }], 'the connection is usable afterwards')
  const aborted = AbortSignal.abort(new Error('already'))
  await t.rejects(wh.query('SELECT 1', undefined, aborted), { message: 'already' }, 'an aborted signal sends nothing')
})
