import { mkdirSync } from 'node:fs'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { DeleteObjectCommand, S3Client, paginateListObjectsV2, HeadBucketCommand } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { DEFAULTS, type Config } from '../config.js'
import { PipelineError } from '../errors.js'
import { EMBEDDED_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from './embeddedS3.js'

/** One bucket, whichever server holds it: AWS S3, an S3-compatible endpoint, or the embedded s3rver. */
export interface ObjectStore {
  client: S3Client
  bucket: string
  /** `s3://bucket` for messages. */
  url: string
  /** Set when this store started the embedded server. */
  embedded?: EmbeddedS3
  /** How reads of one object survive faults (src/s3/objectReader.ts). */
  reads: ReadPolicy
  close(): Promise<void>
}

export interface ReadPolicy {
  /** Requests per object read, the first GET and its ranged resumes together (S3_MAX_ATTEMPTS). */
  maxAttempts: number
  /** A body that delivers nothing for this long is abandoned and resumed (S3_READ_TIMEOUT_MS). */
  idleTimeoutMs: number
}

export interface ObjectInfo {
  key: string
  /** ETag without quotes: the object's version for the load ledger. */
  etag: string
  size: number
  lastModified?: Date
}

function makeClient(opts: { region: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string }; maxAttempts: number; idleTimeoutMs: number }): S3Client {
  const custom = opts.endpoint !== undefined
  return new S3Client({
    region: opts.region,
    endpoint: opts.endpoint,
    forcePathStyle: custom,
    credentials: opts.credentials,
    // S3-compatible servers (s3rver, older MinIO) reject the SDK's default
    // aws-chunked payloads with trailing CRC32 checksums; send checksums only
    // where the API requires them.
    ...(custom ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
    // Every request (list pages, GETs, each multipart part, COPY's downloads) retries throttling,
    // 5xx and connection errors; adaptive mode also slows the client down while S3 says SlowDown.
    retryMode: 'adaptive',
    maxAttempts: opts.maxAttempts,
    // A server that accepts a connection and then says nothing fails the request instead of hanging it.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: opts.idleTimeoutMs },
  })
}

/** Opens the configured bucket; with no S3_BUCKET, starts the embedded server over $CAREPLUS_HOME/s3. */
export async function openObjectStore(cfg: Config): Promise<ObjectStore> {
  if (cfg.embeddedS3) {
    const dir = path.join(cfg.home, 's3')
    mkdirSync(dir, { recursive: true })
    const embedded = await startEmbeddedS3({ dir })
    return storeFor({ endpoint: embedded.endpoint, bucket: embedded.bucket, region: cfg.S3_REGION, credentials: EMBEDDED_CREDENTIALS, embedded, ...readSettings(cfg) })
  }
  return storeFor({ endpoint: cfg.S3_ENDPOINT, bucket: cfg.S3_BUCKET!, region: cfg.S3_REGION, ...readSettings(cfg) })
}

/** The retry and read-timeout settings of a store, from the configuration. */
export function readSettings(cfg: Pick<Config, 'S3_MAX_ATTEMPTS' | 'S3_READ_TIMEOUT_MS'>): ReadPolicy {
  return { maxAttempts: cfg.S3_MAX_ATTEMPTS, idleTimeoutMs: cfg.S3_READ_TIMEOUT_MS }
}

export function storeFor(opts: {
  bucket: string
  region: string
  endpoint?: string
  credentials?: { accessKeyId: string; secretAccessKey: string }
  embedded?: EmbeddedS3
  maxAttempts?: number
  idleTimeoutMs?: number
}): ObjectStore {
  const reads: ReadPolicy = { maxAttempts: opts.maxAttempts ?? DEFAULTS.S3_MAX_ATTEMPTS, idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULTS.S3_READ_TIMEOUT_MS }
  const client = makeClient({ ...opts, ...reads })
  return {
    client,
    bucket: opts.bucket,
    url: `s3://${opts.bucket}`,
    embedded: opts.embedded,
    reads,
    async close() {
      client.destroy()
      await opts.embedded?.stop()
    },
  }
}

/** Fails fast with an actionable line when the bucket is missing or unreachable. */
export async function checkBucket(store: ObjectStore, signal?: AbortSignal): Promise<void> {
  try {
    await store.client.send(new HeadBucketCommand({ Bucket: store.bucket }), { abortSignal: signal })
  } catch (err) {
    throw s3Error(err, `cannot reach bucket ${store.url}`)
  }
}

/** Lists every object under a prefix, page by page (ListObjectsV2 returns at most 1,000 keys a page). */
export async function* listObjects(store: ObjectStore, prefix: string, signal?: AbortSignal): AsyncGenerator<ObjectInfo> {
  const pages = paginateListObjectsV2({ client: store.client, pageSize: 1000 }, { Bucket: store.bucket, Prefix: prefix })
  try {
    for await (const page of pages) {
      signal?.throwIfAborted()
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue
        yield { key: o.Key, etag: (o.ETag ?? '').replaceAll('"', ''), size: o.Size ?? 0, lastModified: o.LastModified }
      }
    }
  } catch (err) {
    if (signal?.aborted) throw err
    throw s3Error(err, `cannot list ${store.url}/${prefix}`)
  }
}

