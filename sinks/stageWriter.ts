import { once } from 'node:events'
import { Readable, type TransformOptions } from 'node:stream'
import { createGzip, constants as zlibConstants, type Gzip, type ZlibOptions } from 'node:zlib'
import { uploadStream, type ObjectStore } from '../src/s3/objectStore.js'

export interface StagedFile {
  /** Object key on the stage. */
  key: string
  rows: number
  /** Compressed bytes uploaded. */
  bytes: number
}

/** Takes one staged file's gzipped body to `key`; resolves when it is stored. */
export type StageUpload = (key: string, body: Readable, opts: { contentType: string; signal?: AbortSignal }) => Promise<{ etag: string }>

export interface StageWriterOptions {
  /** Where staged files go: an object store (a streaming multipart upload each), or an upload function of its own. */
  store: ObjectStore | StageUpload
  /** Key prefix of this writer's files; `part-00000.csv.gz`, … are appended. */
  keyPrefix: string
  /** CSV header line (with its newline) written at the top of every file. */
  header: string
  /** Roll to a new file once this many compressed bytes were produced. */
  maxFileBytes: number
  gzipLevel?: number
  /** zlib's output buffer size (default GZIP_CHUNK_BYTES). */
  gzipChunkBytes?: number
  /** Files compressed at once, batches dealt to them in turn (default 1; see the README's trade-off). */
  concurrentFiles?: number
  signal?: AbortSignal
}

const EMPTY = Buffer.alloc(0)
/** Smallest pending buffer, so that tiny `maxFileBytes` (tests) do not mean tiny buffers. */
const MIN_BUFFER_BYTES = 64 * 1024
/** Pending buffers kept for reuse: as many as can be in zlib's hands at once, plus one. */
const MAX_SPARE_BUFFERS = 4

/** Output buffer of the stage's gzip streams: one pass holds a batch's compressed output (2 MiB of CSV is ~160 KiB gzipped). */
export const GZIP_CHUNK_BYTES = 256 * 1024

/**
 * The gzip stream of a staged file. zlib compresses on libuv's thread pool,
 * one write at a time, and each write (and each output buffer filled) needs a
 * turn of the main thread to continue. Batches of `StageWriter.BATCH_BYTES`,
 * an output buffer that takes a batch's output in one pass, and room for a
 * second batch in the stream's buffer keep the pool busy while the main
 * thread parses and encodes the next batch: every pass ends with a wait
 * for the main thread, so fewer, longer passes leave the pool idle less.
 * Measured with bench/ (`parse-csv-gzip`, fastest of 3 on 2 cores): 64 KiB
 * writes into 16 KiB buffers ran ~1.5x slower than 512 KiB into 128 KiB;
 * that took 1.36 s per 100 MB, 1 MiB into 256 KiB 1.23 s, 2 MiB into
 * 256 KiB 1.21 s, 4 MiB into 512 KiB 1.21 s.
 */
export function createStageGzip(
  level: number = zlibConstants.Z_DEFAULT_COMPRESSION,
  batchBytes: number = StageWriter.BATCH_BYTES,
  chunkSize: number = GZIP_CHUNK_BYTES,
): Gzip {
  // zlib streams take stream options too (Node hands them to Transform); @types/node's ZlibOptions leaves them out.
  const options: ZlibOptions & TransformOptions = { level, chunkSize, writableHighWaterMark: 2 * batchBytes }
  return createGzip(options)
}

/** Fills `buf` from `offset` (room for the bytes announced) and returns where its bytes end. */
export type StageFill = (buf: Buffer, offset: number) => number

/**
 * Writes a pre-encoded CSV stream as gzipped files on the S3 stage, each a
 * streaming multipart upload, rolling to a new part past `maxFileBytes`.
 * Names are deterministic (`<prefix>part-00000.csv.gz`, …), so a retry of the
 * same source version overwrites rather than duplicates.
 *
 * CSV bytes gather in a pending Buffer of about two batches, written to zlib
 * once it holds `BATCH_BYTES`; an encoder can write straight into it
 * (`writeWith`), so the bytes are copied once on their way from the parser's
 * input to zlib. A written buffer comes back for reuse when zlib is done with
 * it, so a writer holds at most the pending buffer plus what zlib's
 * writable side holds (two batches) and the one it is compressing.
 */
export class StageWriter {
  /** CSV is gathered into writes of at least this size before it reaches zlib (see `createStageGzip`). */
  static readonly BATCH_BYTES = 2 * 1024 * 1024
  readonly files: StagedFile[] = []
  /** Files being written, `concurrentFiles` at most; batches go to them in turn. */
  private readonly open: (OpenFile | undefined)[]
  private nextSlot = 0
  private opened = 0
  private pending: Buffer = EMPTY
  private pendingBytes = 0
  private pendingRows = 0
  /** Buffers zlib has finished with, for reuse as `pending`. */
  private readonly spare: Buffer[] = []
  private closed = false
  /**
   * BATCH_BYTES, or less for small files: compressed bytes are counted only
   * as the upload pulls them, so a file rolls up to about two batches late.
   */
  private readonly batchBytes: number
  private readonly bufferBytes: number
  private readonly header: Buffer

  constructor(private readonly opts: StageWriterOptions) {
    this.batchBytes = Math.min(StageWriter.BATCH_BYTES, Math.max(1, Math.floor(opts.maxFileBytes / 4)))
    this.bufferBytes = Math.max(2 * this.batchBytes, MIN_BUFFER_BYTES)
    this.header = Buffer.from(opts.header)
    this.open = new Array<OpenFile | undefined>(Math.max(1, opts.concurrentFiles ?? 1)).fill(undefined)
  }

