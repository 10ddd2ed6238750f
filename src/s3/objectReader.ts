/**
 * Reading one version of one object to its end, whatever the network does,
 * as the AWS CLI and Vector do: the body is streamed, and when it is reset,
 * truncated or stalls, the read resumes from the last byte delivered with a
 * ranged GET pinned to the same ETag (`If-Match`), with backoff, up to the
 * store's `maxAttempts` requests in all. The consumer sees every byte once,
 * in order: never a duplicated or a missing one.
 *
 * The version is checked, not assumed: a response whose ETag is not the
 * pinned one or whose ranged part does not start where the read stopped
 * fails with ERR_OBJECT_CHANGED, and a body that ends longer or, after every
 * attempt, shorter than the object's size fails with ERR_OBJECT_TRUNCATED.
 * S3 serves one GET from one immutable version, but a server that ignores
 * If-Match (s3rver, the embedded default, overwrites objects in place) can
 * hand out a mix of two versions under the old ETag; on such a server the
 * bytes read are checked against the ETag itself (the MD5 of a single-part
 * upload; a multipart ETag is checked again with a HEAD after the read).
 */
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { createHash, type Hash } from 'node:crypto'
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3'
import { isAbortError, PipelineError } from '../errors.js'
import { s3Error, type ObjectStore } from './objectStore.js'

export interface ReadTarget {
  key: string
  /** The listed version; unset: whichever the first GET returns, then pinned. */
  etag?: string
  /** The listed size; unset: the first response's Content-Length. */
  size?: number
}

export interface ReadOptions {
  signal?: AbortSignal
  /** Called before each resume, with what failed (for logs and tests). */
  onResume?: (e: { key: string; offset: number; attempt: number; error: Error }) => void
}

/** First backoff before a resume; doubled each time, at most MAX_BACKOFF_MS, with full jitter. */
const BASE_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 5000

/** The object's bytes, as a byte stream for a `pipeline`. */
export function readObject(store: ObjectStore, target: ReadTarget, opts: ReadOptions = {}): Readable {
  return Readable.from(objectChunks(store, target, opts), { objectMode: false, highWaterMark: 64 * 1024 })
}

class Stalled extends Error {
  readonly code = 'ETIMEDOUT'
}

async function* objectChunks(store: ObjectStore, target: ReadTarget, opts: ReadOptions): AsyncGenerator<Buffer> {
  const { key } = target
  const { maxAttempts, idleTimeoutMs } = store.reads
  const signal = opts.signal
  let etag = target.etag
  let size = target.size
  let offset = 0
  const md5: Hash | undefined = etag !== undefined && !(await honoursIfMatch(store, key, signal)) && SINGLE_PART_ETAG.test(etag) ? createHash('md5') : undefined
  const headAfter = etag !== undefined && md5 === undefined && !(await honoursIfMatch(store, key, signal))
  for (let attempt = 1; ; attempt++) {
    // The request itself (no byte of the body yet) is retried by the SDK's own policy (S3_MAX_ATTEMPTS, adaptive):
    // what fails here has failed that many times, or is not worth retrying.
    const body = await request(store, key, etag, offset, signal)
    try {
      const got = body.etag
      if (etag !== undefined && got !== '' && got !== etag) throw changed(store, key, `its ETag is now ${got}, not ${etag}`)
      etag ??= got
      if (offset > 0 && !body.contentRange?.startsWith(`bytes ${offset}-`)) throw changed(store, key, `the resumed read starts at ${body.contentRange ?? 'the beginning'}, not byte ${offset}`)
      if (offset === 0) {
        if (size !== undefined && body.contentLength !== undefined && body.contentLength !== size) throw changed(store, key, `it now holds ${body.contentLength} bytes, not the ${size} listed`)
        size ??= body.contentLength
      }
      const stream = body.stream
      const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
      for (;;) {
        // Only time spent waiting for the server counts: the clock stops while the consumer holds a chunk.
        const stall = setTimeout(() => stream.destroy(new Stalled(`no byte for ${idleTimeoutMs} ms`)), idleTimeoutMs)
        let r: IteratorResult<Buffer>
        try {
          r = await it.next()
        } finally {
          clearTimeout(stall)
        }
        if (r.done) break
        offset += r.value.length
        if (size !== undefined && offset > size) throw truncated(store, key, `the body runs past the ${size} bytes listed`)
        md5?.update(r.value)
        yield r.value
      }
      if (size === undefined || offset === size) {
        if (md5 && md5.digest('hex') !== etag) throw changed(store, key, `the bytes read do not hash to its ETag ${etag}: it was overwritten during the read`)
        if (headAfter) await checkStillAt(store, key, etag!, signal)
        return
      }
      // The body ended early without an error: a truncated response, read on from where it stopped.
      if (attempt >= maxAttempts) throw truncated(store, key, `the body ended at byte ${offset} of ${size}, ${attempt} times (S3_MAX_ATTEMPTS)`)
      opts.onResume?.({ key, offset, attempt, error: new Error(`body ended at byte ${offset} of ${size}`) })
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err
      if (err instanceof PipelineError) throw err
      // A body reset, cut or stalled mid-stream: resume, unless every attempt went that way.
      if (!isTransient(err)) throw s3Error(err, `cannot read ${store.url}/${key}`)
      if (attempt >= maxAttempts) {
        throw new PipelineError('ERR_OBJECT_UNREADABLE', `${store.url}/${key}: read ${offset} of ${size ?? '?'} bytes, interrupted ${attempt} times (S3_MAX_ATTEMPTS): ${(err as Error).message}`, { cause: err })
      }
      opts.onResume?.({ key, offset, attempt, error: err as Error })
    } finally {
      body.stream.destroy()
    }
    await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempt - 1)), undefined, { signal })
  }
}

