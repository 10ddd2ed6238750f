import t from 'tap'
import path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { removeStageLeftovers } from '../../src/load/stageLeftovers.js'
import { ingestLogs } from '../../src/pipelines/ingestLogs.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { independentS3 } from '../support/independentS3.js'
import { testRuntime } from '../support/runtime.js'

t.test('staged files no ledger row names are removed, per source; committed files and the current run\'s stay', async (t) => {
  const rt = await testRuntime(t, { LOAD_BATCH_MAX_OBJECTS: '2' })
  const dir = path.join(rt.home, 'logs')
  await generateLogs({ outDir: dir, days: 4, events: 200, seed: 6 })
  await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [dir], concurrency: 2 })
  const s = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  const s3 = independentS3(rt.server.endpoint, rt.store.bucket)
  const committed = await s3.listKeys('stage/')
  t.equal(committed.length, s.stagedFiles)

  const put = (key: string) => rt.store.client.send(new PutObjectCommand({ Bucket: rt.store.bucket, Key: key, Body: 'x' }))
  const left = ['stage/logs/20261201T020000Z-aaaaaa/batch-00001/rows/part-00000.csv.gz', `stage/logs/${s.runId}/batch-00009/rows/part-00000.csv.gz`]
  const ticketLeft = 'stage/tickets/20261201T020000Z-bbbbbb/part-00000.csv.gz'
  const current = 'stage/logs/20261203T020000Z-cccccc/batch-00001/rows/part-00000.csv.gz'
  for (const k of [...left, ticketLeft, current]) await put(k)

  const removed = await removeStageLeftovers(rt.store, rt.warehouse, { stagePrefix: 'stage/', source: 'logs', currentRunId: '20261203T020000Z-cccccc' })
  t.same(removed.sort(), left.sort(), "an uncommitted run's folder, and an uncommitted batch of a committed run")
  t.same(await s3.listKeys('stage/'), [...committed, current, ticketLeft].sort(), 'committed files, the current run\'s and the other source\'s stay')
  t.same(await removeStageLeftovers(rt.store, rt.warehouse, { stagePrefix: 'stage/', source: 'tickets', currentRunId: '20261203T020000Z-dddddd' }), [ticketLeft])
})
