import t from 'tap'
import { request } from 'node:http'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { EMBEDDED_CREDENTIALS, startEmbeddedS3 } from '../../src/s3/embeddedS3.js'
import { storeFor } from '../../src/s3/objectStore.js'

t.test('the embedded server stops even while a client holds a GET it never reads', async (t) => {
  const server = await startEmbeddedS3({ dir: t.testdir() })
  const store = storeFor({ endpoint: server.endpoint, bucket: server.bucket, region: 'us-east-1', credentials: EMBEDDED_CREDENTIALS })
  t.teardown(() => store.client.destroy())
  await store.client.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'big.bin', Body: Buffer.alloc(32 * 1024 * 1024, 7) }))

  // A body far larger than the socket buffers, paused after its first chunk: the server cannot finish writing it.
  const held = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const u = new URL(server.endpoint)
    request({ host: u.hostname, port: u.port, path: `/${server.bucket}/big.bin`, agent: false }, (res) => {
      res.once('data', () => {
        res.pause()
        resolve(res)
      })
    })
      .on('error', reject)
      .end()
  })
  t.teardown(() => held.destroy())
  let stopped = false
  const stopping = server.stop().then(() => (stopped = true))
  // Before the fix, stop() waited for that connection for ever.
  await Promise.race([stopping, new Promise((r) => setTimeout(r, 20_000).unref())])
  t.ok(stopped, 'stop() returned while the connection was still held')
})