/** A single-part upload's ETag: the MD5 of its bytes. */
const SINGLE_PART_ETAG = /^[0-9a-f]{32}$/

const ifMatchSupport = new WeakMap<ObjectStore, Promise<boolean>>()

/**
 * Whether the store's server refuses a GET whose If-Match does not match
 * (as S3 does), found once per store by asking for one byte of `key` under
 * an ETag no object has. A server that answers anyway ignores If-Match.
 */
function honoursIfMatch(store: ObjectStore, key: string, signal: AbortSignal | undefined): Promise<boolean> {
  let known = ifMatchSupport.get(store)
  if (!known) {
    known = store.client
      .send(new GetObjectCommand({ Bucket: store.bucket, Key: key, IfMatch: '"00000000000000000000000000000000"', Range: 'bytes=0-0' }), { abortSignal: signal })
      .then(
        (res) => {
          ;(res.Body as Readable | undefined)?.destroy()
          return false
        },
        (err: { $metadata?: { httpStatusCode?: number } }) => {
          if (err.$metadata?.httpStatusCode === 412) return true
          // Not known this time (the object vanished, the network failed): ask again with the next read.
          ifMatchSupport.delete(store)
          return false
        },
      )
    ifMatchSupport.set(store, known)
  }
  return known
}

/** After a read from a server that ignores If-Match: the object still has the ETag its bytes were read under. */
async function checkStillAt(store: ObjectStore, key: string, etag: string, signal: AbortSignal | undefined): Promise<void> {
  const res = await store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }), { abortSignal: signal }).catch((err: unknown) => {
    throw s3Error(err, `cannot check ${store.url}/${key}`)
  })
  const now = (res.ETag ?? '').replaceAll('"', '')
  if (now !== etag) throw changed(store, key, `its ETag changed to ${now} during the read`)
}

/** One GET (ranged from `offset` when resuming), pinned to `etag` when known. */
async function request(store: ObjectStore, key: string, etag: string | undefined, offset: number, signal: AbortSignal | undefined) {
  try {
    const res = await store.client.send(
      new GetObjectCommand({ Bucket: store.bucket, Key: key, IfMatch: etag ? `"${etag}"` : undefined, Range: offset > 0 ? `bytes=${offset}-` : undefined }),
      { abortSignal: signal },
    )
    return { stream: res.Body as Readable, etag: (res.ETag ?? '').replaceAll('"', ''), contentLength: res.ContentLength, contentRange: res.ContentRange }
  } catch (err) {
    if (signal?.aborted) throw signal.reason ?? err
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
    if (status === 412 || status === 416) throw changed(store, key, status === 412 ? `S3 says it no longer has ETag ${etag}` : 'the resumed range no longer fits it')
    if (status === 404) throw new PipelineError('ERR_OBJECT_GONE', `${store.url}/${key} was deleted after it was listed`, { cause: err })
    throw s3Error(err, `cannot read ${store.url}/${key}`)
  }
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ECONNREFUSED', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET'])

/** A fault a new request can get past: a dropped or stalled connection, throttling, a 5xx. */
function isTransient(err: unknown): boolean {
  if (isAbortError(err)) return false
  const e = err as { code?: string; name?: string; message?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown }
  const status = e.$metadata?.httpStatusCode
  if (status !== undefined) return status >= 500 || status === 429 || status === 408
  if (e.code && TRANSIENT_CODES.has(e.code)) return true
  return e.message === 'aborted' || /socket hang up|premature close/i.test(e.message ?? '')
}

function changed(store: ObjectStore, key: string, why: string): PipelineError {
  return new PipelineError('ERR_OBJECT_CHANGED', `${store.url}/${key} changed while it was read (${why}): it is loaded by the next run`)
}

function truncated(store: ObjectStore, key: string, why: string): PipelineError {
  return new PipelineError('ERR_OBJECT_TRUNCATED', `${store.url}/${key}: ${why}`)
}
