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

export interface LogBatchStageOptions {
  store: StageWriterOptions['store']
  /** Key prefixes of the batch's `bronze.logs` and `bronze.log_rejects` files (src/load/stageLayout.ts). */
  folders: { rows: string; rejects: string }
  maxFileBytes: number
  gzipLevel?: number
  /** zlib's output buffer and files compressing at once (bench/: neither helped on 2 cores). */
  gzipChunkBytes?: number
  concurrentFiles?: number
  signal?: AbortSignal
}

/**
 * The staged files of one load batch: two stage writers, one for rows and one
 * for rejects, shared by every log object of the batch, so that thousands of
 * small objects make a few staged files (and a few COPYs) rather than two
 * each. Each object writes through its own `objectSink()`, the end of its
 * chain; writes from objects in flight at once are queued and reach the
 * writers one at a time, whole batches each, so every row stays whole and
 * carries its object in `_source_file`. Rows are encoded from the parser's
 * byte spans straight into the rows writer's pending buffer
 * (`LogCsvEncoder`); rejects, rare, as text (`encodeCsvBatch`). A big object
 * spans several files as the writers roll over at `maxFileBytes`.
 */
export class LogBatchStage {
  private readonly rowsWriter: StageWriter
  private readonly rejectsWriter: StageWriter
  /** One for the batch: the writes reach it one at a time; it re-encodes `_source_file` when the object changes. */
  private readonly encoder = new LogCsvEncoder()
  private rowCount = 0
  private rejectCount = 0
  /** The queue of writes: each waits for the one before it. */
  private tail: Promise<void> = Promise.resolve()
  private failure: Error | undefined

  constructor(opts: LogBatchStageOptions) {
    const common = { store: opts.store, maxFileBytes: opts.maxFileBytes, gzipLevel: opts.gzipLevel, gzipChunkBytes: opts.gzipChunkBytes, signal: opts.signal }
    this.rowsWriter = new StageWriter({ ...common, concurrentFiles: opts.concurrentFiles, keyPrefix: opts.folders.rows, header: csvHeader(LOG_COLUMNS) })
    this.rejectsWriter = new StageWriter({ ...common, keyPrefix: opts.folders.rejects, header: csvHeader(REJECT_COLUMNS) })
  }

  /** Whether the batch's own files failed (not one object's input): the batch cannot be loaded. */
  get failed(): boolean {
    return this.failure !== undefined
  }

  /** Compressed bytes staged so far, in both writers. */
  get stagedBytes(): number {
    return this.rowsWriter.compressedBytes + this.rejectsWriter.compressedBytes
  }

  /** The end of one object's chain: its parse batches, encoded and queued for the shared writers. */
  objectSink(): LogObjectSink {
    return new LogObjectSink(this)
  }

  /** Queues one object's parsed batch; resolves when the writers have taken it (backpressure). */
  write(batch: LogBatch): Promise<void> {
    const next = this.tail.then(async () => {
      if (this.failure) throw this.failure
      if (batch.rowCount > 0) {
        this.rowCount += batch.rowCount
        await this.rowsWriter.writeWith(this.encoder.maxBytes(batch), batch.rowCount, (buf, offset) => this.encoder.encodeInto(batch, buf, offset))
      }
      if (batch.rejects.length > 0) {
        this.rejectCount += batch.rejects.length
        await this.rejectsWriter.write(encodeCsvBatch(batch.rejects, REJECT_COLUMNS), batch.rejects.length)
      }
    })
    // A failed write fails every later one: the writers' state is unknown after it.
    this.tail = next.catch((err: Error) => {
      this.failure ??= err
    })
    return next
  }

  /** Finishes both writers once every queued write is in; returns the batch's files. */
  async close(): Promise<LogStageResult> {
    await this.tail
    if (this.failure) throw this.failure
    const [rows, rejects] = await Promise.all([this.rowsWriter.close(), this.rejectsWriter.close()])
    return { rows: { files: rows, count: this.rowCount }, rejects: { files: rejects, count: this.rejectCount } }
  }

  /** Abandons the batch: the files in progress are aborted (their multipart uploads too). */
  async abort(reason: Error): Promise<void> {
    this.failure ??= reason
    await this.tail
    await Promise.all([this.rowsWriter.abort(reason), this.rejectsWriter.abort(reason)])
  }
}

/**
 * One object's parsed batches → its batch's writers. It counts what the
 * object staged, for the per-object reconciliation. A failing object leaves
 * the rows it staged so far in the batch's files: the batch's commit deletes
 * them again (commitLoad's `discard`).
 */
export class LogObjectSink extends Writable {
  rows = 0
  rejects = 0

  constructor(private readonly batch: LogBatchStage) {
    super({ objectMode: true, highWaterMark: 4 })
  }

  override _write(batch: LogBatch, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.rows += batch.rowCount
    this.rejects += batch.rejects.length
    this.batch.write(batch).then(() => cb(), cb)
  }
}
