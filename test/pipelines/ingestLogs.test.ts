import t, { type Test } from 'tap'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { ingestLogs, type IngestLogsSummary } from '../../src/pipelines/ingestLogs.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { startEmbeddedS3, EMBEDDED_CREDENTIALS } from '../../src/s3/embeddedS3.js'
import { storeFor, stageReader } from '../../src/s3/objectStore.js'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import type { Warehouse } from '../../src/warehouse/warehouse.js'
import { testRuntime, type TestRuntime } from '../support/runtime.js'

const BLOCK = (ticket: string, ts = '2025-07-01 00:21:00') =>
  `${ts} [INFO] careplus.support.GenericService - TicketID=${ticket} SessionID=sess_${ticket}\n` +
  `IP=60.130.155.7 | ResponseTime=1269ms | CPU=27.64% | EventType=generic_event | Error=false\n` +
  `UserAgent="PostmanRuntime/7.32.2"\nMessage=" event for ${ticket}"\nDebug="ℹ️ Logged for monitoring"\nTraceID=None\n---\n`

async function put(rt: TestRuntime, key: string, body: string | Buffer): Promise<void> {
  await rt.store.client.send(new PutObjectCommand({ Bucket: rt.store.bucket, Key: key, Body: body }))
}

async function count(wh: Warehouse, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await wh.query(sql, params)
  return Number(Object.values(row!)[0])
}

/** Every ledger row matches the bronze rows of its object, and no bronze row lacks a ledger row. */
async function assertLedgerConsistent(t: Test, wh: Warehouse): Promise<void> {
  const mismatches = await wh.query(`
    SELECT l.object_key, l.rows_loaded, l.rejects,
           (SELECT count(*) FROM bronze.logs b WHERE b._source_file = l.object_key) AS rows_in_bronze,
           (SELECT count(*) FROM bronze.log_rejects r WHERE r._source_file = l.object_key) AS rejects_in_bronze
    FROM ops.load_ledger l
    WHERE l.rows_loaded <> (SELECT count(*) FROM bronze.logs b WHERE b._source_file = l.object_key)
       OR l.rejects <> (SELECT count(*) FROM bronze.log_rejects r WHERE r._source_file = l.object_key)
       OR l.blocks <> l.rows_loaded + l.rejects`)
  t.same(mismatches, [], 'ledger rows match bronze and blocks = rows + rejects')
  t.equal(
    await count(wh, 'SELECT count(*) FROM bronze.logs WHERE _source_file NOT IN (SELECT object_key FROM ops.load_ledger)'),
    0,
    'no bronze row without a ledger row',
  )
}

t.test('upload, ingest, rerun, new file, changed object', async (t) => {
  const rt = await testRuntime(t)
  const sample = path.join(rt.home, 'sample')
  const gen = await generateLogs({ outDir: sample, days: 5, events: 400, seed: 7 })
  const up = await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [sample], concurrency: 4 })
  t.equal(up.files, 5)

  const first = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(first, { objectsListed: 5, objectsLoaded: 5, objectsUnchanged: 0, blocks: gen.events, rows: gen.events, rejects: 0 })
  t.match(first, { batches: 1, stagedFiles: 1 }, 'the five objects share one load batch: one rows file, no rejects file')
  t.equal(await count(rt.warehouse, 'SELECT count(*) FROM bronze.logs'), gen.events)
  t.equal(await count(rt.warehouse, 'SELECT count(*) FROM ops.load_ledger'), 5)
  const [one] = await rt.warehouse.query(
    "SELECT _source_file, _source_line, _run_id FROM bronze.logs WHERE _source_file = 'logs/careplus-2025-07-01.log' ORDER BY _source_line LIMIT 2",
  )
  t.match(one, { _source_file: 'logs/careplus-2025-07-01.log', _source_line: 1, _run_id: first.runId })

  const again = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(again, { objectsListed: 5, objectsLoaded: 0, objectsUnchanged: 5, rows: 0, stagedFiles: 0 }, 'a rerun loads nothing')
  t.equal(await count(rt.warehouse, 'SELECT count(*) FROM bronze.logs'), gen.events)

  await put(rt, 'logs/careplus-2025-08-01.log', BLOCK('TCK0801000') + BLOCK('TCK0801001'))
  const withNew = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(withNew, { objectsLoaded: 1, objectsUnchanged: 5, rows: 2 }, 'a new daily file loads on the next run')

  await put(rt, 'logs/careplus-2025-07-01.log', BLOCK('TCK0701999'))
  const changed = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(changed, { objectsLoaded: 1, rows: 1 })
  t.same(
    await rt.warehouse.query("SELECT ticket_id FROM bronze.logs WHERE _source_file = 'logs/careplus-2025-07-01.log'"),
    [{ ticket_id: 'TCK0701999' }],
    'a changed object replaces its earlier rows',
  )
  await assertLedgerConsistent(t, rt.warehouse)

  const fresh = await rt.reopenWarehouse()
  t.equal(await count(fresh, 'SELECT count(*) FROM bronze.logs'), await count(fresh, 'SELECT sum(rows_loaded) FROM ops.load_ledger'))
})

