import { once } from 'node:events'
import { Readable } from 'node:stream'
import { createGzip, constants as zlibConstants, type Gzip } from 'node:zlib'
import { uploadStream, type ObjectStore } from '../src/s3/objectStore.js'

export interface StagedFile {
  /** Object key on the stage. */
  key: string
  rows: number
  /** Compressed bytes uploaded. */
  bytes: number
}

export interface StageWriterOptions {
  store: ObjectStore
  /** Key prefix of this writer's files; `part-00000.csv.gz`, … are appended. */
  keyPrefix: string
  /** CSV header line (with its newline) written at the top of every file. */
  header: string
  /** Roll to a new file once this many compressed bytes were produced. */
  maxFileBytes: number
  gzipLevel?: number
  signal?: AbortSignal
}

/**
 * Writes a pre-encoded CSV stream as gzipped files on the S3 stage, each a
 * streaming multipart upload, rolling to a new part past `maxFileBytes`.
 * Names are deterministic (`<prefix>part-00000.csv.gz`, …), so a retry of the
 * same source version overwrites rather than duplicates.
 */
export class StageWriter {
  /** Text is gathered into writes of at least this size before it reaches zlib. */
  static readonly BATCH_BYTES = 64 * 1024
  readonly files: StagedFile[] = []
  private current: OpenFile | undefined
  private pending: string[] = []
  private pendingBytes = 0
  private pendingRows = 0
  private closed = false

  constructor(private readonly opts: StageWriterOptions) {}

  /** Adds CSV text holding `rows` records. Resolves when the writer can take more. */
  async write(csv: string, rows: number): Promise<void> {
    if (this.closed) throw new Error('StageWriter: write after close')
    if (csv.length === 0) return
    this.pending.push(csv)
    this.pendingBytes += csv.length
    this.pendingRows += rows
    if (this.pendingBytes >= StageWriter.BATCH_BYTES) await this.flushPending()
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
    const gzip = createGzip({ level: this.opts.gzipLevel ?? zlibConstants.Z_DEFAULT_COMPRESSION })
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
    file.upload = uploadStream(this.opts.store, key, Readable.from(counted(), { objectMode: false }), {
      contentType: 'text/csv',
      signal: this.opts.signal,
    })
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
