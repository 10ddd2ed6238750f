import t from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { exactCounts, faultRuntime } from './faultRuntime.js'

t.test('an object overwritten while it is read: never loaded mixed, loaded whole by the next run', async (t) => {
  for (let trial = 1; trial <= 3; trial++) {
    await t.test(`trial ${trial}`, async (t) => {
      const frt = await faultRuntime(t, { days: 2, sizeBytes: 200_000, seed: 40 + trial })
      // A 20 MB object, then a new version of exactly the same size (every ticket id renamed): only its bytes tell them apart.
      const big = await generateLogs({ outDir: path.join(frt.home, 'big'), days: 1, sizeBytes: 20_000_000, seed: trial })
      const v1 = readFileSync(big.files[0]!)
      const v2 = Buffer.from(v1.toString('latin1').replaceAll('TCK07', 'TCK17'), 'latin1')
      t.equal(v2.length, v1.length)
      const key = 'logs/zz-big.log'
      const put = (body: Buffer) => frt.direct.client.send(new PutObjectCommand({ Bucket: frt.direct.bucket, Key: key, Body: body }))
      await put(v1)
      // Its GET pauses after 256 KiB; meanwhile the object is overwritten in place (s3rver keeps streaming from the same file).
      let overwritten: Promise<unknown> | undefined
      frt.proxy.fault = (req) => {
        if (!req.objectGet || req.ifMatchProbe || !req.url.includes('zz-big') || overwritten) return undefined
        overwritten = sleep(200).then(() => put(v2))
        return { kind: 'stall', afterBytes: 256 * 1024, ms: 2000 }
      }
      const s = await frt.ingest()
      await overwritten
      t.match(s, { objectsLoaded: frt.objects, objectsChanged: 1, objectsFailed: 0, rows: frt.events }, 'the others load; the big one is changed, not loaded')
      t.same(await frt.warehouse.query("SELECT count(*) AS n FROM bronze.logs WHERE _source_file = 'logs/zz-big.log'"), [{ n: 0 }], 'none of its rows committed')
      t.match(await exactCounts(frt), { rows: frt.events, ledger: frt.objects })

      frt.proxy.fault = () => undefined
      const next = await frt.ingest()
      t.match(next, { objectsLoaded: 1, rows: big.events }, 'the next run loads the new version')
      const [mixed] = await frt.warehouse.query("SELECT count(*) FILTER (WHERE ticket_id LIKE 'TCK07%') AS old, count(*) FILTER (WHERE ticket_id LIKE 'TCK17%') AS new FROM bronze.logs WHERE _source_file = 'logs/zz-big.log'")
      t.same(mixed, { old: 0, new: big.events }, 'whole, and only the new version')
    })
  }
})
