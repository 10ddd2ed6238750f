import t from 'tap'
import { exactCounts, faultRuntime } from './faultRuntime.js'
import { seededRandom } from './faultProxy.js'

t.test('20 % of the log objects\' GETs reset or cut mid-body: one run, exact counts, 5 trials of 5', async (t) => {
  for (let trial = 1; trial <= 5; trial++) {
    await t.test(`trial ${trial}`, async (t) => {
      const frt = await faultRuntime(t, { days: 30, sizeBytes: 3_000_000, seed: 100 + trial })
      const random = seededRandom(trial)
      // Only GETs of log objects (not the stage's files), at a random byte of the body; a reset, or a clean close short of Content-Length.
      frt.proxy.fault = (req) => {
        if (!req.objectGet || req.ifMatchProbe || !/^\/[^/]+\/logs\//.test(req.url) || random() >= 0.2) return undefined
        return { kind: random() < 0.5 ? 'reset' : 'truncate', afterBytes: Math.floor(random() * 90_000) }
      }
      const s = await frt.ingest()
      const damaged = frt.proxy.requests.filter((r) => r.damaged).length
      t.ok(damaged > 0, `${damaged} reads of the ${frt.objects} log objects were damaged`)
      t.match(s, { objectsLoaded: frt.objects, objectsFailed: 0, blocks: frt.events, rows: frt.events })
      t.same(await exactCounts(frt), { rows: frt.events, rejects: 0, distinct: frt.events, ledger: frt.objects, quarantined: 0 })
      const logGets = frt.proxy.requests.filter((r) => r.objectGet && !r.ifMatchProbe && /^\/[^/]+\/logs\//.test(r.url))
      t.equal(logGets.length, frt.objects + damaged, 'each damaged read took one more GET')
      t.ok(logGets.filter((r) => r.range).length > 0, 'resumed with ranged GETs from where they stopped')
    })
  }
})