/**
 * What one streaming upload holds at most: lib-storage gathers the body into
 * parts of UPLOAD_PART_BYTES (S3's smallest multipart part) and sends up to
 * UPLOAD_QUEUE_PARTS of them at once while it gathers the next, so about
 * (UPLOAD_QUEUE_PARTS + 1) × UPLOAD_PART_BYTES = 15 MiB per file in flight
 * (the README's memory figures: INGEST_CONCURRENCY objects share one staged
 * file per load batch and table).
 */
export const UPLOAD_PART_BYTES = 5 * 1024 * 1024
export const UPLOAD_QUEUE_PARTS = 2

/** Multipart upload of a stream (lib-storage), its memory bounded (UPLOAD_PART_BYTES). */
export async function uploadStream(
  store: ObjectStore,
  key: string,
  body: Readable,
  opts: { contentType?: string; contentEncoding?: string; signal?: AbortSignal } = {},
): Promise<{ etag: string }> {
  const upload = new Upload({
    client: store.client,
    params: { Bucket: store.bucket, Key: key, Body: body, ContentType: opts.contentType, ContentEncoding: opts.contentEncoding },
    partSize: UPLOAD_PART_BYTES,
    queueSize: UPLOAD_QUEUE_PARTS,
    leavePartsOnError: false,
  })
  const onAbort = (): void => void upload.abort().catch(() => {})
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const out = await upload.done()
    return { etag: (out.ETag ?? '').replaceAll('"', '') }
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? err
    throw s3Error(err, `cannot write ${store.url}/${key}`)
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * Deletes objects one request each, a few at a time (s3rver has no
 * DeleteObjects, and the numbers here are small: leftovers of failed runs).
 */
export async function deleteObjects(store: ObjectStore, keys: readonly string[], signal?: AbortSignal): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++]!
      try {
        await store.client.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: key }), { abortSignal: signal })
      } catch (err) {
        if (signal?.aborted) throw err
        throw s3Error(err, `cannot delete ${store.url}/${key}`)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(8, keys.length) }, worker))
}

/** Wraps an SDK error in one line: what failed, and S3's own code and message. Never includes credentials. */
export function s3Error(err: unknown, what: string): PipelineError {
  const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } }
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : ''
  const detail = e.code === 'ECONNREFUSED' ? 'connection refused' : `${e.name ?? 'Error'}: ${e.message ?? String(err)}`
  return new PipelineError('ERR_S3', `${what}${status}: ${detail}`, { cause: err })
}

/** The stage as engines that need a local copy read it (DuckDB): a read that resumes, as every object read does. */
export function stageReader(store: ObjectStore): import('../warehouse/warehouse.js').StageReader {
  return {
    async download(key, localPath, signal) {
      const { createWriteStream } = await import('node:fs')
      const { pipeline } = await import('node:stream/promises')
      const { readObject } = await import('./objectReader.js')
      await pipeline(readObject(store, { key }, { signal }), createWriteStream(localPath), { signal })
    },
  }
}
