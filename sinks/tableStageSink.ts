import { Writable } from 'node:stream'
import { csvHeader, encodeCsvBatch } from './csvEncoding.js'
import { StageWriter, type StagedFile, type StageWriterOptions } from './stageWriter.js'

/**
 * The end of a row source's chain: batches of records → CSV (one
 * encodeCsvBatch call per batch) → one stage writer. Each write waits for the
 * writer, so backpressure reaches the source cursor.
 */
export class TableStageSink<T extends object> extends Writable {
  private readonly writer: StageWriter
  private rows = 0
  private csvBytes = 0
  private files: StagedFile[] | undefined

  constructor(
    private readonly opts: { store: StageWriterOptions['store']; keyPrefix: string; columns: readonly (keyof T & string)[]; maxFileBytes: number; gzipLevel?: number; signal?: AbortSignal },
  ) {
    super({ objectMode: true, highWaterMark: 1 })
    this.writer = new StageWriter({ ...opts, header: csvHeader(opts.columns) })
  }

  /** The files, their rows, and the CSV bytes (UTF-8, before gzip) the rows made. */
  get staged(): { files: StagedFile[]; rows: number; csvBytes: number } {
    if (!this.files) throw new Error('TableStageSink: not finished')
    return { files: this.files, rows: this.rows, csvBytes: this.csvBytes }
  }

  override _write(batch: T[], _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.rows += batch.length
    const csv = encodeCsvBatch(batch, this.opts.columns)
    this.csvBytes += Buffer.byteLength(csv)
    this.writer.write(csv, batch.length).then(() => cb(), cb)
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.writer.close().then((files) => {
      this.files = files
      cb()
    }, cb)
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!err || this.files) return cb(err)
    this.writer.abort(err).then(
      () => cb(err),
      () => cb(err),
    )
  }
}
