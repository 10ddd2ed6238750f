import { Writable } from 'node:stream'
import type { LogBatch } from '../parsers/logBatch.js'
import { LOG_COLUMNS, REJECT_COLUMNS } from '../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from './csvEncoding.js'
import { LogCsvEncoder } from './logCsvEncoder.js'
import { StageWriter, type StagedFile, type StageWriterOptions } from './stageWriter.js'

export interface LogStageResult {
  rows: { files: StagedFile[]; count: number }
  rejects: { files: StagedFile[]; count: number }
}

/**
 * The end of a log object's chain: parsed batches → CSV → two stage writers,
 * one for rows and one for rejects. Rows are encoded from the parser's byte
 * spans straight into the rows writer's pending buffer (`LogCsvEncoder`);
 * rejects, rare, as text (`encodeCsvBatch`). Each write waits for its
 * writer, so backpressure reaches the S3 body.
 */
export class LogStageSink extends Writable {
  private readonly rowsWriter: StageWriter
  private readonly rejectsWriter: StageWriter
  private readonly encoder = new LogCsvEncoder()
  private rowCount = 0
  private rejectCount = 0
  private result: LogStageResult | undefined

  constructor(opts: {
    store: StageWriterOptions['store']
    keyPrefix: string
    maxFileBytes: number
    gzipLevel?: number
    gzipChunkBytes?: number
    concurrentFiles?: number
    signal?: AbortSignal
  }) {
    super({ objectMode: true, highWaterMark: 4 })
    const common = { store: opts.store, maxFileBytes: opts.maxFileBytes, gzipLevel: opts.gzipLevel, gzipChunkBytes: opts.gzipChunkBytes, signal: opts.signal }
    const rows = { ...common, concurrentFiles: opts.concurrentFiles }
    this.rowsWriter = new StageWriter({ ...rows, keyPrefix: `${opts.keyPrefix}rows/`, header: csvHeader(LOG_COLUMNS) })
    this.rejectsWriter = new StageWriter({ ...common, keyPrefix: `${opts.keyPrefix}rejects/`, header: csvHeader(REJECT_COLUMNS) })
  }

  /** Available once the chain has finished. */
  get staged(): LogStageResult {
    if (!this.result) throw new Error('LogStageSink: not finished')
    return this.result
  }

  override _write(batch: LogBatch, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeBatch(batch).then(() => cb(), cb)
  }

  private async writeBatch(batch: LogBatch): Promise<void> {
    if (batch.rowCount > 0) {
      this.rowCount += batch.rowCount
      await this.rowsWriter.writeWith(this.encoder.maxBytes(batch), batch.rowCount, (buf, offset) => this.encoder.encodeInto(batch, buf, offset))
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
