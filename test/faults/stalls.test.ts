import t from 'tap'
import { exactCounts, faultRuntime } from './faultRuntime.js'

t.test('a body that stalls mid-stream is abandoned after S3_READ_TIMEOUT_MS and resumed, not waited for', async (t) => {
  const frt = await faultRuntime(t, { days: 6, sizeBytes: 900_000, seed: 31, env: { S3_READ_TIMEOUT_MS: '1500' } })
  // The first GET of three log objects stops sending after 20 KB, for far longer than the timeout.
  const stalled = new Set<string>()
  frt.proxy.fault = (req) => {
    if (!req.objectGet || req.ifMatchProbe || !/^\/[^/]+\/logs\//.test(req.url) || stalled.size >= 3 || stalled.has(req.url)) return undefined
    stalled.add(req.url)
    return { kind: 'stall', afterBytes: 20_000, ms: 120_000 }
  }
  const started = performance.now()
  const s = await frt.ingest()
  const seconds = (performance.now() - started) / 1000
  t.ok(seconds < 60, `the run did not wait for the 120 s stalls (${seconds.toFixed(1)} s)`)
  t.match(s, { objectsLoaded: frt.objects, objectsFailed: 0, rows: frt.events })
  t.same(await exactCounts(frt), { rows: frt.events, rejects: 0, distinct: frt.events, ledger: frt.objects, quarantined: 0 })
  const resumed = frt.proxy.requests.filter((r) => r.range && !r.ifMatchProbe && stalled.has(r.url))
  t.equal(resumed.length, 3, 'each stalled read resumed with one ranged GET')
  t.ok(resumed.every((r) => r.range === 'bytes=20000-'), 'from the byte where it stalled')
})
