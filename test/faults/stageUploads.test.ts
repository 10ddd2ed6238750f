import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { EMBEDDED_CREDENTIALS } from '../../src/s3/embeddedS3.js'
import { storeFor, uploadStream } from '../../src/s3/objectStore.js'
import { independentS3 } from '../support/independentS3.js'
import { testRuntime } from '../support/runtime.js'
import { startFaultProxy } from './faultProxy.js'

/** 17 MiB that gzip would not shrink: four multipart parts of 5 MiB (UPLOAD_PART_BYTES). */
const body = () => Readable.from([randomBytes(17 * 1024 * 1024)])

t.test('a part that keeps failing: the multipart upload is retried, then aborted, never left open', async (t) => {
  const rt = await testRuntime(t)
  const proxy = await startFaultProxy(t, rt.server.endpoint)
  const store = storeFor({ endpoint: proxy.url, bucket: rt.store.bucket, region: 'us-east-1', credentials: EMBEDDED_CREDENTIALS, maxAttempts: 3 })
  t.teardown(() => store.client.destroy())

  proxy.fault = (req) => (req.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(req.url) ? { kind: 'status', status: 500 } : undefined)
  await t.rejects(uploadStream(store, 'stage/test/big.bin', body()), { code: 'ERR_S3', message: /cannot write s3:\/\/careplus\/stage\/test\/big\.bin/ })
  const started = proxy.requests.filter((r) => r.method === 'POST' && /[?&]uploads(=|&|$)/.test(r.url))
  const part2 = proxy.requests.filter((r) => r.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(r.url))
  t.equal(started.length, 1, 'one multipart upload')
  t.equal(part2.length, 3, 'the failing part was sent S3_MAX_ATTEMPTS (3) times')
  const uploadId = /uploadId=([^&]+)/.exec(part2[0]!.url)![1]
  t.ok(proxy.requests.some((r) => r.method === 'DELETE' && r.url.includes(`uploadId=${uploadId}`)), 'then aborted (AbortMultipartUpload), so no parts are left behind')
  t.notOk(proxy.requests.some((r) => r.method === 'POST' && r.url.includes(`uploadId=${uploadId}`)), 'and never completed')

  // Transient: the same part failing twice, then passing, completes the upload through the SDK's retries.
  let failures = 0
  const before = proxy.requests.length
  proxy.fault = (req) => (req.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(req.url) && failures++ < 2 ? { kind: 'status', status: 503 } : undefined)
  await uploadStream(store, 'stage/test/big2.bin', body())
  t.equal((await independentS3(rt.server.endpoint, rt.store.bucket).getObject('stage/test/big2.bin')).length, 17 * 1024 * 1024, 'completed, every byte there')
  const sent = proxy.requests.slice(before).filter((r) => r.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(r.url))
  t.same(sent.map((r) => r.status), [503, 503, 200], 'the part passed on its third attempt')
})