  /** Compressed bytes produced so far, in every file (the open ones as far as their uploads have pulled). */
  get compressedBytes(): number {
    let n = 0
    for (const f of this.files) n += f.bytes
    for (const f of this.open) n += f?.compressedBytes ?? 0
    return n
  }

  /** Adds CSV (text or UTF-8 bytes) holding `rows` records. Resolves when the writer can take more. */
  async write(csv: string | Uint8Array, rows: number): Promise<void> {
    if (typeof csv === 'string') {
      if (csv.length === 0) return
      const max = 3 * csv.length
      await this.writeWith(max, rows, (buf, offset) => offset + buf.write(csv, offset, 'utf8'))
      return
    }
    if (csv.length === 0) return
    await this.writeWith(csv.length, rows, (buf, offset) => {
      buf.set(csv, offset)
      return offset + csv.length
    })
  }

  /**
   * Adds CSV holding `rows` records that `fill` writes straight into the
   * pending buffer, given room for `maxBytes`. Resolves when the writer can take more.
   */
  async writeWith(maxBytes: number, rows: number, fill: StageFill): Promise<void> {
    if (this.closed) throw new Error('StageWriter: write after close')
    if (this.pending.length === 0) this.pending = this.takeBuffer()
    if (this.pendingBytes + maxBytes > this.pending.length) {
      await this.flushPending()
      if (maxBytes > this.pending.length) this.pending = Buffer.allocUnsafe(Math.max(maxBytes, this.bufferBytes))
    }
    const end = fill(this.pending, this.pendingBytes)
    if (end < this.pendingBytes || end > this.pendingBytes + maxBytes) throw new RangeError(`StageWriter: fill wrote to ${end}, outside [${this.pendingBytes}, ${this.pendingBytes + maxBytes}]`)
    if (end === this.pendingBytes) return
    this.pendingBytes = end
    this.pendingRows += rows
    if (this.pendingBytes >= this.batchBytes) await this.flushPending()
  }

  /** Finishes the last file and returns every file written. */
  async close(): Promise<StagedFile[]> {
    if (this.closed) return this.files
    await this.flushPending()
    this.closed = true
    for (let slot = 0; slot < this.open.length; slot++) if (this.open[slot]) await this.finishFile(slot)
    return this.files
  }

  /** Abandons the file in progress (its multipart upload is aborted). */
  async abort(reason: Error): Promise<void> {
    this.closed = true
    this.pending = EMPTY
    this.pendingBytes = 0
    this.spare.length = 0
    const files = this.open.filter((f) => f !== undefined)
    this.open.fill(undefined)
    for (const file of files) file.gzip.destroy(reason)
    await Promise.all(files.map((file) => file.upload.catch(() => {})))
  }

  /** Sends the pending bytes to zlib, if any, with a fresh pending buffer for what follows. */
  private async flushPending(): Promise<void> {
    if (this.pendingBytes === 0) return
    const written = this.pending
    const bytes = written.subarray(0, this.pendingBytes)
    const rows = this.pendingRows
    this.pending = this.takeBuffer()
    this.pendingBytes = 0
    this.pendingRows = 0
    const slot = this.nextSlot
    this.nextSlot = (slot + 1) % this.open.length
    const file = this.open[slot] ?? this.openFile(slot)
    file.rows += rows
    // zlib has read every byte by the time it calls back: the buffer can be filled again.
    const room = file.gzip.write(bytes, (err) => {
      if (!err && this.spare.length < MAX_SPARE_BUFFERS && written.length === this.bufferBytes) this.spare.push(written)
    })
    if (!room) await this.drained(file)
    if (file.compressedBytes >= this.opts.maxFileBytes) await this.finishFile(slot)
  }

  private takeBuffer(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafe(this.bufferBytes)
  }

  private openFile(slot: number): OpenFile {
    const key = `${this.opts.keyPrefix}part-${String(this.opened++).padStart(5, '0')}.csv.gz`
    const gzip = createStageGzip(this.opts.gzipLevel, this.batchBytes, this.opts.gzipChunkBytes)
    const file: OpenFile = { key, gzip, rows: 0, compressedBytes: 0, upload: Promise.resolve({ etag: '' }) }
    // The upload pulls compressed chunks through this generator, which counts
    // them for rolling; ending or failing the upload ends the iteration, which
    // destroys the gzip stream, so neither side outlives the other.
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of gzip as AsyncIterable<Buffer>) {
        file.compressedBytes += chunk.length
        yield chunk
      }
    }
    const store = this.opts.store
    const upload: StageUpload = typeof store === 'function' ? store : (k, body, o) => uploadStream(store, k, body, o)
    file.upload = upload(key, Readable.from(counted(), { objectMode: false }), { contentType: 'text/csv', signal: this.opts.signal })
    // Surface an early upload failure to a writer blocked on 'drain'.
    file.upload.catch((err: Error) => gzip.destroy(err))
    gzip.write(this.header)
    this.open[slot] = file
    return file
  }

  private async drained(file: OpenFile): Promise<void> {
    await once(file.gzip, 'drain', { signal: this.opts.signal })
  }

  private async finishFile(slot: number): Promise<void> {
    const file = this.open[slot]!
    this.open[slot] = undefined
    file.gzip.end()
    await file.upload
    this.files.push({ key: file.key, rows: file.rows, bytes: file.compressedBytes })
  }
}

interface OpenFile {
  key: string
  gzip: Gzip
  rows: number
  compressedBytes: number
  upload: Promise<{ etag: string }>
}
