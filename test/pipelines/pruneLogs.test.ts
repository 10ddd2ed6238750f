import t from 'tap'
import path from 'node:path'
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { ingestLogs } from '../../src/pipelines/ingestLogs.js'
import { formatPruneSummary, pruneLogs } from '../../src/pipelines/pruneLogs.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { testRuntime } from '../support/runtime.js'

t.test('prune-logs removes exactly the rows and ledger rows of objects deleted from S3, and only when asked', async (t) => {
  const rt = await testRuntime(t)
  const dir = path.join(rt.home, 'logs')
  await generateLogs({ outDir: dir, days: 6, events: 600, seed: 12 })
  await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [dir], concurrency: 4 })
  await rt.store.client.send(new PutObjectCommand({ Bucket: rt.store.bucket, Key: 'logs/bad.log.gz', Body: 'not gzip' }))
  await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  const count = async (sql: string, p: unknown[] = []) => Number(Object.values((await rt.warehouse.query(sql, p))[0]!)[0])
  const gone = ['logs/careplus-2025-07-02.log', 'logs/careplus-2025-07-05.log']
  const expected = await Promise.all(gone.map((k) => count('SELECT count(*) FROM bronze.logs WHERE _source_file = ?', [k])))
  const before = await count('SELECT count(*) FROM bronze.logs')
  for (const key of [...gone, 'logs/bad.log.gz']) await rt.store.client.send(new DeleteObjectCommand({ Bucket: rt.store.bucket, Key: key }))

  const dry = await pruneLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse, dryRun: true })
  t.same(dry.pruned, gone.map((key, i) => ({ key, rows: expected[i], rejects: 0 })), 'the two deleted objects, with their rows')
  t.match(formatPruneSummary(dry), /dry run: nothing removed[\s\S]*would remove logs\/careplus-2025-07-02\.log: \d+ rows/)
  t.equal(await count('SELECT count(*) FROM bronze.logs'), before, 'a dry run removes nothing')

  const done = await pruneLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse, dryRun: false })
  t.match(done, { rows: expected[0]! + expected[1]!, rejects: 0, quarantined: 1 })
  t.equal(await count('SELECT count(*) FROM bronze.logs'), before - expected[0]! - expected[1]!, 'exactly their rows went')
  t.equal(await count('SELECT count(*) FROM bronze.logs WHERE _source_file IN (?, ?)', gone), 0)
  t.equal(await count('SELECT count(*) FROM ops.load_ledger'), 4, 'and their ledger rows')
  t.equal(await count('SELECT count(*) FROM ops.load_failures'), 0, 'and the vanished bad object\'s quarantine entry')
  t.same((await pruneLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse, dryRun: false })).pruned, [], 'nothing more to prune')
  t.match(await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse }), { objectsUnchanged: 4, objectsLoaded: 0 }, 'the rest stays loaded')
})
