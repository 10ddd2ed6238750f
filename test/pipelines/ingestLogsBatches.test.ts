import t, { type Test } from 'tap'
import path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { ingestLogs } from '../../src/pipelines/ingestLogs.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import type { Warehouse, WarehouseTx } from '../../src/warehouse/warehouse.js'
import { testRuntime, type TestRuntime } from '../support/runtime.js'

async function count(wh: Warehouse, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await wh.query(sql, params)
  return Number(Object.values(row!)[0])
}

/** The real warehouse, with every statement sent inside its transactions written down. */
function recording(wh: Warehouse): { warehouse: Warehouse; statements: string[]; transactions: () => number } {
  const statements: string[] = []
  let transactions = 0
  const warehouse = Object.create(wh) as Warehouse
  warehouse.transaction = (fn) =>
    wh.transaction((tx) => {
      transactions++
      const seen: WarehouseTx = {
        run: (sql, params) => (statements.push(sql), tx.run(sql, params)),
        query: (sql, params) => (statements.push(sql), tx.query(sql, params)),
        copyFromStage: (spec, signal) => (statements.push(`COPY ${spec.table} ${spec.files.length} files`), tx.copyFromStage(spec, signal)),
      }
      return fn(seen)
    })
  return { warehouse, statements, transactions: () => transactions }
}

/** Every object's rows and rejects in bronze equal its ledger row, each block once. */
async function assertExact(t: Test, rt: TestRuntime, objects: number, events: number): Promise<void> {
  const wh = rt.warehouse
  t.equal(await count(wh, 'SELECT count(*) FROM ops.load_ledger'), objects, 'one ledger row per object')
  t.equal(await count(wh, 'SELECT count(*) FROM bronze.logs') + (await count(wh, 'SELECT count(*) FROM bronze.log_rejects')), events, 'every block a row or a reject')
  t.equal(await count(wh, 'SELECT count(*) FROM (SELECT DISTINCT _source_file, _source_line FROM bronze.logs)'), await count(wh, 'SELECT count(*) FROM bronze.logs'), 'no block twice')
  t.same(
    await wh.query(`SELECT l.object_key FROM ops.load_ledger l
      WHERE l.rows_loaded <> (SELECT count(*) FROM bronze.logs b WHERE b._source_file = l.object_key)
         OR l.rejects <> (SELECT count(*) FROM bronze.log_rejects r WHERE r._source_file = l.object_key)
         OR l.blocks <> l.rows_loaded + l.rejects`),
    [],
    'each ledger row matches its rows in bronze',
  )
}

t.test('objects make batches of at most LOAD_BATCH_MAX_OBJECTS: one transaction, one COPY per table, shared staged files', async (t) => {
  const rt = await testRuntime(t, { LOAD_BATCH_MAX_OBJECTS: '10', INGEST_CONCURRENCY: '4' })
  const dir = path.join(rt.home, 'logs')
  const gen = await generateLogs({ outDir: dir, days: 45, events: 900, seed: 11 })
  await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [dir], concurrency: 8 })
  const { warehouse, statements, transactions } = recording(rt.warehouse)

  const s = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse })
  t.match(s, { objectsLoaded: 45, batches: 5, blocks: gen.events })
  t.equal(transactions(), 5, 'one transaction per batch')
  t.equal(statements.filter((x) => x.startsWith('COPY bronze.logs')).length, 5, 'one COPY of bronze.logs per batch')
  t.equal(statements.filter((x) => /^COPY bronze\.log_rejects/.test(x)).length, 5, 'and one of bronze.log_rejects (an empty file list sends nothing)')
  t.equal(s.stagedFiles, 5, 'one rows file per batch: the objects of a batch share it')
  t.equal(statements.filter((x) => x.startsWith('DELETE FROM bronze.')).length, 0, 'new objects: nothing deleted')
  t.equal(await count(rt.warehouse, 'SELECT count(DISTINCT _source_file) FROM bronze.logs'), 45)
  await assertExact(t, rt, 45, gen.events)

  // Two objects change; the others stay.
  const changed = ['logs/careplus-2025-07-03.log', 'logs/careplus-2025-08-10.log']
  for (const key of changed) await rt.store.client.send(new PutObjectCommand({ Bucket: rt.store.bucket, Key: key, Body: Buffer.from('') }))
  statements.length = 0
  const again = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse })
  t.match(again, { objectsLoaded: 2, objectsUnchanged: 43, batches: 1, blocks: 0 })
  const deletes = statements.filter((x) => x.startsWith('DELETE FROM bronze.'))
  t.equal(deletes.length, 2, 'one DELETE per table, for the changed objects only')
  t.equal(await count(rt.warehouse, 'SELECT count(*) FROM bronze.logs WHERE _source_file IN (?, ?)', changed), 0, 'their old rows are gone')
  t.same(
    (await rt.warehouse.query('SELECT object_key, blocks FROM ops.load_ledger WHERE object_key IN (?, ?) ORDER BY 1', changed)),
    changed.map((object_key) => ({ object_key, blocks: 0 })),
    'and their ledger rows describe the new (empty) versions',
  )
})

t.test('a batch also closes at STAGE_FILE_MAX_BYTES of staged data, and a big object spans several files', async (t) => {
  const rt = await testRuntime(t, { STAGE_FILE_MAX_BYTES: '65536', INGEST_CONCURRENCY: '1' })
  const dir = path.join(rt.home, 'logs')
  const gen = await generateLogs({ outDir: dir, days: 4, sizeBytes: 4_000_000, seed: 5 })
  await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [dir], concurrency: 4 })
  const s = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.equal(s.objectsLoaded, 4)
  t.ok(s.batches > 1 && s.batches <= 4, `the staged bytes closed batches early (${s.batches} batches)`)
  t.ok(s.stagedFiles > s.batches, `objects larger than a staged file span several (${s.stagedFiles} files)`)
  await assertExact(t, rt, 4, gen.events)
})

t.test('a failure inside a batch commits none of it; the batches before stay; the next run completes', async (t) => {
  // MAX_FAILED_OBJECTS=0: a bad object fails the run rather than being quarantined.
  const rt = await testRuntime(t, { LOAD_BATCH_MAX_OBJECTS: '5', INGEST_CONCURRENCY: '2', MAX_FAILED_OBJECTS: '0' })
  const dir = path.join(rt.home, 'logs')
  const gen = await generateLogs({ outDir: dir, days: 12, events: 600, seed: 2 })
  await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [dir], concurrency: 4 })
  // The 8th object (in the second batch) cannot be read: gzip that is not gzip.
  await rt.store.client.send(new PutObjectCommand({ Bucket: rt.store.bucket, Key: 'logs/careplus-2025-07-08.log.gz', Body: Buffer.from('not gzip at all') }))

  let committed = 0
  await t.rejects(
    ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse, onProgress: (p) => void (p.type === 'object-loaded' && committed++) }),
    { code: 'ERR_TOO_MANY_FAILED_OBJECTS', message: /careplus-2025-07-08\.log\.gz/ },
  )
  t.equal(committed, 5, 'the first batch committed')
  t.equal(await count(rt.warehouse, 'SELECT count(*) FROM ops.load_ledger'), 5, 'only its objects are in the ledger')
  t.equal(await count(rt.warehouse, 'SELECT count(DISTINCT _source_file) FROM bronze.logs'), 5, 'and only their rows in bronze')

  await rt.store.client.send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: rt.store.bucket, Key: 'logs/careplus-2025-07-08.log.gz' }))
  const done = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(done, { objectsLoaded: 7, objectsUnchanged: 5 })
  await assertExact(t, rt, 12, gen.events)
})
