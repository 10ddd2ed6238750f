import { Writable } from 'node:stream'
import { LOG_COLUMNS, REJECT_COLUMNS, type ParseBatch } from '../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from './csvEncoding.js'
import { StageWriter, type StagedFile, type StageWriterOptions } from './stageWriter.js'

export interface LogStageResult {
  rows: { files: StagedFile[]; count: number }
  rejects: { files: StagedFile[]; count: number }
}

/**
 * The end of a log object's chain: parsed batches → CSV (one encodeCsvBatch
 * call per batch) → two stage writers, one for rows and one for rejects.
 * Each write waits for its writer, so backpressure reaches the S3 body.
 */
export class LogStageSink extends Writable {
  private readonly rowsWriter: StageWriter
  private readonly rejectsWriter: StageWriter
  private rowCount = 0
  private rejectCount = 0
  private result: LogStageResult | undefined

  constructor(opts: { store: StageWriterOptions['store']; keyPrefix: string; maxFileBytes: number; gzipLevel?: number; signal?: AbortSignal }) {
    super({ objectMode: true, highWaterMark: 4 })
    const common = { store: opts.store, maxFileBytes: opts.maxFileBytes, gzipLevel: opts.gzipLevel, signal: opts.signal }
    this.rowsWriter = new StageWriter({ ...common, keyPrefix: `${opts.keyPrefix}rows/`, header: csvHeader(LOG_COLUMNS) })
    this.rejectsWriter = new StageWriter({ ...common, keyPrefix: `${opts.keyPrefix}rejects/`, header: csvHeader(REJECT_COLUMNS) })
  }

  /** Available once the chain has finished. */
  get staged(): LogStageResult {
    if (!this.result) throw new Error('LogStageSink: not finished')
    return this.result
  }

  override _write(batch: ParseBatch, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeBatch(batch).then(() => cb(), cb)
  }

  private async writeBatch(batch: ParseBatch): Promise<void> {
    if (batch.rows.length > 0) {
      this.rowCount += batch.rows.length
      await this.rowsWriter.write(encodeCsvBatch(batch.rows, LOG_COLUMNS), batch.rows.length)
    }
    if (batch.rejects.length > 0) {
      this.rejectCount += batch.rejects.length
      await this.rejectsWriter.write(encodeCsvBatch(batch.rejects, REJECT_COLUMNS), batch.rejects.length)
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    Promise.all([this.rowsWriter.close(), this.rejectsWriter.close()]).then(([rows, rejects]) => {
      this.result = { rows: { files: rows, count: this.rowCount }, rejects: { files: rejects, count: this.rejectCount } }
      cb()
    }, cb)
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!err || this.result) return cb(err)
    Promise.all([this.rowsWriter.abort(err), this.rejectsWriter.abort(err)]).then(
      () => cb(err),
      () => cb(err),
    )
  }
}
