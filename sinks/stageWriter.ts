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
  signal?: AbortSignal
}

/** Output buffer of the stage's gzip streams: one pass holds a batch's compressed output. */
const GZIP_CHUNK_BYTES = 128 * 1024

/**
 * The gzip stream of a staged file. zlib compresses on libuv's thread pool,
 * one write at a time, and each write (and each output buffer filled) needs a
 * turn of the main thread to continue. Batches of `StageWriter.BATCH_BYTES`,
 * an output buffer that takes a batch's output in one pass, and room for a
 * second batch in the stream's buffer keep the pool busy while the main
 * thread parses and encodes the next batch: measured with bench/
 * (`parse-csv-gzip`), 64 KiB writes into 16 KiB buffers left zlib waiting
 * for the main thread and ran ~1.5x slower.
 */
export function createStageGzip(level: number = zlibConstants.Z_DEFAULT_COMPRESSION, batchBytes: number = StageWriter.BATCH_BYTES): Gzip {
  // zlib streams take stream options too (Node hands them to Transform); @types/node's ZlibOptions leaves them out.
  const options: ZlibOptions & TransformOptions = { level, chunkSize: GZIP_CHUNK_BYTES, writableHighWaterMark: 2 * batchBytes }
  return createGzip(options)
}

/**
 * Writes a pre-encoded CSV stream as gzipped files on the S3 stage, each a
 * streaming multipart upload, rolling to a new part past `maxFileBytes`.
 * Names are deterministic (`<prefix>part-00000.csv.gz`, …), so a retry of the
 * same source version overwrites rather than duplicates.
 */
export class StageWriter {
  /** Text is gathered into writes of at least this size before it reaches zlib (see `createStageGzip`). */
  static readonly BATCH_BYTES = 512 * 1024
  readonly files: StagedFile[] = []
  private current: OpenFile | undefined
  private pending: string[] = []
  private pendingBytes = 0
  private pendingRows = 0
  private closed = false
  /**
   * BATCH_BYTES, or less for small files: compressed bytes are counted only
   * as the upload pulls them, so a file rolls up to about two batches late.
   */
  private readonly batchBytes: number

  constructor(private readonly opts: StageWriterOptions) {
    this.batchBytes = Math.min(StageWriter.BATCH_BYTES, Math.max(1, Math.floor(opts.maxFileBytes / 4)))
  }

  /** Compressed bytes produced so far, in every file (the open one as far as its upload has pulled). */
  get compressedBytes(): number {
    let n = this.current?.compressedBytes ?? 0
    for (const f of this.files) n += f.bytes
    return n
  }

  /** Adds CSV text holding `rows` records. Resolves when the writer can take more. */
  async write(csv: string, rows: number): Promise<void> {
    if (this.closed) throw new Error('StageWriter: write after close')
    if (csv.length === 0) return
    this.pending.push(csv)
    this.pendingBytes += csv.length
    this.pendingRows += rows
    if (this.pendingBytes >= this.batchBytes) await this.flushPending()
  }

  /** Finishes the last file and returns every file written. */
  async close(): Promise<StagedFile[]> {
    if (this.closed) return this.files
    await this.flushPending()
    this.closed = true
    if (this.current) await this.finishFile()
    return this.files
  }

  /** Abandons the file in progress (its multipart upload is aborted). */
  async abort(reason: Error): Promise<void> {
    this.closed = true
    this.pending = []
    const file = this.current
    this.current = undefined
    if (!file) return
    file.gzip.destroy(reason)
    await file.upload.catch(() => {})
  }

  private async flushPending(): Promise<void> {
    if (this.pendingBytes === 0) return
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('')
    const rows = this.pendingRows
    this.pending = []
    this.pendingBytes = 0
    this.pendingRows = 0
    const file = this.current ?? this.openFile()
    file.rows += rows
    if (!file.gzip.write(text)) await this.drained(file)
    if (file.compressedBytes >= this.opts.maxFileBytes) await this.finishFile()
  }

  private openFile(): OpenFile {
    const key = `${this.opts.keyPrefix}part-${String(this.files.length).padStart(5, '0')}.csv.gz`
    const gzip = createStageGzip(this.opts.gzipLevel, this.batchBytes)
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
    gzip.write(this.opts.header)
    this.current = file
    return file
  }

  private async drained(file: OpenFile): Promise<void> {
    await once(file.gzip, 'drain', { signal: this.opts.signal })
  }

  private async finishFile(): Promise<void> {
    const file = this.current!
    this.current = undefined
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
