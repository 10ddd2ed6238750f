import t from 'tap'
import { exactCounts, faultRuntime } from './faultRuntime.js'
import { seededRandom } from './faultProxy.js'

t.test('30 % of all S3 requests answered 503 SlowDown: one run, exact counts, 5 trials of 5', async (t) => {
  const throttledMethods = new Set<string>()
  // The SDK's adaptive mode slows the client down to ~1 request a second under throttling (as it should),
  // so the trials are kept small: 12 objects each.
  for (let trial = 1; trial <= 5; trial++) {
    await t.test(`trial ${trial}`, async (t) => {
      // A small staged file size, so the stage takes several uploads (and COPY several downloads) per run.
      const frt = await faultRuntime(t, { days: 12, sizeBytes: 800_000, seed: 200 + trial, env: { STAGE_FILE_MAX_BYTES: '65536' } })
      const random = seededRandom(1000 + trial)
      frt.proxy.fault = () => (random() < 0.3 ? { kind: 'status', status: 503 } : undefined)
      const s = await frt.ingest()
      const requests = frt.proxy.requests
      const throttled = requests.filter((r) => r.damaged)
      t.ok(throttled.length > 0.2 * requests.length, `${throttled.length} of ${requests.length} requests were answered 503`)
      for (const r of throttled) throttledMethods.add(r.method)
      t.match(s, { objectsLoaded: frt.objects, objectsFailed: 0, blocks: frt.events, rows: frt.events })
      t.ok(s.stagedFiles > 1, `${s.stagedFiles} staged files`)
      t.same(await exactCounts(frt), { rows: frt.events, rejects: 0, distinct: frt.events, ledger: frt.objects, quarantined: 0 })
    })
  }
  t.ok(throttledMethods.has('PUT') && throttledMethods.has('GET'), `uploads to the stage and reads were throttled alike (${[...throttledMethods].join(', ')})`)
})
