import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createInterface } from 'node:readline'
import { loadConfig } from '../../src/config.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { ingestLogs } from '../../src/pipelines/ingestLogs.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { withRuntime } from '../../src/runtime.js'
import { stageReader } from '../../src/s3/objectStore.js'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import type { Warehouse } from '../../src/warehouse/warehouse.js'
import { WarehouseProcess } from '../../src/warehouse/warehouseProcess.js'
import { testRuntime } from '../support/runtime.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50)
  return !alive(pid)
}

/** A WarehouseProcess over `<home>/<name>.duckdb`, its stage the test runtime's embedded S3 server. */
async function openIn(rt: Awaited<ReturnType<typeof testRuntime>>, name: string): Promise<WarehouseProcess> {
  return WarehouseProcess.open({
    file: path.join(rt.home, `${name}.duckdb`),
    tmpDir: path.join(rt.home, `tmp-${name}`),
    stage: stageReader(rt.store),
  })
}

t.test('an ingest with its warehouse in a child process loads every block, and the child exits at close', async (t) => {
  const home = t.testdir()
  const cfg = loadConfig({ CAREPLUS_HOME: home, LOG_LEVEL: 'silent' }, home)
  const gen = await generateLogs({ outDir: path.join(home, 'logs'), days: 3, events: 400, seed: 5 })
  let wh: Warehouse | undefined
  const summary = await withRuntime(
    cfg,
    async (rt) => {
      wh = rt.warehouse
      t.ok(rt.warehouse instanceof WarehouseProcess, 'the runtime hands out the child-process warehouse')
      await uploadLogs({ store: rt.store, prefix: cfg.S3_LOGS_PREFIX, paths: [path.join(home, 'logs')], concurrency: 2 })
      return ingestLogs({ ...rt })
    },
    { warehouseInChildProcess: true },
  )
  const child = wh as WarehouseProcess
  t.equal(summary.objectsLoaded, 3)
  t.equal(summary.rows, gen.events)
  t.ok(child.peakRssMib! > 20, `the child reported its peak RSS (${child.peakRssMib?.toFixed(1)} MiB)`)
  t.ok(await gone(child.pid!), 'the child has exited')
  const check = await DuckDbWarehouse.open({ file: path.join(home, 'warehouse.duckdb'), tmpDir: path.join(home, 'tmp-check') })
  t.teardown(() => check.close())
  const [rows] = await check.query('SELECT count(*) AS n FROM bronze.logs')
  const [ledger] = await check.query('SELECT count(*) AS n FROM ops.load_ledger')
  t.equal(rows!.n, gen.events, 'every block is in bronze, committed by the child')
  t.equal(ledger!.n, 3)
})

t.test('transactions in the child commit whole or not at all, and errors cross with their message', async (t) => {
  const rt = await testRuntime(t)
  const wh = await openIn(rt, 'tx')
  t.teardown(() => wh.close())
  await wh.migrate()
  await wh.run('CREATE TABLE bronze.t (k INTEGER)')
  await t.rejects(
    wh.transaction(async (tx) => {
      await tx.run('INSERT INTO bronze.t VALUES (?)', [1])
      throw new Error('the caller fails')
    }),
    /the caller fails/,
  )
  await wh.transaction((tx) => tx.run('INSERT INTO bronze.t VALUES (?), (?)', [2, 3]))
  t.same(await wh.query('SELECT k FROM bronze.t ORDER BY k'), [{ k: 2 }, { k: 3 }], 'the failed transaction left nothing')
  await t.rejects(wh.query('SELECT * FROM bronze.missing'), /missing/)
  // The parent downloads the COPY's staged file for the child: its failure, code and all, reaches the COPY, which rolls back.
  await t.rejects(
    wh.transaction(async (tx) => {
      await tx.run('INSERT INTO bronze.t VALUES (?)', [4])
      await tx.copyFromStage({ table: 'bronze.t', csvColumns: ['k'], files: ['stage/no-such-file.csv.gz'], constants: {} })
    }),
    { code: 'ERR_OBJECT_GONE', message: /no-such-file/ },
  )
  t.same(await wh.query('SELECT count(*) AS n FROM bronze.t'), [{ n: 2 }], 'the COPY that failed left nothing')
})

t.test('while another process holds the file, opening fails with ERR_WAREHOUSE_LOCKED', async (t) => {
  const rt = await testRuntime(t)
  await t.rejects(
    WarehouseProcess.open({
      file: path.join(rt.home, 'warehouse.duckdb'),
      tmpDir: path.join(rt.home, 'tmp-2'),
    }),
    { code: 'ERR_WAREHOUSE_LOCKED', message: /is in use by another process/ },
  )
})

t.test('the child dying mid-statement fails the call as transient, and every later call', async (t) => {
  const rt = await testRuntime(t)
  const wh = await openIn(rt, 'crash')
  t.teardown(() => wh.close())
  const long = wh.query('SELECT sum(i * i) AS s FROM range(100000000000) AS r(i)')
  await sleep(200)
  process.kill(wh.pid!, 'SIGKILL')
  await t.rejects(long, { code: 'ERR_WAREHOUSE', transient: true, message: /warehouse process exited unexpectedly \(SIGKILL\)/ })
  await t.rejects(wh.query('SELECT 1'), { code: 'ERR_WAREHOUSE' })
  await wh.close()
})

t.test('kill -9 of the parent: the child exits at once, its transaction uncommitted, and the file opens again', async (t) => {
  const rt = await testRuntime(t)
  const file = path.join(rt.home, 'orphan.duckdb')
  const script = `
    const { WarehouseProcess } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/warehouse/warehouseProcess.js'))})
    const [file, tmpDir] = process.argv.slice(1)
    const wh = await WarehouseProcess.open({ file, tmpDir })
    await wh.migrate()
    await wh.run('CREATE TABLE bronze.t (k INTEGER)')
    void wh.transaction(async (tx) => {
      await tx.run('INSERT INTO bronze.t VALUES (1)')
      console.log(wh.pid)
      await new Promise(() => {})
    })`
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script, file, path.join(rt.home, 'tmp-orphan')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [line] = (await once(createInterface({ input: parent.stdout! }), 'line')) as [string]
  const childPid = Number(line)
  t.ok(alive(childPid), 'the child runs, a transaction open')
  parent.kill('SIGKILL')
  await once(parent, 'exit')
  t.ok(await gone(childPid), 'the child exited when its parent died')
  const check = await DuckDbWarehouse.open({ file, tmpDir: path.join(rt.home, 'tmp-check') })
  t.teardown(() => check.close())
  t.same(await check.query('SELECT count(*) AS n FROM bronze.t'), [{ n: 0 }], 'the open transaction did not commit')
})