t.test('bad input: rejects with reasons, good blocks around them load, counts reconcile', async (t) => {
  const rt = await testRuntime(t)
  const messy =
    '\uFEFF' +
    BLOCK('TCK0701000').replaceAll('\n', '\r\n') +
    '\n\n' +
    '2025-07-01 00:22:00 [INFO] careplus.support.GenericService - TicketID=TCK0701001 SessionID=sess_TCK0701001\nIP=1.2.3.4 | ResponseTime=5ms\n---\n' +
    'not a header at all\nIP=1.2.3.4\nUserAgent="x"\nMessage="y"\nDebug="z"\nTraceID=None\n---\n' +
    BLOCK('TCK0701002') +
    BLOCK('TCK0701003').replace('---\n', '')
  await put(rt, 'logs/messy.log', messy)
  await put(rt, 'logs/gz/day.log.gz', gzipSync(BLOCK('TCK0701004') + BLOCK('TCK0701005')))
  const invalidUtf8 = Buffer.concat([Buffer.from(BLOCK('TCK0701006')), Buffer.from(BLOCK('TCK0701007').replace('monitoring', 'monitor\u0000')).map((b) => (b === 0 ? 0xff : b)), Buffer.from(BLOCK('TCK0701008'))])
  await put(rt, 'logs/bad-utf8.log', invalidUtf8)
  const huge = BLOCK('TCK0701009') + BLOCK('TCK0701010').replace('Message=" event', 'Message="' + 'x'.repeat(3 * 1024 * 1024)) + BLOCK('TCK0701011')
  await put(rt, 'logs/huge-line.log', huge)
  await put(rt, 'logs/README.txt', 'not a log')

  const s = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(s, { objectsListed: 5, objectsLoaded: 4, objectsIgnored: 1 })
  t.equal(s.blocks, s.rows + s.rejects, 'blocks = rows + rejects')
  t.same(
    (await rt.warehouse.query('SELECT ticket_id FROM bronze.logs ORDER BY ticket_id')).map((r) => r.ticket_id),
    ['TCK0701000', 'TCK0701002', 'TCK0701003', 'TCK0701004', 'TCK0701005', 'TCK0701006', 'TCK0701008', 'TCK0701009', 'TCK0701011'],
    'every good block loaded, including the CRLF one after a BOM and the last one without ---',
  )
  const rejects = await rt.warehouse.query('SELECT _source_file, _source_line, reason, length(raw) AS raw_len FROM bronze.log_rejects ORDER BY _source_file, _source_line')
  t.equal(rejects.length, s.rejects)
  t.match(rejects, [
    { _source_file: 'logs/bad-utf8.log', reason: /^invalid_utf8/ },
    { _source_file: 'logs/huge-line.log', _source_line: 8, reason: /^block_too_large/ },
    { _source_file: 'logs/messy.log', _source_line: 10, reason: /^too_few_lines/ },
    { _source_file: 'logs/messy.log', _source_line: 13, reason: /^malformed_header/ },
  ])
  t.ok(rejects.every((r) => Number(r.raw_len) <= 4096), 'raw text is capped')
  await assertLedgerConsistent(t, rt.warehouse)
})

