import { buffer } from 'node:stream/consumers'
import { Client } from 'minio'
import { EMBEDDED_CREDENTIALS } from '../../src/s3/embeddedS3.js'

/**
 * An S3 client this project did not write (the `minio` package, not the AWS
 * SDK the pipeline uses), pointed at an embedded S3 server: the tests check
 * what the pipeline staged through it, so a bug shared by our object store
 * and our assertions cannot hide.
 */
export interface IndependentS3 {
  /** Every key under `prefix` (recursively, all pages), sorted. */
  listKeys(prefix: string): Promise<string[]>
  /** The whole body of one object. */
  getObject(key: string): Promise<Buffer>
}

export function independentS3(endpoint: string, bucket: string): IndependentS3 {
  const url = new URL(endpoint)
  const client = new Client({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL: url.protocol === 'https:',
    accessKey: EMBEDDED_CREDENTIALS.accessKeyId,
    secretKey: EMBEDDED_CREDENTIALS.secretAccessKey,
    // Given, so the client does not ask the server for the bucket's location first.
    region: 'us-east-1',
    // s3rver serves path-style URLs only (see embeddedS3Server.ts).
    pathStyle: true,
  })
  return {
    async listKeys(prefix) {
      const keys: string[] = []
      for await (const item of client.listObjectsV2(bucket, prefix, true)) {
        if (item.name) keys.push(item.name)
      }
      return keys.sort()
    },
    async getObject(key) {
      return buffer(await client.getObject(bucket, key))
    },
  }
}