t.test('pagination: more than 1,000 objects under the prefix', async (t) => {
  const rt = await testRuntime(t, { INGEST_CONCURRENCY: '8' })
  const n = 1003
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, j) => put(rt, `logs/many/${String(i + j).padStart(5, '0')}.log`, BLOCK(`TCK07${String(i + j).padStart(5, '0')}`))),
    )
  }
  const s = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(s, { objectsListed: n, objectsLoaded: n, rows: n, rejects: 0 })
  t.equal(await count(rt.warehouse, 'SELECT count(DISTINCT _source_file) FROM bronze.logs'), n)
  const again = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(again, { objectsListed: n, objectsUnchanged: n, objectsLoaded: 0 })
})

t.test('a failure mid-run leaves no partial rows, and the next run completes the work', async (t) => {
  // One object per load batch, so that objects commit one by one and the run can fail between them.
  const rt = await testRuntime(t, { INGEST_CONCURRENCY: '1', LOAD_BATCH_MAX_OBJECTS: '1' })
  const sample = path.join(rt.home, 'sample')
  const gen = await generateLogs({ outDir: sample, days: 6, events: 3000, seed: 3 })
  await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [sample], concurrency: 4 })

  // A real fault: the S3 server dies after the first object is committed
  // (SIGKILL: a graceful close would keep serving open keep-alive sockets).
  let loaded = 0
  const failed = ingestLogs({
    cfg: rt.cfg,
    store: rt.store,
    warehouse: rt.warehouse,
    onProgress: (p) => {
      if (p.type === 'object-loaded' && ++loaded === 1) void rt.server.stop({ kill: true })
    },
  })
  await t.rejects(failed, { code: 'ERR_S3' })
  t.equal(loaded, 1, 'exactly the committed object counts as loaded')
  await assertLedgerConsistent(t, rt.warehouse)
  t.equal(await count(rt.warehouse, 'SELECT count(*) FROM ops.load_ledger'), 1)

  // Cancellation is the other way a run ends early.
  const server = await startEmbeddedS3({ dir: path.join(rt.home, 's3') })
  t.teardown(() => server.stop())
  const store = storeFor({ endpoint: server.endpoint, bucket: server.bucket, region: 'us-east-1', credentials: EMBEDDED_CREDENTIALS })
  await rt.warehouse.close()
  const wh = await DuckDbWarehouse.open({ file: path.join(rt.home, 'warehouse.duckdb'), tmpDir: path.join(rt.home, 'tmp'), stage: stageReader(store) })
  rt.warehouse = wh
  const controller = new AbortController()
  let loaded2 = 0
  await t.rejects(
    ingestLogs({
      cfg: rt.cfg,
      store,
      warehouse: wh,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.type === 'object-loaded' && ++loaded2 === 1) controller.abort(new Error('cancelled by test'))
      },
    }),
  )
  await assertLedgerConsistent(t, wh)
  t.equal(await count(wh, 'SELECT count(*) FROM ops.load_ledger'), 2)

  const done: IngestLogsSummary = await ingestLogs({ cfg: rt.cfg, store, warehouse: wh })
  t.match(done, { objectsLoaded: 4, objectsUnchanged: 2 })
  t.equal(await count(wh, 'SELECT count(*) FROM bronze.logs'), gen.events, 'all events present exactly once')
  await assertLedgerConsistent(t, wh)
  store.client.destroy()
})
